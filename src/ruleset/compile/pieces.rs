//! Cutting a large rule file into pieces that parse on their own.
//!
//! `toml` builds a file's whole document before one entry can be read: for a catalogue of
//! 100,000 rules that is about 3 KB per rule, over 300 MB alive at once, for a set that keeps a
//! fraction of it. Large files are almost always a plain run of `[[rule]]` (and `[[test]]`,
//! `[[schedule]]`) entries, and such a file is the same document as its entries parsed a few
//! hundred kilobytes at a time, one piece after another: each entry is a table of its own, and
//! the pieces' arrays, joined in order, are the file's.
//!
//! [`split`] finds the entries' headers with `toml`'s own lexer (so a `[[rule]]` line inside a
//! multi-line string is not one) and says where to cut. Anything it does not recognise as such
//! a run — a key before the first header, a `[table]` of another name, a quoted header key, a
//! sub-table of an entry that is not the last one opened — and any file of one piece returns
//! `None`: the file is parsed whole, exactly as before. The compiler also goes back to the whole
//! file when a piece does not parse or has a malformed entry, so every message about a broken
//! file is the one the whole document gives.
//!
//! The readers also take each entry's digest (its text from its header to the next), which a
//! rule's body keeps; in a reload, an entry whose digest the served set knows is not parsed at
//! all: its rule is the served one's (reuse.rs).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml_parser::Source;
use toml_parser::lexer::TokenKind;

use super::entries::{self, EntryKind};
use super::reuse::Reuse;
use super::{Compiler, matchers};
use crate::diag::{FileId, Location, SourceFile};
use crate::ruleset::{EntryDigest, FileSummary, Origin, Rule, RuleBody};

/// Where a file is cut: about this many bytes of TOML per piece (a piece's document is then a
/// few megabytes at most).
pub(super) const PIECE_BYTES: usize = 64 * 1024;

/// A file cut into pieces.
#[derive(Debug)]
pub(super) struct Pieces {
    /// Contiguous byte ranges covering the whole file, each starting at an entry's header
    /// (the first at 0).
    pub ranges: Vec<Range<usize>>,
    /// How many `[[rule]]` entries the file has (to size the rule list once).
    pub rules: usize,
    /// Where each entry's header starts, in order: an entry's text runs to the next one's
    /// (or the file's end), and its digest is of that text (reuse.rs).
    pub entries: Vec<usize>,
}

/// Where to cut `text` into pieces of at least `piece_bytes` (the last may be shorter), or
/// `None` when the file is one piece or is not a plain run of entries.
pub(super) fn split(text: &str, piece_bytes: usize) -> Option<Pieces> {
    if text.len() <= piece_bytes {
        return None;
    }
    let source = Source::new(text);
    let mut tokens = source.lex().peekable();
    // Brackets and braces open inside a value: a `[` there is an array, not a header.
    let mut depth = 0usize;
    // Only whitespace so far on this line, outside any value.
    let mut line_start = true;
    // The entry kind the last `[[…]]` header opened: its sub-tables may follow.
    let mut current: Option<EntryKind> = None;
    let mut ranges = Vec::new();
    let mut piece_start = 0;
    let mut rules = 0;
    let mut entries = Vec::new();
    while let Some(token) = tokens.next() {
        match token.kind() {
            TokenKind::Whitespace | TokenKind::Comment => {}
            TokenKind::Newline => line_start |= depth == 0,
            TokenKind::LeftSquareBracket if depth == 0 && line_start => {
                let start = token.span().start();
                let array = tokens
                    .next_if(|t| {
                        t.kind() == TokenKind::LeftSquareBracket && t.span().start() == start + 1
                    })
                    .is_some();
                // The key, up to the closing bracket: bare keys, dots and whitespace only.
                let key_start = tokens.peek()?.span().start();
                let key_end = loop {
                    let t = tokens.next()?;
                    match t.kind() {
                        TokenKind::Atom | TokenKind::Dot | TokenKind::Whitespace => {}
                        TokenKind::RightSquareBracket => break t.span().start(),
                        _ => return None,
                    }
                };
                if array {
                    let close = tokens.next()?;
                    if close.kind() != TokenKind::RightSquareBracket
                        || close.span().start() != key_end + 1
                    {
                        return None;
                    }
                }
                let mut parts = text[key_start..key_end].split('.').map(str::trim);
                let first = parts.next()?;
                let nested = parts.next().is_some();
                // Only an entry kind's `[[…]]` header starts a piece.
                match EntryKind::of(first) {
                    Some(kind) if array && !nested => {
                        if current.is_some() && start - piece_start >= piece_bytes {
                            ranges.push(piece_start..start);
                            piece_start = start;
                        }
                        rules += usize::from(kind == EntryKind::Rule);
                        entries.push(start);
                        current = Some(kind);
                    }
                    // A sub-table of the entry just opened: it stays in that entry's piece.
                    Some(kind) if nested && current == Some(kind) => {}
                    _ => return None,
                }
                line_start = false;
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                depth += 1;
                line_start = false;
            }
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.saturating_sub(1);
                line_start = false;
            }
            TokenKind::Eof => break,
            _ => {
                // A key before the first header belongs to the file's top-level table, which
                // the pieces would not share.
                current?;
                line_start = false;
            }
        }
    }
    if ranges.is_empty() {
        return None;
    }
    ranges.push(piece_start..text.len());
    Some(Pieces {
        ranges,
        rules,
        entries,
    })
}

