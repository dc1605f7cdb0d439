//! A fake of WeChat's API for the tests: a hyper server on a loopback port that speaks the
//! documented JSON of `stable_token`, `message/custom/send`, `customservice/getonlinekflist`
//! and `get_current_autoreply_info`, their error answers included, and records what it was
//! sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

use crate::http_server::HttpServer;

pub const APP_ID: &str = "wxfake00000000001";
pub const APP_SECRET: &str = "fake-app-secret-0123456789";

/// The console's auto-reply settings the fake answers (Tencent's sample, as a fixture).
pub fn autoreply_sample() -> String {
    std::fs::read_to_string(crate::util::repo().join("tests/fixtures/autoreply/official.json"))
        .expect("the autoreply fixture")
}

#[derive(Debug, Default)]
struct State {
    /// Tokens handed out, in order; all valid unless `expired`.
    tokens: Vec<String>,
    /// Tokens that have expired.
    expired: Vec<String>,
    /// `expires_in` of the next token.
    expires_in: u64,
    /// Customer-service messages received.
    sent: Vec<Value>,
    /// What `custom/send` answers after `send_ok_for` more messages: this errcode.
    send_error: Option<i64>,
    /// The agents online; `None`: errcode 65400.
    online: Option<Vec<String>>,
    online_fetches: usize,
    autoreply_fetches: usize,
}

/// The running fake.
pub struct FakeWechat {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    _server: HttpServer,
}

impl FakeWechat {
    pub fn start() -> FakeWechat {
        let state = Arc::new(Mutex::new(State {
            expires_in: 7200,
            online: Some(Vec::new()),
            ..State::default()
        }));
        let shared = state.clone();
        let server = HttpServer::start(move |req| {
            let state = shared.clone();
            async move { answer(&state, req).await }
        });
        FakeWechat {
            addr: server.addr,
            state,
            _server: server,
        }
    }

    /// What to write as `api_base`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The config lines that point replyd at this fake.
    pub fn config(&self) -> String {
        format!(
            "app_id = \"{APP_ID}\"\napp_secret = \"{APP_SECRET}\"\napi_base = \"{}\"\n",
            self.base()
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// How many tokens were fetched.
    pub fn token_fetches(&self) -> usize {
        self.with(|s| s.tokens.len())
    }

    /// Every token handed out so far stops working (a call with one gets 42001).
    pub fn expire_token(&self) {
        self.with(|s| s.expired = s.tokens.clone());
    }

    /// Every customer-service message received.
    pub fn sent(&self) -> Vec<Value> {
        self.with(|s| s.sent.clone())
    }

    /// Waits (up to 10 s) until `n` messages have arrived, and returns them all.
    pub fn wait_for_sent(&self, n: usize) -> Vec<Value> {
        wait(|| self.sent().len() >= n);
        self.sent()
    }

    /// `custom/send` answers this errcode from now on.
    pub fn fail_sends(&self, errcode: Option<i64>) {
        self.with(|s| s.send_error = errcode);
    }

    /// The agents online (`None`: the account has no customer service, errcode 65400).
    pub fn set_online(&self, online: Option<&[&str]>) {
        self.with(|s| s.online = online.map(|l| l.iter().map(|a| a.to_string()).collect()));
    }

    /// How many times the list of agents online was asked for.
    pub fn online_fetches(&self) -> usize {
        self.with(|s| s.online_fetches)
    }

    /// How many times the auto-reply settings were asked for.
    pub fn autoreply_fetches(&self) -> usize {
        self.with(|s| s.autoreply_fetches)
    }
}

/// Polls `done` every 10 ms for up to 10 s; fails the test if it never holds.
pub fn wait(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn json_response(v: Value) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .header("Content-Type", "application/json; encoding=utf-8")
        .body(Full::new(Bytes::from(v.to_string())))
        .expect("response")
}

fn error(code: i64, msg: &str) -> hyper::Response<Full<Bytes>> {
    json_response(json!({ "errcode": code, "errmsg": msg }))
}

async fn answer(
    state: &Mutex<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let token = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("access_token="))
        .unwrap_or("")
        .to_owned();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut s = state.lock().unwrap();
    if path == "/cgi-bin/stable_token" {
        let Ok(v) = serde_json::from_slice::<Value>(&body) else {
            return error(47001, "data format error");
        };
        if method != hyper::Method::POST || v["grant_type"] != "client_credential" {
            return error(40002, "invalid grant_type");
        }
        if v["appid"] != APP_ID || v["secret"] != APP_SECRET {
            return error(
                40001,
                "invalid credential, access_token is invalid or not latest",
            );
        }
        let token = format!("FAKE-TOKEN-{}", s.tokens.len() + 1);
        s.tokens.push(token.clone());
        return json_response(json!({ "access_token": token, "expires_in": s.expires_in }));
    }
    // Every other endpoint needs a token it handed out (stable_token does not invalidate the
    // earlier ones), until `expire_token`.
    if !s.tokens.contains(&token) {
        return error(40001, "invalid credential");
    }
    if s.expired.contains(&token) {
        return error(42001, "access_token expired");
    }
    match (method, path.as_str()) {
        (hyper::Method::POST, "/cgi-bin/message/custom/send") => {
            let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                return error(47001, "data format error");
            };
            if let Some(code) = s.send_error {
                return error(code, "refused by the fake");
            }
            s.sent.push(v);
            error(0, "ok")
        }
        (hyper::Method::GET, "/cgi-bin/customservice/getonlinekflist") => {
            s.online_fetches += 1;
            match &s.online {
                None => error(65400, "please enable new custom service"),
                Some(list) => json_response(
                    json!({ "kf_online_list": list.iter().enumerate().map(|(i, a)| json!({
                    "kf_account": a, "status": 1, "kf_id": (1001 + i).to_string(), "accepted_case": 0,
                })).collect::<Vec<_>>() }),
                ),
            }
        }
        (hyper::Method::GET, "/cgi-bin/get_current_autoreply_info") => {
            s.autoreply_fetches += 1;
            json_response(serde_json::from_str(&autoreply_sample()).expect("fixture JSON"))
        }
        _ => hyper::Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found")))
            .expect("response"),
    }
}
