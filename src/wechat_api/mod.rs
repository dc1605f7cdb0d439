//! WeChat's API (`app_secret`): one client for the access token, customer-service messages
//! (`reply.all`), the agents online (offline hand-overs) and the console's auto-reply
//! (`replyd import --fetch`). Tencent's references: 获取稳定版接口调用凭据 (stable_token),
//! 客服消息 (message/custom/send), 获取在线客服列表 (customservice/getonlinekflist),
//! 获取公众号的自动回复规则 (get_current_autoreply_info).
//!
//! Requests go through the upstreams' pooled HTTP client (rustls). Every call is bounded by
//! [`CALL_TIMEOUT`]; an answer with a non-zero `errcode` is an [`ApiError::Wechat`] whose
//! [`Errcode`] names the codes replyd acts on. A call rejected for its token (40001, 40014,
//! 42001) drops the cached token and is tried once more with a new one. Neither the secret nor
//! a token is ever logged: URLs are logged by path only.

mod online;
pub mod outbox;
mod token;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;

use crate::clock::Clock;
use crate::config::ApiConfig;
use crate::metrics::Metrics;
use crate::protocol::Reply;
use crate::shared::Shared;
use crate::upstream::Client;

pub use online::OnlineAgents;
pub use outbox::Outbox;
use token::Tokens;

/// The longest an API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes of an API answer that are read (the auto-reply rules are the largest).
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// An `errcode` of WeChat's API; the ones replyd acts on or explains are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Errcode {
    /// -1: the system is busy; try later.
    Busy,
    /// 40001: the AppSecret is wrong, or the token is invalid.
    InvalidCredential,
    /// 40014: the access token is not valid.
    InvalidToken,
    /// 42001: the access token has expired.
    TokenExpired,
    /// 40164: this server's IP is not in the account's IP whitelist.
    IpNotWhitelisted,
    /// 45015: the follower's last message is older than the 48-hour window.
    OutsideWindow,
    /// 45047: over the limit of customer-service messages for this follower.
    OverLimit,
    /// 65400: the account has not switched to the current customer-service product.
    KfNotEnabled,
    /// Any other code.
    Other(i64),
}

impl Errcode {
    /// The code of this number.
    pub fn of(code: i64) -> Errcode {
        match code {
            -1 => Errcode::Busy,
            40001 => Errcode::InvalidCredential,
            40014 => Errcode::InvalidToken,
            42001 => Errcode::TokenExpired,
            40164 => Errcode::IpNotWhitelisted,
            45015 => Errcode::OutsideWindow,
            45047 => Errcode::OverLimit,
            65400 => Errcode::KfNotEnabled,
            other => Errcode::Other(other),
        }
    }

    /// The number.
    pub fn code(self) -> i64 {
        match self {
            Errcode::Busy => -1,
            Errcode::InvalidCredential => 40001,
            Errcode::InvalidToken => 40014,
            Errcode::TokenExpired => 42001,
            Errcode::IpNotWhitelisted => 40164,
            Errcode::OutsideWindow => 45015,
            Errcode::OverLimit => 45047,
            Errcode::KfNotEnabled => 65400,
            Errcode::Other(c) => c,
        }
    }

    /// Whether the call failed for its token (a new one may succeed).
    pub fn is_token(self) -> bool {
        matches!(
            self,
            Errcode::InvalidCredential | Errcode::InvalidToken | Errcode::TokenExpired
        )
    }

    /// What an operator can do about it, when replyd knows.
    pub fn advice(self) -> Option<&'static str> {
        match self {
            Errcode::InvalidCredential => Some("check app_id and app_secret"),
            Errcode::IpNotWhitelisted => Some(
                "add this server's public IP to the account's IP whitelist (设置与开发 → 基本配置)",
            ),
            Errcode::OutsideWindow => Some(
                "customer-service messages reach a follower only within 48 hours of their message",
            ),
            Errcode::OverLimit => Some("WeChat takes at most 5 messages per follower message"),
            Errcode::KfNotEnabled => {
                Some("switch the account to the current customer-service product (客服功能)")
            }
            _ => None,
        }
    }
}

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat answered errcode {} ({errmsg}){}", code.code(), code.advice().map(|a| format!(": {a}")).unwrap_or_default())]
    Wechat {
        /// The code.
        code: Errcode,
        /// WeChat's message.
        errmsg: String,
    },
    /// No answer within [`CALL_TIMEOUT`].
    #[error("no answer within {} s", CALL_TIMEOUT.as_secs())]
    Timeout,
    /// The connection failed, or the answer was not 200.
    #[error("{0}")]
    Http(String),
    /// The answer was not the JSON the API documents.
    #[error("the answer is not what the API documents: {0}")]
    Invalid(String),
}

