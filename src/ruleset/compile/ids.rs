//! The rule ids a load has seen, to report one written twice.
//!
//! A map from each id to where it was written took a 40-byte entry per rule (5.4 MB for a
//! catalogue of 100,000 rules, 8 MB while it grew) for the length of the compile. The id of a
//! rule that compiled is the rule's own, and so is where it is written: the table keeps only
//! the rule's number. Ids of entries that did not compile (still ids: a test may name such a
//! rule, and a later rule may not take it) are kept apart, with their place.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::diag::{FileId, Location};
use crate::ruleset::Rule;

#[derive(Default)]
pub(super) struct Ids {
    hasher: foldhash::fast::RandomState,
    /// Rules that compiled, by their number in the compiler's list.
    rules: HashTable<u32>,
    /// Ids of entries that did not compile, and where each is written.
    others: HashMap<Arc<str>, Location>,
}

impl Ids {
    /// Where `id` was first written, if it was.
    pub(super) fn first(&self, id: &str, rules: &[Rule]) -> Option<Location> {
        let hash = self.hasher.hash_one(id);
        if let Some(&i) = self.rules.find(hash, |&i| &*rules[i as usize].id == id) {
            let rule = &rules[i as usize];
            return Some(rule.at(rule.id_span));
        }
        self.others.get(id).cloned()
    }

    /// Records the id of `rules[index]`, just compiled (its id is not in the table).
    pub(super) fn add_rule(&mut self, index: usize, rules: &[Rule]) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&*rules[index].id);
        let index = u32::try_from(index).expect("fewer than 2^32 rules");
        self.rules
            .insert_unique(hash, index, |&i| hasher.hash_one(&*rules[i as usize].id));
    }

    /// Records the id of an entry that did not compile, written `at`.
    pub(super) fn add_other(&mut self, id: Arc<str>, at: Location) {
        self.others.insert(id, at);
    }

    /// Forgets what `file` added: the rules from `rules` on, and its other ids.
    pub(super) fn forget(&mut self, file: FileId, rules: usize) {
        self.rules.retain(|&mut i| (i as usize) < rules);
        self.others.retain(|_, at| at.file != file);
    }

    /// Every id seen, sorted (for `[[test]]`'s `expect`).
    pub(super) fn all<'a>(&'a self, rules: &'a [Rule]) -> Vec<&'a str> {
        let mut all: Vec<&str> = self
            .rules
            .iter()
            .map(|&i| &*rules[i as usize].id)
            .chain(self.others.keys().map(|id| &**id))
            .collect();
        all.sort_unstable();
        all
    }
}
