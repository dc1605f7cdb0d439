//! Checks of a compiled rule set that need the engine: the `[[test]]` entries, and keywords or
//! rules that can never answer because a higher-ranked rule always takes their messages.
//!
//! Both ask [`engine::respond`] / [`engine::candidates`] — the functions that answer WeChat —
//! instead of re-implementing the ranking, so what they report is what `serve` does.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::diag::{Code, Diagnostic, Location};
use crate::engine::{self, Action, Candidate, Decider};
use crate::protocol::{Body, Event, Message, Reply};
use crate::ruleset::normalize::{fold, normalize};
use crate::ruleset::{Expect, KeyMatch, MatchKind, Matcher, RuleSet, RuleTest, TestInput};

/// Runs every `[[test]]` (at its `at`, or at `now`) and returns a `test-failed` diagnostic
/// for each failure.
pub fn run_tests(set: &RuleSet, now: Timestamp) -> Vec<Diagnostic> {
    set.tests()
        .iter()
        .filter_map(|t| run_test(set, t, now).err().map(|d| *d))
        .collect()
}

/// Campaigns whose `until` has passed at `now`: they never answer again.
pub fn expired(set: &RuleSet, now: Timestamp) -> Vec<Diagnostic> {
    set.rules()
        .iter()
        .filter_map(|r| {
            let timing = r.timing.as_ref()?;
            let until = timing.when.until.filter(|u| *u <= now)?;
            let span = timing.until_span?;
            Some(
                Diagnostic::at(
                    Code::Expired,
                    r.at(span),
                    format!(
                        "the campaign of rule `{}` ended at {until}: it never answers again",
                        r.id
                    ),
                )
                .with_help(
                    "delete the rule (git keeps it), or move `until` if the campaign goes on",
                ),
            )
        })
        .collect()
}

/// Finds keywords and rules that can never answer.
///
/// A literal keyword is sent to the engine as a message of its own. If another rule wins, and
/// that rule would win every message the keyword matches (an exact keyword matches only itself;
/// a prefix keyword's messages all start with it, so another prefix or a contained keyword keeps
/// winning them; likewise a contains keyword loses all its messages to another contains keyword
/// found in it), the keyword is shadowed. Event and `msg_type` rules are probed the same way.
/// Regex rules are not analysed: their languages cannot be enumerated.
///
/// Each rule is probed on its own, so a large set is shared out among threads (one per core, up
/// to four) whose findings are joined in rule order: a catalogue of 100,000 rules spent 130 ms
/// here on one thread.
pub fn shadowing(set: &RuleSet) -> Vec<Diagnostic> {
    let rules = set.rules().len();
    let threads = crate::ruleset::load_threads();
    if threads == 1 || rules < SHARED_OUT_FROM {
        return shadowing_among(set, 0..rules);
    }
    let share = rules.div_ceil(threads);
    std::thread::scope(|scope| {
        let mut found = Vec::new();
        let mut running = Vec::new();
        for start in (0..rules).step_by(share) {
            let range = start..(start + share).min(rules);
            let spawned = std::thread::Builder::new()
                .name("replyd-analysis".into())
                .spawn_scoped(scope, {
                    let range = range.clone();
                    move || shadowing_among(set, range)
                });
            match spawned {
                Ok(handle) => running.push(Ok(handle)),
                // No thread to be had: this share is probed here, in its turn.
                Err(_) => running.push(Err(range)),
            }
        }
        for share in running {
            found.extend(match share {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(range) => shadowing_among(set, range),
            });
        }
        found
    })
}

/// Below this many rules, [`shadowing`] stays on the calling thread.
const SHARED_OUT_FROM: usize = 2_000;

