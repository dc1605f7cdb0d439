//! Properties that must hold for any input (proptest): the XML parser and the engine never
//! panic, a reply written and read back is the same reply, and which rule answers does not
//! depend on the order in which the files of a rules directory are read.

use std::borrow::Cow;

use proptest::prelude::*;
use replyd::engine;
use replyd::protocol::message::{self, Body, Event, Message};
use replyd::protocol::reply::{self, Article, Reply, is_xml_char};
use replyd::ruleset::{RuleSet, compile, sources_from};

/// A rule set with every matcher kind, including regexes with captures and case rules.
fn rules() -> RuleSet {
    let mut shipped: Vec<(String, String)> = std::fs::read_dir(crate::util::repo().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    shipped.sort();
    let mut files: Vec<(&str, &str)> = shipped
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let extra = r#"
[[rule]]
id = "p-any"
priority = -10
match.regex = '(?s)(?P<all>.+)'
reply.text = "echo ${all}"
[[rule]]
id = "p-echo"
priority = -5
match.regex = '(?s)^e(.*)$'
reply.text = "${1}${1}"
[[rule]]
id = "p-case"
case_sensitive = true
match.contains = ["ΣΑΣ", "İ", "ß"]
reply.text = "case"
[[rule]]
id = "p-prefix"
match.prefix = ["a", "ab", "abc", "流"]
reply.news = [{ title = "prefix" }]
"#;
    files.push(("zz-extra.toml", extra));
    let compiled = compile(&sources_from(&files));
    let diagnostics = format!("{:?}", compiled.diagnostics);
    compiled
        .ruleset()
        .unwrap_or_else(|| panic!("the property rules compile: {diagnostics}"))
}

fn text(content: String) -> Message {
    Message {
        to_user: "gh".into(),
        from_user: "u".into(),
        create_time: 1,
        msg_id: Some("1".into()),
        body: Body::Text { content },
    }
}

/// Text XML can carry (what the writer keeps): arbitrary text, and text dense in what is
/// tricky for XML (`]]>`, carriage returns, markup characters, surrounding spaces).
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[\\]\\r\\n\\t<>&;# a流\\x01]{0,24}",]
        .prop_map(|s| s.chars().filter(|&c| is_xml_char(c)).collect())
}

fn optional() -> impl Strategy<Value = Option<Cow<'static, str>>> {
    proptest::option::of(xml_text().prop_map(Cow::Owned))
}

fn any_reply() -> impl Strategy<Value = Reply<'static>> {
    let s = || xml_text().prop_map(Cow::Owned);
    prop_oneof![
        s().prop_map(|content| Reply::Text { content }),
        s().prop_map(|media_id| Reply::Image { media_id }),
        s().prop_map(|media_id| Reply::Voice { media_id }),
        (s(), optional(), optional()).prop_map(|(media_id, title, description)| Reply::Video {
            media_id,
            title,
            description
        }),
        (optional(), optional(), optional(), optional(), s()).prop_map(
            |(title, description, music_url, hq_music_url, thumb_media_id)| Reply::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id
            }
        ),
        proptest::collection::vec(
            (s(), optional(), optional(), optional()).prop_map(
                |(title, description, url, pic_url)| Article {
                    title,
                    description,
                    url,
                    pic_url
                }
            ),
            1..8
        )
        .prop_map(|articles| Reply::News { articles }),
        optional().prop_map(|kf_account| Reply::Transfer { kf_account }),
    ]
}

