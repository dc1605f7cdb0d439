//! The HTTP front: WeChat's webhook on the configured path, and `/healthz`.
//!
//! For every request, in this order (PROTOCOL.md §6: never touch an untrusted body before the
//! signature is checked, and bound its size before reading it):
//!
//! 1. route on path and method (404, 405 with `Allow`);
//! 2. parse the query, refusing duplicated signed parameters (400);
//! 3. verify `signature` over token, timestamp and nonce (403);
//! 4. GET: answer the `echostr`; POST: read the body up to `max_body_bytes` (413);
//! 5. in safe and compatible mode (`encrypt_type=aes`), verify `msg_signature` (403) and
//!    decrypt (400); with `require_encryption`, refuse plaintext (403);
//! 6. parse the XML (400); answer from the retry cache, or ask the engine and remember the
//!    answer; write the reply XML (encrypted again in safe mode) or `success`.
//!
//! Every outcome is a defined response; nothing a client sends can make a handler panic, and
//! one request shares nothing with the next but the rule set, which is read once per request
//! from an `ArcSwap` (so a reload can replace it at any moment without locking anyone).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use futures_util::{Stream, StreamExt};
use tracing::{debug, info, warn};
use warp::Filter;
use warp::http::{HeaderValue, Method, StatusCode, header};
use warp::reply::{Reply as _, Response};

use crate::config::Secret;
use crate::dedup::{Answered, Dedup, Delivery};
use crate::engine;
use crate::protocol::crypto::{self, Cipher, Keys};
use crate::protocol::{self, Message, reply, signature};
use crate::state::{Outcome, Rules};

/// What the handlers share: the settings, and the served rules.
#[derive(Debug)]
pub struct State {
    /// The served rules; a reload replaces them, a request loads them once.
    pub rules: Arc<Rules>,
    /// The token that signs requests.
    pub token: Secret,
    /// The webhook's URL path.
    pub path: String,
    /// The request body cap.
    pub max_body_bytes: usize,
    /// The ciphers of safe and compatible mode, when configured.
    pub keys: Option<Keys>,
    /// Refuse plaintext messages.
    pub require_encryption: bool,
    /// The answers retries get.
    pub dedup: Dedup,
}

/// The whole HTTP service as one warp filter.
pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::any()
        .map(move || state.clone())
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(
            |state: Arc<State>,
             method: Method,
             path: warp::path::FullPath,
             query: String,
             length: Option<u64>,
             body| async move {
                handle(&state, &method, path.as_str(), &query, length, body).await
            },
        )
}

async fn handle<S, B>(
    state: &State,
    method: &Method,
    path: &str,
    query: &str,
    length: Option<u64>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    if path == state.path {
        match *method {
            Method::GET => verify_url(state, query),
            Method::POST => webhook(state, query, length, body).await,
            _ => method_not_allowed("GET, POST"),
        }
    } else if path == "/healthz" {
        match *method {
            Method::GET => healthz(state),
            _ => method_not_allowed("GET"),
        }
    } else {
        plain(StatusCode::NOT_FOUND, "not found")
    }
}

/// The query parameters WeChat signs or sends, each at most once.
#[derive(Debug, Default)]
struct Query {
    signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
    encrypt_type: Option<String>,
    msg_signature: Option<String>,
}

impl Query {
    /// Parses a query string; a signed parameter given twice is refused, since the two
    /// copies could be read differently by a proxy and by us.
    fn parse(raw: &str) -> Result<Query, String> {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match k.as_ref() {
                "signature" => &mut q.signature,
                "timestamp" => &mut q.timestamp,
                "nonce" => &mut q.nonce,
                "echostr" => &mut q.echostr,
                "encrypt_type" => &mut q.encrypt_type,
                "msg_signature" => &mut q.msg_signature,
                _ => continue,
            };
            if slot.replace(v.into_owned()).is_some() {
                return Err(format!("the query parameter `{k}` is given twice"));
            }
        }
        Ok(q)
    }

    /// Whether `signature` is sha1(sort(token, timestamp, nonce)).
    fn is_signed(&self, token: &Secret) -> bool {
        match (&self.signature, &self.timestamp, &self.nonce) {
            (Some(s), Some(t), Some(n)) => signature::verify(s, &[token.expose(), t, n]),
            _ => false,
        }
    }
}

