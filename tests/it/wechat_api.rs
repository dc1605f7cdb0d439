//! Talking to WeChat, against a fake of its API (`wechat.rs`): several replies per message,
//! the access token's cache, offline hand-overs, and importing the console's auto-reply.

use std::time::Duration;

use crate::util::{
    Project, Server, Target, fields, replyd, request, text_message, text_message_with_id, unique,
};
use crate::wechat::{APP_SECRET, FakeWechat, wait};

const RULES: &str = r#"
[[rule]]
id = "welcome-pack"
match.exact = "礼包"
reply.all = [
  { text = "欢迎！礼包如下：" },
  { text = "第二条" },
  { image = { media_id = "PERMANENT_MEDIA_ID" } },
]

[[rule]]
id = "agent"
match.exact = "人工"
reply.transfer = { kf_account = "kf1@gh_account", offline = { text = "客服不在线" } }

[[rule]]
id = "agent2"
match.exact = "二号"
reply.transfer = { kf_account = "kf2@gh_account", offline = { text = "二号不在线" } }
"#;

fn project(fake: &FakeWechat, extra: &str) -> Project {
    let p = Project::new(&format!("{}{extra}", fake.config()));
    p.rule_file("a.toml", RULES);
    p
}

fn content(body: &str) -> (String, String) {
    let f = fields(body);
    (
        f.get("xml/MsgType").cloned().unwrap_or_default(),
        f.get("xml/Content").cloned().unwrap_or_default(),
    )
}

fn metrics(t: &impl Target) -> String {
    request(t.addr(), "GET", "/metrics", &[], b"").body
}

fn metric(t: &impl Target, line: &str) -> u64 {
    metrics(t)
        .lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn reply_all_sends_the_others_in_order_after_the_passive_reply_and_never_again() {
    let fake = FakeWechat::start();
    let p = project(&fake, "");
    let s = p.serve();
    let message = text_message_with_id("礼包", unique());
    let r = s.post(&message);
    assert_eq!(content(&r.body), ("text".into(), "欢迎！礼包如下：".into()));
    let sent = fake.wait_for_sent(2);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["touser"], "oFollower");
    assert_eq!(sent[0]["msgtype"], "text");
    assert_eq!(sent[0]["text"]["content"], "第二条");
    assert_eq!(sent[1]["msgtype"], "image");
    assert_eq!(sent[1]["image"]["media_id"], "PERMANENT_MEDIA_ID");
    // WeChat's retry gets the same passive reply, and queues nothing.
    assert_eq!(s.post(&message).body, r.body);
    assert_eq!(
        metric(&s, "replyd_custom_messages_total{outcome=\"queued\"}"),
        2
    );
    wait(|| metric(&s, "replyd_custom_messages_total{outcome=\"sent\"}") == 2);
    assert_eq!(fake.token_fetches(), 1);
}

#[test]
fn the_token_is_fetched_once_refreshed_before_it_expires_and_replaced_when_rejected() {
    let fake = FakeWechat::start();
    let p = project(&fake, "");
    let s = p.serve();
    for i in 1..=3 {
        s.post(&text_message("礼包"));
        fake.wait_for_sent(2 * i);
    }
    assert_eq!(fake.token_fetches(), 1, "one token for every call");
    // WeChat's tokens last 7200 s; replyd replaces one 300 s before.
    s.clock.advance(Duration::from_secs(6899));
    s.post(&text_message("礼包"));
    fake.wait_for_sent(8);
    assert_eq!(fake.token_fetches(), 1);
    s.clock.advance(Duration::from_secs(1));
    s.post(&text_message("礼包"));
    fake.wait_for_sent(10);
    assert_eq!(fake.token_fetches(), 2, "a new token at 6900 s");
    // WeChat rejects the token (42001): replyd drops it, fetches another, sends again once.
    fake.expire_token();
    s.post(&text_message("礼包"));
    let sent = fake.wait_for_sent(12);
    assert_eq!(sent.len(), 12);
    assert_eq!(fake.token_fetches(), 3);
    assert_eq!(
        metric(
            &s,
            "replyd_wechat_api_calls_total{api=\"custom_send\",result=\"42001\"}"
        ),
        1
    );
}

#[test]
fn a_failed_customer_message_is_counted_by_errcode_and_not_retried() {
    let fake = FakeWechat::start();
    let p = project(&fake, "");
    let s = p.serve();
    fake.fail_sends(Some(45047));
    s.post(&text_message("礼包"));
    wait(|| metric(&s, "replyd_custom_messages_total{outcome=\"failed\"}") == 1);
    assert_eq!(
        metric(&s, "replyd_custom_messages_total{outcome=\"skipped\"}"),
        1,
        "the rest of the job is not sent out of order"
    );
    assert_eq!(
        metric(
            &s,
            "replyd_wechat_api_calls_total{api=\"custom_send\",result=\"45047\"}"
        ),
        1,
        "tried once"
    );
    assert!(fake.sent().is_empty());
}

