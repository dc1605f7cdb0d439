//! One entry of a rule file, read: its kind (by the top-level key it is under) and its raw,
//! deserialized form. Pure, so that a file's pieces can be read on another thread (pieces.rs)
//! while the compiler builds the rules of the piece before.

use std::ops::Range;

use serde::Deserialize;
use serde::de::IntoDeserializer;
use toml::Spanned;
use toml::de::DeValue;

use crate::ruleset::EntryDigest;
use crate::ruleset::raw::{RawRule, RawSchedule, RawTest};

/// The kinds of entry a rule file holds, by their top-level key: one list, one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    /// `[[rule]]`.
    Rule,
    /// `[[test]]`.
    Test,
    /// `[[schedule]]`.
    Schedule,
}

impl EntryKind {
    /// Every kind, with its key.
    pub const ALL: [(&'static str, EntryKind); 3] = [
        ("rule", EntryKind::Rule),
        ("test", EntryKind::Test),
        ("schedule", EntryKind::Schedule),
    ];

    /// The kind a top-level key holds.
    pub fn of(key: &str) -> Option<EntryKind> {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
    }
}

/// An entry, deserialized.
pub(super) enum RawEntry {
    Rule(Box<RawRule>),
    Test(Box<RawTest>),
    Schedule(RawSchedule),
}

/// An entry serde could not read, and the rule's id when it has one (tests that name a broken
/// rule must not also report "no rule has the id").
pub(super) struct Malformed {
    pub error: toml::de::Error,
    pub id: Option<Spanned<String>>,
}

/// An entry as read: its kind, where its header is, and what it holds.
pub(super) struct Read {
    pub kind: EntryKind,
    pub header: Range<usize>,
    pub raw: Result<RawEntry, Malformed>,
    /// The digest of the entry's text, when it was cut out of its file (pieces.rs).
    pub digest: Option<EntryDigest>,
}

/// Deserializes one entry of `kind`.
pub(super) fn read(kind: EntryKind, elem: Spanned<DeValue<'_>>) -> Read {
    let header = elem.span();
    let malformed = |error, id| Malformed { error, id };
    let raw = match kind {
        EntryKind::Rule => {
            // Borrowed from the file unless it has escapes: no copy per rule.
            let id = elem.get_ref().get("id").and_then(|id| match id.get_ref() {
                DeValue::String(text) => Some((id.span(), text.clone())),
                _ => None,
            });
            RawRule::deserialize(elem.into_deserializer())
                .map(|r| RawEntry::Rule(Box::new(r)))
                .map_err(|e| {
                    let id = id.map(|(span, text)| Spanned::new(span, text.into_owned()));
                    malformed(e, id)
                })
        }
        EntryKind::Test => RawTest::deserialize(elem.into_deserializer())
            .map(|t| RawEntry::Test(Box::new(t)))
            .map_err(|e| malformed(e, None)),
        EntryKind::Schedule => RawSchedule::deserialize(elem.into_deserializer())
            .map(RawEntry::Schedule)
            .map_err(|e| malformed(e, None)),
    };
    Read {
        kind,
        header,
        raw,
        digest: None,
    }
}
