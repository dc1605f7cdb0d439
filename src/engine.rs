//! Which rule answers a message, and with what.
//!
//! [`respond`] is the one function that decides: the HTTP handler calls it for every message,
//! `try`, the `[[test]]` runner and the shadowing analysis call it too. It is pure: no IO, no
//! clock, and it cannot fail. For literal matchers its cost does not grow with the number of
//! rules; all regexes run in one pass of the regex set (whose result has one entry per regex),
//! and only the regexes that matched, and could still win, run again for their captures.
//!
//! Ranking ([`RANKING`], README "How a message is matched"): among every rule that matches,
//! the highest `priority` wins; on equal priority the more specific matcher (exact > prefix > contains >
//! regex; an event rule with a key > one without); then the longer matched literal (for a
//! regex, the longer match); then the rule written first (path order, then file order).
//! Nothing matched: a user message is handed to customer service, an event gets `success`.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::protocol::{Article, Body, Message, Reply};
use crate::ruleset::{Hit, MatchKind, Matcher, Rule, RuleReply, RuleSet, Template, Texts};

/// One rule that matched a message, with what decides its rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the rule in the set.
    pub rule: u32,
    /// Which matcher fired.
    pub kind: MatchKind,
    /// Which keyword or pattern of the rule (0 for event and msg_type rules).
    pub item: u32,
    /// Characters of the matched literal (of the match, for a regex).
    pub chars: u32,
    /// The rule's priority.
    pub priority: i64,
}

impl Candidate {
    /// Orders candidates so that the winner is the greatest: the first step of [`RANKING`]
    /// that tells them apart decides.
    fn rank_cmp(&self, other: &Candidate) -> Ordering {
        RANKING
            .iter()
            .map(|step| step.compare(self, other))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// What decides between `self` and a lower-ranked `other`.
    pub fn decided_by(&self, other: &Candidate) -> Decider {
        RANKING
            .into_iter()
            .find(|step| step.compare(self, other).is_ne())
            .unwrap_or(Decider::Order)
    }

    /// Whether a rule of this priority and matcher kind could still outrank `self`, before it
    /// is known what (or how much) it matches: the steps of [`RANKING`] that depend only on
    /// the rule decide while they can; at the first that needs the match, it could.
    fn could_be_outranked_by(&self, priority: i64, kind: MatchKind) -> bool {
        let probe = Candidate {
            rule: 0,
            kind,
            item: 0,
            chars: 0,
            priority,
        };
        for step in RANKING {
            if !step.known_before_matching() {
                return true;
            }
            match step.compare(&probe, self) {
                Ordering::Greater => return true,
                Ordering::Less => return false,
                Ordering::Equal => {}
            }
        }
        false
    }
}

/// The ranking, written once (README, "How a message is matched"): among the candidates,
/// the first step that tells two apart decides which wins.
pub const RANKING: [Decider; 4] = [
    Decider::Priority,
    Decider::Specificity,
    Decider::Length,
    Decider::Order,
];

/// A step of the ranking: what decides between two candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// The higher `priority`.
    Priority,
    /// The more specific matcher (exact > prefix > contains > regex; event with key > without).
    Specificity,
    /// The longer matched literal (or regex match).
    Length,
    /// The rule written first (path order, then file order).
    Order,
}

impl Decider {
    /// How `a` compares with `b` at this step (`Greater`: `a` ranks higher).
    fn compare(self, a: &Candidate, b: &Candidate) -> Ordering {
        match self {
            Decider::Priority => a.priority.cmp(&b.priority),
            Decider::Specificity => a.kind.specificity().cmp(&b.kind.specificity()),
            Decider::Length => a.chars.cmp(&b.chars),
            // The rule written first has the lower index and ranks higher.
            Decider::Order => b.rule.cmp(&a.rule),
        }
    }

    /// Whether the step depends only on the rule (priority, matcher kind), not on the match.
    fn known_before_matching(self) -> bool {
        match self {
            Decider::Priority | Decider::Specificity => true,
            Decider::Length | Decider::Order => false,
        }
    }

