//! Diagnostics: what the rule loader says about rule files.
//!
//! A rule problem is not an `Err`: the loader collects every problem into a `Vec<Diagnostic>`
//! and keeps going, so that one run reports all of them (the shape of rust-analyzer's
//! `(T, Vec<Error>)` and cargo-deny's validation context).
//! A diagnostic stores a file id and a *byte* span; line and column are computed only when it
//! is rendered, from the [`Sources`] that hold the text.
//!
//! This module owns the stable list of diagnostic codes ([`Code`]), the one-line rendering
//! (`file:line:col: error[code]: message`) used in logs, and in [`render`] the formats of
//! `lint`: rustc-style snippets, JSON and GitHub annotations.

pub mod render;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The rule set is not usable: `serve` refuses it, `lint` exits 1.
    Error,
    /// The rule set works but probably not as intended.
    Warning,
}

impl Severity {
    /// The lower-case name, as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $severity:ident;)*) => {
        /// The stable, kebab-case code of every diagnostic. Users grep for these and CI
        /// configurations may mention them, so a code is never renamed or reused.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The kebab-case name.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity a diagnostic with this code always has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line saying what the code means (the first line of its doc comment).
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => codes!(@first $($doc)*),)* }
            }
        }
    };
    (@first $first:literal $($rest:literal)*) => { $first.trim_ascii() };
}

codes! {
    /// A file or directory under the rules directory could not be read.
    Unreadable = "unreadable", Error;
    /// A rule file is not valid UTF-8.
    NotUtf8 = "not-utf8", Error;
    /// A rule file is not valid TOML.
    TomlSyntax = "toml-syntax", Error;
    /// A key that replyd does not know, or a value of the wrong type.
    InvalidKey = "invalid-key", Error;
    /// A rule without `id`.
    MissingId = "missing-id", Error;
    /// An id with characters outside `[A-Za-z0-9_.-]`, or a reserved id.
    InvalidId = "invalid-id", Error;
    /// Two rules with the same id.
    DuplicateId = "duplicate-id", Error;
    /// A rule without `match`.
    NoMatcher = "no-matcher", Error;
    /// A rule with more than one kind of matcher.
    SeveralMatchers = "several-matchers", Error;
    /// A rule without `reply`.
    NoReply = "no-reply", Error;
    /// A rule with more than one kind of reply.
    SeveralReplies = "several-replies", Error;
    /// An empty keyword, pattern, event name or message type.
    EmptyValue = "empty-value", Error;
    /// `match.key` without `match.event`, or `case_sensitive` on a rule it cannot affect.
    MisplacedKey = "misplaced-key", Error;
    /// `match.msg_type` names `event`, which has matchers of its own.
    InvalidMsgType = "invalid-msg-type", Error;
    /// A regex that does not compile.
    InvalidRegex = "invalid-regex", Error;
    /// A reply template that is malformed or names a capture group the regex lacks.
    InvalidTemplate = "invalid-template", Error;
    /// The same keyword in two rules at the same priority: neither wins by rank.
    DuplicateKeyword = "duplicate-keyword", Error;
    /// A reply over one of WeChat's limits.
    OverLimit = "over-limit", Error;
    /// A reply field that WeChat requires is missing or empty.
    EmptyReply = "empty-reply", Error;
    /// A `[[test]]` entry that is malformed.
    InvalidTest = "invalid-test", Error;
    /// A `[[test]]` whose message is not answered as it expects.
    TestFailed = "test-failed", Error;
    /// A keyword or rule that can never answer because a higher-ranked rule always takes it.
    Shadowed = "shadowed", Warning;
    /// A rule with `enabled = false`: kept and checked, never matched.
    DisabledRule = "disabled-rule", Warning;
    /// A key that has no effect where it is (`case_sensitive` on a regex or event rule).
    IneffectiveKey = "ineffective-key", Warning;
    /// A rule file with no rules and no tests.
    EmptyFile = "empty-file", Warning;
    /// Several news articles on a rule that answers user messages: WeChat shows only the first.
    NewsArticles = "news-articles", Warning;
    /// A transfer to customer service on an event rule: WeChat forwards only user messages.
    TransferOnEvent = "transfer-on-event", Warning;
    /// A message type or event name that WeChat is not known to send.
    UnknownName = "unknown-name", Warning;
    /// The rules directory holds no rule files.
    NoRuleFiles = "no-rule-files", Warning;
    /// A `[[schedule]]` that is malformed: a bad name, day, time, date or zone.
    InvalidSchedule = "invalid-schedule", Error;
    /// Two schedules with the same name.
    DuplicateSchedule = "duplicate-schedule", Error;
    /// `during` or `outside` naming no schedule.
    UnknownSchedule = "unknown-schedule", Error;
    /// A rule's time window that cannot hold: `until` not after `from`, a time without an
    /// offset, `during` and `outside` together.
    InvalidWindow = "invalid-window", Error;
    /// A `cooldown` that is not a duration (`30s`, `10m`, `1h`, `1d`) or is out of range.
    InvalidCooldown = "invalid-cooldown", Error;
    /// A `reply.random` list of fewer than 2 or more than 10 replies, or holding `transfer`,
    /// `ai`, `none` or another `random`.
    InvalidRandom = "invalid-random", Error;
    /// A campaign whose `until` has passed: it never answers again.
    Expired = "expired", Warning;
    /// A reply on an event for which WeChat never shows one (unsubscribe, the job-finished
    /// reports, kf_*, subscribe_msg_*).
    ReplyNotShown = "reply-not-shown", Warning;
    /// `*` or `?` in `match.key` or `match.scene`: compared literally, not as a wildcard.
    WildcardKey = "wildcard-key", Warning;
    /// `reply.upstream` naming no `[[upstream]]` of the config.
    UnknownUpstream = "unknown-upstream", Error;
    /// A `reply.all` list of fewer than 2 or more than 5 replies, or holding `transfer`, `ai`,
    /// `none`, `random`, `all` or `upstream`.
    InvalidAll = "invalid-all", Error;
    /// `reply.all` or an offline reply without `app_secret` in the config: they need WeChat's
    /// API.
    NeedsAppSecret = "needs-app-secret", Error;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// A place in a rule file: a file and a byte range in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file.
    pub file: FileId,
    /// Byte range in the file's text.
    pub span: Range<usize>,
}

