//! The shipped examples that are programs: the git pre-commit hook, and what the Dockerfile's
//! build context leaves out.

use std::path::Path;
use std::process::Command;

use crate::util::repo;

/// A git repository with one rule file, staged; returns the directory.
fn repository(rule: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/a.toml"), rule).unwrap();
    git(&["add", "rules/a.toml"]);
    dir
}

fn hook(dir: &Path, replyd: &str) -> (i32, String) {
    let out = Command::new("sh")
        .arg(repo().join("examples/pre-commit"))
        .current_dir(dir)
        .env("REPLYD", replyd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run the hook");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n";

#[test]
fn the_pre_commit_hook_refuses_broken_rules_and_says_when_replyd_is_missing() {
    let replyd = env!("CARGO_BIN_EXE_replyd");
    let good = repository(GOOD);
    assert_eq!(hook(good.path(), replyd).0, 0);

    let broken = repository("[[rule]]\nid = \"a\"\nmatch.exat = \"x\"\nreply.text = \"y\"\n");
    let (status, stderr) = hook(broken.path(), replyd);
    assert_eq!(status, 1);
    assert!(stderr.contains("found problems in rules/"), "{stderr}");

    let (status, stderr) = hook(good.path(), "/nonexistent/replyd");
    assert_eq!(status, 1);
    assert!(
        stderr.contains("'/nonexistent/replyd' is not installed") && !stderr.contains("problems"),
        "{stderr}"
    );
}

#[test]
fn the_docker_build_context_leaves_out_the_build_and_the_history() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).expect(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for entry in ["target", ".git"] {
        assert!(lines.contains(&entry), "{entry} is not in .dockerignore");
    }
}
