//! Rule files → a checked, compiled, immutable [`RuleSet`], plus every diagnostic.
//!
//! [`compile`] takes the text of every rule file ([`Sources`], in path order) and returns a
//! [`Compiled`]: the rule set when there is no error, and all diagnostics either way. It does no
//! IO (reading the directory is `load`'s job) and never stops at the first problem.
//!
//! A compiled set holds every rule (disabled ones too, for `lint` and `try`), the `[[test]]`
//! entries, and the [`Index`] the engine queries: hash maps for exact keywords and prefixes, an
//! Aho-Corasick automaton for `contains`, one `RegexSet` for all regexes. Keywords are stored
//! normalised (`normalize`), so matching a message costs the same whatever the number of rules.

mod compile;
mod index;
pub mod normalize;
mod raw;
pub mod template;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Location;

pub use compile::{Compiled, REGEX_SIZE_LIMIT, compile, sources_from};
pub use index::{Hit, Index, REGEX_SET_SIZE_LIMIT, Texts};
pub use template::Template;

/// The rules answering messages: immutable once compiled, shared behind an `Arc`.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    tests: Vec<RuleTest>,
    files: Vec<FileSummary>,
    index: Index,
}

impl RuleSet {
    /// Every rule, enabled or not, in rank order of origin (path order, then file order).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule at an index the [`Index`] handed out.
    pub fn rule(&self, index: u32) -> &Rule {
        &self.rules[index as usize]
    }

    /// The `[[test]]` entries of every file.
    pub fn tests(&self) -> &[RuleTest] {
        &self.tests
    }

    /// The files the set came from, with what each contributed.
    pub fn files(&self) -> &[FileSummary] {
        &self.files
    }

    /// The lookup structures over the enabled rules.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// How many rules are enabled (can answer).
    pub fn enabled_count(&self) -> usize {
        self.rules.iter().filter(|r| r.enabled).count()
    }
}

/// What one file contributed.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// The file's path.
    pub path: PathBuf,
    /// Number of `[[rule]]` entries.
    pub rules: usize,
    /// Number of `[[test]]` entries.
    pub tests: usize,
}

/// Where something was written: for messages, logs and `try`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file's path.
    pub path: Arc<Path>,
    /// 1-based line of the entry's `[[rule]]` or `[[test]]` header.
    pub line: usize,
    /// The file and byte span, for diagnostics.
    pub location: Location,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// Unique id (`[A-Za-z0-9_.-]+`); shared by every answer that names it.
    pub id: Arc<str>,
    /// Higher wins; default 0.
    pub priority: i64,
    /// `false`: kept and checked, never matched.
    pub enabled: bool,
    /// Literal matchers compare case (regexes always do unless they say `(?i)`).
    pub case_sensitive: bool,
    /// What the rule answers.
    pub matcher: Matcher,
    /// How it answers.
    pub reply: RuleReply,
    /// Where it was written.
    pub origin: Origin,
}

/// A rule's matcher: exactly one kind.
#[derive(Debug)]
pub enum Matcher {
    /// The whole normalised text equals a keyword.
    Exact(Vec<Keyword>),
    /// The normalised text starts with a keyword.
    Prefix(Vec<Keyword>),
    /// The normalised text contains a keyword.
    Contains(Vec<Keyword>),
    /// A regex matches the normalised text (case kept).
    Regex(Vec<Pattern>),
    /// An event, optionally with a specific `EventKey`.
    Event {
        /// The event name as written (compared without regard to ASCII case).
        name: String,
        /// The `EventKey`, compared exactly.
        key: Option<String>,
    },
    /// A user message of another type (image, voice, …).
    MsgType(String),
}

/// The kind of a matcher, which also orders specificity at equal priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// `exact`.
    Exact,
    /// `prefix`.
    Prefix,
    /// `contains`.
    Contains,
    /// `regex`.
    Regex,
    /// `event` with `key`.
    EventKey,
    /// `event` without `key`.
    Event,
    /// `msg_type`.
    MsgType,
}

impl MatchKind {
    /// The name as written in a rule file (`event+key` for an event rule with a key).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Prefix => "prefix",
            MatchKind::Contains => "contains",
            MatchKind::Regex => "regex",
            MatchKind::EventKey => "event+key",
            MatchKind::Event => "event",
            MatchKind::MsgType => "msg_type",
        }
    }

    /// Rank among matchers that can answer the same message: exact > prefix > contains >
    /// regex; an event rule with key > one without.
    pub fn specificity(self) -> u8 {
        match self {
            MatchKind::Exact => 4,
            MatchKind::Prefix => 3,
            MatchKind::Contains | MatchKind::EventKey => 2,
            MatchKind::Regex | MatchKind::Event | MatchKind::MsgType => 1,
        }
    }
}

