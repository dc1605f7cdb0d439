//! The engine against a table of rules and messages.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::*;

/// Pins the ranking: the order of its steps, the specificity of each matcher kind, which
/// step decides each pair, and the regex shortcut derived from it.
#[test]
fn the_ranking_is_priority_specificity_length_order() {
    use Decider::*;
    use MatchKind::*;
    assert_eq!(RANKING, [Priority, Specificity, Length, Order]);
    for pair in [Exact, Prefix, Contains, Regex].windows(2) {
        assert!(pair[0].specificity() > pair[1].specificity(), "{pair:?}");
    }
    assert!(EventKey.specificity() > Event.specificity());

    let base = Candidate {
        rule: 1,
        kind: Prefix,
        item: 0,
        chars: 2,
        priority: 0,
    };
    let better = [
        (
            Candidate {
                priority: 1,
                ..base
            },
            Priority,
        ),
        (
            Candidate {
                kind: Exact,
                ..base
            },
            Specificity,
        ),
        (Candidate { chars: 3, ..base }, Length),
        (Candidate { rule: 0, ..base }, Order),
    ];
    for (b, step) in better {
        assert_eq!(b.rank_cmp(&base), Ordering::Greater, "{step:?}");
        assert_eq!(base.rank_cmp(&b), Ordering::Less, "{step:?}");
        assert_eq!(b.decided_by(&base), step);
    }
    // An earlier step outweighs every later one.
    let long_exact_first = Candidate {
        rule: 0,
        kind: Exact,
        item: 0,
        chars: 99,
        priority: 0,
    };
    let short_regex_later = Candidate {
        rule: 9,
        kind: Regex,
        item: 0,
        chars: 1,
        priority: 1,
    };
    assert_eq!(
        short_regex_later.rank_cmp(&long_exact_first),
        Ordering::Greater
    );

    // A regex can still win against a literal only with a higher priority, and against
    // a regex of its own priority on length or order.
    let at = |priority, kind| Candidate {
        priority,
        kind,
        ..base
    };
    assert!(!at(0, Exact).could_be_outranked_by(0, Regex));
    assert!(at(0, Exact).could_be_outranked_by(1, Regex));
    assert!(at(0, Regex).could_be_outranked_by(0, Regex));
    assert!(!at(1, Regex).could_be_outranked_by(0, Regex));
}
use crate::protocol::Event;
use crate::ruleset::{compile, sources_from};

const RULES: &str = r#"
[[rule]]
id = "flow"
match.exact = ["流量", "送流量"]
reply.text = "flow"

[[rule]]
id = "flow-prefix"
match.prefix = "流量"
reply.text = "flow-prefix"

[[rule]]
id = "flow-contains"
match.contains = "流量"
reply.text = "flow-contains"

[[rule]]
id = "flow-regex"
match.regex = '^流量(\d+)G$'
reply.text = "${1}G"

[[rule]]
id = "vip-cs"
match.exact = "VIP"
case_sensitive = true
reply.text = "vip-cs"

[[rule]]
id = "vip"
match.exact = "vip"
priority = -1
reply.text = "vip"

[[rule]]
id = "human"
priority = 10
match.prefix = ["人工", "客服"]
reply.transfer = { kf_account = "kf2001@gh_abc" }

[[rule]]
id = "help-long"
match.prefix = "help me"
reply.text = "help-long"

[[rule]]
id = "help-short"
match.prefix = "help"
reply.text = "help-short"

[[rule]]
id = "contains-a"
match.contains = "abc"
reply.text = "contains-a"

[[rule]]
id = "contains-b"
match.contains = "abc"
reply.text = "contains-b"

[[rule]]
id = "order"
match.regex = '^订单\s*(?P<no>\d{6,})$'
reply.text = "订单 ${no} 正在处理中 $$"

[[rule]]
id = "any-order"
priority = -5
match.regex = ['订单', '(?i)ORDER']
reply.text = "any"

[[rule]]
id = "welcome"
match.event = "subscribe"
reply.text = "welcome"

[[rule]]
id = "welcome-qr"
match.event = "subscribe"
match.key = "qrscene_123"
reply.text = "welcome-qr"

[[rule]]
id = "menu-about"
match.event = "CLICK"
match.key = "ABOUT_US"
reply.news = [{ title = "关于我们", url = "https://example.com/about" }]

[[rule]]
id = "menu-other"
match.event = "click"
reply.none = true

[[rule]]
id = "image"
match.msg_type = "image"
reply.image = { media_id = "m1" }

[[rule]]
id = "urgent-exact"
match.exact = "urgent"
reply.text = "exact"

[[rule]]
id = "urgent-regex"
priority = 5
match.regex = '^urg'
reply.text = "regex"

[[rule]]
id = "off"
enabled = false
match.exact = "off"
reply.text = "off"
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

fn text(content: &str) -> Message {
    message(Body::Text {
        content: content.into(),
    })
}

fn message(body: Body) -> Message {
    Message {
        to_user: "gh_account".into(),
        from_user: "follower".into(),
        create_time: 1,
        msg_id: Some("1".into()),
        body,
    }
}

