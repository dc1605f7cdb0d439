//! The WeChat endpoint: the console's URL check (GET) and messages (POST).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::http::{HeaderValue, StatusCode};
use sha1::Digest as _;
use tracing::{debug, info, warn};

use super::accept::AfterSent;
use super::answer::{Delivered, answer};
use super::query::Query;
use super::response::{self, Refusal};
use super::{RequestBody, Response, State};
use crate::dedup::{Answered, Delivery, Passive};
use crate::protocol::crypto::{self, Cipher};
use crate::protocol::message::clip;
use crate::protocol::{self, EventKind, Message, MsgType, ReplyKind, signature};
use crate::upstream;
use crate::wechat_api::outbox::Job;

/// GET: the console's URL check.
pub(super) fn verify_url(state: &State, raw_query: &str) -> Response {
    let checked = Query::parse(raw_query).and_then(|q| {
        q.check_signature(
            state.token.expose(),
            state.clock.unix_secs(),
            state.max_clock_skew,
        )?;
        q.echostr
            .map(Cow::into_owned)
            .ok_or_else(|| Refusal::bad("no_echostr", "the URL check has no echostr"))
    });
    match checked {
        Ok(echostr) => {
            info!("URL check answered");
            response::text(StatusCode::OK, echostr)
        }
        Err(refusal) => refusal.respond(&state.metrics),
    }
}

/// What a request says besides its body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Head<'a> {
    /// The raw query string.
    pub query: &'a str,
    /// Content-Length, if sent.
    pub length: Option<u64>,
    /// Content-Type, if sent (forwarded to an upstream as it was).
    pub content_type: Option<&'a str>,
    /// Where the connection comes from.
    pub peer: Option<IpAddr>,
    /// The `X-Forwarded-For` a proxy in front of replyd set, if any.
    pub forwarded_for: Option<&'a str>,
}

