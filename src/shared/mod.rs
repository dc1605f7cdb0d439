//! What replicas share through Redis (`redis_url`): the retry cache's answers and the
//! followers' cooldowns, so that a retry reaching another replica gets the first answer and a
//! cooldown holds on every replica.
//!
//! Redis is never on the path to failure. Every call is bounded by [`CALL_TIMEOUT`]; a call
//! that fails or times out marks the store *degraded*, and while it is degraded the request
//! path does not call Redis at all: each replica answers alone, as without `redis_url`. A
//! probe pings Redis every [`PROBE_EVERY`] and ends the degraded state when it answers.
//! `/healthz` says `"redis": "degraded"` and since when (still 200); `replyd_redis_up` and
//! `replyd_redis_errors_total{op}` count it.
//!
//! One multiplexed connection per daemon: redis-rs's [`ConnectionManager`], which reconnects
//! behind it. It is made by [`Shared::start`], inside the runtime; before that, calls are
//! skipped.
//!
//! Keys live under `replyd:{len}:{account}:`, each part length-prefixed, and expire: answers
//! with the retry window, cooldowns with the longest cooldown they hold.

mod answers;
mod cooldowns;
mod tokens;

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::{info, warn};

use crate::clock::Clock;
use crate::metrics::Metrics;

pub use answers::{decode, encode};

/// The longest a Redis call may take before the replica gives up on it and answers alone.
/// Far below WeChat's 5 seconds: a message waits at most a few of these.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// How often Redis is pinged, to notice it is back (or gone while no message comes).
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The account's name in keys, until several accounts share a daemon.
pub const DEFAULT_ACCOUNT: &str = "default";

/// A Redis operation, as the metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Claiming a message's first delivery.
    Claim,
    /// Reading another replica's answer.
    Fetch,
    /// Storing this replica's answer.
    Publish,
    /// Reading a follower's cooldowns.
    CooldownRead,
    /// Recording a cooldown.
    CooldownWrite,
    /// Reading or writing WeChat's access token.
    Token,
    /// The background ping.
    Probe,
}

impl Op {
    /// The `op` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Claim => "claim",
            Op::Fetch => "fetch",
            Op::Publish => "publish",
            Op::CooldownRead => "cooldown_read",
            Op::CooldownWrite => "cooldown_write",
            Op::Token => "token",
            Op::Probe => "probe",
        }
    }
}

/// Whether the replicas are sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Redis answers.
    Ok,
    /// Redis failed at `since` (Unix seconds); each replica answers alone until it is back.
    Degraded {
        /// When the first failure was.
        since: u64,
    },
}

/// The shared store of one account: its key prefix, over the daemon's one Redis connection
/// (every account's store shares the [`Link`]).
pub struct Shared {
    link: Arc<Link>,
    /// `replyd:{len}:{account}:`, the prefix of every key.
    prefix: String,
}

/// The daemon's Redis connection and its health, whatever the account.
pub struct Link {
    client: redis::Client,
    conn: OnceLock<ConnectionManager>,
    health: Mutex<Health>,
    metrics: Arc<Metrics>,
    /// `replyd_redis_up` of every account on this connection.
    up: Mutex<Vec<prometheus::IntGauge>>,
    clock: Clock,
}

impl std::ops::Deref for Shared {
    type Target = Link;

    fn deref(&self) -> &Link {
        &self.link
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the client: its URL may carry a password.
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

/// Why the store cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("redis_url is not a usable Redis URL")]
pub struct BadUrl(#[source] redis::RedisError);

impl Shared {
    /// The store at `url`, for `account`; nothing is connected until [`Shared::start`].
    ///
    /// # Errors
    ///
    /// A URL redis-rs cannot use (the config checks it first).
    pub fn new(
        url: &str,
        account: &str,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> Result<Shared, BadUrl> {
        let client = redis::Client::open(url).map_err(BadUrl)?;
        let link = Arc::new(Link {
            client,
            conn: OnceLock::new(),
            health: Mutex::new(Health::Ok),
            up: Mutex::new(vec![metrics.redis_up.clone()]),
            metrics,
            clock,
        });
        Ok(Shared::on(link, account))
    }

    /// The store of `account` over `link`.
    fn on(link: Arc<Link>, account: &str) -> Shared {
        Shared {
            link,
            prefix: format!("replyd:{}:{account}:", account.len()),
        }
    }

    /// The store of another account over the same connection; its `replyd_redis_up` follows
    /// the connection too (errors are counted under the first account's metrics).
    pub fn sibling(&self, account: &str, metrics: &Metrics) -> Shared {
        let up = metrics.redis_up.clone();
        up.set(i64::from(self.health() == Health::Ok));
        self.link
            .up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(up);
        Shared::on(self.link.clone(), account)
    }

    /// Connects and starts the probe (see `Link::start`).
    pub fn start(&self) {
        self.link.start();
    }

    /// The key `suffix` under this account's prefix.
    fn key(&self, suffix: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + suffix.len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(suffix);
        k
    }
}

impl Link {
    /// Makes the connection (lazily: it connects on first use and reconnects by itself) and
    /// starts the probe. Call within a tokio runtime; a second call does nothing.
    fn start(self: &Arc<Self>) {
        if self.conn.get().is_some() {
            return;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            // One try per reconnection: the probe tries again a second later.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        match ConnectionManager::new_lazy_with_config(self.client.clone(), config) {
            Ok(conn) => {
                let _ = self.conn.set(conn);
            }
            Err(e) => {
                warn!(error = %e, "cannot set up the Redis connection; answering alone");
                self.degrade();
                return;
            }
        }
        let weak: Weak<Link> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROBE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                shared.probe().await;
            }
        });
    }

    /// Whether Redis is answering.
    pub fn health(&self) -> Health {
        *self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `cmd` (a command or a pipeline) within [`CALL_TIMEOUT`]; `None` when Redis is
    /// degraded (not called), fails or is too slow (then it is degraded).
    async fn call<T: redis::FromRedisValue>(
        &self,
        op: Op,
        run: impl AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    ) -> Option<T> {
        if op != Op::Probe && self.health() != Health::Ok {
            return None;
        }
        let mut conn = self.conn.get()?.clone();
        match tokio::time::timeout(CALL_TIMEOUT, run(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.failed(op, &e.to_string());
                None
            }
            Err(_) => {
                self.failed(op, "no answer within 250 ms");
                None
            }
        }
    }

    fn failed(&self, op: Op, error: &str) {
        self.metrics
            .redis_errors
            .with_label_values(&[op.as_str()])
            .inc();
        if self.degrade() {
            warn!(
                op = op.as_str(),
                error, "Redis failed: each replica answers alone until it is back"
            );
        }
    }

    /// Marks the store degraded; `true` if it was not already.
    fn degrade(&self) -> bool {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if *h != Health::Ok {
            return false;
        }
        *h = Health::Degraded {
            since: self.clock.unix_secs(),
        };
        self.set_up(0);
        true
    }

    fn set_up(&self, value: i64) {
        for g in self.up.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            g.set(value);
        }
    }

    /// Pings Redis; its answer ends a degraded state.
    async fn probe(&self) {
        let pong: Option<String> = self
            .call(Op::Probe, async |c| redis::cmd("PING").query_async(c).await)
            .await;
        if pong.is_some() {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            if let Health::Degraded { since } = *h {
                *h = Health::Ok;
                self.set_up(1);
                drop(h);
                info!(
                    degraded_secs = self.clock.unix_secs().saturating_sub(since),
                    "Redis answers again: replicas share the retry cache and cooldowns"
                );
            }
        }
    }
}
