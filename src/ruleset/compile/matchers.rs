//! `match.*` → a [`Matcher`]: exactly one kind, its keywords normalised, its regexes compiled,
//! its event or message type checked against WeChat's vocabulary.

use std::ops::Range;

use toml::Spanned;

use super::one_of::{OneOf, exactly_one};
use super::suggest::{did_you_mean, regex_error};
use super::{Entry, REGEX_SIZE_LIMIT};
use crate::diag::{Code, Diagnostic};
use crate::protocol::{EventKind, MsgType};
use crate::ruleset::normalize::{fold, normalize};
use crate::ruleset::raw::{KeySpec, MatchSpec, RawMatch, Spec as _, Strings};
use crate::ruleset::template::GroupRef;
use crate::ruleset::{KeyMatch, Keyword, Matcher, Pattern};

const ONE_MATCHER: OneOf = OneOf {
    none: (Code::NoMatcher, "`match` names no matcher"),
    several: Code::SeveralMatchers,
    prefix: "match.",
    owner: "rule",
    help_none: HELP,
    help_several: "a rule has exactly one kind of matcher: split it into two rules",
};

const HELP: &str = "add one of match.exact, match.prefix, match.contains, match.regex, \
                    match.event, match.scene (or scene_prefix, scene_regex) or match.msg_type";

const ONE_KEY: OneOf = OneOf {
    none: (Code::NoMatcher, "no key matcher"),
    several: Code::SeveralMatchers,
    prefix: "match.",
    owner: "rule",
    help_none: "",
    help_several: "an event rule compares its key one way: keep one of match.key, match.key_prefix and match.key_regex",
};

/// Builds the matcher; every problem goes to `diags`, and `None` means the rule cannot be
/// built.
pub(super) fn build(
    entry: &Entry<'_>,
    raw: Option<Spanned<RawMatch>>,
    case_sensitive: Option<&Spanned<bool>>,
    budget: &mut RegexBudget,
    diags: &mut Vec<Diagnostic>,
) -> Option<Matcher> {
    let Some(raw) = raw else {
        diags.push(
            entry
                .diag(Code::NoMatcher, entry.header.clone(), "rule has no `match`")
                .with_help(HELP),
        );
        return None;
    };
    let span = raw.span();
    let (mut specs, keys) = raw.into_inner().specs();
    let mut ok = true;
    // A scene matcher implies its two events: `match.event` beside it is a mistake of its own,
    // not a second matcher.
    let scene = specs.iter().any(|(s, _)| {
        matches!(
            s,
            MatchSpec::Scene(_) | MatchSpec::ScenePrefix(_) | MatchSpec::SceneRegex(_)
        )
    });
    if scene
        && let Some(i) = specs
            .iter()
            .position(|(s, _)| matches!(s, MatchSpec::Event(_)))
    {
        let (_, event_span) = specs.remove(i);
        diags.push(
            entry
                .diag(
                    Code::MisplacedKey,
                    event_span,
                    "match.event beside a scene matcher",
                )
                .with_help(
                    "a scene rule answers both a follow by the QR code (subscribe, EventKey \
                     qrscene_X) and a scan by a follower (SCAN, EventKey X): delete match.event",
                ),
        );
        ok = false;
    }
    let (spec, problem) = exactly_one(entry.file, &ONE_MATCHER, span, specs);
    ok &= problem.is_none();
    diags.extend(problem);
    let spec = spec?;
    let key = if keys.is_empty() {
        None
    } else if !matches!(spec, MatchSpec::Event(_)) {
        let (k, key_span) = &keys[0];
        let help = if scene {
            "a scene matcher compares the scene itself: delete the key"
        } else {
            "write `match.event = \"CLICK\"` beside it, or delete the key"
        };
        diags.push(
            entry
                .diag(
                    Code::MisplacedKey,
                    key_span.clone(),
                    format!("match.{} only applies to match.event", k.key()),
                )
                .with_help(help),
        );
        ok = false;
        None
    } else {
        let (key, problem) = exactly_one(entry.file, &ONE_KEY, 0..0, keys);
        ok &= problem.is_none();
        diags.extend(problem);
        key
    };
    let literal = matches!(
        spec,
        MatchSpec::Exact(_) | MatchSpec::Prefix(_) | MatchSpec::Contains(_)
    );
    if let Some(cs) = case_sensitive
        && !literal
    {
        let help = if matches!(spec, MatchSpec::Regex(_)) {
            "regexes always compare case; write `(?i)` in the pattern to ignore it"
        } else {
            "delete it; event names, keys, scenes and message types are compared as written"
        };
        diags.push(
            entry
                .diag(
                    Code::IneffectiveKey,
                    cs.span(),
                    format!(
                        "case_sensitive has no effect on a match.{} rule",
                        spec.key()
                    ),
                )
                .with_help(help),
        );
    }
    let cs = case_sensitive.is_some_and(|c| *c.get_ref());
    let matcher = match spec {
        MatchSpec::Exact(list) => Matcher::Exact(keywords(entry, "exact", list, cs, diags)?),
        MatchSpec::Prefix(list) => Matcher::Prefix(keywords(entry, "prefix", list, cs, diags)?),
        MatchSpec::Contains(list) => {
            Matcher::Contains(keywords(entry, "contains", list, cs, diags)?)
        }
        MatchSpec::Regex(list) => Matcher::Regex(patterns(entry, list, budget, diags)?),
        MatchSpec::Event(name) => {
            let key = match key {
                None => KeyMatch::Any,
                Some(k) => key_match(entry, k, budget, diags)?,
            };
            event(entry, name, key, diags)?
        }
        MatchSpec::Scene(v) => Matcher::Scene(key_match(entry, KeySpec::Exact(v), budget, diags)?),
        MatchSpec::ScenePrefix(v) => {
            Matcher::Scene(key_match(entry, KeySpec::Prefix(v), budget, diags)?)
        }
        MatchSpec::SceneRegex(v) => {
            Matcher::Scene(key_match(entry, KeySpec::Regex(v), budget, diags)?)
        }
        MatchSpec::MsgType(t) => msg_type(entry, t, diags)?,
    };
    ok.then_some(matcher)
}