/// GET: the console's URL check.
fn verify_url(state: &State, raw_query: &str) -> Response {
    let query = match Query::parse(raw_query) {
        Ok(q) => q,
        Err(reason) => return bad_request(&reason),
    };
    if !query.is_signed(&state.token) {
        warn!(method = "GET", "signature check failed");
        return plain(StatusCode::FORBIDDEN, "invalid signature");
    }
    match query.echostr {
        Some(echostr) => {
            info!("URL check answered");
            text_response(StatusCode::OK, echostr)
        }
        None => bad_request("the URL check has no echostr"),
    }
}

/// POST: a message or event.
async fn webhook<S, B>(state: &State, raw_query: &str, length: Option<u64>, body: S) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let started = Instant::now();
    let query = match Query::parse(raw_query) {
        Ok(q) => q,
        Err(reason) => return bad_request(&reason),
    };
    if !query.is_signed(&state.token) {
        warn!(method = "POST", "signature check failed");
        return plain(StatusCode::FORBIDDEN, "invalid signature");
    }
    if length.is_some_and(|n| n > state.max_body_bytes as u64) {
        return too_large(state.max_body_bytes);
    }
    let body = match read_body(body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(state.max_body_bytes),
        Err(BodyError::Broken(e)) => {
            debug!(error = %e, "request body could not be read");
            return bad_request("the request body could not be read");
        }
    };
    let (message, sealed_with) = match open(state, &query, &body) {
        Ok(opened) => opened,
        Err(response) => return *response,
    };
    let (answered, delivery) = state
        .dedup
        .answer(&message, || answer(state, &message))
        .await;
    let response = if answered.body == "success" {
        text_response(StatusCode::OK, answered.body.clone())
    } else {
        match sealed_with {
            Some(cipher) => xml_response(cipher.seal(
                &answered.body,
                state.token.expose(),
                now_secs(),
                &crypto::random_nonce(),
            )),
            None => xml_response(answered.body.clone()),
        }
    };
    info!(
        msg_type = message.msg_type(),
        event = message.event().map(|e| e.name()),
        rule = answered.rule.as_deref().unwrap_or("-"),
        reply = answered.kind,
        retry = delivery == Delivery::Retry,
        encrypted = sealed_with.is_some(),
        micros = started.elapsed().as_micros() as u64,
        "answered"
    );
    response
}

/// Reads the message out of the body: decrypted and checked in safe and compatible mode, as is
/// in plaintext mode. Returns the cipher the reply must be encrypted with, if any; or the error
/// response.
fn open<'s>(
    state: &'s State,
    query: &Query,
    body: &[u8],
) -> Result<(Message, Option<&'s Cipher>), Box<Response>> {
    let encrypted = query.encrypt_type.as_deref() == Some("aes");
    let parse = |xml: &[u8]| {
        protocol::message::parse(xml).map_err(|e| {
            warn!(reason = %e, "bad message");
            Box::new(bad_request(&e.to_string()))
        })
    };
    match (&state.keys, encrypted) {
        (Some(keys), true) => {
            let encrypt = match protocol::message::encrypted_part(body) {
                Ok(Some(e)) => e,
                Ok(None) => return Err(Box::new(bad_request("encrypt_type=aes, but the body has no <Encrypt>"))),
                Err(e) => return Err(Box::new(bad_request(&e.to_string()))),
            };
            let signed = match (&query.msg_signature, &query.timestamp, &query.nonce) {
                (Some(s), Some(t), Some(n)) => signature::verify(s, &[state.token.expose(), t, n, &encrypt]),
                _ => false,
            };
            if !signed {
                warn!("msg_signature check failed");
                return Err(Box::new(plain(StatusCode::FORBIDDEN, "invalid msg_signature")));
            }
            let (xml, cipher) = keys.decrypt(&encrypt).map_err(|e| {
                warn!(reason = %e, "cannot decrypt the message");
                Box::new(bad_request(&e.to_string()))
            })?;
            if !std::ptr::eq(cipher, &keys.current) {
                info!("message decrypted with previous_encoding_aes_key: the console still uses the old key");
            }
            Ok((parse(xml.as_bytes())?, Some(cipher)))
        }
        (None, true) => parse(body).map(|m| (m, None)).inspect_err(|_| {
            warn!("the message is encrypted, but no encoding_aes_key is configured: set it and app_id (or switch the console to plaintext mode)");
        }),
        (_, false) if state.require_encryption => {
            warn!("a plaintext message was refused: require_encryption is on");
            Err(Box::new(plain(StatusCode::FORBIDDEN, "plaintext messages are refused; use safe mode")))
        }
        (_, false) => parse(body).map(|m| (m, None)),
    }
}

