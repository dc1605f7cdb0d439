//! Rules that fit a real account, over HTTP with signed requests and the server's clock moved
//! by the test: office hours and the after-hours rule, a cooldown, random replies, QR scenes,
//! the AI hand-over, voice, and the protocol fixes (MsgID, whitespace around identifiers).

use std::time::Duration;

use crate::util::{Project, Server, Target, event_message, fields, text_message, unique};

const RULES: &str = r#"
[[schedule]]
name = "office"
weekly = ["mon-fri 09:00-18:00"]

[[rule]]
id = "after-hours"
priority = -100
outside = "office"
match.msg_type = "*"
reply.text = "下班了"

[[rule]]
id = "hello"
match.exact = "hi"
cooldown = "1h"
reply.text = "welcome"

[[rule]]
id = "pick"
match.exact = "抽奖"
reply.random = [{ text = "一等奖" }, { text = "二等奖" }, { text = "谢谢参与" }]

[[rule]]
id = "store"
match.scene_regex = '^store-(\d+)$'
reply.text = "门店 ${1}"

[[rule]]
id = "ai"
match.prefix = "问"
reply.ai = {}

[[rule]]
id = "weather"
match.exact = "天气"
voice = true
reply.text = "晴"

[[rule]]
id = "jobs"
match.event = "TEMPLATESENDJOBFINISH"
reply.none = true
"#;

/// Monday 2026-12-07 10:00 in Shanghai.
const MONDAY_10: u64 = 1_796_608_800;

fn server() -> (Project, Server) {
    let p = Project::new("");
    p.rule_file("a.toml", RULES);
    let s = Server::start_at(&p.config(), MONDAY_10);
    (p, s)
}

fn image() -> String {
    format!(
        "<xml><ToUserName>gh_account</ToUserName><FromUserName>oFollower</FromUserName>\
         <CreateTime>1</CreateTime><MsgType>image</MsgType><PicUrl>u</PicUrl>\
         <MediaId>m</MediaId><MsgId>{}</MsgId></xml>",
        unique()
    )
}

fn reply_of(body: &str) -> (String, String) {
    let f = fields(body);
    (
        f.get("xml/MsgType").cloned().unwrap_or_default(),
        f.get("xml/Content").cloned().unwrap_or_default(),
    )
}

#[test]
fn the_after_hours_rule_answers_only_while_the_office_is_closed() {
    let (_p, s) = server();
    assert_eq!(
        reply_of(&s.post(&image()).body).0,
        "transfer_customer_service"
    );
    // 19:00: closed.
    s.clock.advance(Duration::from_secs(9 * 3600));
    assert_eq!(
        reply_of(&s.post(&image()).body),
        ("text".into(), "下班了".into())
    );
    assert_eq!(s.post(&event_message("CLICK", Some("X"))).body, "success");
}

#[test]
fn a_cooldown_holds_for_the_follower_and_a_retry_does_not_restart_it() {
    let (_p, s) = server();
    let first = text_message("hi");
    assert_eq!(reply_of(&s.post(&first).body).1, "welcome");
    // A retry gets the first answer, and does not count as another answer.
    assert_eq!(reply_of(&s.post(&first).body).1, "welcome");
    assert_eq!(
        reply_of(&s.post(&text_message("hi")).body).0,
        "transfer_customer_service",
        "cooling: the fall-through answers"
    );
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(reply_of(&s.post(&text_message("hi")).body).1, "welcome");
}

#[test]
fn a_random_reply_is_kept_by_retries_scenes_ai_and_voice_answer() {
    let (_p, s) = server();
    let m = text_message("抽奖");
    let first = reply_of(&s.post(&m).body).1;
    assert!(["一等奖", "二等奖", "谢谢参与"].contains(&first.as_str()));
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(reply_of(&s.post(&m).body).1, first);

    let follow = "<xml><ToUserName>gh_account</ToUserName><FromUserName>oNew</FromUserName>\
        <CreateTime>5</CreateTime><MsgType>event</MsgType><Event>subscribe</Event>\
        <EventKey>qrscene_store-12</EventKey><Ticket>T</Ticket></xml>";
    assert_eq!(reply_of(&s.post(follow).body).1, "门店 12");
    let scan = crate::util::event_message("SCAN", Some("store-7"));
    assert_eq!(reply_of(&s.post(&scan).body).1, "门店 7");

    assert_eq!(
        reply_of(&s.post(&text_message("问问题")).body).0,
        "transfer_biz_ai_ivr"
    );
    let voice = |recognition: &str| {
        format!(
            "<xml><ToUserName>gh_account</ToUserName><FromUserName>oFollower</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>voice</MsgType><MediaId>m</MediaId>\
             <Format>amr</Format><Recognition><![CDATA[{recognition}]]></Recognition>\
             <MsgId>{}</MsgId></xml>",
            unique()
        )
    };
    assert_eq!(reply_of(&s.post(&voice("天气")).body).1, "晴");
    assert_eq!(
        reply_of(&s.post(&voice("")).body).0,
        "transfer_customer_service"
    );
}

#[test]
fn msg_id_events_are_two_messages_and_identifiers_lose_their_whitespace() {
    let (_p, s) = server();
    let job = |id: u32| {
        format!(
            "<xml><ToUserName>gh_account</ToUserName><FromUserName>oFollower</FromUserName>\
             <CreateTime>1395658920</CreateTime><MsgType>event</MsgType>\
             <Event>TEMPLATESENDJOBFINISH</Event><MsgID>{id}</MsgID><Status>success</Status></xml>"
        )
    };
    assert_eq!(s.post(&job(1)).body, "success");
    assert_eq!(s.post(&job(2)).body, "success");
    let metrics = crate::util::request(s.addr(), "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("replyd_rule_answers_total{rule=\"jobs\"} 2"),
        "two events in one second are two messages:\n{metrics}"
    );
    assert!(!metrics.contains("replyd_retries_total 1"), "{metrics}");

    let spaced = format!(
        "<xml>\n<ToUserName>\n<![CDATA[gh_account]]>\n</ToUserName>\n\
         <FromUserName>\n<![CDATA[oFollower]]>\n</FromUserName>\n<CreateTime>1</CreateTime>\n\
         <MsgType>\n<![CDATA[text]]>\n</MsgType>\n<Content><![CDATA[问一下]]></Content>\n\
         <MsgId>{}</MsgId>\n</xml>",
        unique()
    );
    let body = s.post(&spaced).body;
    let f = fields(&body);
    assert_eq!(f["xml/MsgType"], "transfer_biz_ai_ivr", "{body}");
    assert_eq!(f["xml/ToUserName"], "oFollower", "{body}");
}