/// A key or scene comparison. The spec's key names it in messages (`key_prefix`); a scene
/// spec arrives here as the same three kinds.
fn key_match(
    entry: &Entry<'_>,
    spec: KeySpec,
    budget: &mut RegexBudget,
    diags: &mut Vec<Diagnostic>,
) -> Option<KeyMatch> {
    let name = spec.key();
    let (KeySpec::Exact(v) | KeySpec::Prefix(v) | KeySpec::Regex(v)) = &spec;
    let span = v.span();
    if v.get_ref().is_empty() {
        diags.push(
            entry
                .diag(Code::EmptyValue, span, format!("the {name} is empty"))
                .with_help("write the value to compare, or delete the key"),
        );
        return None;
    }
    Some(match spec {
        KeySpec::Exact(v) => {
            if let Some(i) = v.get_ref().find(['*', '?']) {
                let at = entry.inner_span(&span, v.get_ref(), i..i + 1);
                diags.push(
                    entry
                        .diag(
                            Code::WildcardKey,
                            at,
                            format!("{:?} is compared literally: `*` and `?` are not wildcards here", v.get_ref()),
                        )
                        .with_help("use key_prefix (or scene_prefix) for keys that start alike, or key_regex (scene_regex) for a pattern"),
                );
            }
            KeyMatch::Exact(v.into_inner())
        }
        KeySpec::Prefix(v) => KeyMatch::Prefix(v.into_inner()),
        KeySpec::Regex(v) => {
            let list = Spanned::new(span, Strings::One(v.into_inner()));
            let mut p = patterns(entry, list, budget, diags)?;
            KeyMatch::Regex(Box::new(p.pop()?))
        }
    })
}

fn event(
    entry: &Entry<'_>,
    name: Spanned<String>,
    key: KeyMatch,
    diags: &mut Vec<Diagnostic>,
) -> Option<Matcher> {
    let (n, span) = (name.get_ref().trim(), name.span());
    if n.is_empty() {
        diags.push(
            entry
                .diag(Code::EmptyValue, span, "match.event is empty")
                .with_help("name an event: subscribe, SCAN, CLICK, VIEW, LOCATION, …"),
        );
        return None;
    }
    if EventKind::parse(n).is_none() {
        let names: Vec<&str> = EventKind::names().collect();
        let help = match did_you_mean(n, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "check the spelling; replyd answers it if WeChat sends it".into(),
        };
        diags.push(
            entry
                .diag(
                    Code::UnknownName,
                    span,
                    format!("WeChat is not known to send the event `{n}`"),
                )
                .with_help(help),
        );
    }
    Some(Matcher::Event {
        name: n.to_owned(),
        key,
    })
}

