//! The daemon's configuration: `replyd.toml`, environment variables and flags, resolved into
//! one [`Config`].
//!
//! `keys.rs` lists every setting once (key, variable, flag, default, meaning); `layers.rs`
//! applies the one precedence, highest first: flags, environment, file, defaults. Each value
//! keeps where it came from, so an error names `replyd.toml:7:18`, `REPLYD_…` or `--flag` and
//! says what is allowed. With no `--config`, `replyd.toml` in the working directory is read if
//! it exists. A relative `rules` path in a file is taken relative to that file's directory (and
//! a file without `rules` means `rules/` beside it), so `--config /etc/replyd/replyd.toml`
//! means `/etc/replyd/rules`; from a flag or the environment it is relative to the working
//! directory, like any path on a command line.

mod accounts;
pub mod keys;
mod layers;
pub mod upstreams;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::crypto::{Cipher, Keys};
use layers::{Layers, Source, Value};
pub use upstreams::{FallThrough, Fallback, Forwarding, UpstreamSpec};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "replyd.toml";

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL path of the webhook, as configured in the WeChat console (starts with `/`).
    pub path: String,
    /// The rules directory.
    pub rules: PathBuf,
    /// The console's Token, which signs every request; `serve` and `send` need it
    /// ([`Config::token`]), `lint` and `try` do not.
    token: Option<Secret>,
    /// The ciphers from the console's EncodingAESKey (and the previous one during a key
    /// change): compatible and safe mode.
    pub keys: Option<Keys>,
    /// Refuse plaintext messages (403): safe mode only.
    pub require_encryption: bool,
    /// Largest request body accepted; bigger ones get 413.
    pub max_body_bytes: usize,
    /// How long the rules directory must be quiet after a change before it is reloaded.
    pub reload_settle: Duration,
    /// How long a retried message gets its first answer.
    pub dedup_window: Duration,
    /// At most this many answers are remembered for retries.
    pub dedup_capacity: usize,
    /// A separate listener for `/healthz` and `/metrics`, off the public port.
    pub admin_listen: Option<SocketAddr>,
    /// Log a keyed hash of each follower's OpenID instead of the OpenID.
    pub mask_openids: bool,
    /// How long requests in flight may take to finish after SIGTERM or SIGINT.
    pub shutdown_timeout: Duration,
    /// A client must send a request's head within this.
    pub header_timeout: Duration,
    /// A client must send a request's body within this.
    pub body_timeout: Duration,
    /// A write to a client that makes no progress for this long closes the connection.
    pub send_timeout: Duration,
    /// At most this many connections at once, per listener.
    pub max_connections: usize,
    /// Refuse requests whose signed timestamp is further than this from now (replays).
    pub max_clock_skew: Option<Duration>,
    /// WeChat's API, when `app_secret` is set (with `app_id`).
    pub api: Option<ApiConfig>,
    /// The Redis that replicas share the retry cache and cooldowns through (a secret: the URL
    /// may carry a password).
    pub redis_url: Option<Secret>,
    /// `[[upstream]]` and `[fall_through]`.
    pub forwarding: Forwarding,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// The account's name, for one of `accounts`.
    pub account: Option<String>,
    /// With `[[account]]` tables: each account's configuration (the daemon's settings the
    /// same in each); the fields of this one are then the first account's. Empty otherwise.
    pub accounts: Vec<Config>,
}

/// What WeChat's API client needs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The account's AppID.
    pub app_id: String,
    /// The account's AppSecret.
    pub app_secret: Secret,
    /// `https://api.weixin.qq.com`, or a proxy's or test server's base URL (no trailing `/`).
    pub base: String,
    /// How often the agents online are fetched.
    pub online_refresh: Duration,
}