/// [`shadowing`] for the rules at `range` (indexes into the set).
fn shadowing_among(set: &RuleSet, range: std::ops::Range<usize>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let rules = set.rules()[range.clone()].iter().zip(range);
    for (rule, index) in rules.filter(|(r, _)| r.enabled) {
        let index = index as u32;
        // The candidate that always takes a message from this rule (the best one above it
        // that answers whatever the time, follower or match; this rule's own when there is
        // none), and this rule's own candidate there.
        let probe = |m: &Message| {
            let all = engine::candidates(set, m, None);
            let at = all.iter().position(|c| c.candidate.rule == index)?;
            let own = all[at].candidate;
            let taker = all[..at]
                .iter()
                .map(|r| r.candidate)
                .find(|c| set.rule(c.rule).unconditional())
                .unwrap_or(own);
            Some((taker, own))
        };
        match &rule.matcher {
            Matcher::Exact(keywords) | Matcher::Prefix(keywords) | Matcher::Contains(keywords) => {
                let kind = rule.matcher.kind();
                // Where each normalised keyword was first listed: one lookup per keyword,
                // however many the rule lists.
                let mut first: HashMap<&str, usize> = HashMap::with_capacity(keywords.len());
                for (i, k) in keywords.iter().enumerate() {
                    if let Some(&j) = first.get(k.normalized.as_str()) {
                        out.push(
                            Diagnostic::at(
                                Code::Shadowed,
                                rule.at(k.span),
                                format!(
                                    "the keyword {:?} is listed twice in rule `{}`",
                                    k.text, rule.id
                                ),
                            )
                            .with_help("delete one of them")
                            .with_related_at(rule.at(keywords[j].span), "first listed here"),
                        );
                        continue;
                    }
                    first.insert(&k.normalized, i);
                    // A case-insensitive keyword matches its folded form too: it is shadowed only
                    // if another rule takes both.
                    let mut probes = vec![k.text.clone()];
                    if !rule.case_sensitive {
                        probes.push(fold(&normalize(&k.text)).into_owned());
                    }
                    let results: Vec<_> = probes.iter().map(|p| probe(&text_message(p))).collect();
                    let Some(Some((w, own))) = results.first().copied() else {
                        continue;
                    };
                    let always = results
                        .iter()
                        .all(|c| c.is_some_and(|(c, _)| c.rule == w.rule))
                        && w.rule != index
                        && match kind {
                            MatchKind::Exact => true,
                            MatchKind::Prefix => {
                                matches!(w.kind, MatchKind::Prefix | MatchKind::Contains)
                            }
                            _ => w.kind == MatchKind::Contains,
                        };
                    if always {
                        let what = format!(
                            "the {} keyword {:?} of rule `{}`",
                            kind.as_str(),
                            k.text,
                            rule.id
                        );
                        out.push(shadowed(set, own, &what, rule.at(k.span), w));
                    }
                }
            }
            Matcher::Event { name, key } => {
                // Key prefixes and regexes cover keys no probe enumerates: not analysed.
                let key = match key {
                    KeyMatch::Any => None,
                    KeyMatch::Exact(k) => Some(k.as_str()),
                    KeyMatch::Prefix(_) | KeyMatch::Regex(_) => continue,
                };
                let m = message(Body::Event(Event::new(name, key)));
                if let Some((w, own)) = probe(&m).filter(|(w, _)| w.rule != index) {
                    let what = match key {
                        Some(k) => format!("rule `{}` (event {name} with key {k:?})", rule.id),
                        None => format!("rule `{}` (event {name})", rule.id),
                    };
                    out.push(shadowed(set, own, &what, rule.location(), w));
                }
            }
            Matcher::MsgType(t) if t.eq_ignore_ascii_case("text") => {}
            Matcher::MsgType(t) => {
                if let Some((w, own)) =
                    probe(&message(body_of_type(t))).filter(|(w, _)| w.rule != index)
                {
                    let what = format!("rule `{}` (msg_type {t})", rule.id);
                    out.push(shadowed(set, own, &what, rule.location(), w));
                }
            }
            Matcher::Regex(_) | Matcher::Scene(_) | Matcher::AnyMessage => {}
        }
    }
    out
}

