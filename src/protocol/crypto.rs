//! Safe mode (安全模式) and compatible mode (兼容模式): the message encryption of Tencent's
//! 消息加解密说明 (developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html).
//!
//! - key = base64(EncodingAESKey + "="), 32 bytes; IV = the key's first 16 bytes; AES-256-CBC
//!   with the cipher's own padding off.
//! - plaintext = 16 random bytes ‖ message length (4 bytes, big-endian) ‖ message ‖ AppID,
//!   padded PKCS#7-style to a multiple of **32** bytes, so a pad byte runs from 1 to 32 (a whole
//!   extra block of 32 when already aligned). A stock 16-byte PKCS#7 unpadder rejects WeChat's
//!   pad values 17..32, so the padding is handled here.
//! - `Encrypt` = base64(ciphertext); `msg_signature` = sha1 of the sorted token, timestamp,
//!   nonce and `Encrypt` ([`super::signature`]).
//!
//! The ciphers are the RustCrypto crates; nothing cryptographic is written here but the framing.

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};

use super::reply::push_cdata;
use super::signature;

/// WeChat's pad block: PKCS#7 over 32-byte blocks.
const PAD_BLOCK: usize = 32;

/// Base64 that accepts an EncodingAESKey: 43 letters and digits whose last character may carry
/// non-zero trailing bits (the key is random text, not canonical base64; Python and Java decode
/// it leniently, so must we).
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why an EncodingAESKey is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 43 characters long.
    #[error(
        "the EncodingAESKey has {0} characters; it has 43 (base64 of 32 bytes without the `=`)"
    )]
    Length(usize),
    /// 43 characters, but not base64 of 32 bytes.
    #[error("the EncodingAESKey is not base64: it is 43 letters, digits, `+` and `/`")]
    NotBase64,
}

/// Why an `Encrypt` element cannot be decrypted. Every one is a 400 for the HTTP client.
///
/// The checks on the decrypted plaintext (padding, length, AppID, UTF-8) carry nothing of the
/// plaintext, and the server answers them all alike ([`DecryptError::reveals_plaintext`]):
/// an answer that told them apart, or quoted a decrypted byte, would let whoever can sign a
/// request decrypt a captured message without the key (a padding oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// Not base64.
    #[error("Encrypt is not base64")]
    Base64,
    /// Not a whole number of AES blocks, or too short to hold the framing.
    #[error("the ciphertext is {0} bytes, not a whole number of 16-byte blocks of at least 32")]
    Blocks(usize),
    /// The pad byte is outside 1..=32, or the pad bytes differ (usually: the wrong key).
    #[error("the decrypted padding is not valid")]
    Padding,
    /// The length field runs past the end of the plaintext (usually: the wrong key).
    #[error("the decrypted length field runs past the end")]
    Length,
    /// The AppID inside the message is not ours.
    #[error("the decrypted AppID is not this account's")]
    AppId,
    /// The message is not UTF-8.
    #[error("the decrypted message is not UTF-8")]
    NotUtf8,
}

impl DecryptError {
    /// A short, stable name for metrics (`replyd_bad_requests_total{reason=…}`). The checks on
    /// the plaintext share one, since `/metrics` may be public.
    pub fn reason(&self) -> &'static str {
        match self {
            DecryptError::Base64 => "decrypt_base64",
            DecryptError::Blocks(_) => "decrypt_blocks",
            DecryptError::Padding
            | DecryptError::Length
            | DecryptError::AppId
            | DecryptError::NotUtf8 => "decrypt_failed",
        }
    }

    /// Which check failed, for the operator's log: `padding`, `length`, `app_id`, `utf8`
    /// (`base64` and `blocks` are about the ciphertext, which the client sent).
    pub fn check(&self) -> &'static str {
        match self {
            DecryptError::Base64 => "base64",
            DecryptError::Blocks(_) => "blocks",
            DecryptError::Padding => "padding",
            DecryptError::Length => "length",
            DecryptError::AppId => "app_id",
            DecryptError::NotUtf8 => "utf8",
        }
    }

    /// Whether the error is about the decrypted plaintext (and must not be told apart from the
    /// others of its kind in an answer).
    pub fn reveals_plaintext(&self) -> bool {
        !matches!(self, DecryptError::Base64 | DecryptError::Blocks(_))
    }
}

