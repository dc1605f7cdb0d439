//! The `replyd` binary: parse the command line, set up logging, run the subcommand, map the
//! outcome to an exit status (0 success, 1 rule errors, 2 could not run).

use std::process::ExitCode;

use clap::Parser;
use replyd::cli::{Cli, Command};
use replyd::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held until main returns: dropping it flushes the last log lines.
    let _log_guard = replyd::logging::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Try(args) => commands::try_message::run(args),
        Command::Send(args) => commands::send::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::from(commands::EXIT_FAILURE)
        }
    }
}
