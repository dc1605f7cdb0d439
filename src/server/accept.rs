//! The listeners: accepting connections within `max_connections`, serving each as HTTP/1.1
//! with hyper, and stopping.
//!
//! Admission follows mini-redis (a semaphore permit per connection, held by its socket until it
//! is closed), with one addition nginx has: when every slot is taken and a client is waiting,
//! the longest-idle keep-alive connections are asked to close to make room (`registry.rs`).
//! Shutdown asks every connection to close gracefully and waits for them, for at most the grace
//! time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, TryAcquireError};
use tracing::{info, warn};

use super::connection::ClientIo;
use super::registry::Registry;
use super::response::Refusal;
use super::{Limits, Site, State, Surface, respond};

/// What one connection buffers of what its client sends (hyper's `max_buf_size`).
const MAX_CONNECTION_BUFFER: usize = 64 << 10;

/// How many idle connections are asked to close at a time when a client is waiting: one per
/// waiting client would trickle; this many lets a burst of good clients in.
const CLOSE_IDLE_AT_ONCE: usize = 16;

/// Serves the public listener (and the admin listener, if any) until `shutdown` resolves; then
/// stops accepting, lets requests in flight finish for at most `limits.grace`, and returns.
pub async fn serve(
    site: Arc<Site>,
    public: TcpListener,
    admin: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut listeners = vec![(public, Surface::Public)];
    listeners.extend(admin.map(|a| (a, Surface::Admin)));
    let mut registries = Vec::new();
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|(listener, surface)| {
            let registry = Arc::new(Registry::default());
            registries.push(registry.clone());
            tokio::spawn(accept_loop(
                listener,
                site.clone(),
                surface,
                limits,
                stopped.clone(),
                registry,
            ))
        })
        .collect();
    for state in site.accounts() {
        start(state);
    }
    shutdown.await;
    // One grace time for everything below, however many listeners and accounts: what is still
    // running when it is up is let go.
    let deadline = tokio::time::Instant::now() + limits.grace;
    let left = || deadline.saturating_duration_since(tokio::time::Instant::now());
    let _ = stop.send(true);
    for a in accepting {
        let _ = a.await;
    }
    let closed = join_all(registries.iter().map(|r| r.close_all(left()))).await;
    if closed.iter().all(|c| *c) {
        info!("every request in flight was answered");
    } else {
        warn!(
            "requests still in flight after {:?}; exiting anyway",
            limits.grace
        );
    }
    // Event copies and reply.all's follow-ups queued until now are sent, every account's at
    // once, in what is left of the grace time.
    join_all(site.accounts().iter().map(|state| async {
        tokio::join!(
            state.upstreams.copies.drain(left()),
            state.outbox.drain(left())
        )
    }))
    .await;
}

/// Starts an account's background tasks: event copies, the Redis connection (once for all
/// accounts), customer-service messages and the agents online.
fn start(state: &State) {
    state.upstreams.copies.start();
    if let Some(shared) = &state.shared {
        shared.start();
    }
    if let Some(api) = &state.api {
        state.outbox.start(api.clone());
        // The agents online matter only while an offline reply could use them.
        let rules = state.rules.clone();
        let fall_through_offline = state.upstreams.fall_through.offline.is_some();
        state
            .agents
            .start(api.clone(), state.metrics.clone(), move || {
                fall_through_offline || rules.load().ruleset.has_offline()
            });
    }
}

/// A response extension: fired once the response's body has been handed to the connection (or
/// dropped unsent), so that what must follow the response (`reply.all`'s customer-service
/// messages) does.
#[derive(Debug, Clone)]
pub struct AfterSent(Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>>);

impl AfterSent {
    /// Fires `tx` after the response is written.
    pub fn new(tx: tokio::sync::oneshot::Sender<()>) -> AfterSent {
        AfterSent(Arc::new(std::sync::Mutex::new(Some(tx))))
    }

    fn fire(&self) {
        if let Some(tx) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

/// A response body that fires its [`AfterSent`] when hyper is done with it.
struct Notifying<B> {
    body: B,
    after: Option<AfterSent>,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Notifying<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for Notifying<B> {
    fn drop(&mut self) {
        if let Some(a) = &self.after {
            a.fire();
        }
    }
}

/// Whether a request target is origin-form (`/path?query`), the only form a server that is
/// not a proxy serves: not authority-form (`CONNECT a:1`, `GET a:443`), absolute-form
/// (`GET http://a/`) or asterisk-form (`OPTIONS *`).
fn is_origin_form(uri: &hyper::Uri) -> bool {
    uri.scheme().is_none() && uri.authority().is_none() && uri.path().starts_with('/')
}

/// Accepts connections until told to stop, at most `limits.max_connections` at a time, and
/// serves each as HTTP/1.1 with a timeout on reading request heads.
async fn accept_loop(
    listener: TcpListener,
    site: Arc<Site>,
    surface: Surface,
    limits: Limits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    registry: Arc<Registry>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut full_logged = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => {
                full_logged = false;
                p
            }
            Err(TryAcquireError::Closed) => return,
            Err(TryAcquireError::NoPermits) => {
                // Every slot is taken and this client is waiting: the longest-idle keep-alive
                // connections make way, and more as others become idle, until a slot frees.
                if !full_logged {
                    warn!(
                        "{} connections are open (max_connections): closing idle ones to admit new clients",
                        limits.max_connections
                    );
                    full_logged = true;
                }
                let permit = loop {
                    registry.close_idle(CLOSE_IDLE_AT_ONCE);
                    tokio::select! {
                        permit = permits.clone().acquire_owned() => break permit,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                };
                match permit {
                    Ok(p) => p,
                    Err(_) => return,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        serve_connection(
            ClientIo::new(stream, limits.send_timeout, permit),
            peer.ip(),
            site.clone(),
            surface,
            limits,
            &registry,
        );
    }
}

/// Serves one connection on a task of its own, registered so that it can be asked to close.
fn serve_connection(
    io: ClientIo,
    peer: std::net::IpAddr,
    site: Arc<Site>,
    surface: Surface,
    limits: Limits,
    registry: &Arc<Registry>,
) {
    let registered = registry.register();
    let slot = registered.slot.clone();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // What a connection may buffer of a client's requests: a head and a chunk of body, not
        // a pipeline of thousands.
        .max_buf_size(MAX_CONNECTION_BUFFER);
    let connection = http.serve_connection(
        hyper_util::rt::TokioIo::new(io),
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            slot.busy();
            // `*` and absolute URLs are not WeChat's requests.
            let refused = (!is_origin_form(request.uri())).then(|| {
                let mut r = Refusal::bad(
                    "request_target",
                    "the request target must be a path (/wechat?…)",
                )
                .respond(&site.first().metrics);
                // Nothing else on this connection is worth reading.
                r.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
                r
            });
            let site = site.clone();
            let slot = slot.clone();
            async move {
                let mut response = match refused {
                    Some(response) => response,
                    None => respond(&site, surface, request, Some(peer)).await,
                };
                slot.idle();
                let after = response.extensions_mut().remove::<AfterSent>();
                Ok::<_, std::convert::Infallible>(response.map(|body| Notifying { body, after }))
            }
        }),
    );
    // The permit lives in the connection's IO, and goes back when its lingering close ends.
    tokio::spawn(async move {
        let mut connection = std::pin::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            () = registered.slot.close.notified() => {
                connection.as_mut().graceful_shutdown();
                connection.as_mut().await
            }
        };
        if let Err(e) = ended {
            tracing::debug!("connection ended: {e}");
        }
        drop(registered);
    });
}
