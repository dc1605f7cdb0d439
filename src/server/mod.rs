//! The HTTP front: WeChat's webhook on the configured path, and the operator endpoints
//! `/healthz` and `/metrics` (on the same listener, or on a separate admin listener).
//!
//! For every webhook request, in this order (never touch an untrusted body
//! before the signature is checked, and bound its size before reading it):
//!
//! 1. route on path and method (404, 405 with `Allow`);
//! 2. parse the query, refusing duplicated signed parameters (400);
//! 3. verify `signature` over token, timestamp and nonce (403);
//! 4. GET: answer the `echostr`; POST: read the body up to `max_body_bytes` (413);
//! 5. in safe and compatible mode (`encrypt_type=aes`), verify `msg_signature` (403) and
//!    decrypt (400); with `require_encryption`, refuse plaintext (403);
//! 6. parse the XML (400); answer from the retry cache, or ask the engine and remember the
//!    answer; write the reply XML (encrypted again in safe mode) or `success`.
//!
//! Every outcome is a defined response; nothing a client sends can make a handler panic, and
//! one request shares nothing with the next but the rule set, which is read once per request
//! from an `ArcSwap` (so a reload can replace it at any moment without locking anyone).
//!
//! Files: `webhook.rs` (the WeChat endpoint), `query.rs` (its signed query string), `admin.rs`
//! (`/healthz`, `/metrics`), `response.rs` (responses and refusals).

mod admin;
mod connection;
mod query;
mod response;
mod webhook;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Buf;
use futures_util::Stream;
use tokio::net::TcpListener;
use tracing::{info, warn};
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::clock::Clock;
use crate::config::{Config, Secret};
use crate::dedup::Dedup;
use crate::metrics::Metrics;
use crate::protocol::crypto::Keys;
use crate::state::Rules;
use connection::ClientIo;
use response::Refusal;

/// What one connection buffers of what its client sends (hyper's `max_buf_size`).
const MAX_CONNECTION_BUFFER: usize = 64 << 10;

/// What the handlers share: the settings, the served rules, the retry cache and the metrics.
#[derive(Debug)]
pub struct State {
    /// The served rules; a reload replaces them, a request loads them once.
    pub rules: Arc<Rules>,
    /// The token that signs requests.
    pub token: Secret,
    /// The webhook's URL path.
    pub path: String,
    /// The request body cap.
    pub max_body_bytes: usize,
    /// The ciphers of safe and compatible mode, when configured.
    pub keys: Option<Keys>,
    /// Refuse plaintext messages.
    pub require_encryption: bool,
    /// The answers retries get.
    pub dedup: Dedup,
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// Log a keyed hash of the follower's OpenID instead of the OpenID.
    pub mask_openids: bool,
    /// `/healthz` and `/metrics` are on the admin listener only.
    pub admin_separate: bool,
    /// A request's body must arrive within this (408 otherwise).
    pub body_timeout: Duration,
    /// Refuse signed timestamps further than this from now (403), if set.
    pub max_clock_skew: Option<Duration>,
    /// What time it is (a reply's `CreateTime`, the timestamp check).
    pub clock: Clock,
}

impl State {
    /// The state of a daemon serving `rules` under `config`, signing with `token`.
    pub fn new(
        config: &Config,
        token: Secret,
        rules: Arc<Rules>,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> State {
        State {
            rules,
            token,
            path: config.path.clone(),
            max_body_bytes: config.max_body_bytes,
            keys: config.keys.clone(),
            require_encryption: config.require_encryption,
            dedup: Dedup::new(config.dedup_window, config.dedup_capacity, clock.clone()),
            clock,
            metrics,
            mask_openids: config.mask_openids,
            body_timeout: config.body_timeout,
            max_clock_skew: config.max_clock_skew,
            admin_separate: config.admin_listen.is_some(),
        }
    }
}

/// Which listener a set of routes serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The public listener WeChat posts to (and, without an admin listener, operators).
    Public,
    /// The admin listener: `/healthz` and `/metrics` only.
    Admin,
}