/// A secret string (the token, the AES key) that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret.
    #[cfg(test)]
    fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used, never to print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What the command line says about the configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--listen ADDR`.
    pub listen: Option<String>,
    /// `--rules DIR`.
    pub rules: Option<PathBuf>,
}

/// Why the configuration is unusable. Each message says where and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read the config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// The config file is not valid TOML, or has an unknown key.
    #[error("{position}: {message}")]
    Invalid {
        /// `file:line:col`.
        position: String,
        /// What is wrong.
        message: String,
    },
    /// No token anywhere, or a blank one.
    #[error(
        "no token is configured: set `token = \"…\"` in replyd.toml or the REPLYD_TOKEN environment \
         variable to the Token of the WeChat console (设置与开发 → 基本配置 → 服务器配置)"
    )]
    MissingToken,
    /// A value that does not parse or is out of range. The value is not repeated (it may be a
    /// secret in the wrong place).
    #[error("{origin}: `{key}` is not valid: expected {expected}")]
    Value {
        /// Where it came from: `file:line:col`, the variable or the flag.
        origin: String,
        /// The setting.
        key: &'static str,
        /// What is allowed.
        expected: String,
    },
    /// An account's setting is wrong.
    #[error("account `{account}`")]
    InAccount {
        /// The account's name.
        account: String,
        /// What is wrong.
        #[source]
        error: Box<ConfigError>,
    },
    /// `--account` names no `[[account]]`.
    #[error("no [[account]] is named `{name}`; {help}")]
    UnknownAccount {
        /// The name given.
        name: String,
        /// Did you mean, or the names.
        help: String,
    },
    /// `--account` with a config that has no `[[account]]`.
    #[error("--account {0}: the config has no [[account]] tables (drop --account)")]
    NoAccounts(String),
    /// Several accounts and no `--account`.
    #[error("the config serves several accounts ({0}): say which with --account NAME")]
    WhichAccount(String),
    /// Settings that do not go together.
    #[error("{origin}: {message}")]
    Conflict {
        /// Where the setting that needs the other came from.
        origin: String,
        /// What is missing or clashes, and how to fix it.
        message: String,
    },
}

impl Config {
    /// Resolves the configuration from the flags, an environment lookup and the config file.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid config file, a value that does not parse, or settings that
    /// do not go together. A missing token is reported by [`Config::token`].
    pub fn resolve(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file_path = match &overrides.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut flags = Vec::new();
        if let Some(l) = &overrides.listen {
            flags.push(("listen", l.clone()));
        }
        if let Some(r) = &overrides.rules {
            flags.push(("rules", r.display().to_string()));
        }
        let layers = Layers::new(flags, &env, file_path)?;
        let tables = match &layers.file_source {
            Some(src) => layers::accounts(src)?,
            None => Vec::new(),
        };
        if !tables.is_empty() {
            return accounts::resolve(&layers, tables);
        }
        Config::from_layers(&layers, |api| match &layers.file_source {
            Some(file) => upstreams::read(file, api),
            None => Ok(Forwarding::default()),
        })
    }

    /// The configuration the layers give (one account's, or the only one), with the
    /// upstreams `forwarding` reads (given whether the API is configured).
    fn from_layers(
        layers: &Layers<'_>,
        forwarding: impl FnOnce(bool) -> Result<Forwarding, ConfigError>,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| layers.get(name);
        let required = |name: &str| get(name).expect("every key with a default has a value");

        let listen = required("listen").parse(
            |_: &SocketAddr| true,
            "an address and port such as 127.0.0.1:8080 or 0.0.0.0:80",
        )?;
        let path_value = required("path");
        let path = path_value.text.clone();
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            return Err(path_value.invalid(
                "the URL path of the server URL, starting with `/` (for example /wechat)",
            ));
        }
        let rules_value = required("rules");
        let rules = match (&rules_value.source, layers.file_dir()) {
            (Source::File(_) | Source::Default, Some(dir)) => dir.join(&rules_value.text),
            _ => PathBuf::from(&rules_value.text),
        };

