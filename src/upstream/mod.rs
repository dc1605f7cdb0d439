//! Upstreams: the account's existing backend behind replyd.
//!
//! A forward sends WeChat's own request (query string, body, Content-Type) to the upstream and
//! relays its answer unchanged when WeChat would accept it: a 200 whose body is empty,
//! `success`, or a reply XML (encrypted by the backend in safe mode). Anything else is a
//! failure with an [`Outcome`], and the caller answers as if no upstream were configured, so a
//! follower never sees WeChat's "该公众号暂时无法提供服务".
//!
//! Files: `client.rs` (the HTTP client), `copies.rs` (events copied in the background).

pub mod client;
pub mod copies;

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use quick_xml::events::Event as XmlEvent;
use tracing::{debug, warn};

pub use client::{Client, Failure, Reason, Request};
pub use copies::Copies;

use crate::config::{Forwarding, UpstreamSpec};
use crate::metrics::Metrics;
use crate::protocol::EventKind;

/// How one exchange with an upstream ended: the metric's `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 200 with an answer WeChat accepts.
    Ok,
    /// No complete answer within the upstream's timeout.
    Timeout,
    /// The connection could not be made (refused, unreachable, DNS, TLS).
    Refused,
    /// A status other than 200.
    ErrorStatus,
    /// An answer WeChat would not accept: not empty, `success` or a reply XML; too large;
    /// broken off.
    Invalid,
}

impl Outcome {
    /// Every outcome, for the metrics.
    pub const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::ErrorStatus,
        Outcome::Invalid,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::ErrorStatus => "error_status",
            Outcome::Invalid => "invalid",
        }
    }
}

/// Whether an upstream's answer is one WeChat accepts as a passive reply: empty, `success`, or
/// a well-formed XML document whose root is `<xml>`.
pub fn relayable(body: &[u8]) -> Result<(), &'static str> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"success" {
        return Ok(());
    }
    if std::str::from_utf8(body).is_err() {
        return Err("its answer is not UTF-8");
    }
    let mut reader = quick_xml::Reader::from_reader(trimmed);
    let mut depth = 0usize;
    let mut root_seen = false;
    loop {
        match reader.read_event() {
            Err(_) => return Err("its answer is not well-formed XML"),
            Ok(XmlEvent::Eof) => break,
            Ok(XmlEvent::Start(e)) => {
                if depth == 0 {
                    if root_seen || e.name().into_inner() != "xml" {
                        return Err("its answer is not a reply: the root element must be <xml>");
                    }
                    root_seen = true;
                }
                depth += 1;
            }
            Ok(XmlEvent::End(_)) => depth = depth.saturating_sub(1),
            Ok(XmlEvent::Empty(_)) if depth == 0 => {
                return Err("its answer is not a reply: the root element must be <xml>");
            }
            Ok(XmlEvent::Text(t)) if depth == 0 && !t.as_ref().trim_ascii().is_empty() => {
                return Err("its answer is not a reply: text outside <xml>");
            }
            Ok(XmlEvent::DocType(_)) => return Err("its answer has a DOCTYPE"),
            Ok(_) => {}
        }
    }
    if root_seen && depth == 0 {
        Ok(())
    } else {
        Err("its answer is not a reply: no complete <xml> element")
    }
}

/// One upstream: its configuration and health.
#[derive(Debug)]
pub struct Upstream {
    /// As configured.
    pub spec: UpstreamSpec,
    health: Mutex<Health>,
}

/// What `/healthz` says of an upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// The last exchange that succeeded.
    pub last_success: Option<SystemTime>,
    /// The last one that failed, and how.
    pub last_failure: Option<(SystemTime, Outcome, String)>,
}

impl Upstream {
    /// Its health now.
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(&self, result: &Result<Bytes, Failure>) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => h.last_success = Some(SystemTime::now()),
            Err(f) => h.last_failure = Some((SystemTime::now(), f.outcome, f.detail.clone())),
        }
    }
}

