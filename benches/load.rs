//! Loading figures: wall time and peak resident memory to load, check and compile rule sets with
//! the very loader `serve` uses at start-up (and on every reload), each in a fresh child
//! process so that its peak memory is its own:
//!
//! - generated mixes of 10,000 and 100,000 rules of every kind (`--sizes`);
//! - catalogues of 100,000 and 1,000,000 exact rules in one file (`id`, `match.exact`,
//!   `reply.text` each, as shops load product codes; `--catalogues`).
//!
//! Run: `cargo bench --bench load` (`-- --sizes 1000,50000 --catalogues 200000` for other
//! sizes; `0` for none). Goals: 10,000 mixed rules in under 1 s and 100 MB; 100,000 catalogue
//! rules in under 1 s and 100 MB resident. With `REPLYD_LOAD_PROFILE=1` each child also times
//! the compiler, the shadowing analysis and the index on their own.

#[path = "ruleset_gen/mod.rs"]
#[allow(dead_code)] // the probe texts are for the engine benchmark
mod ruleset_gen;

use std::time::Instant;

/// The daemon's allocator (src/main.rs), so that the figures are the daemon's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--load-child") {
        child(&args[i + 1]);
        return;
    }
    let list = |flag: &str, default: &[usize]| -> Vec<usize> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
            .unwrap_or_else(|| default.to_vec())
            .into_iter()
            .filter(|n| *n > 0)
            .collect()
    };
    println!("replyd load benchmark: generate, then load in a fresh process (time, peak RSS)");
    for n in list("--sizes", &[10_000, 100_000]) {
        let g = ruleset_gen::generate(n);
        load_in_child(&format!("{n:>9} mixed rules"), g.files);
    }
    for n in list("--catalogues", &[100_000, 1_000_000]) {
        load_in_child(
            &format!("{n:>9} catalogue rules"),
            vec![("catalogue.toml".to_owned(), ruleset_gen::catalogue(n))],
        );
    }
}

/// Writes `files` to a temporary directory and loads it in a child process.
fn load_in_child(what: &str, files: Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).expect("write rule file");
    }
    drop(files);
    let out = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["--load-child", dir.path().to_str().expect("UTF-8 path")])
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{what} ({:.1} MB of TOML): {}",
        bytes as f64 / 1e6,
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

/// Loads a directory once, as `serve` does, and prints time and memory.
fn child(dir: &str) {
    let before = peak_rss_kb();
    let start = Instant::now();
    let loaded = replyd::load::load(std::path::Path::new(dir)).expect("load");
    let elapsed = start.elapsed();
    let set = loaded.ruleset.as_ref().unwrap_or_else(|| {
        panic!(
            "generated rules have errors: {:?}",
            loaded.diagnostics.iter().take(3).collect::<Vec<_>>()
        )
    });
    let after = peak_rss_kb();
    if std::env::var_os("REPLYD_LOAD_PROFILE").is_some() {
        let t = Instant::now();
        let c = replyd::ruleset::compile(&loaded.sources);
        println!("compile alone: {:?}", t.elapsed());
        let set = c.ruleset().expect("the generated rules compile");
        let t = Instant::now();
        let _ = replyd::analysis::shadowing(&set);
        println!("shadowing: {:?}", t.elapsed());
        let t = Instant::now();
        let _ = replyd::ruleset::Index::build(set.rules());
        println!("index: {:?}", t.elapsed());
    }
    let warnings = loaded.diagnostics.len();
    let rules = set.rules().len();
    // What serve keeps: the set alone (the sources and diagnostics are dropped after logging).
    let kept = loaded.ruleset;
    drop((loaded.sources, loaded.diagnostics));
    // jemalloc gives freed pages back about a second after they are freed (.cargo/config.toml).
    std::thread::sleep(std::time::Duration::from_secs(2));
    let resident = status_kb("VmRSS:");
    println!(
        "loaded {rules} rules in {:.0} ms, peak RSS {:.1} MB (before loading {:.1} MB), resident with the set alone 2 s later {:.1} MB, {warnings} warnings",
        elapsed.as_secs_f64() * 1000.0,
        after as f64 / 1024.0,
        before as f64 / 1024.0,
        resident as f64 / 1024.0,
    );
    drop(kept);
}

/// VmHWM: the process's peak resident set, in KiB.
fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

/// A field of /proc/self/status, in KiB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