/// A secondary place a diagnostic refers to ("the rule that takes it is here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where.
    pub location: Location,
    /// What is there.
    pub message: String,
}

/// One problem found in the rule files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code; also fixes the severity.
    pub code: Code,
    /// Where the problem is; `None` for problems with the directory as a whole.
    pub location: Option<Location>,
    /// What is wrong, starting lower-case, no trailing period.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Other places that explain the problem.
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic at a place.
    pub fn new(code: Code, file: FileId, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            location: Some(Location { file, span }),
            message: message.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// A diagnostic at a place already located (a rule's keyword, placed by the rule set).
    pub fn at(code: Code, location: Location, message: impl Into<String>) -> Self {
        Diagnostic::new(code, location.file, location.span, message)
    }

    /// A diagnostic about the rule set as a whole.
    pub fn global(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            location: None,
            message: message.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds the help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a related place.
    #[must_use]
    pub fn with_related(
        mut self,
        file: FileId,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        self.related.push(Related {
            location: Location { file, span },
            message: message.into(),
        });
        self
    }

    /// Adds a related place already located.
    #[must_use]
    pub fn with_related_at(self, location: Location, message: impl Into<String>) -> Self {
        self.with_related(location.file, location.span, message)
    }

    /// The severity, fixed by the code.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// `file:line:col: error[code]: message`, the one-line form for logs and terminals.
    pub fn short(&self, sources: &Sources) -> String {
        let mut out = String::new();
        if let Some(loc) = &self.location {
            out.push_str(&sources.position(loc).to_string());
            out.push_str(": ");
        }
        out.push_str(self.severity().as_str());
        out.push('[');
        out.push_str(self.code.as_str());
        out.push_str("]: ");
        out.push_str(&self.message);
        if let Some(help) = &self.help {
            out.push_str(" (help: ");
            out.push_str(help);
            out.push(')');
        }
        out
    }
}

/// A rule file's text, with its line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    /// Where each line starts. `u32`: half the room of a `usize` for a catalogue's 500,000
    /// lines, held while a reload compiles. The loader refuses a file of 4 GiB or more
    /// ([`MAX_FILE_BYTES`]); in a longer text given here, the lines past that mark are counted
    /// as one.
    line_starts: Vec<u32>,
}