/// Puts a value in CDATA the way WeChat does, splitting `]]>`.
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_parser_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = message::parse(&body);
        let _ = message::encrypted_part(&body);
    }

    #[test]
    fn the_parser_never_panics_on_near_messages(
        to in any::<String>(), from in any::<String>(), time in any::<String>(),
        msg_type in prop_oneof![Just("text".to_owned()), Just("event".to_owned()), Just("image".to_owned()), Just("location".to_owned()), any::<String>()],
        content in any::<String>(), event in any::<String>(), extra in any::<String>(),
    ) {
        let body = format!(
            "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{}</CreateTime>\
             <MsgType>{}</MsgType><Content>{}</Content><Event>{}</Event><Location_X>{}</Location_X>{}</xml>",
            cdata(&to), cdata(&from), time, cdata(&msg_type), cdata(&content), cdata(&event), time, extra
        );
        if let Ok(m) = message::parse(body.as_bytes()) {
            // What was sent in CDATA comes back unchanged.
            prop_assert_eq!(&m.to_user, &to);
            prop_assert_eq!(&m.from_user, &from);
            if let Body::Text { content: c } = &m.body {
                prop_assert_eq!(c, &content);
            }
        }
    }

    #[test]
    fn the_engine_never_panics_and_always_answers(content in any::<String>(), name in any::<String>(), key in proptest::option::of(any::<String>())) {
        let set = rules_once();
        let cx = engine::Context::at(jiff::Timestamp::now());
        let a = engine::respond(set, &text(content.clone()), &cx);
        prop_assert!(a.action.reply().is_some(), "a text always gets a reply (a rule's or the hand-over)");
        let ranked = engine::candidates(set, &text(content.clone()), Some(&cx));
        // The winner is the best candidate that can answer now, or one below it when that
        // one's reply rendered blank (only a template of captures can).
        if let Some((w, _)) = &a.winner {
            let at = ranked.iter().position(|c| set.rule(c.candidate.rule).id == w.id);
            prop_assert!(at.is_some());
            for c in &ranked[..at.unwrap_or(0)] {
                let r = set.rule(c.candidate.rule);
                prop_assert!(c.skipped.is_some() || r.reply.can_render_empty(), "{} outranks {}", r.id, w.id);
            }
        }
        // Whatever a template renders, what is sent is within WeChat's limits: not blank, at
        // most 2047 bytes.
        if let Some(replyd::protocol::Reply::Text { content: sent }) = a.action.reply() {
            prop_assert!(!sent.trim().is_empty());
            prop_assert!(sent.len() <= engine::MAX_TEXT_BYTES, "{} bytes", sent.len());
        }
        let mut m = text(String::new());
        m.body = Body::Event(Event::new(&name, key.as_deref()));
        let _ = engine::respond(set, &m, &cx);
    }

    #[test]
    fn a_reply_written_and_read_back_is_the_same(r in any_reply(), to in xml_text(), from in xml_text(), time in any::<u64>()) {
        let xml = reply::render(&r, &to, &from, time);
        let parsed = reply::parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(parsed.reply, r);
        prop_assert_eq!(parsed.to_user, to);
        prop_assert_eq!(parsed.from_user, from);
        prop_assert_eq!(parsed.create_time, time);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The files of a rules directory, created in any order, answer the same: the loader reads
    /// them in path order, whatever order the directory lists them in.
    #[test]
    fn the_winner_does_not_depend_on_the_order_files_are_read(order in Just((0..6).collect::<Vec<usize>>()).prop_shuffle()) {
        let files: Vec<(String, String)> = (0..6)
            .map(|i| {
                let name = format!("{}/f{i}.toml", if i % 2 == 0 { "a" } else { "b" });
                // Every file answers the same keywords at the same priority: only the path
                // order decides.
                let text = format!("[[rule]]\nid = \"r{i}\"\nmatch.prefix = \"same\"\nreply.text = \"{i}\"\n");
                (name, text)
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for &i in &order {
            let path = dir.path().join(&files[i].0);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &files[i].1).unwrap();
        }
        let loaded = replyd::load::load(dir.path()).unwrap();
        let set = loaded.ruleset.unwrap();
        let cx = engine::Context::at(jiff::Timestamp::now());
        let winner = engine::respond(&set, &text("same thing".into()), &cx).winner.map(|(r, _)| r.id.clone());
        prop_assert_eq!(winner.as_deref(), Some("r0"), "a/f0.toml is first in path order");
        let ids: Vec<&str> = set.rules().iter().map(|r| &*r.id).collect();
        prop_assert_eq!(ids, vec!["r0", "r2", "r4", "r1", "r3", "r5"]);
    }
}

/// The rule set, compiled once for all cases.
fn rules_once() -> &'static RuleSet {
    static SET: std::sync::OnceLock<RuleSet> = std::sync::OnceLock::new();
    SET.get_or_init(rules)
}