    /// Why the winner wins, in a few words.
    pub fn winner_phrase(self) -> &'static str {
        match self {
            Decider::Priority => "higher priority",
            Decider::Specificity => "more specific matcher",
            Decider::Length => "longer match",
            Decider::Order => "written first",
        }
    }

    /// Why the loser loses, in a few words.
    pub fn loser_phrase(self) -> &'static str {
        match self {
            Decider::Priority => "lower priority",
            Decider::Specificity => "less specific matcher",
            Decider::Length => "shorter match",
            Decider::Order => "written later",
        }
    }
}

/// The engine's answer to one message.
#[derive(Debug)]
pub struct Answer<'r> {
    /// The rule that answered, and how it matched; `None` for the fall-through.
    pub winner: Option<(&'r Rule, Candidate)>,
    /// The reply to send; `None` means answer `success`.
    pub reply: Option<Reply<'r>>,
}

/// Decides the answer to a message.
pub fn respond<'r>(rules: &'r RuleSet, message: &Message) -> Answer<'r> {
    let text = text_of(message).map(Texts::new);
    let mut best = Best::default();
    collect(rules, message, text.as_ref(), &mut best);
    let Some(winner) = best.candidate else {
        return Answer {
            winner: None,
            reply: match message.body {
                Body::Event(_) => None,
                _ => Some(Reply::Transfer { kf_account: None }),
            },
        };
    };
    let rule = rules.rule(winner.rule);
    Answer {
        winner: Some((rule, winner)),
        reply: render_reply(&rule.reply, best.captures.as_ref()),
    }
}

/// Every rule that matches the message, best first: what `try` shows.
pub fn candidates(rules: &RuleSet, message: &Message) -> Vec<Candidate> {
    let text = text_of(message).map(Texts::new);
    let mut all = All(Vec::new());
    collect(rules, message, text.as_ref(), &mut all);
    let mut all = all.0;
    all.sort_by(|a, b| b.rank_cmp(a));
    all
}

fn text_of(message: &Message) -> Option<&str> {
    match &message.body {
        Body::Text { content } => Some(content),
        _ => None,
    }
}

/// Where [`collect`] puts the candidates it finds.
trait Sink<'t> {
    /// A candidate.
    fn push(&mut self, candidate: Candidate);
    /// Whether a regex candidate of this priority could still matter (regexes rank below every
    /// literal of the same priority, so against a literal winner only a higher priority can).
    fn wants_regex(&self, priority: i64) -> bool;
    /// A regex candidate, with the captures its match produced.
    fn push_regex(&mut self, candidate: Candidate, captures: regex::Captures<'t>);
}

/// `respond`'s sink: only the best candidate, and its captures.
#[derive(Default)]
struct Best<'t> {
    candidate: Option<Candidate>,
    captures: Option<regex::Captures<'t>>,
}

impl<'t> Sink<'t> for Best<'t> {
    fn push(&mut self, c: Candidate) {
        if self
            .candidate
            .is_none_or(|b| c.rank_cmp(&b) == Ordering::Greater)
        {
            self.candidate = Some(c);
            self.captures = None;
        }
    }

    fn wants_regex(&self, priority: i64) -> bool {
        self.candidate
            .is_none_or(|b| b.could_be_outranked_by(priority, MatchKind::Regex))
    }

    fn push_regex(&mut self, c: Candidate, captures: regex::Captures<'t>) {
        if self
            .candidate
            .is_none_or(|b| c.rank_cmp(&b) == Ordering::Greater)
        {
            self.candidate = Some(c);
            self.captures = Some(captures);
        }
    }
}

/// `candidates`' sink: all of them.
struct All(Vec<Candidate>);

impl<'t> Sink<'t> for All {
    fn push(&mut self, c: Candidate) {
        self.0.push(c);
    }

    fn wants_regex(&self, _: i64) -> bool {
        true
    }

    fn push_regex(&mut self, c: Candidate, _: regex::Captures<'t>) {
        self.0.push(c);
    }
}

