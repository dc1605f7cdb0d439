//! replyd in front of an existing backend: forwards, relays, failures, events, copies and
//! coalesced retries, against a real backend server (`backend.rs`) on a loopback port.

use std::time::{Duration, Instant};

use replyd::protocol::crypto::Cipher;

use crate::backend::{Backend, Behaviour};
use crate::util::{
    Project, Server, TOKEN, Target, event_message, event_message_at, fields, request,
    safe_mode_request, signed_query, text_message, text_message_with_id, unique,
};

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wx2c2769f8efd9abc2";

const RULES: &str = r#"
[[rule]]
id = "hello"
match.exact = "hello"
reply.text = "hi from the rules"

[[rule]]
id = "bind"
match.prefix = "绑定"
reply.upstream = "app"

[[rule]]
id = "welcome"
match.event = "subscribe"
reply.text = "welcome"
"#;

/// A project whose one upstream is `backend`, with extra config lines.
fn project(backend: &Backend, upstream_extra: &str, extra: &str) -> Project {
    let p = Project::new(&format!(
        "{extra}\n[[upstream]]\nname = \"app\"\nurl = \"{}\"\n{upstream_extra}\n",
        backend.url()
    ));
    p.rule_file("a.toml", RULES);
    p
}

/// Posts like WeChat does, with its Content-Type.
fn post_xml(s: &Server, query: &str, body: &str) -> crate::util::Response {
    request(
        s.addr,
        "POST",
        &format!("/wechat?{query}"),
        &[
            ("Content-Type", "text/xml"),
            ("X-Forwarded-For", "203.0.113.7"),
        ],
        body.as_bytes(),
    )
}

fn metrics(s: &Server) -> String {
    request(s.addr, "GET", "/metrics", &[], b"").body
}

fn healthz(s: &Server) -> (u16, serde_json::Value) {
    let r = request(s.addr, "GET", "/healthz", &[], b"");
    (
        r.status,
        serde_json::from_str(&r.body).expect("healthz is JSON"),
    )
}

