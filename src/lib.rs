//! replyd: the server behind a WeChat Official Account.
//!
//! WeChat posts every follower message and event to one URL; replyd answers from keyword rules
//! kept in TOML files and hands whatever it cannot answer to human customer service.
//!
//! # Layout
//!
//! In reading order (see ARCHITECTURE.md for how a message flows through them):
//!
//! - [`protocol`]: WeChat's XML and signatures, pure.
//! - [`diag`]: diagnostics about rule files, with their stable codes.
//! - [`ruleset`]: rule files → a checked, compiled, immutable [`ruleset::RuleSet`].
//! - [`engine`]: which rule answers a message, and with what reply. No IO.
//! - [`analysis`]: checks that need the engine: `[[test]]` entries and shadowed keywords.
//! - [`load`]: the one loader every caller uses: read the directory, compile, analyse, test.
//! - [`state`]: the rule set being served (behind an `ArcSwap`) and the last reload's outcome.
//! - [`reload`]: watch the rules directory, load again when a change settles, swap or keep.
//! - [`git`]: the commit of the rules checkout, for `/healthz`.
//! - [`config`]: `replyd.toml`, environment and flags, resolved.
//! - [`clock`]: the request path's time, which tests move themselves.
//! - [`dedup`]: WeChat's retries get the first delivery's answer, computed once.
//! - [`metrics`]: what `/metrics` shows.
//! - [`server`]: the HTTP front: signatures, safe mode, body limits, status codes, `/healthz`.
//! - [`logging`]: log lines on stderr: text (values quoted and escaped as needed) or JSON.
//! - [`client`]: plays WeChat against a running daemon (`replyd send`).
//! - [`cli`] and [`commands`]: the command line; only here is anything printed.

pub mod agents;
pub mod analysis;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cooldown;
pub mod dedup;
pub mod diag;
pub mod engine;
pub mod git;
pub mod import;
pub mod load;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod reload;
pub mod ruleset;
pub mod server;
pub mod shared;
pub mod state;
pub mod upstream;
pub mod wechat_api;
