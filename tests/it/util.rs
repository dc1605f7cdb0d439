//! The harness: start the real `replyd` binary on a loopback port and talk HTTP to it the way
//! WeChat does (signed query, XML body).
//!
//! The HTTP client is a few lines over `TcpStream` on purpose: the tests must be able to send
//! exactly the bytes they mean, malformed ones included, and read the raw status line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use replyd::protocol::signature;

/// The token every test daemon is configured with.
pub const TOKEN: &str = "it-token";

/// The repository root (where `rules/` and `replyd.toml` are shipped).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temporary directory with a config file and a rules directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project whose config points at `rules/` inside it, with `extra` config lines.
    pub fn new(extra: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("rules")).expect("rules dir");
        std::fs::write(
            dir.path().join("replyd.toml"),
            format!("token = \"{TOKEN}\"\nrules = \"rules\"\n{extra}\n"),
        )
        .expect("config");
        Project { dir }
    }

    /// Writes a file under `rules/`.
    pub fn rule_file(&self, name: &str, text: &str) -> &Project {
        let path = self.dir.path().join("rules").join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write rule file");
        self
    }

    /// Copies the shipped `rules/` into the project's rules directory.
    #[allow(dead_code)] // used by the benchmarks, which include this file
    pub fn copy_shipped_rules(&self) -> &Project {
        for entry in std::fs::read_dir(repo().join("rules")).expect("shipped rules") {
            let path = entry.expect("rules entry").path();
            let to = self
                .dir
                .path()
                .join("rules")
                .join(path.file_name().expect("file name"));
            std::fs::copy(&path, to).expect("copy a shipped rule file");
        }
        self
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("replyd.toml")
    }

    /// The real `replyd serve` on this project.
    pub fn start(&self) -> Daemon {
        Daemon::start(&["--config", path_str(&self.config())])
    }

    /// The server in this process on this project.
    #[allow(dead_code)]
    pub fn serve(&self) -> Server {
        Server::start(&self.config())
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The `replyd` command, with no `REPLYD_*` variable of the developer's environment.
pub fn replyd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_replyd"));
    for (k, _) in std::env::vars() {
        if k.starts_with("REPLYD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info").env("NO_COLOR", "1");
    cmd
}

/// A running daemon; killed when dropped.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Runs `replyd serve ARGS --listen 127.0.0.1:0` and waits until it listens.
    pub fn start(args: &[&str]) -> Daemon {
        let mut child = replyd()
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn replyd");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
                let mut l = sink.lock().expect("log lock");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "replyd did not start; its log:\n{}",
                    log.lock().expect("log lock")
                );
            }
        };
        Daemon { child, addr, log }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin listener's address, when `admin_listen` is set.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        let log = self.log();
        let rest = log.split("admin endpoints on http://").nth(1)?;
        rest.split('/').next()?.parse().ok()
    }

    /// Sends a signal (`TERM`, `INT`, `HUP`) to the daemon.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for the daemon to exit, for at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits until the log contains `needle` (the daemon logs after it answers); fails the test
    /// if it never does.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared in the log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What the tests talk HTTP to: the real binary ([`Daemon`]) or the server in this process
/// ([`Server`]).
pub trait Target {
    /// The public listener's address.
    fn addr(&self) -> SocketAddr;

    /// A signed POST of `body` to `/wechat`.
    fn post(&self, body: &str) -> Response {
        self.post_with(&signed_query(TOKEN), body)
    }

    /// A POST of `body` to `/wechat` with the given query string.
    fn post_with(&self, query: &str, body: &str) -> Response {
        request(
            self.addr(),
            "POST",
            &format!("/wechat?{query}"),
            &[],
            body.as_bytes(),
        )
    }
}

impl Target for Daemon {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// replyd's HTTP server run in this process (`server::serve`, as `replyd serve` runs it) on
/// 127.0.0.1:0, with a clock the test moves itself. For tests of HTTP behaviour: it starts in
/// milliseconds and needs no waiting on real time; the end-to-end paths (signals, reload, the
/// log) use [`Daemon`].
#[allow(dead_code)] // the benchmarks include this file and use only the real binary
pub struct Server {
    pub addr: SocketAddr,
    /// Moves the server's clock (a reply's CreateTime, the retry window, the skew check).
    pub clock: replyd::clock::ManualClock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[allow(dead_code)]
impl Server {
    /// Serves a config file and its rules, with the clock at the current time.
    pub fn start(config_file: &Path) -> Server {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        Server::start_at(config_file, now)
    }

