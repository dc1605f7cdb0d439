//! The command line's contract as data: every `tests/cmd/*.toml` case runs the real binary in
//! its `*.in/` directory and compares stdout, stderr and the exit status with what the case
//! pins. `TRYCMD=overwrite cargo test --test it cli` rewrites the expectations after a
//! deliberate change; review the diff like any other.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("replyd", std::path::Path::new(env!("CARGO_BIN_EXE_replyd")))
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.toml");
}
