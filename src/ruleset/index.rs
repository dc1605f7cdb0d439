//! The lookup structures the engine queries, built once per rule set.
//!
//! Each literal matcher has two halves: one for case-sensitive rules, keyed by the normalised
//! keyword and searched with the normalised text, and one for the others, keyed by the folded
//! keyword and searched with the folded text. What a lookup costs depends on the message, never
//! on the number of rules:
//!
//! - `exact`: one hash lookup per half.
//! - `prefix`: one hash lookup per distinct keyword length that fits the text (a hashed trie
//!   walk: the text's first N bytes for each N a prefix keyword has).
//! - `contains`: one pass of an Aho-Corasick automaton over the text.
//! - `regex`: one pass of all regexes together (a regex set); the engine then runs only the
//!   regexes that matched, for their captures.
//! - events and message types: hash lookups.

use std::borrow::Cow;
// foldhash rather than SipHash: the keys are the rules' own (a client's text is only looked
// up, it cannot crowd a bucket), and these lookups are most of what a literal match costs.
use foldhash::HashMap;

use aho_corasick::AhoCorasick;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternSet, meta};

/// The compiled size all regexes of a set may reach together. Past it, loading fails with an
/// `invalid-regex` diagnostic instead of eating the machine's memory.
pub const REGEX_SET_SIZE_LIMIT: usize = 64 << 20;
/// The most memory the regex set's lazy DFA may cache per searching thread.
pub const REGEX_SET_DFA_LIMIT: usize = 64 << 20;

use super::key_index::KeyIndex;
use super::literal_map::LiteralMap;
use super::normalize::{fold, normalize};
use super::{KeyMatch, Matcher, Rule};
use std::sync::Arc;

/// A rule's keyword or pattern that matched: which rule, which of its items, and how long the
/// matched literal is (in characters; 0 for regexes until the engine measures the match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the rule in the set.
    pub rule: u32,
    /// Index of the keyword or pattern within the rule.
    pub item: u32,
    /// Characters of the matched literal.
    pub chars: u32,
}

/// A message's text in the two forms the matchers compare.
#[derive(Debug)]
pub struct Texts<'a> {
    /// NFKC and trimmed, case kept: for case-sensitive rules and regexes.
    pub normalized: Cow<'a, str>,
    /// `normalized` folded, when folding changes it.
    folded: Option<String>,
}

impl<'a> Texts<'a> {
    /// Normalises a message's text. Allocates only when normalising or folding changes it.
    pub fn new(text: &'a str) -> Self {
        let normalized = normalize(text);
        let folded = match fold(&normalized) {
            Cow::Borrowed(_) => None,
            Cow::Owned(f) => Some(f),
        };
        Texts { normalized, folded }
    }

    /// The folded text: for case-insensitive rules.
    pub fn folded(&self) -> &str {
        self.folded.as_deref().unwrap_or(&self.normalized)
    }
}

/// Lookup structures over the enabled rules of a set.
#[derive(Debug, Default)]
pub struct Index {
    exact: Halves<LiteralMap>,
    prefix: Halves<PrefixMap>,
    contains: Halves<Option<Automaton>>,
    regex: Option<RegexIndex>,
    events: HashMap<String, KeyIndex>,
    scenes: KeyIndex,
    msg_types: HashMap<String, Vec<u32>>,
    any_message: Vec<u32>,
}

#[derive(Debug, Default)]
struct Halves<T> {
    sensitive: T,
    insensitive: T,
}

impl<T> Halves<T> {
    fn get_mut(&mut self, case_sensitive: bool) -> &mut T {
        if case_sensitive {
            &mut self.sensitive
        } else {
            &mut self.insensitive
        }
    }
}

#[derive(Debug, Default)]
struct PrefixMap {
    map: LiteralMap,
    /// Distinct byte lengths of the keys, ascending.
    lengths: Vec<usize>,
}

#[derive(Debug)]
struct Automaton {
    searcher: AhoCorasick,
    /// Pattern id → the rules' keywords with that text.
    hits: Vec<Vec<Hit>>,
}

/// All regexes as one set: regex-automata's meta regex with every pattern, built as
/// `regex::RegexSet` builds it. Used directly rather than through `RegexSet` for one reason:
/// `RegexSet::matches` reports the matches as a flag per pattern and visiting them walks every
/// flag, which with 500 regexes was half the cost of a message a regex answers; here the walk
/// stops at the last match, since the set says how many there are.
#[derive(Debug)]
struct RegexIndex {
    set: meta::Regex,
    /// Set pattern index → (rule, pattern within the rule).
    owners: Vec<(u32, u32)>,
    /// The highest priority of any regex rule: a literal match at this priority or above
    /// cannot be beaten by a regex, so the set need not run.
    max_priority: i64,
}

