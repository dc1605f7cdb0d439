//! The rule compiler: [`Sources`] → [`Compiled`] (every rule that compiled, indexed, and every
//! diagnostic).
//!
//! Each file is parsed with `toml`'s recoverable parser (a large one a piece at a time, with the
//! same result); each `[[rule]]`, `[[test]]` and `[[schedule]]` entry is then deserialized on
//! its own, so one broken entry never hides another. Checks that need the whole set (duplicate
//! ids, the same exact keyword twice at one priority, what a test expects) run after every file
//! is read.
//!
//! Files, one job each: this one drives (files, entries, ids); `entries.rs` reads one entry;
//! `rule.rs` compiles a `[[rule]]` entry; `pieces.rs` reads a large file in pieces on reader
//! threads; `reuse.rs` hands a reload the served set's rules whose entries did not change;
//! `ids.rs` keeps the ids seen; `one_of.rs` is the one "exactly one of" check; `matchers.rs`
//! builds `match.*`, `replies.rs` builds `reply.*` and its templates, `rule_tests.rs` the
//! `[[test]]` entries, `cross.rs` the checks across files, `suggest.rs` the "did you mean" help.

mod cross;
mod entries;
mod ids;
mod matchers;
mod one_of;
mod pieces;
mod replies;
mod reuse;
mod rule;
mod rule_tests;
mod suggest;
mod when;

#[cfg(test)]
mod cases;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::raw::TestSpec;
use super::{EntrySpan, FileSummary, Fingerprint, Index, Origin, Rule, RuleSet};
use crate::diag::{Code, Diagnostic, FileId, Location, Severity, SourceFile, Sources};
use entries::{EntryKind, RawEntry};

/// The compiled size one regex may reach; a pattern over it is reported, never an OOM.
pub const REGEX_SIZE_LIMIT: usize = 10 * (1 << 20);

/// The result of compiling a set of rule files.
#[derive(Debug)]
pub struct Compiled {
    /// Every rule that compiled, indexed. When `complete` is false some rules were dropped for
    /// their errors: such a set is for analysis (shadowing) only, never to serve or to test.
    /// `None` only when the regexes do not compile together.
    pub set: Option<RuleSet>,
    /// Whether every `[[rule]]` compiled. A malformed `[[test]]` entry is an error too, but it
    /// does not stop the rules from compiling, so that the other tests can still run; the
    /// loader refuses any set with an error.
    pub complete: bool,
    /// What each file contributed (also for files that did not parse).
    pub files: Vec<FileSummary>,
    /// Every problem found, errors and warnings, in file and position order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many of the rules were taken from the set a reload replaces (their entries'
    /// text unchanged: reuse.rs) instead of compiled.
    pub taken: usize,
}

impl Compiled {
    /// The rule set, when every rule compiled.
    pub fn ruleset(self) -> Option<RuleSet> {
        self.set.filter(|_| self.complete)
    }
}

/// What the config declares that rules may rely on: the upstreams `reply.upstream` may name,
/// and whether WeChat's API is there for `reply.all` and offline replies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// The `[[upstream]]` names.
    pub upstreams: Vec<String>,
    /// Whether `app_secret` (with `app_id`) is set.
    pub api: bool,
}

/// Compiles rule files (given in path order) into a rule set, with nothing declared.
pub fn compile(sources: &Sources) -> Compiled {
    compile_with(sources, &Declared::default())
}

/// Compiles rule files (given in path order) into a rule set, against what the config
/// `declared`.
pub fn compile_with(sources: &Sources, declared: &Declared) -> Compiled {
    compile_fingerprinted(sources, declared, Fingerprint::of(sources, declared), None)
}

/// [`compile_with`] for the loader, which has the fingerprint of `sources` and `declared`
/// already (it compares it with the served set's first): the files are hashed once.
///
/// `previous` is the set a reload replaces: the rules of entries whose text it was compiled
/// from are taken from it, not compiled again (reuse.rs).
pub(crate) fn compile_fingerprinted(
    sources: &Sources,
    declared: &Declared,
    fingerprint: Fingerprint,
    previous: Option<&RuleSet>,
) -> Compiled {
    compile_in_pieces(
        sources,
        declared,
        fingerprint,
        pieces::PIECE_BYTES,
        previous,
    )
}

