//! Reload figures for the closing note and the README (a benchmark, not a test):
//!
//! 1. latency: from a rule file's rename into place until the daemon answers with the new rule,
//!    over 100 changes (median and worst);
//! 2. a load run: client threads posting signed messages as fast as they can while the rules are
//!    reloaded 100 times; every answer must be 200 and come wholly from one generation, and no
//!    client may ever see an older generation after a newer one;
//! 3. memory: a catalogue of 100,000 exact rules (`--catalogue N`) while a client keeps asking
//!    for a product code, reloaded 5 times by SIGHUP with the files unchanged (the served set is
//!    served again) and then 5 times after an edit (a new set is built beside the old): the
//!    daemon's resident memory 2 s after start-up and after each reload (the old set's memory
//!    must come back: no growth), the peak of each phase, and every answer right.
//!
//! Run: `cargo bench --bench reload` (release build of the real daemon on 127.0.0.1).
//! Options after `--`: `--settle-ms N` (default 100), `--clients N` (default 8).

#[path = "../tests/it/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "ruleset_gen/mod.rs"]
#[allow(dead_code)] // the mixed sets are for the other benchmarks
mod ruleset_gen;

#[path = "support/client.rs"]
mod client;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use client::Client;
use util::Project;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (settle_ms, clients) = (opt("--settle-ms", 100), opt("--clients", 8) as usize);
    latency_and_load(settle_ms, clients);
    memory_over_reloads(opt("--catalogue", 100_000) as usize);
}