impl Compiler {
    /// Reads a file's pieces in order; `false` when one does not parse on its own, holds
    /// anything but entries, or has a malformed entry (the caller then undoes what the others
    /// added).
    ///
    /// Reader threads, one per core, parse and deserialize the pieces (most of the work of a
    /// load), taking turns, while this one compiles them in the file's order. Each reader has
    /// at most one piece waiting, so the memory stays a few pieces' worth whatever the file's
    /// size.
    pub(super) fn pieces(
        &mut self,
        file: FileId,
        src: &SourceFile,
        path: &Arc<Path>,
        pieces: &Pieces,
        reuse: Option<&Reuse<'_>>,
        summary: &mut FileSummary,
    ) -> bool {
        let text = src.text();
        let ranges = &pieces.ranges;
        let entries = &pieces.entries;
        let readers = crate::ruleset::load_threads();
        std::thread::scope(|scope| {
            let mut turns = Vec::with_capacity(readers);
            for reader in 0..readers {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let spawned = std::thread::Builder::new()
                    .name("replyd-rules".into())
                    .spawn_scoped(scope, move || {
                        for range in ranges.iter().skip(reader).step_by(readers) {
                            let piece = read_piece(text, range, entries, reuse);
                            let failed = piece.is_none();
                            // Sending fails once the compiler has stopped listening.
                            if tx.send(piece).is_err() || failed {
                                break;
                            }
                        }
                    });
                // No thread to be had: the file is read whole, on this one.
                if spawned.is_err() {
                    return false;
                }
                turns.push(rx);
            }
            for turn in turns.iter().cycle().take(ranges.len()) {
                let Ok(Some(items)) = turn.recv() else {
                    return false;
                };
                for item in items {
                    match item {
                        Item::Read(read) => self.entry(file, src, path, read, summary),
                        Item::Reused { header, body } => {
                            self.reused(file, src, path, header, body, summary);
                        }
                    }
                }
            }
            true
        })
    }

    /// How far the compiler has got, to undo a file read in pieces.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            diags: self.diags.len(),
            rules: self.rules.len(),
            raw_tests: self.raw_tests.len(),
            gates: self.pending_gates.len(),
            schedules: self.schedules.list.len(),
            regex_budget: self.regex_budget.clone(),
            taken: self.taken,
        }
    }

    /// Forgets everything `file` added since `mark`.
    pub(super) fn rollback(&mut self, file: FileId, mark: Mark) {
        self.diags.truncate(mark.diags);
        self.rules.truncate(mark.rules);
        self.raw_tests.truncate(mark.raw_tests);
        self.pending_gates.truncate(mark.gates);
        self.schedules.forget(file, mark.schedules);
        self.regex_budget = mark.regex_budget;
        self.ids.forget(file, mark.rules);
        self.taken = mark.taken;
    }
}