/// Finds every rule that matches the message. Literal candidates come first, so that regexes
/// that cannot outrank them are not run at all.
fn collect<'t>(
    rules: &RuleSet,
    message: &Message,
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
    match (&message.body, text) {
        (Body::Text { .. }, Some(t)) => {
            let hit = |kind: MatchKind| {
                move |h: Hit| Candidate {
                    rule: h.rule,
                    kind,
                    item: h.item,
                    chars: h.chars,
                    priority: rules.rule(h.rule).priority,
                }
            };
            index.exact(t, &mut |h| sink.push(hit(MatchKind::Exact)(h)));
            index.prefix(t, &mut |h| sink.push(hit(MatchKind::Prefix)(h)));
            index.contains(t, &mut |h| sink.push(hit(MatchKind::Contains)(h)));
            // The regex set runs only when some regex could still outrank what matched.
            if index
                .max_regex_priority()
                .is_some_and(|p| sink.wants_regex(p))
            {
                index.regex(t, &mut |rule, item| {
                    let r = rules.rule(rule);
                    if !sink.wants_regex(r.priority) {
                        return;
                    }
                    let Matcher::Regex(patterns) = &r.matcher else {
                        return;
                    };
                    let Some(captures) = patterns
                        .get(item as usize)
                        .and_then(|p| p.regex.captures(&t.normalized))
                    else {
                        return;
                    };
                    let chars = captures.get(0).map_or(0, |m| m.as_str().chars().count()) as u32;
                    sink.push_regex(hit(MatchKind::Regex)(Hit { rule, item, chars }), captures);
                });
            }
        }
        (Body::Event(event), _) => {
            let (keyed, any) = index.events(event.name(), event.key());
            keyed
                .iter()
                .for_each(|&r| sink.push(whole(r, MatchKind::EventKey)));
            any.iter()
                .for_each(|&r| sink.push(whole(r, MatchKind::Event)));
        }
        (body, _) => {
            if !matches!(body, Body::Text { .. }) {
                index
                    .msg_type(message.msg_type())
                    .iter()
                    .for_each(|&r| sink.push(whole(r, MatchKind::MsgType)));
            }
        }
    }
}

/// Fills a rule's reply in. `None` is `reply.none`: answer `success`.
fn render_reply<'r>(
    reply: &'r RuleReply,
    captures: Option<&regex::Captures<'_>>,
) -> Option<Reply<'r>> {
    let fill = |t: &'r Template| -> Cow<'r, str> { t.render(captures) };
    let fill_opt = |t: &'r Option<Template>| t.as_ref().map(|t| t.render(captures));
    Some(match reply {
        RuleReply::Text(t) => Reply::Text { content: fill(t) },
        RuleReply::Image { media_id } => Reply::Image {
            media_id: fill(media_id),
        },
        RuleReply::Voice { media_id } => Reply::Voice {
            media_id: fill(media_id),
        },
        RuleReply::Video {
            media_id,
            title,
            description,
        } => Reply::Video {
            media_id: fill(media_id),
            title: fill_opt(title),
            description: fill_opt(description),
        },
        RuleReply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => Reply::Music {
            title: fill_opt(title),
            description: fill_opt(description),
            music_url: fill_opt(music_url),
            hq_music_url: fill_opt(hq_music_url),
            thumb_media_id: fill(thumb_media_id),
        },
        RuleReply::News(articles) => Reply::News {
            articles: articles
                .iter()
                .map(|a| Article {
                    title: fill(&a.title),
                    description: fill_opt(&a.description),
                    url: fill_opt(&a.url),
                    pic_url: fill_opt(&a.pic_url),
                })
                .collect(),
        },
        RuleReply::Transfer { kf_account } => Reply::Transfer {
            kf_account: fill_opt(kf_account),
        },
        RuleReply::None => return None,
    })
}

#[cfg(test)]
mod tests {
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
        let a = respond(set, m);
        let id = match (&a.winner, &a.reply) {
            (Some((r, _)), _) => r.id.to_string(),
            (None, Some(Reply::Transfer { .. })) => "transfer".into(),
            (None, None) => "success".into(),
            (None, Some(r)) => panic!("fall-through with {r:?}"),
        };
        let detail = match a.reply {
            Some(Reply::Text { content }) => content.into_owned(),
            Some(Reply::Transfer { kf_account }) => {
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
        let a = respond(&set, &event(Event::Click { key: "X".into() }));
        assert_eq!(a.winner.map(|(r, _)| &*r.id), Some("menu-other"));
        assert_eq!(a.reply, None);
    }

    #[test]
    fn candidates_are_ranked_best_first() {
        let set = set();
        let ranked: Vec<(&str, MatchKind)> = candidates(&set, &text("流量"))
            .iter()
            .map(|c| (&*set.rule(c.rule).id, c.kind))
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
}