        let token = match get("token") {
            None => None,
            Some(t) if t.text.trim().is_empty() => {
                return Err(t.invalid("the console's Token, not blank"));
            }
            Some(t) => Some(Secret(t.text)),
        };
        let app_id = get("app_id").filter(|a| !a.text.trim().is_empty());
        let current = get("encoding_aes_key");
        let previous = get("previous_encoding_aes_key");
        let keys = match (current, previous, &app_id) {
            (None, None, _) => None,
            (None, Some(p), _) => {
                return Err(conflict(
                    &p,
                    "a previous key needs the current one: set encoding_aes_key (REPLYD_AES_KEY) too",
                ));
            }
            (Some(c), _, None) => {
                return Err(conflict(
                    &c,
                    "encrypted messages carry the AppID: set app_id (REPLYD_APP_ID) to the account's AppID (wx…)",
                ));
            }
            (Some(current), previous, Some(app_id)) => Some(Keys {
                current: cipher(&current, &app_id.text)?,
                previous: previous.map(|p| cipher(&p, &app_id.text)).transpose()?,
            }),
        };
        let require_encryption_value = required("require_encryption");
        let require_encryption = require_encryption_value.boolean()?;
        if require_encryption && keys.is_none() {
            return Err(conflict(
                &require_encryption_value,
                "safe mode needs encoding_aes_key and app_id",
            ));
        }
        let mask_openids = required("mask_openids").boolean()?;
        let admin_listen = match get("admin_listen") {
            None => None,
            Some(v) => {
                let addr: SocketAddr =
                    v.parse(|_| true, "an address and port such as 127.0.0.1:9090")?;
                if addr == listen && addr.port() != 0 {
                    return Err(conflict(
                        &v,
                        "the admin listener needs an address of its own, not the public one",
                    ));
                }
                Some(addr)
            }
        };

        let secs = |name: &str, range: std::ops::RangeInclusive<u64>, expected: &str| {
            required(name)
                .parse(|n| range.contains(n), expected)
                .map(Duration::from_secs)
        };
        let max_body_bytes =
            required("max_body_bytes").parse(|&n| n >= 1024, "a number of bytes, at least 1024")?;
        let reload_settle = required("reload_settle_ms")
            .parse(
                |n| (10..=600_000).contains(n),
                "milliseconds between 10 and 600000",
            )
            .map(Duration::from_millis)?;
        let dedup_window = secs(
            "dedup_window_secs",
            60..=86_400,
            "seconds between 60 (WeChat retries for 15) and 86400",
        )?;
        let dedup_capacity = required("dedup_capacity").parse(
            |n| (1..=10_000_000).contains(n),
            "a number of messages between 1 and 10000000",
        )?;
        let shutdown_timeout = secs(
            "shutdown_timeout_secs",
            0..=3600,
            "seconds between 0 and 3600",
        )?;
        let header_timeout = secs("header_timeout_secs", 1..=300, "seconds between 1 and 300")?;
        let body_timeout = secs("body_timeout_secs", 1..=300, "seconds between 1 and 300")?;
        let send_timeout = secs("send_timeout_secs", 1..=300, "seconds between 1 and 300")?;
        let max_connections = required("max_connections").parse(
            |n| (1..=1_000_000).contains(n),
            "a number of connections between 1 and 1000000",
        )?;
        let max_clock_skew = get("max_clock_skew_secs")
            .map(|v| {
                v.parse(
                    |&n: &u64| n >= 1,
                    "seconds, at least 1 (WeChat's clock and yours differ by a few)",
                )
                .map(Duration::from_secs)
            })
            .transpose()?;

