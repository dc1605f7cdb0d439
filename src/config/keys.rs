//! Every setting, once: its key in `replyd.toml`, its environment variable, its flag, its
//! default and what it means. The README's configuration table is this table (a test compares
//! them), and so is `examples/replyd.production.toml`.

/// What a setting's value is, as written in `replyd.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A TOML string.
    Text,
    /// A TOML integer.
    Integer,
    /// A TOML boolean.
    Boolean,
}

/// One setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key in `replyd.toml`.
    pub name: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The command-line flag of `serve`, if it has one.
    pub flag: Option<&'static str>,
    /// The default as written in the README, or `None` (unset, or how it is unset).
    pub default: Option<&'static str>,
    /// The TOML type.
    pub kind: Kind,
    /// What it means (the README's wording).
    pub meaning: &'static str,
}

const fn key(
    name: &'static str,
    env: &'static str,
    flag: Option<&'static str>,
    default: Option<&'static str>,
    kind: Kind,
    meaning: &'static str,
) -> Key {
    Key {
        name,
        env,
        flag,
        default,
        kind,
        meaning,
    }
}

use Kind::{Boolean, Integer, Text};

/// Precedence, for every key alike, highest first: the flag, the environment, the file, the
/// default (`layers.rs` applies it, once).
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    key("listen", "REPLYD_LISTEN", Some("--listen"), Some("127.0.0.1:8080"), Text,
        "address and port to listen on"),
    key("path", "REPLYD_PATH", None, Some("/wechat"), Text,
        "URL path of the server URL configured in the console"),
    key("rules", "REPLYD_RULES", Some("--rules"), Some("rules"), Text,
        "the rules directory, read recursively; in a file, relative to the file's directory (`rules/` beside the file when the key is absent)"),
    key("token", "REPLYD_TOKEN", None, None, Text,
        "(required by `serve` and `send`) the console's Token; signs every request"),
    key("app_id", "REPLYD_APP_ID", None, None, Text,
        "the account's AppID (`wx…`), for encrypted messages"),
    key("encoding_aes_key", "REPLYD_AES_KEY", None, None, Text,
        "the console's EncodingAESKey (43 characters): enables safe and compatible mode"),
    key("previous_encoding_aes_key", "REPLYD_PREVIOUS_AES_KEY", None, None, Text,
        "the key before a key change, still accepted"),
    key("require_encryption", "REPLYD_REQUIRE_ENCRYPTION", None, Some("false"), Boolean,
        "refuse plaintext messages (403)"),
    key("max_body_bytes", "REPLYD_MAX_BODY_BYTES", None, Some("65536"), Integer,
        "larger request bodies get 413 (at least 1024)"),
    key("reload_settle_ms", "REPLYD_RELOAD_SETTLE_MS", None, Some("500"), Integer,
        "how long the rules directory must be quiet after a change before it is reloaded (10–600000)"),
    key("dedup_window_secs", "REPLYD_DEDUP_WINDOW_SECS", None, Some("60"), Integer,
        "how long a retried message gets its first answer (60–86400)"),
    key("dedup_capacity", "REPLYD_DEDUP_CAPACITY", None, Some("20000"), Integer,
        "at most this many answers are remembered for retries (1–10000000)"),
    key("admin_listen", "REPLYD_ADMIN_LISTEN", None, None, Text,
        "a separate address for `/healthz` and `/metrics`, which then leave the public port"),
    key("mask_openids", "REPLYD_MASK_OPENIDS", None, Some("false"), Boolean,
        "log a keyed hash of each follower's OpenID instead of the OpenID"),
    key("shutdown_timeout_secs", "REPLYD_SHUTDOWN_TIMEOUT_SECS", None, Some("10"), Integer,
        "after SIGTERM/SIGINT, requests in flight, then queued event copies and `reply.all` follow-ups (every account's at once), get this long in all (0–3600)"),
    key("header_timeout_secs", "REPLYD_HEADER_TIMEOUT_SECS", None, Some("5"), Integer,
        "a client must send a request's head within this, and idle connections close after it (1–300)"),
    key("body_timeout_secs", "REPLYD_BODY_TIMEOUT_SECS", None, Some("5"), Integer,
        "a client must send a request's body within this, 408 otherwise (1–300)"),
    key("send_timeout_secs", "REPLYD_SEND_TIMEOUT_SECS", None, Some("5"), Integer,
        "a client must take each part of an answer within this, or its connection is closed (1–300)"),
    key("max_connections", "REPLYD_MAX_CONNECTIONS", None, Some("1024"), Integer,
        "connections served at once, per listener; more wait in the kernel's queue (1–1000000)"),
    key("app_secret", "REPLYD_APP_SECRET", None, None, Text,
        "the account's AppSecret: enables WeChat's API (`reply.all`, offline hand-overs, `replyd import --fetch`); needs `app_id`"),
    key("api_base", "REPLYD_API_BASE", None, Some("https://api.weixin.qq.com"), Text,
        "where WeChat's API is reached (a proxy, or a test server)"),
    key("online_refresh_secs", "REPLYD_ONLINE_REFRESH_SECS", None, Some("30"), Integer,
        "with `app_secret`, how often the list of customer-service agents online is fetched (5–3600)"),
    key("redis_url", "REPLYD_REDIS_URL", None, None, Text,
        "replicas share the retry cache and cooldowns through this Redis (`redis://[:password@]host:port/db`, Redis 7 or later); without it each daemon keeps them to itself"),
    key("max_clock_skew_secs", "REPLYD_MAX_CLOCK_SKEW_SECS", None, None, Integer,
        "refuse requests whose signed timestamp is further than this from now (403); off when unset"),
];