/// (winning rule id or `transfer` / `success`, reply text or kf account or "").
fn check(set: &RuleSet, m: &Message) -> (String, String) {
    let a = respond(set, m, &Context::at(NOW.parse().unwrap()));
    let id = match (&a.winner, &a.action) {
        (Some((r, _)), _) => r.id.to_string(),
        (None, Action::Reply(Reply::Transfer { .. })) => "transfer".into(),
        (None, Action::Success) => "success".into(),
        (None, other) => panic!("fall-through with {other:?}"),
    };
    let detail = match a.action {
        Action::Reply(Reply::Text { content }) => content.into_owned(),
        Action::Reply(Reply::Transfer { kf_account }) => {
            kf_account.map(Cow::into_owned).unwrap_or_default()
        }
        _ => String::new(),
    };
    (id, detail)
}

#[test]
fn text_ranking_one_line_per_case() {
    let set = set();
    // (text sent, winner, reply)
    let cases: &[(&str, &str, &str)] = &[
        ("流量", "flow", "flow"),
        ("  流量\n", "flow", "flow"),
        ("送流量", "flow", "flow"),
        ("流量包", "flow-prefix", "flow-prefix"),
        ("流量10G", "flow-prefix", "flow-prefix"),
        ("我要流量", "flow-contains", "flow-contains"),
        ("VIP", "vip-cs", "vip-cs"),
        ("ＶＩＰ", "vip-cs", "vip-cs"),
        ("vip", "vip", "vip"),
        ("Vip", "vip", "vip"),
        ("人工", "human", "kf2001@gh_abc"),
        ("人工服务 流量", "human", "kf2001@gh_abc"),
        ("help me now", "help-long", "help-long"),
        ("help", "help-short", "help-short"),
        ("HELP!", "help-short", "help-short"),
        ("xxabcxx", "contains-a", "contains-a"),
        ("订单 1234567", "order", "订单 1234567 正在处理中 $"),
        ("订单１２３４５６", "order", "订单 123456 正在处理中 $"),
        ("订单 12", "any-order", "any"),
        ("my order", "any-order", "any"),
        ("urgent", "urgent-regex", "regex"),
        ("off", "transfer", ""),
        ("随便聊聊", "transfer", ""),
        ("", "transfer", ""),
    ];
    for &(sent, winner, reply) in cases {
        assert_eq!(
            check(&set, &text(sent)),
            (winner.to_owned(), reply.to_owned()),
            "sent {sent:?}"
        );
    }
}

#[test]
fn events_and_other_messages() {
    let set = set();
    let event = |e: Event| message(Body::Event(e));
    let cases: Vec<(Message, &str)> = vec![
        (
            event(Event::Subscribe {
                key: None,
                ticket: None,
            }),
            "welcome",
        ),
        (
            event(Event::Subscribe {
                key: Some("qrscene_123".into()),
                ticket: None,
            }),
            "welcome-qr",
        ),
        (
            event(Event::Subscribe {
                key: Some("qrscene_999".into()),
                ticket: None,
            }),
            "welcome",
        ),
        (
            event(Event::Click {
                key: "ABOUT_US".into(),
            }),
            "menu-about",
        ),
        (
            event(Event::Click {
                key: "OTHER".into(),
            }),
            "menu-other",
        ),
        (event(Event::Unsubscribe), "success"),
        (
            event(Event::Other {
                name: "scancode_push".into(),
                key: Some("x".into()),
                detail: crate::protocol::Detail::None,
            }),
            "success",
        ),
        (
            message(Body::Image {
                pic_url: String::new(),
                media_id: String::new(),
            }),
            "image",
        ),
        (
            message(Body::Voice {
                media_id: String::new(),
                format: String::new(),
                recognition: Some("流量".into()),
            }),
            "transfer",
        ),
        (
            message(Body::Other {
                msg_type: "miniprogrampage".into(),
            }),
            "transfer",
        ),
    ];
    for (m, winner) in cases {
        assert_eq!(check(&set, &m).0, winner, "{m:?}");
    }
    // reply.none answers `success` though a rule won.
    let a = respond(
        &set,
        &event(Event::Click { key: "X".into() }),
        &Context::at(NOW.parse().unwrap()),
    );
    assert_eq!(a.winner.map(|(r, _)| &*r.id), Some("menu-other"));
    assert_eq!(a.action, Action::Success);
}

#[test]
fn candidates_are_ranked_best_first() {
    let set = set();
    let ranked: Vec<(&str, MatchKind)> = candidates(&set, &text("流量"), None)
        .iter()
        .map(|c| (&*set.rule(c.candidate.rule).id, c.candidate.kind))
        .collect();
    assert_eq!(
        ranked,
        vec![
            ("flow", MatchKind::Exact),
            ("flow-prefix", MatchKind::Prefix),
            ("flow-contains", MatchKind::Contains)
        ]
    );
}

#[test]
fn earlier_file_wins_a_full_tie() {
    let rule = |id: &str| {
        format!("[[rule]]\nid = \"{id}\"\nmatch.prefix = \"hi\"\nreply.text = \"{id}\"\n")
    };
    let (a, b) = (rule("in-a"), rule("in-b"));
    let compiled = compile(&sources_from(&[
        ("rules/a.toml", a.as_str()),
        ("rules/b.toml", b.as_str()),
    ]));
    let set = compiled.ruleset().unwrap();
    assert_eq!(check(&set, &text("hi there")).0, "in-a");
}

/// When the table's messages arrive, unless a case says otherwise: a Monday afternoon.
const NOW: &str = "2026-12-07T15:00:00+08:00";

mod features;
