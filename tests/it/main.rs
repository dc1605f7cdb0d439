//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod cli;
mod reload;
mod retries;
mod safe_mode;
mod serve;
mod util;