/// [`compile_with`], cutting files larger than `piece_bytes` into pieces (pieces.rs).
fn compile_in_pieces(
    sources: &Sources,
    declared: &Declared,
    fingerprint: Fingerprint,
    piece_bytes: usize,
    previous: Option<&RuleSet>,
) -> Compiled {
    let mut cx = Compiler {
        declared: Arc::new(declared.clone()),
        piece_bytes,
        ..Compiler::default()
    };
    let reuse = previous.and_then(|set| reuse::Reuse::of(set, declared));
    for (id, file) in sources.iter() {
        cx.file(id, file, reuse.as_ref());
    }
    drop(reuse);
    // Tests name ids, which every entry has written by now (a rule that `resolve_gates` then
    // drops for an unknown schedule keeps its id: it has errors of its own).
    let raw_tests = std::mem::take(&mut cx.raw_tests);
    let tests = rule_tests::resolve(raw_tests, &cx.ids.all(&cx.rules), &mut cx.diags);
    cx.ids = ids::Ids::default();
    let pending = std::mem::take(&mut cx.pending_gates);
    when::resolve_gates(pending, &cx.schedules, &mut cx.rules, &mut cx.diags);
    cross::check_duplicate_keywords(&cx.rules, &mut cx.diags);

    let Compiler {
        mut diags,
        mut rules,
        files,
        regex_budget,
        schedules,
        declared,
        taken,
        ..
    } = cx;
    let complete = !diags
        .iter()
        .any(|d| d.severity() == Severity::Error && d.code != Code::InvalidTest);
    // Over the regex budget, the set is not built: that would compile the regexes again.
    // A reload that changed no rule's matcher (a reply edited, a test added) serves the index
    // it has: the new set's rules are numbered alike and would index alike.
    let index = (!regex_budget.spent()).then(|| match previous {
        Some(p) if Index::alike(p.rules(), &rules) => Ok(p.index.clone()),
        _ => Index::build(&rules).map(Arc::new),
    });
    // A served set lives until the next reload: no growth slack (100,000 rules left ~12 MB).
    rules.shrink_to_fit();
    let set = match index {
        None => None,
        Some(Ok(index)) => Some(RuleSet {
            fingerprint,
            cooldowns: rules.iter().any(|r| r.enabled && r.cooldown().is_some()),
            offline: rules.iter().any(|r| r.enabled && r.reply.has_offline()),
            rules,
            schedules: schedules.list,
            tests,
            files: files.clone(),
            index,
            declared,
        }),
        Some(Err(e)) => {
            diags.push(
                Diagnostic::global(Code::InvalidRegex, e.to_string()).with_help(
                    "simplify the regexes (fewer, shorter, or without large Unicode classes), \
                     or turn keyword lists into exact, prefix or contains rules",
                ),
            );
            None
        }
    };
    diags.sort_by(|a, b| {
        let key = |d: &Diagnostic| d.location.as_ref().map(|l| (l.file, l.span.start));
        key(a).cmp(&key(b))
    });
    Compiled {
        complete: complete && set.is_some(),
        set,
        files,
        diagnostics: diags,
        taken,
    }
}

#[derive(Default)]
struct Compiler {
    diags: Vec<Diagnostic>,
    rules: Vec<Rule>,
    /// Every well-formed id seen, even on a rule with errors, and where it was first written.
    ids: ids::Ids,
    raw_tests: Vec<(Origin, TestSpec)>,
    files: Vec<FileSummary>,
    regex_budget: matchers::RegexBudget,
    schedules: when::Schedules,
    pending_gates: Vec<when::PendingGate>,
    /// What the config declares.
    declared: Arc<Declared>,
    /// How large a file's pieces are ([`pieces::PIECE_BYTES`]; smaller in tests).
    piece_bytes: usize,
    /// Rules taken from the set a reload replaces.
    taken: usize,
}

/// What a rule entry's checks need to know about where it is.
struct Entry<'a> {
    file: FileId,
    src: &'a SourceFile,
    /// The file's path, shared by every rule of the file.
    path: &'a Arc<Path>,
    header: Range<usize>,
    /// What the config declares (the upstreams `reply.upstream` may name, the API).
    declared: &'a Declared,
}

impl Entry<'_> {
    fn origin(&self) -> Origin {
        Origin {
            path: self.path.clone(),
            line: self.src.line_col(self.header.start).0,
            location: Location {
                file: self.file,
                span: self.header.clone(),
            },
        }
    }

    /// `span` (in the file) counted from the entry's header, as a rule's body keeps it.
    fn within(&self, span: &Range<usize>) -> EntrySpan {
        EntrySpan::within(self.header.start, span)
    }

    /// Where `span` (counted from the entry's header) is in the file.
    fn place(&self, span: EntrySpan) -> Range<usize> {
        span.placed_at(self.header.start)
    }

    fn diag(&self, code: Code, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, self.file, span, message)
    }

    /// The span of `sub` (a byte range of `value`) when `value` is written as a plain quoted
    /// string at `span`; otherwise the whole value's span.
    fn inner_span(&self, span: &Range<usize>, value: &str, sub: Range<usize>) -> Range<usize> {
        let written = self.src.text().get(span.clone()).unwrap_or("");
        let plain = written.len() == value.len() + 2
            && written.get(1..written.len() - 1) == Some(value)
            && (written.starts_with('"') || written.starts_with('\''));
        if plain {
            span.start + 1 + sub.start..span.start + 1 + sub.end
        } else {
            span.clone()
        }
    }
}

