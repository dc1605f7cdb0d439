//! The one check for a table that must name exactly one kind: a rule's `match` and `reply`,
//! a test's message.

use std::ops::Range;

use crate::diag::{Code, Diagnostic, FileId};
use crate::ruleset::raw::{Spec, Specs};

/// How to report a table that must name exactly one kind (`match`, `reply`, a test's input).
pub(super) struct OneOf {
    /// Code and message when it names none.
    pub(super) none: (Code, &'static str),
    /// Code when it names several.
    pub(super) several: Code,
    /// How a key is written in messages: `match.` for `match.exact`, empty for a test's `send`.
    pub(super) prefix: &'static str,
    /// What the message says has several (`rule`, `test`).
    pub(super) owner: &'static str,
    /// Help for none.
    pub(super) help_none: &'static str,
    /// Help for several.
    pub(super) help_several: &'static str,
}

/// The one spec of a table. When it names none: `None` and a diagnostic. When it names
/// several: the first (so that its own mistakes are still checked in the same run) and a
/// diagnostic pointing at the second, with the first as related; the caller refuses the rule.
pub(super) fn exactly_one<T: Spec>(
    file: FileId,
    rule: &OneOf,
    table_span: Range<usize>,
    specs: Specs<T>,
) -> (Option<T>, Option<Diagnostic>) {
    let (spec, d) = exactly_one_spanned(file, rule, table_span, specs);
    (spec.map(|(s, _)| s), d)
}

/// [`exactly_one`], with the span of the spec's value.
pub(super) fn exactly_one_spanned<T: Spec>(
    file: FileId,
    rule: &OneOf,
    table_span: Range<usize>,
    specs: Specs<T>,
) -> (Option<(T, Range<usize>)>, Option<Diagnostic>) {
    let mut specs = specs.into_iter();
    let Some((first, first_span)) = specs.next() else {
        let d =
            Diagnostic::new(rule.none.0, file, table_span, rule.none.1).with_help(rule.help_none);
        return (None, Some(d));
    };
    let Some((second, second_span)) = specs.next() else {
        return (Some((first, first_span)), None);
    };
    let p = rule.prefix;
    let name = |key: &str| {
        if p.is_empty() {
            format!("`{key}`")
        } else {
            format!("{p}{key}")
        }
    };
    let (a, b) = (name(first.key()), name(second.key()));
    let d = Diagnostic::new(
        rule.several,
        file,
        second_span,
        format!("{} has both {a} and {b}", rule.owner),
    )
    .with_help(rule.help_several)
    .with_related(file, first_span.clone(), format!("{a} is here"));
    (Some((first, first_span)), Some(d))
}
