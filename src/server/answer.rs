//! What a message is answered: the rules' decision, the forward to an upstream it may name,
//! and with `redis_url` the answer shared with the other replicas. The HTTP side (signature,
//! body, safe mode, the response) is `webhook.rs`; this is what runs inside the retry cache's
//! cell, once per message.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracing::{debug, warn};

use super::State;
use crate::cooldown::{Cooldowns, WithShared};
use crate::dedup::{self, Answered, Delivery, Passive};
use crate::engine;
use crate::protocol::message::clip;
use crate::protocol::{Body, Message, Reply, reply};
use crate::shared::Shared;
use crate::upstream::{self, Outcome, Reason, Upstream};
use crate::wechat_api;
use serde_json::Value;

/// A message as the retry cache identifies it: the message, its XML as parsed (decrypted in
/// safe mode), and whether it came encrypted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Delivered<'a> {
    pub message: &'a Message,
    pub xml: &'a [u8],
    pub encrypted: bool,
}

/// The answer to a message, and whether this delivery gave it (with replicas, another one may
/// have): from the rules being served now, or from the upstream they (or the fall-through)
/// name. `reply.all`'s follow-ups go to `follow_ups` when this delivery gave the answer.
pub(super) async fn answer(
    state: &State,
    delivered: Delivered<'_>,
    forwardable: impl FnOnce() -> upstream::Request,
    follow_ups: &OnceLock<Vec<Value>>,
) -> (Answered, Delivery) {
    let message = delivered.message;
    let Some(shared) = &state.shared else {
        let d = decide(state, message, &*state.cooldowns);
        start_cooldown(state, message, d.started.as_ref());
        let _ = follow_ups.set(d.follow_ups);
        let answered = forward_or(state, d.answered, d.forward, forwardable).await;
        return (answered, Delivery::First);
    };
    // Boxed, like the forward: the Redis calls' state stays out of every request's future when
    // no redis_url is set.
    Box::pin(answer_shared(
        state,
        shared,
        delivered,
        forwardable,
        follow_ups,
    ))
    .await
}

/// [`answer`] with replicas: the follower's cooldowns on other replicas are read first (the
/// engine does no IO); a rule's answer is offered to Redis in one `SET NX` (another replica's
/// earlier answer wins), a forward is claimed first so the upstream is called once; the
/// cooldown this answer starts is recorded only when the answer is this delivery's.
async fn answer_shared(
    state: &State,
    shared: &Shared,
    delivered: Delivered<'_>,
    forwardable: impl FnOnce() -> upstream::Request,
    follow_ups: &OnceLock<Vec<Value>>,
) -> (Answered, Delivery) {
    let message = delivered.message;
    let theirs = if state.rules.load().ruleset.has_cooldowns() {
        shared.cooldowns_of(&message.from_user).await
    } else {
        Vec::new()
    };
    let both = WithShared {
        local: &*state.cooldowns,
        follower: &message.from_user,
        shared: &theirs,
    };
    let Decided {
        answered,
        forward,
        started,
        follow_ups: more,
    } = decide(state, message, &both);
    let digest = dedup::shared_key(message, delivered.xml, delivered.encrypted);
    let window = state.dedup.window();
    let (answered, delivery) = match forward {
        None => shared.offer(&digest, window, answered).await,
        Some(upstream) => {
            let wait = shared_wait(state);
            let forward = || forward_or(state, answered, Some(upstream), forwardable);
            shared.answer_once(&digest, window, wait, forward).await
        }
    };
    if delivery == Delivery::First {
        let _ = follow_ups.set(more);
        start_cooldown(state, message, started.as_ref());
        if let Some((rule, now, until)) = started {
            shared
                .start_cooldown(&message.from_user, &rule, now, until)
                .await;
        }
    }
    (answered, delivery)
}

/// Records, in this daemon, the cooldown an answer started.
fn start_cooldown(state: &State, message: &Message, started: Option<&Started>) {
    if let Some((rule, _, until)) = started {
        state.cooldowns.start(&message.from_user, rule, *until);
    }
}

/// `answered`, or when `forward` names an upstream, that upstream's answer (and `answered`
/// only if it fails).
async fn forward_or(
    state: &State,
    answered: Answered,
    forward: Option<Arc<Upstream>>,
    forwardable: impl FnOnce() -> upstream::Request,
) -> Answered {
    let Some(upstream) = forward else {
        return answered;
    };
    let reason = match &answered.rule {
        Some(id) => Reason::Rule(id),
        None => Reason::FallThrough,
    };
    // Boxed: the forward's state (the HTTP client's) stays out of every request's future.
    let request = forwardable();
    let result = Box::pin(state.upstreams.forward(&upstream, &request, reason)).await;
    let outcome = result.as_ref().map_or_else(|f| f.outcome, |_| Outcome::Ok);
    let upstream = Some((upstream.spec.name.as_str().into(), outcome));
    match result {
        Ok(body) => Answered {
            passive: Passive::Relayed { body },
            upstream,
            ..answered
        },
        // The upstream failed: answer as if there were none (`answered` is that answer).
        Err(_) => Answered {
            upstream,
            ..answered
        },
    }
}