/// Errors while building the index. Only a regex set too large for its size limit can fail.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The regex set does not compile (in practice: over the size limit).
    #[error("the regexes of the rule set do not compile together: {}", set_error(.0))]
    RegexSet(Box<meta::BuildError>),
    /// The Aho-Corasick automaton does not build.
    #[error("the contains keywords do not build an automaton: {0}")]
    Automaton(aho_corasick::BuildError),
}

// Not `#[from]`: that would make the cause the error's source too, and a report of the chain
// would say it twice.
impl From<aho_corasick::BuildError> for IndexError {
    fn from(e: aho_corasick::BuildError) -> IndexError {
        IndexError::Automaton(e)
    }
}

/// What went wrong building the regex set, in words: meta's own message is only "error
/// building NFA", its cause in the error's source.
fn set_error(e: &meta::BuildError) -> String {
    match (e.size_limit(), std::error::Error::source(e)) {
        (Some(limit), _) => format!(
            "compiled, they exceed the size limit of {} MiB",
            limit >> 20
        ),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

impl Index {
    /// Whether `rules` would be indexed as `before` was: as many rules, each alike in what
    /// [`Index::build`] reads (whether it is enabled, its case, its priority, its matcher),
    /// so that an index of one serves the other. A rule whose body `before` shares is alike
    /// without a look.
    pub fn alike(before: &[Rule], rules: &[Rule]) -> bool {
        before.len() == rules.len()
            && before.iter().zip(rules).all(|(a, b)| {
                Arc::ptr_eq(a.body(), b.body())
                    || (a.enabled == b.enabled
                        && a.case_sensitive == b.case_sensitive
                        && a.priority == b.priority
                        && matchers_alike(&a.matcher, &b.matcher))
            })
    }

    /// Builds the index over the enabled rules.
    ///
    /// # Errors
    ///
    /// When the regexes together exceed the regex set's size limit.
    pub fn build(rules: &[Rule]) -> Result<Index, IndexError> {
        let mut index = Index::default();
        // The literal maps sized once: grown by doubling, a map of 100,000 keys was briefly
        // there twice over (8 MB for 5.4), at the peak of a reload.
        let mut sizes: Halves<(usize, usize)> = Halves::default();
        for rule in rules.iter().filter(|r| r.enabled) {
            let size = sizes.get_mut(rule.case_sensitive);
            match &rule.matcher {
                Matcher::Exact(keywords) => size.0 += keywords.len(),
                Matcher::Prefix(keywords) => size.1 += keywords.len(),
                _ => {}
            }
        }
        for cs in [false, true] {
            let (exact, prefix) = *sizes.get_mut(cs);
            index.exact.get_mut(cs).reserve(exact, rules);
            index.prefix.get_mut(cs).map.reserve(prefix, rules);
        }
        let mut contains: Halves<HashMap<&str, Vec<Hit>>> = Halves::default();
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners = Vec::new();
        let mut max_regex_priority = i64::MIN;
        for (r, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let r = r as u32;
            let cs = rule.case_sensitive;
            match &rule.matcher {
                Matcher::Exact(keywords) | Matcher::Prefix(keywords) => {
                    let prefix = matches!(rule.matcher, Matcher::Prefix(_));
                    for (i, k) in keywords.iter().enumerate() {
                        let hit = Hit {
                            rule: r,
                            item: i as u32,
                            chars: k.normalized.chars().count() as u32,
                        };
                        let map = if prefix {
                            &mut index.prefix.get_mut(cs).map
                        } else {
                            index.exact.get_mut(cs)
                        };
                        map.add(&k.normalized, hit, rules);
                    }
                }
                Matcher::Contains(keywords) => {
                    for (i, k) in keywords.iter().enumerate() {
                        contains
                            .get_mut(cs)
                            .entry(k.normalized.as_str())
                            .or_default()
                            .push(Hit {
                                rule: r,
                                item: i as u32,
                                chars: k.normalized.chars().count() as u32,
                            });
                    }
                }
                Matcher::Regex(list) => {
                    max_regex_priority = max_regex_priority.max(rule.priority);
                    for (i, p) in list.iter().enumerate() {
                        patterns.push(p.regex.as_str());
                        owners.push((r, i as u32));
                    }
                }
                Matcher::Event { name, key } => index
                    .events
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .add(r, key),
                Matcher::Scene(key) => index.scenes.add(r, key),
                Matcher::AnyMessage => index.any_message.push(r),
                Matcher::MsgType(t) => index
                    .msg_types
                    .entry(t.to_ascii_lowercase())
                    .or_default()
                    .push(r),
            }
        }
        for half in [&mut index.prefix.sensitive, &mut index.prefix.insensitive] {
            half.lengths = half.map.keys(rules).map(str::len).collect();
            half.lengths.sort_unstable();
            half.lengths.dedup();
        }
        index.contains.sensitive = Automaton::build(std::mem::take(&mut contains.sensitive))?;
        index.contains.insensitive = Automaton::build(std::mem::take(&mut contains.insensitive))?;
        if !patterns.is_empty() {
            // The lazy DFA's cache must hold the states of a set of thousands of patterns, or
            // it gives up and every search falls back to the slow PikeVM (measured: 40 µs
            // instead of 0.1 µs per message with 5,000 regexes and the default 2 MB).
            let dfa_cache = (patterns.len() * 4096).clamp(2 << 20, REGEX_SET_DFA_LIMIT);
            let config = meta::Config::new()
                .match_kind(MatchKind::All)
                .utf8_empty(true)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                .nfa_size_limit(Some(REGEX_SET_SIZE_LIMIT))
                .hybrid_cache_capacity(dfa_cache);
            let set = meta::Builder::new()
                .configure(config)
                .syntax(syntax::Config::new().utf8(true))
                .build_many(&patterns)
                .map_err(|e| IndexError::RegexSet(Box::new(e)))?;
            index.regex = Some(RegexIndex {
                set,
                owners,
                max_priority: max_regex_priority,
            });
        }
        Ok(index)
    }

    /// Exact keywords equal to the text (`rules`: the set's, which the index was built over).
    pub fn exact(&self, rules: &[Rule], text: &Texts<'_>, found: &mut impl FnMut(Hit)) {
        for (map, t) in [
            (&self.exact.sensitive, text.normalized.as_ref()),
            (&self.exact.insensitive, text.folded()),
        ] {
            if let Some(hits) = map.get(t, rules) {
                hits.iter().copied().for_each(&mut *found);
            }
        }
    }

    /// Prefix keywords the text starts with (`rules` as for [`Index::exact`]).
    pub fn prefix(&self, rules: &[Rule], text: &Texts<'_>, found: &mut impl FnMut(Hit)) {
        for (half, t) in [
            (&self.prefix.sensitive, text.normalized.as_ref()),
            (&self.prefix.insensitive, text.folded()),
        ] {
            for &len in half.lengths.iter().take_while(|&&len| len <= t.len()) {
                if let Some(hits) = t.get(..len).and_then(|head| half.map.get(head, rules)) {
                    hits.iter().copied().for_each(&mut *found);
                }
            }
        }
    }

    /// Contains keywords found in the text (each keyword once).
    pub fn contains(&self, text: &Texts<'_>, found: &mut impl FnMut(Hit)) {
        for (automaton, t) in [
            (&self.contains.sensitive, text.normalized.as_ref()),
            (&self.contains.insensitive, text.folded()),
        ] {
            let Some(a) = automaton else { continue };
            // Allocates only when a keyword occurs in the text.
            let mut patterns: Vec<usize> = a
                .searcher
                .find_overlapping_iter(t)
                .map(|m| m.pattern().as_usize())
                .collect();
            patterns.sort_unstable();
            patterns.dedup();
            for p in patterns {
                a.hits[p].iter().copied().for_each(&mut *found);
            }
        }
    }

    /// The highest priority of a regex rule, if there is one.
    pub fn max_regex_priority(&self) -> Option<i64> {
        self.regex.as_ref().map(|r| r.max_priority)
    }

    /// The regexes that match the normalised text, as (rule, pattern within the rule), from one
    /// pass of the regex set.
    pub fn regex(&self, text: &Texts<'_>, found: &mut impl FnMut(u32, u32)) {
        let Some(ri) = &self.regex else { return };
        let mut matched = PatternSet::new(ri.set.pattern_len());
        ri.set
            .which_overlapping_matches(&Input::new(text.normalized.as_ref()), &mut matched);
        for pattern in matched.iter().take(matched.len()) {
            let (rule, item) = ri.owners[pattern.as_usize()];
            found(rule, item);
        }
    }

    /// The key rules of an event name (any ASCII case).
    pub fn event(&self, name: &str) -> Option<&KeyIndex> {
        self.events.get(lowercase(name).as_ref())
    }

    /// The scene rules.
    pub fn scenes(&self) -> &KeyIndex {
        &self.scenes
    }

    /// `msg_type` rules for a message type (any ASCII case).
    pub fn msg_type(&self, msg_type: &str) -> &[u32] {
        self.msg_types
            .get(lowercase(msg_type).as_ref())
            .map_or(&[][..], Vec::as_slice)
    }

    /// `msg_type = "*"` rules.
    pub fn any_message(&self) -> &[u32] {
        &self.any_message
    }
}

/// An event name or message type in ASCII lowercase, as the index keys them. Borrowed for
/// lowercase names (message types, `subscribe`) and for the uppercase event names WeChat sends,
/// so that looking one up allocates nothing.
fn lowercase(name: &str) -> Cow<'_, str> {
    const UPPERCASE_EVENTS: [&str; 6] = [
        "click",
        "view",
        "scan",
        "location",
        "masssendjobfinish",
        "templatesendjobfinish",
    ];
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Cow::Borrowed(name);
    }
    match UPPERCASE_EVENTS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(name))
    {
        Some(e) => Cow::Borrowed(e),
        None => Cow::Owned(name.to_ascii_lowercase()),
    }
}