/// The HTTP service of one listener as a warp filter.
pub fn routes(
    state: Arc<State>,
    surface: Surface,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::any()
        .map(move || state.clone())
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(
            move |state: Arc<State>,
                  method: Method,
                  path: warp::path::FullPath,
                  query: String,
                  length: Option<u64>,
                  body| async move {
                handle(
                    &state,
                    surface,
                    &method,
                    path.as_str(),
                    &query,
                    length,
                    body,
                )
                .await
            },
        )
}

async fn handle<S, B>(
    state: &State,
    surface: Surface,
    method: &Method,
    path: &str,
    query: &str,
    length: Option<u64>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let operators_here = surface == Surface::Admin || !state.admin_separate;
    let refusal = match path {
        _ if path == state.path && surface == Surface::Public => match *method {
            Method::GET => return webhook::verify_url(state, query),
            Method::POST => return webhook::post(state, query, length, body).await,
            _ => Refusal::Method("GET, POST"),
        },
        "/healthz" | "/metrics" if operators_here => match *method {
            Method::GET if path == "/healthz" => return admin::healthz(state),
            Method::GET => return admin::metrics(state),
            _ => Refusal::Method("GET"),
        },
        _ => Refusal::Other {
            status: StatusCode::NOT_FOUND,
            reason: "not_found",
            message: "not found".to_owned(),
        },
    };
    refusal.respond(&state.metrics)
}

/// Limits that keep slow or hostile clients from tying the daemon up.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client must send a request's head within this (and an idle keep-alive connection is
    /// closed after it).
    pub header_timeout: Duration,
    /// At most this many connections are served at once (per listener); more wait in the
    /// kernel's accept queue.
    pub max_connections: usize,
    /// After shutdown is asked for, requests in flight get this long to finish.
    pub grace: Duration,
    /// A write to a client that makes no progress for this long closes its connection.
    pub send_timeout: Duration,
}

impl Limits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Limits {
        Limits {
            header_timeout: config.header_timeout,
            max_connections: config.max_connections,
            grace: config.shutdown_timeout,
            send_timeout: config.send_timeout,
        }
    }
}

/// Serves the public listener (and the admin listener, if any) until `shutdown` resolves; then
/// stops accepting, lets requests in flight finish for at most `limits.grace`, and returns.
pub async fn serve(
    state: Arc<State>,
    public: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let mut listeners = vec![(public, Surface::Public)];
    listeners.extend(admin.map(|a| (a, Surface::Admin)));
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|(listener, surface)| {
            let service = warp::service(routes(state.clone(), surface));
            tokio::spawn(accept_loop(
                listener,
                service,
                state.metrics.clone(),
                limits,
                stopped.clone(),
                graceful.clone(),
            ))
        })
        .collect();
    shutdown.await;
    let _ = stop.send(true);
    for a in accepting {
        let _ = a.await;
    }
    // The accept loops are done, so this is the last reference.
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return;
    };
    tokio::select! {
        () = graceful.shutdown() => info!("every request in flight was answered"),
        () = tokio::time::sleep(limits.grace) => {
            warn!("requests still in flight after {:?}; exiting anyway", limits.grace);
        }
    }
}

/// Whether a request target is origin-form (`/path?query`), the only form a server that is
/// not a proxy serves: not authority-form (`CONNECT a:1`, `GET a:443`), absolute-form
/// (`GET http://a/`) or asterisk-form (`OPTIONS *`).
fn is_origin_form(uri: &hyper::Uri) -> bool {
    uri.scheme().is_none() && uri.authority().is_none() && uri.path().starts_with('/')
}