    /// Serves a config file and its rules, with the clock at `now` (Unix seconds).
    pub fn start_at(config_file: &Path, now: u64) -> Server {
        use replyd::{clock::Clock, config, load, metrics::Metrics, server, state::Rules};
        let config = config::Config::resolve(
            &config::Overrides {
                config: Some(config_file.to_owned()),
                ..config::Overrides::default()
            },
            |_| None,
        )
        .expect("the project's config resolves");
        let (clock, hand) = Clock::manual(now);
        // One account, or each [[account]], as serve builds them.
        let accounts: Vec<&config::Config> = if config.accounts.is_empty() {
            vec![&config]
        } else {
            config.accounts.iter().collect()
        };
        let metrics: Vec<Metrics> = if config.accounts.is_empty() {
            vec![Metrics::new()]
        } else {
            Metrics::for_accounts(&config.account_names())
        };
        let mut states: Vec<Arc<server::State>> = Vec::new();
        for (account, metrics) in accounts.into_iter().zip(metrics) {
            let token = account.token().expect("a token").clone();
            let declared = account.declared();
            let loaded = load::load_paths(std::slice::from_ref(&account.rules), &declared)
                .expect("the rules directory reads");
            let ruleset = loaded.ruleset.unwrap_or_else(|| {
                panic!("the project's rules have errors: {:?}", loaded.diagnostics)
            });
            let metrics = Arc::new(metrics);
            let rules = Arc::new(
                Rules::new(account.rules.clone(), ruleset, None, metrics.clone())
                    .with_declared(declared),
            );
            let redis = states.first().and_then(|s| s.shared.as_deref());
            states.push(Arc::new(server::State::sharing(
                account,
                token,
                rules,
                metrics,
                clock.clone(),
                redis,
            )));
        }
        let site = Arc::new(server::Site::new(states));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = server::Limits::of(&config);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let shutdown = async {
                    let _ = stopped.await;
                };
                server::serve(site, listener, None, shutdown, limits).await;
            });
        });
        Server {
            addr,
            clock: hand,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Target for Server {
    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Safe mode: the query (with `encrypt_type=aes` and `msg_signature`) and body WeChat would post
/// for `encrypt`.
pub fn safe_mode_request(token: &str, encrypt: &str) -> (String, String) {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let nonce = "1320562132";
    let sig = signature::sign(&[token, &timestamp, nonce]);
    let msg_sig = signature::sign(&[token, &timestamp, nonce, encrypt]);
    let query = format!(
        "signature={sig}&timestamp={timestamp}&nonce={nonce}&openid=oFollower&encrypt_type=aes&msg_signature={msg_sig}"
    );
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    (query, body)
}

/// `signature=…&timestamp=…&nonce=…` for `token`, as WeChat signs it.
pub fn signed_query(token: &str) -> String {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let nonce = "1514711492";
    let sig = signature::sign(&[token, &timestamp, nonce]);
    format!("signature={sig}&timestamp={timestamp}&nonce={nonce}&openid=oFollower")
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// Sends one HTTP/1.1 request (`Connection: close`) and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && *v == "chunked");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !chunked {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) and close before a large body is fully sent: ignore that.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {text:?}"));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A number no other message of this test run has: WeChat gives every message its own `MsgId`,
/// and a message that repeats one is a retry, answered from the retry cache.
pub fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    1_700_000_000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A new text message (with its own `MsgId`) from the follower `oFollower` to the account
/// `gh_account`.
pub fn text_message(content: &str) -> String {
    text_message_with_id(content, unique())
}

/// A text message with a given `MsgId`: the same id again is a retry.
pub fn text_message_with_id(content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>\
         <FromUserName><![CDATA[oFollower]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

/// A new event (with its own `CreateTime`), with an `EventKey` when `key` is given.
pub fn event_message(event: &str, key: Option<&str>) -> String {
    event_message_at(event, key, unique())
}

/// An event at a given `CreateTime`: the same follower, time, event and key again is a retry.
pub fn event_message_at(event: &str, key: Option<&str>, create_time: u64) -> String {
    let key = key
        .map(|k| format!("<EventKey><![CDATA[{k}]]></EventKey>"))
        .unwrap_or_default();
    format!(
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>\
         <FromUserName><![CDATA[oFollower]]></FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[{event}]]></Event>{key}</xml>"
    )
}

/// A reply XML read back into `element/path → text` (CDATA sections joined).
pub fn fields(xml: &str) -> HashMap<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = HashMap::new();
    let mut text = String::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("reply is not XML ({e}): {xml}"))
        {
            Event::Start(e) => {
                path.push(e.name().into_inner().to_owned());
                text.clear();
            }
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::Text(t) => text.push_str(t.into_inner().trim()),
            Event::GeneralRef(r) => text.extend(r.resolve_char_ref().ok().flatten()),
            Event::End(_) => {
                if !text.is_empty() {
                    out.insert(path.join("/"), std::mem::take(&mut text));
                }
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}