/// One account's message cipher: its AES key and AppID.
#[derive(Clone)]
pub struct Cipher {
    key: [u8; 32],
    app_id: String,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl Cipher {
    /// A cipher from the console's EncodingAESKey (43 characters) and the AppID.
    ///
    /// # Errors
    ///
    /// When the key is not 43 base64 characters that decode to 32 bytes.
    pub fn new(encoding_aes_key: &str, app_id: &str) -> Result<Cipher, KeyError> {
        let chars = encoding_aes_key.chars().count();
        if chars != 43 || encoding_aes_key.len() != 43 {
            return Err(KeyError::Length(chars));
        }
        let bytes = KEY_BASE64
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| KeyError::NotBase64)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::NotBase64)?;
        Ok(Cipher {
            key,
            app_id: app_id.to_owned(),
        })
    }

    /// Decrypts an `Encrypt` element into the message XML, and checks the AppID.
    ///
    /// # Errors
    ///
    /// A [`DecryptError`] saying what is wrong; never a panic, whatever the input.
    pub fn decrypt(&self, encrypt: &str) -> Result<String, DecryptError> {
        let mut buf = STANDARD
            .decode(encrypt.trim())
            .map_err(|_| DecryptError::Base64)?;
        if buf.len() < 32 || buf.len() % 16 != 0 {
            return Err(DecryptError::Blocks(buf.len()));
        }
        let blocks = buf.len();
        let plain = self
            .decryptor()
            .decrypt_padded::<NoPadding>(&mut buf)
            .map_err(|_| DecryptError::Blocks(blocks))?;
        let pad = usize::from(*plain.last().ok_or(DecryptError::Padding)?);
        if pad == 0
            || pad > PAD_BLOCK
            || pad > plain.len()
            || plain[plain.len() - pad..]
                .iter()
                .any(|&b| usize::from(b) != pad)
        {
            return Err(DecryptError::Padding);
        }
        let content = &plain[..plain.len() - pad];
        let framed = content.get(16..).ok_or(DecryptError::Padding)?;
        let len_bytes: [u8; 4] = framed
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(DecryptError::Padding)?;
        let len = u32::from_be_bytes(len_bytes);
        let rest = &framed[4..];
        let Some(message) = usize::try_from(len).ok().and_then(|n| rest.get(..n)) else {
            return Err(DecryptError::Length);
        };
        let app_id = &rest[message.len()..];
        if app_id != self.app_id.as_bytes() {
            return Err(DecryptError::AppId);
        }
        String::from_utf8(message.to_vec()).map_err(|_| DecryptError::NotUtf8)
    }

    /// Encrypts a message with the given 16-byte random prefix; returns the base64 `Encrypt`.
    pub fn encrypt_with(&self, message: &str, random: &[u8; 16]) -> String {
        let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut buf = Vec::with_capacity(20 + message.len() + self.app_id.len() + PAD_BLOCK);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(message.as_bytes());
        buf.extend_from_slice(self.app_id.as_bytes());
        let pad = PAD_BLOCK - buf.len() % PAD_BLOCK;
        buf.resize(buf.len() + pad, pad as u8);
        // Whole blocks already (32 is a multiple of AES's 16): CBC over the blocks as they are,
        // with no padding of the mode's own and nothing that can fail.
        let mut blocks: Vec<aes::Block> = buf
            .chunks_exact(16)
            .map(|chunk| {
                let mut block = aes::Block::default();
                block.copy_from_slice(chunk);
                block
            })
            .collect();
        self.encryptor().encrypt_blocks(&mut blocks);
        let encrypted: Vec<u8> = blocks.iter().flat_map(|b| b.iter().copied()).collect();
        STANDARD.encode(encrypted)
    }

    /// The IV is the key's first 16 bytes. The sizes are in the types: nothing here can fail.
    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    fn encryptor(&self) -> cbc::Encryptor<Aes256> {
        cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
    }

    fn decryptor(&self) -> cbc::Decryptor<Aes256> {
        cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
    }

    /// Encrypts a message with a fresh random prefix; returns the base64 `Encrypt`.
    pub fn encrypt(&self, message: &str) -> String {
        self.encrypt_with(message, &random_prefix())
    }

    /// Encrypts a reply with a fresh random prefix and wraps it in the envelope WeChat expects
    /// (`Encrypt`, `MsgSignature`, `TimeStamp`, `Nonce`).
    pub fn seal(&self, reply_xml: &str, token: &str, timestamp: u64, nonce: &str) -> String {
        envelope(&self.encrypt(reply_xml), token, timestamp, nonce)
    }
}

