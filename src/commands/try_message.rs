//! `replyd try`: one message against a rules directory, no server. Prints the rule that wins
//! and why, every other candidate and why it lost, and the exact reply XML `serve` would send.
//! (The module is not called `try`: that is a reserved word.)

use std::io::{Read as _, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use serde_json::json;

use super::{Exit, UsageError};
use crate::analysis::test_message;
use crate::cli::{TryArgs, TryFormat};
use crate::config::UpstreamSpec;
use crate::engine::{self, Action, Answer, Candidate, Ranked};
use crate::load;
use crate::protocol::{self, Body, Message, MsgType, reply};
use crate::ruleset::normalize::normalize;
use crate::ruleset::{RuleSet, Skip, TestInput};

/// Runs `try`.
///
/// # Errors
///
/// A message that cannot be built or read, a config or rules directory that cannot be read, a
/// rule set with errors, or a report that cannot be written.
pub fn run(args: TryArgs) -> anyhow::Result<Exit> {
    let message = message_of(&args)?;
    // The config serve would read: its rules directory, upstreams and fall-through.
    let config = super::config_of(args.config.clone(), args.account.as_deref())?;
    let rules = args.rules.clone().unwrap_or_else(|| config.rules.clone());
    let forwarding = &config.forwarding;
    let declared = config.declared();
    let loaded = load::load_paths(std::slice::from_ref(&rules), &declared)?;
    let Some(set) = loaded.ruleset else {
        for d in loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity() == crate::diag::Severity::Error)
        {
            eprintln!("{}", d.short(&loaded.sources));
        }
        return Err(anyhow!(
            "the rules in {} have errors, so serve would not load them; `replyd lint {}` explains each",
            rules.display(),
            rules.display()
        ));
    };
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    // `[fall_through]` decides what a message no rule answers gets, as in serve.
    let cx = engine::Context {
        fall_through: &forwarding.fall_through,
        ..engine::Context::at(at)
    };
    let answer = engine::respond(&set, &message, &cx);
    let forward = match &answer.action {
        Action::Forward(name) => forwarding.upstream(name),
        _ => None,
    };
    let candidates = engine::candidates(&set, &message, Some(&cx));
    // The reply is written as at that time too.
    let now = match args.at {
        Some(at) => u64::try_from(at.as_second()).unwrap_or(0),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let reply_xml = match &answer.action {
        Action::Reply(r) => reply::render(r, &message.from_user, &message.to_user, now),
        Action::Success => "success".to_owned(),
        Action::Forward(name) => format!("(the answer of upstream `{name}`, relayed unchanged)"),
    };
    let report = match args.format {
        TryFormat::Human => human(
            &set,
            &message,
            args.at,
            &answer,
            &candidates,
            forward,
            &reply_xml,
        ),
        TryFormat::Json => json_report(&set, &message, &answer, &candidates, forward, &reply_xml),
    };
    writeln!(std::io::stdout().lock(), "{report}").context("cannot write the report")?;
    Ok(Exit::success_if(
        answer.winner.is_some() || forward.is_some(),
    ))
}

/// The message the arguments describe.
fn message_of(args: &TryArgs) -> anyhow::Result<Message> {
    if let Some(path) = &args.xml {
        let mut body = Vec::new();
        let read = if path.as_os_str() == "-" {
            std::io::stdin().read_to_end(&mut body)
        } else {
            std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body))
        };
        read.with_context(|| format!("cannot read {}", path.display()))?;
        return protocol::message::parse(&body).with_context(|| {
            format!(
                "{} is not a message serve would accept (it would answer 400)",
                path.display()
            )
        });
    }
    let usage = |m: &str| Err(UsageError(m.to_owned()).into());
    if args.key.is_some() && args.event.is_none() {
        return usage("--key is the EventKey of an event: give --event NAME too");
    }
    let input = match (&args.text, &args.event, &args.msg_type) {
        (Some(t), _, _) => TestInput::Text(t.clone()),
        (_, Some(name), _) => TestInput::Event {
            name: name.clone(),
            key: args.key.clone(),
        },
        (None, None, None) if args.scene.is_some() => {
            TestInput::Scene(args.scene.clone().unwrap_or_default())
        }
        (_, _, Some(t)) => match MsgType::parse_ignore_case(t) {
            Some(MsgType::Event) => return usage("--msg-type event: use --event NAME"),
            Some(MsgType::Text) => {
                return usage("--msg-type text: give the text itself (replyd try \"流量\")");
            }
            _ => TestInput::MsgType(t.clone()),
        },
        _ => return usage("give a TEXT, --event, --msg-type, --scene or --xml"),
    };
    Ok(test_message(&input))
}

/// One line describing the message.
fn describe(message: &Message) -> String {
    match &message.body {
        Body::Text { content } => {
            let n = normalize(content);
            if n == content.as_str() {
                format!("text {content:?}")
            } else {
                format!("text {content:?} (normalised {n:?})")
            }
        }
        Body::Event(e) => match e.key() {
            Some(k) => format!("event {} with key {k:?}", e.name()),
            None => format!("event {}", e.name()),
        },
        _ => message.msg_type().to_owned(),
    }
}

/// `id (file:line), priority P, kind "literal"`.
fn describe_candidate(set: &RuleSet, c: &Candidate) -> String {
    let rule = set.rule(c.rule);
    let item = rule
        .matcher
        .item_text(c.item)
        .map(|t| format!(" {t:?}"))
        .unwrap_or_default();
    let name = rule
        .name
        .as_deref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    format!(
        "{}{name} ({}), priority {}, {}{item}",
        rule.id,
        rule.origin(),
        rule.priority,
        c.kind.as_str()
    )
}

