//! Hot reload, end to end: the real daemon, real files in a temporary directory, and changes
//! made the ways people make them (an editor's atomic save, a deploy that rewrites many files, a
//! symlink switched to a new release). Every wait polls against a generous deadline instead of
//! sleeping a fixed time, so the tests pass on a slow, loaded machine.

use std::fs;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::util::Target as _;
use crate::util::{Daemon, Project, fields, request, text_message};

const DEADLINE: Duration = Duration::from_secs(30);

/// A rule file with one rule `id` answering the exact keyword `id` with `reply`.
fn rule(id: &str, reply: &str) -> String {
    format!("[[rule]]\nid = \"{id}\"\nmatch.exact = \"{id}\"\nreply.text = \"{reply}\"\n")
}

/// What the daemon answers to the text `keyword`: the reply's Content, or its MsgType.
fn answer(d: &Daemon, keyword: &str) -> String {
    let r = d.post(&text_message(keyword));
    assert_eq!(r.status, 200, "{}", r.body);
    let f = fields(&r.body);
    f.get("xml/Content")
        .cloned()
        .unwrap_or_else(|| f["xml/MsgType"].clone())
}

/// Polls until `check` holds, or fails after the deadline with what it saw last.
fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut probe: impl FnMut() -> T,
    check: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let seen = probe();
        if check(&seen) {
            return seen;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: still {seen:?} after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Writes a file the way editors save: a temporary file beside it, renamed into place.
fn save_atomically(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn healthz(d: &Daemon) -> (u16, serde_json::Value) {
    let r = request(d.addr, "GET", "/healthz", &[], b"");
    (
        r.status,
        serde_json::from_str(&r.body).expect("healthz is JSON"),
    )
}

fn project(settle_ms: u64) -> Project {
    Project::new(&format!("reload_settle_ms = {settle_ms}"))
}

#[test]
fn an_editors_atomic_save_changes_the_reply() {
    let p = project(100);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let d = p.start();
    assert_eq!(answer(&d, "ping"), "v1");
    save_atomically(&p.dir.path().join("rules/a.toml"), &rule("ping", "v2"));
    eventually("the edit", || answer(&d, "ping"), |a| a == "v2");
    // An in-place write too.
    fs::write(p.dir.path().join("rules/a.toml"), rule("ping", "v3")).unwrap();
    eventually("the in-place write", || answer(&d, "ping"), |a| a == "v3");
    // A new file in a new sub-directory.
    p.rule_file("sub/dir/b.toml", &rule("pong", "new"));
    eventually("the new file", || answer(&d, "pong"), |a| a == "new");
}

#[test]
fn a_broken_file_keeps_the_old_set_and_healthz_says_where_until_it_is_fixed() {
    let p = project(100);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let d = p.start();
    assert_eq!(healthz(&d).0, 200);

    save_atomically(
        &p.dir.path().join("rules/a.toml"),
        "[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreplay.text = \"v2\"\n",
    );
    let (_, h) = eventually(
        "the failure in /healthz",
        || healthz(&d),
        |(s, _)| *s == 503,
    );
    assert_eq!(h["status"], "reload_failed");
    assert_eq!(h["last_reload"]["result"], "rejected");
    let error = h["last_reload"]["errors"][0].as_str().unwrap();
    assert!(
        error.contains("a.toml:4:1: error[invalid-key]: unknown field `replay`"),
        "{error}"
    );
    assert!(h["failing_since"].is_string());
    assert_eq!(h["serving"]["generation"], 1);
    assert_eq!(answer(&d, "ping"), "v1", "the old set keeps answering");
    assert!(
        d.wait_for_log("reload rejected")
            .contains("still serving generation 1")
    );

    save_atomically(&p.dir.path().join("rules/a.toml"), &rule("ping", "v3"));
    eventually("the fix", || answer(&d, "ping"), |a| a == "v3");
    let (status, h) = healthz(&d);
    assert_eq!(status, 200);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["last_reload"]["result"], "applied");
    assert!(h["failing_since"].is_null());
}

#[test]
fn thirty_files_replaced_at_once_land_in_one_reload() {
    let p = project(500);
    for i in 0..30 {
        p.rule_file(&format!("f{i:02}.toml"), &rule(&format!("k{i}"), "old"));
    }
    let d = p.start();
    assert_eq!(answer(&d, "k29"), "old");
    // A deploy: every file rewritten, as `git checkout` does it.
    for i in 0..30 {
        save_atomically(
            &p.dir.path().join(format!("rules/f{i:02}.toml")),
            &rule(&format!("k{i}"), "new"),
        );
    }
    eventually("the last file", || answer(&d, "k29"), |a| a == "new");
    for i in 0..30 {
        assert_eq!(answer(&d, &format!("k{i}")), "new", "k{i}");
    }
    assert_eq!(
        healthz(&d).1["serving"]["generation"],
        2,
        "one reload of the final state"
    );
}

#[test]
fn a_deleted_file_takes_its_rules_away() {
    let p = project(100);
    p.rule_file("a.toml", &rule("ping", "a"));
    p.rule_file("b.toml", &rule("pong", "b"));
    let d = p.start();
    assert_eq!(answer(&d, "pong"), "b");
    fs::remove_file(p.dir.path().join("rules/b.toml")).unwrap();
    eventually(
        "the deletion",
        || answer(&d, "pong"),
        |a| a == "transfer_customer_service",
    );
    assert_eq!(answer(&d, "ping"), "a");
}

#[test]
fn sighup_reloads_at_once() {
    // A settle time far longer than the test: only SIGHUP can make the change land in time.
    let p = project(600_000);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let d = p.start();
    fs::write(p.dir.path().join("rules/a.toml"), rule("ping", "v2")).unwrap();
    // (That nothing reloads before the settle time is reload.rs's unit test, on paused time.)
    let status = std::process::Command::new("kill")
        .args(["-HUP", &d.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually("SIGHUP", || answer(&d, "ping"), |a| a == "v2");
}

#[test]
fn a_sighup_with_nothing_changed_serves_the_same_set_as_a_new_generation() {
    let p = project(600_000);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let d = p.start();
    d.signal("HUP");
    d.wait_for_log("generation=2 ");
    d.wait_for_log("unchanged=true");
    let (status, health) = healthz(&d);
    assert_eq!(status, 200);
    assert_eq!(health["serving"]["generation"], 2, "{health}");
    assert_eq!(answer(&d, "ping"), "v1");
    // The same bytes written again are no change either; an edit is.
    fs::write(p.dir.path().join("rules/a.toml"), rule("ping", "v1")).unwrap();
    d.signal("HUP");
    d.wait_for_log("generation=3 ");
    fs::write(p.dir.path().join("rules/a.toml"), rule("ping", "v2")).unwrap();
    d.signal("HUP");
    d.wait_for_log("unchanged=false");
    eventually("the edit", || answer(&d, "ping"), |a| a == "v2");
}

#[test]
fn an_edit_to_a_large_file_compiles_only_the_entries_it_changed() {
    // 2,000 rules, about 140 KB: a file read in pieces, whose unchanged entries a reload takes
    // from the served set (the log says how many).
    let catalogue = |edit: &dyn Fn(usize, String) -> String| -> String {
        (0..2000)
            .map(|i| edit(i, rule(&format!("sku{i}"), &format!("p{i}"))))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let p = project(600_000);
    p.rule_file("catalogue.toml", &catalogue(&|_, r| r));
    let d = p.start();
    assert_eq!(answer(&d, "sku1000"), "p1000");
    let path = p.dir.path().join("rules/catalogue.toml");
    let reply_edited = |i: usize, r: String| {
        if i == 1000 {
            r.replace("p1000", "changed")
        } else {
            r
        }
    };
    fs::write(&path, catalogue(&reply_edited)).unwrap();
    d.signal("HUP");
    d.wait_for_log("generation=2 rules=2000 files=1 unchanged=false taken=1999 ");
    assert_eq!(answer(&d, "sku1000"), "changed");
    assert_eq!(answer(&d, "sku5"), "p5");
    assert_eq!(answer(&d, "sku1999"), "p1999");
    let keyword_edited = |i: usize, r: String| match i {
        1500 => r.replace("match.exact = \"sku1500\"", "match.exact = \"renamed\""),
        _ => reply_edited(i, r),
    };
    fs::write(&path, catalogue(&keyword_edited)).unwrap();
    d.signal("HUP");
    d.wait_for_log("generation=3 rules=2000 files=1 unchanged=false taken=1999 ");
    assert_eq!(answer(&d, "renamed"), "p1500");
    assert_eq!(answer(&d, "sku1500"), "transfer_customer_service");
    assert_eq!(answer(&d, "sku1000"), "changed");
    assert_eq!(answer(&d, "sku1499"), "p1499");
}

#[test]
fn a_symlink_switched_to_a_new_release_is_picked_up() {
    let p = Project::new("reload_settle_ms = 100");
    let root = p.dir.path();
    fs::remove_dir(root.join("rules")).unwrap();
    let release = |name: &str, reply: &str| {
        fs::create_dir_all(root.join("releases").join(name)).unwrap();
        fs::write(
            root.join("releases").join(name).join("a.toml"),
            rule("ping", reply),
        )
        .unwrap();
    };
    let switch = |name: &str| {
        let tmp = root.join("rules.tmp");
        std::os::unix::fs::symlink(format!("releases/{name}"), &tmp).unwrap();
        fs::rename(&tmp, root.join("rules")).unwrap();
    };
    release("v1", "v1");
    release("v2", "v2");
    switch("v1");
    let d = p.start();
    assert_eq!(answer(&d, "ping"), "v1");
    switch("v2");
    eventually("the switch to v2", || answer(&d, "ping"), |a| a == "v2");
    // A release made after start-up, and an edit inside the new target.
    release("v3", "v3");
    switch("v3");
    eventually("the switch to v3", || answer(&d, "ping"), |a| a == "v3");
    fs::write(root.join("releases/v3/a.toml"), rule("ping", "v3.1")).unwrap();
    eventually(
        "an edit in the new target",
        || answer(&d, "ping"),
        |a| a == "v3.1",
    );
}

#[test]
fn a_vanished_rules_directory_keeps_the_last_set_until_it_comes_back() {
    let p = project(100);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let d = p.start();
    let (rules, gone) = (p.dir.path().join("rules"), p.dir.path().join("rules.gone"));
    fs::rename(&rules, &gone).unwrap();
    let (_, h) = eventually("the failure", || healthz(&d), |(s, _)| *s == 503);
    assert_eq!(h["last_reload"]["result"], "unreadable");
    assert_eq!(answer(&d, "ping"), "v1");

    fs::write(gone.join("a.toml"), rule("ping", "v2")).unwrap();
    fs::rename(&gone, &rules).unwrap();
    eventually("the return", || answer(&d, "ping"), |a| a == "v2");
    assert_eq!(healthz(&d).0, 200);
}

#[test]
fn a_symlinked_rules_directory_whose_target_vanishes_is_reloaded_when_it_returns() {
    let p = project(100);
    let root = p.dir.path();
    fs::remove_dir(root.join("rules")).unwrap();
    let target = root.join("releases/current");
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("a.toml"), rule("ping", "v1")).unwrap();
    std::os::unix::fs::symlink(&target, root.join("rules")).unwrap();
    let d = p.start();
    assert_eq!(answer(&d, "ping"), "v1");

    // The target goes (a deploy that deletes and re-creates the release), the link stays.
    let gone = root.join("releases/current.gone");
    fs::rename(&target, &gone).unwrap();
    let (_, h) = eventually("the failure", || healthz(&d), |(s, _)| *s == 503);
    assert_eq!(h["last_reload"]["result"], "unreadable");
    assert_eq!(answer(&d, "ping"), "v1");

    fs::write(gone.join("a.toml"), rule("ping", "v2")).unwrap();
    fs::rename(&gone, &target).unwrap();
    eventually("the return", || answer(&d, "ping"), |a| a == "v2");
    assert_eq!(healthz(&d).0, 200);
    // And the watch follows the returned target.
    fs::write(target.join("a.toml"), rule("ping", "v3")).unwrap();
    eventually(
        "an edit after the return",
        || answer(&d, "ping"),
        |a| a == "v3",
    );
}

#[test]
fn healthz_names_the_git_commit_of_the_rules() {
    let p = project(100);
    p.rule_file("a.toml", &rule("ping", "v1"));
    let git = p.dir.path().join(".git");
    fs::create_dir_all(git.join("refs/heads")).unwrap();
    fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    let commit = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    fs::write(git.join("refs/heads/main"), format!("{commit}\n")).unwrap();
    let d = p.start();
    assert_eq!(healthz(&d).1["serving"]["commit"], commit);
}

/// Starts a daemon on 20,000 rules (their load takes a moment), sends it `signal` as soon as
/// it has read its config (while they load), and reads its log until a line contains `until`
/// or it exits. Returns the lines up to that one, whether it came, and how the daemon ended.
fn signal_during_the_load(signal: &str, until: &str) -> (Vec<String>, bool, ExitStatus) {
    let p = project(100);
    let rules: String = (0..20_000)
        .map(|i| {
            format!("[[rule]]\nid = \"r{i}\"\nmatch.exact = \"k{i}\"\nreply.text = \"v{i}\"\n")
        })
        .collect();
    p.rule_file("a.toml", &rules);
    let mut child = crate::util::replyd()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(p.config())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn replyd");
    let lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stderr.take().expect("stderr"),
    ));
    // If the daemon neither logs `until` nor exits, the test fails instead of hanging.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(120));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
    });
    let mut seen = Vec::new();
    let mut came = false;
    for line in lines {
        let line = line.expect("log line");
        if seen.is_empty() && line.contains("configuration read") {
            let status = std::process::Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        came = line.contains(until);
        seen.push(line);
        if came {
            break;
        }
    }
    if until != "stopped" {
        let _ = child.kill();
    }
    (seen, came, child.wait().unwrap())
}

#[test]
fn a_sighup_during_the_start_up_load_is_a_reload_not_the_end() {
    // The daemon must start, and reload once it serves.
    let (seen, reloaded, status) =
        signal_during_the_load("HUP", "rules reloaded (reload requested)");
    assert!(reloaded, "{status:?}\n{}", seen.join("\n"));
}

#[test]
fn a_sigterm_during_the_start_up_load_is_a_clean_stop_once_it_serves() {
    // Not the signal's default action on a half-started process, and not lost: the daemon
    // finishes starting, then stops as it would at any other time.
    let (seen, stopped, status) = signal_during_the_load("TERM", "stopped");
    assert!(stopped, "{status:?}\n{}", seen.join("\n"));
    assert!(
        seen.iter()
            .any(|l| l.contains("SIGTERM received, shutting down"))
    );
    assert!(status.success(), "{status:?}");
}
