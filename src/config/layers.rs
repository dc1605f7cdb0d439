//! The layers a setting can come from, and the one place their precedence is applied: flags,
//! then the environment, then `replyd.toml`, then the default. Every value remembers where it
//! came from, so an error can point there (`replyd.toml:7:18`, `REPLYD_…`, `--listen`).

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::ConfigError;
use super::keys::{ACCOUNT_KEYS, KEYS, Key, Kind, by_name};
use crate::diag::SourceFile;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The config file, at `file:line:col`.
    File(String),
    /// The default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => f.write_str(flag),
            Source::Env(var) => f.write_str(var),
            Source::File(position) => f.write_str(position),
            Source::Default => f.write_str("the default"),
        }
    }
}

/// A setting's value as written, and where.
#[derive(Debug, Clone)]
pub struct Value {
    /// The setting.
    pub key: &'static Key,
    /// The text (a TOML integer or boolean as its digits or `true`/`false`).
    pub text: String,
    /// Where it came from.
    pub source: Source,
}

impl Value {
    /// An error saying what the setting expects. The value itself is not repeated: it may be
    /// a secret pasted into the wrong place, and the source says where to look.
    pub fn invalid(&self, expected: impl Into<String>) -> ConfigError {
        ConfigError::Value {
            origin: self.source.to_string(),
            key: self.key.name,
            expected: expected.into(),
        }
    }

    /// The value parsed as `T` and accepted by `ok`, or an error saying what was expected.
    pub fn parse<T: std::str::FromStr>(
        &self,
        ok: impl Fn(&T) -> bool,
        expected: &str,
    ) -> Result<T, ConfigError> {
        self.text
            .trim()
            .parse()
            .ok()
            .filter(ok)
            .ok_or_else(|| self.invalid(expected))
    }

    /// `true`/`false` (and, from the environment, `1`/`0`, `yes`/`no`).
    pub fn boolean(&self) -> Result<bool, ConfigError> {
        match self.text.trim() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" => Ok(false),
            _ => Err(self.invalid("true or false")),
        }
    }
}

/// Every layer, ready to be asked for a setting.
pub struct Layers<'a> {
    flags: Vec<(&'static str, String)>,
    env: &'a dyn Fn(&str) -> Option<String>,
    file: Vec<Value>,
    /// The config file read, if any.
    pub file_path: Option<PathBuf>,
    /// Its text, for the tables read elsewhere (`upstreams.rs`).
    pub file_source: Option<SourceFile>,
    /// For an `[[account]]`: its own values of the account's keys, which replace every other
    /// layer for those keys.
    account: Option<Vec<Value>>,
}

impl<'a> Layers<'a> {
    /// The layers: `flags` by key name, the environment, and the config file (its errors and
    /// unknown keys are reported here).
    pub fn new(
        flags: Vec<(&'static str, String)>,
        env: &'a dyn Fn(&str) -> Option<String>,
        file_path: Option<PathBuf>,
    ) -> Result<Layers<'a>, ConfigError> {
        let (file, file_source) = match &file_path {
            Some(p) => {
                let (values, source) = read_file(p)?;
                (values, Some(source))
            }
            None => (Vec::new(), None),
        };
        Ok(Layers {
            flags,
            env,
            file,
            file_path,
            file_source,
            account: None,
        })
    }

    /// The layers of one `[[account]]`: its `values` for the account's keys, these layers for
    /// the daemon's.
    pub fn for_account(&self, values: Vec<Value>) -> Layers<'a> {
        Layers {
            flags: self.flags.clone(),
            env: self.env,
            file: self.file.clone(),
            file_path: self.file_path.clone(),
            file_source: self.file_source.clone(),
            account: Some(values),
        }
    }

    /// Where an account's key is set at the top (the file or the environment), if it is.
    pub fn top_level(&self, name: &str) -> Option<Value> {
        let key = by_name(name)?;
        let env = (self.env)(key.env)
            .filter(|v| !v.is_empty())
            .map(|text| Value {
                key,
                text,
                source: Source::Env(key.env),
            });
        env.or_else(|| self.file.iter().find(|v| v.key.name == name).cloned())
    }

    /// The value of a setting from the highest layer that has it, or its default. This is the
    /// precedence, for every key: flag, environment, file, default. An empty environment
    /// variable counts as unset.
    pub fn get(&self, name: &str) -> Option<Value> {
        let key = by_name(name)?;
        if let Some(values) = &self.account
            && ACCOUNT_KEYS.contains(&name)
        {
            let default = key.default.map(|d| Value {
                key,
                text: d.to_owned(),
                source: Source::Default,
            });
            return values
                .iter()
                .find(|v| v.key.name == name)
                .cloned()
                .or(default);
        }
        let flag = self
            .flags
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Value {
                key,
                text: v.clone(),
                source: Source::Flag(key.flag.unwrap_or(key.name)),
            });
        let env = || {
            (self.env)(key.env)
                .filter(|v| !v.is_empty())
                .map(|text| Value {
                    key,
                    text,
                    source: Source::Env(key.env),
                })
        };
        let file = || self.file.iter().find(|v| v.key.name == name).cloned();
        let default = || {
            key.default.map(|d| Value {
                key,
                text: d.to_owned(),
                source: Source::Default,
            })
        };
        flag.or_else(env).or_else(file).or_else(default)
    }

    /// The directory relative paths in the file are taken from.
    pub fn file_dir(&self) -> Option<&Path> {
        self.file_path.as_deref().and_then(Path::parent)
    }
}

