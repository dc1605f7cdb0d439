//! One `[[rule]]` entry, read, compiled into a rule: its id (well-formed, not taken), its
//! matcher, reply and time conditions, and whether a later load may take its body (reuse.rs).

use std::sync::Arc;

use toml::Spanned;

use super::{Compiler, Entry, matchers, replies, when};
use crate::diag::{Code, Diagnostic, Location};
use crate::ruleset::raw::RawRule;
use crate::ruleset::{EntryDigest, Matcher, RESERVED_IDS, Rule, RuleBody};

impl Compiler {
    /// Compiles a rule entry; `digest` is its text's, when the entry was cut out of its file
    /// (pieces.rs), for a later load to take the body if the text is the same.
    pub(super) fn rule(&mut self, entry: &Entry<'_>, raw: RawRule, digest: Option<EntryDigest>) {
        let diags_before = self.diags.len();
        let RawRule {
            id,
            priority,
            matcher,
            reply,
            enabled,
            case_sensitive,
            during,
            outside,
            from,
            until,
            cooldown,
            voice,
            name,
        } = raw;
        let timing = when::timing(
            entry,
            when::TimeKeys {
                during,
                outside,
                from,
                until,
                cooldown,
            },
            &mut self.diags,
        );
        let id_at = id.as_ref().map(Spanned::span);
        let id = self.rule_id(entry, id.as_ref());
        let priority = priority.as_ref().map_or(0, |p| *p.get_ref());
        let is_enabled = enabled.as_ref().is_none_or(|e| *e.get_ref());
        if let Some(e) = enabled.as_ref().filter(|e| !*e.get_ref()) {
            self.push(
                entry
                    .diag(
                        Code::DisabledRule,
                        e.span(),
                        format!(
                            "rule `{}` is disabled: it is checked but never answers",
                            id.as_deref().unwrap_or("?")
                        ),
                    )
                    .with_help("delete `enabled = false` to let it answer, or delete the rule"),
            );
        }
        let matcher = matchers::build(
            entry,
            matcher,
            case_sensitive.as_ref(),
            &mut self.regex_budget,
            &mut self.diags,
        );
        let mut refs = Vec::new();
        let reply = replies::build(entry, reply, matcher.as_ref(), &mut refs, &mut self.diags);
        if let Some(m) = &matcher {
            matchers::check_group_refs(entry, m, &refs, &mut self.diags);
        }
        let voice = self.voice(entry, voice, matcher.as_ref());
        let (Some(id), Some(id_at)) = (id, id_at) else {
            return;
        };
        if let (Some(matcher), Some(reply), Some(timing)) = (matcher, reply, timing) {
            let kept = timing.kept();
            if let Some((name, open, span)) = timing.gate {
                self.pending_gates.push(when::PendingGate {
                    rule: self.rules.len(),
                    name,
                    open,
                    at: Location {
                        file: entry.file,
                        span,
                    },
                });
            }
            // A later load may take this body for the same text only if nothing about it
            // depends on more than the entry and the declarations: no diagnostic (each is
            // reported again by every load), no time conditions (a schedule is resolved across
            // files), no regex (the regexes share one compile budget).
            let digest = digest.filter(|_| {
                self.diags.len() == diags_before
                    && kept.is_none()
                    && matcher.capture_patterns().is_empty()
            });
            let body = RuleBody {
                id: id.clone(),
                name: name.map(|n| n.into_inner().into_boxed_str()),
                priority,
                enabled: is_enabled,
                case_sensitive: case_sensitive.is_some_and(Spanned::into_inner),
                matcher,
                reply,
                voice,
                timing: kept,
                id_span: entry.within(&id_at),
                header_end: entry.within(&entry.header).end(),
                digest,
            };
            self.rules.push(Rule::new(Arc::new(body), entry.origin()));
            self.ids.add_rule(self.rules.len() - 1, &self.rules);
        } else {
            let at = Location {
                file: entry.file,
                span: id_at,
            };
            self.ids.add_other(id, at);
        }
    }

    /// `voice = true` applies to text keyword rules; elsewhere it is reported and ignored.
    fn voice(
        &mut self,
        entry: &Entry<'_>,
        voice: Option<Spanned<bool>>,
        matcher: Option<&Matcher>,
    ) -> bool {
        let Some(v) = voice else { return false };
        let text = matches!(
            matcher,
            Some(Matcher::Exact(_) | Matcher::Prefix(_) | Matcher::Contains(_) | Matcher::Regex(_))
        );
        if !text && matcher.is_some() {
            self.push(
                entry
                    .diag(
                        Code::IneffectiveKey,
                        v.span(),
                        "voice has no effect here: it lets a text rule (exact, prefix, contains, regex) answer voice messages by their Recognition",
                    )
                    .with_help("delete it; `match.msg_type = \"voice\"` answers every voice message"),
            );
            return false;
        }
        *v.get_ref()
    }

    /// Checks an id; `None` (and a diagnostic) when it is missing, malformed, reserved or
    /// already used. The caller records it ([`ids::Ids`]) once it knows whether the rule
    /// compiled.
    pub(super) fn rule_id(
        &mut self,
        entry: &Entry<'_>,
        id: Option<&Spanned<String>>,
    ) -> Option<Arc<str>> {
        let Some(id) = id else {
            self.push(
                entry
                    .diag(Code::MissingId, entry.header.clone(), "rule has no `id`")
                    .with_help("add `id = \"…\"`: letters, digits, `_`, `.` and `-`, unique across all rule files"),
            );
            return None;
        };
        let (value, span) = (id.get_ref(), id.span());
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            self.push(
                entry
                    .diag(Code::InvalidId, span, format!("invalid rule id {value:?}"))
                    .with_help(
                        "an id is letters, digits, `_`, `.` and `-` (for example `flow-promo`)",
                    ),
            );
            return None;
        }
        if RESERVED_IDS.contains(&value.as_str()) {
            self.push(
                entry
                    .diag(Code::InvalidId, span, format!("the id `{value}` is reserved"))
                    .with_help("`transfer` and `none` name the fall-through answers in [[test]] entries; pick another id"),
            );
            return None;
        }
        let here = Location {
            file: entry.file,
            span,
        };
        (!self.used_before(value, here)).then(|| Arc::from(value.as_str()))
    }

    /// Whether a well-formed id written `here` was used before (and then a diagnostic).
    pub(super) fn used_before(&mut self, id: &str, here: Location) -> bool {
        if let Some(first) = self.ids.first(id, &self.rules) {
            let d = Diagnostic::new(
                Code::DuplicateId,
                here.file,
                here.span,
                format!("the id `{id}` is already used"),
            )
            .with_help("rule ids must be unique across all rule files; rename one of them")
            .with_related_at(first, "first used here");
            self.push(d);
            return true;
        }
        false
    }
}
