//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod cli;
mod operate;
mod reload;
mod retries;
mod safe_mode;
mod serve;
mod util;