fn msg_type(entry: &Entry<'_>, t: Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Matcher> {
    let (name, span) = (t.get_ref().trim(), t.span());
    let targets = || {
        MsgType::msg_type_rule_targets()
            .map(MsgType::as_str)
            .collect::<Vec<_>>()
    };
    if name == "*" {
        return Some(Matcher::AnyMessage);
    }
    match MsgType::parse_ignore_case(name) {
        Some(MsgType::Event) => {
            let help = "answer events with match.event (`*` is every user message, never an event)";
            diags.push(
                entry
                    .diag(
                        Code::InvalidMsgType,
                        span,
                        format!("match.msg_type cannot be `{name}`"),
                    )
                    .with_help(help),
            );
            return None;
        }
        Some(_) => {}
        None if name.is_empty() => {
            diags.push(
                entry
                    .diag(Code::EmptyValue, span, "match.msg_type is empty")
                    .with_help(format!("name a message type: {}", targets().join(", "))),
            );
            return None;
        }
        None => {
            let help = match did_you_mean(name, &targets()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the known types are {}", targets().join(", ")),
            };
            diags.push(
                entry
                    .diag(
                        Code::UnknownName,
                        span,
                        format!("WeChat is not known to send messages of type `{name}`"),
                    )
                    .with_help(help),
            );
        }
    }
    Some(Matcher::MsgType(name.to_owned()))
}

/// The items of a string-or-list value, each with its span; an empty list is reported.
fn strings(
    entry: &Entry<'_>,
    kind: &str,
    list: Spanned<Strings>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, Range<usize>)> {
    let span = list.span();
    let items = match list.into_inner() {
        Strings::One(s) => vec![(s, span.clone())],
        Strings::Many(v) => v
            .into_iter()
            .map(|s| {
                let span = s.span();
                (s.into_inner(), span)
            })
            .collect(),
    };
    if items.is_empty() {
        diags.push(
            entry
                .diag(
                    Code::EmptyValue,
                    span,
                    format!("match.{kind} is an empty list"),
                )
                .with_help("list at least one keyword, or delete the rule"),
        );
    }
    items
}

