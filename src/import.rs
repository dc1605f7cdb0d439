//! `replyd import`: the console's auto-reply (a saved `get_current_autoreply_info` answer) →
//! a rule file, and a report of what could not be carried over and what to do about it.
//!
//! A pure conversion: JSON text in, TOML text and notes out; reading files and fetching from
//! WeChat are the command's. The mapping (README "Importing the console's auto-reply"):
//! `equal` → `match.exact`, `contain` → `match.contains` (a console rule with both becomes two
//! rules); `random_one` → `reply.random`, `reply_all` → `reply.all` (a plain reply when one is
//! left); the follow reply → a `subscribe` rule; the default reply → a `msg_type = "*"` rule at
//! the lowest priority with `cooldown = "1h"` (the console sends it at most once an hour). The
//! console's list order decides among its rules (the first listed has the highest priority).
//! Temporary media ids (image, voice: they expire after 3 days) and videos given as URLs cannot
//! be carried over; a rule left with nothing to send is written with `enabled = false`.
//! The output carries a `[[test]]` per keyword, whose expected rule is what the engine answers,
//! so the file lints clean.

use serde::Deserialize;

use crate::engine;
use crate::protocol::{Body, Event, Message};
use crate::ruleset::{Declared, compile_with, sources_from};

/// Why the input cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not the JSON of `get_current_autoreply_info`.
    #[error("not an answer of get_current_autoreply_info: {0}")]
    Json(#[from] serde_json::Error),
    /// WeChat's error answer.
    #[error("the saved answer is WeChat's error {errcode} ({errmsg}), not the auto-reply settings")]
    Wechat {
        /// The code.
        errcode: i64,
        /// The message.
        errmsg: String,
    },
}

/// What could not be carried over, or needs doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The rule it concerns (its id in the output).
    pub rule: String,
    /// What happened.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// The conversion's result.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The rule file.
    pub toml: String,
    /// What could not be carried over, in the order met.
    pub notes: Vec<Note>,
    /// Rules written, and how many of them are disabled.
    pub rules: usize,
    /// Rules written disabled (nothing they could send).
    pub disabled: usize,
    /// Whether `reply.all` is used (the config then needs `app_secret`).
    pub uses_all: bool,
}

#[derive(Deserialize)]
struct Info {
    errcode: Option<i64>,
    errmsg: Option<String>,
    is_add_friend_reply_open: Option<i64>,
    is_autoreply_open: Option<i64>,
    add_friend_autoreply_info: Option<ConsoleReply>,
    message_default_autoreply_info: Option<ConsoleReply>,
    keyword_autoreply_info: Option<KeywordRules>,
}

#[derive(Deserialize)]
struct KeywordRules {
    #[serde(default)]
    list: Vec<ConsoleRule>,
}

#[derive(Deserialize)]
struct ConsoleRule {
    rule_name: String,
    reply_mode: String,
    #[serde(default)]
    keyword_list_info: Vec<Keyword>,
    #[serde(default)]
    reply_list_info: Vec<ConsoleReply>,
}

#[derive(Deserialize)]
struct Keyword {
    match_mode: String,
    content: String,
}

#[derive(Deserialize)]
struct ConsoleReply {
    #[serde(rename = "type")]
    kind: String,
    content: Option<String>,
    news_info: Option<NewsInfo>,
}

#[derive(Deserialize)]
struct NewsInfo {
    #[serde(default)]
    list: Vec<Article>,
}

#[derive(Deserialize)]
struct Article {
    title: String,
    digest: Option<String>,
    content_url: Option<String>,
    cover_url: Option<String>,
}

/// The most replies of each list kind (replyd's limits).
const MAX_RANDOM: usize = 10;
const MAX_ALL: usize = 5;

