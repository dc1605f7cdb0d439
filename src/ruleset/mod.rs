//! Rule files → a checked, compiled, immutable [`RuleSet`], plus every diagnostic.
//!
//! [`compile`] takes the text of every rule file ([`Sources`](crate::diag::Sources), in path
//! order) and returns a [`Compiled`]: the rule set when there is no error, and all diagnostics
//! either way. It does no IO (reading the directory is `load`'s job) and never stops at the
//! first problem.
//!
//! A compiled set holds every rule (disabled ones too, for `lint` and `try`), the `[[test]]`
//! entries, and the [`Index`] the engine queries: hash maps for exact keywords and prefixes, an
//! Aho-Corasick automaton for `contains`, one `RegexSet` for all regexes. Keywords are stored
//! normalised (`normalize`), so matching a message costs the same whatever the number of rules.

mod compile;
mod fingerprint;
mod index;
mod key_index;
mod literal_map;
pub mod normalize;
mod raw;
mod rule;
pub mod schedule;
pub mod template;
mod when;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Location;

pub(crate) use compile::compile_fingerprinted;
pub use compile::{Compiled, Declared, REGEX_SIZE_LIMIT, compile, compile_with, sources_from};
pub use fingerprint::Fingerprint;
pub use index::{Hit, Index, REGEX_SET_SIZE_LIMIT, Texts};
pub use key_index::{KeyHit, KeyHow, KeyIndex};
pub(crate) use rule::EntryDigest;
pub use rule::{EntrySpan, Rule, RuleBody, Timing};
pub use schedule::Schedule;
pub use template::Template;
pub use when::{Gate, Skip, When};

/// How many threads a load's parallel work uses (reading a large file's pieces, the shadowing
/// analysis): one per core, up to four.
pub fn load_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 4)
}

/// The rules answering messages: immutable once compiled, shared behind an `Arc`.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    schedules: Vec<Schedule>,
    tests: Vec<RuleTest>,
    files: Vec<FileSummary>,
    /// Shared with the set a reload replaced when no rule's matcher changed.
    index: Arc<Index>,
    /// Whether an enabled rule has a cooldown (replicas then read the follower's shared
    /// cooldowns before answering).
    cooldowns: bool,
    /// Whether an enabled rule has an offline reply (the agents online are then fetched).
    offline: bool,
    /// What the set was compiled from.
    fingerprint: Fingerprint,
    /// What the config declared when it was compiled (a reload against other declarations
    /// compiles every rule again).
    declared: Arc<Declared>,
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

    /// Every `[[schedule]]`, in the order written; [`Gate::schedule`] indexes it.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
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

    /// Whether an enabled rule has a `cooldown`.
    pub fn has_cooldowns(&self) -> bool {
        self.cooldowns
    }

    /// Whether an enabled rule has `reply.transfer.offline`.
    pub fn has_offline(&self) -> bool {
        self.offline
    }

    /// What the set was compiled from: a load of files with the same fingerprint would compile
    /// to this same set.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// What the config declared when the set was compiled.
    pub fn declared(&self) -> &Declared {
        &self.declared
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
    /// An event, optionally with its `EventKey` compared.
    Event {
        /// The event name as written (compared without regard to ASCII case).
        name: String,
        /// How the `EventKey` is compared.
        key: KeyMatch,
    },
    /// A follow by parametric QR code (subscribe with `EventKey` `qrscene_X`) or a scan of one
    /// by a follower (SCAN with `EventKey` `X`), comparing X.
    Scene(KeyMatch),
    /// A user message of one type (image, voice, …, or text).
    MsgType(String),
    /// `msg_type = "*"`: every user message, of any type, known or not; never an event.
    AnyMessage,
}