/// The largest rule file the loader reads, in bytes.
pub const MAX_FILE_BYTES: u64 = u32::MAX as u64;

impl SourceFile {
    /// Wraps a file's path and text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        // Counted first and allocated once: grown by doubling, the list of a 100,000-rule
        // catalogue's 500,000 lines left its 2 MB of earlier copies to the allocator.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
        let mut line_starts = Vec::with_capacity(lines + 1);
        line_starts.push(0);
        line_starts.extend(
            memchr::memchr_iter(b'\n', text.as_bytes())
                .map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The path, as the user gave it (joined to the rules directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s as usize <= offset) - 1;
        let start = self.line_starts[line] as usize;
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// 0-based index of the line holding a byte offset.
    pub fn line_index(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s as usize <= offset.min(self.text.len()))
            - 1
    }

    /// Byte range of a 0-based line, line break included; `None` past the last line.
    pub fn line_range(&self, index: usize) -> Option<Range<usize>> {
        let start = *self.line_starts.get(index)? as usize;
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(self.text.len(), |&s| s as usize);
        Some(start..end)
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let at = |i: usize| {
            self.line_starts
                .get(i)
                .map_or(self.text.len(), |&s| s as usize)
        };
        let (start, end) = (at(line - 1), at(line));
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// All rule files of one load, indexed by [`FileId`] in path order.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// An empty set.
    pub fn new() -> Self {
        Sources::default()
    }

    /// Adds a file; files must be added in path order.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() - 1)
    }

    /// The file with this id.
    ///
    /// # Panics
    ///
    /// If the id does not come from this set.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// Every file with its id, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }

    /// How many files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Resolves a location to path, line and column.
    pub fn position(&self, loc: &Location) -> Position<'_> {
        let file = self.get(loc.file);
        let (line, column) = file.line_col(loc.span.start);
        Position {
            path: file.path(),
            line,
            column,
        }
    }
}

/// A resolved location: `path:line:column`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position<'a> {
    /// The file's path.
    pub path: &'a Path,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity() == Severity::Error)
}

/// The closest candidate to a misspelt name, if one is close enough: the "did you mean" of
/// every diagnostic and config error.
pub fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_described() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name} is not kebab-case"
            );
            assert!(!code.description().is_empty(), "{name} has no description");
        }
    }

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("a.toml", "ab\n流量 = 1\n\nx");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(1), (1, 2));
        assert_eq!(f.line_col(3), (2, 1));
        // "流量 " is 7 bytes; the `=` is the 4th character of line 2.
        assert_eq!(f.line_col(3 + 7), (2, 4));
        assert_eq!(f.line_col(14), (3, 1));
        assert_eq!(f.line_col(15), (4, 1));
        assert_eq!(f.line_col(999), (4, 2));
        assert_eq!(f.line_text(2), "流量 = 1");
        assert_eq!(f.line_text(3), "");
    }

    #[test]
    fn short_form_names_file_line_column_and_code() {
        let mut sources = Sources::new();
        let id = sources.add(SourceFile::new("rules/a.toml", "[[rule]]\nid = \"x y\"\n"));
        let d = Diagnostic::new(Code::InvalidId, id, 14..19, "bad id").with_help("use letters");
        assert_eq!(
            d.short(&sources),
            "rules/a.toml:2:6: error[invalid-id]: bad id (help: use letters)"
        );
    }
}
