//! Several accounts on one daemon (`[[account]]`): routing by path, each account's token and
//! retry cache, reloads that stay with their account, metrics and /healthz per account, and
//! lint/try per account.

use std::time::Duration;

use crate::util::{
    Daemon, Project, Target, fields, replyd, request, signed_query, text_message,
    text_message_with_id, unique,
};

/// A project with `n` accounts `a0`…: each on `/wechat/aN` with the token `token-aN` and its
/// rules in `rules/aN`, where `hello` answers `from aN`; `extra` goes at the top.
fn accounts(n: usize, extra: &str) -> Project {
    let mut config = format!("{extra}\n");
    for i in 0..n {
        config.push_str(&format!(
            "[[account]]\nname = \"a{i}\"\npath = \"/wechat/a{i}\"\ntoken = \"token-a{i}\"\nrules = \"rules/a{i}\"\n\n"
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("replyd.toml"), config).expect("config");
    let p = Project { dir };
    for i in 0..n {
        p.rule_file(&format!("a{i}/hello.toml"), &hello(i, "from"));
    }
    p
}

fn hello(i: usize, word: &str) -> String {
    format!("[[rule]]\nid = \"hello\"\nmatch.exact = \"hello\"\nreply.text = \"{word} a{i}\"\n")
}

/// A signed POST to account `i` (its path), signed with `token`.
fn post_to(t: &impl Target, i: usize, token: &str, body: &str) -> crate::util::Response {
    request(
        t.addr(),
        "POST",
        &format!("/wechat/a{i}?{}", signed_query(token)),
        &[],
        body.as_bytes(),
    )
}

fn content(body: &str) -> String {
    fields(body).get("xml/Content").cloned().unwrap_or_default()
}

fn get(t: &impl Target, path: &str) -> (u16, String) {
    let r = request(t.addr(), "GET", path, &[], b"");
    (r.status, r.body)
}

#[test]
fn two_accounts_answer_on_their_own_paths_with_their_own_tokens_and_caches() {
    let p = accounts(2, "");
    let s = p.serve();
    let message = text_message_with_id("hello", unique());
    let a0 = post_to(&s, 0, "token-a0", &message);
    assert_eq!((a0.status, content(&a0.body)), (200, "from a0".into()));
    // The same message (follower, MsgId, content) to the other account is its own message,
    // not a retry of the first.
    let a1 = post_to(&s, 1, "token-a1", &message);
    assert_eq!((a1.status, content(&a1.body)), (200, "from a1".into()));
    // One account's token on another's path is refused.
    assert_eq!(
        post_to(&s, 1, "token-a0", &text_message("hello")).status,
        403
    );
    assert_eq!(
        request(
            s.addr,
            "POST",
            &format!("/wechat?{}", signed_query("token-a0")),
            &[],
            message.as_bytes()
        )
        .status,
        404,
        "no account on /wechat"
    );
    let (status, metrics) = get(&s, "/metrics");
    assert_eq!(status, 200);
    for a in ["a0", "a1"] {
        assert!(
            metrics.contains(&format!(
                "replyd_messages_total{{account=\"{a}\",msg_type=\"text\"}} 1"
            )),
            "{metrics}"
        );
        assert!(
            metrics.contains(&format!("replyd_rules{{account=\"{a}\"}} 1")),
            "{metrics}"
        );
    }
    assert!(
        metrics
            .contains("replyd_signature_failures_total{account=\"a1\",signature=\"signature\"} 1"),
        "{metrics}"
    );
    let (status, health) = get(&s, "/healthz");
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    let names: Vec<&str> = health["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a0", "a1"]);
}

#[test]
fn twenty_accounts_on_one_daemon() {
    let p = accounts(20, "");
    let d = p.start();
    for i in 0..20 {
        let r = post_to(&d, i, &format!("token-a{i}"), &text_message("hello"));
        assert_eq!(
            (r.status, content(&r.body)),
            (200, format!("from a{i}")),
            "account a{i}"
        );
    }
    let (_, metrics) = get(&d, "/metrics");
    let labelled = (0..20)
        .filter(|i| {
            metrics.contains(&format!(
                "replyd_messages_total{{account=\"a{i}\",msg_type=\"text\"}} 1"
            ))
        })
        .count();
    assert_eq!(labelled, 20, "{metrics}");
    let (status, health) = get(&d, "/healthz");
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["accounts"].as_array().unwrap().len(), 20);
    d.wait_for_log("account=a19");
}

