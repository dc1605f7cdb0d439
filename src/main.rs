//! The `replyd` binary: parse the command line, set up logging, run the subcommand, map the
//! outcome to an exit status (0 success, 1 rule errors, 2 could not run).

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;
use replyd::cli::{Cli, Command, LogFormat};
use replyd::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held until main returns: dropping it flushes the last log lines.
    let _log_guard = init_logging(cli.log_format);
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

/// Logs go to stderr, as text or JSON lines; `RUST_LOG` filters them (default `info`).
///
/// Lines are handed to a thread of their own, which writes them in batches: a request never
/// waits for a write to stderr (under load that was one system call per message). The channel
/// blocks rather than drops when full, so no line is lost.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("replyd-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            builder.with_ansi(colour).init();
        }
    }
    guard
}