/// Parts 1 and 2: reload latency, and a load run during 100 reloads.
fn latency_and_load(settle_ms: u64, clients: usize) {
    let p = Project::new(&format!("reload_settle_ms = {settle_ms}"));
    // A realistic set beside the rule that changes: the shipped rules.
    p.copy_shipped_rules();
    let file = p.dir.path().join("rules/ping.toml");
    let write_version = |v: u64| {
        let tmp = p.dir.path().join("rules/.ping.toml.tmp");
        std::fs::write(
            &tmp,
            format!("[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreply.text = \"v{v}\"\n"),
        )
        .unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write_version(0);
    let d = p.start();
    println!(
        "replyd reload benchmark: settle {settle_ms} ms, {clients} clients, shipped rules + 1"
    );

    // 1. Latency.
    let mut client = Client::connect(d.addr);
    let mut latencies = Vec::new();
    for v in 1..=100 {
        let start = Instant::now();
        write_version(v);
        let want = format!("v{v}");
        while client.ask("ping") != want {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "version {v} never landed"
            );
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "latency over 100 changes: median {:.1} ms, worst {:.1} ms (best {:.1} ms; the settle time is {settle_ms} ms of it)",
        ms(latencies[49]),
        ms(latencies[99]),
        ms(latencies[0]),
    );

    // 2. Load during 100 reloads.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, wrong) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, ok, failed, wrong, addr) = (
                stop.clone(),
                ok.clone(),
                failed.clone(),
                wrong.clone(),
                d.addr,
            );
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut newest = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match c.try_ask("ping") {
                        Some(answer) => {
                            match answer.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()) {
                                Some(n) if n >= newest => {
                                    newest = n;
                                    ok.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {
                                    wrong.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            c = Client::connect(addr);
                        }
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    for v in 101..=200 {
        write_version(v);
        let want = format!("v{v}");
        while client.ask("ping") != want {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "version {v} never landed"
            );
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let (ok, failed, wrong) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        wrong.load(Ordering::Relaxed),
    );
    println!(
        "load during 100 reloads: {} requests in {:.1} s ({:.0}/s) by {clients} clients: {ok} answered, {failed} failed, {wrong} wrong",
        ok + failed + wrong,
        elapsed.as_secs_f64(),
        (ok + failed + wrong) as f64 / elapsed.as_secs_f64(),
    );
    let generation = util::request(d.addr, "GET", "/healthz", &[], b"").body;
    println!("healthz after: {generation}");
    assert_eq!(
        (failed, wrong),
        (0, 0),
        "every request must be answered, and wholly by one generation"
    );
}

/// Part 3: resident memory over reloads of a catalogue of `n` exact rules.
fn memory_over_reloads(n: usize) {
    if n == 0 {
        return;
    }
    let p = Project::new("");
    let text = ruleset_gen::catalogue(n);
    p.rule_file("catalogue.toml", &text);
    let d = p.start();
    let mb = |field: &str| {
        let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb / 1024.0
    };
    // jemalloc gives freed pages back about a second after they are freed.
    std::thread::sleep(Duration::from_secs(2));
    let start = mb("VmRSS:");
    let peak_start = mb("VmHWM:");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let asker = {
        let (stop, ok, bad, addr) = (stop.clone(), ok.clone(), bad.clone(), d.addr);
        std::thread::spawn(move || {
            let mut c = Client::connect(addr);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i = (i + 7919) % n;
                // The rule the edits below change.
                if i == n / 2 {
                    continue;
                }
                match c.try_ask(&format!("sku{i:07}")) {
                    Some(a) if a == ruleset_gen::catalogue_reply(i) => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    Some(_) => bad.fetch_add(1, Ordering::Relaxed),
                    None => {
                        c = Client::connect(addr);
                        bad.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        })
    };
    // The peak of each phase alone: writing 5 to clear_refs resets VmHWM to the current RSS.
    let reset_peak = || std::fs::write(format!("/proc/{}/clear_refs", d.pid()), "5").unwrap();
    let rss_list = |list: &[f64]| -> String {
        let list: Vec<String> = list.iter().map(|m| format!("{m:.1}")).collect();
        list.join(", ")
    };
    // Five SIGHUP reloads of the same files: the served set is served again, not rebuilt. Each
    // phase's peak is compared with the resident set just before it: the client's traffic fills
    // the retry cache over the first phases, which the resident after start-up does not hold.
    let same_before = mb("VmRSS:");
    reset_peak();
    let mut same = Vec::new();
    for generation in 2..=6 {
        d.signal("HUP");
        d.wait_for_log(&format!("generation={generation} "));
        std::thread::sleep(Duration::from_secs(2));
        same.push(mb("VmRSS:"));
    }
    let peak_same = mb("VmHWM:");
    // Edits, renamed into place (the watcher reloads), five of each kind: each builds a new set
    // beside the one still answering, taking the bodies of the entries it has (a reply edited:
    // one rule is compiled again and the index is kept; a keyword edited: the index is built
    // again; a comment appended: the last entry's text changes).
    let middle = n / 2;
    let reply_line = format!("reply.text = \"{}\"", ruleset_gen::catalogue_reply(middle));
    let keyword_line = format!("match.exact = \"SKU{middle:07}\"");
    let kinds = [
        "a reply edited mid-file",
        "a keyword edited mid-file",
        "a comment appended",
    ];
    let edit = |kind: usize, g: usize| match kind {
        0 => text.replacen(&reply_line, &format!("reply.text = \"edit {g}\""), 1),
        1 => text.replacen(&keyword_line, &format!("match.exact = \"edit {g}\""), 1),
        _ => format!("{text}# edit {g}\n"),
    };
    let mut generation = 6;
    let mut edited = Vec::new();
    for (kind, what) in kinds.iter().enumerate() {
        let before = mb("VmRSS:");
        reset_peak();
        let mut after = Vec::new();
        for _ in 0..5 {
            generation += 1;
            p.rule_file(".next", &edit(kind, generation));
            let rules = p.dir.path().join("rules");
            std::fs::rename(rules.join(".next"), rules.join("catalogue.toml")).unwrap();
            d.wait_for_log(&format!("generation={generation} "));
            std::thread::sleep(Duration::from_secs(2));
            after.push(mb("VmRSS:"));
        }
        edited.push((*what, before, after, mb("VmHWM:")));
    }
    stop.store(true, Ordering::Relaxed);
    asker.join().unwrap();
    println!(
        "memory, {n} exact rules: resident {start:.1} MB after start-up (peak {peak_start:.1} MB)"
    );
    println!(
        "  5 reloads of the same files: {} MB after each, peak during them {peak_same:.1} MB ({:.2}x the {same_before:.1} MB before them)",
        rss_list(&same),
        peak_same / same_before,
    );
    for (what, before, after, peak) in &edited {
        println!(
            "  5 reloads after {what}: {} MB after each, peak during them {peak:.1} MB ({:.2}x the {before:.1} MB before them)",
            rss_list(after),
            peak / before,
        );
    }
    let (ok, bad) = (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed));
    println!("answers during the reloads: {ok} right, {bad} wrong or failed");
    assert_eq!(bad, 0, "every answer during the reloads must be right");
}
