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
use crate::ruleset::raw::{MatchSpec, RawMatch, Strings};
use crate::ruleset::template::GroupRef;
use crate::ruleset::{Keyword, Matcher, Pattern};

const ONE_MATCHER: OneOf = OneOf {
    none: (Code::NoMatcher, "`match` names no matcher"),
    several: Code::SeveralMatchers,
    prefix: "match.",
    owner: "rule",
    help_none: HELP,
    help_several: "a rule has exactly one kind of matcher: split it into two rules",
};

const HELP: &str = "add one of match.exact, match.prefix, match.contains, match.regex, \
                    match.event or match.msg_type";

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
    let (specs, key) = raw.into_inner().specs();
    let (spec, problem) = exactly_one(entry.file, &ONE_MATCHER, span, specs);
    let mut ok = problem.is_none();
    diags.extend(problem);
    let spec = spec?;
    if let Some(key) = &key
        && !matches!(spec, MatchSpec::Event(_))
    {
        diags.push(
            entry
                .diag(
                    Code::MisplacedKey,
                    key.span(),
                    "match.key only applies to match.event",
                )
                .with_help("write `match.event = \"CLICK\"` beside it, or delete the key"),
        );
        ok = false;
    }
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
            "delete it; event names and message types are not text"
        };
        diags.push(
            entry
                .diag(
                    Code::IneffectiveKey,
                    cs.span(),
                    format!(
                        "case_sensitive has no effect on a match.{} rule",
                        crate::ruleset::raw::Spec::key(&spec)
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
        MatchSpec::Event(name) => event(entry, name, key, diags)?,
        MatchSpec::MsgType(t) => msg_type(entry, t, diags)?,
    };
    ok.then_some(matcher)
}

fn event(
    entry: &Entry<'_>,
    name: Spanned<String>,
    key: Option<Spanned<String>>,
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
        key: key.map(Spanned::into_inner),
    })
}

fn msg_type(entry: &Entry<'_>, t: Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Matcher> {
    let (name, span) = (t.get_ref().trim(), t.span());
    let targets = || {
        MsgType::msg_type_rule_targets()
            .map(MsgType::as_str)
            .collect::<Vec<_>>()
    };
    match MsgType::parse_ignore_case(name) {
        Some(t @ (MsgType::Text | MsgType::Event)) => {
            let help = if t == MsgType::Text {
                "answer text with match.exact, match.prefix, match.contains or match.regex \
                 (`match.regex = '(?s).*'` answers every text)"
            } else {
                "answer events with match.event"
            };
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
            span,
        });
    }
    ok.then_some(keywords)
}

/// One compile budget for every regex of a rule set, spent as each is built: a file of large
/// regexes is refused at the regex that crosses it, before the rest take their memory (the
/// set's own cap is checked only once every regex has compiled).
#[derive(Debug, Default)]
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
            Ok(regex) => patterns.push(Pattern { regex, span }),
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

/// Every `${…}` of the reply must name a group of every regex of the rule.
pub(super) fn check_group_refs(
    entry: &Entry<'_>,
    matcher: &Matcher,
    refs: &[(GroupRef, Range<usize>)],
    diags: &mut Vec<Diagnostic>,
) {
    for (group, span) in refs {
        let Matcher::Regex(patterns) = matcher else {
            diags.push(
                entry
                    .diag(
                        Code::InvalidTemplate,
                        span.clone(),
                        format!(
                            "`{group}` refers to a regex capture group, but the rule has no regex"
                        ),
                    )
                    .with_help("use match.regex with a group such as (?P<no>[0-9]+), or write `$$` for a literal `$`"),
            );
            continue;
        };
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
                    .with_related(entry.file, p.span.clone(), "the regex"),
            );
        }
    }
}