fn fall_through(message: &Message, action: &Action<'_>) -> &'static str {
    match (&message.body, action) {
        (_, Action::Forward(_)) => "no rule answers it; [fall_through] sends it to an upstream",
        (Body::Event(_), _) => "no rule answers it; an event is answered `success`",
        (_, Action::Success) => {
            "no rule answers it; [fall_through] answers a user message `success`"
        }
        _ => "no rule answers it; a user message is handed to customer service",
    }
}

fn human(
    set: &RuleSet,
    message: &Message,
    at: Option<jiff::Timestamp>,
    answer: &Answer<'_>,
    candidates: &[Ranked],
    forward: Option<&UpstreamSpec>,
    reply_xml: &str,
) -> String {
    let mut out = format!("message:  {}\n", describe(message));
    if let Some(at) = at {
        out.push_str(&format!("at:       {at}\n"));
    }
    if let Some(e) = message.event() {
        for (name, value) in e.detail().fields() {
            out.push_str(&format!("  {name}: {value:?}\n"));
        }
    }
    match &answer.winner {
        Some((_, w)) => {
            out.push_str(&format!("answered: {}\n", describe_candidate(set, w)));
            let losers: Vec<&Candidate> = candidates
                .iter()
                .filter(|c| c.candidate != *w && c.skipped.is_none())
                .map(|c| &c.candidate)
                .collect();
            if !losers.is_empty() {
                out.push_str("beaten:\n");
                for c in losers {
                    out.push_str(&format!(
                        "  {}: {}\n",
                        describe_candidate(set, c),
                        w.decided_by(c).loser_phrase()
                    ));
                }
            }
        }
        None => out.push_str(&format!(
            "answered: nothing: {}\n",
            fall_through(message, &answer.action)
        )),
    }
    let skipped: Vec<&Ranked> = candidates.iter().filter(|c| c.skipped.is_some()).collect();
    if !skipped.is_empty() {
        out.push_str("skipped:\n");
        for c in skipped {
            out.push_str(&format!(
                "  {}: {}\n",
                describe_candidate(set, &c.candidate),
                c.skipped.map_or("", Skip::phrase)
            ));
        }
    }
    if answer.clipped {
        out.push_str("note:     the reply text was cut to WeChat's 2047 bytes\n");
    }
    if let Some((rule, _)) = &answer.winner
        && let crate::ruleset::RuleReply::Transfer {
            offline: Some(offline),
            ..
        } = &rule.reply
    {
        out.push_str(&format!(
            "offline:  when the agent is offline (serve knows from WeChat's list of agents online), a {} reply instead\n",
            offline.kind()
        ));
    }
    if let Some(u) = forward {
        let failed = if message.event().is_some() {
            "success"
        } else {
            "a hand-over to customer service"
        };
        out.push_str(&format!(
            "upstream: `{}` would be called (POST {}, within {} ms; nothing is called now); \
             if it fails, the answer is {failed}\n",
            u.name,
            u.url,
            u.timeout.as_millis()
        ));
    }
    let kind = match &answer.action {
        Action::Reply(r) => r.msg_type(),
        Action::Success => "success",
        Action::Forward(_) => "upstream",
    };
    out.push_str(&format!("reply ({kind}):\n{reply_xml}"));
    if !answer.more.is_empty() {
        out.push_str(&format!(
            "\nthen, through WeChat's customer-service message API ({} more):\n",
            answer.more.len()
        ));
        for r in &answer.more {
            let json = crate::wechat_api::custom_message(&message.from_user, r)
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push_str(&format!("  {json}\n"));
        }
    }
    out
}

fn json_report(
    set: &RuleSet,
    message: &Message,
    answer: &Answer<'_>,
    candidates: &[Ranked],
    forward: Option<&UpstreamSpec>,
    reply_xml: &str,
) -> String {
    let candidate = |c: &Candidate| {
        let rule = set.rule(c.rule);
        json!({
            "id": &*rule.id,
            "file": rule.origin().path.display().to_string(),
            "line": rule.origin().line,
            "priority": rule.priority,
            "matcher": c.kind.as_str(),
            "literal": rule.matcher.item_text(c.item),
        })
    };
    let winner = answer.winner.as_ref().map(|(_, w)| w);
    let beaten: Vec<serde_json::Value> = candidates
        .iter()
        .filter(|c| Some(&c.candidate) != winner)
        .map(|c| {
            let mut v = candidate(&c.candidate);
            if let Some(obj) = v.as_object_mut() {
                match (c.skipped, winner) {
                    (Some(s), _) => {
                        obj.insert("skipped_because".into(), json!(s.phrase()));
                    }
                    (None, Some(w)) => {
                        obj.insert(
                            "lost_because".into(),
                            json!(w.decided_by(&c.candidate).loser_phrase()),
                        );
                    }
                    (None, None) => {}
                }
            }
            v
        })
        .collect();
    let (text, event, key) = match &message.body {
        Body::Text { content } => (Some(content.as_str()), None, None),
        Body::Event(e) => (None, Some(e.name()), e.key()),
        _ => (None, None, None),
    };
    let v = json!({
        "message": {
            "msg_type": message.msg_type(), "text": text, "event": event, "key": key,
            "fields": message.event().map(|e| e.detail().fields()),
        },
        "winner": winner.map(candidate),
        "beaten": beaten,
        "fall_through": winner.is_none().then_some(match &answer.action {
            Action::Reply(_) => "transfer",
            Action::Success => "success",
            Action::Forward(_) => "upstream",
        }),
        "upstream": forward.map(|u| json!({ "name": u.name, "url": u.url.to_string(), "timeout_ms": u.timeout.as_millis() as u64 })),
        "reply": reply_xml,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}