        let api = match get("app_secret").filter(|s| !s.text.trim().is_empty()) {
            None => None,
            Some(secret) => {
                let Some(app_id) = &app_id else {
                    return Err(conflict(
                        &secret,
                        "WeChat's API needs the AppID too: set app_id (REPLYD_APP_ID) to the account's AppID (wx…)",
                    ));
                };
                let base_value = required("api_base");
                let base = base_value.text.trim().trim_end_matches('/').to_owned();
                let uri_ok = base
                    .parse::<hyper::Uri>()
                    .ok()
                    .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
                    .is_some_and(|u| {
                        u.host().is_some_and(|h| !h.is_empty()) && u.query().is_none()
                    });
                if !uri_ok {
                    return Err(base_value
                        .invalid("an http:// or https:// URL such as https://api.weixin.qq.com"));
                }
                let online_refresh = secs(
                    "online_refresh_secs",
                    5..=3600,
                    "seconds between 5 and 3600",
                )?;
                Some(ApiConfig {
                    app_id: app_id.text.trim().to_owned(),
                    app_secret: Secret(secret.text.trim().to_owned()),
                    base,
                    online_refresh,
                })
            }
        };
        let redis_url = match get("redis_url") {
            None => None,
            Some(v) => {
                let url = v.text.trim();
                redis::Client::open(url)
                    .ok()
                    .filter(|_| url.starts_with("redis://") || url.starts_with("redis+unix://"))
                    .ok_or_else(|| {
                        v.invalid(
                            "a Redis URL such as redis://127.0.0.1:6379/0 or redis://:password@redis:6379/0 \
                             (redis+unix:///path/to/socket for a socket; rediss:// is not supported)",
                        )
                    })?;
                Some(Secret(v.text.trim().to_owned()))
            }
        };

        let forwarding = forwarding(api.is_some())?;

        Ok(Config {
            api,
            redis_url,
            forwarding,
            listen,
            path,
            rules,
            token,
            keys,
            require_encryption,
            max_body_bytes,
            reload_settle,
            dedup_window,
            dedup_capacity,
            admin_listen,
            mask_openids,
            shutdown_timeout,
            header_timeout,
            body_timeout,
            send_timeout,
            max_connections,
            max_clock_skew,
            file: layers.file_path.clone(),
            account: None,
            accounts: Vec::new(),
        })
    }

    /// What the rules may rely on: the upstreams they may name, and whether WeChat's API is
    /// configured.
    pub fn declared(&self) -> crate::ruleset::Declared {
        crate::ruleset::Declared {
            upstreams: self.forwarding.names(),
            api: self.api.is_some(),
        }
    }

    /// The token, which `serve` and `send` need.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingToken`] when none is configured.
    pub fn token(&self) -> Result<&Secret, ConfigError> {
        self.token.as_ref().ok_or(ConfigError::MissingToken)
    }
}

fn conflict(value: &Value, message: &str) -> ConfigError {
    ConfigError::Conflict {
        origin: value.source.to_string(),
        message: message.to_owned(),
    }
}