/// The ciphers to try on an incoming message: the current key, and during a key change the
/// previous one.
#[derive(Debug, Clone)]
pub struct Keys {
    /// From `encoding_aes_key`.
    pub current: Cipher,
    /// From `previous_encoding_aes_key`, while the console may still use it.
    pub previous: Option<Cipher>,
}

impl Keys {
    /// Decrypts with the current key, or else the previous one. Returns the message and the
    /// cipher that worked: the reply must be encrypted with the same key.
    ///
    /// # Errors
    ///
    /// The current key's error when no key decrypts the message.
    pub fn decrypt(&self, encrypt: &str) -> Result<(String, &Cipher), DecryptError> {
        match self.current.decrypt(encrypt) {
            Ok(m) => Ok((m, &self.current)),
            Err(e) => match &self.previous {
                Some(p) => p.decrypt(encrypt).map(|m| (m, p)).map_err(|_| e),
                None => Err(e),
            },
        }
    }
}

/// The encrypted reply envelope, with the `MsgSignature` over token, timestamp, nonce and
/// `Encrypt`.
pub fn envelope(encrypt: &str, token: &str, timestamp: u64, nonce: &str) -> String {
    let ts = timestamp.to_string();
    let sig = signature::sign(&[token, &ts, nonce, encrypt]);
    let mut out = String::with_capacity(encrypt.len() + 200);
    out.push_str("<xml>\n<Encrypt>");
    push_cdata(&mut out, encrypt);
    out.push_str("</Encrypt>\n<MsgSignature>");
    push_cdata(&mut out, &sig);
    out.push_str("</MsgSignature>\n<TimeStamp>");
    out.push_str(&ts);
    out.push_str("</TimeStamp>\n<Nonce>");
    push_cdata(&mut out, nonce);
    out.push_str("</Nonce>\n</xml>");
    out
}

/// 16 random letters and digits, as Tencent's sample and WxJava make them.
fn random_prefix() -> [u8; 16] {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock. The prefix only has to differ between
        // replies; its secrecy is not what protects the message.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    bytes.map(|b| ALPHABET[usize::from(b) % ALPHABET.len()])
}