/// A TOML string.
fn s(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// One rule of the output.
struct Out {
    id: String,
    name: String,
    priority: i64,
    matcher: String,
    reply: Option<String>,
    why_disabled: Option<String>,
    cooldown: bool,
}

/// Converts a saved `get_current_autoreply_info` answer.
///
/// # Errors
///
/// Text that is not that answer's JSON, or WeChat's error answer.
pub fn convert(json: &str) -> Result<Imported, ImportError> {
    let info: Info = serde_json::from_str(json)?;
    if let Some(errcode) = info.errcode.filter(|c| *c != 0) {
        return Err(ImportError::Wechat {
            errcode,
            errmsg: info.errmsg.unwrap_or_default(),
        });
    }
    let mut notes = Vec::new();
    let mut out: Vec<Out> = Vec::new();
    let console = info
        .keyword_autoreply_info
        .map(|k| k.list)
        .unwrap_or_default();
    let n = console.len() as i64;
    let mut used_ids = Vec::new();
    for (i, rule) in console.iter().enumerate() {
        let base = id_of(&rule.rule_name, i, &mut used_ids);
        let (reply, why) = reply_of(&base, &rule.reply_mode, &rule.reply_list_info, &mut notes);
        let groups: [(&str, &str, &str); 2] =
            [("equal", "exact", ""), ("contain", "contains", "-contains")];
        let has = |mode: &str| rule.keyword_list_info.iter().any(|k| k.match_mode == mode);
        let split = has("equal") && has("contain");
        for (mode, key, suffix) in groups {
            let words: Vec<&str> = rule
                .keyword_list_info
                .iter()
                .filter(|k| k.match_mode == mode)
                .map(|k| k.content.as_str())
                .collect();
            if words.is_empty() {
                continue;
            }
            let list = words.iter().map(|w| s(w)).collect::<Vec<_>>().join(", ");
            out.push(Out {
                id: if split {
                    format!("{base}{suffix}")
                } else {
                    base.clone()
                },
                name: rule.rule_name.clone(),
                priority: n - i as i64,
                matcher: format!("match.{key} = [{list}]"),
                reply: reply.clone(),
                why_disabled: why.clone(),
                cooldown: false,
            });
        }
        for k in &rule.keyword_list_info {
            if k.match_mode != "equal" && k.match_mode != "contain" {
                notes.push(Note {
                    rule: base.clone(),
                    message: format!(
                        "the keyword {:?} has match_mode {:?}",
                        k.content, k.match_mode
                    ),
                    fix: "write a rule for it by hand: match.exact or match.contains".to_owned(),
                });
            }
        }
    }
    let mut simple = |on: Option<i64>,
                      reply: Option<ConsoleReply>,
                      id: &str,
                      name: &str,
                      matcher: &str,
                      priority: i64,
                      cooldown: bool| {
        if let (Some(1), Some(r)) = (on, reply) {
            let (reply, why) = reply_of(id, "random_one", std::slice::from_ref(&r), &mut notes);
            out.push(Out {
                id: id.to_owned(),
                name: name.to_owned(),
                priority,
                matcher: matcher.to_owned(),
                reply,
                why_disabled: why,
                cooldown,
            });
        }
    };
    simple(
        info.is_add_friend_reply_open,
        info.add_friend_autoreply_info,
        "console-follow",
        "关注后自动回复",
        "match.event = \"subscribe\"",
        0,
        false,
    );
    simple(
        info.is_autoreply_open,
        info.message_default_autoreply_info,
        "console-default",
        "收到消息回复",
        "match.msg_type = \"*\"",
        -1000,
        true,
    );
    let body = write(&out);
    let tests = tests_for(&body, &out, &console);
    let toml = format!("{body}{tests}");
    Ok(Imported {
        uses_all: out.iter().any(|o| {
            o.reply
                .as_deref()
                .is_some_and(|r| r.starts_with("reply.all"))
        }),
        rules: out.len(),
        disabled: out.iter().filter(|o| o.why_disabled.is_some()).count(),
        toml,
        notes,
    })
}

/// The rule id for a console rule name: the name when it is a valid id, else `console-N`.
fn id_of(name: &str, index: usize, used: &mut Vec<String>) -> String {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    let mut id = if valid {
        name.to_owned()
    } else {
        format!("console-{}", index + 1)
    };
    while used.contains(&id) {
        id.push_str("-2");
    }
    used.push(id.clone());
    id
}

/// The `reply.…` line of a console rule, or why it has none (then the rule is disabled).
fn reply_of(
    id: &str,
    mode: &str,
    replies: &[ConsoleReply],
    notes: &mut Vec<Note>,
) -> (Option<String>, Option<String>) {
    let mut sendable: Vec<String> = Vec::new();
    let mut first_problem = None;
    for r in replies {
        match one_reply(r) {
            Ok(text) => sendable.push(text),
            Err((message, fix)) => {
                first_problem.get_or_insert_with(|| message.clone());
                notes.push(Note {
                    rule: id.to_owned(),
                    message,
                    fix,
                });
            }
        }
        if r.kind == "news"
            && let Some(n) = r.news_info.as_ref().filter(|n| n.list.len() > 1)
        {
            notes.push(Note {
                rule: id.to_owned(),
                message: format!(
                    "a news reply has {} articles; WeChat shows only the first in reply to a message",
                    n.list.len()
                ),
                fix: "kept the first; link the others from its page".to_owned(),
            });
        }
    }
    let (key, max) = match mode {
        "reply_all" => ("all", MAX_ALL),
        _ => ("random", MAX_RANDOM),
    };
    if sendable.len() > max {
        notes.push(Note {
            rule: id.to_owned(),
            message: format!(
                "{} replies; reply.{key} takes at most {max}",
                sendable.len()
            ),
            fix: format!("kept the first {max}"),
        });
        sendable.truncate(max);
    }
    match sendable.len() {
        0 => (
            None,
            Some(match first_problem {
                Some(p) => format!("nothing it could send: {p}"),
                None => "the console rule has no reply".to_owned(),
            }),
        ),
        1 => (Some(format!("reply.{}", sendable.remove(0))), None),
        _ => {
            let items: Vec<String> = sendable.iter().map(|r| format!("  {{ {r} }},")).collect();
            (
                Some(format!("reply.{key} = [\n{}\n]", items.join("\n"))),
                None,
            )
        }
    }
}

/// One console reply as `kind = value`, or what stops it and what to do.
fn one_reply(r: &ConsoleReply) -> Result<String, (String, String)> {
    let content = r.content.as_deref().unwrap_or("");
    let short = |c: &str| c.chars().take(16).collect::<String>();
    match r.kind.as_str() {
        "text" if !content.trim().is_empty() => Ok(format!("text = {}", s(content))),
        "text" => Err(("an empty text reply".to_owned(), "write the text".to_owned())),
        kind @ ("img" | "voice") => {
            let ours = if kind == "img" { "image" } else { "voice" };
            Err((
                format!("{} {ours} reply with the temporary media id {}… (media ids from the console expire after 3 days)", if ours == "image" { "an" } else { "a" }, short(content)),
                format!("upload it as permanent material (素材管理) and write reply.{ours} = {{ media_id = \"…\" }}"),
            ))
        }
        "video" => Err((
            format!("a video reply given as a URL ({}…); a passive reply needs a media id", short(content)),
            "upload the video as permanent material (素材管理) and write reply.video = { media_id = \"…\" }".to_owned(),
        )),
        "news" => {
            let first = r
                .news_info
                .as_ref()
                .and_then(|n| n.list.first())
                .ok_or_else(|| ("a news reply without articles".to_owned(), "write reply.news by hand".to_owned()))?;
            let mut fields = vec![format!("title = {}", s(&first.title))];
            for (key, value) in [
                ("description", &first.digest),
                ("url", &first.content_url),
                ("pic_url", &first.cover_url),
            ] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    fields.push(format!("{key} = {}", s(v)));
                }
            }
            Ok(format!("news = [{{ {} }}]", fields.join(", ")))
        }
        other => Err((
            format!("a reply of the console type {other:?}"),
            "write it by hand".to_owned(),
        )),
    }
}

