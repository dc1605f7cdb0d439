//! `[[upstream]]` and `[fall_through]`: the backends replyd stands in front of, and what
//! happens to a message or event that no rule answers.
//!
//! These are tables, not single settings, so they come from the config file only (no variable,
//! no flag); each error still names `replyd.toml:line:col` and says what is allowed.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use crate::diag::SourceFile;
use crate::protocol::EventKind;
use crate::protocol::vocab::MAX_TEXT_BYTES;

/// The top-level keys this module reads (and the keys of an `[[account]]` it reads);
/// `layers.rs` leaves them to it.
pub const TABLES: [&str; 2] = ["upstream", "fall_through"];

/// The default and the most an upstream may take: WeChat gives up on a request at 5 s, and
/// replyd still has to answer in time when the upstream does not.
pub const DEFAULT_TIMEOUT_MS: u64 = 4000;
/// See [`DEFAULT_TIMEOUT_MS`].
pub const MAX_TIMEOUT_MS: u64 = 4800;

/// One `[[upstream]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Its name, as rules and `[fall_through]` refer to it.
    pub name: String,
    /// The backend's WeChat endpoint (http or https).
    pub url: hyper::Uri,
    /// How long a forward may take, connecting included.
    pub timeout: Duration,
    /// Events copied to it even when a rule answers them.
    pub copy_events: Vec<EventKind>,
}

/// What answers a message or event that no rule answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// Hand over to customer service (user messages only).
    Transfer,
    /// Answer `success`.
    Success,
    /// Forward to the named upstream.
    Upstream(String),
}

impl Fallback {
    /// The upstream this forwards to, if any.
    pub fn upstream(&self) -> Option<&str> {
        match self {
            Fallback::Upstream(name) => Some(name),
            Fallback::Transfer | Fallback::Success => None,
        }
    }
}

/// `[fall_through]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallThrough {
    /// A user message no rule answers.
    pub messages: Fallback,
    /// An event no rule answers.
    pub events: Fallback,
    /// What a message handed over (`messages = "transfer"`) gets instead when no agent is
    /// online (needs `app_secret`).
    pub offline: Option<Arc<str>>,
}

impl FallThrough {
    /// Without `[fall_through]`: a user message is handed over, an event gets `success`.
    pub const DEFAULT: FallThrough = FallThrough {
        messages: Fallback::Transfer,
        events: Fallback::Success,
        offline: None,
    };

    /// What answers a message no rule answers (`event`: whether it is an event).
    pub fn of(&self, event: bool) -> &Fallback {
        if event { &self.events } else { &self.messages }
    }
}

impl Default for FallThrough {
    fn default() -> FallThrough {
        FallThrough::DEFAULT
    }
}

/// The upstreams and the fall-through, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarding {
    /// Every `[[upstream]]`, in file order.
    pub upstreams: Vec<UpstreamSpec>,
    /// `[fall_through]`.
    pub fall_through: FallThrough,
}

impl Forwarding {
    /// The upstream of that name.
    pub fn upstream(&self, name: &str) -> Option<&UpstreamSpec> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    /// The names rules may refer to.
    pub fn names(&self) -> Vec<String> {
        self.upstreams.iter().map(|u| u.name.clone()).collect()
    }
}

#[derive(Deserialize)]
struct Tables {
    #[serde(default)]
    upstream: Vec<Spanned<RawUpstream>>,
    fall_through: Option<Spanned<RawFallThrough>>,
}

/// The `[[account]]` tables, for their own `upstream` and `fall_through`.
#[derive(Deserialize)]
struct Accounts {
    #[serde(default)]
    account: Vec<Tables>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    name: Spanned<String>,
    url: Spanned<String>,
    timeout_ms: Option<Spanned<i64>>,
    copy_events: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFallThrough {
    messages: Option<Spanned<String>>,
    events: Option<Spanned<String>>,
    offline: Option<Spanned<RawOffline>>,
}

/// `[fall_through] offline = { text = "…" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    text: Spanned<String>,
}

/// Reads `[[upstream]]` and `[fall_through]` from the config file's text; `api`: whether
/// WeChat's API is configured (an offline reply needs it).
pub fn read(file: &SourceFile, api: bool) -> Result<Forwarding, ConfigError> {
    let tables: Tables = toml::from_str(file.text()).map_err(|e| toml_error(file, &e))?;
    build(file, tables, api)
}

/// Reads the `[[account.upstream]]` and `[account.fall_through]` of the `index`th account.
pub fn read_account(file: &SourceFile, index: usize, api: bool) -> Result<Forwarding, ConfigError> {
    let accounts: Accounts = toml::from_str(file.text()).map_err(|e| toml_error(file, &e))?;
    match accounts.account.into_iter().nth(index) {
        Some(tables) => build(file, tables, api),
        None => Ok(Forwarding::default()),
    }
}