#[test]
fn a_broken_rule_set_of_one_account_never_affects_another() {
    let p = accounts(2, "reload_settle_ms = 50");
    let d: Daemon = p.start();
    // a0's rules break; a1's change.
    p.rule_file(
        "a0/hello.toml",
        "[[rule]]\nid = \"hello\"\nmatch.exat = \"hello\"\n",
    );
    p.rule_file("a1/hello.toml", &hello(1, "now from"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, health) = get(&d, "/healthz");
        let h: serde_json::Value = serde_json::from_str(&health).unwrap();
        let a0_failed = h["accounts"][0]["status"] == "reload_failed";
        let a1_reloaded = h["accounts"][1]["serving"]["generation"] == 2;
        if a0_failed && a1_reloaded {
            assert_eq!(status, 503, "one account's set is not what its files say");
            assert_eq!(h["status"], "reload_failed");
            assert_eq!(h["accounts"][1]["status"], "ok");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{h}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // a0 keeps its last good set; a1 serves its new one.
    assert_eq!(
        content(&post_to(&d, 0, "token-a0", &text_message("hello")).body),
        "from a0"
    );
    assert_eq!(
        content(&post_to(&d, 1, "token-a1", &text_message("hello")).body),
        "now from a1"
    );
}

#[test]
fn lint_and_try_take_the_account() {
    let p = accounts(2, "");
    p.rule_file(
        "a1/broken.toml",
        "[[rule]]\nid = \"x\"\nmatch.exact = \"x\"\n",
    );
    let run = |args: &[&str]| {
        let out = replyd()
            .args(args)
            .arg("--config")
            .arg(p.config())
            .output()
            .expect("run replyd");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, _) = run(&["lint", "--account", "a0"]);
    assert_eq!(code, Some(0), "{stdout}");
    let (code, stdout, _) = run(&["lint", "--account", "a1"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("rules/a1/broken.toml"), "{stdout}");
    let (code, stdout, _) = run(&["try", "--account", "a0", "hello"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("from a0"), "{stdout}");
    let (code, _, stderr) = run(&["try", "hello"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr
            .contains("the config serves several accounts (a0, a1): say which with --account NAME"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["lint", "--account", "a2"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no [[account]] is named `a2`"), "{stderr}");
}

#[test]
fn send_takes_the_account() {
    let p = accounts(2, "");
    let d = p.start();
    let out = replyd()
        .args(["send", "--account", "a1", "--url"])
        .arg(format!("http://{}/wechat/a1", d.addr))
        .arg("--config")
        .arg(p.config())
        .arg("hello")
        .output()
        .expect("run send");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("from a1"), "{stdout}");
}

#[test]
fn account_mistakes_are_refused_with_the_account_and_the_place() {
    let cases: &[(&str, &str)] = &[
        (
            "[[account]]\nname = \"a\"\npath = \"/w\"\ntoken = \"t1\"\nrules = \"ra\"\n[[account]]\nname = \"b\"\npath = \"/w\"\ntoken = \"t2\"\nrules = \"rb\"\n",
            "replyd.toml:6:1: accounts `a` and `b` both answer on /w: give each its own `path`",
        ),
        (
            "[[account]]\nname = \"a\"\npath = \"/a\"\ntoken = \"t1\"\nrules = \"r\"\n[[account]]\nname = \"b\"\npath = \"/b\"\ntoken = \"t2\"\nrules = \"r\"\n",
            "accounts `a` and `b` have different tokens but one rules directory",
        ),
        (
            "token = \"t\"\n[[account]]\nname = \"a\"\ntoken = \"t1\"\n",
            "replyd.toml:1:9: `token` is an account's setting: with [[account]] tables, write it in each account",
        ),
        (
            "[[account]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
            "replyd.toml:3:1: `listen` is the daemon's setting, shared by every account",
        ),
        (
            "[[account]]\nname = \"a\"\ntokn = \"t\"\n",
            "replyd.toml:3:1: unknown key `tokn` in [[account]]; did you mean `token`?",
        ),
        (
            "[[account]]\npath = \"/a\"\n",
            "replyd.toml:1:1: an [[account]] needs a `name`",
        ),
        (
            "[[account]]\nname = \"a\"\npath = \"a\"\n",
            "account `a`: replyd.toml:3:8: `path` is not valid",
        ),
        (
            "[[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:9/\"\n[[account]]\nname = \"a\"\n",
            "replyd.toml:1:1: with [[account]] tables, upstreams belong to an account",
        ),
    ];
    for (config, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("replyd.toml"), config).unwrap();
        let out = replyd()
            .current_dir(dir.path())
            .args(["lint", "--account", "a"])
            .output()
            .expect("run lint");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}\n{stderr}");
        assert!(
            stderr.contains(expected),
            "{config}\nwanted {expected:?}\ngot {stderr}"
        );
    }
}

#[test]
fn accounts_share_one_redis_connection_with_keys_of_their_own() {
    let Some(redis) = crate::redis::Redis::start() else {
        return;
    };
    let p = accounts(2, &format!("redis_url = \"{}\"", redis.url()));
    let s = p.serve();
    let message = text_message_with_id("hello", unique());
    assert_eq!(
        content(&post_to(&s, 0, "token-a0", &message).body),
        "from a0"
    );
    assert_eq!(
        content(&post_to(&s, 1, "token-a1", &message).body),
        "from a1"
    );
    for a in ["a0", "a1"] {
        assert_eq!(
            redis
                .command(&format!("KEYS replyd:2:{a}:answer:*"))
                .as_deref(),
            Some("*1"),
            "{a}'s answer under its own prefix"
        );
    }
    // The daemon's one connection, and this test's.
    let info = redis.raw("INFO clients").unwrap_or_default();
    assert!(info.contains("connected_clients:2\r\n"), "{info}");
}