/// Reads `replyd.toml` into values with their positions; an unknown key or a value of the
/// wrong TOML type is an error at its place. The tables of `upstreams.rs` are left to it.
fn read_file(path: &Path) -> Result<(Vec<Value>, SourceFile), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    let src = SourceFile::new(path, text.as_str());
    let position = |offset: usize| {
        let (line, col) = src.line_col(offset);
        format!("{}:{line}:{col}", path.display())
    };
    let table = DeTable::parse(&text).map_err(|e| ConfigError::Invalid {
        position: position(e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let mut values = Vec::new();
    for (name, value) in table.get_ref() {
        let name_text: &str = name.get_ref();
        if super::upstreams::TABLES.contains(&name_text) || name_text == "account" {
            continue;
        }
        let Some(key) = by_name(name_text) else {
            let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            names.extend(super::upstreams::TABLES);
            names.push("account");
            let help = match crate::diag::did_you_mean(name_text, &names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "the keys are listed in README.md, Configuration".to_owned(),
            };
            return Err(ConfigError::Invalid {
                position: position(name.span().start),
                message: format!("unknown key `{name_text}`; {help}"),
            });
        };
        values.push(value_of(
            key,
            value.get_ref(),
            position(value.span().start),
        )?);
    }
    Ok((values, src))
}

/// A file's value of `key`, checked against its TOML type.
fn value_of(key: &'static Key, value: &DeValue<'_>, at: String) -> Result<Value, ConfigError> {
    let text = match (key.kind, value) {
        (Kind::Text, DeValue::String(s)) => Some(s.to_string()),
        (Kind::Integer, DeValue::Integer(i)) if i.radix() == 10 => Some(i.as_str().to_owned()),
        (Kind::Boolean, DeValue::Boolean(b)) => Some(b.to_string()),
        _ => None,
    };
    let source = Source::File(at);
    let Some(text) = text else {
        let what = match key.kind {
            Kind::Text => "a string (in quotes)",
            Kind::Integer => "a whole number (without quotes)",
            Kind::Boolean => "true or false (without quotes)",
        };
        return Err(ConfigError::Value {
            origin: source.to_string(),
            key: key.name,
            expected: what.to_owned(),
        });
    };
    Ok(Value { key, text, source })
}

/// One `[[account]]` as written: its name, where its table starts, and its values of the
/// account's keys (its `upstream` and `fall_through` are read by `upstreams.rs`).
#[derive(Debug, Clone)]
pub struct AccountTable {
    /// `name`.
    pub name: String,
    /// `file:line:col` of the table.
    pub at: String,
    /// The account's settings.
    pub values: Vec<Value>,
}

/// The `[[account]]` tables of the config file, in order; an unknown key, a daemon key in an
/// account, or a missing or malformed `name` is an error at its place.
pub fn accounts(src: &SourceFile) -> Result<Vec<AccountTable>, ConfigError> {
    let position = |offset: usize| {
        let (line, col) = src.line_col(offset);
        format!("{}:{line}:{col}", src.path().display())
    };
    let invalid = |offset: usize, message: String| ConfigError::Invalid {
        position: position(offset),
        message,
    };
    let table = DeTable::parse(src.text()).map_err(|e| {
        invalid(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_owned(),
        )
    })?;
    let Some(list) = table.get_ref().get("account") else {
        return Ok(Vec::new());
    };
    let DeValue::Array(items) = list.get_ref() else {
        return Err(invalid(
            list.span().start,
            "`account` is a list of tables: write each as [[account]]".to_owned(),
        ));
    };
    let mut out = Vec::new();
    for item in items {
        let DeValue::Table(t) = item.get_ref() else {
            return Err(invalid(
                item.span().start,
                "write each account as [[account]]".to_owned(),
            ));
        };
        let mut name = None;
        let mut values = Vec::new();
        for (k, v) in t {
            let k_text: &str = k.get_ref();
            if k_text == "name" {
                let ok = match v.get_ref() {
                    DeValue::String(s)
                        if !s.is_empty()
                            && s.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
                    {
                        Some(s.to_string())
                    }
                    _ => None,
                };
                name = Some(ok.ok_or_else(|| invalid(v.span().start, "an account's `name` is letters, digits, `_` and `-` (for example \"shop\")".to_owned()))?);
                continue;
            }
            if super::upstreams::TABLES.contains(&k_text) {
                continue;
            }
            match by_name(k_text) {
                Some(key) if ACCOUNT_KEYS.contains(&k_text) => {
                    values.push(value_of(key, v.get_ref(), position(v.span().start))?);
                }
                Some(_) => {
                    return Err(invalid(
                        k.span().start,
                        format!(
                            "`{k_text}` is the daemon's setting, shared by every account: write it at the top of the file, before the first [[account]]"
                        ),
                    ));
                }
                None => {
                    let mut names: Vec<&str> = ACCOUNT_KEYS.to_vec();
                    names.extend(["name", "upstream", "fall_through"]);
                    let help = match crate::diag::did_you_mean(k_text, &names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "an account's keys are name, {}, upstream and fall_through",
                            ACCOUNT_KEYS.join(", ")
                        ),
                    };
                    return Err(invalid(
                        k.span().start,
                        format!("unknown key `{k_text}` in [[account]]; {help}"),
                    ));
                }
            }
        }
        let name = name.ok_or_else(|| invalid(item.span().start, "an [[account]] needs a `name` (letters, digits, `_` and `-`): it names the account in metrics, /healthz and --account".to_owned()))?;
        out.push(AccountTable {
            name,
            at: position(item.span().start),
            values,
        });
    }
    Ok(out)
}
