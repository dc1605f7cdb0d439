//! The rule compiler: [`Sources`] → [`Compiled`] (a [`RuleSet`] when there is no error, and
//! every diagnostic either way).
//!
//! Each file is parsed with `toml`'s recoverable parser; each `[[rule]]` and `[[test]]` entry is
//! then deserialized on its own, so one broken entry never hides another. Checks that need the
//! whole set (duplicate ids, the same exact keyword twice at one priority, what a test expects)
//! run after every file is read.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::normalize::{fold, normalize};
use super::raw::{RawMatch, RawReply, RawRule, RawTest, Strings};
use super::template::{GroupRef, Template};
use super::{
    ArticleTemplate, Expect, FileSummary, Index, Keyword, Matcher, Origin, Pattern, RESERVED_IDS,
    Rule, RuleReply, RuleSet, RuleTest, TestInput,
};
use crate::diag::{Code, Diagnostic, FileId, Location, Severity, SourceFile, Sources, has_errors};

/// WeChat's limit on a text reply, in UTF-8 bytes (PROTOCOL.md §3.5).
pub const MAX_TEXT_BYTES: usize = 2047;
/// WeChat's limit on the articles of a news reply (PROTOCOL.md §3.2).
pub const MAX_ARTICLES: usize = 8;
/// The compiled size one regex may reach; a pattern over it is reported, never an OOM.
pub const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);

/// Events WeChat is known to send (PROTOCOL.md §2.4). Others are accepted with a warning.
const KNOWN_EVENTS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "SCAN",
    "LOCATION",
    "CLICK",
    "VIEW",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "view_miniprogram",
    "kf_create_session",
    "kf_close_session",
    "kf_switch_session",
    "MASSSENDJOBFINISH",
    "TEMPLATESENDJOBFINISH",
    "PUBLISHJOBFINISH",
    "subscribe_msg_popup_event",
    "subscribe_msg_change_event",
    "subscribe_msg_sent_event",
];

/// User message types a `msg_type` rule can answer.
const KNOWN_MSG_TYPES: &[&str] = &["image", "voice", "video", "shortvideo", "location", "link"];

/// The result of compiling a set of rule files.
#[derive(Debug)]
pub struct Compiled {
    /// The rule set; `None` when any rule has an error. A malformed `[[test]]` entry is an
    /// error too, but it does not stop the rules from compiling, so that the other tests can
    /// still run; the loader refuses any set with an error.
    pub ruleset: Option<RuleSet>,
    /// Every problem found, errors and warnings, in file and position order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles rule files (given in path order) into a rule set.
pub fn compile(sources: &Sources) -> Compiled {
    let mut cx = Compiler {
        diags: Vec::new(),
        rules: Vec::new(),
        ids: HashMap::new(),
        raw_tests: Vec::new(),
        files: Vec::new(),
    };
    for (id, file) in sources.iter() {
        cx.file(id, file);
    }
    cx.check_duplicate_keywords();
    let tests = cx.resolve_tests();

    let Compiler {
        mut diags,
        rules,
        files,
        ..
    } = cx;
    let rule_errors = diags
        .iter()
        .any(|d| d.severity() == Severity::Error && d.code != Code::InvalidTest);
    let ruleset = if rule_errors {
        None
    } else {
        match Index::build(&rules) {
            Ok(index) => Some(RuleSet {
                rules,
                tests,
                files,
                index,
            }),
            Err(e) => {
                diags.push(
                    Diagnostic::global(Code::InvalidRegex, e.to_string()).with_help(
                        "simplify the regexes (fewer, shorter, or without large Unicode classes), \
                         or turn keyword lists into exact, prefix or contains rules",
                    ),
                );
                None
            }
        }
    };
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.location.as_ref().map(|l| (l.file, l.span.start));
        key(a).cmp(&key(b))
    });
    Compiled {
        ruleset,
        diagnostics: diags,
    }
}

struct Compiler {
    diags: Vec<Diagnostic>,
    rules: Vec<Rule>,
    /// Every well-formed id seen, even on a rule with errors, and where it was first written.
    ids: HashMap<String, Location>,
    raw_tests: Vec<(FileId, Origin, RawTest)>,
    files: Vec<FileSummary>,
}

/// What a rule entry's checks need to know about where it is.
struct Entry<'a> {
    file: FileId,
    src: &'a SourceFile,
    /// The file's path, shared by every rule of the file.
    path: &'a Arc<Path>,
    header: Range<usize>,
}

impl Entry<'_> {
    fn origin(&self) -> Origin {
        Origin {
            path: self.path.clone(),
            line: self.src.line_col(self.header.start).0,
            location: Location {
                file: self.file,
                span: self.header.clone(),
            },
        }
    }

    fn diag(&self, code: Code, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, self.file, span, message)
    }

    /// The span of `sub` (a byte range of `value`) when `value` is written as a plain quoted
    /// string at `span`; otherwise the whole value's span.
    fn inner_span(&self, span: &Range<usize>, value: &str, sub: Range<usize>) -> Range<usize> {
        let written = self.src.text().get(span.clone()).unwrap_or("");
        let plain = written.len() == value.len() + 2
            && written.get(1..written.len() - 1) == Some(value)
            && (written.starts_with('"') || written.starts_with('\''));
        if plain {
            span.start + 1 + sub.start..span.start + 1 + sub.end
        } else {
            span.clone()
        }
    }
}

