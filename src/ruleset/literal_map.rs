//! The exact and prefix keywords of a rule set, each with the hits of the rules that list it,
//! keyed by the rules' own keywords.
//!
//! Keyed by copies, a catalogue's 100,000 keywords cost a `Box<str>` in each map entry and an
//! allocation apiece: 3.7 MB per set, held twice while a reload builds the next set beside the
//! one serving. The map holds only the hits; a hit names its rule and keyword, whose normalised
//! text is the key, so a lookup compares the text with the rule's own keyword.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::index::Hit;
use super::{Matcher, Rule};

/// Keywords → hits (module doc). Every method takes the rules the hits are numbered in.
#[derive(Debug, Default)]
pub(super) struct LiteralMap {
    hasher: foldhash::fast::RandomState,
    table: HashTable<Hits>,
}

/// The hits of one keyword: nearly always one, kept in place (a catalogue has a keyword per rule,
/// and a list of its own for each cost 100,000 allocations and 1.6 MB per 100,000 rules).
#[derive(Debug)]
enum Hits {
    One(Hit),
    Many(Vec<Hit>),
}

impl Hits {
    fn push(&mut self, hit: Hit) {
        match self {
            Hits::One(first) => *self = Hits::Many(vec![*first, hit]),
            Hits::Many(hits) => hits.push(hit),
        }
    }

    fn as_slice(&self) -> &[Hit] {
        match self {
            Hits::One(hit) => std::slice::from_ref(hit),
            Hits::Many(hits) => hits,
        }
    }

    /// The keyword the hits are of: the first hit's.
    fn key<'r>(&self, rules: &'r [Rule]) -> &'r str {
        let hit = match self {
            Hits::One(hit) => *hit,
            Hits::Many(hits) => hits[0],
        };
        match rules.get(hit.rule as usize).map(|r| &r.matcher) {
            Some(Matcher::Exact(k) | Matcher::Prefix(k)) => k
                .get(hit.item as usize)
                .map_or("", |k| k.normalized.as_str()),
            // Only literal rules' keywords are added; an empty key is never one (an empty
            // keyword does not compile), so nothing would be found under it.
            _ => "",
        }
    }
}

impl LiteralMap {
    /// Makes room for `additional` more keywords at once.
    pub(super) fn reserve(&mut self, additional: usize, rules: &[Rule]) {
        let hasher = &self.hasher;
        self.table
            .reserve(additional, |h| hasher.hash_one(h.key(rules)));
    }

    /// Adds `hit`, of keyword `key` (`rules[hit.rule]`'s keyword `hit.item`).
    pub(super) fn add(&mut self, key: &str, hit: Hit, rules: &[Rule]) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key);
        match self.table.find_mut(hash, |h| h.key(rules) == key) {
            Some(hits) => hits.push(hit),
            None => {
                self.table
                    .insert_unique(hash, Hits::One(hit), |h| hasher.hash_one(h.key(rules)));
            }
        }
    }

    /// The hits of keyword `key`, in the order added.
    pub(super) fn get(&self, key: &str, rules: &[Rule]) -> Option<&[Hit]> {
        self.table
            .find(self.hasher.hash_one(key), |h| h.key(rules) == key)
            .map(Hits::as_slice)
    }

    /// Every keyword.
    pub(super) fn keys<'r>(&'r self, rules: &'r [Rule]) -> impl Iterator<Item = &'r str> {
        self.table.iter().map(move |h| h.key(rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{compile, sources_from};

    /// A keyword's hits take no more room than the list they replaced, every hit under one key
    /// is found, in the order added, and the key is the rule's keyword.
    #[test]
    fn a_keyword_holds_one_hit_in_place_and_more_in_a_list() {
        assert!(std::mem::size_of::<Hits>() <= std::mem::size_of::<Vec<Hit>>());
        let text: String = ["ab", "cd", "ab", "AB"]
            .iter()
            .enumerate()
            .map(|(i, k)| {
                format!(
                    "[[rule]]\nid = \"r{i}\"\npriority = {i}\nmatch.exact = \"{k}\"\nreply.text = \"x\"\n"
                )
            })
            .collect();
        let set = compile(&sources_from(&[("r.toml", text.as_str())]))
            .set
            .unwrap();
        let rules = set.rules();
        let hit = |rule| Hit {
            rule,
            item: 0,
            chars: 2,
        };
        let mut map = LiteralMap::default();
        map.reserve(1, rules);
        map.add("ab", hit(0), rules);
        map.add("cd", hit(1), rules);
        assert_eq!(map.get("ab", rules), Some(&[hit(0)][..]));
        map.add("ab", hit(2), rules);
        map.add("ab", hit(3), rules);
        assert_eq!(map.get("ab", rules), Some(&[hit(0), hit(2), hit(3)][..]));
        assert_eq!(map.get("cd", rules), Some(&[hit(1)][..]));
        assert_eq!(map.get("ef", rules), None);
        let mut keys: Vec<&str> = map.keys(rules).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["ab", "cd"]);
    }
}
