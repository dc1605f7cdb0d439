//! Checks across every file: the same exact keyword in two rules at one priority.
//! (Duplicate ids are caught as each id is read, in `mod.rs`.)

use std::borrow::Cow;
use std::collections::HashMap;

use crate::diag::{Code, Diagnostic};
use crate::ruleset::normalize::fold;
use crate::ruleset::{Keyword, Matcher, Rule};

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

/// Who holds a folded keyword at one priority, so far.
#[derive(Default)]
struct Owners {
    /// Every rule.
    any: FirstTwo,
    /// Case-insensitive rules: they overlap with every holder.
    insensitive: FirstTwo,
    /// Case-sensitive rules, by their exact (normalised) keyword: they overlap only with the
    /// same spelling, or with an insensitive rule.
    sensitive: Option<HashMap<String, FirstTwo>>,
}

/// Reports every exact keyword that an earlier rule at the same priority also has, where the
/// two overlap (unless both are case-sensitive and differ in case).
///
/// The keywords are sorted by priority and folded keyword, so that each group of equal ones is
/// looked at alone, in rule order: a list of two numbers per keyword instead of a map entry per
/// keyword (a map keyed by the keyword took 11.7 MB for a catalogue of 100,000 rules, for the
/// length of every load). `O(n log n)` in the number of keywords.
pub(super) fn check_duplicate_keywords(rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    fn keywords(rule: &Rule) -> &[Keyword] {
        match &rule.matcher {
            Matcher::Exact(keywords) if rule.enabled => keywords,
            _ => &[],
        }
    }
    let keyword = |(r, k): At| &keywords(&rules[r as usize])[k as usize];
    let mut all: Vec<At> = (0u32..)
        .zip(rules)
        .flat_map(|(r, rule)| (0u32..).zip(keywords(rule)).map(move |(k, _)| (r, k)))
        .collect();
    // A case-insensitive rule's keyword is folded already; a case-sensitive one's is folded
    // here, kept only where folding changes it.
    let folds: HashMap<At, String> = all
        .iter()
        .filter(|&&(r, _)| rules[r as usize].case_sensitive)
        .filter_map(|&at| match fold(&keyword(at).normalized) {
            Cow::Owned(f) => Some((at, f)),
            Cow::Borrowed(_) => None,
        })
        .collect();
    let folded = |at: At| {
        folds
            .get(&at)
            .map_or(keyword(at).normalized.as_str(), String::as_str)
    };
    let group = |at: At| (rules[at.0 as usize].priority, folded(at));
    all.sort_unstable_by(|&a, &b| group(a).cmp(&group(b)).then(a.cmp(&b)));
    for same in all.chunk_by(|&a, &b| group(a) == group(b)) {
        if same.len() > 1 {
            check_group(rules, same, diags);
        }
    }
}

/// Reports the clashes among keywords of one priority and one folded form, in rule order.
fn check_group(rules: &[Rule], same: &[At], diags: &mut Vec<Diagnostic>) {
    let mut owners = Owners::default();
    for &at in same {
        diags.extend(owners.take(rules, at));
    }
}

impl Owners {
    /// Records keyword `k` of rule `r` (an exact keyword of this group's, after every earlier
    /// one), and reports it if an earlier rule already has it.
    fn take(&mut self, rules: &[Rule], (r, k): At) -> Option<Diagnostic> {
        let rule = &rules[r as usize];
        let Matcher::Exact(keywords) = &rule.matcher else {
            return None;
        };
        let kw = &keywords[k as usize];
        let clash = if rule.case_sensitive {
            let same = self
                .sensitive
                .as_ref()
                .and_then(|s| s.get(&kw.normalized))
                .and_then(|s| s.other_than(r));
            [self.insensitive.other_than(r), same]
                .into_iter()
                .flatten()
                .min()
        } else {
            self.any.other_than(r)
        };
        self.any.add((r, k));
        if rule.case_sensitive {
            self.sensitive
                .get_or_insert_default()
                .entry(kw.normalized.clone())
                .or_default()
                .add((r, k));
        } else {
            self.insensitive.add((r, k));
        }
        // Two rules that can never be candidates at the same instant (one during and one
        // outside a schedule, disjoint campaigns) may share a keyword.
        let clash = clash.filter(|c| !rule.when().excludes(rules[c.0 as usize].when()))?;
        duplicate(rules, (r, k), clash)
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
    let d = Diagnostic::at(
        Code::DuplicateKeyword,
        rule.at(kw.span),
        format!(
            "the exact keyword {:?} of rule `{}` is also a keyword of rule `{}` at the same priority ({})",
            kw.text, rule.id, other.id, rule.priority
        ),
    )
    .with_help("remove it from one rule, or give one rule a higher priority to say which answers")
    .with_related_at(other.at(okw.span), format!("rule `{}` has it here", other.id));
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

    /// The check as it was, one map entry per keyword, in rule order: the oracle for the
    /// grouping by sorting.
    fn by_map(rules: &[Rule]) -> Vec<Diagnostic> {
        let mut seen: HashMap<(i64, String), Owners> = HashMap::new();
        let mut diags = Vec::new();
        for (r, rule) in (0u32..).zip(rules) {
            let Matcher::Exact(keywords) = &rule.matcher else {
                continue;
            };
            if !rule.enabled {
                continue;
            }
            for (k, kw) in (0u32..).zip(keywords) {
                let key = (rule.priority, fold(&kw.normalized).into_owned());
                diags.extend(seen.entry(key).or_default().take(rules, (r, k)));
            }
        }
        diags
    }

    #[test]
    fn sorting_the_keywords_reports_what_a_map_of_them_did() {
        // Rules of two priorities, case-sensitive or not, some disabled, listing one to three
        // of a few spellings of the same words: many clashes of every kind.
        let spellings = ["hi", "HI", "Hi", "ｈｉ", "yo", "YO", "no"];
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut text = String::new();
        for r in 0..300 {
            let words: Vec<String> = (0..=next(3))
                .map(|_| format!("{:?}", spellings[next(7) as usize]))
                .collect();
            text.push_str(&format!(
                "[[rule]]\nid = \"r{r}\"\npriority = {}\ncase_sensitive = {}\nenabled = {}\nmatch.exact = [{}]\nreply.text = \"x\"\n",
                next(2),
                next(2) == 0,
                next(5) != 0,
                words.join(", ")
            ));
        }
        let set = compile(&sources_from(&[("r.toml", text.as_str())]))
            .set
            .unwrap();
        let mut sorted = Vec::new();
        check_duplicate_keywords(set.rules(), &mut sorted);
        let key = |d: &Diagnostic| d.location.as_ref().map(|l| l.span.start);
        sorted.sort_by_key(key);
        let mut mapped = by_map(set.rules());
        mapped.sort_by_key(key);
        assert!(mapped.len() > 100, "{}", mapped.len());
        assert_eq!(format!("{sorted:?}"), format!("{mapped:?}"));
    }
}