impl Compiler {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn file(&mut self, file: FileId, src: &SourceFile) {
        let mut summary = FileSummary {
            path: src.path().to_owned(),
            rules: 0,
            tests: 0,
        };
        let path: Arc<Path> = Arc::from(src.path());
        let (table, errors) = DeTable::parse_recoverable(src.text());
        if !errors.is_empty() {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                self.push(
                    Diagnostic::new(Code::TomlSyntax, file, span, e.message().trim().to_owned())
                        .with_help("fix the TOML syntax (https://toml.io); nothing else in this file is checked until it parses"),
                );
            }
            self.files.push(summary);
            return;
        }
        for (key, value) in table.get_ref().iter() {
            let name: &str = key.get_ref();
            let (is_rule, keys) = match name {
                "rule" => (true, RULE_KEYS),
                "test" => (false, TEST_KEYS),
                other => {
                    let help = match did_you_mean(other, &["rule", "test"]) {
                        Some(s) => format!("did you mean `[[{s}]]`?"),
                        None => "a rule file holds only [[rule]] and [[test]] entries".to_owned(),
                    };
                    self.push(
                        Diagnostic::new(
                            Code::InvalidKey,
                            file,
                            key.span(),
                            format!("unknown top-level key `{other}`"),
                        )
                        .with_help(help),
                    );
                    continue;
                }
            };
            let DeValue::Array(entries) = value.get_ref() else {
                self.push(
                    Diagnostic::new(
                        Code::InvalidKey,
                        file,
                        key.span(),
                        format!("`{name}` must be an array of tables"),
                    )
                    .with_help(format!(
                        "write each entry under its own `[[{name}]]` header"
                    )),
                );
                continue;
            };
            for elem in entries.iter() {
                let entry = Entry {
                    file,
                    src,
                    path: &path,
                    header: elem.span(),
                };
                if is_rule {
                    summary.rules += 1;
                    match RawRule::deserialize(elem.clone().into_deserializer()) {
                        Ok(raw) => self.rule(&entry, raw),
                        Err(e) => self.serde_error(&entry, &e, keys),
                    }
                } else {
                    summary.tests += 1;
                    match RawTest::deserialize(elem.clone().into_deserializer()) {
                        Ok(raw) => self.raw_tests.push((file, entry.origin(), raw)),
                        Err(e) => self.serde_error(&entry, &e, keys),
                    }
                }
            }
        }
        if table.get_ref().is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyFile,
                    file,
                    0..0,
                    "the file has no rules and no tests",
                )
                .with_help("add a [[rule]] or delete the file"),
            );
        }
        self.files.push(summary);
    }

    fn serde_error(&mut self, entry: &Entry<'_>, e: &toml::de::Error, keys: &[&str]) {
        let span = e.span().unwrap_or_else(|| entry.header.clone());
        let message = e.message().trim().to_owned();
        let help = if let Some(unknown) = backticked_after(&message, "unknown field `") {
            match did_you_mean(unknown, keys) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    "see the rule-file reference in README.md for the keys allowed here".to_owned()
                }
            }
        } else if let Some(missing) = backticked_after(&message, "missing field `") {
            format!("add `{missing} = \"…\"`")
        } else {
            "see the rule-file reference in README.md".to_owned()
        };
        self.push(entry.diag(Code::InvalidKey, span, message).with_help(help));
    }

    fn rule(&mut self, entry: &Entry<'_>, raw: RawRule) {
        let id = self.rule_id(entry, raw.id.as_ref());
        let priority = raw.priority.as_ref().map_or(0, |p| *p.get_ref());
        let enabled = raw.enabled.as_ref().is_none_or(|e| *e.get_ref());
        if let Some(e) = raw.enabled.as_ref().filter(|e| !*e.get_ref()) {
            self.push(
                entry
                    .diag(
                        Code::DisabledRule,
                        e.span(),
                        format!(
                            "rule `{}` is disabled: it is checked but never answers",
                            id.as_deref().unwrap_or("?")
                        ),
                    )
                    .with_help("delete `enabled = false` to let it answer, or delete the rule"),
            );
        }
        let case_sensitive = raw.case_sensitive.as_ref().is_some_and(|c| *c.get_ref());
        let matcher = self.matcher(entry, raw.matcher, raw.case_sensitive.as_ref());
        let mut refs = Vec::new();
        let reply = self.reply(entry, raw.reply, matcher.as_ref(), &mut refs);
        if let Some(m) = &matcher {
            self.check_group_refs(entry, m, &refs);
        }
        if let (Some(id), Some(matcher), Some(reply)) = (id, matcher, reply) {
            self.rules.push(Rule {
                id: id.into(),
                priority,
                enabled,
                case_sensitive,
                matcher,
                reply,
                origin: entry.origin(),
            });
        }
    }

    fn rule_id(&mut self, entry: &Entry<'_>, id: Option<&Spanned<String>>) -> Option<String> {
        let Some(id) = id else {
            self.push(
                entry
                    .diag(Code::MissingId, entry.header.clone(), "rule has no `id`")
                    .with_help("add `id = \"…\"`: letters, digits, `_`, `.` and `-`, unique across all rule files"),
            );
            return None;
        };
        let (value, span) = (id.get_ref(), id.span());
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            self.push(
                entry
                    .diag(Code::InvalidId, span, format!("invalid rule id {value:?}"))
                    .with_help(
                        "an id is letters, digits, `_`, `.` and `-` (for example `flow-promo`)",
                    ),
            );
            return None;
        }
        if RESERVED_IDS.contains(&value.as_str()) {
            self.push(
                entry
                    .diag(Code::InvalidId, span, format!("the id `{value}` is reserved"))
                    .with_help("`transfer` and `none` name the fall-through answers in [[test]] entries; pick another id"),
            );
            return None;
        }
        let here = Location {
            file: entry.file,
            span: span.clone(),
        };
        if let Some(first) = self.ids.get(value) {
            let d = entry
                .diag(
                    Code::DuplicateId,
                    span,
                    format!("the id `{value}` is already used"),
                )
                .with_help("rule ids must be unique across all rule files; rename one of them")
                .with_related(first.file, first.span.clone(), "first used here");
            self.push(d);
            return None;
        }
        self.ids.insert(value.clone(), here);
        Some(value.clone())
    }

    fn matcher(
        &mut self,
        entry: &Entry<'_>,
        raw: Option<Spanned<RawMatch>>,
        case_sensitive: Option<&Spanned<bool>>,
    ) -> Option<Matcher> {
        const HELP: &str = "add one of match.exact, match.prefix, match.contains, match.regex, \
                            match.event or match.msg_type";
        let Some(raw) = raw else {
            self.push(
                entry
                    .diag(Code::NoMatcher, entry.header.clone(), "rule has no `match`")
                    .with_help(HELP),
            );
            return None;
        };
        let span = raw.span();
        let m = raw.into_inner();
        let present: Vec<(&str, Range<usize>)> = [
            ("exact", m.exact.as_ref().map(Spanned::span)),
            ("prefix", m.prefix.as_ref().map(Spanned::span)),
            ("contains", m.contains.as_ref().map(Spanned::span)),
            ("regex", m.regex.as_ref().map(Spanned::span)),
            ("event", m.event.as_ref().map(Spanned::span)),
            ("msg_type", m.msg_type.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        let mut ok = true;
        match present.as_slice() {
            [] => {
                self.push(
                    entry
                        .diag(Code::NoMatcher, span, "`match` names no matcher")
                        .with_help(HELP),
                );
                return None;
            }
            [_] => {}
            [(first, first_span), (second, second_span), ..] => {
                self.push(
                    entry
                        .diag(
                            Code::SeveralMatchers,
                            second_span.clone(),
                            format!("rule has both match.{first} and match.{second}"),
                        )
                        .with_help(
                            "a rule has exactly one kind of matcher: split it into two rules",
                        )
                        .with_related(
                            entry.file,
                            first_span.clone(),
                            format!("match.{first} is here"),
                        ),
                );
                ok = false;
            }
        }
        let kind = present[0].0;
        if let Some(key) = &m.key
            && kind != "event"
        {
            self.push(
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
        if let Some(cs) = case_sensitive
            && !matches!(kind, "exact" | "prefix" | "contains")
        {
            let help = if kind == "regex" {
                "regexes always compare case; write `(?i)` in the pattern to ignore it"
            } else {
                "delete it; event names and message types are not text"
            };
            self.push(
                entry
                    .diag(
                        Code::IneffectiveKey,
                        cs.span(),
                        format!("case_sensitive has no effect on a match.{kind} rule"),
                    )
                    .with_help(help),
            );
        }
        let cs = case_sensitive.is_some_and(|c| *c.get_ref());
        let matcher = match kind {
            "exact" | "prefix" | "contains" => {
                let list = match kind {
                    "exact" => m.exact,
                    "prefix" => m.prefix,
                    _ => m.contains,
                };
                let keywords = self.keywords(entry, kind, list?, cs)?;
                match kind {
                    "exact" => Matcher::Exact(keywords),
                    "prefix" => Matcher::Prefix(keywords),
                    _ => Matcher::Contains(keywords),
                }
            }
            "regex" => Matcher::Regex(self.patterns(entry, m.regex?)?),
            "event" => {
                let name = m.event?;
                let (n, span) = (name.get_ref().trim(), name.span());
                if n.is_empty() {
                    self.push(
                        entry
                            .diag(Code::EmptyValue, span, "match.event is empty")
                            .with_help("name an event: subscribe, SCAN, CLICK, VIEW, LOCATION, …"),
                    );
                    return None;
                }
                if !KNOWN_EVENTS.iter().any(|k| k.eq_ignore_ascii_case(n)) {
                    let help = match did_you_mean(n, KNOWN_EVENTS) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "check the spelling; replyd answers it if WeChat sends it".into(),
                    };
                    self.push(
                        entry
                            .diag(
                                Code::UnknownName,
                                span,
                                format!("WeChat is not known to send the event `{n}`"),
                            )
                            .with_help(help),
                    );
                }
                Matcher::Event {
                    name: n.to_owned(),
                    key: m.key.map(Spanned::into_inner),
                }
            }
            _ => {
                let t = m.msg_type?;
                let (name, span) = (t.get_ref().trim(), t.span());
                if name.eq_ignore_ascii_case("text") || name.eq_ignore_ascii_case("event") {
                    let help = if name.eq_ignore_ascii_case("text") {
                        "answer text with match.exact, match.prefix, match.contains or match.regex \
                         (`match.regex = '(?s).*'` answers every text)"
                    } else {
                        "answer events with match.event"
                    };
                    self.push(
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
                if name.is_empty() {
                    self.push(
                        entry
                            .diag(Code::EmptyValue, span, "match.msg_type is empty")
                            .with_help("name a message type: image, voice, video, shortvideo, location or link"),
                    );
                    return None;
                }
                if !KNOWN_MSG_TYPES.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                    let help = match did_you_mean(name, KNOWN_MSG_TYPES) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => {
                            "the known types are image, voice, video, shortvideo, location and link"
                                .into()
                        }
                    };
                    self.push(
                        entry
                            .diag(
                                Code::UnknownName,
                                span,
                                format!("WeChat is not known to send messages of type `{name}`"),
                            )
                            .with_help(help),
                    );
                }
                Matcher::MsgType(name.to_owned())
            }
        };
        ok.then_some(matcher)
    }

    fn strings(
        &mut self,
        entry: &Entry<'_>,
        kind: &str,
        list: Spanned<Strings>,
    ) -> Vec<(String, Range<usize>)> {
        let span = list.span();
        let items = match list.into_inner() {
            Strings::One(s) => vec![(s, span.clone())],
            Strings::Many(v) => v
                .into_iter()
                .map(|s| (s.get_ref().clone(), s.span()))
                .collect(),
        };
        if items.is_empty() {
            self.push(
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
        &mut self,
        entry: &Entry<'_>,
        kind: &str,
        list: Spanned<Strings>,
        case_sensitive: bool,
    ) -> Option<Vec<Keyword>> {
        let items = self.strings(entry, kind, list);
        let mut ok = !items.is_empty();
        let mut keywords = Vec::with_capacity(items.len());
        for (text, span) in items {
            let normalized = normalize(&text);
            if normalized.is_empty() {
                self.push(
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

    fn patterns(&mut self, entry: &Entry<'_>, list: Spanned<Strings>) -> Option<Vec<Pattern>> {
        let items = self.strings(entry, "regex", list);
        let mut ok = !items.is_empty();
        let mut patterns = Vec::with_capacity(items.len());
        for (text, span) in items {
            if text.is_empty() {
                self.push(entry.diag(Code::EmptyValue, span, "empty regex").with_help(
                    "an empty regex matches every text; write `(?s).*` if that is what you mean",
                ));
                ok = false;
                continue;
            }
            match regex::RegexBuilder::new(&text)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(regex) => patterns.push(Pattern { regex, span }),
                Err(e) => {
                    self.push(
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

    /// Checks and builds the reply; `refs` collects the template group references with spans.
    fn reply(
        &mut self,
        entry: &Entry<'_>,
        raw: Option<Spanned<RawReply>>,
        matcher: Option<&Matcher>,
        refs: &mut Vec<(GroupRef, Range<usize>)>,
    ) -> Option<RuleReply> {
        const HELP: &str = "add one of reply.text, reply.image, reply.voice, reply.video, \
                            reply.music, reply.news, reply.transfer or reply.none";
        let Some(raw) = raw else {
            self.push(
                entry
                    .diag(Code::NoReply, entry.header.clone(), "rule has no `reply`")
                    .with_help(HELP),
            );
            return None;
        };
        let span = raw.span();
        let r = raw.into_inner();
        let present: Vec<(&str, Range<usize>)> = [
            ("text", r.text.as_ref().map(Spanned::span)),
            ("image", r.image.as_ref().map(Spanned::span)),
            ("voice", r.voice.as_ref().map(Spanned::span)),
            ("video", r.video.as_ref().map(Spanned::span)),
            ("music", r.music.as_ref().map(Spanned::span)),
            ("news", r.news.as_ref().map(Spanned::span)),
            ("transfer", r.transfer.as_ref().map(Spanned::span)),
            ("none", r.none.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        match present.as_slice() {
            [] => {
                self.push(
                    entry
                        .diag(Code::NoReply, span, "`reply` names no reply")
                        .with_help(HELP),
                );
                return None;
            }
            [_] => {}
            [(first, first_span), (second, second_span), ..] => {
                self.push(
                    entry
                        .diag(
                            Code::SeveralReplies,
                            second_span.clone(),
                            format!("rule has both reply.{first} and reply.{second}"),
                        )
                        .with_help("a rule has exactly one reply; keep one of them")
                        .with_related(
                            entry.file,
                            first_span.clone(),
                            format!("reply.{first} is here"),
                        ),
                );
                return None;
            }
        }
        let mut t = Templates {
            entry,
            diags: Vec::new(),
            refs,
        };
        let reply = build_reply(present[0].0, r, matcher, &mut t);
        let diags = std::mem::take(&mut t.diags);
        let ok = !has_errors(&diags);
        self.diags.extend(diags);
        reply.filter(|_| ok)
    }

    fn check_group_refs(
        &mut self,
        entry: &Entry<'_>,
        matcher: &Matcher,
        refs: &[(GroupRef, Range<usize>)],
    ) {
        for (group, span) in refs {
            let Matcher::Regex(patterns) = matcher else {
                self.push(
                    entry
                        .diag(
                            Code::InvalidTemplate,
                            span.clone(),
                            format!("`{group}` refers to a regex capture group, but the rule has no regex"),
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
                if !has {
                    let groups: Vec<String> = p
                        .regex
                        .capture_names()
                        .enumerate()
                        .skip(1)
                        .map(|(i, n)| {
                            n.map_or_else(|| format!("${{{i}}}"), |n| format!("${{{n}}}"))
                        })
                        .collect();
                    let help = if groups.is_empty() {
                        "the regex has no capture group; add one such as (?P<no>[0-9]+)".to_owned()
                    } else {
                        format!("the regex's groups are {}", groups.join(", "))
                    };
                    self.push(
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
    }

    fn check_duplicate_keywords(&mut self) {
        // (priority, folded keyword) → (rule, keyword) of every enabled exact rule.
        let mut seen: HashMap<(i64, String), Vec<(usize, usize)>> = HashMap::new();
        let mut found = Vec::new();
        for (r, rule) in self.rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let Matcher::Exact(keywords) = &rule.matcher else {
                continue;
            };
            for (k, kw) in keywords.iter().enumerate() {
                let key = (rule.priority, fold(&kw.normalized).into_owned());
                let earlier = seen.entry(key).or_default();
                // Two keywords overlap unless both are case-sensitive and differ in case.
                let clash = earlier.iter().copied().find(|&(er, ek)| {
                    let other = &self.rules[er];
                    let Matcher::Exact(ok) = &other.matcher else {
                        return false;
                    };
                    er != r
                        && (!rule.case_sensitive
                            || !other.case_sensitive
                            || ok[ek].normalized == kw.normalized)
                });
                if let Some(c) = clash {
                    found.push(((r, k), c));
                }
                earlier.push((r, k));
            }
        }
        for ((r, k), (er, ek)) in found {
            let (rule, other) = (&self.rules[r], &self.rules[er]);
            let (Matcher::Exact(kws), Matcher::Exact(okws)) = (&rule.matcher, &other.matcher)
            else {
                continue;
            };
            let d = Diagnostic::new(
                Code::DuplicateKeyword,
                rule.origin.location.file,
                kws[k].span.clone(),
                format!(
                    "the exact keyword {:?} of rule `{}` is also a keyword of rule `{}` at the same priority ({})",
                    kws[k].text, rule.id, other.id, rule.priority
                ),
            )
            .with_help("remove it from one rule, or give one rule a higher priority to say which answers")
            .with_related(other.origin.location.file, okws[ek].span.clone(), format!("rule `{}` has it here", other.id));
            self.diags.push(d);
        }
    }

    fn resolve_tests(&mut self) -> Vec<RuleTest> {
        let mut tests = Vec::new();
        let raw_tests = std::mem::take(&mut self.raw_tests);
        let ids: Vec<&str> = self.ids.keys().map(String::as_str).collect();
        let mut diags = Vec::new();
        for (file, origin, raw) in raw_tests {
            let header = origin.location.span.clone();
            let d = |span: Range<usize>, msg: String, help: &str| {
                Diagnostic::new(Code::InvalidTest, file, span, msg).with_help(help.to_owned())
            };
            let inputs: Vec<(&str, Range<usize>)> = [
                ("send", raw.send.as_ref().map(Spanned::span)),
                ("event", raw.event.as_ref().map(Spanned::span)),
                ("msg_type", raw.msg_type.as_ref().map(Spanned::span)),
            ]
            .into_iter()
            .filter_map(|(k, s)| s.map(|s| (k, s)))
            .collect();
            const INPUT_HELP: &str = "give the test exactly one of `send = \"text\"`, `event = \"CLICK\"` (with an optional `key`) or `msg_type = \"image\"`";
            let input = match inputs.as_slice() {
                [] => {
                    diags.push(d(header.clone(), "test has no message".into(), INPUT_HELP));
                    None
                }
                [(kind, _)] => match *kind {
                    "send" => raw.send.map(|s| TestInput::Text(s.into_inner())),
                    "event" => raw.event.map(|e| TestInput::Event {
                        name: e.into_inner(),
                        key: raw.key.as_ref().map(|k| k.get_ref().clone()),
                    }),
                    _ => raw.msg_type.map(|t| TestInput::MsgType(t.into_inner())),
                },
                [(first, _), (second, span), ..] => {
                    diags.push(d(
                        span.clone(),
                        format!("test has both `{first}` and `{second}`"),
                        INPUT_HELP,
                    ));
                    None
                }
            };
            if let Some(key) = &raw.key
                && !matches!(input, Some(TestInput::Event { .. }))
            {
                diags.push(d(
                    key.span(),
                    "`key` only applies to an `event` test".into(),
                    INPUT_HELP,
                ));
            }
            let expect = match &raw.expect {
                None => {
                    diags.push(d(
                        header.clone(),
                        "test has no `expect`".into(),
                        "add `expect = \"rule-id\"` (or \"transfer\" / \"none\" for the fall-through)",
                    ));
                    None
                }
                Some(e) => match e.get_ref().as_str() {
                    "transfer" => Some(Expect::Transfer),
                    "none" => Some(Expect::Nothing),
                    id if self.ids.contains_key(id) => Some(Expect::Rule(id.to_owned())),
                    id => {
                        let help = match did_you_mean(id, &ids) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "expect a rule id, `transfer` (handed to customer service) or `none` (answered `success`)".into(),
                        };
                        diags.push(d(e.span(), format!("no rule has the id `{id}`"), &help));
                        None
                    }
                },
            };
            if let (Some(input), Some(expect), Some(e)) = (input, expect, raw.expect.as_ref()) {
                tests.push(RuleTest {
                    input,
                    expect,
                    reply_contains: raw.reply_contains.map(Spanned::into_inner),
                    expect_span: e.span(),
                    origin,
                });
            }
        }
        self.diags.extend(diags);
        tests
    }
}

/// Builds the reply of the one kind present; every problem goes to `t.diags`.
fn build_reply(
    kind: &str,
    r: RawReply,
    matcher: Option<&Matcher>,
    t: &mut Templates<'_, '_>,
) -> Option<RuleReply> {
    let entry = t.entry;
    let reply = match kind {
        "text" => {
            let text = r.text?;
            let template = t.required(&text, "reply.text")?;
            let bytes = template.literal_text().len();
            if bytes > MAX_TEXT_BYTES {
                t.diags.push(
                    entry
                        .diag(
                            Code::OverLimit,
                            text.span(),
                            format!("reply.text is {bytes} bytes in UTF-8; WeChat takes at most {MAX_TEXT_BYTES}"),
                        )
                        .with_help("shorten it, or answer with a news article that links to the full text"),
                );
            }
            RuleReply::Text(template)
        }
        "image" => RuleReply::Image {
            media_id: t.required(&r.image?.into_inner().media_id, "media_id")?,
        },
        "voice" => RuleReply::Voice {
            media_id: t.required(&r.voice?.into_inner().media_id, "media_id")?,
        },
        "video" => {
            let v = r.video?.into_inner();
            RuleReply::Video {
                media_id: t.required(&v.media_id, "media_id")?,
                title: t.optional(v.title.as_ref())?,
                description: t.optional(v.description.as_ref())?,
            }
        }
        "music" => {
            let m = r.music?.into_inner();
            RuleReply::Music {
                title: t.optional(m.title.as_ref())?,
                description: t.optional(m.description.as_ref())?,
                music_url: t.optional(m.music_url.as_ref())?,
                hq_music_url: t.optional(m.hq_music_url.as_ref())?,
                thumb_media_id: t.required(&m.thumb_media_id, "thumb_media_id")?,
            }
        }
        "news" => {
            let news = r.news?;
            let span = news.span();
            let raw_articles = news.into_inner();
            if raw_articles.is_empty() {
                t.diags.push(
                    entry
                        .diag(Code::EmptyReply, span.clone(), "reply.news has no articles")
                        .with_help(
                            "add an article: { title = \"…\", url = \"…\", pic_url = \"…\" }",
                        ),
                );
            } else if raw_articles.len() > MAX_ARTICLES {
                t.diags.push(
                    entry
                        .diag(
                            Code::OverLimit,
                            span.clone(),
                            format!(
                                "reply.news has {} articles; WeChat sends at most {MAX_ARTICLES}",
                                raw_articles.len()
                            ),
                        )
                        .with_help("keep the most important eight"),
                );
            } else if raw_articles.len() > 1 && matcher.is_some_and(Matcher::answers_user_messages)
            {
                t.diags.push(
                    entry
                        .diag(
                            Code::NewsArticles,
                            span.clone(),
                            format!("reply.news has {} articles, but WeChat shows only the first in reply to a user message", raw_articles.len()),
                        )
                        .with_help("keep one article, or answer a menu event (match.event) where up to eight are shown"),
                );
            }
            let mut articles = Vec::with_capacity(raw_articles.len());
            for a in raw_articles {
                let a = a.into_inner();
                articles.push(ArticleTemplate {
                    title: t.required(&a.title, "title")?,
                    description: t.optional(a.description.as_ref())?,
                    url: t.optional(a.url.as_ref())?,
                    pic_url: t.optional(a.pic_url.as_ref())?,
                });
            }
            RuleReply::News(articles)
        }
        "transfer" => {
            let tr = r.transfer?;
            if matcher.is_some_and(|m| !m.answers_user_messages()) {
                t.diags.push(
                    entry
                        .diag(
                            Code::TransferOnEvent,
                            tr.span(),
                            "reply.transfer on an event rule: WeChat forwards only user messages to customer service",
                        )
                        .with_help("answer the event with a text or news reply, or reply.none = true"),
                );
            }
            RuleReply::Transfer {
                kf_account: t.optional(tr.into_inner().kf_account.as_ref())?,
            }
        }
        _ => {
            let none = r.none?;
            if !*none.get_ref() {
                t.diags.push(
                    entry
                        .diag(
                            Code::InvalidKey,
                            none.span(),
                            "`reply.none` can only be `true`",
                        )
                        .with_help(
                            "write `reply.none = true` to answer nothing, or pick another reply",
                        ),
                );
            }
            RuleReply::None
        }
    };
    Some(reply)
}

/// Template parsing for one reply, collecting diagnostics and group references.
struct Templates<'a, 'e> {
    entry: &'a Entry<'e>,
    diags: Vec<Diagnostic>,
    refs: &'a mut Vec<(GroupRef, Range<usize>)>,
}

impl Templates<'_, '_> {
    fn parse(&mut self, value: &Spanned<String>) -> Option<Template> {
        let span = value.span();
        match Template::parse(value.get_ref()) {
            Ok(t) => {
                for (g, sub) in t.group_refs() {
                    let at = self.entry.inner_span(&span, value.get_ref(), sub);
                    self.refs.push((g.clone(), at));
                }
                Some(t)
            }
            Err(e) => {
                let at = self
                    .entry
                    .inner_span(&span, value.get_ref(), e.span.clone());
                self.diags.push(
                    self.entry
                        .diag(Code::InvalidTemplate, at, e.message)
                        .with_help("`${1}` or `${name}` inserts a capture group; write `$$` for a literal `$`"),
                );
                None
            }
        }
    }

    /// A field WeChat needs: must not be empty.
    fn required(&mut self, value: &Spanned<String>, what: &str) -> Option<Template> {
        let t = self.parse(value)?;
        if t.literal_text().trim().is_empty() && t.group_refs().next().is_none() {
            self.diags.push(
                self.entry
                    .diag(Code::EmptyReply, value.span(), format!("{what} is empty"))
                    .with_help(if what == "reply.text" {
                        "WeChat shows the follower an error for an empty text; write the text, or use reply.none = true to answer nothing"
                    } else {
                        "WeChat needs it; fill it in"
                    }),
            );
            return None;
        }
        Some(t)
    }

    /// `None` when absent, `Some(None)` when present but malformed (an error was pushed).
    fn optional(&mut self, value: Option<&Spanned<String>>) -> Option<Option<Template>> {
        match value {
            None => Some(None),
            Some(v) => self.parse(v).map(Some),
        }
    }
}

const RULE_KEYS: &[&str] = &[
    "id",
    "priority",
    "match",
    "reply",
    "enabled",
    "case_sensitive",
    "exact",
    "prefix",
    "contains",
    "regex",
    "event",
    "key",
    "msg_type",
    "text",
    "image",
    "voice",
    "video",
    "music",
    "news",
    "transfer",
    "none",
    "media_id",
    "title",
    "description",
    "music_url",
    "hq_music_url",
    "thumb_media_id",
    "url",
    "pic_url",
    "kf_account",
];
const TEST_KEYS: &[&str] = &[
    "send",
    "event",
    "key",
    "msg_type",
    "expect",
    "reply_contains",
];

/// The closest candidate to a misspelt name, if one is close enough.
fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The text between `prefix` and the next backtick.
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.split('`').next()
}

/// The useful line of a regex error (the crate's message spans several lines with a caret).
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or("").trim().to_owned(),
            str::to_owned,
        )
}

/// Builds sources from `(path, text)` pairs; for tests and tools that hold files in memory.
pub fn sources_from<P: AsRef<Path>>(files: &[(P, &str)]) -> Sources {
    let mut sources = Sources::new();
    for (path, text) in files {
        sources.add(SourceFile::new(path.as_ref(), *text));
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles one file and returns every diagnostic in the short form.
    fn diags(text: &str) -> Vec<String> {
        let sources = sources_from(&[("r.toml", text)]);
        let compiled = compile(&sources);
        let rule_errors = compiled
            .diagnostics
            .iter()
            .any(|d| d.severity() == Severity::Error && d.code != Code::InvalidTest);
        assert_eq!(compiled.ruleset.is_some(), !rule_errors);
        compiled
            .diagnostics
            .iter()
            .map(|d| d.short(&sources))
            .collect()
    }

    /// (rule file, the start of each expected diagnostic): one line per check.
    const CASES: &[(&str, &[&str])] = &[
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &[],
        ),
        ("", &["r.toml:1:1: warning[empty-file]"]),
        (
            "[[rule]\n",
            &["r.toml:1:8: error[toml-syntax]: unclosed array table"],
        ),
        (
            "[rules]\nx = 1\n",
            &[
                "r.toml:1:2: error[invalid-key]: unknown top-level key `rules` (help: did you mean `[[rule]]`?)",
            ],
        ),
        (
            "rule = 1\n",
            &["r.toml:1:1: error[invalid-key]: `rule` must be an array of tables"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreplay.text = \"y\"\n",
            &["r.toml:4:1: error[invalid-key]: unknown field `replay`"],
        ),
        (
            "[[rule]]\nid = \"a\"\npriority = \"high\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:3:12: error[invalid-key]: invalid type: string \"high\""],
        ),
        (
            "[[rule]]\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:1:1: error[missing-id]"],
        ),
        (
            "[[rule]]\nid = \"a b\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:2:6: error[invalid-id]"],
        ),
        (
            "[[rule]]\nid = \"transfer\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:2:6: error[invalid-id]: the id `transfer` is reserved"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[rule]]\nid = \"a\"\nmatch.exact = \"z\"\nreply.text = \"y\"\n",
            &["r.toml:6:6: error[duplicate-id]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nreply.text = \"y\"\n",
            &["r.toml:1:1: error[no-matcher]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.key = \"K\"\nreply.text = \"y\"\n",
            &["r.toml:3:1: error[no-matcher]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nmatch.prefix = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:4:16: error[several-matchers]: rule has both match.exact and match.prefix"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\n",
            &["r.toml:1:1: error[no-reply]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"y\"\nreply.none = true\n",
            &["r.toml:5:14: error[several-replies]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = [\"x\", \"  \"]\nreply.text = \"y\"\n",
            &["r.toml:3:21: error[empty-value]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = []\nreply.text = \"y\"\n",
            &["r.toml:3:15: error[empty-value]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.prefix = \"x\"\nmatch.key = \"K\"\nreply.text = \"y\"\n",
            &["r.toml:4:13: error[misplaced-key]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.msg_type = \"text\"\nreply.text = \"y\"\n",
            &["r.toml:3:18: error[invalid-msg-type]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.msg_type = \"imagee\"\nreply.text = \"y\"\n",
            &[
                "r.toml:3:18: warning[unknown-name]: WeChat is not known to send messages of type `imagee` (help: did you mean `image`?)",
            ],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.event = \"subscrib\"\nreply.text = \"y\"\n",
            &[
                "r.toml:3:15: warning[unknown-name]: WeChat is not known to send the event `subscrib` (help: did you mean `subscribe`?)",
            ],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.regex = '(x'\nreply.text = \"y\"\n",
            &["r.toml:3:15: error[invalid-regex]: invalid regex: unclosed group"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.regex = '(x)'\nreply.text = \"${2}\"\n",
            &[
                "r.toml:4:15: error[invalid-template]: `${2}` names a capture group that the regex \"(x)\" lacks",
            ],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.regex = '(?P<no>x)'\nreply.text = \"${no} ${nope}\"\n",
            &["r.toml:4:21: error[invalid-template]: `${nope}`"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"${1}\"\n",
            &[
                "r.toml:4:15: error[invalid-template]: `${1}` refers to a regex capture group, but the rule has no regex",
            ],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"a ${oops\"\n",
            &["r.toml:4:17: error[invalid-template]: `${` is not closed"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"  \"\n",
            &["r.toml:4:14: error[empty-reply]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.image = { media_id = \"\" }\n",
            &["r.toml:4:28: error[empty-reply]: media_id is empty"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.image = {}\n",
            &["r.toml:4:15: error[invalid-key]: missing field `media_id`"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.none = false\n",
            &["r.toml:4:14: error[invalid-key]: `reply.none` can only be `true`"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.news = []\n",
            &["r.toml:4:14: error[empty-reply]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.news = [{ title = \"1\" }, { title = \"2\" }]\n",
            &["r.toml:4:14: warning[news-articles]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.event = \"CLICK\"\nreply.transfer = {}\n",
            &["r.toml:4:18: warning[transfer-on-event]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nenabled = false\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:3:11: warning[disabled-rule]"],
        ),
        (
            "[[rule]]\nid = \"a\"\ncase_sensitive = true\nmatch.regex = \"x\"\nreply.text = \"y\"\n",
            &["r.toml:3:18: warning[ineffective-key]"],
        ),
        (
            "[[rule]]\nid = \"a\"\nmatch.exact = \"Hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.exact = [\"x\", \"ＨＩ\"]\nreply.text = \"z\"\n",
            &[
                "r.toml:7:21: error[duplicate-keyword]: the exact keyword \"ＨＩ\" of rule `b` is also a keyword of rule `a` at the same priority (0)",
            ],
        ),
        // Different priorities, or both case-sensitive with different case: no clash.
        (
            "[[rule]]\nid = \"a\"\npriority = 1\nmatch.exact = \"hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\nmatch.exact = \"hi\"\nreply.text = \"z\"\n",
            &[],
        ),
        (
            "[[rule]]\nid = \"a\"\ncase_sensitive = true\nmatch.exact = \"hi\"\nreply.text = \"y\"\n[[rule]]\nid = \"b\"\ncase_sensitive = true\nmatch.exact = \"HI\"\nreply.text = \"z\"\n",
            &[],
        ),
        (
            "[[test]]\nexpect = \"transfer\"\n",
            &["r.toml:1:1: error[invalid-test]: test has no message"],
        ),
        (
            "[[test]]\nsend = \"x\"\n",
            &["r.toml:1:1: error[invalid-test]: test has no `expect`"],
        ),
        (
            "[[test]]\nsend = \"x\"\nevent = \"CLICK\"\nexpect = \"none\"\n",
            &["r.toml:3:9: error[invalid-test]: test has both `send` and `event`"],
        ),
        (
            "[[test]]\nsend = \"x\"\nkey = \"K\"\nexpect = \"none\"\n",
            &["r.toml:3:7: error[invalid-test]: `key` only applies to an `event` test"],
        ),
        (
            "[[rule]]\nid = \"flow-promo\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n[[test]]\nsend = \"x\"\nexpect = \"flow-prmo\"\n",
            &[
                "r.toml:7:10: error[invalid-test]: no rule has the id `flow-prmo` (help: did you mean `flow-promo`?)",
            ],
        ),
        (
            "[[test]]\nsnd = \"x\"\nexpect = \"none\"\n",
            &["r.toml:2:1: error[invalid-key]: unknown field `snd`"],
        ),
    ];

    #[test]
    fn each_check_fires_at_the_right_place() {
        let mut failures = Vec::new();
        for (text, expected) in CASES {
            let got = diags(text);
            let ok = got.len() == expected.len()
                && got
                    .iter()
                    .zip(expected.iter())
                    .all(|(g, e)| g.starts_with(e));
            if !ok {
                failures.push(format!(
                    "for\n{text}expected {expected:#?}\n     got {got:#?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn a_text_over_the_limit_is_an_error() {
        let long = "流".repeat(MAX_TEXT_BYTES / 3 + 1);
        let got = diags(&format!(
            "[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"{long}\"\n"
        ));
        assert!(
            got[0].starts_with("r.toml:4:14: error[over-limit]: reply.text is 2049 bytes"),
            "{got:?}"
        );
        let nine = ["{ title = \"t\" }"; 9].join(", ");
        let got = diags(&format!(
            "[[rule]]\nid = \"a\"\nmatch.event = \"CLICK\"\nreply.news = [{nine}]\n"
        ));
        assert!(
            got[0].starts_with("r.toml:4:14: error[over-limit]: reply.news has 9 articles"),
            "{got:?}"
        );
    }

    #[test]
    fn a_regex_set_over_its_size_cap_is_a_diagnostic_not_an_oom() {
        // Each regex fits its own limit; the ten together are over the set's cap.
        let rules: String = (0..10)
            .map(|i| {
                format!(
                    "[[rule]]\nid = \"r{i}\"\nmatch.regex = 'a{i}\\w{{150}}'\nreply.text = \"x\"\n"
                )
            })
            .collect();
        let compiled = compile(&sources_from(&[("r.toml", rules.as_str())]));
        assert!(compiled.ruleset.is_none());
        let d = &compiled.diagnostics[0];
        assert_eq!(d.code, Code::InvalidRegex);
        assert!(
            d.message.contains("do not compile together")
                && d.message.contains("exceed the size limit of 64 MiB"),
            "{}",
            d.message
        );
        assert!(
            d.help.as_deref().is_some_and(|h| h.contains("simplify")),
            "{d:?}"
        );
    }

    #[test]
    fn every_help_says_something() {
        for (text, _) in CASES {
            let sources = sources_from(&[("r.toml", *text)]);
            for d in compile(&sources).diagnostics {
                assert!(d.help.as_deref().is_some_and(|h| h.len() > 10), "{d:?}");
            }
        }
    }
}
