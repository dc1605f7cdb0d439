//! The serde mirror of a rule file, exactly as written, with spans.
//!
//! Each `[[rule]]` and `[[test]]` entry is deserialized on its own (see `compile/`), so a
//! mistake in one entry does not hide the mistakes in the others. `deny_unknown_fields`
//! everywhere: a misspelt key is an error, never silently ignored. Values the diagnostics point
//! at are wrapped in [`Spanned`].
//!
//! A `match`, `reply` or test input table may name several kinds; [`RawMatch::specs`],
//! [`RawReply::specs`] and [`RawTest::inputs`] turn each into a list of typed specs
//! ([`MatchSpec`], [`ReplySpec`], [`InputSpec`]). They destructure their table without `..`, so
//! a key added to the table and forgotten here does not compile, and the compiler matches the
//! specs exhaustively, so a kind cannot be dropped without a diagnostic.

use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;
use toml::value::Datetime;

/// One of several kinds a table may name, with the key it is written under.
pub trait Spec {
    /// The key as written (`exact`, `text`, `send`, …).
    fn key(&self) -> &'static str;
}

/// The kinds a table names, each with the span of its value, in key order.
pub type Specs<S> = Vec<(S, Range<usize>)>;

/// Pushes `(spec, span)` when the key is present.
fn push<T, S>(out: &mut Specs<S>, value: Option<Spanned<T>>, f: fn(Spanned<T>) -> S) {
    if let Some(v) = value {
        let span = v.span();
        out.push((f(v), span));
    }
}

/// One `[[rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: Option<Spanned<String>>,
    pub priority: Option<Spanned<i64>>,
    #[serde(rename = "match")]
    pub matcher: Option<Spanned<RawMatch>>,
    pub reply: Option<Spanned<RawReply>>,
    pub enabled: Option<Spanned<bool>>,
    pub case_sensitive: Option<Spanned<bool>>,
    pub during: Option<Spanned<String>>,
    pub outside: Option<Spanned<String>>,
    pub from: Option<Spanned<Datetime>>,
    pub until: Option<Spanned<Datetime>>,
    pub cooldown: Option<Spanned<String>>,
    pub voice: Option<Spanned<bool>>,
    pub name: Option<Spanned<String>>,
}

/// One `[[schedule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub name: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub weekly: Vec<Spanned<String>>,
    #[serde(default)]
    pub closed: Vec<Spanned<String>>,
    #[serde(default)]
    pub open: Vec<Spanned<String>>,
}

/// `match.*`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub exact: Option<Spanned<Strings>>,
    pub prefix: Option<Spanned<Strings>>,
    pub contains: Option<Spanned<Strings>>,
    pub regex: Option<Spanned<Strings>>,
    pub event: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub key_prefix: Option<Spanned<String>>,
    pub key_regex: Option<Spanned<String>>,
    pub scene: Option<Spanned<String>>,
    pub scene_prefix: Option<Spanned<String>>,
    pub scene_regex: Option<Spanned<String>>,
    pub msg_type: Option<Spanned<String>>,
}

/// A modifier of `match.event`: how the `EventKey` is compared.
#[derive(Debug)]
pub enum KeySpec {
    /// `match.key`.
    Exact(Spanned<String>),
    /// `match.key_prefix`.
    Prefix(Spanned<String>),
    /// `match.key_regex`.
    Regex(Spanned<String>),
}

impl Spec for KeySpec {
    fn key(&self) -> &'static str {
        match self {
            KeySpec::Exact(_) => "key",
            KeySpec::Prefix(_) => "key_prefix",
            KeySpec::Regex(_) => "key_regex",
        }
    }
}

/// One matcher of `match.*` (`match.key` and its kin are modifiers of `match.event`, not
/// matchers).
#[derive(Debug)]
pub enum MatchSpec {
    /// `match.exact`.
    Exact(Spanned<Strings>),
    /// `match.prefix`.
    Prefix(Spanned<Strings>),
    /// `match.contains`.
    Contains(Spanned<Strings>),
    /// `match.regex`.
    Regex(Spanned<Strings>),
    /// `match.event`.
    Event(Spanned<String>),
    /// `match.scene`.
    Scene(Spanned<String>),
    /// `match.scene_prefix`.
    ScenePrefix(Spanned<String>),
    /// `match.scene_regex`.
    SceneRegex(Spanned<String>),
    /// `match.msg_type`.
    MsgType(Spanned<String>),
}