/// Accepts connections until told to stop, at most `limits.max_connections` at a time (the
/// mini-redis pattern: a permit is taken before accepting, and given back when the connection
/// ends), and serves each as HTTP/1.1 with a timeout on reading request heads.
async fn accept_loop<S>(
    listener: TcpListener,
    service: S,
    metrics: Arc<Metrics>,
    limits: Limits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    graceful: Arc<hyper_util::server::graceful::GracefulShutdown>,
) where
    S: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut full_logged = false;
    loop {
        if permits.available_permits() == 0 && !full_logged {
            warn!(
                "{} connections are open: new ones wait until one closes (max_connections)",
                limits.max_connections
            );
            full_logged = true;
        }
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
            _ = stopped.wait_for(|s| *s) => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if permits.available_permits() > 0 {
            full_logged = false;
        }
        let _ = stream.set_nodelay(true);
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            // What a connection may buffer of a client's requests: a head and a chunk of body,
            // not a pipeline of thousands.
            .max_buf_size(MAX_CONNECTION_BUFFER);
        let service = service.clone();
        let metrics = metrics.clone();
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(ClientIo::new(stream, limits.send_timeout, permit)),
            hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                // Before routing: warp panics on a target that is not a path.
                let refused = (!is_origin_form(request.uri())).then(|| {
                    let mut r = Refusal::bad(
                        "request_target",
                        "the request target must be a path (/wechat?…)",
                    )
                    .respond(&metrics);
                    // Nothing else on this connection is worth reading.
                    r.headers_mut().insert(
                        warp::http::header::CONNECTION,
                        warp::http::HeaderValue::from_static("close"),
                    );
                    r
                });
                let mut service = service.clone();
                async move {
                    match refused {
                        Some(response) => Ok(response),
                        // warp's service is always ready: no poll_ready needed.
                        None => tower_service::Service::call(&mut service, request).await,
                    }
                }
            }),
        );
        let connection = graceful.watch(connection);
        // The permit lives in the connection's IO, and goes back when its lingering close
        // ends.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    //! Routing, tested through warp without a socket (`warp::test`).

    use super::*;
    use crate::config::{Config, Overrides};
    use crate::ruleset::{compile, sources_from};

    fn state(admin_separate: bool) -> Arc<State> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("replyd.toml");
        let admin = if admin_separate {
            "admin_listen = \"127.0.0.1:0\"\n"
        } else {
            ""
        };
        std::fs::write(&file, format!("token = \"t\"\n{admin}")).unwrap();
        let config = Config::resolve(
            &Overrides {
                config: Some(file),
                ..Overrides::default()
            },
            |_| None,
        )
        .unwrap();
        let set = compile(&sources_from(&[(
            "a.toml",
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
        )]))
        .ruleset()
        .unwrap();
        let metrics = Arc::new(Metrics::new());
        let rules = Arc::new(Rules::new(
            dir.path().to_owned(),
            set,
            None,
            metrics.clone(),
        ));
        Arc::new(State::new(
            &config,
            config.token().unwrap().clone(),
            rules,
            metrics,
            Clock::system(),
        ))
    }

    #[tokio::test]
    async fn each_path_and_method_gets_its_answer() {
        let public = routes(state(false), Surface::Public);
        // (method, path, status, Allow)
        let cases = [
            ("PUT", "/wechat", 405, Some("GET, POST")),
            ("GET", "/wechat", 403, None),
            ("POST", "/wechat?signature=x", 403, None),
            ("GET", "/healthz", 200, None),
            ("DELETE", "/healthz", 405, Some("GET")),
            ("GET", "/metrics", 200, None),
            ("GET", "/nope", 404, None),
            ("GET", "/wechat/", 404, None),
        ];
        for (method, path, status, allow) in cases {
            let r = warp::test::request()
                .method(method)
                .path(path)
                .reply(&public)
                .await;
            assert_eq!(r.status().as_u16(), status, "{method} {path}");
            assert_eq!(
                r.headers().get("allow").and_then(|v| v.to_str().ok()),
                allow,
                "{method} {path}"
            );
        }
    }

    #[tokio::test]
    async fn with_an_admin_listener_the_public_port_has_no_operator_endpoints() {
        let s = state(true);
        let (public, admin) = (
            routes(s.clone(), Surface::Public),
            routes(s, Surface::Admin),
        );
        let get = |path: &'static str| warp::test::request().path(path);
        assert_eq!(get("/healthz").reply(&public).await.status(), 404);
        assert_eq!(get("/metrics").reply(&public).await.status(), 404);
        assert_eq!(get("/healthz").reply(&admin).await.status(), 200);
        assert_eq!(get("/wechat").reply(&admin).await.status(), 404);
    }
}
