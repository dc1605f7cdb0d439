//! Operating replyd: metrics, the admin listener, logs that keep secrets, graceful shutdown,
//! and `replyd send`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use replyd::protocol::crypto::Cipher;

use crate::util::Target as _;
use crate::util::{
    Daemon, Project, TOKEN, event_message, fields, replyd, request, safe_mode_request,
    signed_query, text_message, text_message_with_id, unique,
};

const RULES: &str = r#"
[[rule]]
id = "hello"
match.exact = "hello"
reply.text = "hi"

[[rule]]
id = "vip"
match.prefix = "vip"
reply.transfer = { kf_account = "kf1@gh_x" }

[[rule]]
id = "quiet"
match.event = "CLICK"
reply.none = true
"#;

/// `/metrics` parsed: `name{labels}` → value.
fn scrape(addr: std::net::SocketAddr) -> HashMap<String, f64> {
    let r = request(addr, "GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.headers["content-type"].starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    r.body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (
                name.to_owned(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

#[test]
fn metrics_count_what_happened() {
    let p = Project::new("reload_settle_ms = 100");
    p.rule_file("a.toml", RULES);
    let d = p.start();
    let id = unique();
    d.post(&text_message_with_id("hello", id));
    d.post(&text_message_with_id("hello", id)); // a retry
    d.post(&text_message("vip me"));
    d.post(&text_message("nothing matches"));
    d.post(&event_message("CLICK", Some("K")));
    d.post(&event_message("unsubscribe", None));
    request(
        d.addr,
        "POST",
        "/wechat?signature=bad&timestamp=1&nonce=2",
        &[],
        b"<xml/>",
    );
    request(
        d.addr,
        "POST",
        &format!("/wechat?{}", signed_query(TOKEN)),
        &[],
        b"not xml",
    );
    request(d.addr, "PUT", "/wechat", &[], b"");
    // A made-up MsgType is counted as `other`: clients cannot mint metric series.
    d.post(&text_message("x").replace(
        "<MsgType><![CDATA[text]]></MsgType>",
        "<MsgType>made_up_type_123</MsgType>",
    ));
    std::fs::write(p.dir.path().join("rules/b.toml"), "[[rule]\n").unwrap();
    d.wait_for_log("reload rejected");

    let m = scrape(d.addr);
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in {m:#?}"))
    };
    assert_eq!(
        get("replyd_messages_total{msg_type=\"text\"}"),
        3.0,
        "the retry is counted once"
    );
    assert_eq!(get("replyd_messages_total{msg_type=\"event\"}"), 2.0);
    assert_eq!(get("replyd_messages_total{msg_type=\"other\"}"), 1.0);
    assert!(!m.keys().any(|k| k.contains("made_up_type_123")), "{m:#?}");
    assert_eq!(get("replyd_retries_total"), 1.0);
    assert_eq!(get("replyd_rule_answers_total{rule=\"hello\"}"), 1.0);
    assert_eq!(get("replyd_rule_answers_total{rule=\"quiet\"}"), 1.0);
    assert_eq!(get("replyd_replies_total{kind=\"text\"}"), 1.0);
    assert_eq!(get("replyd_replies_total{kind=\"success\"}"), 2.0);
    assert_eq!(
        get("replyd_replies_total{kind=\"transfer_customer_service\"}"),
        3.0
    );
    assert_eq!(get("replyd_transfers_total{kf_account=\"kf1@gh_x\"}"), 1.0);
    assert_eq!(get("replyd_transfers_total{kf_account=\"\"}"), 2.0);
    assert_eq!(get("replyd_fall_throughs_total{to=\"transfer\"}"), 2.0);
    assert_eq!(get("replyd_fall_throughs_total{to=\"success\"}"), 1.0);
    assert_eq!(
        get("replyd_signature_failures_total{signature=\"signature\"}"),
        1.0
    );
    assert_eq!(get("replyd_bad_requests_total{reason=\"no_root\"}"), 1.0);
    assert_eq!(get("replyd_bad_requests_total{reason=\"method\"}"), 1.0);
    assert_eq!(get("replyd_reloads_total{result=\"rejected\"}"), 1.0);
    assert_eq!(get("replyd_last_reload_success"), 0.0);
    assert!(get("replyd_last_reload_timestamp_seconds") > 1.7e9);
    assert_eq!(get("replyd_rules"), 3.0);
    assert_eq!(get("replyd_rules_generation"), 1.0);
    assert_eq!(
        get("replyd_request_duration_seconds_count"),
        9.0,
        "every POST is timed"
    );
    assert!(m.contains_key("process_resident_memory_bytes"), "{m:#?}");

    // Every metric the shipped Grafana dashboard queries exists.
    let dashboard =
        std::fs::read_to_string(crate::util::repo().join("examples/grafana/replyd-dashboard.json"))
            .unwrap();
    for name in dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("replyd_") || w.starts_with("process_"))
    {
        assert!(
            m.keys().any(|k| k.starts_with(name)),
            "the dashboard queries {name}, which /metrics lacks"
        );
    }
}

#[test]
fn the_admin_listener_takes_healthz_and_metrics_off_the_public_port() {
    let p = Project::new("admin_listen = \"127.0.0.1:0\"");
    p.rule_file("a.toml", RULES);
    let d = p.start();
    let admin = d.admin_addr().expect("the admin address is logged");
    assert_eq!(request(d.addr, "GET", "/metrics", &[], b"").status, 404);
    assert_eq!(request(d.addr, "GET", "/healthz", &[], b"").status, 404);
    assert_eq!(request(admin, "GET", "/healthz", &[], b"").status, 200);
    assert!(scrape(admin).contains_key("replyd_rules"));
    // The webhook is not on the admin listener.
    let q = signed_query(TOKEN);
    assert_eq!(
        request(
            admin,
            "POST",
            &format!("/wechat?{q}"),
            &[],
            text_message("hello").as_bytes()
        )
        .status,
        404
    );
    assert_eq!(
        fields(&d.post(&text_message("hello")).body)["xml/Content"],
        "hi"
    );
}

/// What a client puts in a message (plaintext mode does not sign the body) reaches the log as
/// field values: they must not be able to start a line of their own or pose as another field.
#[test]
fn message_fields_cannot_forge_log_lines() {
    let p = Project::new("");
    p.rule_file("a.toml", RULES);
    let d = p.start();
    let forged = "oX\n2020-01-01T00:00:00.000000Z  INFO replyd: forged rule=admin";
    let xml = format!(
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>\
         <FromUserName><![CDATA[{forged}]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[x rule=admin]]></MsgType>\
         <MsgId>{}</MsgId></xml>",
        unique()
    );
    assert_eq!(d.post(&xml).status, 200);
    let log = d.wait_for_log("answered");
    let line = log
        .lines()
        .find(|l| l.contains("answered"))
        .expect("the access line");
    assert!(
        line.contains(r#"from="oX\n2020-01-01T00:00:00.000000Z  INFO replyd: forged rule=admin""#)
            && line.contains(r#"msg_type="x rule=admin""#)
            && line.contains(" rule=- "),
        "{line}"
    );
    assert!(!log.lines().any(|l| l.starts_with("2020")), "{log}");
}

#[test]
fn a_clients_long_values_are_cut_short_in_the_log() {
    let p = Project::new("");
    p.rule_file("a.toml", RULES);
    let d = p.start();
    let long = "t".repeat(20_000);
    let xml = format!(
        "<xml><ToUserName>gh_account</ToUserName><FromUserName>oFollower</FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType>{long}</MsgType><MsgId>{}</MsgId></xml>",
        unique()
    );
    assert_eq!(d.post(&xml).status, 200);
    let log = d.wait_for_log("answered");
    let line = log
        .lines()
        .find(|l| l.contains("answered"))
        .expect("the access line");
    assert!(line.len() < 400, "{} bytes: {line}", line.len());
    assert!(
        line.contains(&format!("msg_type={}…", "t".repeat(32))),
        "{line}"
    );
}

#[test]
fn secrets_never_reach_the_log_and_openids_can_be_masked() {
    const SECRET_TOKEN: &str = "Tok3nThatMustNotLeak";
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF0";
    for format in ["text", "json"] {
        let p = Project::new("");
        std::fs::write(
            p.config(),
            format!(
                "token = \"{SECRET_TOKEN}\"\nrules = \"rules\"\napp_id = \"wx1\"\nencoding_aes_key = \"{KEY}\"\nmask_openids = true\n"
            ),
        )
        .unwrap();
        p.rule_file("a.toml", RULES);
        let d = Daemon::start(&[
            "--log-format",
            format,
            "--config",
            p.config().to_str().unwrap(),
        ]);
        let post = |query: String, body: &str| d.post_with(&query, body);
        post(signed_query(SECRET_TOKEN), &text_message("hello"));
        post(signed_query("wrong"), &text_message("hello"));
        post(
            format!("signature={SECRET_TOKEN}&timestamp=1&nonce=1"),
            "<xml/>",
        );
        let cipher = Cipher::new(KEY, "wx1").unwrap();
        let (q, b) = safe_mode_request(SECRET_TOKEN, &cipher.encrypt(&text_message("hello")));
        post(q, &b);
        let (q, b) = safe_mode_request(SECRET_TOKEN, "AAAA");
        post(q, &b);
        let log = d.wait_for_log("cannot decrypt");
        assert!(log.contains("answered"), "{log}");
        assert!(
            !log.contains(SECRET_TOKEN),
            "the token leaked ({format}):\n{log}"
        );
        assert!(!log.contains(KEY), "the AES key leaked ({format}):\n{log}");
        assert!(
            !log.contains("oFollower"),
            "the OpenID is masked ({format}):\n{log}"
        );
        assert!(
            log.contains("~"),
            "a masked follower id is logged ({format}):\n{log}"
        );
        if format == "json" {
            let line = log.lines().find(|l| l.contains("answered")).unwrap();
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON log lines");
            assert_eq!(v["fields"]["rule"], "hello", "{line}");
        }
    }
}

#[test]
fn sigterm_during_a_request_still_answers_it() {
    let p = Project::new("");
    p.rule_file("a.toml", RULES);
    let mut d = p.start();
    let body = text_message("hello");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(d.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        signed_query(TOKEN),
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    // The request is in flight: the daemon has its head and half its body.
    std::thread::sleep(Duration::from_millis(200));
    d.signal("TERM");
    d.wait_for_log("SIGTERM received");
    // New connections are no longer accepted...
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        TcpStream::connect(d.addr).is_err() || request_fails(d.addr),
        "the listener is closed"
    );
    // ...but the request in flight is finished and answered.
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("<Content><![CDATA[hi]]></Content>"),
        "{response}"
    );
    let status = d
        .wait_exit(Duration::from_secs(30))
        .expect("the daemon exits");
    assert!(status.success(), "{status:?}");
    d.wait_for_log("every request in flight was answered");
}

fn request_fails(addr: std::net::SocketAddr) -> bool {
    std::panic::catch_unwind(|| request(addr, "GET", "/healthz", &[], b"")).is_err()
}

#[test]
fn replyd_send_plays_wechat_in_plaintext_and_safe_mode() {
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let p = Project::new(&format!("app_id = \"wx1\"\nencoding_aes_key = \"{KEY}\""));
    p.rule_file("a.toml", RULES);
    let d = p.start();
    let url = format!("http://{}/wechat", d.addr);
    let send = |args: &[&str]| {
        replyd()
            .arg("send")
            .args(["--config", p.config().to_str().unwrap(), "--url", &url])
            .args(args)
            .output()
            .expect("run replyd send")
    };
    for extra in [&[][..], &["--plaintext"][..]] {
        let out = send(&[extra, &["hello"]].concat());
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stdout.contains("<Content><![CDATA[hi]]></Content>"),
            "{stdout}\n{stderr}"
        );
    }
    let out = send(&["--event", "CLICK", "--key", "K"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "success");
    assert!(String::from_utf8_lossy(&out.stderr).contains("safe mode"));
    // A daemon that is not there: exit 2 and a message.
    let out = replyd()
        .args([
            "send",
            "--config",
            p.config().to_str().unwrap(),
            "--url",
            "http://127.0.0.1:1/wechat",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    // `replyd lint | head -1`: the reader closes the pipe; lint neither fails nor complains.
    // 2,000 disabled rules are 2,000 warnings: far more JSON than a pipe holds, so the write
    // meets the closed pipe whenever it happens.
    let p = Project::new("");
    let rules: String = (0..2_000)
        .map(|i| {
            format!("[[rule]]\nid = \"r{i}\"\nenabled = false\nmatch.exact = \"k{i}\"\nreply.text = \"v\"\n")
        })
        .collect();
    p.rule_file("a.toml", &rules);
    let mut child = replyd()
        .args(["lint", "--format", "json"])
        .arg(p.dir.path().join("rules"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run replyd");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}