/// The compiler's lengths before a file, to undo it ([`Compiler::rollback`]).
pub(super) struct Mark {
    diags: usize,
    rules: usize,
    raw_tests: usize,
    gates: usize,
    schedules: usize,
    regex_budget: matchers::RegexBudget,
    taken: usize,
}

/// An entry of a piece: read, or taken from the set a reload replaces.
enum Item<'r> {
    Read(entries::Read),
    /// A rule whose entry's header starts at `header`, compiled earlier from the same text.
    Reused {
        header: usize,
        body: &'r Arc<RuleBody>,
    },
}

/// The entries of one piece, in the file's order: each `[[rule]]` whose text `reuse` knows is
/// taken from it, and the runs of entries between such rules are parsed and deserialized, with
/// the file's spans. `None` when a run does not parse on its own, holds anything but entries,
/// or has a malformed entry. `entries` is every entry's header start in the file.
fn read_piece<'r>(
    text: &str,
    range: &Range<usize>,
    entries: &[usize],
    reuse: Option<&Reuse<'r>>,
) -> Option<Vec<Item<'r>>> {
    let first = entries.partition_point(|&s| s < range.start);
    let last = entries.partition_point(|&s| s < range.end);
    let starts = &entries[first..last];
    let digests: Vec<EntryDigest> = (0..starts.len())
        .map(|i| EntryDigest::of(&text[starts[i]..starts.get(i + 1).map_or(range.end, |&e| e)]))
        .collect();
    let mut out = Vec::new();
    // Where the entries not yet read begin.
    let mut run = range.start;
    for (i, digest) in digests.iter().enumerate() {
        let Some(body) = reuse.and_then(|r| r.get(digest)) else {
            continue;
        };
        if run < starts[i] {
            read_run(text, run..starts[i], starts, &digests, &mut out)?;
        }
        out.push(Item::Reused {
            header: starts[i],
            body,
        });
        run = starts.get(i + 1).map_or(range.end, |&e| e);
    }
    if run < range.end {
        read_run(text, run..range.end, starts, &digests, &mut out)?;
    }
    Some(out)
}

/// Parses and deserializes the entries in `range` (whole entries of a piece whose headers
/// start at `starts`, with their `digests`) onto `out`; `None` as for [`read_piece`].
fn read_run(
    text: &str,
    range: Range<usize>,
    starts: &[usize],
    digests: &[EntryDigest],
    out: &mut Vec<Item<'_>>,
) -> Option<()> {
    let (table, errors) = DeTable::parse_recoverable(&text[range.clone()]);
    if !errors.is_empty() {
        return None;
    }
    for (key, value) in table.into_inner() {
        let kind = EntryKind::of(key.get_ref())?;
        let DeValue::Array(items) = value.into_inner() else {
            return None;
        };
        for mut elem in items {
            shift_values(&mut elem, range.start);
            let mut read = entries::read(kind, elem);
            if read.raw.is_err() {
                return None;
            }
            // The entry's text is the one its digest is of only if its header is where the
            // cut was made.
            read.digest = starts
                .binary_search(&read.header.start)
                .ok()
                .map(|i| digests[i]);
            out.push(Item::Read(read));
        }
    }
    Some(())
}