/// The warning for `what`, whose candidate `lost` always loses to `winner`.
fn shadowed(
    set: &RuleSet,
    lost: Candidate,
    what: &str,
    at: Location,
    winner: Candidate,
) -> Diagnostic {
    let (l, w) = (set.rule(lost.rule), set.rule(winner.rule));
    let decider = winner.decided_by(&lost);
    let because = decider.winner_phrase();
    let item = w
        .matcher
        .item_text(winner.item)
        .map(|t| format!(" {t:?}"))
        .unwrap_or_default();
    let help = if decider == Decider::Priority || w.priority >= l.priority {
        format!(
            "give rule `{}` a priority above {} (`priority = {}`) if it should answer, or delete what can never answer",
            l.id,
            w.priority,
            w.priority.saturating_add(1)
        )
    } else {
        "delete what can never answer, or change the rules' priorities".to_owned()
    };
    Diagnostic::at(
        Code::Shadowed,
        at,
        format!(
            "{what} can never answer: rule `{}` ({}, {}{item}, priority {}) always takes it ({because})",
            w.id,
            w.origin(),
            winner.kind.as_str(),
            w.priority
        ),
    )
    .with_help(help)
    .with_related_at(w.location(), format!("rule `{}`", w.id))
}

fn text_message(text: &str) -> Message {
    message(Body::Text {
        content: text.to_owned(),
    })
}

fn message(body: Body) -> Message {
    Message {
        to_user: "gh_test".to_owned(),
        from_user: "test-follower".to_owned(),
        create_time: 0,
        msg_id: None,
        body,
    }
}

/// Runs one `[[test]]` through the engine, exactly as `serve` would answer it.
fn run_test(set: &RuleSet, test: &RuleTest, now: Timestamp) -> Result<(), Box<Diagnostic>> {
    let message = test_message(&test.input);
    let cx = engine::Context::at(test.at.unwrap_or(now));
    let answer = engine::respond(set, &message, &cx);
    let actual = match (&answer.winner, &answer.action) {
        (Some((rule, _)), _) => format!("rule `{}` ({})", rule.id, rule.origin()),
        (None, Action::Success) => "nothing (success)".to_owned(),
        (None, _) => "the fall-through to customer service (transfer)".to_owned(),
    };
    let passed = match (&test.expect, &answer.winner, &answer.action) {
        (Expect::Rule(id), Some((rule, _)), _) => *rule.id == **id,
        (Expect::Transfer, None, Action::Reply(Reply::Transfer { .. })) => true,
        (Expect::Nothing, None, Action::Success) => true,
        _ => false,
    };
    let describe_input = match &test.input {
        TestInput::Text(t) => format!("the text {t:?}"),
        TestInput::Event { name, key: Some(k) } => format!("the event {name} with key {k:?}"),
        TestInput::Event { name, key: None } => format!("the event {name}"),
        TestInput::MsgType(t) => format!("a message of type {t}"),
        TestInput::Scene(x) => format!("a follow by the QR code of scene {x:?}"),
    };
    let describe_input = match test.at {
        Some(at) => format!("{describe_input} at {at}"),
        None => describe_input,
    };
    let expected = match &test.expect {
        Expect::Rule(id) => format!("rule `{id}`"),
        Expect::Transfer => "the fall-through to customer service (transfer)".to_owned(),
        Expect::Nothing => "nothing (success)".to_owned(),
    };
    let location = &test.origin.location;
    if !passed {
        let ranking: Vec<String> = engine::candidates(set, &message, Some(&cx))
            .iter()
            .enumerate()
            .map(|(i, ranked)| {
                let c = &ranked.candidate;
                let skipped = ranked
                    .skipped
                    .map(|s| format!(": skipped, {}", s.phrase()))
                    .unwrap_or_default();
                let r = set.rule(c.rule);
                let item = r
                    .matcher
                    .item_text(c.item)
                    .map(|t| format!(" {t:?}"))
                    .unwrap_or_default();
                format!(
                    "{}. `{}` (priority {}, {}{item}){skipped}",
                    i + 1,
                    r.id,
                    r.priority,
                    c.kind.as_str()
                )
            })
            .collect();
        let help = if ranking.is_empty() {
            "no rule matches it; check the keywords, or expect \"transfer\" / \"none\"".to_owned()
        } else {
            format!("the ranking was: {}", ranking.join(", "))
        };
        let mut d = Diagnostic::new(
            Code::TestFailed,
            location.file,
            test.expect_span.clone(),
            format!("test failed: {describe_input} should be answered by {expected}, but {actual} answered it"),
        )
        .with_help(help);
        if let Some((rule, _)) = &answer.winner {
            d = d.with_related_at(rule.location(), format!("rule `{}`", rule.id));
        }
        return Err(Box::new(d));
    }
    if let Some(needle) = &test.reply_contains {
        let text = answer.action.reply().map(reply_text).unwrap_or_default();
        if !text.contains(needle.as_str()) {
            return Err(Box::new(
                Diagnostic::new(
                    Code::TestFailed,
                    location.file,
                    location.span.clone(),
                    format!("test failed: the reply to {describe_input} does not contain {needle:?}; it is {text:?}"),
                )
                .with_help("fix the reply text, or the test's reply_contains"),
            ));
        }
    }
    Ok(())
}

