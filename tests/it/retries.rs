//! WeChat's retries: the same message delivered again gets exactly the first answer, once.

use std::time::{Duration, Instant};

use replyd::protocol::crypto::Cipher;

use crate::util::Target as _;
use crate::util::{
    Project, TOKEN, event_message_at, fields, request, safe_mode_request, text_message,
    text_message_with_id, unique,
};

fn rule(reply: &str) -> String {
    format!(
        "[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreply.text = \"{reply}\"\n\
         [[rule]]\nid = \"menu\"\nmatch.event = \"CLICK\"\nreply.text = \"{reply}\"\n"
    )
}

#[test]
fn a_retry_gets_the_first_answer_even_after_a_reload() {
    let p = Project::new("reload_settle_ms = 100");
    p.rule_file("a.toml", &rule("v1"));
    let d = p.start();
    let id = unique();
    let first = d.post(&text_message_with_id("ping", id)).body;
    assert_eq!(fields(&first)["xml/Content"], "v1");
    // A retry before the reload: the very same bytes, CreateTime included.
    assert_eq!(d.post(&text_message_with_id("ping", id)).body, first);

    std::fs::write(p.dir.path().join("rules/a.toml"), rule("v2")).unwrap();
    let start = Instant::now();
    while fields(&d.post(&text_message("ping")).body)["xml/Content"] != "v2" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reload never landed"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    // A retry after the reload still gets what the first delivery got.
    assert_eq!(d.post(&text_message_with_id("ping", id)).body, first);
    let log = d.wait_for_log("retry=true");
    assert!(log.contains("retry=true"), "{log}");
}

#[test]
fn an_event_retry_is_the_same_follower_time_event_and_key() {
    let p = Project::new("");
    p.rule_file("a.toml", &rule("menu"));
    let d = p.serve();
    let t = unique();
    let first = d.post(&event_message_at("CLICK", Some("A"), t)).body;
    // Two seconds later on the server's clock: a fresh answer would carry another CreateTime.
    d.clock.advance(Duration::from_secs(2));
    assert_eq!(
        d.post(&event_message_at("CLICK", Some("A"), t)).body,
        first,
        "a retry"
    );
    let other_key = d.post(&event_message_at("CLICK", Some("B"), t)).body;
    let other_time = d.post(&event_message_at("CLICK", Some("A"), t + 1)).body;
    // Fresh answers carry a fresh CreateTime (a second later than the first).
    assert_ne!(
        fields(&other_key)["xml/CreateTime"],
        fields(&first)["xml/CreateTime"]
    );
    assert_ne!(
        fields(&other_time)["xml/CreateTime"],
        fields(&first)["xml/CreateTime"]
    );
    // Past the window (60 seconds by default) the same delivery is a new message.
    d.clock.advance(Duration::from_secs(61));
    assert_ne!(
        d.post(&event_message_at("CLICK", Some("A"), t)).body,
        first,
        "after the window"
    );
}

#[test]
fn concurrent_duplicates_are_answered_once() {
    let p = Project::new("");
    p.rule_file("a.toml", &rule("v1"));
    let d = p.start();
    let id = unique();
    let addr = d.addr;
    let threads: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(move || {
                let query = crate::util::signed_query(TOKEN);
                request(
                    addr,
                    "POST",
                    &format!("/wechat?{query}"),
                    &[],
                    text_message_with_id("ping", id).as_bytes(),
                )
                .body
            })
        })
        .collect();
    let bodies: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:#?}");
    // Ten deliveries, one computed answer: wait until all ten are logged, then count.
    let start = Instant::now();
    while d.log().matches("rule=ping").count() < 10 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = d.log();
    assert_eq!(log.matches("retry=false").count(), 1, "{log}");
    assert_eq!(log.matches("retry=true").count(), 9, "{log}");
}

#[test]
fn a_safe_mode_retry_gets_the_same_reply_encrypted_afresh() {
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APP_ID: &str = "wx2c2769f8efd9abc2";
    let p = Project::new(&format!(
        "app_id = \"{APP_ID}\"\nencoding_aes_key = \"{KEY}\""
    ));
    p.rule_file("a.toml", &rule("v1"));
    let d = p.serve();
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    let encrypt = cipher.encrypt_with(&text_message_with_id("ping", unique()), b"0123456789abcdef");
    let post = || {
        let (query, body) = safe_mode_request(TOKEN, &encrypt);
        d.post_with(&query, &body).body
    };
    let (a, b) = (post(), post());
    let (ea, eb) = (
        fields(&a)["xml/Encrypt"].clone(),
        fields(&b)["xml/Encrypt"].clone(),
    );
    assert_ne!(ea, eb, "each reply is encrypted afresh");
    assert_eq!(
        cipher.decrypt(&ea).unwrap(),
        cipher.decrypt(&eb).unwrap(),
        "around the same plaintext"
    );
}

#[test]
fn an_earlier_message_with_the_victims_msg_id_does_not_decide_their_answer() {
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APP_ID: &str = "wx2c2769f8efd9abc2";
    let p = Project::new(&format!(
        "app_id = \"{APP_ID}\"\nencoding_aes_key = \"{KEY}\""
    ));
    p.rule_file(
        "a.toml",
        "[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreply.text = \"pong\"\n\
         [[rule]]\nid = \"evil\"\nmatch.exact = \"evil\"\nreply.text = \"phish here\"\n",
    );
    let d = p.serve();
    let id = unique();
    // The attacker posts in plaintext (unsigned bodies), as the victim, with the next MsgId.
    let forged = d.post(&text_message_with_id("evil", id)).body;
    assert_eq!(fields(&forged)["xml/Content"], "phish here");
    // The victim's real message, encrypted as WeChat sends it, gets its own answer...
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    let encrypt = cipher.encrypt_with(&text_message_with_id("ping", id), b"0123456789abcdef");
    let (query, body) = safe_mode_request(TOKEN, &encrypt);
    let real = d.post_with(&query, &body).body;
    let plain = cipher.decrypt(&fields(&real)["xml/Encrypt"]).unwrap();
    assert_eq!(fields(&plain)["xml/Content"], "pong");
    // ...and so does a plaintext one with the same MsgId but other content.
    let other = d.post(&text_message_with_id("ping", id)).body;
    assert_eq!(fields(&other)["xml/Content"], "pong");
}
