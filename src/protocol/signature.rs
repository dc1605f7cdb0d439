//! The URL `signature` WeChat puts on every request.
//!
//! `signature = hex(sha1(concat(sort([token, timestamp, nonce]))))`: the three strings sorted
//! byte-wise (not numerically), joined with no separator, hashed, lower-case hex (Tencent's
//! 接入指南, "验证消息的确来自微信服务器"). The same construction over four strings, with the
//! `Encrypt` element added, gives safe mode's `msg_signature`, so [`sign`] takes any number of
//! parts.
//!
//! [`Signed`] is the signed part of the URL's query: the server checks it with
//! [`Signed::check`], and `replyd send` writes it with [`Signed::query`], so both sides use
//! the same code.

use std::time::Duration;

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// The signed parameters of a request's query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed<'a> {
    /// `signature`.
    pub signature: &'a str,
    /// `timestamp`, seconds since the epoch as WeChat wrote it.
    pub timestamp: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
}

/// Why a signed query is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The signature does not match the token, timestamp and nonce.
    #[error("the signature does not verify")]
    Signature,
    /// The timestamp is further from now than the allowed skew (a replay, or a clock far off).
    #[error("the timestamp is too far from now")]
    Stale,
}

impl Signed<'_> {
    /// `signature=…&timestamp=…&nonce=…` for the token, as WeChat writes it.
    pub fn query(token: &str, timestamp: u64, nonce: &str) -> String {
        let timestamp = timestamp.to_string();
        let signature = sign(&[token, &timestamp, nonce]);
        format!("signature={signature}&timestamp={timestamp}&nonce={nonce}")
    }

    /// Checks the signature against `token` and, with `max_skew`, that the timestamp is
    /// within it of `now` (seconds since the epoch): a replayed request is refused once it is
    /// old. Pure: the caller says what time it is.
    ///
    /// # Errors
    ///
    /// [`Refused::Signature`] or [`Refused::Stale`].
    pub fn check(&self, token: &str, now: u64, max_skew: Option<Duration>) -> Result<(), Refused> {
        if !verify(self.signature, &[token, self.timestamp, self.nonce]) {
            return Err(Refused::Signature);
        }
        if let Some(skew) = max_skew {
            let sent: Option<u64> = self.timestamp.parse().ok();
            if sent.is_none_or(|t| now.abs_diff(t) > skew.as_secs()) {
                return Err(Refused::Stale);
            }
        }
        Ok(())
    }
}

/// Computes the signature of `parts`: sorted, concatenated, SHA-1, lower-case hex.
pub fn sign(parts: &[&str]) -> String {
    // 40 hex digits are ASCII.
    String::from_utf8_lossy(&digest_hex(parts)).into_owned()
}

/// Checks a signature received from WeChat against the one computed from `parts`, in constant
/// time. Upper-case hex is accepted; anything that is not 40 hex digits is not. Allocates
/// nothing: it runs on every request.
pub fn verify(received: &str, parts: &[&str]) -> bool {
    let expected = digest_hex(parts);
    let received = received.as_bytes();
    if received.len() != expected.len() {
        return false;
    }
    let mut lower = [0u8; 40];
    for (l, r) in lower.iter_mut().zip(received) {
        *l = r.to_ascii_lowercase();
    }
    bool::from(lower.ct_eq(&expected))
}

