//! One module per subcommand: glue between the command line and the library. Only here (and
//! in `main`) is anything printed, and only these functions and `main` pick exit statuses.

pub mod lint;
pub mod send;
pub mod serve;
pub mod try_message;

/// Exit status when the rules have errors (`serve` refuses them, `lint` reports them).
pub const EXIT_RULE_ERRORS: u8 = 1;
/// Exit status when the command could not run (usage, configuration, IO).
pub const EXIT_FAILURE: u8 = 2;
