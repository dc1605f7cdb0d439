//! The lookup over event keys (and QR-code scenes): exact keys in a hash map, prefixes in a
//! hash map by length (as text prefixes are), and the few key regexes in a list.
//!
//! One [`KeyIndex`] per event name, and one for scenes; the engine asks it for the rules whose
//! key comparison holds for a message's key. Exact and prefix lookups cost the same whatever
//! the number of rules.

use foldhash::HashMap;

use super::KeyMatch;

/// How a key rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHow {
    /// The key equals the rule's.
    Exact,
    /// The key starts with the rule's prefix.
    Prefix,
    /// The rule has a key regex: the engine runs it (for its captures).
    Regex,
    /// The rule compares no key.
    Any,
}

/// A rule a key lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHit {
    /// Index of the rule in the set.
    pub rule: u32,
    /// How it matched.
    pub how: KeyHow,
    /// Characters of the matched key or prefix (0 for a regex or no key).
    pub chars: u32,
}

/// Key rules of one event name, or the scene rules.
#[derive(Debug, Default)]
pub struct KeyIndex {
    exact: HashMap<Box<str>, Vec<u32>>,
    prefix: HashMap<Box<str>, Vec<u32>>,
    /// Distinct byte lengths of the prefixes, ascending.
    prefix_lengths: Vec<usize>,
    regex: Vec<u32>,
    any: Vec<u32>,
}

impl KeyIndex {
    /// Adds rule `r`, comparing keys as `key` says.
    pub(super) fn add(&mut self, r: u32, key: &KeyMatch) {
        match key {
            KeyMatch::Any => self.any.push(r),
            KeyMatch::Exact(k) => self.exact.entry(k.as_str().into()).or_default().push(r),
            KeyMatch::Prefix(p) => {
                self.prefix.entry(p.as_str().into()).or_default().push(r);
                if let Err(i) = self.prefix_lengths.binary_search(&p.len()) {
                    self.prefix_lengths.insert(i, p.len());
                }
            }
            KeyMatch::Regex(_) => self.regex.push(r),
        }
    }

    /// Every rule whose comparison may hold for `key` (regex rules unchecked: see
    /// [`KeyHow::Regex`]).
    pub fn lookup(&self, key: Option<&str>, found: &mut impl FnMut(KeyHit)) {
        if let Some(k) = key {
            let chars = |s: &str| s.chars().count() as u32;
            if let Some(hits) = self.exact.get(k) {
                for &rule in hits {
                    found(KeyHit {
                        rule,
                        how: KeyHow::Exact,
                        chars: chars(k),
                    });
                }
            }
            for &len in self.prefix_lengths.iter().take_while(|&&l| l <= k.len()) {
                if let Some((head, hits)) = k
                    .get(..len)
                    .and_then(|h| self.prefix.get(h).map(|x| (h, x)))
                {
                    for &rule in hits {
                        found(KeyHit {
                            rule,
                            how: KeyHow::Prefix,
                            chars: chars(head),
                        });
                    }
                }
            }
            for &rule in &self.regex {
                found(KeyHit {
                    rule,
                    how: KeyHow::Regex,
                    chars: 0,
                });
            }
        }
        for &rule in &self.any {
            found(KeyHit {
                rule,
                how: KeyHow::Any,
                chars: 0,
            });
        }
    }
}
