//! Any `<Encrypt>` element, and any message to encrypt.
//!
//! Invariants: decrypting never panics, whatever the ciphertext; whatever is encrypted decrypts
//! back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replyd::protocol::crypto::Cipher;

fuzz_target!(|data: &[u8]| {
    let cipher = Cipher::new(
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "wx2c2769f8efd9abc2",
    )
    .expect("key");
    // As base64 text, and as raw ciphertext bytes encoded.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cipher.decrypt(text);
        let round = cipher.encrypt(text);
        assert_eq!(cipher.decrypt(&round).as_deref(), Ok(text));
    }
    let mut blocks = data.to_vec();
    blocks.truncate(data.len() / 16 * 16);
    let _ = cipher.decrypt(&base64_encode(&blocks));
});

/// Standard base64, padded (enough for the fuzzer; the crate's own encoder is what is tested).
fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
