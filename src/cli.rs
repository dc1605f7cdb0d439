//! The command line, as clap types only. Each subcommand's work is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// replyd: the server behind a WeChat Official Account. It answers followers from keyword
/// rules kept in TOML files and hands everything else to customer service.
#[derive(Debug, Parser)]
#[command(name = "replyd", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: answer WeChat's messages on the configured address and path.
    Serve(ServeArgs),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