impl Spec for MatchSpec {
    fn key(&self) -> &'static str {
        match self {
            MatchSpec::Exact(_) => "exact",
            MatchSpec::Prefix(_) => "prefix",
            MatchSpec::Contains(_) => "contains",
            MatchSpec::Regex(_) => "regex",
            MatchSpec::Event(_) => "event",
            MatchSpec::Scene(_) => "scene",
            MatchSpec::ScenePrefix(_) => "scene_prefix",
            MatchSpec::SceneRegex(_) => "scene_regex",
            MatchSpec::MsgType(_) => "msg_type",
        }
    }
}

impl RawMatch {
    /// Every matcher written, in key order, and every key modifier.
    pub fn specs(self) -> (Specs<MatchSpec>, Specs<KeySpec>) {
        let RawMatch {
            exact,
            prefix,
            contains,
            regex,
            event,
            key,
            key_prefix,
            key_regex,
            scene,
            scene_prefix,
            scene_regex,
            msg_type,
        } = self;
        let mut out = Vec::new();
        push(&mut out, exact, MatchSpec::Exact);
        push(&mut out, prefix, MatchSpec::Prefix);
        push(&mut out, contains, MatchSpec::Contains);
        push(&mut out, regex, MatchSpec::Regex);
        push(&mut out, event, MatchSpec::Event);
        push(&mut out, scene, MatchSpec::Scene);
        push(&mut out, scene_prefix, MatchSpec::ScenePrefix);
        push(&mut out, scene_regex, MatchSpec::SceneRegex);
        push(&mut out, msg_type, MatchSpec::MsgType);
        let mut keys = Vec::new();
        push(&mut keys, key, KeySpec::Exact);
        push(&mut keys, key_prefix, KeySpec::Prefix);
        push(&mut keys, key_regex, KeySpec::Regex);
        (out, keys)
    }
}

/// `reply.*`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReply {
    pub text: Option<Spanned<String>>,
    pub image: Option<Spanned<RawMedia>>,
    pub voice: Option<Spanned<RawMedia>>,
    pub video: Option<Spanned<RawVideo>>,
    pub music: Option<Spanned<RawMusic>>,
    pub news: Option<Spanned<Vec<Spanned<RawArticle>>>>,
    pub transfer: Option<Spanned<RawTransfer>>,
    pub ai: Option<Spanned<RawAi>>,
    pub none: Option<Spanned<bool>>,
    pub random: Option<Spanned<Vec<Spanned<RawReply>>>>,
    pub all: Option<Spanned<Vec<Spanned<RawReply>>>>,
    pub upstream: Option<Spanned<String>>,
}

/// One reply of `reply.*`.
#[derive(Debug)]
pub enum ReplySpec {
    /// `reply.text`.
    Text(Spanned<String>),
    /// `reply.image`.
    Image(Spanned<RawMedia>),
    /// `reply.voice`.
    Voice(Spanned<RawMedia>),
    /// `reply.video`.
    Video(Spanned<RawVideo>),
    /// `reply.music`.
    Music(Spanned<RawMusic>),
    /// `reply.news`.
    News(Spanned<Vec<Spanned<RawArticle>>>),
    /// `reply.transfer`.
    Transfer(Spanned<RawTransfer>),
    /// `reply.ai`.
    Ai(Spanned<RawAi>),
    /// `reply.none`.
    None(Spanned<bool>),
    /// `reply.random`.
    Random(Spanned<Vec<Spanned<RawReply>>>),
    /// `reply.all`.
    All(Spanned<Vec<Spanned<RawReply>>>),
    /// `reply.upstream`.
    Upstream(Spanned<String>),
}

impl Spec for ReplySpec {
    fn key(&self) -> &'static str {
        match self {
            ReplySpec::Text(_) => "text",
            ReplySpec::Image(_) => "image",
            ReplySpec::Voice(_) => "voice",
            ReplySpec::Video(_) => "video",
            ReplySpec::Music(_) => "music",
            ReplySpec::News(_) => "news",
            ReplySpec::Transfer(_) => "transfer",
            ReplySpec::Ai(_) => "ai",
            ReplySpec::None(_) => "none",
            ReplySpec::Random(_) => "random",
            ReplySpec::All(_) => "all",
            ReplySpec::Upstream(_) => "upstream",
        }
    }
}