/// How an event rule compares the `EventKey` (or a scene rule the scene).
#[derive(Debug)]
pub enum KeyMatch {
    /// Any key, or none (`match.event` alone).
    Any,
    /// `match.key` / `match.scene`: equal.
    Exact(String),
    /// `match.key_prefix` / `match.scene_prefix`: starts with.
    Prefix(String),
    /// `match.key_regex` / `match.scene_regex`: matches; its captures fill the reply.
    Regex(Box<Pattern>),
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
    /// `event` with `key_prefix`.
    EventKeyPrefix,
    /// `event` with `key_regex`.
    EventKeyRegex,
    /// `event` without a key.
    Event,
    /// `scene`.
    Scene,
    /// `scene_prefix`.
    ScenePrefix,
    /// `scene_regex`.
    SceneRegex,
    /// `msg_type` naming a type.
    MsgType,
    /// `msg_type = "*"`.
    AnyMessage,
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
            MatchKind::EventKeyPrefix => "event+key_prefix",
            MatchKind::EventKeyRegex => "event+key_regex",
            MatchKind::Event => "event",
            MatchKind::Scene => "scene",
            MatchKind::ScenePrefix => "scene_prefix",
            MatchKind::SceneRegex => "scene_regex",
            MatchKind::MsgType => "msg_type",
            MatchKind::AnyMessage => "msg_type *",
        }
    }

    /// Rank among matchers that can answer the same message. Text: exact, then prefix,
    /// contains, regex, a message type, `*` (a `msg_type` rule ranks below every keyword
    /// rule). Events: an exact key or scene, then a key or scene prefix, a key or scene regex,
    /// no key.
    pub fn specificity(self) -> u8 {
        match self {
            MatchKind::Exact | MatchKind::EventKey | MatchKind::Scene => 6,
            MatchKind::Prefix | MatchKind::EventKeyPrefix | MatchKind::ScenePrefix => 5,
            MatchKind::Contains | MatchKind::EventKeyRegex | MatchKind::SceneRegex => 4,
            MatchKind::Regex | MatchKind::Event => 3,
            MatchKind::MsgType => 2,
            MatchKind::AnyMessage => 1,
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
            Matcher::Event { key, .. } => match key {
                KeyMatch::Any => MatchKind::Event,
                KeyMatch::Exact(_) => MatchKind::EventKey,
                KeyMatch::Prefix(_) => MatchKind::EventKeyPrefix,
                KeyMatch::Regex(_) => MatchKind::EventKeyRegex,
            },
            Matcher::Scene(key) => match key {
                KeyMatch::Any | KeyMatch::Exact(_) => MatchKind::Scene,
                KeyMatch::Prefix(_) => MatchKind::ScenePrefix,
                KeyMatch::Regex(_) => MatchKind::SceneRegex,
            },
            Matcher::MsgType(_) => MatchKind::MsgType,
            Matcher::AnyMessage => MatchKind::AnyMessage,
        }
    }

    /// Whether the rule answers user messages (anything but events).
    pub fn answers_user_messages(&self) -> bool {
        !matches!(self, Matcher::Event { .. } | Matcher::Scene(_))
    }

    /// The regex whose captures fill the reply's `${…}`: each of a `match.regex` list, or the
    /// key or scene regex.
    pub fn capture_patterns(&self) -> &[Pattern] {
        match self {
            Matcher::Regex(p) => p,
            Matcher::Event {
                key: KeyMatch::Regex(p),
                ..
            }
            | Matcher::Scene(KeyMatch::Regex(p)) => std::slice::from_ref(&**p),
            _ => &[],
        }
    }

    /// The keyword or pattern `item` of a literal or regex matcher (or the key or scene), as
    /// written.
    pub fn item_text(&self, item: u32) -> Option<&str> {
        let i = item as usize;
        match self {
            Matcher::Exact(k) | Matcher::Prefix(k) | Matcher::Contains(k) => {
                k.get(i).map(|k| k.text.as_str())
            }
            Matcher::Regex(p) => p.get(i).map(|p| p.regex.as_str()),
            Matcher::Event { key, .. } | Matcher::Scene(key) => match key {
                KeyMatch::Any => None,
                KeyMatch::Exact(k) | KeyMatch::Prefix(k) => Some(k),
                KeyMatch::Regex(p) => Some(p.regex.as_str()),
            },
            Matcher::MsgType(_) | Matcher::AnyMessage => None,
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
    /// Where the keyword is written.
    pub span: EntrySpan,
}

/// A compiled regex.
#[derive(Debug)]
pub struct Pattern {
    /// The regex.
    pub regex: regex::Regex,
    /// Where the pattern is written.
    pub span: EntrySpan,
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
    /// `reply.video` (boxed, like music: rare and large, they would make every reply their
    /// size).
    Video(Box<VideoTemplate>),
    /// `reply.music`.
    Music(Box<MusicTemplate>),
    /// `reply.news`.
    News(Vec<ArticleTemplate>),
    /// `reply.transfer`.
    Transfer {
        /// `kf_account`.
        kf_account: Option<Template>,
        /// `offline`: what the follower gets instead when the agent (or, without `kf_account`,
        /// every agent) is offline.
        offline: Option<Box<RuleReply>>,
    },
    /// `reply.ai = {}`: hand over to WeChat's AI reply for the account.
    Ai,
    /// `reply.none = true`: answer `success`.
    None,
    /// `reply.random`: one of 2–10 replies, picked per message.
    Random(Vec<RuleReply>),
    /// `reply.all`: 2–5 replies, the first passive, the others sent through the
    /// customer-service message API after it.
    All(Vec<RuleReply>),
    /// `reply.upstream = "NAME"`: the message goes to that `[[upstream]]`, whose answer is
    /// relayed.
    Upstream(Arc<str>),
}

impl RuleReply {
    /// The reply kind as written in a rule file.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleReply::Text(_) => "text",
            RuleReply::Image { .. } => "image",
            RuleReply::Voice { .. } => "voice",
            RuleReply::Video(_) => "video",
            RuleReply::Music(_) => "music",
            RuleReply::News(_) => "news",
            RuleReply::Transfer { .. } => "transfer",
            RuleReply::Ai => "ai",
            RuleReply::None => "none",
            RuleReply::Random(_) => "random",
            RuleReply::All(_) => "all",
            RuleReply::Upstream(_) => "upstream",
        }
    }

    /// Whether the reply is a hand-over with an `offline` reply.
    pub fn has_offline(&self) -> bool {
        matches!(
            self,
            RuleReply::Transfer {
                offline: Some(_),
                ..
            }
        )
    }

    /// Whether the reply can render as an empty text (a template made only of captures, which
    /// may be empty): the engine then checks each rendering, and the rule cannot shadow others.
    pub fn can_render_empty(&self) -> bool {
        match self {
            RuleReply::Text(t) => t.can_render_empty(),
            RuleReply::Random(list) => list.iter().any(RuleReply::can_render_empty),
            RuleReply::All(list) => list.first().is_some_and(RuleReply::can_render_empty),
            _ => false,
        }
    }
}

/// A rule's `reply.video`.
#[derive(Debug)]
pub struct VideoTemplate {
    /// `media_id`.
    pub media_id: Template,
    /// `title`.
    pub title: Option<Template>,
    /// `description`.
    pub description: Option<Template>,
}

/// A rule's `reply.music`.
#[derive(Debug)]
pub struct MusicTemplate {
    /// `title`.
    pub title: Option<Template>,
    /// `description`.
    pub description: Option<Template>,
    /// `music_url`.
    pub music_url: Option<Template>,
    /// `hq_music_url`.
    pub hq_music_url: Option<Template>,
    /// `thumb_media_id`.
    pub thumb_media_id: Template,
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
    /// `at`: when the message arrives (default: when the test runs).
    pub at: Option<jiff::Timestamp>,
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
    /// `scene = "…"`: a follow by parametric QR code (subscribe, `EventKey` `qrscene_…`).
    Scene(String),
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
