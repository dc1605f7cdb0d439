//! Checks across every file: the same exact keyword in two rules at one priority.
//! (Duplicate ids are caught as each id is read, in `mod.rs`.)

use std::borrow::Cow;
use std::collections::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::ruleset::normalize::fold;
use crate::ruleset::{Matcher, Rule};

/// A keyword of a rule: (rule index, keyword index). (u32: one entry per keyword of a
/// catalogue; the index hands out rule numbers as u32 too.)
type At = (u32, u32);

/// The first two keywords seen of two different rules: enough to find, for any later keyword,
/// an earlier one of another rule, in constant time.
#[derive(Default)]
struct FirstTwo([Option<At>; 2]);

impl FirstTwo {
    fn add(&mut self, at: At) {
        match self.0 {
            [None, _] => self.0[0] = Some(at),
            [Some(a), None] if a.0 != at.0 => self.0[1] = Some(at),
            _ => {}
        }
    }

    fn other_than(&self, rule: u32) -> Option<At> {
        self.0.iter().flatten().copied().find(|a| a.0 != rule)
    }
}

/// Who holds a folded keyword at one priority.
#[derive(Default)]
struct Owners {
    /// Every rule.
    any: FirstTwo,
    /// Case-insensitive rules: they overlap with every holder.
    insensitive: FirstTwo,
    /// Case-sensitive rules, by their exact (normalised) keyword: they overlap only with the
    /// same spelling, or with an insensitive rule. (Boxed: most keywords have none.)
    #[expect(
        clippy::box_collection,
        reason = "an empty HashMap is 48 bytes in every entry; a None box is 8"
    )]
    sensitive: Option<Box<HashMap<String, FirstTwo>>>,
}

/// Reports every exact keyword that an earlier rule at the same priority also has, where the
/// two overlap (unless both are case-sensitive and differ in case). Linear in the number of
/// keywords.
pub(super) fn check_duplicate_keywords(rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    let exact = |rule: &Rule| match &rule.matcher {
        Matcher::Exact(keywords) if rule.enabled => keywords.len(),
        _ => 0,
    };
    // Sized once (a catalogue has one entry per keyword), keyed by the folded keyword borrowed
    // from the rule unless folding changed it.
    let mut seen: HashMap<(i64, Cow<'_, str>), Owners> =
        HashMap::with_capacity(rules.iter().map(exact).sum());
    for (r, rule) in (0u32..).zip(rules) {
        let Matcher::Exact(keywords) = &rule.matcher else {
            continue;
        };
        if !rule.enabled {
            continue;
        }
        for (k, kw) in (0u32..).zip(keywords) {
            let owners = seen
                .entry((rule.priority, fold(&kw.normalized)))
                .or_default();
            let clash = if rule.case_sensitive {
                let same = owners
                    .sensitive
                    .as_ref()
                    .and_then(|s| s.get(&kw.normalized))
                    .and_then(|s| s.other_than(r));
                [owners.insensitive.other_than(r), same]
                    .into_iter()
                    .flatten()
                    .min()
            } else {
                owners.any.other_than(r)
            };
            // Two rules that can never be candidates at the same instant (one during and one
            // outside a schedule, disjoint campaigns) may share a keyword.
            let clash = clash.filter(|c| !rule.when().excludes(rules[c.0 as usize].when()));
            diags.extend(clash.and_then(|c| duplicate(rules, (r, k), c)));
            owners.any.add((r, k));
            if rule.case_sensitive {
                owners
                    .sensitive
                    .get_or_insert_default()
                    .entry(kw.normalized.clone())
                    .or_default()
                    .add((r, k));
            } else {
                owners.insensitive.add((r, k));
            }
        }
    }
}

/// The report of keyword `k` of rule `r` clashing with keyword `ek` of rule `er`; `None` if
/// either is not an exact keyword (only those are recorded).
fn duplicate(rules: &[Rule], (r, k): At, (er, ek): At) -> Option<Diagnostic> {
    let (rule, other) = (&rules[r as usize], &rules[er as usize]);
    fn keyword(rule: &Rule, k: u32) -> Option<&crate::ruleset::Keyword> {
        match &rule.matcher {
            Matcher::Exact(kws) => kws.get(k as usize),
            _ => None,
        }
    }
    let (kw, okw) = (keyword(rule, k)?, keyword(other, ek)?);
    let d = Diagnostic::new(
        Code::DuplicateKeyword,
        rule.origin.location.file,
        kw.span.clone(),
        format!(
            "the exact keyword {:?} of rule `{}` is also a keyword of rule `{}` at the same priority ({})",
            kw.text, rule.id, other.id, rule.priority
        ),
    )
    .with_help("remove it from one rule, or give one rule a higher priority to say which answers")
    .with_related(
        other.origin.location.file,
        okw.span.clone(),
        format!("rule `{}` has it here", other.id),
    );
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::{compile, sources_from};

    #[test]
    fn rules_that_never_answer_together_may_share_a_keyword() {
        let text = "[[schedule]]\nname = \"o\"\nweekly = [\"mon-fri 09:00-18:00\"]\n\
            [[rule]]\nid = \"a\"\nmatch.exact = \"k\"\nduring = \"o\"\nreply.text = \"y\"\n\
            [[rule]]\nid = \"b\"\nmatch.exact = \"k\"\noutside = \"o\"\nreply.text = \"z\"\n\
            [[rule]]\nid = \"c\"\nmatch.exact = \"m\"\nuntil = 2026-11-11T00:00:00+08:00\nreply.text = \"y\"\n\
            [[rule]]\nid = \"d\"\nmatch.exact = \"m\"\nfrom = 2026-11-11T00:00:00+08:00\nreply.text = \"z\"\n\
            [[rule]]\nid = \"e\"\nmatch.exact = \"m\"\nreply.text = \"w\"\n";
        let compiled = compile(&sources_from(&[("r.toml", text)]));
        let dups: Vec<&str> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::DuplicateKeyword)
            .map(|d| d.message.as_str())
            .collect();
        // Only `e`, which answers at any time, clashes (with `c`, the first holder of "m").
        assert_eq!(dups.len(), 1, "{dups:?}");
        assert!(dups[0].contains("rule `e`"), "{dups:?}");
    }

    #[test]
    fn a_keyword_repeated_among_many_is_reported_once() {
        // One rule with many keywords and a second rule repeating the last: one report.
        let many: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\"")).collect();
        let text = format!(
            "[[rule]]\nid = \"a\"\nmatch.exact = [{}]\nreply.text = \"y\"\n\
             [[rule]]\nid = \"b\"\nmatch.exact = \"k49999\"\nreply.text = \"z\"\n",
            many.join(", ")
        );
        let compiled = compile(&sources_from(&[("r.toml", text.as_str())]));
        let dups: Vec<_> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::DuplicateKeyword)
            .collect();
        assert_eq!(dups.len(), 1, "{dups:?}");
        assert!(dups[0].message.contains("rule `b`") && dups[0].message.contains("rule `a`"));
    }
}