/// A random nonce for an encrypted reply: ten digits.
pub fn random_nonce() -> String {
    let n = getrandom::u32().unwrap_or(0x5eed_1234);
    format!("{:010}", n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// crypto_vectors.md V1: Tencent's official sample.
    const V1_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const V1_ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
    const V1_PLAIN: &str = "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>";

    /// V3: easywechat's test (pad byte 21).
    const V3_ENCRYPT: &str = "rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==";

    /// V4: wechatpy's test (WeCom receive-id form: the corp id stands where the AppID does).
    const V4_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const V4_RECEIVER: &str = "wx49f0ab532d5d035a";

    #[test]
    fn official_sample_decrypts_and_re_encrypts_byte_for_byte() {
        let c = Cipher::new(V1_KEY, "wx2c2769f8efd9abc2").unwrap();
        assert_eq!(c.decrypt(V1_ENCRYPT).unwrap(), V1_PLAIN);
        // The sample's random prefix was 89465c840c5f116f.
        assert_eq!(c.encrypt_with(V1_PLAIN, b"89465c840c5f116f"), V1_ENCRYPT);
        assert_eq!(
            signature::sign(&["spamtest", "1409735669", "1320562132", V1_ENCRYPT]),
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        );
    }

    #[test]
    fn easywechat_vector_with_pad_21() {
        let c = Cipher::new(V1_KEY, "wxb11529c136998cb6").unwrap();
        let xml = c.decrypt(V3_ENCRYPT).unwrap();
        assert!(
            xml.contains("<Content><![CDATA[hello]]></Content>"),
            "{xml}"
        );
        assert_eq!(
            signature::sign(&["pamtest", "1458300676", "260774613", V3_ENCRYPT]),
            "4f3ad57b6989f09f4eb392acce4f9e93942ed890"
        );
    }

    #[test]
    fn wxjava_vectors_encrypt_deterministically() {
        // crypto_vectors.md V2: WxCryptUtilTest (random prefix "aaaabbbbccccdddd").
        let c = Cipher::new(V1_KEY, "wxb11529c136998cb6").unwrap();
        let encrypted = c.encrypt_with("我是中文abcd123", b"aaaabbbbccccdddd");
        assert_eq!(
            encrypted,
            "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
        );
        assert_eq!(c.decrypt(&encrypted).unwrap(), "我是中文abcd123");
        let reply = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
        let expected = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb";
        assert_eq!(c.encrypt_with(reply, b"aaaabbbbccccdddd"), expected);
        assert_eq!(c.decrypt(expected).unwrap(), reply);
    }

    #[test]
    fn wechatpy_encrypt_message_envelope() {
        let c = Cipher::new(V4_KEY, V4_RECEIVER).unwrap();
        let reply = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
        let encrypt = c.encrypt_with(reply, b"1234567890123456");
        assert_eq!(
            envelope(&encrypt, "123456", 1411525903, "461056294"),
            "<xml>\n<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>\n<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>"
        );
        let encrypted = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
        assert_eq!(
            signature::sign(&["123456", "1411525903", "461056294", encrypted]),
            "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
        );
        let xml = c.decrypt(encrypted).unwrap();
        assert!(
            xml.contains("<Content><![CDATA[test]]></Content>") && xml.contains("messense"),
            "{xml}"
        );
    }

    #[test]
    fn round_trips_at_every_padding_length() {
        let c = Cipher::new(V1_KEY, "wx2c2769f8efd9abc2").unwrap();
        // 20 framing bytes + message + 18-byte AppID: lengths 0..=64 cover pad values 1..=32.
        for n in 0..=64 {
            let message: String = "流".repeat(n / 3) + &"x".repeat(n % 3);
            let encrypted = c.seal(&message, "t", 1, "n");
            let inner = encrypted
                .split("<Encrypt><![CDATA[")
                .nth(1)
                .unwrap()
                .split("]]>")
                .next()
                .unwrap();
            assert_eq!(c.decrypt(inner).unwrap(), message, "length {n}");
        }
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let c = Cipher::new(V1_KEY, "wx2c2769f8efd9abc2").unwrap();
        let other_app = Cipher::new(V1_KEY, "wxOTHER").unwrap();
        let wrong_key = Cipher::new(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
            "wx2c2769f8efd9abc2",
        )
        .unwrap();
        assert_eq!(c.decrypt("not base64!"), Err(DecryptError::Base64));
        assert_eq!(c.decrypt(""), Err(DecryptError::Blocks(0)));
        assert_eq!(
            c.decrypt("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            Err(DecryptError::Blocks(23))
        );
        assert_eq!(
            c.decrypt(&STANDARD.encode([0u8; 48 + 5])),
            Err(DecryptError::Blocks(53))
        );
        assert_eq!(other_app.decrypt(V1_ENCRYPT), Err(DecryptError::AppId));
        assert!(matches!(
            wrong_key.decrypt(V1_ENCRYPT),
            Err(DecryptError::Padding
                | DecryptError::Length
                | DecryptError::AppId
                | DecryptError::NotUtf8)
        ));
        // Every ciphertext of whole blocks, random or crafted, gives an answer, not a panic.
        for blocks in 2..8 {
            for fill in [0u8, 1, 0x20, 0x7f, 0xff] {
                let _ = c.decrypt(&STANDARD.encode(vec![fill; blocks * 16]));
            }
        }
        // A length field that runs past the end: encrypt a frame whose length lies.
        let mut frame = b"0123456789abcdef".to_vec();
        frame.extend_from_slice(&1000u32.to_be_bytes());
        frame.extend_from_slice(b"<xml/>wx2c2769f8efd9abc2");
        let pad = 32 - frame.len() % 32;
        frame.resize(frame.len() + pad, pad as u8);
        let n = frame.len();
        let raw = cbc::Encryptor::<Aes256>::new_from_slices(&c.key, &c.key[..16])
            .unwrap()
            .encrypt_padded::<NoPadding>(&mut frame, n)
            .unwrap()
            .to_vec();
        assert_eq!(c.decrypt(&STANDARD.encode(raw)), Err(DecryptError::Length));
    }

    /// Nothing of the plaintext is in an error, and the checks on it share one metric reason.
    #[test]
    fn errors_about_the_plaintext_carry_none_of_it() {
        let plaintext_checks = [
            DecryptError::Padding,
            DecryptError::Length,
            DecryptError::AppId,
            DecryptError::NotUtf8,
        ];
        for e in plaintext_checks {
            assert!(e.reveals_plaintext());
            assert_eq!(e.reason(), "decrypt_failed");
        }
        let c = Cipher::new(V1_KEY, "wx2c2769f8efd9abc2").unwrap();
        let other_app = Cipher::new(V1_KEY, "wxSECRET_APPID_1234").unwrap();
        let e = c
            .decrypt(&other_app.encrypt("<xml>SECRET</xml>"))
            .unwrap_err();
        assert_eq!(e, DecryptError::AppId);
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn the_previous_key_decrypts_during_a_key_change() {
        let old = Cipher::new(V1_KEY, "wx2c2769f8efd9abc2").unwrap();
        let new = Cipher::new(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
            "wx2c2769f8efd9abc2",
        )
        .unwrap();
        let keys = Keys {
            current: new.clone(),
            previous: Some(old.clone()),
        };
        let (xml, used) = keys.decrypt(V1_ENCRYPT).unwrap();
        assert_eq!(xml, V1_PLAIN);
        assert_eq!(used.key, old.key);
        let fresh = new.encrypt_with("<xml/>", b"0123456789abcdef");
        assert_eq!(keys.decrypt(&fresh).unwrap().1.key, new.key);
        let only_new = Keys {
            current: new,
            previous: None,
        };
        assert!(only_new.decrypt(V1_ENCRYPT).is_err());
    }

    #[test]
    fn keys_must_be_43_base64_characters() {
        assert!(Cipher::new(V1_KEY, "x").is_ok());
        assert_eq!(Cipher::new("short", "x").err(), Some(KeyError::Length(5)));
        assert_eq!(
            Cipher::new(&"流".repeat(43), "x").err(),
            Some(KeyError::Length(43)),
            "43 characters, but not 43 bytes"
        );
        assert_eq!(
            Cipher::new(&"!".repeat(43), "x").err(),
            Some(KeyError::NotBase64)
        );
    }
}