/// POST: a message or event.
pub(super) async fn post<B>(state: &State, head: Head<'_>, body: B) -> Response
where
    B: RequestBody,
{
    let started = Instant::now();
    let response = match answer_post(state, head, body, started).await {
        Ok(r) => r,
        Err(refusal) => refusal.respond(&state.metrics),
    };
    state
        .metrics
        .latency
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn answer_post<B>(
    state: &State,
    head: Head<'_>,
    body: B,
    started: Instant,
) -> Result<Response, Refusal>
where
    B: RequestBody,
{
    let query = Query::parse(head.query)?;
    query.check_signature(
        state.token.expose(),
        state.clock.unix_secs(),
        state.max_clock_skew,
    )?;
    if head.length.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(too_large(state.max_body_bytes));
    }
    let body = tokio::time::timeout(state.body_timeout, read_body(body, state.max_body_bytes))
        .await
        .map_err(|_| Refusal::Other {
            status: StatusCode::REQUEST_TIMEOUT,
            reason: "body_timeout",
            message: format!("the body did not arrive within {:?}", state.body_timeout),
        })??;
    let Opened {
        message,
        cipher: sealed_with,
        xml,
    } = open(state, &query, &body)?;
    // What an upstream would receive: WeChat's request as it came.
    let forwardable = || upstream::Request {
        query: head.query.to_owned(),
        body: body.clone(),
        content_type: head
            .content_type
            .and_then(|c| HeaderValue::from_str(c).ok()),
        forwarded_for: match (head.forwarded_for, head.peer) {
            (Some(chain), Some(peer)) => Some(format!("{chain}, {peer}")),
            (Some(chain), None) => Some(chain.to_owned()),
            (None, peer) => peer.map(|p| p.to_string()),
        },
    };
    let delivered = Delivered {
        message: &message,
        xml: &xml,
        encrypted: sealed_with.is_some(),
    };
    let follow_ups = OnceLock::new();
    let (answered, delivery) = state
        .dedup
        .answer(&message, &xml, delivered.encrypted, || {
            answer(state, delivered, forwardable, &follow_ups)
        })
        .await;
    count(state, &message, &answered, delivery);
    if delivery == Delivery::First {
        copy_event(state, &message, &answered, forwardable);
    }
    let response = match (&answered.passive, sealed_with) {
        (Passive::Success, _) => response::text(StatusCode::OK, "success".to_owned()),
        // As the upstream wrote it: in safe mode it encrypted it itself.
        (Passive::Relayed { body }, _) => response::relayed(body.clone()),
        (Passive::Reply { xml, .. }, Some(cipher)) => response::xml(Bytes::from(cipher.seal(
            // The body was written from a String: it is UTF-8.
            &String::from_utf8_lossy(xml),
            state.token.expose(),
            state.clock.unix_secs(),
            &crypto::random_nonce(),
        ))),
        (Passive::Reply { xml, .. }, None) => response::xml(xml.clone()),
    };
    let mut response = response;
    // reply.all: the other replies are sent through the API once this response is written
    // (a retry finds no follow-ups: they went with the first delivery).
    if let (Some(messages), true) = (follow_ups.into_inner(), delivery == Delivery::First)
        && !messages.is_empty()
    {
        let (written, after) = tokio::sync::oneshot::channel();
        response.extensions_mut().insert(AfterSent::new(written));
        state.outbox.push(Job {
            after: Some(after),
            messages,
        });
    }
    // Plain `&str` values: the text format writes them as they are (quoted and escaped only
    // when they need it), with no formatting machinery; this line is written for every message.
    info!(
        account = state.account.as_deref(),
        from = follower(state, &message.from_user).as_ref(),
        // A client can name any type or event (the body is unsigned in plaintext mode): a long
        // one is cut, so that it costs the log no more than a real one.
        msg_type = clip(message.msg_type(), 32).as_ref(),
        event = message.event().map(|e| clip(e.name(), 32)).as_deref(),
        rule = answered.rule.as_deref().unwrap_or("-"),
        reply = answered.passive.label(),
        upstream = answered.upstream.as_ref().map(|(name, _)| &**name),
        upstream_outcome = answered.upstream.as_ref().map(|(_, o)| o.as_str()),
        retry = delivery == Delivery::Retry,
        encrypted = sealed_with.is_some(),
        micros = started.elapsed().as_micros() as u64,
        "answered"
    );
    Ok(response)
}

/// The one answer to an encrypted message whose plaintext fails any check (padding, length,
/// AppID, UTF-8, or the XML inside): told apart, they would be a padding oracle.
const UNDECRYPTABLE: &str = "the encrypted message does not decrypt to a WeChat message";

/// A message read out of a request body.
struct Opened<'s, 'b> {
    message: Message,
    /// The cipher the reply must be encrypted with, in safe mode.
    cipher: Option<&'s Cipher>,
    /// The message's XML as it was parsed (decrypted in safe mode): what identifies a retry.
    xml: Cow<'b, [u8]>,
}

/// Reads the message out of the body: decrypted and checked in safe and compatible mode, as is
/// in plaintext mode.
fn open<'s, 'b>(
    state: &'s State,
    query: &Query<'_>,
    body: &'b [u8],
) -> Result<Opened<'s, 'b>, Refusal> {
    let encrypted = query.encrypt_type.as_deref() == Some("aes");
    let parse = |xml: &[u8]| {
        protocol::message::parse(xml).map_err(|e| {
            warn!(reason = %e, "bad message");
            Refusal::bad(e.reason(), e.to_string())
        })
    };
    match (&state.keys, encrypted) {
        (Some(keys), true) => {
            let encrypt = protocol::message::encrypted_part(body)
                .map_err(|e| Refusal::bad(e.reason(), e.to_string()))?
                .ok_or_else(|| {
                    Refusal::bad(
                        "no_encrypt",
                        "encrypt_type=aes, but the body has no <Encrypt>",
                    )
                })?;
            let signed = match (&query.msg_signature, &query.timestamp, &query.nonce) {
                (Some(s), Some(t), Some(n)) => {
                    signature::verify(s, &[state.token.expose(), t, n, &encrypt])
                }
                _ => false,
            };
            if !signed {
                warn!("msg_signature check failed");
                return Err(Refusal::Signature("msg_signature"));
            }
            let (xml, cipher) = keys.decrypt(&encrypt).map_err(|e| {
                // Which check failed, never what the plaintext held.
                warn!(check = e.check(), "cannot decrypt the message");
                if e.reveals_plaintext() {
                    Refusal::bad(e.reason(), UNDECRYPTABLE)
                } else {
                    Refusal::bad(e.reason(), e.to_string())
                }
            })?;
            if !std::ptr::eq(cipher, &keys.current) {
                info!(
                    "message decrypted with previous_encoding_aes_key: the console still uses the old key"
                );
            }
            let message = protocol::message::parse(xml.as_bytes()).map_err(|e| {
                warn!(check = e.reason(), "the decrypted message is not a WeChat message");
                Refusal::bad("decrypt_failed", UNDECRYPTABLE)
            })?;
            Ok(Opened {
                message,
                cipher: Some(cipher),
                xml: Cow::Owned(xml.into_bytes()),
            })
        }
        (None, true) => parse(body)
            .map(|message| Opened {
                message,
                cipher: None,
                xml: Cow::Borrowed(body),
            })
            .inspect_err(|_| {
                warn!(
                    "the message is encrypted, but no encoding_aes_key is configured: set it and app_id (or switch the console to plaintext mode)"
                );
            }),
        (_, false) if state.require_encryption => {
            warn!("a plaintext message was refused: require_encryption is on");
            Err(Refusal::Other {
                status: StatusCode::FORBIDDEN,
                reason: "plaintext_refused",
                message: "plaintext messages are refused; use safe mode".to_owned(),
            })
        }
        (_, false) => parse(body).map(|message| Opened {
            message,
            cipher: None,
            xml: Cow::Borrowed(body),
        }),
    }
}

/// Sends the upstreams that ask for this event (`copy_events`) a copy of it, in the background;
/// the upstream it was forwarded to has it already.
fn copy_event(
    state: &State,
    message: &Message,
    answered: &Answered,
    forwardable: impl Fn() -> upstream::Request,
) {
    let Some(kind) = message.event().and_then(|e| EventKind::parse(e.name())) else {
        return;
    };
    let forwarded_to = answered.upstream.as_ref().map(|(name, _)| &**name);
    for target in state.upstreams.copy_targets(kind, forwarded_to) {
        state.upstreams.copies.push(target.clone(), forwardable());
    }
}

/// Counts a message once: its first delivery in the message and reply metrics, a retry only
/// as a retry.
fn count(state: &State, message: &Message, answered: &Answered, delivery: Delivery) {
    let m = &state.metrics;
    if delivery == Delivery::Retry {
        m.retries.inc();
        return;
    }
    m.messages
        .with_label_values(&[msg_type_label(message)])
        .inc();
    m.replies
        .with_label_values(&[answered.passive.label()])
        .inc();
    match &answered.rule {
        Some(rule) => m.rule_answered(rule),
        None => m
            .fall_throughs
            .with_label_values(&[match answered.passive {
                Passive::Success => "success",
                Passive::Reply { .. } => "transfer",
                Passive::Relayed { .. } => "upstream",
            }])
            .inc(),
    }
    if let Passive::Reply {
        kind: ReplyKind::Transfer,
        ..
    } = answered.passive
    {
        m.transfers
            .with_label_values(&[answered.kf_account.as_deref().unwrap_or("")])
            .inc();
    }
}

/// The message type as a metric label: the known types by name, anything else as `other`, so
/// that a client cannot create metric series at will (plaintext mode does not sign the body).
fn msg_type_label(message: &Message) -> &'static str {
    message.body.kind().map_or("other", MsgType::as_str)
}

/// The follower as logged: the OpenID, or with `mask_openids` a keyed hash of it (the same
/// follower gives the same hash, so log lines still correlate; without the token it cannot be
/// turned back into the OpenID).
fn follower<'m>(state: &State, openid: &'m str) -> Cow<'m, str> {
    if state.mask_openids {
        let mut h = sha1::Sha1::new();
        h.update(state.token.expose().as_bytes());
        h.update([0]);
        h.update(openid.as_bytes());
        Cow::Owned(format!("~{}", &hex::encode(h.finalize())[..12]))
    } else {
        Cow::Borrowed(openid)
    }
}

fn too_large(max: usize) -> Refusal {
    Refusal::Other {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: "too_large",
        message: format!("the body is larger than {max} bytes"),
    }
}

/// Reads the body as it streams in, with http-body-util's `Limited`: reading stops as soon as
/// it passes `max` bytes, so a client that sends (or chunks) more than that costs no more than
/// `max` of memory.
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, Refusal>
where
    B: RequestBody,
{
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large(max)),
        Err(e) => {
            debug!(error = %e, "request body could not be read");
            Err(Refusal::bad(
                "body_unreadable",
                "the request body could not be read",
            ))
        }
    }
}
