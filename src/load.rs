//! The one loader: read the rules directory, compile it, analyse it (shadowed keywords) and run
//! its `[[test]]`s.
//!
//! `serve` at start-up, the reload, `lint` and `try` all call [`load`] (or [`load_paths`]), so
//! "`lint` is clean" means exactly "`serve` accepts these files". A set with any error, a failing
//! `[[test]]` included, comes back without a rule set: the caller refuses it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::analysis;
use crate::diag::{Code, Diagnostic, MAX_FILE_BYTES, SourceFile, Sources, has_errors};
use crate::ruleset::{Declared, Fingerprint, RuleSet, compile_fingerprinted};

/// What a load produced: the files read, the rule set when it is usable, every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    /// The text of every rule file read, for rendering diagnostics.
    pub sources: Sources,
    /// The rule set; `None` when any diagnostic is an error.
    pub ruleset: Option<Arc<RuleSet>>,
    /// Whether the files were those the served set was compiled from, so that the rule set is
    /// that set, not compiled again ([`reload_paths`]).
    pub unchanged: bool,
    /// Every problem, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// Counts for a summary line.
    pub summary: Summary,
}

impl Loaded {
    /// Logs every diagnostic in the one-line `file:line:col` form: errors at `error`, warnings
    /// at `warn`.
    pub fn log_diagnostics(&self) {
        for d in &self.diagnostics {
            let line = d.short(&self.sources);
            match d.severity() {
                crate::diag::Severity::Error => tracing::error!("{line}"),
                crate::diag::Severity::Warning => tracing::warn!("{line}"),
            }
        }
    }
}

/// What a load looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rule files read.
    pub files: usize,
    /// `[[rule]]` entries read, whether they compiled or not.
    pub rules: usize,
    /// `[[test]]` entries read.
    pub tests: usize,
    /// `[[test]]` entries run (none while a rule has an error: a set with a rule missing
    /// would fail tests for the wrong reason).
    pub tests_run: usize,
    /// Of those, how many failed.
    pub tests_failed: usize,
    /// Rules a reload took from the served set instead of compiling them (their entries'
    /// text unchanged; all of them when no file changed).
    pub rules_taken: usize,
}

/// A load that could not even start: the path given does not exist or cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path cannot be read.
    #[error("cannot read {}", path.display())]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Loads the rules directory (recursively, every `*.toml` in path order).
///
/// # Errors
///
/// When `root` does not exist or cannot be read at all. Problems with single files are
/// diagnostics, not errors.
pub fn load(root: &Path) -> Result<Loaded, LoadError> {
    load_paths(&[root.to_owned()], &Declared::default())
}

/// Loads rule files from directories (recursively) and single files, in the order given;
/// `reply.upstream` may name the config's `upstreams`.
///
/// # Errors
///
/// When a path does not exist or cannot be read at all.
pub fn load_paths(paths: &[PathBuf], declared: &Declared) -> Result<Loaded, LoadError> {
    load_paths_at(paths, declared, jiff::Timestamp::now())
}

/// [`load_paths`] as at `now`: the `[[test]]`s without `at` run at it, and campaigns over by
/// then are reported.
///
/// # Errors
///
/// When a path does not exist or cannot be read at all.
pub fn load_paths_at(
    paths: &[PathBuf],
    declared: &Declared,
    now: jiff::Timestamp,
) -> Result<Loaded, LoadError> {
    load_reusing(paths, declared, now, None)
}

/// [`load_paths_at`] for a reload: when the files are byte for byte those `served` was
/// compiled from (the same paths, the same texts, the same declarations: its
/// [`Fingerprint`]), nothing is compiled and `served` itself comes
/// back ([`Loaded::unchanged`]), so a reload of unchanged files costs no second copy of the
/// set. Its `[[test]]`s run again as of `now`, as for any load.
///
/// # Errors
///
/// When a path does not exist or cannot be read at all.
pub fn reload_paths(
    paths: &[PathBuf],
    declared: &Declared,
    now: jiff::Timestamp,
    served: Arc<RuleSet>,
) -> Result<Loaded, LoadError> {
    load_reusing(paths, declared, now, Some(served))
}

