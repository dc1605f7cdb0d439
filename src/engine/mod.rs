//! Which rule answers a message, and with what.
//!
//! [`respond`] is the one function that decides: the HTTP handler calls it for every message,
//! `try`, the `[[test]]` runner and the shadowing analysis call it too. It is pure: "now" and
//! the follower's cooldowns are given in a [`Context`], it does no IO and it cannot fail. For
//! literal matchers its cost does not grow with the number of rules; all regexes run in one
//! pass of the regex set, and only the regexes that matched, and could still win, run again
//! for their captures. A rule outside its schedule or campaign window, or cooling for the
//! follower, is checked only when it matched and would win: it is then not a candidate, and
//! the next one answers.
//!
//! Ranking ([`RANKING`], README "How a message is matched"): the highest `priority` wins; on
//! equal priority the more specific matcher; then the longer matched literal; then the rule
//! written first. Nothing matched: a user message is handed to customer service, an event gets
//! `success`.
//!
//! Files: this one collects the candidates, `rank.rs` is the ranking, `render.rs` fills the
//! winner's reply in (and checks it against WeChat's limits).

mod rank;
mod render;

use jiff::Timestamp;

pub use rank::{Candidate, Decider, RANKING};
pub use render::{MAX_TEXT_BYTES, pick};

use crate::agents::{Agents, Unknown};
use crate::config::{FallThrough, Fallback};
use crate::cooldown::{Cooldowns, NoCooldowns};
use crate::protocol::{Body, Event, Message, MsgType, Reply};
use crate::ruleset::{Hit, KeyHit, KeyHow, MatchKind, Rule, RuleSet, Skip, Texts};

/// What the engine is told besides the message: when it arrived, who is cooling, and what a
/// message no rule answers gets.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// When replyd received the message.
    pub now: Timestamp,
    /// The followers' cooldowns.
    pub cooldowns: &'a dyn Cooldowns,
    /// `[fall_through]` of the config.
    pub fall_through: &'a FallThrough,
    /// Which agents are online (for `offline` replies).
    pub agents: &'a dyn Agents,
}

/// The fall-through without `[fall_through]`, for dry runs.
static DEFAULT_FALL_THROUGH: FallThrough = FallThrough::DEFAULT;

impl Context<'static> {
    /// A dry run at `now`: nobody is cooling, and the fall-through is the default (what a
    /// `[[test]]` expects as `transfer` or `none`).
    pub fn at(now: Timestamp) -> Context<'static> {
        Context {
            now,
            cooldowns: &NoCooldowns,
            fall_through: &DEFAULT_FALL_THROUGH,
            agents: &Unknown,
        }
    }
}

/// What answering a message comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'r> {
    /// Send this passive reply.
    Reply(Reply<'r>),
    /// Answer `success`.
    Success,
    /// Forward the message to the `[[upstream]]` of this name, and relay its answer.
    Forward(&'r str),
}

impl<'r> Action<'r> {
    /// The passive reply, if this is one.
    pub fn reply(&self) -> Option<&Reply<'r>> {
        match self {
            Action::Reply(r) => Some(r),
            Action::Success | Action::Forward(_) => None,
        }
    }
}

/// The engine's answer to one message.
#[derive(Debug)]
pub struct Answer<'r> {
    /// The rule that answered, and how it matched; `None` for the fall-through.
    pub winner: Option<(&'r Rule, Candidate)>,
    /// What to do.
    pub action: Action<'r>,
    /// The text rendered longer than WeChat takes and was cut (the caller logs and counts it).
    pub clipped: bool,
    /// `reply.all`'s other replies, to be sent in order after the passive one.
    pub more: Vec<Reply<'r>>,
}

/// One candidate as `try` shows it: how it ranks, and why it cannot answer now if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked {
    /// The candidate.
    pub candidate: Candidate,
    /// Why it is skipped now.
    pub skipped: Option<Skip>,
}

/// Decides the answer to a message.
pub fn respond<'r>(rules: &'r RuleSet, message: &Message, cx: &Context<'r>) -> Answer<'r> {
    let text = text_of(message).map(Texts::new);
    // A winner whose reply renders empty is no answer: it is left out and the search runs
    // again (only rules whose template can render empty can cause this).
    let mut excluded: Vec<u32> = Vec::new();
    loop {
        let mut best = Best {
            rules,
            message,
            cx,
            excluded: &excluded,
            candidate: None,
            captures: None,
        };
        collect(rules, message, text.as_ref(), &mut best);
        let Some(winner) = best.candidate else {
            let event = matches!(message.body, Body::Event(_));
            return Answer {
                winner: None,
                action: match cx.fall_through.of(event) {
                    Fallback::Upstream(name) => Action::Forward(name),
                    Fallback::Success => Action::Success,
                    // WeChat hands only user messages to customer service (and the config
                    // refuses `events = "transfer"`).
                    Fallback::Transfer if event => Action::Success,
                    Fallback::Transfer => match &cx.fall_through.offline {
                        Some(text) if cx.agents.offline(None) => Action::Reply(Reply::Text {
                            content: std::borrow::Cow::Borrowed(text),
                        }),
                        _ => Action::Reply(Reply::Transfer { kf_account: None }),
                    },
                },
                clipped: false,
                more: Vec::new(),
            };
        };
        let rule = rules.rule(winner.rule);
        match render::reply(rule, message, best.captures.as_ref(), cx.agents) {
            render::Rendered::Empty => excluded.push(winner.rule),
            render::Rendered::Reply {
                action,
                clipped,
                more,
            } => {
                return Answer {
                    winner: Some((rule, winner)),
                    action,
                    clipped,
                    more,
                };
            }
        }
    }
}