/// Every upstream, the fall-through, the client and the copy queue.
#[derive(Debug)]
pub struct Upstreams {
    list: Vec<Arc<Upstream>>,
    /// `[fall_through]`.
    pub fall_through: crate::config::FallThrough,
    client: Client,
    /// Events copied in the background.
    pub copies: Copies,
    metrics: Arc<Metrics>,
}

impl Upstreams {
    /// The pooled HTTP client (WeChat's API uses it too).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The upstreams of `forwarding`; answers are read up to `max_body_bytes`.
    pub fn new(forwarding: &Forwarding, max_body_bytes: usize, metrics: Arc<Metrics>) -> Upstreams {
        let client = Client::new(max_body_bytes);
        let list: Vec<Arc<Upstream>> = forwarding
            .upstreams
            .iter()
            .map(|spec| {
                Arc::new(Upstream {
                    spec: spec.clone(),
                    health: Mutex::default(),
                })
            })
            .collect();
        for u in &list {
            for outcome in Outcome::ALL {
                // Every series exists from the start, at 0, so a rate() has a base.
                metrics
                    .upstream_requests
                    .with_label_values(&[u.spec.name.as_str(), outcome.as_str()]);
            }
        }
        Upstreams {
            copies: Copies::new(client.clone(), metrics.clone()),
            list,
            fall_through: forwarding.fall_through.clone(),
            client,
            metrics,
        }
    }

    /// Every upstream, in config order.
    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.list
    }

    /// The upstream of that name.
    pub fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.list.iter().find(|u| u.spec.name == name)
    }

    /// Forwards WeChat's request to `upstream` and returns its answer, or why there is none;
    /// measured, counted and logged.
    pub async fn forward(
        &self,
        upstream: &Upstream,
        request: &Request,
        reason: Reason<'_>,
    ) -> Result<Bytes, Failure> {
        let started = Instant::now();
        let name = upstream.spec.name.as_str();
        let result = self
            .client
            .post(&upstream.spec.url, upstream.spec.timeout, request, reason)
            .await;
        let elapsed = started.elapsed();
        upstream.record(&result);
        let outcome = result.as_ref().map_or_else(|f| f.outcome, |_| Outcome::Ok);
        self.metrics
            .upstream_requests
            .with_label_values(&[name, outcome.as_str()])
            .inc();
        self.metrics
            .upstream_latency
            .with_label_values(&[name])
            .observe(elapsed.as_secs_f64());
        match &result {
            // The message's own "answered" line names the upstream and the outcome.
            Ok(body) => debug!(
                upstream = name,
                bytes = body.len(),
                millis = elapsed.as_millis() as u64,
                "upstream answered"
            ),
            Err(f) => warn!(
                upstream = name,
                outcome = f.outcome.as_str(),
                millis = elapsed.as_millis() as u64,
                "upstream failed: {}; answering as if there were no upstream",
                f.detail
            ),
        }
        result
    }

    /// The upstreams that get a copy of `event` (`except` the one it is forwarded to).
    pub fn copy_targets<'a>(
        &'a self,
        event: EventKind,
        except: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Upstream>> + 'a {
        self.list.iter().filter(move |u| {
            u.spec.copy_events.contains(&event) && Some(u.spec.name.as_str()) != except
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_wechat_accepts_is_relayed_and_nothing_else() {
        for ok in [
            &b""[..],
            b"success",
            b"  success\n",
            b"<xml><ToUserName><![CDATA[o]]></ToUserName><MsgType><![CDATA[text]]></MsgType></xml>",
            b"<xml>\n<Encrypt><![CDATA[abc]]></Encrypt>\n<MsgSignature>x</MsgSignature></xml>\n",
            b"<?xml version=\"1.0\"?>\n<xml><MsgType>text</MsgType></xml>",
        ] {
            assert_eq!(relayable(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"Internal error"[..],
            b"<html><body>502</body></html>",
            b"<xml><a></xml>",
            b"<xml></xml><xml></xml>",
            b"<xml>",
            b"{\"errcode\":0}",
            b"<!DOCTYPE x [<!ENTITY a \"b\">]><xml>&a;</xml>",
            b"\xff\xfe<xml></xml>",
            b"<xml/>",
        ] {
            assert!(relayable(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
