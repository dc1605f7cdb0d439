//! The daemon's configuration: `replyd.toml`, environment variables and flags, resolved into
//! one [`Config`].
//!
//! Precedence, highest first: flags, environment, file, defaults (SPEC § Config). With no
//! `--config`, `replyd.toml` in the working directory is read if it exists. A relative `rules`
//! path in a file is taken relative to that file's directory, so `--config /etc/replyd/replyd.toml`
//! with `rules = "rules"` means `/etc/replyd/rules`; from a flag or the environment it is relative
//! to the working directory, like any path on a command line.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::diag::SourceFile;
use crate::protocol::crypto::{Cipher, Keys};

/// Default address: loopback only, so that a fresh checkout exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default URL path of the webhook.
pub const DEFAULT_PATH: &str = "/wechat";
/// Default rules directory.
pub const DEFAULT_RULES: &str = "rules";
/// Default cap on a request body: WeChat's messages are a few KiB (PROTOCOL.md §6).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default time a change to the rules must stay quiet before it is loaded.
pub const DEFAULT_RELOAD_SETTLE_MS: u64 = 500;
/// Default time a retried message gets its first answer: WeChat retries for 15 seconds.
pub const DEFAULT_DEDUP_WINDOW_SECS: u64 = 60;
/// Default number of answers remembered for retries.
pub const DEFAULT_DEDUP_CAPACITY: usize = 20_000;
/// Default time requests in flight get to finish at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// Default time a client has to send a request's head: WeChat sends it at once.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 5;
/// Default time a client has to send a request's body.
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 5;
/// Default cap on connections served at once, per listener.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "replyd.toml";

/// The resolved configuration of `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL path of the webhook, as configured in the WeChat console (starts with `/`).
    pub path: String,
    /// The rules directory.
    pub rules: PathBuf,
    /// The console's Token, which signs every request.
    pub token: Secret,
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
    /// At most this many connections at once, per listener.
    pub max_connections: usize,
    /// Refuse requests whose signed timestamp is further than this from now (replays).
    pub max_clock_skew: Option<Duration>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
}

/// A secret string (the token, the AES key) that never shows in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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

/// Why the configuration is unusable. Each message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid (syntax, unknown key, wrong type).
    #[error("{position}: {message}")]
    Invalid {
        /// `file:line:col`.
        position: String,
        /// What is wrong.
        message: String,
    },
    /// No token anywhere.
    #[error(
        "no token is configured: set `token = \"…\"` in replyd.toml or the REPLYD_TOKEN environment \
         variable to the Token of the WeChat console (设置与开发 → 基本配置 → 服务器配置)"
    )]
    MissingToken,
    /// A value that does not parse.
    #[error("{key} = {value:?} is not valid: {reason}")]
    Value {
        /// Which setting, and where it came from.
        key: String,
        /// What it held.
        value: String,
        /// What it should be.
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    path: Option<String>,
    rules: Option<PathBuf>,
    token: Option<String>,
    app_id: Option<String>,
    encoding_aes_key: Option<String>,
    previous_encoding_aes_key: Option<String>,
    require_encryption: Option<bool>,
    max_body_bytes: Option<usize>,
    reload_settle_ms: Option<u64>,
    dedup_window_secs: Option<u64>,
    dedup_capacity: Option<usize>,
    admin_listen: Option<String>,
    mask_openids: Option<bool>,
    shutdown_timeout_secs: Option<u64>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_clock_skew_secs: Option<u64>,
}

