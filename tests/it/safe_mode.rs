//! Safe mode and compatible mode end to end: the published vectors posted to the real daemon,
//! its encrypted replies decrypted and checked, and every kind of bad input.

use replyd::protocol::crypto::Cipher;
use replyd::protocol::signature;

use crate::util::{
    Project, Server, TOKEN, Target, event_message, fields, request, safe_mode_request,
    signed_query, text_message,
};

/// The official sample's key (crypto_vectors.md V1, V2, V3).
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OTHER_KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";
const APP_ID: &str = "wx2c2769f8efd9abc2";
const HELLO: &str = "[[rule]]\nid = \"hello\"\nmatch.exact = [\"hello\", \"abcdteT\"]\nreply.text = \"你好 <&> ]]> !\"\n";

fn safe_project(extra: &str) -> Project {
    let p = Project::new(&format!(
        "app_id = \"{APP_ID}\"\nencoding_aes_key = \"{KEY}\"\n{extra}"
    ));
    p.rule_file("a.toml", HELLO);
    p
}

/// The server in this process, in safe mode.
fn safe_daemon(extra: &str) -> (Project, Server) {
    let p = safe_project(extra);
    let d = p.serve();
    (p, d)
}

/// Posts `plaintext` encrypted with `cipher` in safe mode.
fn post_encrypted(d: &impl Target, cipher: &Cipher, plaintext: &str) -> crate::util::Response {
    let encrypt = cipher.encrypt_with(plaintext, b"0123456789abcdef");
    let (query, body) = safe_mode_request(TOKEN, &encrypt);
    d.post_with(&query, &body)
}

/// Checks the envelope's signature and decrypts it with `cipher`.
fn open_reply(cipher: &Cipher, envelope: &str) -> String {
    let f = fields(envelope);
    let (encrypt, sig, ts, nonce) = (
        &f["xml/Encrypt"],
        &f["xml/MsgSignature"],
        &f["xml/TimeStamp"],
        &f["xml/Nonce"],
    );
    assert_eq!(
        signature::sign(&[TOKEN, ts, nonce, encrypt]),
        *sig,
        "MsgSignature"
    );
    cipher
        .decrypt(encrypt)
        .expect("the reply decrypts with the key and AppID")
}

