//! The `replyd` binary: parse the command line, set up logging, run the subcommand, and turn
//! its outcome into an exit status. This is the one place an error that stopped a command is
//! printed: plain text on stderr (whatever the log format), with its causes, and exit 2.

use std::process::ExitCode;

use clap::Parser;
use replyd::cli::{Cli, Command};
use replyd::commands::{self, EXIT_COULD_NOT_RUN};

/// jemalloc, purging freed pages in the background: the memory of a rule set's load (its parsed
/// TOML) and of a replaced set goes back to the system, where glibc's malloc kept it resident
/// (Cargo.toml says what was measured). The `system-allocator` feature keeps the system's malloc,
/// which valgrind's DHAT can count (`benches/http/count.sh allocations`).
#[cfg(not(any(target_env = "msvc", feature = "system-allocator")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dropping the guard flushes the last log lines, so that an error printed below comes
    // after them.
    let log_guard = match replyd::logging::init(cli.log_format) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("error: cannot start the log writer: {err}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Try(args) => commands::try_message::run(args),
        Command::Send(args) => commands::send::run(args),
        Command::Import(args) => commands::import::run(args),
    };
    drop(log_guard);
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        // `replyd lint | head`: the reader went away; nothing is wrong with the rules.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_COULD_NOT_RUN)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
