//! `replyd lint`: load rule files exactly as `serve` does, report every problem, run the
//! `[[test]]`s, change nothing.

use std::io::{IsTerminal as _, Write as _};

use anyhow::Context as _;
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};

use super::Exit;
use crate::cli::{LintArgs, LintFormat};
use crate::diag::{Severity, render};
use crate::load::{self, Loaded};

/// Runs `lint`.
///
/// # Errors
///
/// When the config cannot be read, a path cannot be read at all, or the report cannot be
/// written.
pub fn run(args: LintArgs) -> anyhow::Result<Exit> {
    // The config serve would read: its rules directory, and the upstreams rules may name.
    let config = super::config_of(args.config.clone(), args.account.as_deref())?;
    let paths = if args.paths.is_empty() {
        vec![config.rules.clone()]
    } else {
        args.paths
    };
    let loaded = load::load_paths(&paths, &config.declared())?;
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .count();
    let warnings = loaded.diagnostics.len() - errors;
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    match args.format {
        LintFormat::Human => human(&loaded, errors, warnings, failed),
        LintFormat::Json => writeln!(
            std::io::stdout().lock(),
            "{}",
            render::json(&loaded.diagnostics, &loaded.sources)
        ),
        LintFormat::Github => write!(
            std::io::stdout().lock(),
            "{}",
            render::github(&loaded.diagnostics, &loaded.sources)
        ),
    }
    .context("cannot write the report")?;
    Ok(Exit::success_if(!failed))
}

fn human(loaded: &Loaded, errors: usize, warnings: usize, failed: bool) -> std::io::Result<()> {
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = StandardStream::stdout(if colour {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    });
    render::human(&loaded.diagnostics, &loaded.sources, &mut out)?;
    let s = loaded.summary;
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let tests = if s.tests == 0 {
        "no tests".to_owned()
    } else if s.tests_run == 0 && errors > 0 {
        format!(
            "{} not run until the errors are fixed",
            plural(s.tests, "test")
        )
    } else {
        format!(
            "{} passed of {}",
            plural(s.tests_run - s.tests_failed, "test"),
            s.tests_run
        )
    };
    writeln!(
        out,
        "{}: {}, {}; {}, {}",
        if failed { "failed" } else { "ok" },
        plural(s.files, "file"),
        plural(s.rules, "rule"),
        tests,
        if errors + warnings == 0 {
            "no problems".to_owned()
        } else {
            format!(
                "{}, {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            )
        }
    )
}
