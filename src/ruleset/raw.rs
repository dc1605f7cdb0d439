//! The serde mirror of a rule file, exactly as written, with spans.
//!
//! Each `[[rule]]` and `[[test]]` entry is deserialized on its own (see `compile.rs`), so a
//! mistake in one entry does not hide the mistakes in the others. `deny_unknown_fields`
//! everywhere: a misspelt key is an error, never silently ignored. Values the diagnostics point
//! at are wrapped in [`Spanned`].

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

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
    pub msg_type: Option<Spanned<String>>,
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
    pub none: Option<Spanned<bool>>,
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
}

/// One `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub send: Option<Spanned<String>>,
    pub event: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub msg_type: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
    pub reply_contains: Option<Spanned<String>>,
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
