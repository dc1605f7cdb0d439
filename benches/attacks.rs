//! What an attacker on the public port can do to good requests (a benchmark, not a test):
//! bounded attacks on loopback against the release daemon, each on a fresh daemon with the
//! default configuration, and what good requests get meanwhile.
//!
//! 1. slow readers: 1,100 connections pipeline 3,000 requests each and never read the answers;
//! 2. idle keep-alive: 1,100 connections that send one request every 4 s (under the 5 s head
//!    timeout) and read its answer, so they stay open;
//! 3. large uploads: 20 clients send a 10 MB body before reading, as Python's http.client does;
//! 4. long identifiers: 10,000 messages with a 30 KB FromUserName; the daemon's RSS after.
//!
//! For 1 and 2: 80 good requests (8 threads), each on a new connection with a 15 s read
//! timeout: how many were answered, and the latencies.
//!
//! Run: `cargo bench --bench attacks`; `REPLYD_BIN=/path/to/replyd cargo bench --bench
//! attacks` runs another build (an older commit) the same way, for a before/after figure.

#[path = "../tests/it/util.rs"]
#[allow(dead_code)]
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use util::{Project, TOKEN, signed_query, text_message};

const ATTACKERS: usize = 1_100;
const GOOD: usize = 80;

fn main() {
    let bin =
        std::env::var("REPLYD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_replyd").to_owned());
    println!("replyd attack benchmark: {bin}");
    slow_readers(&bin);
    idle_keep_alive(&bin);
    large_uploads(&bin);
    long_identifiers(&bin);
}

/// A daemon on the shipped rules, killed when dropped.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    _project: Project,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &str) -> Daemon {
    let project = Project::new("");
    project.copy_shipped_rules();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(project.config())
        .env("RUST_LOG", "warn,replyd::commands=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn replyd");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("replyd exited").expect("log line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split('/')
                .next()
                .unwrap_or("")
                .parse()
                .expect("address");
        }
    };
    // Keep reading the log so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon {
        child,
        addr,
        _project: project,
    }
}

fn post_head(length: usize, close: bool) -> String {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "POST /wechat?{} HTTP/1.1\r\nHost: x\r\n{connection}Content-Length: {length}\r\n\r\n",
        signed_query(TOKEN)
    )
}

/// One good request on its own connection: its latency, or `None` if it got no 200.
fn good_request(addr: SocketAddr) -> Option<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    let body = text_message("流量");
    s.write_all(format!("{}{body}", post_head(body.len(), true)).as_bytes())
        .ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out.starts_with(b"HTTP/1.1 200").then(|| start.elapsed())
}

/// 80 good requests from 8 threads, and what they got.
fn good_requests(addr: SocketAddr, what: &str) {
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                (0..GOOD / 8)
                    .map(|_| good_request(addr))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut failed = 0;
    for t in threads {
        for r in t.join().expect("thread") {
            match r {
                Some(l) => latencies.push(l),
                None => failed += 1,
            }
        }
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or("-".to_owned(), |d| {
                format!("{:.0} ms", d.as_secs_f64() * 1e3)
            })
    };
    println!(
        "  {what}: {} of {GOOD} good requests answered, {failed} not; latency p50 {}, p90 {}, max {}",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

fn slow_readers(bin: &str) {
    let d = start(bin);
    let body = text_message("hi");
    let one = format!("{}{body}", post_head(body.len(), false));
    let pipelined = one.repeat(3_000);
    let hogs: Vec<TcpStream> = (0..ATTACKERS)
        .filter_map(|_| {
            let mut s = TcpStream::connect(d.addr).ok()?;
            s.set_write_timeout(Some(Duration::from_millis(50))).ok()?;
            let _ = s.write_all(pipelined.as_bytes());
            Some(s)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    good_requests(d.addr, &format!("{} slow readers", hogs.len()));
}

fn idle_keep_alive(bin: &str) {
    let d = start(bin);
    let body = text_message("hi");
    let one = format!("{}{body}", post_head(body.len(), false));
    let mut idle: Vec<TcpStream> = (0..ATTACKERS)
        .filter_map(|_| {
            let s = TcpStream::connect(d.addr).ok()?;
            s.set_read_timeout(Some(Duration::from_millis(20))).ok()?;
            Some(s)
        })
        .collect();
    let opened = idle.len();
    // Every 4 s, one request on each (read back), for the whole measurement.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let keeping = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let round = Instant::now();
                for s in &mut idle {
                    if s.write_all(one.as_bytes()).is_ok() {
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                    }
                }
                std::thread::sleep(Duration::from_secs(4).saturating_sub(round.elapsed()));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(5));
    good_requests(
        d.addr,
        &format!("{opened} keep-alive connections requesting every 4 s"),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = keeping.join();
}

fn large_uploads(bin: &str) {
    let d = start(bin);
    let body = vec![b'x'; 10 << 20];
    let (mut read_413, mut reset) = (0, 0);
    for _ in 0..20 {
        let Ok(mut s) = TcpStream::connect(d.addr) else {
            reset += 1;
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
        let sent = s
            .write_all(post_head(body.len(), true).as_bytes())
            .and_then(|()| s.write_all(&body));
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if sent.is_ok() && out.starts_with(b"HTTP/1.1 413") {
            read_413 += 1;
        } else {
            reset += 1;
        }
    }
    println!(
        "  20 uploads of 10 MB sent before reading: {read_413} read the 413, {reset} were reset"
    );
}

fn long_identifiers(bin: &str) {
    let d = start(bin);
    let rss = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
            })
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = rss(d.child.id());
    let from = "u".repeat(30_000);
    let mut s = TcpStream::connect(d.addr).expect("connect");
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..10_000u64 {
        let body = format!(
            "<xml><ToUserName>gh</ToUserName><FromUserName>{from}</FromUserName><CreateTime>1</CreateTime>\
             <MsgType>text</MsgType><Content>hi</Content><MsgId>{i}</MsgId></xml>"
        );
        let request = format!("{}{body}", post_head(body.len(), false));
        if s.write_all(request.as_bytes()).is_err() {
            s = TcpStream::connect(d.addr).expect("reconnect");
            let _ = s.write_all(request.as_bytes());
        }
        // Read one response head and body (keep-alive).
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let status = head.split(' ').nth(1).unwrap_or("none").to_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut rest = vec![0u8; length];
        let _ = s.read_exact(&mut rest);
        if head.to_ascii_lowercase().contains("connection: close") {
            s = TcpStream::connect(d.addr).expect("reconnect");
        }
        *statuses.entry(status).or_insert(0) += 1;
    }
    println!(
        "  10,000 messages with a 30 KB FromUserName: statuses {statuses:?}; RSS {:.1} MB before, {:.1} MB after",
        before as f64 / 1024.0,
        rss(d.child.id()) as f64 / 1024.0
    );
}