impl Automaton {
    fn build(keywords: HashMap<&str, Vec<Hit>>) -> Result<Option<Automaton>, IndexError> {
        if keywords.is_empty() {
            return Ok(None);
        }
        let mut entries: Vec<(&str, Vec<Hit>)> = keywords.into_iter().collect();
        // Deterministic pattern ids, whatever the hash map's order.
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let searcher = AhoCorasick::new(entries.iter().map(|(k, _)| k))?;
        Ok(Some(Automaton {
            searcher,
            hits: entries.into_iter().map(|(_, h)| h).collect(),
        }))
    }
}

/// Whether two matchers match the same texts the same way (their keywords normalised alike,
/// their patterns written alike).
fn matchers_alike(a: &Matcher, b: &Matcher) -> bool {
    let keywords = |x: &[super::Keyword], y: &[super::Keyword]| {
        x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.normalized == y.normalized)
    };
    let patterns = |x: &[super::Pattern], y: &[super::Pattern]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(x, y)| x.regex.as_str() == y.regex.as_str())
    };
    match (a, b) {
        (Matcher::Exact(x), Matcher::Exact(y))
        | (Matcher::Prefix(x), Matcher::Prefix(y))
        | (Matcher::Contains(x), Matcher::Contains(y)) => keywords(x, y),
        (Matcher::Regex(x), Matcher::Regex(y)) => patterns(x, y),
        (Matcher::Event { name: n, key: k }, Matcher::Event { name: m, key: l }) => {
            n == m && keys_alike(k, l)
        }
        (Matcher::Scene(k), Matcher::Scene(l)) => keys_alike(k, l),
        (Matcher::MsgType(t), Matcher::MsgType(u)) => t == u,
        (Matcher::AnyMessage, Matcher::AnyMessage) => true,
        (
            Matcher::Exact(_)
            | Matcher::Prefix(_)
            | Matcher::Contains(_)
            | Matcher::Regex(_)
            | Matcher::Event { .. }
            | Matcher::Scene(_)
            | Matcher::MsgType(_)
            | Matcher::AnyMessage,
            _,
        ) => false,
    }
}

