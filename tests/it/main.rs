//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod cli;
mod reload;
mod serve;
mod util;
