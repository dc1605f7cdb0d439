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

mod accept;
mod admin;
mod answer;
mod connection;
mod query;
mod registry;
mod response;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use hyper::http::{Method, StatusCode, header};

use crate::clock::Clock;
use crate::config::{Config, Secret};
use crate::cooldown::{self, Cooldowns, MemoryCooldowns};
use crate::dedup::Dedup;
use crate::metrics::Metrics;
use crate::protocol::crypto::Keys;
use crate::shared::{self, Shared};
use crate::state::Rules;
use crate::upstream::Upstreams;
use crate::wechat_api::{Api, OnlineAgents, Outbox};
pub use accept::serve;
use response::Refusal;

/// A response of replyd's: every body is whole when it is written.
pub type Response = hyper::Response<http_body_util::Full<Bytes>>;

/// A request's body as the handlers read it: hyper's `Incoming` on a connection, any body in
/// the tests.
pub trait RequestBody:
    hyper::body::Body<Data: Buf, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Unpin
{
}

impl<B> RequestBody for B where
    B: hyper::body::Body<Data: Buf, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Unpin
{
}

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
    /// What time it is (a reply's `CreateTime`, the timestamp check, the rules' schedules).
    pub clock: Clock,
    /// Which rules answered which follower within their cooldown.
    pub cooldowns: Arc<dyn Cooldowns>,
    /// The upstreams, the fall-through and the event copies.
    pub upstreams: Upstreams,
    /// What replicas share through Redis (`redis_url`), if configured.
    pub shared: Option<Arc<Shared>>,
    /// The account's name, with `[[account]]` tables.
    pub account: Option<Arc<str>>,
    /// WeChat's API (`app_secret`), if configured.
    pub api: Option<Arc<Api>>,
    /// The agents online, as last fetched (nothing is known without the API).
    pub agents: Arc<OnlineAgents>,
    /// `reply.all`'s follow-ups, waiting to be sent.
    pub outbox: Outbox,
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
        State::sharing(config, token, rules, metrics, clock, None)
    }

    /// The same, for one of several accounts: with `redis_url`, over the Redis connection of
    /// `redis` (another account's store) when given, so the daemon keeps one connection.
    pub fn sharing(
        config: &Config,
        token: Secret,
        rules: Arc<Rules>,
        metrics: Arc<Metrics>,
        clock: Clock,
        redis: Option<&Shared>,
    ) -> State {
        let upstreams = Upstreams::new(&config.forwarding, config.max_body_bytes, metrics.clone());
        let account = config.account.as_deref().unwrap_or(shared::DEFAULT_ACCOUNT);
        let shared = config.redis_url.as_ref().and_then(|url| match redis {
            Some(other) => Some(Arc::new(other.sibling(account, &metrics))),
            // The config checked the URL: this cannot fail.
            None => Shared::new(url.expose(), account, metrics.clone(), clock.clone())
                .ok()
                .map(Arc::new),
        });
        let api = config.api.clone().map(|c| {
            Arc::new(Api::new(
                c,
                upstreams.client().clone(),
                metrics.clone(),
                clock.clone(),
                shared.clone(),
            ))
        });
        State {
            account: config.account.as_deref().map(Arc::from),
            api,
            agents: Arc::default(),
            outbox: Outbox::new(metrics.clone()),
            shared,
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
            cooldowns: Arc::new(MemoryCooldowns::new(cooldown::DEFAULT_CAPACITY)),
            upstreams,
        }
    }
}

/// What a daemon serves: one account, or several, each on its own path (`[[account]]`).
/// Nothing is shared between them but the listeners, the metrics registry and the Redis
/// connection.
#[derive(Debug)]
pub struct Site {
    accounts: Vec<Arc<State>>,
}

impl Site {
    /// The only account.
    pub fn one(state: Arc<State>) -> Site {
        Site {
            accounts: vec![state],
        }
    }

    /// Several accounts (at least one; their paths differ, as the config checks).
    pub fn new(accounts: Vec<Arc<State>>) -> Site {
        assert!(!accounts.is_empty(), "a site serves at least one account");
        Site { accounts }
    }

    /// Every account.
    pub fn accounts(&self) -> &[Arc<State>] {
        &self.accounts
    }

    /// The first account: the daemon's settings (admin listener, limits) are the same in
    /// each, and its metrics count what belongs to no account (a 404).
    pub fn first(&self) -> &State {
        &self.accounts[0]
    }

    /// The account served on `path`.
    fn on_path(&self, path: &str) -> Option<&State> {
        self.accounts.iter().find(|s| s.path == path).map(|s| &**s)
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

/// Answers one request on a listener serving `surface`; `peer` is the client's address. The
/// routes are the `match` below: the webhook of the account on the path, then the operators'
/// endpoints where this listener serves them.
pub async fn respond<B>(
    site: &Site,
    surface: Surface,
    request: hyper::Request<B>,
    peer: Option<std::net::IpAddr>,
) -> Response
where
    B: RequestBody,
{
    let (parts, body) = request.into_parts();
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let head = webhook::Head {
        query: parts.uri.query().unwrap_or(""),
        // hyper has checked the length the request's framing depends on.
        length: header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        content_type: header(header::CONTENT_TYPE),
        peer,
        forwarded_for: header(header::HeaderName::from_static("x-forwarded-for")),
    };
    let (method, path) = (&parts.method, parts.uri.path());
    let operators_here = surface == Surface::Admin || !site.first().admin_separate;
    let account = (surface == Surface::Public)
        .then(|| site.on_path(path))
        .flatten();
    let refusal = match (path, account) {
        (_, Some(state)) => match *method {
            Method::GET => return webhook::verify_url(state, head.query),
            Method::POST => return webhook::post(state, head, body).await,
            _ => Refusal::Method("GET, POST"),
        },
        ("/healthz" | "/metrics", None) if operators_here => match *method {
            Method::GET if path == "/healthz" => return admin::healthz(site),
            Method::GET => return admin::metrics(site.first()),
            _ => Refusal::Method("GET"),
        },
        _ => Refusal::Other {
            status: StatusCode::NOT_FOUND,
            reason: "not_found",
            message: "not found".to_owned(),
        },
    };
    let counted_by = account.unwrap_or(site.first());
    refusal.respond(&counted_by.metrics)
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
    /// After shutdown is asked for: how long requests in flight, then queued copies and
    /// follow-ups, get in all.
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

#[cfg(test)]
mod tests {
    //! Routing, tested without a socket.

    use super::*;
    use crate::config::{Config, Overrides};
    use crate::ruleset::{compile, sources_from};

    fn state(admin_separate: bool) -> Arc<Site> {
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
        Arc::new(Site::one(Arc::new(State::new(
            &config,
            config.token().unwrap().clone(),
            rules,
            metrics,
            Clock::system(),
        ))))
    }

    /// `method path` answered by a listener serving `surface`.
    async fn call(site: &Site, surface: Surface, method: &str, path: &str) -> Response {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        respond(site, surface, request, None).await
    }

    #[tokio::test]
    async fn each_path_and_method_gets_its_answer() {
        let site = state(false);
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
            let r = call(&site, Surface::Public, method, path).await;
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
        let get = |surface, path| call(&s, surface, "GET", path);
        assert_eq!(get(Surface::Public, "/healthz").await.status(), 404);
        assert_eq!(get(Surface::Public, "/metrics").await.status(), 404);
        assert_eq!(get(Surface::Admin, "/healthz").await.status(), 200);
        assert_eq!(get(Surface::Admin, "/wechat").await.status(), 404);
    }
}