/// The settings of one account: with `[[account]]` tables they are written in each account,
/// never at the top (the others are the daemon's, written at the top).
pub const ACCOUNT_KEYS: [&str; 7] = [
    "path",
    "token",
    "app_id",
    "encoding_aes_key",
    "previous_encoding_aes_key",
    "app_secret",
    "rules",
];

/// The setting of this name.
pub fn by_name(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The README's configuration table.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| key | flag | environment | default | meaning |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let code = |s: Option<&str>| s.map(|s| format!("`{s}`")).unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            k.name,
            code(k.flag),
            k.env,
            code(k.default),
            k.meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(name: &str) -> String {
        let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn names_and_variables_are_unique() {
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                assert!(a.name != b.name && a.env != b.env, "{a:?} {b:?}");
            }
            assert!(a.env.starts_with("REPLYD_"), "{a:?}");
        }
    }

    #[test]
    fn the_readme_table_is_this_table() {
        let readme = repo_file("README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's configuration table differs from config::keys; it should read:\n\n{table}"
        );
    }

    /// The production example names every key once: set to a production choice, or commented
    /// out with its default.
    #[test]
    fn the_production_example_names_every_key_with_its_default() {
        let example = repo_file("examples/replyd.production.toml");
        for k in KEYS {
            let lines: Vec<&str> = example
                .lines()
                .filter(|l| {
                    let l = l.trim_start_matches(['#', ' ']);
                    l.split_once('=')
                        .is_some_and(|(name, _)| name.trim() == k.name)
                })
                .collect();
            assert_eq!(lines.len(), 1, "{}: {lines:?}", k.name);
            let line = lines[0];
            if let (Some(default), true) = (k.default, line.starts_with('#')) {
                let value = line
                    .trim_start_matches(['#', ' '])
                    .split_once('=')
                    .map(|(_, v)| v.split('#').next().unwrap_or("").trim())
                    .unwrap_or("");
                assert_eq!(
                    value.trim_matches('"'),
                    default,
                    "{}: a commented-out key shows its default",
                    k.name
                );
            }
        }
    }
}