impl Config {
    /// Resolves the configuration from the flags, an environment lookup and the config file.
    ///
    /// # Errors
    ///
    /// An unreadable or invalid config file, a missing token, or a value that does not parse.
    pub fn resolve(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file_path = match &overrides.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let file = match &file_path {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let base = file_path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        let env = |k: &str| env(k).filter(|v| !v.is_empty());

        let (listen_key, listen) = pick(
            [
                ("--listen", overrides.listen.clone()),
                ("REPLYD_LISTEN", env("REPLYD_LISTEN")),
                ("listen", file.listen),
            ],
            DEFAULT_LISTEN,
        );
        let listen = listen.parse().map_err(|_| ConfigError::Value {
            key: listen_key.into(),
            value: listen.clone(),
            reason: "expected an address and port such as 127.0.0.1:8080 or 0.0.0.0:80".into(),
        })?;

        let (path_key, path) = pick(
            [("REPLYD_PATH", env("REPLYD_PATH")), ("path", file.path)],
            DEFAULT_PATH,
        );
        if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
            return Err(ConfigError::Value {
                key: path_key.into(),
                value: path,
                reason: "expected the URL path of the server URL, starting with `/` (for example /wechat)".into(),
            });
        }

        let rules = match (&overrides.rules, env("REPLYD_RULES"), file.rules) {
            (Some(flag), _, _) => flag.clone(),
            (None, Some(e), _) => PathBuf::from(e),
            (None, None, Some(f)) => base.join(f),
            (None, None, None) => PathBuf::from(DEFAULT_RULES),
        };

        let token = env("REPLYD_TOKEN")
            .or(file.token)
            .filter(|t| !t.is_empty())
            .ok_or(ConfigError::MissingToken)?;

        let app_id = env("REPLYD_APP_ID")
            .or(file.app_id)
            .filter(|a| !a.is_empty());
        let aes_key =
            |env_key: &'static str, file_key: &'static str, file_value: Option<String>| {
                env(env_key)
                    .map(|k| (env_key, k))
                    .or(file_value.map(|k| (file_key, k)))
            };
        let current = aes_key("REPLYD_AES_KEY", "encoding_aes_key", file.encoding_aes_key);
        let previous = aes_key(
            "REPLYD_PREVIOUS_AES_KEY",
            "previous_encoding_aes_key",
            file.previous_encoding_aes_key,
        );
        let keys = match (current, previous, &app_id) {
            (None, None, _) => None,
            (None, Some((key, _)), _) => {
                return Err(ConfigError::Value {
                    key: key.into(),
                    value: "…".into(),
                    reason: "a previous key needs the current one: set encoding_aes_key (REPLYD_AES_KEY) too".into(),
                });
            }
            (Some((key, _)), _, None) => {
                return Err(ConfigError::Value {
                    key: key.into(),
                    value: "…".into(),
                    reason: "encrypted messages carry the AppID: set app_id (REPLYD_APP_ID) to the account's AppID (wx…)".into(),
                });
            }
            (Some(current), previous, Some(app_id)) => Some(Keys {
                current: cipher(current, app_id)?,
                previous: previous.map(|p| cipher(p, app_id)).transpose()?,
            }),
        };
        let require_encryption = flag(
            "REPLYD_REQUIRE_ENCRYPTION",
            env("REPLYD_REQUIRE_ENCRYPTION"),
            file.require_encryption,
        )?;
        let mask_openids = flag(
            "REPLYD_MASK_OPENIDS",
            env("REPLYD_MASK_OPENIDS"),
            file.mask_openids,
        )?;
        let admin_listen: Option<SocketAddr> = match env("REPLYD_ADMIN_LISTEN")
            .map(|v| ("REPLYD_ADMIN_LISTEN", v))
            .or(file.admin_listen.map(|v| ("admin_listen", v)))
        {
            None => None,
            Some((key, value)) => Some(value.parse().map_err(|_| ConfigError::Value {
                key: key.into(),
                value: value.clone(),
                reason: "expected an address and port such as 127.0.0.1:9090".into(),
            })?),
        };
        if admin_listen.is_some_and(|a: SocketAddr| a == listen && a.port() != 0) {
            return Err(ConfigError::Value {
                key: "admin_listen".into(),
                value: listen.to_string(),
                reason: "the admin listener needs an address of its own, not the public one".into(),
            });
        }
        if require_encryption && keys.is_none() {
            return Err(ConfigError::Value {
                key: "require_encryption".into(),
                value: "true".into(),
                reason: "safe mode needs encoding_aes_key and app_id".into(),
            });
        }

        let max_body_bytes = number(
            [
                ("REPLYD_MAX_BODY_BYTES", env("REPLYD_MAX_BODY_BYTES")),
                ("max_body_bytes", file.max_body_bytes.map(|n| n.to_string())),
            ],
            DEFAULT_MAX_BODY_BYTES,
            1024..=usize::MAX,
            "a number of bytes, at least 1024",
        )?;
        let reload_settle = Duration::from_millis(number(
            [
                ("REPLYD_RELOAD_SETTLE_MS", env("REPLYD_RELOAD_SETTLE_MS")),
                (
                    "reload_settle_ms",
                    file.reload_settle_ms.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_RELOAD_SETTLE_MS,
            10..=600_000,
            "milliseconds between 10 and 600000",
        )?);
        let dedup_window = Duration::from_secs(number(
            [
                ("REPLYD_DEDUP_WINDOW_SECS", env("REPLYD_DEDUP_WINDOW_SECS")),
                (
                    "dedup_window_secs",
                    file.dedup_window_secs.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_DEDUP_WINDOW_SECS,
            60..=86_400,
            "seconds between 60 (WeChat retries for 15) and 86400",
        )?);
        let dedup_capacity = number(
            [
                ("REPLYD_DEDUP_CAPACITY", env("REPLYD_DEDUP_CAPACITY")),
                ("dedup_capacity", file.dedup_capacity.map(|n| n.to_string())),
            ],
            DEFAULT_DEDUP_CAPACITY,
            1..=10_000_000,
            "a number of messages between 1 and 10000000",
        )?;

        let shutdown_timeout = Duration::from_secs(number(
            [
                (
                    "REPLYD_SHUTDOWN_TIMEOUT_SECS",
                    env("REPLYD_SHUTDOWN_TIMEOUT_SECS"),
                ),
                (
                    "shutdown_timeout_secs",
                    file.shutdown_timeout_secs.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            0..=3600,
            "seconds between 0 and 3600",
        )?);

        let header_timeout = Duration::from_secs(number(
            [
                (
                    "REPLYD_HEADER_TIMEOUT_SECS",
                    env("REPLYD_HEADER_TIMEOUT_SECS"),
                ),
                (
                    "header_timeout_secs",
                    file.header_timeout_secs.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_HEADER_TIMEOUT_SECS,
            1..=300,
            "seconds between 1 and 300",
        )?);
        let body_timeout = Duration::from_secs(number(
            [
                ("REPLYD_BODY_TIMEOUT_SECS", env("REPLYD_BODY_TIMEOUT_SECS")),
                (
                    "body_timeout_secs",
                    file.body_timeout_secs.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_BODY_TIMEOUT_SECS,
            1..=300,
            "seconds between 1 and 300",
        )?);
        let max_connections = number(
            [
                ("REPLYD_MAX_CONNECTIONS", env("REPLYD_MAX_CONNECTIONS")),
                (
                    "max_connections",
                    file.max_connections.map(|n| n.to_string()),
                ),
            ],
            DEFAULT_MAX_CONNECTIONS,
            1..=1_000_000,
            "a number of connections between 1 and 1000000",
        )?;
        let max_clock_skew = match env("REPLYD_MAX_CLOCK_SKEW_SECS")
            .map(|v| ("REPLYD_MAX_CLOCK_SKEW_SECS", v))
            .or(file.max_clock_skew_secs.map(|n| ("max_clock_skew_secs", n.to_string())))
        {
            None => None,
            Some((key, value)) => Some(Duration::from_secs(
                value.parse().ok().filter(|&n: &u64| n >= 1).ok_or_else(|| ConfigError::Value {
                    key: key.into(),
                    value: value.clone(),
                    reason: "expected seconds, at least 1 (WeChat's clock and yours differ by a few)".into(),
                })?,
            )),
        };

        Ok(Config {
            listen,
            path,
            rules,
            token: Secret(token),
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
            max_connections,
            max_clock_skew,
            file: file_path,
        })
    }
}

/// A boolean setting from the environment (true/false/1/0/yes/no) or the file.
fn flag(
    env_key: &'static str,
    env_value: Option<String>,
    file_value: Option<bool>,
) -> Result<bool, ConfigError> {
    match env_value {
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            _ => Err(ConfigError::Value {
                key: env_key.into(),
                value: v,
                reason: "expected true or false".into(),
            }),
        },
        None => Ok(file_value.unwrap_or(false)),
    }
}

/// A cipher from a configured key, or an error that names the setting without echoing the key.
fn cipher((key, value): (&'static str, String), app_id: &str) -> Result<Cipher, ConfigError> {
    Cipher::new(&value, app_id).map_err(|e| ConfigError::Value {
        key: key.into(),
        value: format!("{}…", value.chars().take(4).collect::<String>()),
        reason: format!("{e}; this one has {} characters", value.chars().count()),
    })
}

/// The first numeric value present, checked against a range; else the default.
fn number<T>(
    sources: [(&'static str, Option<String>); 2],
    default: T,
    range: std::ops::RangeInclusive<T>,
    expected: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + ToString,
{
    let (key, value) = pick(sources, &default.to_string());
    value
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError::Value {
            key: key.into(),
            value: value.clone(),
            reason: format!("expected {expected}"),
        })
}

/// The first value present, with the name of where it came from; else the default.
fn pick<const N: usize>(
    sources: [(&'static str, Option<String>); N],
    default: &str,
) -> (&'static str, String) {
    sources
        .into_iter()
        .find_map(|(k, v)| v.map(|v| (k, v)))
        .unwrap_or(("default", default.to_owned()))
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| {
        let file = SourceFile::new(path, text.as_str());
        let (line, col) = file.line_col(e.span().map_or(0, |s| s.start));
        ConfigError::Invalid {
            position: format!("{}:{line}:{col}", path.display()),
            message: e.message().trim().to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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

    #[test]
    fn defaults_need_only_a_token() {
        // The working directory of unit tests is the crate root, which ships a replyd.toml;
        // resolve against an explicit empty file to see the defaults.
        let (_dir, path) = file("");
        let c = Config::resolve(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env(&[("REPLYD_TOKEN", "t")]),
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.path, DEFAULT_PATH);
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(c.token.expose(), "t");
        assert!(c.keys.is_none());
        assert!(!c.require_encryption);
        assert_eq!(
            c.dedup_window,
            Duration::from_secs(DEFAULT_DEDUP_WINDOW_SECS)
        );
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
        assert_eq!(c.token.expose(), "file");
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
        assert_eq!(c.token.expose(), "env");

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

    #[test]
    fn errors_say_what_and_where() {
        let (_dir, path) = file("");
        let err = Config::resolve(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env(&[]),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingToken));
        assert!(err.to_string().contains("REPLYD_TOKEN"), "{err}");

        let (_dir, path) = file("token = \"t\"\n\nlisten_on = \"x\"\n");
        let err = Config::resolve(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("replyd.toml:3:1: unknown field `listen_on`"),
            "{err}"
        );

        let (_dir, path) = file("token = \"t\"\nlisten = \"8080\"\n");
        let err = Config::resolve(
            &Overrides {
                config: Some(path.clone()),
                ..Overrides::default()
            },
            env(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("listen = \"8080\" is not valid"), "{err}");

        let (_dir, path) = file("token = \"t\"\n");
        let err = Config::resolve(
            &Overrides {
                config: Some(path),
                ..Overrides::default()
            },
            env(&[("REPLYD_AES_KEY", "shortkey"), ("REPLYD_APP_ID", "wx1")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("REPLYD_AES_KEY") && !err.contains("shortkey"),
            "the key must not be echoed: {err}"
        );
    }

    #[test]
    fn safe_mode_settings_are_checked_together() {
        let (_dir, path) = file("token = \"t\"\n");
        let resolve = |vars: &[(&str, &str)]| {
            Config::resolve(
                &Overrides {
                    config: Some(path.clone()),
                    ..Overrides::default()
                },
                env(vars),
            )
        };
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
        needs(&[("REPLYD_AES_KEY", KEY)], "set app_id");
        needs(
            &[("REPLYD_PREVIOUS_AES_KEY", KEY), ("REPLYD_APP_ID", "wx1")],
            "set encoding_aes_key",
        );
        needs(
            &[("REPLYD_REQUIRE_ENCRYPTION", "true")],
            "safe mode needs encoding_aes_key",
        );
        needs(
            &[("REPLYD_REQUIRE_ENCRYPTION", "maybe")],
            "expected true or false",
        );
        needs(&[("REPLYD_DEDUP_WINDOW_SECS", "5")], "seconds between 60");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".to_owned())), "Secret(…)");
    }
}