fn keywords(
    entry: &Entry<'_>,
    kind: &str,
    list: Spanned<Strings>,
    case_sensitive: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Keyword>> {
    let items = strings(entry, kind, list, diags);
    let mut ok = !items.is_empty();
    let mut keywords = Vec::with_capacity(items.len());
    for (text, span) in items {
        let normalized = normalize(&text);
        if normalized.is_empty() {
            diags.push(
                entry
                    .diag(Code::EmptyValue, span, format!("empty {kind} keyword"))
                    .with_help("an empty keyword would match every message; delete it"),
            );
            ok = false;
            continue;
        }
        let normalized = if case_sensitive {
            normalized.into_owned()
        } else {
            fold(&normalized).into_owned()
        };
        keywords.push(Keyword {
            text,
            normalized,
            span: entry.within(&span),
        });
    }
    ok.then_some(keywords)
}

/// One compile budget for every regex of a rule set, spent as each is built: a file of large
/// regexes is refused at the regex that crosses it, before the rest take their memory (the
/// set's own cap is checked only once every regex has compiled).
#[derive(Debug, Default, Clone)]
pub(super) struct RegexBudget {
    /// Bytes of compiled NFA so far.
    used: usize,
    /// Crossed: later regexes are not compiled (the set is refused anyway).
    spent: bool,
}

/// The budget: the compiled size all regexes of a set may reach together, the set's own cap.
pub const REGEX_BUDGET: usize = crate::ruleset::REGEX_SET_SIZE_LIMIT;

/// What a compiled `regex::Regex` holds per byte of its forward NFA (its reverse NFA, the
/// one-pass and backtracking engines): measured 4.7 on sixty `\w{40}\d{30}\w{40}` regexes
/// (6.8 MB each). A regex is charged this many times its NFA.
const REGEX_COST_PER_NFA_BYTE: usize = 5;

impl RegexBudget {
    /// Charges `pattern`'s compiled size; `false` (and a diagnostic at `span`, once) when it
    /// does not fit. A pattern that does not parse is charged nothing: the regex crate reports
    /// its error.
    fn charge(
        &mut self,
        entry: &Entry<'_>,
        pattern: &str,
        span: &Range<usize>,
        diags: &mut Vec<Diagnostic>,
    ) -> bool {
        use regex_automata::nfa::thompson;
        if self.spent {
            return false;
        }
        let remaining = REGEX_BUDGET.saturating_sub(self.used);
        let built = thompson::Compiler::new()
            .configure(thompson::Config::new().nfa_size_limit(Some(remaining)))
            .build(pattern);
        match built {
            Ok(nfa) => {
                self.used += nfa.memory_usage() * REGEX_COST_PER_NFA_BYTE;
                if self.used > REGEX_BUDGET {
                    self.spent = true;
                    diags.push(over_budget(entry, span));
                    return false;
                }
                true
            }
            Err(e) if e.size_limit().is_some() => {
                self.spent = true;
                diags.push(over_budget(entry, span));
                false
            }
            Err(_) => true,
        }
    }

    /// Whether a regex was refused for the budget: the set is not built then.
    pub(super) fn spent(&self) -> bool {
        self.spent
    }
}

fn over_budget(entry: &Entry<'_>, span: &Range<usize>) -> Diagnostic {
    entry
        .diag(
            Code::InvalidRegex,
            span.clone(),
            format!(
                "this regex takes the rule set's regexes past their compile budget of {} MiB; the regexes after it are not compiled",
                REGEX_BUDGET >> 20
            ),
        )
        .with_help(
            "simplify the regexes (fewer, shorter, or without large Unicode classes such as \\w; (?-u:\\w) is ASCII), \
             or turn keyword lists into exact, prefix or contains rules",
        )
}

fn patterns(
    entry: &Entry<'_>,
    list: Spanned<Strings>,
    budget: &mut RegexBudget,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Pattern>> {
    let items = strings(entry, "regex", list, diags);
    let mut ok = !items.is_empty();
    let mut patterns = Vec::with_capacity(items.len());
    for (text, span) in items {
        if text.is_empty() {
            diags.push(entry.diag(Code::EmptyValue, span, "empty regex").with_help(
                "an empty regex matches every text; write `(?s).*` if that is what you mean",
            ));
            ok = false;
            continue;
        }
        if !budget.charge(entry, &text, &span, diags) {
            ok = false;
            continue;
        }
        match regex::RegexBuilder::new(&text)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(regex) => patterns.push(Pattern {
                regex,
                span: entry.within(&span),
            }),
            Err(e) => {
                diags.push(
                    entry
                        .diag(Code::InvalidRegex, span, format!("invalid regex: {}", regex_error(&e)))
                        .with_help("fix the pattern (syntax: https://docs.rs/regex/#syntax); in a \"…\" TOML string every backslash must be doubled, so write regexes as '…' literal strings"),
                );
                ok = false;
            }
        }
    }
    ok.then_some(patterns)
}

/// Every `${…}` of the reply must name a group of every regex of the rule (its text regexes,
/// or its key or scene regex).
pub(super) fn check_group_refs(
    entry: &Entry<'_>,
    matcher: &Matcher,
    refs: &[(GroupRef, Range<usize>)],
    diags: &mut Vec<Diagnostic>,
) {
    let patterns = matcher.capture_patterns();
    for (group, span) in refs {
        if patterns.is_empty() {
            diags.push(
                entry
                    .diag(
                        Code::InvalidTemplate,
                        span.clone(),
                        format!(
                            "`{group}` refers to a regex capture group, but the rule has no regex"
                        ),
                    )
                    .with_help("use match.regex (or match.key_regex, match.scene_regex) with a group such as (?P<no>[0-9]+), or write `$$` for a literal `$`"),
            );
            continue;
        }
        for p in patterns {
            let has = match group {
                GroupRef::Index(i) => *i < p.regex.captures_len(),
                GroupRef::Name(n) => p.regex.capture_names().any(|c| c == Some(n.as_str())),
            };
            if has {
                continue;
            }
            let groups: Vec<String> = p
                .regex
                .capture_names()
                .enumerate()
                .skip(1)
                .map(|(i, n)| n.map_or_else(|| format!("${{{i}}}"), |n| format!("${{{n}}}")))
                .collect();
            let help = if groups.is_empty() {
                "the regex has no capture group; add one such as (?P<no>[0-9]+)".to_owned()
            } else {
                format!("the regex's groups are {}", groups.join(", "))
            };
            diags.push(
                entry
                    .diag(
                        Code::InvalidTemplate,
                        span.clone(),
                        format!(
                            "`{group}` names a capture group that the regex {:?} lacks",
                            p.regex.as_str()
                        ),
                    )
                    .with_help(help)
                    .with_related(entry.file, entry.place(p.span), "the regex"),
            );
        }
    }
}
