//! The webhook's query string: the parameters WeChat signs or sends, and the signature and
//! timestamp checks over them.

use std::borrow::Cow;
use std::time::Duration;

use hyper::http::StatusCode;
use tracing::warn;

use super::response::Refusal;
use crate::protocol::signature::{Refused, Signed};

/// The query parameters WeChat signs or sends, each at most once. Values borrow from the
/// query string unless they were percent-encoded.
#[derive(Debug, Default)]
pub(super) struct Query<'q> {
    pub(super) signature: Option<Cow<'q, str>>,
    pub(super) timestamp: Option<Cow<'q, str>>,
    pub(super) nonce: Option<Cow<'q, str>>,
    pub(super) echostr: Option<Cow<'q, str>>,
    pub(super) encrypt_type: Option<Cow<'q, str>>,
    pub(super) msg_signature: Option<Cow<'q, str>>,
}

impl<'q> Query<'q> {
    /// Parses a query string; a signed parameter given twice is refused, since the two
    /// copies could be read differently by a proxy and by us.
    pub(super) fn parse(raw: &'q str) -> Result<Query<'q>, Refusal> {
        let mut q = Query::default();
        // WeChat's parameters are never encoded: one look at the whole string spares a look
        // at each name and value.
        let encoded = memchr::memchr2(b'%', b'+', raw.as_bytes()).is_some();
        let decode = |s| if encoded { decode(s) } else { Cow::Borrowed(s) };
        for pair in raw.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k);
            let slot = match k.as_ref() {
                "signature" => &mut q.signature,
                "timestamp" => &mut q.timestamp,
                "nonce" => &mut q.nonce,
                "echostr" => &mut q.echostr,
                "encrypt_type" => &mut q.encrypt_type,
                "msg_signature" => &mut q.msg_signature,
                _ => continue,
            };
            if slot.replace(decode(v)).is_some() {
                return Err(Refusal::bad(
                    "duplicate_parameter",
                    format!("the query parameter `{k}` is given twice"),
                ));
            }
        }
        Ok(q)
    }

    /// The signed parameters, when all three are present.
    pub(super) fn signed(&self) -> Option<Signed<'_>> {
        Some(Signed {
            signature: self.signature.as_deref()?,
            timestamp: self.timestamp.as_deref()?,
            nonce: self.nonce.as_deref()?,
        })
    }

    /// Checks `signature` = sha1(sort(token, timestamp, nonce)) and, with `max_skew`, that the
    /// timestamp is within it of `now`.
    pub(super) fn check_signature(
        &self,
        token: &str,
        now: u64,
        max_skew: Option<Duration>,
    ) -> Result<(), Refusal> {
        let checked = self
            .signed()
            .ok_or(Refused::Signature)
            .and_then(|s| s.check(token, now, max_skew));
        match checked {
            Ok(()) => Ok(()),
            Err(Refused::Signature) => {
                warn!("signature check failed");
                Err(Refusal::Signature("signature"))
            }
            Err(Refused::Stale) => {
                warn!(
                    timestamp = self.timestamp.as_deref().unwrap_or(""),
                    "request refused: its timestamp is outside max_clock_skew"
                );
                Err(Refusal::Other {
                    status: StatusCode::FORBIDDEN,
                    reason: "stale_timestamp",
                    message: "the timestamp is too far from now".to_owned(),
                })
            }
        }
    }
}

/// One name or value of an `application/x-www-form-urlencoded` query, decoded: `+` is a space,
/// `%XX` a byte, and bytes that are not UTF-8 become U+FFFD (as `form_urlencoded` reads them).
/// Borrowed when there is nothing to decode, as in every query WeChat sends.
fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy();
    Cow::Owned(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_and_decoded() {
        let q = Query::parse(
            "signature=abc&timestamp=1&nonce=2&openid=oX&echostr=a%2Bb+c%E6%B5%81&&x&encrypt_type=aes",
        )
        .unwrap();
        assert_eq!(q.signature.as_deref(), Some("abc"));
        assert!(matches!(q.signature, Some(Cow::Borrowed(_))));
        assert_eq!(q.timestamp.as_deref(), Some("1"));
        assert_eq!(q.nonce.as_deref(), Some("2"));
        assert_eq!(q.echostr.as_deref(), Some("a+b c流"));
        assert_eq!(q.encrypt_type.as_deref(), Some("aes"));
        assert_eq!(q.msg_signature, None);
    }

    #[test]
    fn a_signed_parameter_given_twice_is_refused_however_it_is_spelled() {
        for raw in [
            "signature=a&signature=b",
            "nonce=1&timestamp=2&nonce=1",
            "signature=a&%73ignature=b",
            "echostr=&echostr",
        ] {
            assert!(Query::parse(raw).is_err(), "{raw}");
        }
        assert!(Query::parse("openid=a&openid=b&signature=x").is_ok());
    }

    proptest::proptest! {
        /// The decoding is form_urlencoded's, the crate every other reader of the query uses.
        #[test]
        fn decoding_agrees_with_form_urlencoded(s in "[a-z%+=&0-9A-F\\x{80}-\\x{10FFFF}]{0,24}") {
            let ours: Vec<(String, String)> = s
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k).into_owned(), decode(v).into_owned())
                })
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
