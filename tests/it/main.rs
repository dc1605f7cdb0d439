//! Integration tests: one binary (matklad, ripgrep), modules by capability.

mod serve;
mod util;