fn keys_alike(a: &KeyMatch, b: &KeyMatch) -> bool {
    match (a, b) {
        (KeyMatch::Any, KeyMatch::Any) => true,
        (KeyMatch::Exact(x), KeyMatch::Exact(y)) | (KeyMatch::Prefix(x), KeyMatch::Prefix(y)) => {
            x == y
        }
        (KeyMatch::Regex(x), KeyMatch::Regex(y)) => x.regex.as_str() == y.regex.as_str(),
        (KeyMatch::Any | KeyMatch::Exact(_) | KeyMatch::Prefix(_) | KeyMatch::Regex(_), _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set's own cap, a backstop behind the compiler's budget: over it, building the
    /// index is an error that says so, not an out-of-memory.
    #[test]
    fn a_regex_set_over_its_cap_is_an_error() {
        let patterns: Vec<String> = (0..20).map(|i| format!("a{i}\\w{{150}}")).collect();
        let built = meta::Builder::new()
            .configure(meta::Config::new().nfa_size_limit(Some(REGEX_SET_SIZE_LIMIT)))
            .build_many(&patterns);
        let e = IndexError::RegexSet(Box::new(built.unwrap_err()));
        assert!(
            e.to_string().contains("exceed the size limit of 64 MiB"),
            "{e}"
        );
    }
}