fn load_reusing(
    paths: &[PathBuf],
    declared: &Declared,
    now: jiff::Timestamp,
    served: Option<Arc<RuleSet>>,
) -> Result<Loaded, LoadError> {
    let (sources, mut diagnostics) = read_paths(paths)?;
    // Hashed once: compared with the served set's, then kept by the set compiled.
    let fingerprint = Fingerprint::of(&sources, declared);
    let unchanged = served
        .as_ref()
        .filter(|set| diagnostics.is_empty() && set.fingerprint() == fingerprint)
        .cloned();
    let reused = unchanged.is_some();
    let (set, complete, files, rules_taken) = match unchanged {
        // Its compile diagnostics were warnings at most, logged when it was loaded.
        Some(set) => {
            let files = set.files().to_vec();
            let taken = set.rules().len();
            (Some(set), true, files, taken)
        }
        None => {
            // The rules of unchanged entries are taken from the served set, not built again.
            let compiled =
                compile_fingerprinted(&sources, declared, fingerprint, served.as_deref());
            drop(served);
            diagnostics.extend(compiled.diagnostics);
            (
                compiled.set.map(Arc::new),
                compiled.complete,
                compiled.files,
                compiled.taken,
            )
        }
    };
    let mut summary = Summary {
        files: sources.len(),
        rules: files.iter().map(|f| f.rules).sum(),
        tests: files.iter().map(|f| f.tests).sum(),
        rules_taken,
        ..Summary::default()
    };
    // Shadowing is analysed over every rule that compiled, so that one broken file does not
    // hide the warnings of the others; tests run only on the whole set.
    if let Some(set) = &set {
        // A keyword already reported as an error (a duplicate) is not reported again.
        let errors_at: std::collections::HashSet<_> = diagnostics
            .iter()
            .filter(|d| d.severity() == crate::diag::Severity::Error)
            .filter_map(|d| d.location.clone())
            .collect();
        diagnostics.extend(
            analysis::shadowing(set)
                .into_iter()
                .filter(|d| d.location.as_ref().is_none_or(|l| !errors_at.contains(l))),
        );
        diagnostics.extend(analysis::expired(set, now));
        if complete {
            let failures = analysis::run_tests(set, now);
            summary.tests_run = set.tests().len();
            summary.tests_failed = failures.len();
            diagnostics.extend(failures);
        }
    }
    let ruleset = set.filter(|_| complete && !has_errors(&diagnostics));
    Ok(Loaded {
        sources,
        ruleset,
        diagnostics,
        summary,
        unchanged: reused,
    })
}

