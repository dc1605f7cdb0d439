//! The retry cache across replicas.
//!
//! A rule's answer, cheap to compute again, is offered in one `SET key answer NX PX window`
//! ([`Shared::offer`]). A message going to an upstream is claimed first (`SET key PENDING NX PX
//! window`), answered, and its answer published under the same key (`SET key answer PX
//! window`, [`Shared::answer_once`]). A delivery that finds the key taken reads it: an answer is the retry's answer; a claim means another replica is
//! answering (an upstream in flight), so it polls every [`POLL_EVERY`] until the answer is
//! there or the wait's bound has passed, and then answers itself. The key is the message's
//! digest ([`crate::dedup::shared_key`]), the same on every replica; the value is small: the
//! reply's XML and what answered it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{Op, Shared};
use crate::dedup::{Answered, Delivery, Passive};
use crate::protocol::ReplyKind;
use crate::upstream::Outcome;

/// How often a waiting retry looks for the other replica's answer.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// How long an offered answer waits for another replica's that is still being computed (a
/// forward claimed there): as long as the longest upstream timeout allows.
pub const OFFER_WAIT: Duration = Duration::from_millis(4500);

/// The value of a claimed message not answered yet.
const PENDING: &[u8] = b"pending";

/// The first byte of an answer's encoding (its format's version).
const ANSWER_V1: u8 = 1;

