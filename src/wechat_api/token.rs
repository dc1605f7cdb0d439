//! The access token: fetched with `stable_token` (which, unlike `/cgi-bin/token`, does not
//! invalidate the token another backend of the account holds), kept until [`MARGIN`] before it
//! expires, refreshed once for all callers (a lock around the fetch; callers that waited find
//! the new token), and shared through Redis when replicas have it, so that they fetch once too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Api, ApiError, Endpoint};
use crate::clock::Clock;
use crate::shared::Shared;

/// A token is replaced this long before WeChat says it expires.
pub const MARGIN: Duration = Duration::from_secs(300);

/// An access token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// The token, to put in a URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The cached token and when it stops being used (Unix seconds, on the daemon's clock).
#[derive(Debug)]
pub struct Tokens {
    clock: Clock,
    shared: Option<Arc<Shared>>,
    cached: Mutex<Option<(Token, u64)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Tokens {
    pub fn new(clock: Clock, shared: Option<Arc<Shared>>) -> Tokens {
        Tokens {
            clock,
            shared,
            cached: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn valid(&self) -> Option<Token> {
        let now = self.clock.unix_secs();
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(t, _)| t.clone())
    }

    fn keep(&self, token: Token, until: u64) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, until));
    }

    /// A valid token: the cached one, another replica's, or a new one.
    pub async fn get(&self, api: &Api) -> Result<Token, ApiError> {
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        let _one_at_a_time = self.refresh.lock().await;
        if let Some(t) = self.valid() {
            return Ok(t);
        }
        let now = self.clock.unix_secs();
        if let Some(shared) = &self.shared
            && let Some((token, until)) = shared.token().await.filter(|(_, until)| now < *until)
        {
            let token = Token(token.into());
            self.keep(token.clone(), until);
            return Ok(token);
        }
        let body = json!({
            "grant_type": "client_credential",
            "appid": api.config.app_id,
            "secret": api.config.app_secret.expose(),
        });
        let url = format!("{}{}", api.config.base, Endpoint::StableToken.path());
        let answer = api
            .exchange(
                Endpoint::StableToken,
                &url,
                Some(body.to_string().into_bytes()),
            )
            .await?;
        let token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Invalid("no access_token".to_owned()))?;
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(7200);
        let lifetime = expires_in.saturating_sub(MARGIN.as_secs()).max(1);
        let until = now + lifetime;
        let token = Token(token.into());
        self.keep(token.clone(), until);
        if let Some(shared) = &self.shared {
            shared
                .put_token(token.expose(), until, Duration::from_secs(lifetime))
                .await;
        }
        tracing::info!(expires_in, "fetched an access token");
        Ok(token)
    }

    /// Forgets `token` (WeChat rejected it), here and for the other replicas.
    pub async fn drop_token(&self, token: &Token) {
        {
            let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            if cached.as_ref().is_some_and(|(t, _)| t == token) {
                *cached = None;
            }
        }
        if let Some(shared) = &self.shared {
            shared.drop_token(token.expose()).await;
        }
    }
}