#[test]
fn a_hand_over_to_nobody_gets_the_offline_reply() {
    let fake = FakeWechat::start();
    fake.set_online(Some(&["kf2@gh_account"]));
    let p = project(&fake, "online_refresh_secs = 5\n");
    let s = p.serve();
    wait(|| metric(&s, "replyd_agents_online") == 1);
    assert_eq!(
        content(&s.post(&text_message("人工")).body),
        ("text".into(), "客服不在线".into()),
        "kf1 is offline"
    );
    assert_eq!(
        content(&s.post(&text_message("二号")).body).0,
        "transfer_customer_service",
        "kf2 is online"
    );
    assert_eq!(
        content(&s.post(&text_message("随便聊聊")).body).0,
        "transfer_customer_service",
        "someone is online: the fall-through hands over"
    );

    // Nobody online: the fall-through's offline text.
    let fake = FakeWechat::start();
    fake.set_online(Some(&[]));
    let p = project(
        &fake,
        "[fall_through]\noffline = { text = \"我们下班了\" }\n",
    );
    let s = p.serve();
    wait(|| fake.online_fetches() >= 1 && metric(&s, "replyd_agents_online") == 0);
    assert_eq!(
        content(&s.post(&text_message("随便聊聊")).body),
        ("text".into(), "我们下班了".into())
    );

    // The list cannot be fetched (65400: no customer service): hand-overs go ahead.
    let fake = FakeWechat::start();
    fake.set_online(None);
    let p = project(
        &fake,
        "[fall_through]\noffline = { text = \"我们下班了\" }\n",
    );
    let s = p.serve();
    wait(|| {
        metric(
            &s,
            "replyd_wechat_api_calls_total{api=\"getonlinekflist\",result=\"65400\"}",
        ) >= 1
    });
    assert_eq!(
        content(&s.post(&text_message("人工")).body).0,
        "transfer_customer_service"
    );
    assert_eq!(
        content(&s.post(&text_message("随便聊聊")).body).0,
        "transfer_customer_service"
    );
}

#[test]
fn an_offline_reply_needs_app_secret_in_the_config() {
    let p = Project::new("[fall_through]\noffline = { text = \"x\" }\n");
    let out = replyd()
        .args(["lint", "--config"])
        .arg(p.config())
        .output()
        .expect("run lint");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("replyd.toml:4:11: an offline reply needs app_secret"),
        "{stderr}"
    );
}

#[test]
fn import_fetch_converts_what_the_console_has_and_the_file_loads() {
    let fake = FakeWechat::start();
    let p = Project::new(&fake.config());
    let out_file = p.dir.path().join("rules/console.toml");
    let out = replyd()
        .args(["import", "--fetch", "--config"])
        .arg(p.config())
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(fake.autoreply_fetches(), 1);
    assert!(stderr.contains("imported 6 rules (2 disabled"), "{stderr}");
    assert!(
        !stderr.contains(APP_SECRET) && !stderr.contains("FAKE-TOKEN"),
        "{stderr}"
    );
    // The same as importing the saved answer.
    let saved = replyd()
        .args(["import", "tests/fixtures/autoreply/official.json"])
        .current_dir(crate::util::repo())
        .output()
        .expect("run import");
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        String::from_utf8_lossy(&saved.stdout)
    );
    // It goes through the loader like any rule file: its tests pass, and serve takes it.
    let lint = replyd()
        .args(["lint", "--config"])
        .arg(p.config())
        .output()
        .expect("run lint");
    let stdout = String::from_utf8_lossy(&lint.stdout);
    assert_eq!(lint.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("6 tests passed of 6, 0 errors"), "{stdout}");
    let s: Server = p.serve();
    assert_eq!(
        content(&s.post(&text_message("我要text测试一下")).body).1,
        "hello!text!"
    );
}

#[test]
fn neither_the_secret_nor_a_token_is_logged() {
    let fake = FakeWechat::start();
    let p = project(&fake, "");
    let d = p.start();
    d.post(&text_message("礼包"));
    fake.wait_for_sent(2);
    fake.expire_token();
    d.post(&text_message("礼包"));
    fake.wait_for_sent(4);
    let log = d.wait_for_log("fetched an access token");
    assert!(log.contains("a WeChat API call failed"), "{log}");
    assert!(!log.contains(APP_SECRET), "{log}");
    assert!(!log.contains("FAKE-TOKEN"), "{log}");
    assert!(!log.contains("access_token="), "{log}");
}

#[test]
fn replicas_share_one_token_through_redis() {
    let Some(redis) = crate::redis::Redis::start() else {
        return;
    };
    let fake = FakeWechat::start();
    let shared = format!("{}redis_url = \"{}\"\n", fake.config(), redis.url());
    // Only reply.all: no agents are fetched in the background, so the first message is the
    // first call.
    let pack = RULES
        .split("[[rule]]\nid = \"agent\"")
        .next()
        .expect("the first rule");
    let (pa, pb) = (Project::new(&shared), Project::new(&shared));
    pa.rule_file("a.toml", pack);
    pb.rule_file("a.toml", pack);
    let (a, b) = (pa.serve(), pb.serve());
    a.post(&text_message("礼包"));
    fake.wait_for_sent(2);
    b.post(&text_message("礼包"));
    fake.wait_for_sent(4);
    assert_eq!(fake.token_fetches(), 1, "B used the token A fetched");
}

#[test]
fn follow_ups_queued_at_shutdown_are_still_sent() {
    let fake = FakeWechat::start();
    let p = project(&fake, "");
    let s = p.serve();
    s.post(&text_message("礼包"));
    // Stopping waits for what is queued (within shutdown_timeout_secs).
    drop(s);
    assert_eq!(fake.sent().len(), 2);
}
