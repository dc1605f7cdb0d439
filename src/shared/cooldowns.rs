//! Cooldowns across replicas: one hash per follower, `cooldown:{len}:{follower}`, whose fields
//! are rule ids and whose values are when each cooldown ends (Unix seconds). The hash expires
//! with the longest cooldown it holds, so a follower who stops writing costs nothing after it.
//!
//! The engine does no IO, so the follower's hash is read before it runs (only when the served
//! set has a rule with a cooldown) and seen through `cooldown::WithShared`; a cooldown
//! the answer starts is written after.

use jiff::Timestamp;

use super::{Op, Shared};

impl Shared {
    fn cooldown_key(&self, follower: &str) -> Vec<u8> {
        let mut suffix = format!("cooldown:{}:", follower.len()).into_bytes();
        suffix.extend_from_slice(follower.as_bytes());
        self.key(&suffix)
    }

    /// The cooldowns recorded for `follower` on any replica (expired ones included; the
    /// engine compares them with its own "now"). Empty when Redis cannot say.
    pub async fn cooldowns_of(&self, follower: &str) -> Vec<(String, Timestamp)> {
        let key = self.cooldown_key(follower);
        let fields: Option<Vec<(String, i64)>> = self
            .call(Op::CooldownRead, async |c| {
                redis::cmd("HGETALL").arg(&key).query_async(c).await
            })
            .await;
        fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(rule, until)| Some((rule, Timestamp::from_second(until).ok()?)))
            .collect()
    }

    /// Records that `rule` answered `follower` at `now` and cools until `until`, for every
    /// replica.
    pub async fn start_cooldown(
        &self,
        follower: &str,
        rule: &str,
        now: Timestamp,
        until: Timestamp,
    ) {
        let key = self.cooldown_key(follower);
        let ttl_ms = until.duration_since(now).as_millis().max(1);
        let _: Option<()> = self
            .call(Op::CooldownWrite, async |c| {
                // The hash lives as long as its longest cooldown: NX sets a first expiry, GT
                // only ever lengthens it (Redis 7).
                redis::pipe()
                    .cmd("HSET")
                    .arg(&key)
                    .arg(rule)
                    .arg(until.as_second())
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl_ms as u64)
                    .arg("NX")
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(ttl_ms as u64)
                    .arg("GT")
                    .ignore()
                    .query_async(c)
                    .await
            })
            .await;
    }
}