/// What the rules decided for a message.
struct Decided {
    /// The answer (for a forward: what a failed forward gets).
    answered: Answered,
    /// The upstream it goes to, if any.
    forward: Option<Arc<Upstream>>,
    /// The cooldown it starts, if any.
    started: Option<Started>,
    /// `reply.all`'s other replies, as customer-service messages.
    follow_ups: Vec<Value>,
}

/// A cooldown an answer started: the rule, when, and until when.
type Started = (Arc<str>, jiff::Timestamp, jiff::Timestamp);

/// How long a delivery waits for another replica answering the same message: as long as that
/// answer can take (the longest upstream timeout), and a little more; at least half a second,
/// and never near WeChat's 5 seconds.
fn shared_wait(state: &State) -> Duration {
    let longest = state
        .upstreams
        .all()
        .iter()
        .map(|u| u.spec.timeout)
        .max()
        .unwrap_or_default();
    (longest + Duration::from_millis(250))
        .clamp(Duration::from_millis(500), Duration::from_millis(4500))
}

/// The rules' answer, and the upstream to forward to instead, if the winning rule or the
/// fall-through names one (the answer is then what a failed forward gets: a hand-over for a
/// user message, `success` for an event); the cooldown it starts, which the caller records
/// once it knows the answer is this delivery's; and `reply.all`'s follow-ups.
fn decide(state: &State, message: &Message, cooldowns: &dyn Cooldowns) -> Decided {
    // One load per request: the whole answer comes from one rule set.
    let served = state.rules.load();
    if let Some(e) = message.event()
        && tracing::enabled!(tracing::Level::DEBUG)
    {
        let fields = e.detail().fields();
        if !fields.is_empty() {
            debug!(event = clip(e.name(), 32).as_ref(), fields = ?fields, "event fields");
        }
    }
    let now = jiff::Timestamp::from_second(state.clock.unix_secs() as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let cx = engine::Context {
        now,
        cooldowns,
        fall_through: &state.upstreams.fall_through,
        agents: &*state.agents,
    };
    let answer = engine::respond(&served.ruleset, message, &cx);
    let mut started = None;
    if let Some((r, _)) = &answer.winner {
        if let Some(until) = r
            .cooldown()
            .and_then(|c| jiff::SignedDuration::try_from(c).ok())
            .and_then(|c| now.checked_add(c).ok())
        {
            started = Some((r.id.clone(), now, until));
        }
        if answer.clipped {
            warn!(
                rule = &*r.id,
                "the reply text rendered over 2047 bytes and was cut to fit"
            );
            state.metrics.rule_clipped(&r.id);
        }
    }
    let rule = answer.winner.as_ref().map(|(r, _)| r.id.clone());
    let follow_ups = answer
        .more
        .iter()
        .filter_map(|r| wechat_api::custom_message(&message.from_user, r))
        .collect();
    // What a failed forward gets: the fall-through as if there were no upstream.
    let without_upstream = || {
        if matches!(message.body, Body::Event(_)) {
            Answered::new(Passive::Success, rule.clone())
        } else {
            let transfer = Reply::Transfer { kf_account: None };
            Answered::new(passive_reply(state, message, &transfer), rule.clone())
        }
    };
    let (answered, forward) = match answer.action {
        engine::Action::Reply(r) => {
            let kf_account = match &r {
                Reply::Transfer {
                    kf_account: Some(kf),
                } => Some(Arc::from(kf.as_ref())),
                _ => None,
            };
            let passive = passive_reply(state, message, &r);
            (
                Answered {
                    kf_account,
                    ..Answered::new(passive, rule)
                },
                None,
            )
        }
        engine::Action::Success => (Answered::new(Passive::Success, rule), None),
        engine::Action::Forward(name) => {
            let upstream = state.upstreams.get(name).cloned();
            if upstream.is_none() {
                // The config and the rules are checked together at load: not reached.
                warn!(upstream = name, "no such upstream; answering without it");
            }
            (without_upstream(), upstream)
        }
    };
    Decided {
        answered,
        forward,
        started,
        follow_ups,
    }
}

/// A reply, rendered for this message.
fn passive_reply(state: &State, message: &Message, r: &Reply<'_>) -> Passive {
    Passive::Reply {
        xml: reply::render(
            r,
            &message.from_user,
            &message.to_user,
            state.clock.unix_secs(),
        )
        .into(),
        kind: r.kind(),
    }
}