/// The rules as TOML.
fn write(out: &[Out]) -> String {
    let mut t = String::from(
        "# Imported by `replyd import` from the console's auto-reply (get_current_autoreply_info).\n\
         # The console's rules keep its order: the first listed has the highest priority.\n",
    );
    for o in out {
        t.push('\n');
        if let Some(why) = &o.why_disabled {
            t.push_str(&format!(
                "# Disabled, {why}; see the report of replyd import.\n"
            ));
        }
        t.push_str("[[rule]]\n");
        t.push_str(&format!("id = {}\n", s(&o.id)));
        t.push_str(&format!("name = {}\n", s(&o.name)));
        t.push_str(&format!("priority = {}\n", o.priority));
        if o.why_disabled.is_some() {
            t.push_str("enabled = false\n");
        }
        if o.cooldown {
            t.push_str("cooldown = \"1h\"  # the console's default reply: at most once an hour per follower\n");
        }
        t.push_str(&o.matcher);
        t.push('\n');
        t.push_str(o.reply.as_deref().unwrap_or("reply.none = true"));
        t.push('\n');
    }
    t
}

/// A `[[test]]` per keyword (and for the follow and default replies), each expecting what the
/// engine answers with these rules: the console's behaviour, kept by the priorities.
fn tests_for(body: &str, out: &[Out], console: &[ConsoleRule]) -> String {
    let declared = Declared {
        upstreams: Vec::new(),
        api: true,
    };
    let Some(set) = compile_with(&sources_from(&[("import.toml", body)]), &declared).ruleset()
    else {
        return String::new();
    };
    let cx = engine::Context::at(jiff::Timestamp::UNIX_EPOCH);
    let winner = |message: Message| {
        engine::respond(&set, &message, &cx)
            .winner
            .map(|(r, _)| r.id.to_string())
    };
    let message = |body: Body| Message {
        to_user: "gh_import".into(),
        from_user: "oImport".into(),
        create_time: 0,
        msg_id: Some("1".into()),
        body,
    };
    let mut tests = Vec::new();
    for k in console.iter().flat_map(|r| &r.keyword_list_info) {
        let m = message(Body::Text {
            content: k.content.clone(),
        });
        if let Some(id) = winner(m) {
            tests.push(format!(
                "[[test]]\nsend = {}\nexpect = {}\n",
                s(&k.content),
                s(&id)
            ));
        }
    }
    if out
        .iter()
        .any(|o| o.id == "console-follow" && o.why_disabled.is_none())
    {
        let m = message(Body::Event(Event::Subscribe {
            key: None,
            ticket: None,
        }));
        if let Some(id) = winner(m) {
            tests.push(format!(
                "[[test]]\nevent = \"subscribe\"\nexpect = {}\n",
                s(&id)
            ));
        }
    }
    if out
        .iter()
        .any(|o| o.id == "console-default" && o.why_disabled.is_none())
    {
        tests.push("[[test]]\nmsg_type = \"image\"\nexpect = \"console-default\"\n".to_owned());
    }
    if tests.is_empty() {
        return String::new();
    }
    format!(
        "\n# What the console answered, kept: one test per keyword.\n{}",
        tests.iter().map(|t| format!("\n{t}")).collect::<String>()
    )
}
