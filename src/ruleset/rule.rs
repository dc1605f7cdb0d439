//! One compiled rule: a shared [`RuleBody`] (what it is) and where a load found it ([`Rule`]),
//! the positions a body keeps ([`EntrySpan`]), and the digest of an entry's text that lets a
//! reload take a body instead of compiling it again ([`EntryDigest`]).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::{Matcher, Origin, RuleReply, When};
use crate::diag::{FileId, Location};

/// One compiled rule: what it is ([`RuleBody`], shared) and where this load found it.
///
/// The body is shared between rule sets: a reload after an edit compiles only the entries whose
/// text changed and takes the others' bodies from the set it replaces (`compile::reuse`), so a
/// catalogue is not held twice while the new set is built beside the one serving. Everything a
/// body keeps about positions is therefore counted from its entry's header ([`EntrySpan`]);
/// [`Rule::at`] places it in the file.
#[derive(Debug)]
pub struct Rule {
    body: Arc<RuleBody>,
    /// The file's path, shared by every rule of the file.
    path: Arc<Path>,
    file: FileId,
    /// 1-based line of the header.
    line: u32,
    /// Where the header starts in the file. (`u32`s: a rule is kept per entry and per loaded
    /// set, two sets during a reload; the loader reads no file of 4 GiB or more.)
    header: u32,
}

impl std::ops::Deref for Rule {
    type Target = RuleBody;

    fn deref(&self) -> &RuleBody {
        &self.body
    }
}

impl Rule {
    /// A rule of `body`, written at `origin` (whose span is the entry's header).
    pub(crate) fn new(body: Arc<RuleBody>, origin: Origin) -> Rule {
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Rule {
            body,
            path: origin.path,
            file: origin.location.file,
            line: narrow(origin.line),
            header: narrow(origin.location.span.start),
        }
    }

    /// Where it was written.
    pub fn origin(&self) -> Origin {
        Origin {
            path: self.path.clone(),
            line: self.line as usize,
            location: self.location(),
        }
    }

    /// Where its entry's header is.
    pub fn location(&self) -> Location {
        self.at(EntrySpan {
            start: 0,
            end: self.header_end,
        })
    }

    /// The shared body, for a later set to take.
    pub(crate) fn body(&self) -> &Arc<RuleBody> {
        &self.body
    }

    /// The body, while the compiler still owns it alone (`None` once shared).
    pub(crate) fn body_mut(&mut self) -> Option<&mut RuleBody> {
        Arc::get_mut(&mut self.body)
    }

    /// Where `span` (a keyword's, a pattern's, `until`'s) is in the rule's file.
    pub fn at(&self, span: EntrySpan) -> Location {
        Location {
            file: self.file,
            span: span.placed_at(self.header as usize),
        }
    }
}

/// A byte span within a rule's entry, counted from the start of its `[[rule]]` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntrySpan {
    start: u32,
    end: u32,
}

impl EntrySpan {
    /// The span in the file, for an entry whose header starts at `base`.
    pub(crate) fn placed_at(self, base: usize) -> Range<usize> {
        base + self.start as usize..base + self.end as usize
    }

    /// Where it ends, counted from the header.
    pub(crate) fn end(self) -> u32 {
        self.end
    }

    /// `span` (in the file) counted from `base`, the entry's header. An entry does not reach
    /// 4 GiB; an offset past that is kept at the end of the range a `u32` can hold.
    pub(crate) fn within(base: usize, span: &Range<usize>) -> EntrySpan {
        let offset = |at: usize| u32::try_from(at.saturating_sub(base)).unwrap_or(u32::MAX);
        EntrySpan {
            start: offset(span.start),
            end: offset(span.end),
        }
    }
}

/// What a rule is, apart from where it was written: shared by the rule sets whose files hold
/// the same entry.
#[derive(Debug)]
pub struct RuleBody {
    /// Unique id (`[A-Za-z0-9_.-]+`); shared by every answer that names it.
    pub id: Arc<str>,
    /// `name`: a label for people (the console's rule name, for example); `try` shows it.
    pub name: Option<Box<str>>,
    /// Higher wins; default 0.
    pub priority: i64,
    /// `false`: kept and checked, never matched.
    pub enabled: bool,
    /// Literal matchers compare case (regexes always do unless they say `(?i)`).
    pub case_sensitive: bool,
    /// `voice = true`: a text rule that also answers voice messages by their `Recognition`.
    pub voice: bool,
    /// What the rule answers.
    pub matcher: Matcher,
    /// How it answers.
    pub reply: RuleReply,
    /// When and how often it may answer; `None` (most rules of a catalogue) for always, which
    /// keeps a plain rule small.
    pub timing: Option<Box<Timing>>,
    /// Where the `id` value is, for a duplicate found in a later load.
    pub(crate) id_span: EntrySpan,
    /// Where the entry's header ends.
    pub(crate) header_end: u32,
    /// The digest of the entry's text, when a later load may take this body for an entry of
    /// the same text (`compile::reuse` says which).
    pub(crate) digest: Option<EntryDigest>,
}

/// The digest of an entry's text: its bytes from its header to the next entry's, SipHash-1-3
/// with a 128-bit output. The files are the operator's: what matters is that no edit goes
/// unnoticed by accident (two different entries alike have odds of 2^-128), not a forger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EntryDigest([u8; 16]);

impl EntryDigest {
    /// The digest of `text`.
    pub(crate) fn of(text: &str) -> EntryDigest {
        use siphasher::sip128::{Hasher128 as _, SipHasher13};
        use std::hash::Hasher as _;
        let mut h = SipHasher13::new();
        h.write(text.as_bytes());
        EntryDigest(h.finish128().as_u128().to_le_bytes())
    }
}

/// A rule's time conditions, kept only by the rules that have one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timing {
    /// A schedule (`during`, `outside`) and a campaign window (`from`, `until`).
    pub when: When,
    /// `cooldown`: after answering a follower, not a candidate for that follower for this long.
    pub cooldown: Option<std::time::Duration>,
    /// Where `until` was written, for the `expired` warning.
    pub until_span: Option<EntrySpan>,
}

/// The time conditions of a rule without any.
static ALWAYS: When = When {
    gate: None,
    from: None,
    until: None,
};

impl RuleBody {
    /// When it may answer (always, for a rule without time conditions).
    pub fn when(&self) -> &When {
        self.timing.as_ref().map_or(&ALWAYS, |t| &t.when)
    }

    /// Its `cooldown`, if any.
    pub fn cooldown(&self) -> Option<std::time::Duration> {
        self.timing.as_ref().and_then(|t| t.cooldown)
    }

    /// Whether the rule answers every message it matches, whatever the time, the follower or
    /// the match: no schedule, window or cooldown, and a reply that cannot render empty. Only
    /// such a rule can shadow another.
    pub fn unconditional(&self) -> bool {
        self.when().is_always() && self.cooldown().is_none() && !self.reply.can_render_empty()
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// A catalogue keeps one `Rule` and one `RuleBody` per entry: 100,000 of them are 22 MB at
    /// these sizes (37 MB before the rare parts were boxed). Grow them only knowingly.
    #[test]
    fn a_rule_stays_small() {
        let sizes = (std::mem::size_of::<Rule>(), std::mem::size_of::<RuleBody>());
        assert!(sizes.0 <= 40 && sizes.1 <= 176, "{sizes:?}");
        assert!(std::mem::size_of::<RuleReply>() <= 32);
        assert!(std::mem::size_of::<Matcher>() <= 56);
    }
}
