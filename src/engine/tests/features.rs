//! Schedules, campaigns, after-hours, random replies, cooldowns, scenes, key families, voice,
//! the AI hand-over and replies that render empty or too long: one table per feature.

use std::borrow::Cow;

use jiff::Timestamp;

use super::super::*;
use crate::cooldown::MemoryCooldowns;
use crate::protocol::{Body, Event, Message, Reply};
use crate::ruleset::{RuleSet, compile, sources_from};

const RULES: &str = r#"
[[schedule]]
name = "office"
weekly = ["mon-fri 09:00-18:00"]
closed = ["2026-12-25"]

[[rule]]
id = "human-open"
match.prefix = "人工"
during = "office"
reply.transfer = {}

[[rule]]
id = "human-closed"
match.prefix = "人工"
outside = "office"
reply.text = "人工客服工作时间：工作日 9:00–18:00"

[[rule]]
id = "after-hours"
priority = -100
outside = "office"
match.msg_type = "*"
reply.text = "下班了"

[[rule]]
id = "double11"
priority = 10
match.exact = "优惠"
from = 2026-11-11T00:00:00+08:00
until = 2026-11-12T00:00:00+08:00
reply.text = "双十一五折"

[[rule]]
id = "offers"
match.exact = "优惠"
reply.text = "本周优惠"

[[rule]]
id = "hello"
match.exact = "你好"
reply.random = [{ text = "a" }, { text = "b" }, { text = "c" }, { text = "d" }]

[[rule]]
id = "greeting"
match.exact = "hi"
cooldown = "1h"
reply.text = "welcome back"

[[rule]]
id = "greeting-again"
priority = -1
match.exact = "hi"
reply.text = "hi again"

[[rule]]
id = "store"
match.scene_regex = '^store-(?P<no>\d+)$'
reply.text = "store ${no}"

[[rule]]
id = "store-any"
priority = -1
match.scene_prefix = "store-"
reply.text = "some store"

[[rule]]
id = "store-9"
match.scene = "store-9"
reply.text = "flagship"

[[rule]]
id = "menu-family"
match.event = "CLICK"
match.key_prefix = "PRODUCT_"
reply.text = "product"

[[rule]]
id = "menu-regex"
match.event = "CLICK"
match.key_regex = '^ITEM_(?P<n>\d+)$'
reply.text = "item ${n}"

[[rule]]
id = "spoken"
match.exact = "天气"
voice = true
reply.text = "晴"

[[rule]]
id = "typed-only"
match.exact = "余额"
reply.text = "100"

[[rule]]
id = "ai"
match.prefix = "问"
reply.ai = {}

[[rule]]
id = "echo"
match.regex = '^复述(.*)$'
reply.text = "${1}"

[[rule]]
id = "echo-fallback"
priority = -1
match.prefix = "复述"
reply.text = "说点什么吧"

[[rule]]
id = "texts"
priority = -50
match.msg_type = "text"
reply.text = "got text"
"#;

fn set() -> RuleSet {
    let compiled = compile(&sources_from(&[("rules/a.toml", RULES)]));
    let errors: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.severity() == crate::diag::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    compiled.ruleset().expect("rule set")
}

fn msg(body: Body, id: &str) -> Message {
    Message {
        to_user: "gh_account".into(),
        from_user: "follower".into(),
        create_time: 1,
        msg_id: Some(id.into()),
        body,
    }
}

