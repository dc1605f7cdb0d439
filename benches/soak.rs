//! The soak run (a benchmark, not a test): minutes of load on the release daemon, with rule
//! reloads (good and broken) and hostile requests mixed in. Every good request must be answered,
//! and answered right; every hostile one must get a 4xx; the daemon's resident memory is
//! reported at the start and at the end.
//!
//! Run: `cargo bench --bench soak` (3 minutes), or `cargo bench --bench soak -- --secs 600`.

#[path = "../tests/it/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "support/client.rs"]
mod client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use client::Client;
use util::{Project, TOKEN, signed_query};

const CLIENTS: usize = 4;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(180);

    let p = Project::new("reload_settle_ms = 100\nheader_timeout_secs = 2\nbody_timeout_secs = 2");
    p.copy_shipped_rules();
    let file = p.dir.path().join("rules/ping.toml");
    let write = |text: String| {
        let tmp = p.dir.path().join("rules/.ping.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    let version = |v: u64| {
        format!("[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreply.text = \"v{v}\"\n")
    };
    write(version(0));
    let d = p.start();
    let pid = d.pid();
    println!(
        "replyd soak: {secs} s, {CLIENTS} clients, reloads every 0.5 s (every 10th broken), hostile requests throughout"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<[AtomicU64; 6]> = Arc::new(Default::default());
    const OK: usize = 0;
    const FAILED: usize = 1;
    const WRONG: usize = 2;
    const HOSTILE_4XX: usize = 3;
    const HOSTILE_OTHER: usize = 4;
    const RELOADS: usize = 5;

    // Warm up, then take the starting memory.
    let mut warm = Client::connect(d.addr);
    for _ in 0..2000 {
        warm.ask("流量");
    }
    let rss_start = rss_kb(pid);

    let mut threads = Vec::new();
    for _ in 0..CLIENTS {
        let (stop, c, addr) = (stop.clone(), counters.clone(), d.addr);
        threads.push(std::thread::spawn(move || {
            let mut client = Client::connect(addr);
            let mut newest = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let ping = !i.is_multiple_of(2);
                let text = if ping { "ping" } else { "流量" };
                match client.try_ask(text) {
                    Some(answer) if right(&answer, ping, newest) => {
                        if let Some(v) = answer.strip_prefix('v').and_then(|v| v.parse().ok()) {
                            newest = v;
                        }
                        c[OK].fetch_add(1, Ordering::Relaxed);
                    }
                    Some(answer) => {
                        eprintln!("wrong answer to {text:?}: {answer:?}");
                        c[WRONG].fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        c[FAILED].fetch_add(1, Ordering::Relaxed);
                        client = Client::connect(addr);
                    }
                }
            }
        }));
    }
    {
        let (stop, c, addr) = (stop.clone(), counters.clone(), d.addr);
        threads.push(std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let status = hostile(addr, i);
                let slot = if (400..500).contains(&status) {
                    HOSTILE_4XX
                } else {
                    HOSTILE_OTHER
                };
                if slot == HOSTILE_OTHER {
                    eprintln!("hostile request {} got {status}", i % HOSTILE_KINDS);
                }
                c[slot].fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }

    let start = Instant::now();
    let mut v = 0u64;
    let mut samples = vec![rss_start];
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        v += 1;
        if v.is_multiple_of(60) {
            samples.push(rss_kb(pid));
        }
        if v.is_multiple_of(10) {
            write(
                "[[rule]]\nid = \"ping\"\nmatch.exact = \"ping\"\nreplay.text = \"broken\"\n"
                    .to_owned(),
            );
        } else {
            write(version(v));
        }
        counters[RELOADS].fetch_add(1, Ordering::Relaxed);
    }
    write(version(v + 1));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let rss_end = rss_kb(pid);
    let get = |i: usize| counters[i].load(Ordering::Relaxed);
    let log = d.log();
    println!(
        "good requests: {} answered right, {} failed, {} wrong ({:.0}/s)",
        get(OK),
        get(FAILED),
        get(WRONG),
        get(OK) as f64 / start.elapsed().as_secs_f64()
    );
    println!(
        "hostile requests: {} got a 4xx, {} did not",
        get(HOSTILE_4XX),
        get(HOSTILE_OTHER)
    );
    println!(
        "rule changes: {} ({} reloads applied, {} rejected in the log)",
        get(RELOADS),
        log.matches("rules reloaded").count(),
        log.matches("reload rejected").count()
    );
    println!(
        "resident memory: {:.1} MB after warm-up, {:.1} MB at the end",
        rss_start as f64 / 1024.0,
        rss_end as f64 / 1024.0
    );
    let trace: Vec<String> = samples
        .iter()
        .map(|kb| format!("{:.1}", *kb as f64 / 1024.0))
        .collect();
    println!("resident memory every 30 s (MB): {}", trace.join(", "));
    assert_eq!((get(FAILED), get(WRONG), get(HOSTILE_OTHER)), (0, 0, 0));
}

/// Whether an answer is right: the shipped promotion text for 流量; for ping, a version no
/// older than the newest this client has seen (a reload may land between two requests, but an
/// answer never goes back to an older set).
fn right(answer: &str, ping: bool, newest: u64) -> bool {
    if ping {
        answer
            .strip_prefix('v')
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v >= newest)
    } else {
        answer == "亲，送流量活动是……快点击【抢流量】来参加。"
    }
}

const HOSTILE_KINDS: usize = 9;

/// One hostile request of kind `i % HOSTILE_KINDS`; its status (0 if the connection closed
/// without one).
fn hostile(addr: SocketAddr, i: usize) -> u16 {
    let q = signed_query(TOKEN);
    let body_post = |body: &[u8]| {
        let mut b = format!("POST /wechat?{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        b.extend_from_slice(body);
        b
    };
    let bytes: Vec<u8> = match i % HOSTILE_KINDS {
        0 => b"POST /wechat?signature=0&timestamp=1&nonce=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 6\r\n\r\n<xml/>".to_vec(),
        1 => body_post(b"<!DOCTYPE x [<!ENTITY a SYSTEM \"file:///etc/passwd\">]><xml>&a;</xml>"),
        2 => body_post(&vec![b'<'; 100_000]),
        3 => body_post(b"\xff\xfe\x00\x01garbage"),
        4 => body_post(format!("<xml>{}</xml>", "<a>".repeat(5000)).as_bytes()),
        5 => format!("POST /wechat?{q}&nonce=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").into_bytes(),
        6 => b"PUT /wechat HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec(),
        // Thousands of attributes on one tag, one of them twice (refused in n log n).
        7 => {
            let attributes: String = (0..6000).map(|i| format!(" a{i}=''")).collect();
            body_post(format!("<xml{attributes} a0=''/>").as_bytes())
        }
        // A client that sends half a body and waits: cut off by body_timeout_secs.
        _ => format!("POST /wechat?{q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 500\r\n\r\n<xml>").into_bytes(),
    };
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.write_all(&bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// VmRSS of a process, in KiB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