/// Where the top-level `[[upstream]]` or `[fall_through]` is, if the file has one: with
/// `[[account]]`s they belong in the accounts.
pub fn top_level_at(file: &SourceFile) -> Option<usize> {
    let tables: Tables = toml::from_str(file.text()).ok()?;
    tables
        .upstream
        .first()
        .map(|u| u.span().start)
        .or_else(|| tables.fall_through.as_ref().map(|f| f.span().start))
}

fn toml_error(file: &SourceFile, e: &toml::de::Error) -> ConfigError {
    let (line, col) = file.line_col(e.span().map_or(0, |s| s.start));
    ConfigError::Invalid {
        position: format!("{}:{line}:{col}", file.path().display()),
        message: e.message().trim().to_owned(),
    }
}

fn build(file: &SourceFile, tables: Tables, api: bool) -> Result<Forwarding, ConfigError> {
    let position = |offset: usize| {
        let (line, col) = file.line_col(offset);
        format!("{}:{line}:{col}", file.path().display())
    };
    let invalid = |offset: usize, message: String| ConfigError::Invalid {
        position: position(offset),
        message,
    };
    let mut upstreams: Vec<UpstreamSpec> = Vec::new();
    for raw in tables.upstream {
        let raw = raw.into_inner();
        let name = raw.name.get_ref();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid(
                raw.name.span().start,
                "an upstream's `name` is letters, digits, `_` and `-` (for example \"app\")"
                    .to_owned(),
            ));
        }
        if upstreams.iter().any(|u| &u.name == name) {
            return Err(invalid(
                raw.name.span().start,
                format!("two upstreams are named `{name}`; give each its own name"),
            ));
        }
        let url = parse_url(raw.url.get_ref()).ok_or_else(|| {
            invalid(
                raw.url.span().start,
                format!(
                    "upstream `{name}`: `url` must be an http:// or https:// URL with a host, such as \"http://127.0.0.1:9000/wechat\""
                ),
            )
        })?;
        let timeout_ms = match &raw.timeout_ms {
            None => DEFAULT_TIMEOUT_MS,
            Some(t) => u64::try_from(*t.get_ref())
                .ok()
                .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
                .ok_or_else(|| {
                    invalid(
                        t.span().start,
                        format!(
                            "upstream `{name}`: `timeout_ms` is milliseconds from 1 to {MAX_TIMEOUT_MS} (WeChat gives up at 5 s and replyd must still answer)"
                        ),
                    )
                })?,
        };
        let mut copy_events = Vec::new();
        for event in raw.copy_events.unwrap_or_default() {
            let kind = EventKind::parse(event.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = EventKind::names().collect();
                let help = match crate::diag::did_you_mean(event.get_ref(), &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the events are {}", names.join(", ")),
                };
                invalid(
                    event.span().start,
                    format!("upstream `{name}`: `copy_events` names no event WeChat sends; {help}"),
                )
            })?;
            if !copy_events.contains(&kind) {
                copy_events.push(kind);
            }
        }
        upstreams.push(UpstreamSpec {
            name: name.clone(),
            url,
            timeout: Duration::from_millis(timeout_ms),
            copy_events,
        });
    }
    let mut fall_through = FallThrough::default();
    if let Some(raw) = tables.fall_through.map(Spanned::into_inner) {
        let names: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
        let fallback = |value: &Spanned<String>, allowed: &[&str]| {
            let text = value.get_ref().trim();
            let parsed = match text.strip_prefix("upstream:") {
                Some(name) if names.contains(&name) => Some(Fallback::Upstream(name.to_owned())),
                Some(name) => {
                    let declared = if names.is_empty() {
                        "no [[upstream]] is declared".to_owned()
                    } else {
                        format!("the upstreams are {}", names.join(", "))
                    };
                    return Err(invalid(
                        value.span().start,
                        format!("`upstream:{name}` names no [[upstream]]; {declared}"),
                    ));
                }
                None => match text {
                    "transfer" if allowed.contains(&"transfer") => Some(Fallback::Transfer),
                    "success" => Some(Fallback::Success),
                    _ => None,
                },
            };
            parsed.ok_or_else(|| {
                let mut options: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                options.push("\"upstream:NAME\"".to_owned());
                invalid(
                    value.span().start,
                    format!("expected {}", options.join(" or ")),
                )
            })
        };
        if let Some(m) = &raw.messages {
            fall_through.messages = fallback(m, &["transfer", "success"])?;
        }
        if let Some(e) = &raw.events {
            fall_through.events = fallback(e, &["success"])?;
        }
        if let Some(offline) = raw.offline {
            let at = offline.span().start;
            let text = offline.into_inner().text;
            if !api {
                return Err(invalid(
                    at,
                    "an offline reply needs app_secret (and app_id): replyd learns which agents are online from WeChat's API".to_owned(),
                ));
            }
            let len = text.get_ref().len();
            if text.get_ref().trim().is_empty() || len > MAX_TEXT_BYTES {
                return Err(invalid(
                    text.span().start,
                    format!("the offline text must be 1 to {MAX_TEXT_BYTES} bytes (it is {len})"),
                ));
            }
            fall_through.offline = Some(Arc::from(text.into_inner()));
        }
    }
    Ok(Forwarding {
        upstreams,
        fall_through,
    })
}

