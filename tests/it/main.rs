//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod cli;
mod serve;
mod util;