impl Compiler {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn file(&mut self, file: FileId, src: &SourceFile, reuse: Option<&reuse::Reuse<'_>>) {
        let mut summary = FileSummary {
            path: src.path().to_owned(),
            rules: 0,
            tests: 0,
        };
        let path: Arc<Path> = Arc::from(src.path());
        // A large file is read a piece at a time (pieces.rs); when a piece does not parse on
        // its own or has a malformed entry, what the pieces added is undone and the file is
        // parsed whole, for the whole document's messages.
        if let Some(pieces) = pieces::split(src.text(), self.piece_bytes) {
            let mark = self.mark();
            self.rules.reserve(pieces.rules);
            if self.pieces(file, src, &path, &pieces, reuse, &mut summary) {
                self.files.push(summary);
                return;
            }
            self.rollback(file, mark);
            (summary.rules, summary.tests) = (0, 0);
        }
        let (table, errors) = DeTable::parse_recoverable(src.text());
        if !errors.is_empty() {
            for e in errors {
                let span = e.span().unwrap_or(0..0);
                self.push(
                    Diagnostic::new(Code::TomlSyntax, file, span, e.message().trim().to_owned())
                        .with_help("fix the TOML syntax (https://toml.io); nothing else in this file is checked until it parses"),
                );
            }
            self.files.push(summary);
            return;
        }
        let table = table.into_inner();
        if table.is_empty() {
            self.push(
                Diagnostic::new(
                    Code::EmptyFile,
                    file,
                    0..0,
                    "the file has no rules and no tests",
                )
                .with_help("add a [[rule]] or delete the file"),
            );
        }
        self.entries(file, src, &path, table, &mut summary);
        self.files.push(summary);
    }

    /// Reads the entries of a file's top-level table (the file read whole).
    fn entries(
        &mut self,
        file: FileId,
        src: &SourceFile,
        path: &Arc<Path>,
        table: DeTable<'_>,
        summary: &mut FileSummary,
    ) {
        for (key, value) in table {
            let name: &str = key.get_ref();
            let Some(kind) = EntryKind::of(name) else {
                self.push(
                    Diagnostic::new(
                        Code::InvalidKey,
                        file,
                        key.span(),
                        format!("unknown top-level key `{name}`"),
                    )
                    .with_help(suggest::top_level(name)),
                );
                continue;
            };
            let DeValue::Array(entries) = value.into_inner() else {
                self.push(
                    Diagnostic::new(
                        Code::InvalidKey,
                        file,
                        key.span(),
                        format!("`{name}` must be an array of tables"),
                    )
                    .with_help(format!(
                        "write each entry under its own `[[{name}]]` header"
                    )),
                );
                continue;
            };
            for elem in entries {
                self.entry(file, src, path, entries::read(kind, elem), summary);
            }
        }
    }

    /// Compiles one entry as read.
    fn entry(
        &mut self,
        file: FileId,
        src: &SourceFile,
        path: &Arc<Path>,
        read: entries::Read,
        summary: &mut FileSummary,
    ) {
        let declared = self.declared.clone();
        let entry = Entry {
            file,
            src,
            path,
            header: read.header,
            declared: &declared,
        };
        match read.kind {
            EntryKind::Rule => summary.rules += 1,
            EntryKind::Test => summary.tests += 1,
            EntryKind::Schedule => {}
        }
        match read.raw {
            Ok(RawEntry::Rule(raw)) => self.rule(&entry, *raw, read.digest),
            Ok(RawEntry::Test(raw)) => self.raw_tests.push((entry.origin(), raw.spec())),
            Ok(RawEntry::Schedule(raw)) => self.schedules.add(&entry, raw, &mut self.diags),
            Err(m) => {
                self.push(suggest::serde_error(&entry, &m.error));
                if read.kind == EntryKind::Rule
                    && let Some(valid) = self.rule_id(&entry, m.id.as_ref())
                    && let Some(id) = &m.id
                {
                    let at = Location {
                        file,
                        span: id.span(),
                    };
                    self.ids.add_other(valid, at);
                }
            }
        }
    }
}

/// Builds sources from `(path, text)` pairs; for tests and tools that hold files in memory.
pub fn sources_from<P: AsRef<Path>>(files: &[(P, &str)]) -> Sources {
    let mut sources = Sources::new();
    for (path, text) in files {
        sources.add(SourceFile::new(path.as_ref(), *text));
    }
    sources
}