/// Every rule that matches the message, best first, each with why it cannot answer now (if it
/// cannot): what `try` and a failing test show. With `cx` `None`, nothing is skipped: the
/// shadowing analysis, which asks what can ever win.
pub fn candidates(rules: &RuleSet, message: &Message, cx: Option<&Context<'_>>) -> Vec<Ranked> {
    let text = text_of(message).map(Texts::new);
    let mut all = All(Vec::new());
    collect(rules, message, text.as_ref(), &mut all);
    let mut all: Vec<Ranked> = all
        .0
        .into_iter()
        .map(|candidate| Ranked {
            candidate,
            skipped: cx.and_then(|cx| skip(rules, candidate.rule, message, cx)),
        })
        .collect();
    all.sort_by(|a, b| b.candidate.rank_cmp(&a.candidate));
    all
}

/// The text the text matchers see: a text's content, or a voice message's `Recognition`
/// (matched only by `voice = true` rules; an empty one is no text).
fn text_of(message: &Message) -> Option<&str> {
    match &message.body {
        Body::Text { content } => Some(content),
        Body::Voice {
            recognition: Some(r),
            ..
        } if !r.trim().is_empty() => Some(r),
        _ => None,
    }
}

/// Why a matched rule cannot answer this message now.
fn skip(rules: &RuleSet, rule: u32, message: &Message, cx: &Context<'_>) -> Option<Skip> {
    let r = rules.rule(rule);
    if let Some(s) = r.when().skip(rules.schedules(), cx.now) {
        return Some(s);
    }
    (r.cooldown().is_some() && cx.cooldowns.cooling(&message.from_user, &r.id, cx.now))
        .then_some(Skip::Cooling)
}

/// Where [`collect`] puts the candidates it finds.
trait Sink<'t> {
    /// A candidate, with the captures of its regex if it has one.
    fn push(&mut self, candidate: Candidate, captures: Option<regex::Captures<'t>>);
    /// Whether a candidate of this priority and kind could still matter (the regexes run only
    /// when one could).
    fn wants(&self, priority: i64, kind: MatchKind) -> bool;
}

/// `respond`'s sink: only the best candidate that can answer now, and its captures.
struct Best<'a, 't> {
    rules: &'a RuleSet,
    message: &'a Message,
    cx: &'a Context<'a>,
    excluded: &'a [u32],
    candidate: Option<Candidate>,
    captures: Option<regex::Captures<'t>>,
}

impl<'t> Sink<'t> for Best<'_, 't> {
    fn push(&mut self, c: Candidate, captures: Option<regex::Captures<'t>>) {
        // The rank first: a candidate that would lose anyway costs no schedule or cooldown
        // lookup.
        if self
            .candidate
            .is_none_or(|b| c.rank_cmp(&b) == std::cmp::Ordering::Greater)
            && !self.excluded.contains(&c.rule)
            && skip(self.rules, c.rule, self.message, self.cx).is_none()
        {
            self.candidate = Some(c);
            self.captures = captures;
        }
    }

    fn wants(&self, priority: i64, kind: MatchKind) -> bool {
        self.candidate
            .is_none_or(|b| b.could_be_outranked_by(priority, kind))
    }
}

/// `candidates`' sink: all of them.
struct All(Vec<Candidate>);

impl<'t> Sink<'t> for All {
    fn push(&mut self, c: Candidate, _: Option<regex::Captures<'t>>) {
        self.0.push(c);
    }

    fn wants(&self, _: i64, _: MatchKind) -> bool {
        true
    }
}