/// An absolute http or https URL with a host.
fn parse_url(text: &str) -> Option<hyper::Uri> {
    let uri: hyper::Uri = text.trim().parse().ok()?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    (scheme_ok && uri.host().is_some_and(|h| !h.is_empty())).then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Forwarding, String> {
        read(&SourceFile::new("replyd.toml", text), true).map_err(|e| e.to_string())
    }

    #[test]
    fn upstreams_and_the_fall_through_are_read() {
        let f = read_text(
            "token = \"t\"\n\
             [[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:9000/wechat\"\n\
             copy_events = [\"subscribe\", \"UNSUBSCRIBE\"]\n\
             [[upstream]]\nname = \"b\"\nurl = \"https://b.example/w\"\ntimeout_ms = 1500\n\
             [fall_through]\nmessages = \"upstream:app\"\nevents = \"upstream:b\"\n",
        )
        .unwrap();
        assert_eq!(f.upstreams.len(), 2);
        assert_eq!(f.upstreams[0].timeout, Duration::from_millis(4000));
        assert_eq!(
            f.upstreams[0].copy_events,
            [EventKind::Subscribe, EventKind::Unsubscribe]
        );
        assert_eq!(f.upstreams[1].timeout, Duration::from_millis(1500));
        assert_eq!(f.fall_through.messages, Fallback::Upstream("app".into()));
        assert_eq!(f.fall_through.events, Fallback::Upstream("b".into()));
        assert_eq!(read_text("").unwrap(), Forwarding::default());
    }

    #[test]
    fn each_mistake_is_named_at_its_place() {
        let up = "[[upstream]]\nname = \"app\"\nurl = \"http://h/w\"\n";
        for (text, expected) in [
            (
                "[[upstream]]\nname = \"a b\"\nurl = \"http://h/\"\n".to_owned(),
                "replyd.toml:2:8: an upstream's `name` is letters",
            ),
            (
                format!("{up}{up}"),
                "replyd.toml:5:8: two upstreams are named `app`",
            ),
            (
                "[[upstream]]\nname = \"a\"\nurl = \"ftp://h/\"\n".to_owned(),
                "replyd.toml:3:7: upstream `a`: `url` must be an http:// or https:// URL",
            ),
            (
                "[[upstream]]\nname = \"a\"\nurl = \"/wechat\"\n".to_owned(),
                "replyd.toml:3:7: upstream `a`: `url` must be",
            ),
            (
                format!("{up}timeout_ms = 5000\n"),
                "replyd.toml:4:14: upstream `app`: `timeout_ms` is milliseconds from 1 to 4800",
            ),
            (
                format!("{up}copy_events = [\"subscrbe\"]\n"),
                "replyd.toml:4:16: upstream `app`: `copy_events` names no event WeChat sends; did you mean `subscribe`?",
            ),
            (
                format!("{up}tiemout_ms = 1\n"),
                "replyd.toml:4:1: unknown field `tiemout_ms`, expected one of `name`, `url`",
            ),
            (
                format!("{up}[fall_through]\nmessages = \"upstream:nope\"\n"),
                "replyd.toml:5:12: `upstream:nope` names no [[upstream]]; the upstreams are app",
            ),
            (
                "[fall_through]\nevents = \"transfer\"\n".to_owned(),
                "replyd.toml:2:10: expected \"success\" or \"upstream:NAME\"",
            ),
            (
                "[fall_through]\nmessages = \"human\"\n".to_owned(),
                "replyd.toml:2:12: expected \"transfer\" or \"success\" or \"upstream:NAME\"",
            ),
            (
                "[fall_through]\nmessages = \"upstream:x\"\n".to_owned(),
                "no [[upstream]] is declared",
            ),
        ] {
            let error = read_text(&text).unwrap_err();
            assert!(error.contains(expected), "{text}\n→ {error}");
        }
    }
}