fn text(content: &str) -> Message {
    msg(
        Body::Text {
            content: content.into(),
        },
        "1",
    )
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// (winner id or `transfer`/`success`, reply text or the reply's MsgType).
fn answer(set: &RuleSet, m: &Message, cx: &Context<'_>) -> (String, String) {
    let a = respond(set, m, cx);
    let id = match (&a.winner, &a.action) {
        (Some((r, _)), _) => r.id.to_string(),
        (None, Action::Success) => "success".into(),
        (None, _) => "transfer".into(),
    };
    let detail = match a.action {
        Action::Reply(Reply::Text { content }) => content.into_owned(),
        Action::Reply(r) => r.msg_type().to_owned(),
        Action::Forward(name) => format!("upstream:{name}"),
        Action::Success => String::new(),
    };
    (id, detail)
}

#[test]
fn schedules_campaigns_and_after_hours() {
    let set = set();
    let image = msg(
        Body::Image {
            pic_url: String::new(),
            media_id: String::new(),
        },
        "2",
    );
    // (message, when, winner)
    let cases: Vec<(Message, &str, &str)> = vec![
        (text("人工"), "2026-12-07T10:00:00+08:00", "human-open"),
        (text("人工"), "2026-12-07T19:00:00+08:00", "human-closed"),
        (text("人工"), "2026-12-25T10:00:00+08:00", "human-closed"),
        (text("随便"), "2026-12-07T10:00:00+08:00", "texts"),
        (image.clone(), "2026-12-07T10:00:00+08:00", "transfer"),
        (image.clone(), "2026-12-07T23:00:00+08:00", "after-hours"),
        (text("随便"), "2026-12-05T12:00:00+08:00", "texts"),
        (text("优惠"), "2026-11-11T08:00:00+08:00", "double11"),
        (text("优惠"), "2026-11-12T00:00:00+08:00", "offers"),
        (text("优惠"), "2026-11-10T23:59:59+08:00", "offers"),
    ];
    for (m, t, winner) in cases {
        assert_eq!(
            answer(&set, &m, &Context::at(at(t))).0,
            winner,
            "{m:?} at {t}"
        );
    }
    // Events are never answered by `*`.
    let unsub = msg(Body::Event(Event::Unsubscribe), "3");
    assert_eq!(
        answer(&set, &unsub, &Context::at(at("2026-12-07T23:00:00+08:00"))).0,
        "success"
    );
}

#[test]
fn a_random_reply_is_the_same_for_a_message_and_varies_across_messages() {
    let set = set();
    let cx = Context::at(at(super::NOW));
    let mut seen = std::collections::HashSet::new();
    for id in 0..64 {
        let m = msg(
            Body::Text {
                content: "你好".into(),
            },
            &id.to_string(),
        );
        let first = answer(&set, &m, &cx).1;
        assert_eq!(answer(&set, &m, &cx).1, first, "a retry gets the same one");
        seen.insert(first);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[test]
fn a_cooldown_holds_per_follower_and_the_next_candidate_answers() {
    let set = set();
    let cooldowns = MemoryCooldowns::new(100);
    let t0 = at(super::NOW);
    let cx = |t: Timestamp| Context {
        cooldowns: &cooldowns,
        ..Context::at(t)
    };
    assert_eq!(answer(&set, &text("hi"), &cx(t0)).0, "greeting");
    // The engine does not record: the server does, once per first delivery.
    cooldowns.start(
        "follower",
        "greeting",
        t0 + jiff::SignedDuration::from_hours(1),
    );
    assert_eq!(answer(&set, &text("hi"), &cx(t0)).0, "greeting-again");
    let mut other = text("hi");
    other.from_user = "someone-else".into();
    assert_eq!(answer(&set, &other, &cx(t0)).0, "greeting");
    let later = t0 + jiff::SignedDuration::from_secs(3600);
    assert_eq!(answer(&set, &text("hi"), &cx(later)).0, "greeting");
    // try shows the skipped rule and why.
    let ranked = candidates(&set, &text("hi"), Some(&cx(t0)));
    assert_eq!(ranked[0].skipped, Some(Skip::Cooling));
}

#[test]
fn scenes_key_families_voice_and_ai() {
    let set = set();
    let cx = Context::at(at(super::NOW));
    let ev = |e: Event| msg(Body::Event(e), "9");
    let subscribe = |k: &str| {
        ev(Event::Subscribe {
            key: Some(k.into()),
            ticket: Some("T".into()),
        })
    };
    let scan = |k: &str| {
        ev(Event::Scan {
            key: k.into(),
            ticket: None,
        })
    };
    let click = |k: &str| ev(Event::Click { key: k.into() });
    let voice = |r: Option<&str>| {
        msg(
            Body::Voice {
                media_id: String::new(),
                format: "amr".into(),
                recognition: r.map(str::to_owned),
            },
            "8",
        )
    };
    let cases: Vec<(Message, (&str, &str))> = vec![
        (subscribe("qrscene_store-1"), ("store", "store 1")),
        (scan("store-1"), ("store", "store 1")),
        (scan("store-9"), ("store-9", "flagship")),
        (subscribe("qrscene_store-9"), ("store-9", "flagship")),
        (subscribe("qrscene_other"), ("success", "")),
        (scan("store-x"), ("store-any", "some store")),
        (scan("qrscene_store-1"), ("success", "")),
        (click("PRODUCT_42"), ("menu-family", "product")),
        (click("ITEM_7"), ("menu-regex", "item 7")),
        (click("ITEM_x"), ("success", "")),
        (voice(Some("天气")), ("spoken", "晴")),
        (
            voice(Some("余额")),
            ("transfer", "transfer_customer_service"),
        ),
        (voice(Some("")), ("transfer", "transfer_customer_service")),
        (voice(None), ("transfer", "transfer_customer_service")),
        (text("问一下"), ("ai", "transfer_biz_ai_ivr")),
    ];
    for (m, (winner, detail)) in cases {
        assert_eq!(
            answer(&set, &m, &cx),
            (winner.to_owned(), detail.to_owned()),
            "{m:?}"
        );
    }
}

#[test]
fn a_reply_that_renders_empty_gives_way_and_a_long_one_is_cut() {
    let set = set();
    let cx = Context::at(at(super::NOW));
    assert_eq!(
        answer(&set, &text("复述你好"), &cx),
        ("echo".into(), "你好".into())
    );
    assert_eq!(
        answer(&set, &text("复述"), &cx),
        ("echo-fallback".into(), "说点什么吧".into())
    );
    let long = format!("复述{}", "流".repeat(1000));
    let a = respond(&set, &text(&long), &cx);
    assert!(a.clipped);
    match a.action {
        Action::Reply(Reply::Text { content }) => {
            assert_eq!(content.len(), 2046);
            assert!(matches!(content, Cow::Owned(_)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_no_rule_answers_gets_is_the_configured_fall_through() {
    use crate::config::{FallThrough, Fallback};
    let set = compile(&sources_from(&[("a.toml", "")]))
        .ruleset()
        .expect("an empty set compiles");
    let event = msg(Body::Event(Event::Click { key: "K".into() }), "2");
    let cases: [(Fallback, Fallback, &str, &str); 3] = [
        (Fallback::Transfer, Fallback::Success, "transfer", "success"),
        (Fallback::Success, Fallback::Success, "success", "success"),
        (
            Fallback::Upstream("app".into()),
            Fallback::Upstream("app".into()),
            "upstream:app",
            "upstream:app",
        ),
    ];
    for (messages, events, for_text, for_event) in cases {
        let fall_through = FallThrough {
            messages,
            events,
            offline: None,
        };
        let cx = Context {
            fall_through: &fall_through,
            ..Context::at(at(super::NOW))
        };
        let got = |m: &Message| match respond(&set, m, &cx).action {
            Action::Reply(r) => r.msg_type().replace("_customer_service", ""),
            Action::Success => "success".to_owned(),
            Action::Forward(name) => format!("upstream:{name}"),
        };
        assert_eq!(
            (got(&text("hi")).as_str(), got(&event).as_str()),
            (for_text, for_event)
        );
    }
}
