//! One module per subcommand: glue between the command line and the library. Only here (and
//! in `main`) is anything printed, and only these functions and `main` pick exit statuses.
//!
//! A command returns `Ok(Exit)` when it ran, and `Err` when it could not (usage,
//! configuration, IO): `main` prints that error, once, as plain text on stderr, and exits 2.

pub mod import;
pub mod lint;
pub mod send;
pub mod serve;
pub mod try_message;

/// How a command that ran ended: its exit status. (A command that could not run exits
/// [`EXIT_COULD_NOT_RUN`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success; `lint` found no error (warnings only), `try` found a rule that answers.
    Success,
    /// 1: the rules have errors (`serve` refuses them, `lint` reports them, or warnings with
    /// `--deny-warnings`), no rule answers (`try`), the daemon answered an error status
    /// (`send`).
    Problems,
}

/// The exit status of a command that could not run: a usage error, a configuration error, a
/// path that cannot be read, a daemon that cannot be reached.
pub const EXIT_COULD_NOT_RUN: u8 = 2;

impl Exit {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Problems => 1,
        }
    }

    /// `Success` when `ok`, else `Problems`.
    pub fn success_if(ok: bool) -> Exit {
        if ok { Exit::Success } else { Exit::Problems }
    }
}

/// The README's exit-status table: for each command, what each status means.
pub fn exit_code_table() -> String {
    const ROWS: [(&str, [&str; 3]); 5] = [
        (
            "serve",
            [
                "clean shutdown (SIGINT, SIGTERM)",
                "the rules have errors: nothing was served",
                "could not run: configuration, bind, unreadable rules directory",
            ],
        ),
        (
            "lint",
            [
                "no errors (warnings allowed)",
                "errors, or warnings with `--deny-warnings`",
                "could not run: configuration, a path cannot be read, bad arguments",
            ],
        ),
        (
            "try",
            [
                "a rule answered",
                "no rule answered (the fall-through)",
                "could not run: the rules have errors, the message cannot be read or parsed, bad arguments",
            ],
        ),
        (
            "send",
            [
                "the daemon answered 2xx",
                "it answered an error status",
                "could not reach it, or the reply does not verify",
            ],
        ),
        (
            "import",
            [
                "converted (the report on stderr lists what to finish by hand)",
                "—",
                "could not run: the input cannot be read or fetched, or is not the API's answer",
            ],
        ),
    ];
    let mut out = format!(
        "| command | {} | {} | {} |\n|---|---|---|---|\n",
        Exit::Success.code(),
        Exit::Problems.code(),
        EXIT_COULD_NOT_RUN
    );
    for (command, [ok, problems, failed]) in ROWS {
        out.push_str(&format!(
            "| `replyd {command}` | {ok} | {problems} | {failed} |\n"
        ));
    }
    out
}

/// The config `serve` would read, with `--config FILE` if given: for the commands that need
/// only its rules directory or its token (`lint`, `try`, `send`).
fn config_of(
    file: Option<std::path::PathBuf>,
    account: Option<&str>,
) -> Result<crate::config::Config, crate::config::ConfigError> {
    let config = crate::config::Config::resolve(
        &crate::config::Overrides {
            config: file,
            ..crate::config::Overrides::default()
        },
        |k| std::env::var(k).ok(),
    )?;
    // One account's configuration: `--account`'s, or the only one.
    config.select(account).cloned()
}

/// A usage error the argument parser cannot express (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_exit_code_table_is_this_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let table = super::exit_code_table();
        assert!(
            readme.contains(&table),
            "README.md's exit-code table differs; it should read:\n\n{table}"
        );
    }
}