impl Matcher {
    /// The kind.
    pub fn kind(&self) -> MatchKind {
        match self {
            Matcher::Exact(_) => MatchKind::Exact,
            Matcher::Prefix(_) => MatchKind::Prefix,
            Matcher::Contains(_) => MatchKind::Contains,
            Matcher::Regex(_) => MatchKind::Regex,
            Matcher::Event { key: Some(_), .. } => MatchKind::EventKey,
            Matcher::Event { key: None, .. } => MatchKind::Event,
            Matcher::MsgType(_) => MatchKind::MsgType,
        }
    }

    /// Whether the rule answers user messages (anything but events).
    pub fn answers_user_messages(&self) -> bool {
        !matches!(self, Matcher::Event { .. })
    }

    /// The keyword or pattern `item` of a literal or regex matcher, as written.
    pub fn item_text(&self, item: u32) -> Option<&str> {
        let i = item as usize;
        match self {
            Matcher::Exact(k) | Matcher::Prefix(k) | Matcher::Contains(k) => {
                k.get(i).map(|k| k.text.as_str())
            }
            Matcher::Regex(p) => p.get(i).map(|p| p.regex.as_str()),
            Matcher::Event { .. } | Matcher::MsgType(_) => None,
        }
    }
}

/// A literal keyword.
#[derive(Debug)]
pub struct Keyword {
    /// As written in the rule file.
    pub text: String,
    /// Normalised, and folded unless the rule is case-sensitive: what is compared.
    pub normalized: String,
    /// Byte span of the keyword in its file.
    pub span: Range<usize>,
}

/// A compiled regex.
#[derive(Debug)]
pub struct Pattern {
    /// The regex.
    pub regex: regex::Regex,
    /// Byte span of the pattern in its file.
    pub span: Range<usize>,
}

/// A rule's reply, with every string a [`Template`].
#[derive(Debug)]
pub enum RuleReply {
    /// `reply.text`.
    Text(Template),
    /// `reply.image`.
    Image {
        /// `media_id`.
        media_id: Template,
    },
    /// `reply.voice`.
    Voice {
        /// `media_id`.
        media_id: Template,
    },
    /// `reply.video`.
    Video {
        /// `media_id`.
        media_id: Template,
        /// `title`.
        title: Option<Template>,
        /// `description`.
        description: Option<Template>,
    },
    /// `reply.music`.
    Music {
        /// `title`.
        title: Option<Template>,
        /// `description`.
        description: Option<Template>,
        /// `music_url`.
        music_url: Option<Template>,
        /// `hq_music_url`.
        hq_music_url: Option<Template>,
        /// `thumb_media_id`.
        thumb_media_id: Template,
    },
    /// `reply.news`.
    News(Vec<ArticleTemplate>),
    /// `reply.transfer`.
    Transfer {
        /// `kf_account`.
        kf_account: Option<Template>,
    },
    /// `reply.none = true`: answer `success`.
    None,
}

impl RuleReply {
    /// The reply kind as written in a rule file.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleReply::Text(_) => "text",
            RuleReply::Image { .. } => "image",
            RuleReply::Voice { .. } => "voice",
            RuleReply::Video { .. } => "video",
            RuleReply::Music { .. } => "music",
            RuleReply::News(_) => "news",
            RuleReply::Transfer { .. } => "transfer",
            RuleReply::None => "none",
        }
    }
}

/// One news article of a rule.
#[derive(Debug)]
pub struct ArticleTemplate {
    /// `title`.
    pub title: Template,
    /// `description`.
    pub description: Option<Template>,
    /// `url`.
    pub url: Option<Template>,
    /// `pic_url`.
    pub pic_url: Option<Template>,
}

/// A `[[test]]` entry: a message and the answer it must get.
#[derive(Debug, Clone)]
pub struct RuleTest {
    /// The message.
    pub input: TestInput,
    /// Who must answer.
    pub expect: Expect,
    /// A piece of text the reply must contain.
    pub reply_contains: Option<String>,
    /// Where the test was written.
    pub origin: Origin,
    /// Span of the `expect` value.
    pub expect_span: Range<usize>,
}

/// The message of a `[[test]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestInput {
    /// `send = "…"`: a text message.
    Text(String),
    /// `event = "…"` with an optional `key`.
    Event {
        /// The event name.
        name: String,
        /// The `EventKey`.
        key: Option<String>,
    },
    /// `msg_type = "…"`: a message of another type.
    MsgType(String),
}

/// The answer a `[[test]]` expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// This rule answers.
    Rule(String),
    /// No rule answers a user message: it goes to customer service (`expect = "transfer"`).
    Transfer,
    /// No rule answers: the reply is `success` (`expect = "none"`).
    Nothing,
}

/// Ids a rule may not take, because `[[test]]` uses them.
pub const RESERVED_IDS: &[&str] = &["transfer", "none"];
