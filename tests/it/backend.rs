//! A stand-in for an account's existing backend (what WxJava or wechatpy would run): a small
//! hyper server on a loopback port that checks WeChat's `signature` with the account's token,
//! in safe mode checks `msg_signature` and decrypts with the account's key, and answers as it
//! is told (a reply, `success`, an error status, garbage, slowly, …). It records every request
//! it gets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use replyd::protocol::crypto::Cipher;
use replyd::protocol::signature;

use crate::http_server::HttpServer;
use crate::util::TOKEN;

/// How the backend answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A text reply `backend: CONTENT` (encrypted in safe mode).
    Reply,
    /// `success`.
    Success,
    /// An empty 200.
    Empty,
    /// This status, with a body.
    Status(u16),
    /// A 200 whose body is not a WeChat answer.
    Garbage,
    /// A 200 reply XML of this many bytes.
    Oversized(usize),
    /// Waits this long, then answers as the inner behaviour.
    Slow(Duration, Box<Behaviour>),
}

/// One request the backend received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub query: String,
    pub body: String,
    pub reason: Option<String>,
    pub forwarded_for: Option<String>,
    pub content_type: Option<String>,
    /// `signature` verified with the token (and `msg_signature` in safe mode).
    pub signed: bool,
    /// The message XML (decrypted in safe mode).
    pub plaintext: Option<String>,
    /// What it answered.
    pub answered: String,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    behaviour: Mutex<Option<Behaviour>>,
}

/// The running backend; stopped when dropped.
pub struct Backend {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    _server: HttpServer,
}

#[allow(dead_code)]
impl Backend {
    /// A backend that answers as `behaviour`; `cipher` is the account's key in safe mode.
    pub fn start(behaviour: Behaviour, cipher: Option<Cipher>) -> Backend {
        let shared = Arc::new(Shared::default());
        *shared.behaviour.lock().unwrap() = Some(behaviour);
        let cipher = Arc::new(cipher);
        let state = shared.clone();
        let server = HttpServer::start(move |req| {
            let (state, cipher) = (state.clone(), cipher.clone());
            async move { answer(&state, &cipher, req).await }
        });
        Backend {
            addr: server.addr,
            shared,
            _server: server,
        }
    }

    /// The URL to put in `[[upstream]] url`.
    pub fn url(&self) -> String {
        format!("http://{}/wechat", self.addr)
    }

    /// Answers as `behaviour` from now on.
    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = Some(behaviour);
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until `n` requests have been received, and returns them all.
    pub fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.seen();
            if seen.len() >= n || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

async fn answer(
    state: &Shared,
    cipher: &Option<Cipher>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (reason, forwarded_for, content_type) = (
        header("x-replyd-reason"),
        header("x-forwarded-for"),
        header("content-type"),
    );
    let query = req.uri().query().unwrap_or("").to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let mut signed = signature::sign(&[TOKEN, &p("timestamp"), &p("nonce")]) == p("signature");
    let plaintext = match (p("encrypt_type").as_str(), cipher) {
        ("aes", Some(cipher)) => {
            let encrypt = crate::util::fields(&body)
                .get("xml/Encrypt")
                .cloned()
                .unwrap_or_default();
            signed &= signature::sign(&[TOKEN, &p("timestamp"), &p("nonce"), &encrypt])
                == p("msg_signature");
            cipher.decrypt(&encrypt).ok()
        }
        _ => Some(body.clone()),
    };
    let mut behaviour = state
        .behaviour
        .lock()
        .unwrap()
        .clone()
        .expect("a behaviour");
    while let Behaviour::Slow(pause, inner) = behaviour {
        tokio::time::sleep(pause).await;
        behaviour = *inner;
    }
    let (status, out) = if !signed {
        (403, "bad signature".to_owned())
    } else {
        match behaviour {
            Behaviour::Reply => {
                let f = crate::util::fields(plaintext.as_deref().unwrap_or(""));
                let reply = format!(
                    "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName>\
                     <CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                     <Content><![CDATA[backend: {}]]></Content></xml>",
                    f.get("xml/FromUserName").map_or("", String::as_str),
                    f.get("xml/ToUserName").map_or("", String::as_str),
                    f.get("xml/Content")
                        .or(f.get("xml/Event"))
                        .map_or("", String::as_str),
                );
                match (p("encrypt_type").as_str(), cipher) {
                    ("aes", Some(cipher)) => (200, cipher.seal(&reply, TOKEN, 1, "backendnonce")),
                    _ => (200, reply),
                }
            }
            Behaviour::Success => (200, "success".to_owned()),
            Behaviour::Empty => (200, String::new()),
            Behaviour::Status(s) => (s, "backend error".to_owned()),
            Behaviour::Garbage => (200, "<html><body>oops</body></html>".to_owned()),
            Behaviour::Oversized(n) => (
                200,
                format!(
                    "<xml><Content><![CDATA[{}]]></Content></xml>",
                    "x".repeat(n)
                ),
            ),
            Behaviour::Slow(..) => unreachable!("unwrapped above"),
        }
    };
    state.seen.lock().unwrap().push(Seen {
        query,
        body,
        reason,
        forwarded_for,
        content_type,
        signed,
        plaintext,
        answered: out.clone(),
    });
    let mut r = hyper::Response::new(Full::new(Bytes::from(out)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("status");
    r
}