/// Finds every rule that matches the message. Literal candidates come first, so that regexes
/// that cannot outrank them are not run at all.
fn collect<'t>(
    rules: &RuleSet,
    message: &'t Message,
    text: Option<&'t Texts<'_>>,
    sink: &mut impl Sink<'t>,
) {
    let index = rules.index();
    let whole = |rule: u32, kind: MatchKind| Candidate {
        rule,
        kind,
        item: 0,
        chars: 0,
        priority: rules.rule(rule).priority,
    };
    match &message.body {
        Body::Event(event) => collect_event(rules, event, sink),
        body => {
            if let Some(t) = text {
                // A voice message's Recognition is matched only by rules that say `voice`.
                let voice = matches!(body, Body::Voice { .. });
                collect_text(rules, t, voice, sink);
            }
            if let Some(kind) = body.kind().filter(|k| *k != MsgType::Event) {
                for &r in index.msg_type(kind.as_str()) {
                    sink.push(whole(r, MatchKind::MsgType), None);
                }
            } else if let Body::Other { msg_type } = body {
                for &r in index.msg_type(msg_type) {
                    sink.push(whole(r, MatchKind::MsgType), None);
                }
            }
            for &r in index.any_message() {
                sink.push(whole(r, MatchKind::AnyMessage), None);
            }
        }
    }
}

fn collect_text<'t>(rules: &RuleSet, t: &'t Texts<'_>, voice: bool, sink: &mut impl Sink<'t>) {
    let index = rules.index();
    let answers = |rule: u32| !voice || rules.rule(rule).voice;
    let hit = |kind: MatchKind| {
        move |h: Hit| Candidate {
            rule: h.rule,
            kind,
            item: h.item,
            chars: h.chars,
            priority: rules.rule(h.rule).priority,
        }
    };
    let literal = |kind: MatchKind, sink: &mut dyn FnMut(Candidate)| {
        let mut found = |h: Hit| {
            if answers(h.rule) {
                sink(hit(kind)(h));
            }
        };
        match kind {
            MatchKind::Exact => index.exact(rules.rules(), t, &mut found),
            MatchKind::Prefix => index.prefix(rules.rules(), t, &mut found),
            _ => index.contains(t, &mut found),
        }
    };
    for kind in [MatchKind::Exact, MatchKind::Prefix, MatchKind::Contains] {
        literal(kind, &mut |c| sink.push(c, None));
    }
    // The regex set runs only when some regex could still outrank what matched.
    if index
        .max_regex_priority()
        .is_some_and(|p| sink.wants(p, MatchKind::Regex))
    {
        index.regex(t, &mut |rule, item| {
            let r = rules.rule(rule);
            if !answers(rule) || !sink.wants(r.priority, MatchKind::Regex) {
                return;
            }
            let Some(captures) = r
                .matcher
                .capture_patterns()
                .get(item as usize)
                .and_then(|p| p.regex.captures(&t.normalized))
            else {
                return;
            };
            let chars = captures.get(0).map_or(0, |m| m.as_str().chars().count()) as u32;
            sink.push(
                hit(MatchKind::Regex)(Hit { rule, item, chars }),
                Some(captures),
            );
        });
    }
}

/// The scene of a follow by QR code (`qrscene_X`) or of a scan (`X`).
fn scene_of(event: &Event) -> Option<&str> {
    match event {
        Event::Subscribe { key: Some(k), .. } => k.strip_prefix("qrscene_"),
        Event::Scan { key, .. } => Some(key),
        _ => None,
    }
}

fn collect_event<'t>(rules: &RuleSet, event: &'t Event, sink: &mut impl Sink<'t>) {
    let index = rules.index();
    let key = event.key();
    let mut push = |h: KeyHit, kinds: [MatchKind; 4], value: Option<&'t str>| {
        let r = rules.rule(h.rule);
        let kind = match h.how {
            KeyHow::Exact => kinds[0],
            KeyHow::Prefix => kinds[1],
            KeyHow::Regex => kinds[2],
            KeyHow::Any => kinds[3],
        };
        let c = Candidate {
            rule: h.rule,
            kind,
            item: 0,
            chars: h.chars,
            priority: r.priority,
        };
        if h.how != KeyHow::Regex {
            sink.push(c, None);
            return;
        }
        if !sink.wants(r.priority, kind) {
            return;
        }
        let captures = value.and_then(|v| {
            r.matcher
                .capture_patterns()
                .first()
                .and_then(|p| p.regex.captures(v))
        });
        if let Some(captures) = captures {
            let chars = captures.get(0).map_or(0, |m| m.as_str().chars().count()) as u32;
            sink.push(Candidate { chars, ..c }, Some(captures));
        }
    };
    use MatchKind::*;
    if let Some(keys) = index.event(event.name()) {
        keys.lookup(key, &mut |h| {
            push(h, [EventKey, EventKeyPrefix, EventKeyRegex, Event], key)
        });
    }
    let scene = scene_of(event);
    if scene.is_some() {
        index.scenes().lookup(scene, &mut |h| {
            push(h, [Scene, ScenePrefix, SceneRegex, Scene], scene)
        });
    }
}

#[cfg(test)]
mod tests;