impl Compiler {
    /// Adds a rule compiled earlier from the same entry text, whose header now starts at
    /// `header`: as a fresh compile of the entry would, but without compiling it. Only its id
    /// needs the rest of the set (not used twice).
    fn reused(
        &mut self,
        file: FileId,
        src: &SourceFile,
        path: &Arc<Path>,
        header: usize,
        body: &Arc<RuleBody>,
        summary: &mut FileSummary,
    ) {
        summary.rules += 1;
        let span = header..header + body.header_end as usize;
        let origin = Origin {
            path: path.clone(),
            line: src.line_col(header).0,
            location: Location { file, span },
        };
        let rule = Rule::new(body.clone(), origin);
        if !self.used_before(&body.id, rule.at(body.id_span)) {
            self.taken += 1;
            self.rules.push(rule);
            self.ids.add_rule(self.rules.len() - 1, &self.rules);
        }
    }
}

/// Moves the spans of `value` and of every value in it `offset` bytes on, so that a piece's
/// spans become the file's. Keys keep theirs: moving them would rebuild every table, and only
/// serde's messages about a malformed entry use them (such a file is read whole instead).
pub(super) fn shift_values(value: &mut Spanned<DeValue<'_>>, offset: usize) {
    let span = value.span();
    let inner = std::mem::replace(value, Spanned::new(0..0, DeValue::Boolean(false))).into_inner();
    *value = Spanned::new(span.start + offset..span.end + offset, inner);
    match value.get_mut() {
        DeValue::Table(table) => {
            for (_, v) in table.iter_mut() {
                shift_values(v, offset);
            }
        }
        DeValue::Array(items) => {
            for v in items.iter_mut() {
                shift_values(v, offset);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cuts(text: &str, piece_bytes: usize) -> Option<Vec<&str>> {
        split(text, piece_bytes).map(|p| p.ranges.into_iter().map(|r| &text[r]).collect())
    }

    #[test]
    fn a_run_of_entries_is_cut_before_headers_into_pieces_of_at_least_the_size() {
        let text = "# catalogue\n[[rule]]\nid = \"a\"\n[rule.match]\nexact = \"a\"\n\n[[rule]]\nid = \"b\"\n[[test]]\nsend = \"b\"\n";
        assert_eq!(
            cuts(text, 1).unwrap(),
            [
                "# catalogue\n[[rule]]\nid = \"a\"\n[rule.match]\nexact = \"a\"\n\n",
                "[[rule]]\nid = \"b\"\n",
                "[[test]]\nsend = \"b\"\n",
            ]
        );
        assert_eq!(split(text, 1).unwrap().rules, 2);
        // Pieces of at least 40 bytes: the first two entries stay together.
        assert_eq!(cuts(text, 40).unwrap().len(), 2);
        // The file is one piece: nothing to cut.
        assert_eq!(cuts(text, text.len()), None);
    }

    #[test]
    fn a_header_inside_a_string_or_an_array_is_not_a_cut() {
        let text = "[[rule]]\nreply.text = '''\n[[rule]]\n'''\nmatch.exact = [\n[\"x\"]\n]\n[[rule]]\nid = \"c\"\n";
        let pieces = cuts(text, 1).unwrap();
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        assert!(pieces[1].starts_with("[[rule]]\nid = \"c\""));
    }

    #[test]
    fn anything_but_a_plain_run_of_entries_is_parsed_whole() {
        for text in [
            // A key before the first header.
            "title = \"x\"\n[[rule]]\nid = \"a\"\n[[rule]]\nid = \"b\"\n",
            // A table of another name, and a misspelt kind.
            "[[rule]]\nid = \"a\"\n[other]\nx = 1\n[[rule]]\nid = \"b\"\n",
            "[[rules]]\nid = \"a\"\n[[rules]]\nid = \"b\"\n",
            // A sub-table of an entry opened earlier than the last header.
            "[[rule]]\nid = \"a\"\n[[test]]\nsend = \"a\"\n[rule.reply]\ntext = \"x\"\n[[rule]]\nid = \"b\"\n",
            // A quoted key, and a plain table named like an entry kind.
            "[[\"rule\"]]\nid = \"a\"\n[[rule]]\nid = \"b\"\n",
            "[[rule]]\nid = \"a\"\n[rule]\nid = \"b\"\n",
        ] {
            assert_eq!(cuts(text, 1), None, "{text}");
        }
    }
}
