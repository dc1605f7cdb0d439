//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod cli;
mod hostile;
mod operate;
mod properties;
mod reload;
mod retries;
mod safe_mode;
mod serve;
mod util;
