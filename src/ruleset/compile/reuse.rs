//! Taking the bodies of unchanged entries from the set a reload replaces.
//!
//! A reload builds the new set beside the one serving, which answers until the swap. Built from
//! scratch, a catalogue of 100,000 rules was then held twice (and the reload's transient parse
//! on top): after an edit of one reply, a peak of 2.7 times the resident set. Most entries of
//! such a reload are byte for byte the ones the served set was compiled from, and compiling is
//! a pure function of an entry's text and the config's declarations, for the entries that
//! depend on nothing else. So each such rule's body keeps the digest of its entry's text, and a
//! reload of a file cut into pieces (pieces.rs) looks each entry's digest up here before
//! parsing it: a hit is the old body, shared ([`Rule`](crate::ruleset::Rule) keeps its
//! positions counted from the entry's header, so the entry may have moved), and only the
//! entries around it are parsed.
//!
//! Which bodies qualify is decided where a rule is compiled (`Compiler::rule`): no diagnostic
//! (every load reports its warnings again), no time conditions (a schedule is resolved across
//! files), no regex (regexes share one compile budget). What a shared body still needs from
//! the whole set (its id not used twice) is checked again as for any rule; a test holds a load
//! that takes bodies to the same set, rule for rule and diagnostic for diagnostic, as a load
//! from scratch.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use super::Declared;
use crate::ruleset::{EntryDigest, RuleBody, RuleSet};

/// The bodies a load may take, by their entry's digest: the served set's rules by number (the
/// digest is the body's own; a map keyed by a copy took 3.3 MB per 100,000 rules).
pub(super) struct Reuse<'a> {
    previous: &'a RuleSet,
    hasher: foldhash::fast::RandomState,
    rules: HashTable<u32>,
}

