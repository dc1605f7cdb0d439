//! The HTTP front: WeChat's webhook on the configured path, and the operator endpoints
//! `/healthz` and `/metrics` (on the same listener, or on a separate admin listener).
//!
//! For every webhook request, in this order (PROTOCOL.md §6: never touch an untrusted body
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
//! Files: `webhook.rs` (the WeChat endpoint), `admin.rs` (`/healthz`, `/metrics`),
//! `response.rs` (responses and refusals).

mod admin;
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

use crate::config::Secret;
use crate::dedup::Dedup;
use crate::metrics::Metrics;
use crate::protocol::crypto::Keys;
use crate::state::Rules;
use response::Refusal;

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

/// Serves the public listener (and the admin listener, if any) until `shutdown` resolves; then
/// stops accepting, lets requests in flight finish for at most `grace`, and returns.
pub async fn serve(
    state: Arc<State>,
    public: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signal = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let public = warp::serve(routes(state.clone(), Surface::Public))
        .incoming(public)
        .graceful(signal(stopped.clone()))
        .run();
    let admin = async {
        if let Some(listener) = admin {
            warp::serve(routes(state, Surface::Admin))
                .incoming(listener)
                .graceful(signal(stopped))
                .run()
                .await;
        }
    };
    let both = futures_util::future::join(public, admin);
    tokio::pin!(both);
    tokio::select! {
        _ = &mut both => return,
        () = shutdown => {}
    }
    let _ = stop.send(true);
    tokio::select! {
        _ = &mut both => info!("every request in flight was answered"),
        () = tokio::time::sleep(grace) => warn!("requests still in flight after {grace:?}; exiting anyway"),
    }
}