/// The plaintext answer to a message, from the rules being served now.
fn answer(state: &State, message: &Message) -> Answered {
    // One load per request: the whole answer comes from one rule set.
    let served = state.rules.load();
    let answer = engine::respond(&served.ruleset, message);
    let rule = answer.winner.as_ref().map(|(r, _)| r.id.clone());
    match &answer.reply {
        Some(r) => Answered {
            body: reply::render(r, &message.from_user, &message.to_user, now_secs()),
            rule,
            kind: r.msg_type(),
        },
        None => Answered {
            body: "success".to_owned(),
            rule,
            kind: "success",
        },
    }
}

enum BodyError {
    TooLarge,
    Broken(warp::Error),
}

/// Reads the body as it streams in, and stops as soon as it passes `max` bytes, so a client
/// that sends (or chunks) more than that costs no more than `max` of memory.
async fn read_body<S, B>(mut body: S, max: usize) -> Result<BytesMut, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(BodyError::Broken)?;
        if buf.len() + chunk.remaining() > max {
            return Err(BodyError::TooLarge);
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf)
}

/// `/healthz`: the set being served and the last reload. 200 while the files on disk are what
/// is served; 503 when the last reload failed (replyd still answers WeChat from the last good
/// set, but the files say something else).
fn healthz(state: &State) -> Response {
    let served = state.rules.load();
    let status = state.rules.status();
    let time = |t: SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    let last_reload = status.last.as_ref().map(|(at, outcome)| {
        let mut v = match outcome {
            Outcome::Applied { generation } => {
                serde_json::json!({ "result": "applied", "generation": generation })
            }
            Outcome::Rejected { errors } => {
                serde_json::json!({ "result": "rejected", "errors": errors })
            }
            Outcome::Unreadable { error } => {
                serde_json::json!({ "result": "unreadable", "errors": [error] })
            }
        };
        v["at"] = time(*at).into();
        v
    });
    let body = serde_json::json!({
        "status": if status.is_failing() { "reload_failed" } else { "ok" },
        "serving": {
            "generation": served.generation,
            "loaded_at": time(served.loaded_at),
            "rules": served.ruleset.rules().len(),
            "enabled": served.ruleset.enabled_count(),
            "files": served.ruleset.files().len(),
            "dir": state.rules.dir().display().to_string(),
            "commit": served.commit,
        },
        "last_reload": last_reload,
        "failing_since": status.failing_since.map(time),
    });
    let mut r = warp::reply::json(&body).into_response();
    *r.status_mut() = if status.is_failing() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    r
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn xml_response(xml: String) -> Response {
    let mut r = xml.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

fn text_response(status: StatusCode, body: String) -> Response {
    let mut r = body.into_response();
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    text_response(status, body.to_owned())
}

fn bad_request(reason: &str) -> Response {
    text_response(StatusCode::BAD_REQUEST, format!("bad request: {reason}\n"))
}

fn too_large(max: usize) -> Response {
    text_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {max} bytes\n"),
    )
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}
