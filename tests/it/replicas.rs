//! Replicas sharing a real Redis (`redis.rs`): a retry reaching the other replica, a forward
//! called once across replicas, a cooldown on every replica, and Redis lost and back under
//! traffic with every message answered.

use std::time::{Duration, Instant};

use crate::backend::{Backend, Behaviour};
use crate::redis::Redis;
use crate::util::{
    Daemon, Project, Server, Target, fields, request, text_message, text_message_with_id, unique,
};

/// A replica's project: `rules` and `extra` config lines, sharing `redis`.
fn replica(redis: &Redis, rules: &str, extra: &str) -> Project {
    let p = Project::new(&format!("redis_url = \"{}\"\n{extra}", redis.url()));
    p.rule_file("a.toml", rules);
    p
}

fn hello(answer: &str) -> String {
    format!("[[rule]]\nid = \"hello\"\nmatch.exact = \"hello\"\nreply.text = \"{answer}\"\n")
}

fn content(body: &str) -> String {
    fields(body).get("xml/Content").cloned().unwrap_or_default()
}

fn metrics(t: &impl Target) -> String {
    request(t.addr(), "GET", "/metrics", &[], b"").body
}

fn healthz(t: &impl Target) -> serde_json::Value {
    let r = request(t.addr(), "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).expect("healthz is JSON")
}

/// Waits (up to 10 s) until `/healthz` says `redis` is `state`.
fn wait_for_redis(t: &impl Target, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = healthz(t);
        if h["redis"] == state {
            return h;
        }
        assert!(Instant::now() < deadline, "redis never became {state}: {h}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_retry_on_the_other_replica_gets_the_first_answer() {
    let Some(redis) = Redis::start() else { return };
    // The replicas' rules differ only so the test can tell whose answer a follower got.
    let (pa, pb) = (
        replica(&redis, &hello("from A"), ""),
        replica(&redis, &hello("from B"), ""),
    );
    let (a, b) = (pa.serve(), pb.serve());
    let message = text_message_with_id("hello", unique());
    let first = a.post(&message);
    assert_eq!(content(&first.body), "from A");
    let retry = b.post(&message);
    assert_eq!(retry.status, 200);
    assert_eq!(
        retry.body, first.body,
        "the retry gets A's answer, byte for byte"
    );
    let mb = metrics(&b);
    assert!(mb.contains("replyd_retries_total 1"), "{mb}");
    assert!(
        !mb.contains("replyd_messages_total{"),
        "counted once, on A: {mb}"
    );
    // Another message on B is B's own.
    assert_eq!(content(&b.post(&text_message("hello")).body), "from B");
    assert_eq!(healthz(&a)["redis"], "ok");
    assert!(metrics(&a).contains("replyd_redis_up 1"));
}

#[test]
fn a_forward_in_flight_is_called_once_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let backend = Backend::start(
        Behaviour::Slow(Duration::from_millis(1500), Box::new(Behaviour::Reply)),
        None,
    );
    let rules = "[[rule]]\nid = \"bind\"\nmatch.prefix = \"bind\"\nreply.upstream = \"app\"\n";
    let upstream = format!(
        "[[upstream]]\nname = \"app\"\nurl = \"{}\"\n",
        backend.url()
    );
    let (pa, pb) = (
        replica(&redis, rules, &upstream),
        replica(&redis, rules, &upstream),
    );
    let (a, b) = (pa.serve(), pb.serve());
    let message = text_message_with_id("bind 42", unique());
    let first = std::thread::scope(|s| {
        let first = s.spawn(|| a.post(&message));
        // WeChat gives up on the first delivery and retries to the other replica while the
        // backend is still answering: the claim is in Redis by then.
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.command("DBSIZE").as_deref() != Some(":1") {
            assert!(
                Instant::now() < deadline,
                "the first delivery never claimed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let retry = b.post(&message);
        let first = first.join().expect("first delivery");
        assert_eq!(retry.body, first.body, "the retry relays the same answer");
        first
    });
    assert_eq!(content(&first.body), "backend: bind 42");
    assert_eq!(backend.seen().len(), 1, "the backend is called once");
    let mb = metrics(&b);
    assert!(
        mb.contains("replyd_redis_waits_total{outcome=\"answered\"} 1"),
        "{mb}"
    );
    assert!(
        mb.contains("replyd_upstream_requests_total{outcome=\"ok\",upstream=\"app\"} 0"),
        "B did not forward: {mb}"
    );
}

#[test]
fn a_cooldown_holds_on_every_replica() {
    let Some(redis) = Redis::start() else { return };
    let rules = r#"
[[rule]]
id = "coupon"
match.exact = "coupon"
priority = 10
cooldown = "1h"
reply.text = "here is your coupon"

[[rule]]
id = "already"
match.exact = "coupon"
reply.text = "you have one already"
"#;
    let (pa, pb) = (replica(&redis, rules, ""), replica(&redis, rules, ""));
    let (a, b) = (pa.serve(), pb.serve());
    let first = text_message("coupon");
    assert_eq!(content(&a.post(&first).body), "here is your coupon");
    // WeChat's retry reaches B five seconds later: it gets A's answer and does not restart
    // the cooldown (which would lengthen it past the hour).
    b.clock.advance(Duration::from_secs(5));
    assert_eq!(content(&b.post(&first).body), "here is your coupon");
    assert_eq!(
        content(&b.post(&text_message("coupon")).body),
        "you have one already",
        "B knows A's cooldown"
    );
    // The hash expires with the cooldown (Redis's own clock): about an hour.
    let key = "replyd:7:default:cooldown:9:oFollower";
    let ttl: i64 = redis
        .command(&format!("TTL {key}"))
        .and_then(|l| l.trim_start_matches(':').parse().ok())
        .expect("a TTL");
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    // An hour later, on B's clock, the cooldown is over there too.
    b.clock.advance(Duration::from_secs(3595));
    assert_eq!(
        content(&b.post(&text_message("coupon")).body),
        "here is your coupon"
    );
}

#[test]
fn redis_lost_and_back_under_traffic_loses_no_message() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let (pa, pb) = (
        replica(&redis, &hello("from A"), ""),
        replica(&redis, &hello("from B"), ""),
    );
    // The real binary, end to end.
    let (a, b) = (pa.start(), pb.start());
    let replicas: [&Daemon; 2] = [&a, &b];
    let mut sent = 0;
    let mut traffic = |n: usize| {
        for i in 0..n {
            let r = replicas[i % 2].post(&text_message("hello"));
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(content(&r.body).starts_with("from "), "{}", r.body);
            sent += 1;
        }
    };
    traffic(20);
    redis.stop();
    traffic(20);
    for r in replicas {
        let h = wait_for_redis(r, "degraded");
        assert!(h["redis_degraded_since"].is_string(), "{h}");
    }
    traffic(20);
    let m = metrics(&a);
    assert!(m.contains("replyd_redis_up 0"), "{m}");
    assert!(m.contains("replyd_redis_errors_total{op="), "{m}");
    // While degraded, a retry on the other replica is answered there (no message lost).
    let message = text_message_with_id("hello", unique());
    assert_eq!(content(&a.post(&message).body), "from A");
    assert_eq!(content(&b.post(&message).body), "from B");

    redis.restart();
    for r in replicas {
        wait_for_redis(r, "ok");
    }
    traffic(20);
    assert_eq!(sent, 80);
    // Sharing resumed by itself.
    let message = text_message_with_id("hello", unique());
    assert_eq!(content(&b.post(&message).body), "from B");
    assert_eq!(content(&a.post(&message).body), "from B");
    a.wait_for_log("Redis answers again");
}

#[test]
fn a_replica_starts_while_redis_is_down() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let p = replica(&redis, &hello("hi"), "");
    redis.stop();
    let s: Server = p.serve();
    assert_eq!(content(&s.post(&text_message("hello")).body), "hi");
    wait_for_redis(&s, "degraded");
    redis.restart();
    wait_for_redis(&s, "ok");
    assert_eq!(content(&s.post(&text_message("hello")).body), "hi");
}