#[test]
fn a_safe_mode_message_is_decrypted_and_its_reply_encrypted() {
    let (_p, d) = safe_daemon("");
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    let r = post_encrypted(&d, &cipher, &text_message("hello"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains("你好"),
        "the reply is encrypted: {}",
        r.body
    );
    let reply = fields(&open_reply(&cipher, &r.body));
    assert_eq!(reply["xml/Content"], "你好 <&> ]]> !");
    assert_eq!(reply["xml/ToUserName"], "oFollower");
    // A fall-through is encrypted too; `success` stays plaintext.
    let reply = fields(&open_reply(
        &cipher,
        &post_encrypted(&d, &cipher, &text_message("other")).body,
    ));
    assert_eq!(reply["xml/MsgType"], "transfer_customer_service");
    let r = post_encrypted(&d, &cipher, &event_message("unsubscribe", None));
    assert_eq!((r.status, r.body.as_str()), (200, "success"));
}

/// Posts a published safe-mode vector, exactly as published, to a daemon configured with its
/// token and AppID; checks the reply's envelope and returns the decrypted reply's fields.
fn post_published(
    token: &str,
    app_id: &str,
    fixture: &str,
    (ts, nonce, msg_signature): (&str, &str, &str),
) -> std::collections::HashMap<String, String> {
    let p = Project::new("");
    std::fs::write(
        p.config(),
        format!("token = \"{token}\"\nrules = \"rules\"\napp_id = \"{app_id}\"\nencoding_aes_key = \"{KEY}\"\n"),
    )
    .unwrap();
    p.rule_file("a.toml", HELLO);
    let d = p.serve();
    let body = std::fs::read_to_string(
        crate::util::repo()
            .join("tests/fixtures/messages")
            .join(fixture),
    )
    .unwrap();
    let query = format!(
        "signature={}&timestamp={ts}&nonce={nonce}&encrypt_type=aes&msg_signature={msg_signature}",
        signature::sign(&[token, ts, nonce])
    );
    let r = d.post_with(&query, &body);
    assert_eq!(r.status, 200, "{fixture}: {}", r.body);
    let f = fields(&r.body);
    assert_eq!(
        signature::sign(&[
            token,
            &f["xml/TimeStamp"],
            &f["xml/Nonce"],
            &f["xml/Encrypt"]
        ]),
        f["xml/MsgSignature"]
    );
    fields(
        &Cipher::new(KEY, app_id)
            .unwrap()
            .decrypt(&f["xml/Encrypt"])
            .unwrap(),
    )
}

#[test]
fn the_published_vectors_are_accepted() {
    // V1, Tencent's sample: a compatible-mode body (plaintext fields and <Encrypt>).
    let reply = post_published(
        "spamtest",
        APP_ID,
        "encrypted_compat_mode.xml",
        (
            "1409735669",
            "1320562132",
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        ),
    );
    assert_eq!(reply["xml/ToUserName"], "oyORnuP8q7ou2gfYjqLzSIWZf0rs");
    assert_eq!(reply["xml/FromUserName"], "gh_10f6c3c3ac5a");
    assert_eq!(reply["xml/Content"], "你好 <&> ]]> !");

    // V3, easywechat's safe-mode body (only <Encrypt>; pad byte 21). The message is `hello`.
    let reply = post_published(
        "pamtest",
        "wxb11529c136998cb6",
        "encrypted_safe_mode.xml",
        (
            "1458300676",
            "260774613",
            "4f3ad57b6989f09f4eb392acce4f9e93942ed890",
        ),
    );
    assert_eq!(reply["xml/Content"], "你好 <&> ]]> !");
    assert_eq!(reply["xml/ToUserName"], "asdasdasdsadasd");
}

#[test]
fn compatible_mode_keeps_plaintext_working_unless_encryption_is_required() {
    let (_p, d) = safe_daemon("");
    assert_eq!(
        fields(&d.post(&text_message("hello")).body)["xml/Content"],
        "你好 <&> ]]> !"
    );

    let (_p, d) = safe_daemon("require_encryption = true");
    assert_eq!(d.post(&text_message("hello")).status, 403);
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    assert_eq!(
        post_encrypted(&d, &cipher, &text_message("hello")).status,
        200
    );
}

#[test]
fn bad_encrypted_input_gets_403_or_400() {
    // The real binary: the test reads what it logs.
    let p = safe_project("");
    let d = p.start();
    let cipher = Cipher::new(KEY, APP_ID).unwrap();
    let good = cipher.encrypt_with(&text_message("hello"), b"0123456789abcdef");
    let post = |query: &str, body: &str| d.post_with(query, body).status;
    let (query, body) = safe_mode_request(TOKEN, &good);
    assert_eq!(post(&query, &body), 200);

    // msg_signature wrong, or missing.
    let (_, body_other) = safe_mode_request(
        TOKEN,
        &cipher.encrypt_with(&text_message("x"), b"0123456789abcdef"),
    );
    assert_eq!(
        post(&query, &body_other),
        403,
        "msg_signature over another Encrypt"
    );
    let without = query
        .split('&')
        .filter(|kv| !kv.starts_with("msg_signature="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(post(&without, &body), 403);
    // encrypt_type=aes with no <Encrypt>.
    assert_eq!(post(&query, &text_message("hello")), 400);
    // Each bad ciphertext, correctly signed so that only the decryption can fail.
    let wrong_app = Cipher::new(KEY, "wxSOMEONEELSE")
        .unwrap()
        .encrypt_with(&text_message("hello"), b"0123456789abcdef");
    let wrong_key = Cipher::new(OTHER_KEY, APP_ID)
        .unwrap()
        .encrypt_with(&text_message("hello"), b"0123456789abcdef");
    let not_xml = cipher.encrypt_with("not xml at all", b"0123456789abcdef");
    let not_a_number = cipher.encrypt_with(
        "<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>PLAINTEXT-SECRET</CreateTime><MsgType>text</MsgType></xml>",
        b"0123456789abcdef",
    );
    for (what, encrypt) in [
        ("not base64", "%%%not-base64%%%".to_owned()),
        (
            "not whole blocks",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
    ] {
        let (q, b) = safe_mode_request(TOKEN, &encrypt);
        let r = d.post_with(&q, &b);
        assert_eq!(r.status, 400, "{what}: {}", r.body);
    }
    // Whatever is wrong with the plaintext, the answer is the same, and quotes none of it: an
    // answer per check would be a padding oracle.
    let mut answers = Vec::new();
    for (what, encrypt) in [
        ("another AppID", wrong_app),
        ("another key", wrong_key),
        ("not XML inside", not_xml),
        ("a field that is not a number", not_a_number),
    ] {
        let (q, b) = safe_mode_request(TOKEN, &encrypt);
        let r = d.post_with(&q, &b);
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert!(
            !r.body.contains("SECRET") && !r.body.contains("wxSOMEONEELSE"),
            "{what}: {}",
            r.body
        );
        answers.push(r.body);
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:#?}");
    // And the daemon still answers.
    assert_eq!(post(&query, &body), 200);
    // The log says which check failed, and nothing decrypted.
    let log = d.wait_for_log("check=not_a_number");
    assert!(
        log.contains("cannot decrypt the message check=app_id"),
        "{log}"
    );
    assert!(
        !log.contains("SECRET") && !log.contains("wxSOMEONEELSE"),
        "decrypted bytes in the log:\n{log}"
    );
}

#[test]
fn the_previous_key_works_during_a_key_change() {
    let p = Project::new(&format!(
        "app_id = \"{APP_ID}\"\nencoding_aes_key = \"{OTHER_KEY}\"\nprevious_encoding_aes_key = \"{KEY}\""
    ));
    p.rule_file("a.toml", HELLO);
    let d = p.start();
    for key in [KEY, OTHER_KEY] {
        let cipher = Cipher::new(key, APP_ID).unwrap();
        let r = post_encrypted(&d, &cipher, &text_message("hello"));
        assert_eq!(r.status, 200, "{key}: {}", r.body);
        // The reply is encrypted with the key that the message came with.
        assert_eq!(
            fields(&open_reply(&cipher, &r.body))["xml/Content"],
            "你好 <&> ]]> !"
        );
    }
    // Logs are written by their own thread: wait for the line rather than race it.
    d.wait_for_log("previous_encoding_aes_key");
}

#[test]
fn the_url_check_is_plaintext_in_safe_mode_too() {
    let (_p, d) = safe_daemon("require_encryption = true");
    let r = request(
        d.addr,
        "GET",
        &format!("/wechat?{}&echostr=123", signed_query(TOKEN)),
        &[],
        b"",
    );
    assert_eq!((r.status, r.body.as_str()), (200, "123"));
}