/// A cipher from a configured key, or an error that names the setting without echoing the key.
fn cipher(value: &Value, app_id: &str) -> Result<Cipher, ConfigError> {
    use crate::protocol::crypto::KeyError;
    Cipher::new(&value.text, app_id).map_err(|e| {
        value.invalid(match e {
            KeyError::Length(n) => {
                format!("the console's EncodingAESKey, 43 characters (this one has {n})")
            }
            KeyError::NotBase64 => {
                "the console's EncodingAESKey, 43 letters, digits, `+` and `/`".to_owned()
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replyd.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn resolve_file(path: &Path, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::resolve(
            &Overrides {
                config: Some(path.to_owned()),
                ..Overrides::default()
            },
            env(vars),
        )
    }

    /// The error of resolving `text` as replyd.toml (with `vars`), with the file's directory
    /// written as `DIR`.
    fn error(text: &str, vars: &[(&str, &str)]) -> String {
        let (dir, path) = file(text);
        let err = resolve_file(&path, vars).unwrap_err().to_string();
        err.replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn defaults_need_nothing() {
        let (dir, path) = file("");
        let c = resolve_file(&path, &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.path, "/wechat");
        assert_eq!(c.max_body_bytes, 65536);
        assert_eq!(c.rules, dir.path().join("rules"), "rules/ beside the file");
        assert!(c.keys.is_none());
        assert!(!c.require_encryption);
        assert_eq!(c.dedup_window, Duration::from_secs(60));
        assert!(matches!(c.token(), Err(ConfigError::MissingToken)));
        assert!(c.token().unwrap_err().to_string().contains("REPLYD_TOKEN"));
        // Without a file, the rules directory is ./rules.
        let c = Config::resolve(
            &Overrides {
                config: Some(path),
                rules: None,
                listen: None,
            },
            env(&[]),
        )
        .unwrap();
        assert!(c.rules.ends_with("rules"));
    }

    #[test]
    fn every_default_in_the_table_resolves() {
        // Each key with a default resolves to it when nothing else is given: the table and
        // the parsing agree.
        let (_dir, path) = file("");
        assert!(resolve_file(&path, &[("REPLYD_TOKEN", "t")]).is_ok());
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let (dir, path) =
            file("listen = \"127.0.0.1:1\"\nrules = \"r\"\ntoken = \"file\"\npath = \"/wx\"\n");
        let resolve = |o: Overrides, e: &[(&str, &str)]| {
            Config::resolve(
                &Overrides {
                    config: Some(path.clone()),
                    ..o
                },
                env(e),
            )
            .unwrap()
        };

        let c = resolve(Overrides::default(), &[]);
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        assert_eq!(c.rules, dir.path().join("r"), "relative to the config file");
        assert_eq!(c.token().unwrap().expose(), "file");
        assert_eq!(c.path, "/wx");

        let c = resolve(
            Overrides::default(),
            &[
                ("REPLYD_LISTEN", "127.0.0.1:2"),
                ("REPLYD_RULES", "e"),
                ("REPLYD_TOKEN", "env"),
            ],
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:2");
        assert_eq!(c.rules, PathBuf::from("e"));
        assert_eq!(c.token().unwrap().expose(), "env");

        let c = resolve(
            Overrides {
                config: None,
                listen: Some("127.0.0.1:3".into()),
                rules: Some("f".into()),
            },
            &[("REPLYD_LISTEN", "127.0.0.1:2"), ("REPLYD_RULES", "e")],
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:3");
        assert_eq!(c.rules, PathBuf::from("f"));
    }

    /// (replyd.toml, environment, the error): each names where the value came from and what
    /// is allowed, never the value itself.
    #[test]
    fn errors_say_where_and_what_is_allowed() {
        type Vars = &'static [(&'static str, &'static str)];
        let cases: &[(&str, Vars, &str)] = &[
            (
                "token = \"t\"\n\nlisten_on = \"x\"\n",
                &[],
                "DIR/replyd.toml:3:1: unknown key `listen_on`; did you mean `listen`?",
            ),
            (
                "bogus = 1\n",
                &[],
                "DIR/replyd.toml:1:1: unknown key `bogus`; the keys are listed in README.md, Configuration",
            ),
            (
                "token = \"t\"\nlisten = \"8080\"\n",
                &[],
                "DIR/replyd.toml:2:10: `listen` is not valid: expected an address and port such as 127.0.0.1:8080 or 0.0.0.0:80",
            ),
            (
                "max_body_bytes = 12\n",
                &[],
                "DIR/replyd.toml:1:18: `max_body_bytes` is not valid: expected a number of bytes, at least 1024",
            ),
            (
                "max_body_bytes = \"65536\"\n",
                &[],
                "DIR/replyd.toml:1:18: `max_body_bytes` is not valid: expected a whole number (without quotes)",
            ),
            (
                "mask_openids = \"yes\"\n",
                &[],
                "DIR/replyd.toml:1:16: `mask_openids` is not valid: expected true or false (without quotes)",
            ),
            (
                "",
                &[("REPLYD_DEDUP_WINDOW_SECS", "5")],
                "REPLYD_DEDUP_WINDOW_SECS: `dedup_window_secs` is not valid: expected seconds between 60 (WeChat retries for 15) and 86400",
            ),
            (
                "",
                &[("REPLYD_REQUIRE_ENCRYPTION", "maybe")],
                "REPLYD_REQUIRE_ENCRYPTION: `require_encryption` is not valid: expected true or false",
            ),
            (
                "token = \"   \"\n",
                &[],
                "DIR/replyd.toml:1:9: `token` is not valid: expected the console's Token, not blank",
            ),
            (
                "listen = ",
                &[],
                "DIR/replyd.toml:1:10: string values must be quoted, expected literal string",
            ),
            (
                "redis_url = \"127.0.0.1:6379\"\n",
                &[],
                "DIR/replyd.toml:1:13: `redis_url` is not valid: expected a Redis URL such as redis://127.0.0.1:6379/0 or redis://:password@redis:6379/0 (redis+unix:///path/to/socket for a socket; rediss:// is not supported)",
            ),
            (
                "",
                &[("REPLYD_REDIS_URL", "rediss://:hunter2@redis:6380/0")],
                "REPLYD_REDIS_URL: `redis_url` is not valid: expected a Redis URL such as redis://127.0.0.1:6379/0 or redis://:password@redis:6379/0 (redis+unix:///path/to/socket for a socket; rediss:// is not supported)",
            ),
        ];
        for (text, vars, expected) in cases {
            assert_eq!(error(text, vars), *expected, "for {text:?} {vars:?}");
        }
    }

    #[test]
    fn a_secret_in_the_wrong_place_is_not_echoed() {
        for (text, vars) in [
            ("max_clock_skew_secs = \"hunter2\"\n", vec![]),
            ("", vec![("REPLYD_MAX_CONNECTIONS", "hunter2")]),
            (
                "",
                vec![("REPLYD_AES_KEY", "hunter2"), ("REPLYD_APP_ID", "wx1")],
            ),
        ] {
            let err = error(text, &vars);
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn safe_mode_settings_are_checked_together() {
        let (_dir, path) = file("token = \"t\"\n");
        let resolve = |vars: &[(&str, &str)]| resolve_file(&path, vars);
        const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let c = resolve(&[
            ("REPLYD_AES_KEY", KEY),
            ("REPLYD_APP_ID", "wx1"),
            ("REPLYD_REQUIRE_ENCRYPTION", "true"),
        ])
        .unwrap();
        assert!(c.keys.as_ref().is_some_and(|k| k.previous.is_none()));
        assert!(c.require_encryption);
        let c = resolve(&[
            ("REPLYD_AES_KEY", KEY),
            ("REPLYD_PREVIOUS_AES_KEY", KEY),
            ("REPLYD_APP_ID", "wx1"),
        ])
        .unwrap();
        assert!(c.keys.is_some_and(|k| k.previous.is_some()));
        let needs = |vars: &[(&str, &str)], needle: &str| {
            let err = resolve(vars).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        };
        needs(
            &[("REPLYD_AES_KEY", KEY)],
            "REPLYD_AES_KEY: encrypted messages carry the AppID",
        );
        needs(
            &[("REPLYD_PREVIOUS_AES_KEY", KEY), ("REPLYD_APP_ID", "wx1")],
            "set encoding_aes_key",
        );
        needs(
            &[("REPLYD_REQUIRE_ENCRYPTION", "true")],
            "safe mode needs encoding_aes_key",
        );
    }

    #[test]
    fn the_production_example_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/replyd.production.toml");
        let c = resolve_file(&path, &[("REPLYD_TOKEN", "t")]).unwrap();
        assert!(c.mask_openids && c.admin_listen.is_some());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
    }
}
