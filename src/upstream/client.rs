//! The HTTP client that forwards WeChat's requests to an upstream.
//!
//! hyper-util's pooled client over hyper-rustls (https with rustls and webpki's roots; plain
//! http too): keep-alive connections per host, no redirects (the legacy client follows none),
//! the whole exchange (connect, send, read the answer) bounded by the upstream's timeout, and
//! the answer read under a size cap.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Outcome;
use crate::config::upstreams::MAX_TIMEOUT_MS;

/// Why replyd called the upstream (the `X-Replyd-Reason` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    /// A rule with `reply.upstream` answered the message.
    Rule(&'a str),
    /// No rule answered, and `[fall_through]` names the upstream.
    FallThrough,
    /// A copy of an event (`copy_events`): its answer is ignored.
    Copy,
}

impl Reason<'_> {
    fn header(&self) -> String {
        match self {
            Reason::Rule(id) => format!("rule={id}"),
            Reason::FallThrough => "fall-through".to_owned(),
            Reason::Copy => "copy".to_owned(),
        }
    }
}

/// WeChat's request as it reached replyd: what an upstream receives, unchanged.
#[derive(Debug, Clone)]
pub struct Request {
    /// The query string as WeChat sent it (signature, timestamp, nonce, …).
    pub query: String,
    /// The body, byte for byte (encrypted in safe mode).
    pub body: Bytes,
    /// Its Content-Type, if it had one.
    pub content_type: Option<HeaderValue>,
    /// `X-Forwarded-For`: the one replyd received (from a proxy in front of it), followed by
    /// the address the request came from.
    pub forwarded_for: Option<String>,
}

/// A failed exchange: its outcome and what happened, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The metric's outcome (never [`Outcome::Ok`]).
    pub outcome: Outcome,
    /// What happened, for the log.
    pub detail: String,
    /// Whether the upstream received the request and answered 200 (with a body WeChat would
    /// not accept): enough for a copy, whose answer is ignored.
    pub delivered: bool,
}

/// The shared client.
#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    max_body_bytes: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client that reads answers of at most `max_body_bytes`.
    pub fn new(max_body_bytes: usize) -> Client {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(MAX_TIMEOUT_MS)));
        // ring rather than aws-lc-rs keeps the build free of aws-lc's C and cmake; rustls
        // deprecates ring's provider only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            // The ring provider supports rustls' default protocol versions.
            .unwrap_or_else(|e| unreachable!("ring supports TLS 1.2 and 1.3: {e}"))
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(tls);
        Client {
            inner,
            max_body_bytes,
        }
    }

    /// Sends any request over the pooled connections (WeChat's API shares them) and reads
    /// the answer under `max_bytes`; the caller bounds the time.
    pub async fn send(
        &self,
        request: hyper::Request<Full<Bytes>>,
        max_bytes: usize,
    ) -> Result<(hyper::StatusCode, Bytes), String> {
        let response = self
            .inner
            .request(request)
            .await
            .map_err(|e| with_causes(&e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|e| format!("the answer could not be read: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Posts `request` to `url` and returns the answer's body when it is one WeChat accepts (a
    /// 200 whose body is empty, `success` or a reply XML), within `timeout`.
    pub async fn post(
        &self,
        url: &hyper::Uri,
        timeout: Duration,
        request: &Request,
        reason: Reason<'_>,
    ) -> Result<Bytes, Failure> {
        match tokio::time::timeout(timeout, self.exchange(url, request, reason)).await {
            Ok(result) => result,
            Err(_) => Err(Failure {
                outcome: Outcome::Timeout,
                detail: format!("no answer within {} ms", timeout.as_millis()),
                delivered: false,
            }),
        }
    }

    async fn exchange(
        &self,
        url: &hyper::Uri,
        request: &Request,
        reason: Reason<'_>,
    ) -> Result<Bytes, Failure> {
        let uri = with_query(url, &request.query).map_err(|detail| Failure {
            outcome: Outcome::Invalid,
            detail,
            delivered: false,
        })?;
        let mut builder = hyper::Request::post(uri)
            .header("X-Replyd-Reason", reason.header())
            .header(hyper::header::USER_AGENT, "replyd");
        if let Some(ct) = &request.content_type {
            builder = builder.header(CONTENT_TYPE, ct.clone());
        }
        if let Some(chain) = &request.forwarded_for {
            builder = builder.header("X-Forwarded-For", chain.as_str());
        }
        let http_request = builder
            .body(Full::new(request.body.clone()))
            .map_err(|e| Failure {
                outcome: Outcome::Invalid,
                detail: format!("the request could not be built: {e}"),
                delivered: false,
            })?;
        let response = self.inner.request(http_request).await.map_err(|e| {
            let outcome = if e.is_connect() {
                Outcome::Refused
            } else {
                Outcome::Invalid
            };
            Failure {
                outcome,
                detail: with_causes(&e),
                delivered: false,
            }
        })?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(Failure {
                outcome: Outcome::ErrorStatus,
                detail: format!("it answered {status}"),
                delivered: false,
            });
        }
        let body = Limited::new(response.into_body(), self.max_body_bytes)
            .collect()
            .await
            .map_err(|e| Failure {
                outcome: Outcome::Invalid,
                detail: if e.is::<LengthLimitError>() {
                    format!(
                        "its answer is larger than max_body_bytes ({} bytes)",
                        self.max_body_bytes
                    )
                } else {
                    format!("its answer could not be read: {e}")
                },
                delivered: true,
            })?
            .to_bytes();
        match super::relayable(&body) {
            Ok(()) => Ok(body),
            Err(detail) => Err(Failure {
                outcome: Outcome::Invalid,
                detail: detail.to_owned(),
                delivered: true,
            }),
        }
    }
}

/// `url` with WeChat's query string in place of its own (an upstream URL may carry none; if it
/// does, WeChat's parameters follow it).
fn with_query(url: &hyper::Uri, query: &str) -> Result<hyper::Uri, String> {
    let path = url.path();
    let path_and_query = match (url.query(), query.is_empty()) {
        (Some(own), false) => format!("{path}?{own}&{query}"),
        (Some(own), true) => format!("{path}?{own}"),
        (None, false) => format!("{path}?{query}"),
        (None, true) => path.to_owned(),
    };
    let mut parts = url.clone().into_parts();
    parts.path_and_query = Some(
        path_and_query
            .parse()
            .map_err(|e| format!("the query string cannot be forwarded: {e}"))?,
    );
    hyper::Uri::from_parts(parts).map_err(|e| format!("the URL cannot be built: {e}"))
}

fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_is_forwarded_as_wechat_sent_it() {
        let url: hyper::Uri = "http://127.0.0.1:9000/wechat".parse().unwrap();
        let q = "signature=ab&timestamp=1&nonce=2&openid=o%2Bx";
        assert_eq!(
            with_query(&url, q).unwrap().to_string(),
            format!("http://127.0.0.1:9000/wechat?{q}")
        );
        let with_own: hyper::Uri = "https://h.example/w?app=1".parse().unwrap();
        assert_eq!(
            with_query(&with_own, "a=b").unwrap().to_string(),
            "https://h.example/w?app=1&a=b"
        );
        assert_eq!(with_query(&url, "").unwrap().to_string(), url.to_string());
    }

    #[test]
    fn reasons_are_written_as_documented() {
        assert_eq!(Reason::Rule("bind").header(), "rule=bind");
        assert_eq!(Reason::FallThrough.header(), "fall-through");
        assert_eq!(Reason::Copy.header(), "copy");
    }
}
