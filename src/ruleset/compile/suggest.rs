//! "Did you mean": the closest known name to a misspelt one, and the help for serde's errors.
//!
//! An unknown key is only ever compared with the keys allowed where it was written: serde's
//! own error lists them ("unknown field `txt`, expected one of `exact`, `prefix`, …"), so a
//! misspelt `match.txt` never suggests `reply.text`.

pub(super) use crate::diag::did_you_mean;

use super::Entry;
use crate::diag::{Code, Diagnostic};

/// Help for an unknown top-level key of a rule file.
pub(super) fn top_level(name: &str) -> String {
    let kinds = super::entries::EntryKind::ALL.map(|(key, _)| key);
    match did_you_mean(name, &kinds) {
        Some(s) => format!("did you mean `[[{s}]]`?"),
        None => "a rule file holds only [[rule]] and [[test]] entries".to_owned(),
    }
}

/// A diagnostic for an entry serde could not read (unknown key, missing key, wrong type).
pub(super) fn serde_error(entry: &Entry<'_>, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or_else(|| entry.header.clone());
    let message = e.message().trim().to_owned();
    let help = if let Some(unknown) = backticked_after(&message, "unknown field `") {
        let allowed = expected_fields(&message);
        match did_you_mean(unknown, &allowed) {
            Some(s) => format!("did you mean `{s}`?"),
            None if allowed.is_empty() => {
                "see the rule-file reference in README.md for the keys allowed here".to_owned()
            }
            None => format!("the keys allowed here are {}", quoted(&allowed)),
        }
    } else if let Some(missing) = backticked_after(&message, "missing field `") {
        format!("add `{missing} = \"…\"`")
    } else {
        "see the rule-file reference in README.md".to_owned()
    };
    Diagnostic::new(Code::InvalidKey, entry.file, span, message).with_help(help)
}

/// The keys serde says are allowed: the backticked names after "expected" in its message.
fn expected_fields(message: &str) -> Vec<&str> {
    let Some(at) = message.find(", expected ") else {
        return Vec::new();
    };
    message[at..].split('`').skip(1).step_by(2).collect()
}

fn quoted(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    q.join(", ")
}

/// The text between `prefix` and the next backtick.
fn backticked_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.split('`').next()
}

/// The useful line of a regex error (the crate's message spans several lines with a caret).
pub(super) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or("").trim().to_owned(),
            str::to_owned,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_keys_are_read_from_serdes_message() {
        let m = "unknown field `txt`, expected one of `exact`, `prefix`, `msg_type`";
        assert_eq!(expected_fields(m), ["exact", "prefix", "msg_type"]);
        assert_eq!(
            expected_fields("unknown field `x`, expected `media_id`"),
            ["media_id"]
        );
        assert!(expected_fields("unknown field `x`, there are no fields").is_empty());
    }
}
