//! The command line, as clap types only. Each subcommand's work is in `commands`.
//!
//! The doc comments here are the `--help` text, read by people, not rustdoc: `[[account]]` in
//! them is the config's TOML, not a link.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// replyd: the server behind a WeChat Official Account. It answers followers from keyword
/// rules kept in TOML files and hands everything else to customer service.
#[derive(Debug, Parser)]
#[command(name = "replyd", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How log lines (on stderr) are written.
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: answer WeChat's messages on the configured address and path.
    Serve(ServeArgs),
    /// Check rule files exactly as `serve` loads them, run their [[test]]s, change nothing.
    ///
    /// Exit status: 0 clean or warnings only, 1 errors (or warnings with --deny-warnings),
    /// 2 it could not run.
    Lint(LintArgs),
    /// Show which rule answers one message, why, and the exact reply XML, without a server.
    ///
    /// Exit status: 0 a rule answered, 1 no rule did (the fall-through), 2 it could not run.
    Try(TryArgs),
    /// Play WeChat against a running daemon: sign (and in safe mode encrypt) a message, post
    /// it, check and decrypt the reply, print it.
    ///
    /// Exit status: 0 the daemon answered 2xx, 1 it answered an error status, 2 it could not be
    /// reached or the reply does not verify.
    Send(SendArgs),
    /// Turn the console's auto-reply (a saved get_current_autoreply_info answer, or --fetch)
    /// into a rule file; report what could not be carried over.
    ///
    /// Exit status: 0 converted (the report lists what to finish by hand), 2 it could not run.
    Import(ImportArgs),
}

/// `replyd import`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["file", "fetch"]))]
pub struct ImportArgs {
    /// With [[account]] tables in the config: the account (its rules, token and keys).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// A saved answer of get_current_autoreply_info (JSON); `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Fetch it from WeChat with the config's app_id, app_secret and api_base.
    #[arg(long)]
    pub fetch: bool,
    /// Write the rule file here (the report still goes to stderr) [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The config file (for --fetch) [default: replyd.toml in the working directory, if there
    /// is one; REPLYD_* variables apply as for serve].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `replyd send`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("message").required(true).args(["text", "event"]))]
pub struct SendArgs {
    /// With [[account]] tables in the config: the account (its rules, token and keys).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// The config file with the token (and the keys for safe mode) [default: replyd.toml in
    /// the working directory, if there is one; REPLYD_* variables apply as for serve].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to post [default: http://LISTEN/PATH from the config].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A text message.
    #[arg(value_name = "TEXT")]
    pub text: Option<String>,
    /// An event by name (subscribe, CLICK, …).
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// The event's EventKey (with --event).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The sender's OpenID.
    #[arg(long, value_name = "OPENID", default_value = "oReplydSendTest")]
    pub from: String,
    /// The account's original id (ToUserName).
    #[arg(long, value_name = "ID", default_value = "gh_replyd_send")]
    pub to: String,
    /// Post in plaintext even when the config has an encoding_aes_key (compatible mode).
    #[arg(long)]
    pub plaintext: bool,
}

/// Output format of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// rustc-style diagnostics with the source line underlined.
    Human,
    /// A JSON array of diagnostics.
    Json,
    /// GitHub Actions workflow commands, shown as annotations on pull requests.
    Github,
}

/// `replyd lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// With [[account]] tables in the config: the account (its rules, token and keys).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Rule directories (read recursively) or files [default: the rules directory of the
    /// config serve would read].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The config file whose rules directory is checked [default: replyd.toml in the working
    /// directory, if there is one; REPLYD_* variables apply as for serve].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
    /// Treat warnings as errors (exit 1 on any).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Output format of `try`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TryFormat {
    /// For people.
    Human,
    /// One JSON object.
    Json,
}

/// `replyd try`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("message").required(true).args(["text", "event", "msg_type", "scene", "xml"]))]
pub struct TryArgs {
    /// With [[account]] tables in the config: the account (its rules, token and keys).
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// The rules directory [default: the one of the config serve would read].
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// The config file whose rules directory is used [default: replyd.toml in the working
    /// directory, if there is one; REPLYD_* variables apply as for serve].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A text message, as a follower would type it.
    #[arg(value_name = "TEXT")]
    pub text: Option<String>,
    /// An event by name (subscribe, SCAN, CLICK, VIEW, …).
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// The event's EventKey (a menu key, qrscene_…), with --event.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// A message of another type: image, voice, video, shortvideo, location, link.
    #[arg(long, value_name = "TYPE")]
    pub msg_type: Option<String>,
    /// A follow by parametric QR code: subscribe with EventKey qrscene_SCENE.
    #[arg(long, value_name = "SCENE")]
    pub scene: Option<String>,
    /// A raw WeChat XML message; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub xml: Option<PathBuf>,
    /// Answer as at this time (RFC 3339: 2026-12-05T20:00:00+08:00 or …Z) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub at: Option<jiff::Timestamp>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TryFormat::Human)]
    pub format: TryFormat,
}

/// `replyd serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file [default: replyd.toml in the working directory, if there is one].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the config (REPLYD_LISTEN) [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The rules directory, overriding the config (REPLYD_RULES) [default: rules].
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

/// `--at`: an RFC 3339 instant, with its offset.
fn parse_instant(s: &str) -> Result<jiff::Timestamp, String> {
    s.parse().map_err(|_| {
        format!("{s:?} is not a time with an offset: write RFC 3339, e.g. 2026-12-05T20:00:00+08:00 or 2026-12-05T12:00:00Z")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