impl ApiError {
    /// The metric label: the errcode, or what else went wrong.
    pub fn label(&self) -> String {
        match self {
            ApiError::Wechat { code, .. } => code.code().to_string(),
            ApiError::Timeout => "timeout".to_owned(),
            ApiError::Http(_) => "http".to_owned(),
            ApiError::Invalid(_) => "invalid".to_owned(),
        }
    }
}

/// An endpoint, as the metrics and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /cgi-bin/stable_token`.
    StableToken,
    /// `POST /cgi-bin/message/custom/send`.
    CustomSend,
    /// `GET /cgi-bin/customservice/getonlinekflist`.
    OnlineKfList,
    /// `GET /cgi-bin/get_current_autoreply_info`.
    AutoreplyInfo,
}

impl Endpoint {
    /// The path under `api_base`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::StableToken => "/cgi-bin/stable_token",
            Endpoint::CustomSend => "/cgi-bin/message/custom/send",
            Endpoint::OnlineKfList => "/cgi-bin/customservice/getonlinekflist",
            Endpoint::AutoreplyInfo => "/cgi-bin/get_current_autoreply_info",
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::StableToken => "stable_token",
            Endpoint::CustomSend => "custom_send",
            Endpoint::OnlineKfList => "getonlinekflist",
            Endpoint::AutoreplyInfo => "get_current_autoreply_info",
        }
    }
}

/// The API client of one account.
#[derive(Debug)]
pub struct Api {
    config: ApiConfig,
    client: Client,
    tokens: Tokens,
    metrics: Arc<Metrics>,
}

impl Api {
    /// The client for `config`; tokens are shared through `shared` when replicas have Redis.
    pub fn new(
        config: ApiConfig,
        client: Client,
        metrics: Arc<Metrics>,
        clock: Clock,
        shared: Option<Arc<Shared>>,
    ) -> Api {
        Api {
            config,
            client,
            tokens: Tokens::new(clock, shared),
            metrics,
        }
    }

    /// How often the agents online are fetched.
    pub fn online_refresh(&self) -> Duration {
        self.config.online_refresh
    }

    /// Sends a customer-service message (the JSON of [`custom_message`]).
    pub async fn send_custom(&self, message: &Value) -> Result<(), ApiError> {
        let body = serde_json::to_vec(message).map_err(|e| ApiError::Invalid(e.to_string()))?;
        self.call(Endpoint::CustomSend, Some(body)).await.map(drop)
    }