impl RawReply {
    /// Every reply written, in key order.
    pub fn specs(self) -> Specs<ReplySpec> {
        let RawReply {
            text,
            image,
            voice,
            video,
            music,
            news,
            transfer,
            ai,
            none,
            random,
            all,
            upstream,
        } = self;
        let mut out = Vec::new();
        push(&mut out, text, ReplySpec::Text);
        push(&mut out, image, ReplySpec::Image);
        push(&mut out, voice, ReplySpec::Voice);
        push(&mut out, video, ReplySpec::Video);
        push(&mut out, music, ReplySpec::Music);
        push(&mut out, news, ReplySpec::News);
        push(&mut out, transfer, ReplySpec::Transfer);
        push(&mut out, ai, ReplySpec::Ai);
        push(&mut out, none, ReplySpec::None);
        push(&mut out, random, ReplySpec::Random);
        push(&mut out, all, ReplySpec::All);
        push(&mut out, upstream, ReplySpec::Upstream);
        out
    }
}

/// `reply.image` and `reply.voice`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    pub media_id: Spanned<String>,
}

/// `reply.video`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVideo {
    pub media_id: Spanned<String>,
    pub title: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
}

/// `reply.music`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMusic {
    pub title: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub music_url: Option<Spanned<String>>,
    pub hq_music_url: Option<Spanned<String>>,
    pub thumb_media_id: Spanned<String>,
}

/// One item of `reply.news`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArticle {
    pub title: Spanned<String>,
    pub description: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub pic_url: Option<Spanned<String>>,
}

/// `reply.transfer`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransfer {
    pub kf_account: Option<Spanned<String>>,
    pub offline: Option<Box<Spanned<RawReply>>>,
}

/// `reply.ai`: an empty table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAi {}

/// One `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub send: Option<Spanned<String>>,
    pub event: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub msg_type: Option<Spanned<String>>,
    pub scene: Option<Spanned<String>>,
    pub at: Option<Spanned<Datetime>>,
    pub expect: Option<Spanned<String>>,
    pub reply_contains: Option<Spanned<String>>,
}

/// The message of a `[[test]]` (`key` is a modifier of `event`).
#[derive(Debug)]
pub enum InputSpec {
    /// `send`: a text message.
    Send(Spanned<String>),
    /// `event`.
    Event(Spanned<String>),
    /// `msg_type`.
    MsgType(Spanned<String>),
    /// `scene`: a follow by QR code.
    Scene(Spanned<String>),
}

impl Spec for InputSpec {
    fn key(&self) -> &'static str {
        match self {
            InputSpec::Send(_) => "send",
            InputSpec::Event(_) => "event",
            InputSpec::MsgType(_) => "msg_type",
            InputSpec::Scene(_) => "scene",
        }
    }
}

/// A `[[test]]` with its input typed.
#[derive(Debug)]
pub struct TestSpec {
    /// Every input written, in key order.
    pub inputs: Specs<InputSpec>,
    /// `key`.
    pub key: Option<Spanned<String>>,
    /// `at`.
    pub at: Option<Spanned<Datetime>>,
    /// `expect`.
    pub expect: Option<Spanned<String>>,
    /// `reply_contains`.
    pub reply_contains: Option<Spanned<String>>,
}

impl RawTest {
    /// The test with its inputs typed.
    pub fn spec(self) -> TestSpec {
        let RawTest {
            send,
            event,
            key,
            msg_type,
            scene,
            at,
            expect,
            reply_contains,
        } = self;
        let mut inputs = Vec::new();
        push(&mut inputs, send, InputSpec::Send);
        push(&mut inputs, event, InputSpec::Event);
        push(&mut inputs, msg_type, InputSpec::MsgType);
        push(&mut inputs, scene, InputSpec::Scene);
        TestSpec {
            inputs,
            key,
            at,
            expect,
            reply_contains,
        }
    }
}

/// A string or a list of strings (`match.exact = "a"` or `match.exact = ["a", "b"]`).
#[derive(Debug)]
pub enum Strings {
    /// A single string; its span is the enclosing `Spanned`'s.
    One(String),
    /// A list, each item with its own span.
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringsVisitor;

        impl<'de> Visitor<'de> for StringsVisitor {
            type Value = Strings;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings::One(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Strings, E> {
                Ok(Strings::One(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    items.push(item);
                }
                Ok(Strings::Many(items))
            }
        }

        deserializer.deserialize_any(StringsVisitor)
    }
}
