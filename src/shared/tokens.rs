//! WeChat's access token across replicas: `token`, holding `until<TAB>token` (`until` in Unix
//! seconds on the replica's clock), expiring with the token, so that replicas fetch it once.

use std::time::Duration;

use super::{Op, Shared};

impl Shared {
    /// The token another replica fetched, and until when it is used.
    pub async fn token(&self) -> Option<(String, u64)> {
        let key = self.key(b"token");
        let value: Option<String> = self
            .call(Op::Token, async |c| {
                redis::cmd("GET").arg(&key).query_async(c).await
            })
            .await?;
        let (until, token) = value?
            .split_once('\t')
            .map(|(u, t)| (u.to_owned(), t.to_owned()))?;
        Some((token, until.parse().ok()?))
    }

    /// Shares `token`, used until `until`, for `ttl`.
    pub async fn put_token(&self, token: &str, until: u64, ttl: Duration) {
        let key = self.key(b"token");
        let value = format!("{until}\t{token}");
        let _: Option<()> = self
            .call(Op::Token, async |c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&value)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async(c)
                    .await
            })
            .await;
    }

    /// Forgets the shared token if it is `token` (WeChat rejected it).
    pub async fn drop_token(&self, token: &str) {
        if self.token().await.is_some_and(|(t, _)| t == token) {
            let key = self.key(b"token");
            let _: Option<()> = self
                .call(Op::Token, async |c| {
                    redis::cmd("DEL").arg(&key).query_async(c).await
                })
                .await;
        }
    }
}