#[test]
fn a_rule_forwards_wechats_request_unchanged_and_relays_the_answer() {
    let backend = Backend::start(Behaviour::Reply, None);
    let p = project(&backend, "", "");
    let s = p.serve();
    let query = signed_query(TOKEN);
    let body = text_message("绑定 12345");
    let r = post_xml(&s, &query, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = backend.wait_for(1);
    assert_eq!(seen.len(), 1);
    let got = &seen[0];
    // What the backend received is WeChat's request: it verifies it as it would WeChat's.
    assert!(got.signed, "{got:?}");
    assert_eq!(got.query, query);
    assert_eq!(got.body, body);
    assert_eq!(got.content_type.as_deref(), Some("text/xml"));
    assert_eq!(got.reason.as_deref(), Some("rule=bind"));
    // The proxy in front of replyd said who WeChat was; replyd adds who it talked to.
    assert_eq!(got.forwarded_for.as_deref(), Some("203.0.113.7, 127.0.0.1"));
    // Its answer is WeChat's answer, byte for byte.
    assert_eq!(r.body, got.answered);
    assert_eq!(fields(&r.body)["xml/Content"], "backend: 绑定 12345");
    // A rule that answers itself calls nothing.
    let r = s.post(&text_message("hello"));
    assert_eq!(fields(&r.body)["xml/Content"], "hi from the rules");
    assert_eq!(backend.seen().len(), 1);
    let m = metrics(&s);
    assert!(
        m.contains(r#"replyd_upstream_requests_total{outcome="ok",upstream="app"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"replyd_replies_total{kind="upstream"} 1"#),
        "{m}"
    );
    let (status, h) = healthz(&s);
    assert_eq!(status, 200);
    assert_eq!(h["upstreams"][0]["name"], "app");
    assert!(h["upstreams"][0]["last_success"].is_string(), "{h}");
    assert!(h["upstreams"][0]["last_failure"].is_null(), "{h}");
}

#[test]
fn the_fall_through_goes_to_the_backend_for_messages_and_events() {
    let backend = Backend::start(Behaviour::Reply, None);
    let p = project(
        &backend,
        "",
        "[fall_through]\nmessages = \"upstream:app\"\nevents = \"upstream:app\"\n",
    );
    let s = p.serve();
    let r = s.post(&text_message("随便聊聊"));
    assert_eq!(fields(&r.body)["xml/Content"], "backend: 随便聊聊");
    let r = s.post(&event_message("CLICK", Some("MENU_X")));
    assert_eq!(fields(&r.body)["xml/Content"], "backend: CLICK");
    let seen = backend.wait_for(2);
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.reason.as_deref() == Some("fall-through"))
    );
    // `success` and an empty answer are relayed too.
    backend.set(Behaviour::Success);
    assert_eq!(s.post(&text_message("more")).body, "success");
    backend.set(Behaviour::Empty);
    let r = s.post(&text_message("and more"));
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let m = metrics(&s);
    assert!(
        m.contains(r#"replyd_fall_throughs_total{to="upstream"} 4"#),
        "{m}"
    );
}

#[test]
fn a_failing_backend_still_gets_the_follower_an_answer() {
    let backend = Backend::start(Behaviour::Reply, None);
    let p = project(
        &backend,
        "timeout_ms = 300",
        "max_body_bytes = 4096\n[fall_through]\nmessages = \"upstream:app\"\nevents = \"upstream:app\"\n",
    );
    let s = p.serve();
    for (behaviour, outcome) in [
        (
            Behaviour::Slow(Duration::from_secs(3), Box::new(Behaviour::Reply)),
            "timeout",
        ),
        (Behaviour::Status(500), "error_status"),
        (Behaviour::Status(302), "error_status"),
        (Behaviour::Garbage, "invalid"),
        (Behaviour::Oversized(10_000), "invalid"),
    ] {
        backend.set(behaviour.clone());
        let started = Instant::now();
        let r = s.post(&text_message("随便聊聊"));
        let took = started.elapsed();
        assert_eq!(r.status, 200, "{behaviour:?}");
        assert_eq!(
            fields(&r.body)["xml/MsgType"],
            "transfer_customer_service",
            "{behaviour:?}: a message is handed over"
        );
        assert!(
            took < Duration::from_secs(2),
            "{behaviour:?}: answered within the timeout, not the backend's 3 s"
        );
        let r = s.post(&event_message("CLICK", Some("K")));
        assert_eq!(r.body, "success", "{behaviour:?}: an event gets success");
        let m = metrics(&s);
        assert!(
            m.contains(&format!(
                r#"replyd_upstream_requests_total{{outcome="{outcome}",upstream="app"}}"#
            )),
            "{m}"
        );
        let (status, h) = healthz(&s);
        assert_eq!(status, 200, "replyd still answers: healthy");
        assert_eq!(h["upstreams"][0]["last_failure"]["outcome"], outcome, "{h}");
    }
    let m = metrics(&s);
    assert!(
        m.contains(r#"replyd_upstream_requests_total{outcome="timeout",upstream="app"} 2"#),
        "{m}"
    );
    assert!(
        m.contains(r#"replyd_upstream_requests_total{outcome="invalid",upstream="app"} 4"#),
        "{m}"
    );
}

#[test]
fn a_backend_that_is_not_there_is_refused_and_the_message_handed_over() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Project::new(&format!(
        "[[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:{port}/wechat\"\n\
         [fall_through]\nmessages = \"upstream:app\"\n"
    ));
    p.rule_file("a.toml", RULES);
    let s = p.serve();
    let r = s.post(&text_message("绑定 1"));
    assert_eq!(fields(&r.body)["xml/MsgType"], "transfer_customer_service");
    let m = metrics(&s);
    assert!(
        m.contains(r#"replyd_upstream_requests_total{outcome="refused",upstream="app"} 1"#),
        "{m}"
    );
    let (_, h) = healthz(&s);
    assert_eq!(h["upstreams"][0]["last_failure"]["outcome"], "refused");
}

#[test]
fn a_retry_while_the_forward_is_in_flight_waits_for_it() {
    let backend = Backend::start(
        Behaviour::Slow(Duration::from_millis(600), Box::new(Behaviour::Reply)),
        None,
    );
    let p = project(&backend, "", "");
    let s = p.serve();
    let body = text_message_with_id("绑定 777", unique());
    let addr = s.addr;
    // WeChat's retry arrives while the first delivery is still being answered.
    let deliveries: Vec<_> = (0..3)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                request(
                    addr,
                    "POST",
                    &format!("/wechat?{}", signed_query(TOKEN)),
                    &[],
                    body.as_bytes(),
                )
            })
        })
        .collect();
    let answers: Vec<String> = deliveries
        .into_iter()
        .map(|t| t.join().unwrap().body)
        .collect();
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "every delivery gets the same answer: {answers:?}"
    );
    assert_eq!(fields(&answers[0])["xml/Content"], "backend: 绑定 777");
    // And a retry after it was answered gets it from the cache.
    assert_eq!(s.post(&body).body, answers[0]);
    assert_eq!(backend.seen().len(), 1, "the backend sees the message once");
}

