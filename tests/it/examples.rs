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

/// `examples/compose/`: each replica's config resolves with what the compose file gives it
/// (the token and the Redis URL from the environment), and shares through Redis.
#[test]
fn the_compose_example_configures_replicas_that_share_redis() {
    let dir = repo().join("examples/compose");
    let compose = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    let env_value = |name: &str| {
        compose
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("compose.yaml sets {name}"))
    };
    let redis_url = env_value("REPLYD_REDIS_URL");
    assert_eq!(redis_url, "redis://redis:6379/0");
    assert!(
        compose.contains("replicas: 2") && compose.contains("../../rules:/etc/replyd/rules:ro")
    );
    let config = replyd::config::Config::resolve(
        &replyd::config::Overrides {
            config: Some(dir.join("replyd.toml")),
            ..Default::default()
        },
        |name| match name {
            "REPLYD_TOKEN" => Some("t".to_owned()),
            "REPLYD_REDIS_URL" => Some(redis_url.clone()),
            "REPLYD_LISTEN" => Some("0.0.0.0:8080".to_owned()),
            "REPLYD_ADMIN_LISTEN" => Some("0.0.0.0:9090".to_owned()),
            _ => None,
        },
    )
    .expect("the compose replica's config resolves");
    assert_eq!(
        config.redis_url.as_ref().map(|u| u.expose()),
        Some("redis://redis:6379/0")
    );
    assert_eq!(config.path, "/wechat");
    assert_eq!(
        config.rules,
        dir.join("rules"),
        "rules/ beside the config: the mount point"
    );
    // nginx proxies the console's path to the replicas.
    let nginx = std::fs::read_to_string(dir.join("nginx.conf")).unwrap();
    assert!(nginx.contains("location = /wechat") && nginx.contains("server replyd:8080;"));
}

/// `examples/replyd.accounts.toml`: two accounts, each with its own path, token, rules and
/// upstreams, the daemon's settings shared.
#[test]
fn the_accounts_example_resolves_into_two_accounts() {
    let file = repo().join("examples/replyd.accounts.toml");
    let config = replyd::config::Config::resolve(
        &replyd::config::Overrides {
            config: Some(file.clone()),
            ..Default::default()
        },
        |_| None,
    )
    .expect("the accounts example resolves");
    assert_eq!(config.account_names(), ["shop", "brand"]);
    let shop = config.select(Some("shop")).unwrap();
    let brand = config.select(Some("brand")).unwrap();
    assert_eq!(
        (shop.path.as_str(), brand.path.as_str()),
        ("/wechat/shop", "/wechat/brand")
    );
    assert_eq!(shop.rules, repo().join("examples/rules/shop"));
    assert_eq!(shop.forwarding.names(), ["orders"]);
    assert!(brand.forwarding.names().is_empty());
    assert_eq!(shop.admin_listen, brand.admin_listen);
    assert!(shop.token().is_ok() && shop.token().ok() != brand.token().ok());
}