/// The lower-case hex SHA-1 of the sorted, concatenated parts.
fn digest_hex(parts: &[&str]) -> [u8; 40] {
    let mut hasher = Sha1::new();
    // WeChat signs three or four parts; sort them on the stack.
    let mut sorted = [""; 8];
    if parts.len() <= sorted.len() {
        sorted[..parts.len()].copy_from_slice(parts);
        let sorted = &mut sorted[..parts.len()];
        sorted.sort_unstable();
        sorted.iter().for_each(|p| hasher.update(p.as_bytes()));
    } else {
        let mut sorted = parts.to_vec();
        sorted.sort_unstable();
        sorted.iter().for_each(|p| hasher.update(p.as_bytes()));
    }
    let mut out = [0u8; 40];
    // The buffer is exactly twice the digest's 20 bytes, so encoding cannot fail.
    let _ = hex::encode_to_slice(hasher.finalize(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_is_max_skew_either_side_of_now() {
        let token = "t";
        let query = Signed::query(token, 1_000, "n");
        assert_eq!(
            query,
            format!(
                "signature={}&timestamp=1000&nonce=n",
                sign(&[token, "1000", "n"])
            )
        );
        let signed = |timestamp| Signed {
            signature: Box::leak(sign(&[token, timestamp, "n"]).into_boxed_str()),
            timestamp,
            nonce: "n",
        };
        let skew = Some(Duration::from_secs(300));
        // (timestamp, now, outcome)
        let cases = [
            ("1000", 1_000, Ok(())),
            ("1000", 1_300, Ok(())),
            ("1000", 700, Ok(())),
            ("1000", 1_301, Err(Refused::Stale)),
            ("1000", 699, Err(Refused::Stale)),
            ("soon", 1_000, Err(Refused::Stale)),
        ];
        for (timestamp, now, outcome) in cases {
            assert_eq!(
                signed(timestamp).check(token, now, skew),
                outcome,
                "{timestamp} at {now}"
            );
        }
        // Without a skew, any time is accepted; a wrong token never is.
        assert_eq!(signed("1000").check(token, 9_999_999, None), Ok(()));
        assert_eq!(
            signed("1000").check("other", 1_000, skew),
            Err(Refused::Signature)
        );
    }

    /// The published vectors of `vectors/crypto_vectors.md` §V5: (token, timestamp, nonce,
    /// signature).
    const V5: &[(&str, &str, &str, &str)] = &[
        (
            "test",
            "1410685589",
            "test",
            "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
        ),
        (
            "789",
            "456",
            "123",
            "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
        ),
        ("a", "b", "c", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "AAAAA",
            "1714036504",
            "1514711492",
            "f464b24fc39322e44b38aa78f5edd27bd1441696",
        ),
        (
            "AAAAA",
            "1714037059",
            "486452656",
            "899cf89e464efb63f54ddac96b0a0a235f53aa78",
        ),
        (
            "test_token",
            "1434295379",
            "ueivlkyhvdng46da0qxr52qzcjabjmo7",
            "41f929117dd6231a953f632cfb3be174b8e3ef08",
        ),
    ];

    #[test]
    fn published_vectors_sign_and_verify() {
        for &(token, timestamp, nonce, expected) in V5 {
            assert_eq!(
                sign(&[token, timestamp, nonce]),
                expected,
                "{token}/{timestamp}/{nonce}"
            );
            assert!(verify(expected, &[token, timestamp, nonce]));
            assert!(verify(&expected.to_uppercase(), &[token, timestamp, nonce]));
        }
    }

    #[test]
    fn order_of_parts_does_not_matter() {
        assert_eq!(sign(&["c", "a", "b"]), sign(&["a", "b", "c"]));
    }

    #[test]
    fn wrong_signatures_are_rejected() {
        let parts = ["test", "1410685589", "test"];
        // One digit off, truncated, empty, not hex, wrong nonce.
        assert!(!verify("f21891de399b4e33a1a93c9a7b8a8fffb5a443fe", &parts));
        assert!(!verify("f21891de399b4e33a1a93c9a7b8a8fffb5a443f", &parts));
        assert!(!verify("", &parts));
        assert!(!verify("zz1891de399b4e33a1a93c9a7b8a8fffb5a443ff", &parts));
        assert!(!verify(
            "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
            &["test", "1410685589", "tesu"]
        ));
    }

    #[test]
    fn four_part_msg_signature_vector() {
        // crypto_vectors.md V1: msg_signature over token, timestamp, nonce and Encrypt.
        let encrypt = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
        assert_eq!(
            sign(&["spamtest", "1409735669", "1320562132", encrypt]),
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        );
    }
}