#[test]
fn events_are_copied_to_the_backend_even_when_a_rule_answers_them() {
    let backend = Backend::start(Behaviour::Success, None);
    let p = project(
        &backend,
        "copy_events = [\"subscribe\", \"unsubscribe\"]",
        "[fall_through]\nevents = \"upstream:app\"\n",
    );
    let s = p.serve();
    // A rule answers subscribe; the backend still gets a copy, after the answer.
    let r = s.post(&event_message("subscribe", None));
    assert_eq!(fields(&r.body)["xml/Content"], "welcome");
    let seen = backend.wait_for(1);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].reason.as_deref(), Some("copy"));
    assert!(seen[0].signed);
    // unsubscribe is copied and falls through to the same upstream: it is sent once, as the
    // forward.
    let r = s.post(&event_message("unsubscribe", None));
    assert_eq!(r.body, "success");
    // A third event is copied after it: once its copy has arrived, the queue (in order) held
    // no copy of unsubscribe.
    let at = unique();
    let r = s.post(&event_message_at("subscribe", None, at));
    assert_eq!(fields(&r.body)["xml/Content"], "welcome");
    let seen = backend.wait_for(3);
    let reasons: Vec<_> = seen.iter().map(|s| s.reason.clone().unwrap()).collect();
    assert_eq!(reasons, ["copy", "fall-through", "copy"]);
    // A retry of an event copies nothing again: the next copy is the next event's.
    s.post(&event_message_at("subscribe", None, at));
    s.post(&event_message("subscribe", None));
    let seen = backend.wait_for(4);
    assert_eq!(seen.len(), 4);
    assert_ne!(
        seen[3].body, seen[2].body,
        "the fourth request is the new event"
    );
    // The copy task counts a copy once the backend has answered it.
    let counted = r#"replyd_upstream_copies_total{outcome="sent",upstream="app"} 3"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !metrics(&s).contains(counted) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let m = metrics(&s);
    assert!(m.contains(counted), "{m}");
}

#[test]
fn safe_mode_is_relayed_as_the_backend_encrypted_it() {
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    let backend = Backend::start(Behaviour::Reply, Some(Cipher::new(KEY, APP_ID).unwrap()));
    let p = project(
        &backend,
        "timeout_ms = 300",
        &format!(
            "app_id = \"{APP_ID}\"\nencoding_aes_key = \"{KEY}\"\n[fall_through]\nmessages = \"upstream:app\"\n"
        ),
    );
    let s = p.serve();
    let encrypt = cipher.encrypt_with(&text_message("绑定 safe"), b"0123456789abcdef");
    let (query, body) = safe_mode_request(TOKEN, &encrypt);
    let r = post_xml(&s, &query, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = backend.wait_for(1);
    assert!(
        seen[0].signed,
        "the backend checks msg_signature: {:?}",
        seen[0]
    );
    assert!(
        seen[0]
            .plaintext
            .as_deref()
            .is_some_and(|x| x.contains("绑定 safe")),
        "the backend decrypts it with the account's key: {:?}",
        seen[0]
    );
    assert_eq!(seen[0].query, query);
    assert_eq!(seen[0].body, body);
    // Relayed unchanged: replyd does not encrypt it again.
    assert_eq!(r.body, seen[0].answered);
    let reply = cipher
        .decrypt(&fields(&r.body)["xml/Encrypt"])
        .expect("the backend's reply decrypts");
    assert_eq!(fields(&reply)["xml/Content"], "backend: 绑定 safe");
    // When the backend fails, replyd's own hand-over is encrypted as usual.
    backend.set(Behaviour::Status(503));
    let encrypt = cipher.encrypt_with(&text_message("绑定 down"), b"0123456789abcdef");
    let (query, body) = safe_mode_request(TOKEN, &encrypt);
    let r = post_xml(&s, &query, &body);
    let reply = cipher
        .decrypt(&fields(&r.body)["xml/Encrypt"])
        .expect("replyd's reply decrypts");
    assert_eq!(fields(&reply)["xml/MsgType"], "transfer_customer_service");
}

#[test]
fn a_rule_naming_an_upstream_the_config_lacks_is_refused() {
    let p = Project::new("");
    p.rule_file("a.toml", RULES);
    let out = crate::util::replyd()
        .args(["lint", "--config"])
        .arg(p.config())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("error[unknown-upstream]: no [[upstream]] is named `app`"),
        "{stdout}"
    );
    assert!(stdout.contains("a.toml:10:18"), "{stdout}");
}

#[test]
fn shutdown_sends_the_copies_still_queued() {
    let backend = Backend::start(
        Behaviour::Slow(Duration::from_millis(300), Box::new(Behaviour::Success)),
        None,
    );
    let p = project(&backend, "copy_events = [\"subscribe\"]", "");
    let s = p.serve();
    for _ in 0..3 {
        let r = s.post(&event_message("subscribe", None));
        assert_eq!(fields(&r.body)["xml/Content"], "welcome");
    }
    // Stopping the server (as SIGTERM does) drains the queue within shutdown_timeout_secs.
    drop(s);
    let seen = backend.seen();
    assert_eq!(
        seen.len(),
        3,
        "every queued copy was sent before the server stopped"
    );
    assert!(seen.iter().all(|s| s.reason.as_deref() == Some("copy")));
}