    /// The accounts of the agents online.
    pub async fn online_agents(&self) -> Result<Vec<String>, ApiError> {
        let answer = self.call(Endpoint::OnlineKfList, None).await?;
        let list = answer
            .get("kf_online_list")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::Invalid("no kf_online_list".to_owned()))?;
        Ok(list
            .iter()
            .filter_map(|a| a.get("kf_account").and_then(Value::as_str))
            .map(str::to_owned)
            .collect())
    }

    /// The console's auto-reply settings, as WeChat answers them.
    pub async fn autoreply_info(&self) -> Result<Value, ApiError> {
        self.call(Endpoint::AutoreplyInfo, None).await
    }

    /// Calls an endpoint with the access token (fetched or refreshed as needed); a token
    /// WeChat rejects is dropped and the call made once more with a new one.
    async fn call(&self, endpoint: Endpoint, body: Option<Vec<u8>>) -> Result<Value, ApiError> {
        let mut token = self.tokens.get(self).await?;
        let mut first = true;
        loop {
            let url = format!(
                "{}{}?access_token={}",
                self.config.base,
                endpoint.path(),
                token.expose()
            );
            match self.exchange(endpoint, &url, body.clone()).await {
                Err(ApiError::Wechat { code, .. }) if first && code.is_token() => {
                    self.tokens.drop_token(&token).await;
                    token = self.tokens.get(self).await?;
                    first = false;
                }
                result => return result,
            }
        }
    }

    /// One request, counted; `url` may carry the token, so it is never logged.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, ApiError> {
        let result = tokio::time::timeout(CALL_TIMEOUT, self.request(url, body))
            .await
            .unwrap_or(Err(ApiError::Timeout));
        let label = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.label(),
        };
        self.metrics
            .api_calls
            .with_label_values(&[endpoint.as_str(), &label])
            .inc();
        if let Err(e) = &result {
            tracing::warn!(api = endpoint.path(), error = %e, "a WeChat API call failed");
        }
        result
    }

    async fn request(&self, url: &str, body: Option<Vec<u8>>) -> Result<Value, ApiError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|_| ApiError::Invalid("the URL does not parse".to_owned()))?;
        let builder = hyper::Request::builder()
            .uri(uri)
            .header(hyper::header::USER_AGENT, "replyd");
        let request = match body {
            Some(b) => builder
                .method(hyper::Method::POST)
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(b))),
            None => builder
                .method(hyper::Method::GET)
                .body(Full::new(Bytes::new())),
        }
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let (status, body) = self
            .client
            .send(request, MAX_ANSWER_BYTES)
            .await
            .map_err(ApiError::Http)?;
        if status != hyper::StatusCode::OK {
            return Err(ApiError::Http(format!("it answered {status}")));
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("not JSON: {e}")))?;
        match value.get("errcode").and_then(Value::as_i64) {
            Some(code) if code != 0 => Err(ApiError::Wechat {
                code: Errcode::of(code),
                errmsg: value
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect(),
            }),
            _ => Ok(value),
        }
    }
}

/// A reply as a customer-service message to `openid`; `None` for a kind the API does not
/// send (a hand-over).
pub fn custom_message(openid: &str, reply: &Reply<'_>) -> Option<Value> {
    use serde_json::json;
    let opt = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().unwrap_or("").to_owned();
    let (msgtype, body) = match reply {
        Reply::Text { content } => ("text", json!({ "content": content })),
        Reply::Image { media_id } => ("image", json!({ "media_id": media_id })),
        Reply::Voice { media_id } => ("voice", json!({ "media_id": media_id })),
        Reply::Video {
            media_id,
            title,
            description,
        } => (
            "video",
            json!({ "media_id": media_id, "title": opt(title), "description": opt(description) }),
        ),
        Reply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => (
            "music",
            json!({
                "title": opt(title), "description": opt(description),
                "musicurl": opt(music_url), "hqmusicurl": opt(hq_music_url),
                "thumb_media_id": thumb_media_id,
            }),
        ),
        Reply::News { articles } => (
            "news",
            json!({ "articles": articles.iter().map(|a| json!({
                "title": a.title, "description": opt(&a.description),
                "url": opt(&a.url), "picurl": opt(&a.pic_url),
            })).collect::<Vec<_>>() }),
        ),
        Reply::Transfer { .. } | Reply::Ai => return None,
    };
    let mut m = json!({ "touser": openid, "msgtype": msgtype });
    m[msgtype] = body;
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn replies_become_the_documented_json() {
        let text = Reply::Text {
            content: Cow::Borrowed("你好"),
        };
        assert_eq!(
            custom_message("o1", &text).unwrap().to_string(),
            r#"{"msgtype":"text","text":{"content":"你好"},"touser":"o1"}"#
        );
        let image = Reply::Image {
            media_id: Cow::Borrowed("M"),
        };
        assert_eq!(
            custom_message("o1", &image).unwrap()["image"]["media_id"],
            "M"
        );
        assert!(custom_message("o1", &Reply::Transfer { kf_account: None }).is_none());
    }

    #[test]
    fn errcodes_are_named_and_token_errors_known() {
        for c in [-1, 40001, 40014, 42001, 40164, 45015, 45047, 65400, 12345] {
            assert_eq!(Errcode::of(c).code(), c);
        }
        assert!(Errcode::of(42001).is_token() && !Errcode::of(45047).is_token());
        let e = ApiError::Wechat {
            code: Errcode::of(40164),
            errmsg: "invalid ip".into(),
        };
        assert!(e.to_string().contains("IP whitelist"), "{e}");
        assert_eq!(e.label(), "40164");
    }
}
