//! The docs cannot drift from the code: ARCHITECTURE.md's table of module dependencies is the
//! crate's `use crate::` edges, and no file cites reference documents the repository does not
//! ship.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::repo;

type Edges = BTreeMap<String, BTreeSet<String>>;

/// The table in ARCHITECTURE.md's code map: lines `a, b → x, y (what), z` in the first code
/// block after "Allowed dependencies"; `(crates only)` for none.
fn documented() -> Edges {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let after = text
        .split("Allowed dependencies")
        .nth(1)
        .expect("ARCHITECTURE.md has the dependency table");
    let block = after
        .split("```")
        .nth(1)
        .expect("the table is a code block");
    let mut edges = Edges::new();
    for line in block.lines().filter(|l| l.contains('→')) {
        let (from, to) = line.split_once('→').expect("an arrow");
        // Drop the parenthesised notes: `protocol (types)`.
        let mut to_names = String::new();
        let mut depth = 0;
        for c in to.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => to_names.push(c),
                _ => {}
            }
        }
        let targets: BTreeSet<String> = to_names
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        for f in from.split(',').map(str::trim) {
            edges
                .entry(f.to_owned())
                .or_default()
                .extend(targets.iter().cloned());
        }
    }
    edges
}

/// The crate's edges: for each top-level module, the other modules its non-test code names as
/// `crate::x` (`replyd::x` in main.rs).
fn actual() -> Edges {
    let mut edges = Edges::new();
    let src = repo().join("src");
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).expect("under src");
        let module = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a module")
            .trim_end_matches(".rs")
            .to_owned();
        // Test code in files of its own: the table cases, and `tests.rs` / `tests/` modules.
        let test_file = file.ends_with("compile/cases.rs")
            || file.file_name().is_some_and(|n| n == "tests.rs")
            || rel.components().any(|c| c.as_os_str() == "tests");
        if module == "lib" || test_file {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let prefix = if module == "main" {
            "replyd::"
        } else {
            "crate::"
        };
        let entry = edges.entry(module.clone()).or_default();
        for (i, _) in code.match_indices(prefix) {
            let name: String = code[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                entry.insert(name);
            }
        }
    }
    edges.retain(|_, to| !to.is_empty());
    edges
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_dependency_table_is_the_code() {
    let mut documented = documented();
    documented.retain(|_, to| !to.is_empty());
    let actual = actual();
    let render = |e: &Edges| {
        e.iter()
            .map(|(from, to)| {
                format!(
                    "{from} → {}",
                    to.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        render(&documented),
        render(&actual),
        "ARCHITECTURE.md's dependency table (left) differs from the code's `use crate::` edges (right)"
    );
}

#[test]
fn no_file_cites_documents_the_repository_does_not_ship() {
    let mut offenders = Vec::new();
    for dir in ["src", "tests", "benches", "examples", "fuzz/fuzz_targets"] {
        for file in rust_files(&repo().join(dir)) {
            let text = std::fs::read_to_string(&file).expect("source");
            // Spelled in two halves, so that this file does not cite them itself.
            for name in [concat!("PROTOCOL", ".md"), concat!("SPEC", " §")] {
                if text.contains(name) {
                    offenders.push(format!("{} cites {name}", file.display()));
                }
            }
        }
    }
    for doc in ["README.md", "ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).expect("doc");
        if text.contains(concat!("PROTOCOL", ".md")) {
            offenders.push(format!("{doc} cites the protocol notes"));
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}