impl<'a> Reuse<'a> {
    /// The bodies of `previous` that a load against `declared` may take; `None` when there
    /// are none (the declarations changed, or no body qualifies).
    pub(super) fn of(previous: &'a RuleSet, declared: &Declared) -> Option<Reuse<'a>> {
        if previous.declared() != declared {
            return None;
        }
        let hasher = foldhash::fast::RandomState::default();
        let digest = |i: u32| previous.rule(i).digest;
        let mut rules = HashTable::new();
        for (i, rule) in (0u32..).zip(previous.rules()) {
            if let Some(d) = rule.digest {
                rules.insert_unique(hasher.hash_one(d), i, |&i| {
                    hasher.hash_one(digest(i).expect("only rules with a digest are in the table"))
                });
            }
        }
        (!rules.is_empty()).then_some(Reuse {
            previous,
            hasher,
            rules,
        })
    }

    /// The body compiled from an entry of this digest.
    pub(super) fn get(&self, digest: &EntryDigest) -> Option<&'a Arc<RuleBody>> {
        let previous = self.previous;
        self.rules
            .find(self.hasher.hash_one(digest), |&i| {
                previous.rule(i).digest.as_ref() == Some(digest)
            })
            .map(|&i| previous.rule(i).body())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::super::{Compiled, compile_in_pieces, sources_from};
    use super::*;
    use crate::ruleset::Fingerprint;

    /// A rule file of `n` entries of every sort a catalogue mixes: rules that qualify, rules
    /// that do not (a regex, a warning, a schedule), an event rule, tests.
    fn catalogue(n: usize) -> String {
        let mut text = String::from(
            "# a catalogue\n[[schedule]]\nname = \"office\"\ntimezone = \"Asia/Shanghai\"\nweekly = [\"mon-fri 09:00-18:00\"]\n\n",
        );
        for i in 0..n {
            let _ = match i % 8 {
                0 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\nmatch.exact = \"k{i}\"\nreply.text = \"t{i}\"\n\n"
                ),
                1 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\npriority = 2\n# a comment\n[rule.match]\nprefix = [\"p{i}\", \"q{i}\"]\n[rule.reply]\ntext = \"\"\"\nline\n{i}\"\"\"\n\n"
                ),
                2 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\ncase_sensitive = true\nmatch.contains = \"C{i}\"\nreply.news = [{{ title = \"n{i}\", url = \"https://example.com/{i}\" }}]\n"
                ),
                3 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\nmatch.regex = '^g{i}-(\\d+)$'\nreply.text = \"${{1}}\"\n\n"
                ),
                4 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\nenabled = false\nmatch.exact = \"d{i}\"\nreply.text = \"off\"\n\n"
                ),
                5 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\nmatch.event = \"CLICK\"\nmatch.key = \"K{i}\"\nreply.image.media_id = \"m{i}\"\n\n"
                ),
                6 => write!(
                    text,
                    "[[rule]]\nid = \"r{i}\"\nduring = \"office\"\nmatch.exact = \"o{i}\"\nreply.text = \"open\"\n\n"
                ),
                _ => write!(
                    text,
                    "[[test]]\nsend = \"k{}\"\nexpect = \"r{}\"\n\n",
                    i - 7,
                    i - 7
                ),
            };
        }
        text
    }

    /// Compiles `text` as `r.toml` cut at every entry, taking bodies from `previous`.
    fn compile(text: &str, previous: Option<&RuleSet>) -> Compiled {
        let sources = sources_from(&[("r.toml", text)]);
        let none = Declared::default();
        compile_in_pieces(
            &sources,
            &none,
            Fingerprint::of(&sources, &none),
            1,
            previous,
        )
    }

    /// Everything a load reports and keeps, but the index (whose maps list keys in a random
    /// order, and which is built from the rules).
    fn outcome(c: &Compiled) -> String {
        let set = c.set.as_ref().map(|s| {
            format!(
                "{:?} {:?} {:?} {:?}",
                s.rules(),
                s.tests(),
                s.schedules(),
                s.files()
            )
        });
        format!("{set:?} {:?} {:?} {}", c.diagnostics, c.files, c.complete)
    }

    /// How many rules of `new` share their body with a rule of `old`.
    fn shared(old: &Compiled, new: &Compiled) -> usize {
        let old = old.set.as_ref().unwrap();
        new.set
            .as_ref()
            .unwrap()
            .rules()
            .iter()
            .filter(|r| old.rules().iter().any(|o| Arc::ptr_eq(o.body(), r.body())))
            .count()
    }

    #[test]
    fn a_load_that_takes_bodies_is_the_load_from_scratch_and_shares_the_unchanged_ones() {
        let base = catalogue(64);
        let before = compile(&base, None);
        assert!(before.complete, "{:?}", before.diagnostics);
        // Rules that qualify: the exact, prefix, contains and event rules (4 of every 8
        // entries); not the regex, the disabled one (a warning) or the scheduled one.
        let qualifying = 4 * 8;
        let edits: Vec<(&str, String, usize)> = vec![
            ("the same text", base.clone(), qualifying),
            (
                "a reply in the middle made longer by lines",
                base.replace("reply.text = \"t16\"", "reply.text = \"\"\"\nt16\nlonger\n\"\"\""),
                qualifying - 1,
            ),
            (
                "a rule added first",
                base.replacen(
                    "[[schedule]]",
                    "[[rule]]\nid = \"new\"\nmatch.exact = \"new\"\nreply.text = \"n\"\n\n[[schedule]]",
                    1,
                ),
                qualifying,
            ),
            (
                "an entry deleted",
                base.replace("[[rule]]\nid = \"r8\"\nmatch.exact = \"k8\"\nreply.text = \"t8\"\n\n", "")
                    .replace("[[test]]\nsend = \"k8\"\nexpect = \"r8\"\n\n", ""),
                qualifying - 1,
            ),
            (
                // The unchanged rule `r40` now has the id a rule before it took: reported at
                // its id, as a compile from scratch reports it, and left out.
                "an id taken by a new rule before an unchanged one",
                base.replacen(
                    "[[schedule]]",
                    "[[rule]]\nid = \"r40\"\nmatch.exact = \"x\"\nreply.text = \"x\"\n\n[[schedule]]",
                    1,
                ),
                qualifying - 1,
            ),
            (
                "an unchanged rule's keyword taken again",
                format!("{base}[[rule]]\nid = \"again\"\nmatch.exact = \"k24\"\nreply.text = \"again\"\n"),
                qualifying,
            ),
            (
                "a comment after an entry, which is part of its text",
                base.replace("reply.text = \"t32\"\n", "reply.text = \"t32\"\n# reviewed\n"),
                qualifying - 1,
            ),
        ];
        for (what, text, expected) in edits {
            let fresh = compile(&text, None);
            let reusing = compile(&text, before.set.as_ref());
            assert_eq!(outcome(&reusing), outcome(&fresh), "{what}");
            assert!(!fresh.diagnostics.is_empty() || fresh.complete, "{what}");
            assert_eq!(shared(&before, &reusing), expected, "{what}");
            assert_eq!((reusing.taken, fresh.taken), (expected, 0), "{what}");
        }
    }

    #[test]
    fn other_declarations_take_nothing() {
        let base = catalogue(16);
        let before = compile(&base, None);
        let sources = sources_from(&[("r.toml", base.as_str())]);
        let declared = Declared {
            upstreams: vec!["crm".into()],
            api: false,
        };
        let after = compile_in_pieces(
            &sources,
            &declared,
            Fingerprint::of(&sources, &declared),
            1,
            before.set.as_ref(),
        );
        assert_eq!(shared(&before, &after), 0);
        assert!(Reuse::of(before.set.as_ref().unwrap(), &declared).is_none());
    }

    #[test]
    fn the_index_is_shared_while_no_matcher_changes() {
        let base = catalogue(32);
        let before = compile(&base, None);
        let shares = |text: &str| {
            let after = compile(text, before.set.as_ref());
            let (old, new) = (before.set.as_ref().unwrap(), after.set.as_ref().unwrap());
            std::ptr::eq(old.index(), new.index())
        };
        assert!(shares(
            &base.replace("reply.text = \"t8\"", "reply.text = \"t8, edited\"")
        ));
        assert!(shares(&format!(
            "{base}[[test]]\nsend = \"k8\"\nexpect = \"r8\"\n"
        )));
        for (what, text) in [
            (
                "a keyword",
                base.replace("match.exact = \"k8\"", "match.exact = \"k8x\""),
            ),
            (
                "a priority",
                base.replace("id = \"r8\"\n", "id = \"r8\"\npriority = 3\n"),
            ),
            (
                "the case",
                base.replace("id = \"r8\"\n", "id = \"r8\"\ncase_sensitive = true\n"),
            ),
            (
                "enabled",
                base.replace("id = \"r8\"\n", "id = \"r8\"\nenabled = false\n"),
            ),
            ("a pattern", base.replace("'^g3-", "'^h3-")),
            (
                "an event key",
                base.replace("match.key = \"K5\"", "match.key = \"K6\""),
            ),
            (
                "the kind",
                base.replace("match.exact = \"k8\"", "match.prefix = \"k8\""),
            ),
            (
                "a rule added",
                format!("{base}[[rule]]\nid = \"z\"\nmatch.exact = \"z\"\nreply.text = \"z\"\n"),
            ),
        ] {
            assert!(!shares(&text), "{what}");
        }
    }
}