/// Reads the rule files under `paths`: directories recursively (following symlinks, skipping
/// hidden entries such as `.git` and editor files), `*.toml` only, each directory in path order.
fn read_paths(paths: &[PathBuf]) -> Result<(Sources, Vec<Diagnostic>), LoadError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut diagnostics = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|source| LoadError::Unreadable {
            path: root.clone(),
            source,
        })?;
        if !meta.is_dir() {
            files.push(root.clone());
            continue;
        }
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        let before = files.len();
        for entry in walker {
            match entry {
                Ok(e)
                    if e.file_type().is_file()
                        && e.path().extension().is_some_and(|x| x == "toml") =>
                {
                    files.push(e.into_path());
                }
                Ok(_) => {}
                Err(e) => {
                    let path = e.path().map_or_else(|| root.clone(), Path::to_owned);
                    if e.depth() == 0 {
                        return Err(LoadError::Unreadable {
                            path,
                            source: e
                                .into_io_error()
                                .unwrap_or_else(|| io::Error::other("unreadable")),
                        });
                    }
                    diagnostics.push(
                        Diagnostic::global(Code::Unreadable, format!("cannot read {}: {e}", path.display()))
                            .with_help("fix the permissions or remove the entry (a symlink loop, a dangling link)"),
                    );
                }
            }
        }
        if files.len() == before {
            diagnostics.push(
                Diagnostic::global(
                    Code::NoRuleFiles,
                    format!("{} holds no *.toml rule files", root.display()),
                )
                .with_help(
                    "check the rules path; with no rules every message goes to customer service",
                ),
            );
        }
    }
    let mut sources = Sources::new();
    for path in files {
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.len() > MAX_FILE_BYTES
        {
            diagnostics.push(
                Diagnostic::global(
                    Code::Unreadable,
                    format!(
                        "{} is {} bytes: a rule file may hold at most 4 GiB",
                        path.display(),
                        meta.len()
                    ),
                )
                .with_help("split it into several files"),
            );
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    sources.add(SourceFile::new(path, text));
                }
                Err(e) => diagnostics.push(
                    Diagnostic::global(
                        Code::NotUtf8,
                        format!(
                            "{} is not UTF-8 (invalid byte at offset {})",
                            path.display(),
                            e.utf8_error().valid_up_to()
                        ),
                    )
                    .with_help("save the file as UTF-8"),
                ),
            },
            Err(e) => diagnostics.push(
                Diagnostic::global(
                    Code::Unreadable,
                    format!("cannot read {}: {e}", path.display()),
                )
                .with_help("fix the file's permissions"),
            ),
        }
    }
    Ok((sources, diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    const GOOD: &str = "[[rule]]\nid = \"a\"\nmatch.exact = \"hi\"\nreply.text = \"hello\"\n";

    #[test]
    fn reads_recursively_in_path_order_and_skips_hidden_and_other_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "b.toml",
            &GOOD.replace("\"a\"", "\"b\"").replace("hi", "b"),
        );
        write(
            dir.path(),
            "a/z.toml",
            &GOOD.replace("\"a\"", "\"az\"").replace("hi", "az"),
        );
        write(dir.path(), "a.toml", GOOD);
        write(dir.path(), ".git/config.toml", "not toml at all [");
        write(dir.path(), ".#a.toml", "not toml at all [");
        write(dir.path(), "README.md", "not a rule file");
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        let set = loaded.ruleset.unwrap();
        let ids: Vec<&str> = set.rules().iter().map(|r| &*r.id).collect();
        // Path order compares component by component: `a/z.toml` comes before `a.toml`.
        assert_eq!(ids, ["az", "a", "b"]);
    }

    #[test]
    fn every_error_is_reported_and_no_set_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", GOOD);
        write(
            dir.path(),
            "b.toml",
            "[[rule]]\nid = \"b\"\nmatch.exact = \"x\"\nreplay.text = \"y\"\n",
        );
        write(dir.path(), "c.toml", "[[rule\n");
        write(
            dir.path(),
            "d.toml",
            "[[rule]]\nid = \"a\"\nmatch.regex = '(unclosed'\nreply.text = \"z\"\n",
        );
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.ruleset.is_none());
        let short: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| d.short(&loaded.sources))
            .collect();
        let has = |needle: &str| short.iter().any(|s| s.contains(needle));
        assert!(
            has("b.toml:4:1: error[invalid-key]: unknown field `replay`"),
            "{short:#?}"
        );
        assert!(has("c.toml:1:"), "{short:#?}");
        assert!(has("d.toml:2:6: error[duplicate-id]"), "{short:#?}");
        assert!(has("d.toml:3:15: error[invalid-regex]"), "{short:#?}");
    }

    #[test]
    fn tests_run_and_a_failing_test_refuses_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "{GOOD}\n[[test]]\nsend = \"HI\"\nexpect = \"a\"\nreply_contains = \"hell\"\n\
             [[test]]\nsend = \"bye\"\nexpect = \"transfer\"\n[[test]]\nevent = \"subscribe\"\nexpect = \"none\"\n"
        );
        write(dir.path(), "a.toml", &rules);
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        assert!(loaded.ruleset.is_some());

        write(
            dir.path(),
            "a.toml",
            &format!("{GOOD}\n[[test]]\nsend = \"bye\"\nexpect = \"a\"\n"),
        );
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.ruleset.is_none());
        let short: Vec<String> = loaded
            .diagnostics
            .iter()
            .map(|d| d.short(&loaded.sources))
            .collect();
        assert_eq!(short.len(), 1, "{short:?}");
        assert!(
            short[0].contains("a.toml:8:10: error[test-failed]"),
            "{short:?}"
        );
    }

    #[test]
    fn a_missing_root_is_an_error_and_an_empty_one_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&dir.path().join("nope")).is_err());
        let loaded = load(dir.path()).unwrap();
        assert!(loaded.ruleset.is_some());
        assert_eq!(loaded.diagnostics[0].code, Code::NoRuleFiles);
    }

    #[test]
    fn a_reload_of_unchanged_files_reuses_the_set_and_still_runs_its_tests() {
        let dir = tempfile::tempdir().unwrap();
        // A campaign rule, and a test (without `at`) that holds only while it runs.
        write(
            dir.path(),
            "a.toml",
            "[[rule]]\nid = \"sale\"\nmatch.exact = \"sale\"\nuntil = 2030-01-01T00:00:00Z\n\
             reply.text = \"half price\"\n[[test]]\nsend = \"sale\"\nexpect = \"sale\"\n",
        );
        let paths = [dir.path().to_owned()];
        let none = Declared::default();
        let before: jiff::Timestamp = "2029-06-01T00:00:00Z".parse().unwrap();
        let after: jiff::Timestamp = "2030-06-01T00:00:00Z".parse().unwrap();
        let served = load_paths_at(&paths, &none, before)
            .unwrap()
            .ruleset
            .unwrap();

        let again = reload_paths(&paths, &none, before, served.clone()).unwrap();
        assert!(again.unchanged);
        assert!(Arc::ptr_eq(again.ruleset.as_ref().unwrap(), &served));
        assert_eq!((again.summary.files, again.summary.rules), (1, 1));
        assert_eq!(again.summary.tests_run, 1);

        // Unchanged files are still tested as of now: the campaign is over, the test fails,
        // and the reload is refused as it always was.
        let later = reload_paths(&paths, &none, after, served.clone()).unwrap();
        assert!(later.unchanged && later.ruleset.is_none());
        assert!(
            later.diagnostics.iter().any(|d| d.code == Code::TestFailed),
            "{:?}",
            later.diagnostics
        );

        // Other declarations are another load: compiled again.
        let declared = Declared {
            upstreams: vec!["crm".into()],
            api: false,
        };
        let other = reload_paths(&paths, &declared, before, served.clone()).unwrap();
        assert!(!other.unchanged);
        assert!(!Arc::ptr_eq(other.ruleset.as_ref().unwrap(), &served));
    }
}