/// The message a `[[test]]` describes.
pub fn test_message(input: &TestInput) -> Message {
    message(match input {
        TestInput::Text(t) => Body::Text { content: t.clone() },
        TestInput::Event { name, key } => Body::Event(Event::new(name, key.as_deref())),
        TestInput::MsgType(t) => body_of_type(t),
        TestInput::Scene(x) => Body::Event(Event::Subscribe {
            key: Some(format!("qrscene_{x}")),
            ticket: None,
        }),
    })
}

/// A dry-run message of a type a `msg_type` rule or test names. The compiler and `try` refuse
/// `text` and `event` there (they have their own inputs), so `of_type` gives a body.
fn body_of_type(msg_type: &str) -> Body {
    Body::of_type(msg_type).unwrap_or_else(|| Body::Other {
        msg_type: msg_type.to_owned(),
    })
}

/// Every string a reply carries, one per line: what `reply_contains` searches.
pub fn reply_text(reply: &Reply<'_>) -> String {
    let parts: Vec<&str> = match reply {
        Reply::Text { content } => vec![content],
        Reply::Image { media_id } | Reply::Voice { media_id } => vec![media_id],
        Reply::Video {
            media_id,
            title,
            description,
        } => [Some(media_id), title.as_ref(), description.as_ref()]
            .into_iter()
            .flatten()
            .map(|c| c.as_ref())
            .collect(),
        Reply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => [
            title.as_ref(),
            description.as_ref(),
            music_url.as_ref(),
            hq_music_url.as_ref(),
            Some(thumb_media_id),
        ]
        .into_iter()
        .flatten()
        .map(|c| c.as_ref())
        .collect(),
        Reply::News { articles } => articles
            .iter()
            .flat_map(|a| {
                [
                    Some(&a.title),
                    a.description.as_ref(),
                    a.url.as_ref(),
                    a.pic_url.as_ref(),
                ]
            })
            .flatten()
            .map(|c| c.as_ref())
            .collect(),
        Reply::Transfer { kf_account } => kf_account.iter().map(|c| c.as_ref()).collect(),
        Reply::Ai => Vec::new(),
    };
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{compile, sources_from};

    /// Shared out among threads, the analysis finds what one thread finds, in the same order.
    #[test]
    fn shadowing_shared_out_among_threads_finds_what_one_thread_finds() {
        let mut text = String::new();
        for i in 0..3 * SHARED_OUT_FROM {
            text.push_str(&format!(
                "[[rule]]\nid = \"r{i}\"\nmatch.exact = \"k{i}\"\nreply.text = \"{i}\"\n"
            ));
            // Every 97th keyword is also in a rule that outranks it.
            if i % 97 == 0 {
                text.push_str(&format!(
                    "[[rule]]\nid = \"top{i}\"\npriority = 5\nmatch.exact = [\"k{i}\", \"t{i}\"]\nreply.text = \"top\"\n"
                ));
            }
        }
        let sources = sources_from(&[("rules.toml", text.as_str())]);
        let set = compile(&sources).ruleset().expect("the rules compile");
        let shared = shadowing(&set);
        let alone = shadowing_among(&set, 0..set.rules().len());
        let messages = |d: &[Diagnostic]| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>();
        assert_eq!(shared.len(), (3 * SHARED_OUT_FROM).div_ceil(97));
        assert_eq!(messages(&shared), messages(&alone));
    }
}
