//! The URL `signature` WeChat puts on every request.
//!
//! `signature = hex(sha1(concat(sort([token, timestamp, nonce]))))`: the three strings sorted
//! byte-wise (not numerically), joined with no separator, hashed, lower-case hex
//! (PROTOCOL.md §1). The same construction over four strings, with the `Encrypt` element added,
//! gives safe mode's `msg_signature`, so [`sign`] takes any number of parts.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

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