impl Shared {
    /// The answer to the message whose digest is `digest`: `compute`d here when this delivery
    /// is the first on any replica (or Redis cannot say), another replica's when it has
    /// answered or answers within `wait`.
    pub async fn answer_once<F>(
        &self,
        digest: &[u8; 20],
        window: Duration,
        wait: Duration,
        compute: impl FnOnce() -> F,
    ) -> (Answered, Delivery)
    where
        F: Future<Output = Answered>,
    {
        let key = self.answer_key(digest);
        let ttl = window.as_millis() as u64;
        let claimed = self.set_nx(&key, PENDING, window).await;
        if let Some(false) = claimed {
            // Taken: answered by, or being answered on, another replica (or this one, before
            // a restart).
            if let Some(answered) = self.wait_for(&key, wait).await {
                return (answered, Delivery::Retry);
            }
        }
        let answered = compute().await;
        if claimed.is_some() {
            let value = encode(&answered);
            let _: Option<()> = self
                .call(Op::Publish, async |c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(&value)
                        .arg("PX")
                        .arg(ttl)
                        .query_async(c)
                        .await
                })
                .await;
        }
        (answered, Delivery::First)
    }

    /// `answered`, offered as the answer to the message whose digest is `digest` in one
    /// `SET NX`: it is the answer unless another replica answered first (or is answering: then
    /// its answer, waited for up to `OFFER_WAIT`). For answers that cost nothing to compute
    /// again (no upstream): one round trip instead of a claim and a publish.
    pub async fn offer(
        &self,
        digest: &[u8; 20],
        window: Duration,
        answered: Answered,
    ) -> (Answered, Delivery) {
        let key = self.answer_key(digest);
        let stored = self.set_nx(&key, &encode(&answered), window).await;
        if let Some(false) = stored
            && let Some(theirs) = self.wait_for(&key, OFFER_WAIT).await
        {
            return (theirs, Delivery::Retry);
        }
        (answered, Delivery::First)
    }

    /// `SET key value NX PX ttl`: `Some(true)` when stored, `Some(false)` when the key was
    /// there, `None` when Redis cannot say.
    async fn set_nx(&self, key: &[u8], value: &[u8], ttl: Duration) -> Option<bool> {
        let stored: Option<Option<String>> = self
            .call(Op::Claim, async |c| {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .query_async(c)
                    .await
            })
            .await;
        stored.map(|s| s.is_some())
    }

    fn answer_key(&self, digest: &[u8; 20]) -> Vec<u8> {
        self.key(&[b"answer:".as_slice(), hex::encode(digest).as_bytes()].concat())
    }

    /// Another replica's answer under `key`, polled for until `wait` has passed; `None` when
    /// it does not come (or the claim is gone, or Redis fails).
    async fn wait_for(&self, key: &[u8], wait: Duration) -> Option<Answered> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let value: Option<Vec<u8>> = self
                .call(Op::Fetch, async |c| {
                    redis::cmd("GET").arg(key).query_async(c).await
                })
                .await?;
            match value.as_deref() {
                None => return None,
                Some(PENDING) => {}
                Some(v) => {
                    let answered = decode(v);
                    if answered.is_none() {
                        self.failed(Op::Fetch, "an answer in Redis does not decode");
                    } else {
                        self.metrics
                            .redis_waits
                            .with_label_values(&["answered"])
                            .inc();
                    }
                    return answered;
                }
            }
            if tokio::time::Instant::now() + POLL_EVERY > deadline {
                self.metrics
                    .redis_waits
                    .with_label_values(&["gave_up"])
                    .inc();
                return None;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// An answer as Redis keeps it: a version byte, then the reply and what gave it, each part
/// length-prefixed.
pub fn encode(a: &Answered) -> Vec<u8> {
    let mut out = vec![ANSWER_V1];
    let mut part = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    match &a.passive {
        Passive::Success => part(b"success"),
        Passive::Reply { xml, kind } => {
            part(kind.msg_type().as_bytes());
            part(xml);
        }
        Passive::Relayed { body } => {
            part(b"relayed");
            part(body);
        }
    }
    for o in [
        a.rule.as_deref(),
        a.kf_account.as_deref(),
        a.upstream.as_ref().map(|(name, _)| &**name),
        a.upstream.as_ref().map(|(_, o)| o.as_str()),
    ] {
        match o {
            None => part(b"\0"),
            Some(s) => part(&[b"=", s.as_bytes()].concat()),
        }
    }
    out
}

/// An answer [`encode`] wrote; `None` for anything else (a newer format, a damaged value).
pub fn decode(bytes: &[u8]) -> Option<Answered> {
    let (&version, mut rest) = bytes.split_first()?;
    if version != ANSWER_V1 {
        return None;
    }
    let mut part = || {
        let (len, after) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let (p, after) = (after.get(..len)?, after.get(len..)?);
        rest = after;
        Some(p)
    };
    let passive = match part()? {
        b"success" => Passive::Success,
        b"relayed" => Passive::Relayed {
            body: Bytes::copy_from_slice(part()?),
        },
        kind => Passive::Reply {
            kind: ReplyKind::parse(std::str::from_utf8(kind).ok()?)?,
            xml: Bytes::copy_from_slice(part()?),
        },
    };
    let mut optional = || -> Option<Option<Arc<str>>> {
        match part()? {
            b"\0" => Some(None),
            [b'=', s @ ..] => Some(Some(std::str::from_utf8(s).ok()?.into())),
            _ => None,
        }
    };
    let (rule, kf_account, upstream, outcome) =
        (optional()?, optional()?, optional()?, optional()?);
    let upstream = match (upstream, outcome) {
        (Some(name), Some(o)) => {
            Some((name, Outcome::ALL.into_iter().find(|x| x.as_str() == &*o)?))
        }
        (None, None) => None,
        _ => return None,
    };
    if !rest.is_empty() {
        return None;
    }
    Some(Answered {
        passive,
        rule,
        kf_account,
        upstream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn every_answer_round_trips() {
        let answers = [
            Answered::new(Passive::Success, None),
            Answered::new(
                Passive::Reply {
                    xml: xml("<xml><Content><![CDATA[你好]]></Content></xml>"),
                    kind: ReplyKind::Text,
                },
                Some("hello".into()),
            ),
            Answered {
                kf_account: Some("kf2001@gh".into()),
                ..Answered::new(
                    Passive::Reply {
                        xml: xml("<xml/>"),
                        kind: ReplyKind::Transfer,
                    },
                    None,
                )
            },
            Answered {
                upstream: Some(("app".into(), Outcome::Ok)),
                ..Answered::new(Passive::Relayed { body: xml("") }, Some("bind".into()))
            },
            Answered {
                upstream: Some(("app".into(), Outcome::ErrorStatus)),
                ..Answered::new(Passive::Success, Some("".into()))
            },
        ];
        for a in answers {
            assert_eq!(decode(&encode(&a)).as_ref(), Some(&a));
        }
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        let good = encode(&Answered::new(Passive::Success, Some("r".into())));
        assert!(decode(b"").is_none());
        assert!(decode(PENDING).is_none());
        assert!(decode(&[2]).is_none());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_none(), "cut at {cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        let mut unknown_kind = vec![ANSWER_V1, 0, 0, 0, 3];
        unknown_kind.extend_from_slice(b"gif");
        assert!(decode(&unknown_kind).is_none());
    }
}
