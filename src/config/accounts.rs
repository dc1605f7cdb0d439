//! `[[account]]`: several accounts served by one daemon. Each account's keys (path, token,
//! app_id, the AES keys, app_secret, rules, and its own `[[account.upstream]]` and
//! `[account.fall_through]`) are written in its table and nowhere else; the daemon's keys stay
//! at the top and are the same for every account. Each account resolves into a whole
//! [`Config`], with the same checks and positions as a file without accounts; an error says
//! which account it is in.

use super::keys::ACCOUNT_KEYS;
use super::layers::{AccountTable, Layers};
use super::{Config, ConfigError, Forwarding, upstreams};

/// The configuration of a file with `[[account]]` tables: the first account's, with every
/// account in `accounts`.
pub(super) fn resolve(
    layers: &Layers<'_>,
    tables: Vec<AccountTable>,
) -> Result<Config, ConfigError> {
    for name in ACCOUNT_KEYS {
        if let Some(v) = layers.top_level(name) {
            return Err(ConfigError::Conflict {
                origin: v.source.to_string(),
                message: format!(
                    "`{name}` is an account's setting: with [[account]] tables, write it in each account, not at the top (nor in {})",
                    v.key.env
                ),
            });
        }
    }
    if let Some(file) = &layers.file_source
        && let Some(at) = upstreams::top_level_at(file)
    {
        let (line, col) = file.line_col(at);
        return Err(ConfigError::Conflict {
            origin: format!("{}:{line}:{col}", file.path().display()),
            message: "with [[account]] tables, upstreams belong to an account: write [[account.upstream]] and [account.fall_through] after its [[account]]".to_owned(),
        });
    }
    let mut accounts: Vec<Config> = Vec::new();
    for (index, table) in tables.into_iter().enumerate() {
        let AccountTable { name, at, values } = table;
        if accounts.iter().any(|a| a.account.as_deref() == Some(&name)) {
            return Err(ConfigError::Conflict {
                origin: at,
                message: format!("two accounts are named `{name}`; give each its own name"),
            });
        }
        let account_layers = layers.for_account(values);
        let file = layers.file_source.as_ref();
        let mut config = Config::from_layers(&account_layers, |api| match file {
            Some(f) => upstreams::read_account(f, index, api),
            None => Ok(Forwarding::default()),
        })
        .map_err(|error| ConfigError::InAccount {
            account: name.clone(),
            error: Box::new(error),
        })?;
        config.account = Some(name.clone());
        for other in &accounts {
            let other_name = other.account.as_deref().unwrap_or("?");
            if other.path == config.path {
                return Err(ConfigError::Conflict {
                    origin: at,
                    message: format!(
                        "accounts `{other_name}` and `{name}` both answer on {}: give each its own `path`",
                        config.path
                    ),
                });
            }
            if other.rules == config.rules && other.token != config.token {
                return Err(ConfigError::Conflict {
                    origin: at,
                    message: format!(
                        "accounts `{other_name}` and `{name}` have different tokens but one rules directory ({}): give each account its own `rules`",
                        config.rules.display()
                    ),
                });
            }
        }
        accounts.push(config);
    }
    let mut first = accounts[0].clone();
    first.accounts = accounts;
    Ok(first)
}

impl Config {
    /// The names of the accounts (empty without `[[account]]`).
    pub fn account_names(&self) -> Vec<&str> {
        self.accounts
            .iter()
            .filter_map(|a| a.account.as_deref())
            .collect()
    }

    /// The configuration of the account `name` (`--account`), or of the only one.
    ///
    /// # Errors
    ///
    /// A name with no `[[account]]`, a name without accounts, or no name with several.
    pub fn select(&self, name: Option<&str>) -> Result<&Config, ConfigError> {
        let names = self.account_names();
        match (name, names.is_empty()) {
            (None, true) => Ok(self),
            (Some(n), true) => Err(ConfigError::NoAccounts(n.to_owned())),
            (None, false) => Err(ConfigError::WhichAccount(names.join(", "))),
            (Some(n), false) => self
                .accounts
                .iter()
                .find(|a| a.account.as_deref() == Some(n))
                .ok_or_else(|| ConfigError::UnknownAccount {
                    name: n.to_owned(),
                    help: match crate::diag::did_you_mean(n, &names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("the accounts are {}", names.join(", ")),
                    },
                }),
        }
    }
}
