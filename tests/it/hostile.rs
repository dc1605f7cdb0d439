//! Hostile input against the server (in this process, served exactly as `replyd serve` serves
//! it): each request gets a 4xx or a correct answer, and a good request sent after it is still
//! answered. Slow clients cannot crowd good ones out.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::util::Target as _;
use crate::util::{Project, Server, TOKEN, fields, request, signed_query, text_message};

const RULES: &str = "[[rule]]\nid = \"hi\"\nmatch.exact = \"hi\"\nreply.text = \"hello\"\n";

/// A server on a one-rule project; keep the project alive as long as the server.
fn daemon(extra: &str) -> (Project, Server) {
    let p = Project::new(extra);
    p.rule_file("a.toml", RULES);
    let d = p.serve();
    (p, d)
}

/// Sends raw bytes and returns the status code of the first response (0 if the server closed
/// the connection without one).
fn raw(addr: SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn post_head(query: &str, length: usize) -> String {
    format!(
        "POST /wechat?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n"
    )
}

fn still_answers(d: &Server) {
    let r = d.post(&text_message("hi"));
    assert_eq!(
        (r.status, fields(&r.body)["xml/Content"].as_str()),
        (200, "hello")
    );
}

fn message_with(extra: &str) -> String {
    format!(
        "<xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>\
         <MsgType>text</MsgType><Content>hi</Content><MsgId>{}</MsgId>{extra}</xml>",
        crate::util::unique()
    )
}

#[test]
fn hostile_bodies_get_a_4xx_or_a_correct_answer() {
    let (_p, d) = daemon("max_body_bytes = 2000000");
    let q = signed_query(TOKEN);
    let post = |body: &[u8]| {
        let mut bytes = post_head(&q, body.len()).into_bytes();
        bytes.extend_from_slice(body);
        raw(d.addr, &bytes)
    };
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
        <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\
        <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\
        <xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>\
        <MsgType>text</MsgType><Content>&lol3;</Content></xml>";
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
        <xml><ToUserName>gh</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime>\
        <MsgType>text</MsgType><Content>&xxe;</Content></xml>";
    let deep = message_with(&format!(
        "{}{}",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    ));
    let deep_unclosed = message_with(&"<a>".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("billion laughs", laughs.into(), &[400]),
        ("XXE", xxe.into(), &[400]),
        ("100,000 nested elements", deep.into(), &[200]),
        ("100,000 unclosed elements", deep_unclosed.into(), &[400]),
        ("not UTF-8", b"<xml>\xff\xfe\xfd</xml>".to_vec(), &[400]),
        (
            "NUL bytes",
            message_with("<Label>\0\0\0</Label>").into(),
            &[200, 400],
        ),
        ("empty", Vec::new(), &[400]),
        ("wrong root", b"<html><body/></html>".to_vec(), &[400]),
        ("a root that never ends", b"<xml>".to_vec(), &[400]),
        (
            "huge CreateTime",
            message_with("")
                .replace("<CreateTime>1<", "<CreateTime>99999999999999999999999999<")
                .into(),
            &[400],
        ),
        (
            "negative CreateTime",
            message_with("")
                .replace("<CreateTime>1<", "<CreateTime>-1<")
                .into(),
            &[400],
        ),
        // Identifiers longer than WeChat's would cost the retry cache and the log.
        (
            "a 10,000-digit MsgId",
            message_with("")
                .replace("<MsgId>", &format!("<MsgId>{}", "9".repeat(10_000)))
                .into(),
            &[400],
        ),
        (
            "a 30 KB FromUserName",
            message_with("")
                .replace(
                    "<FromUserName>u",
                    &format!("<FromUserName>{}", "u".repeat(30_000)),
                )
                .into(),
            &[400],
        ),
        (
            "a 30 KB ToUserName",
            message_with("")
                .replace(
                    "<ToUserName>gh",
                    &format!("<ToUserName>{}", "g".repeat(30_000)),
                )
                .into(),
            &[400],
        ),
        (
            "a duplicated field",
            message_with("<Content>again</Content>").into(),
            &[400],
        ),
        (
            "controls in the text",
            message_with("")
                .replace("<Content>hi", "<Content>\u{1}\u{1d}hi")
                .into(),
            &[200],
        ),
    ];
    for (what, body, allowed) in cases {
        let (status, response) = post(&body);
        assert!(
            allowed.contains(&status),
            "{what}: {status}\n{}",
            &response[..response.len().min(500)]
        );
        assert!(!response.contains("root:"), "{what}: a file leaked");
        if status == 200 {
            // Whatever was sent, the reply is well-formed XML.
            let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
            if body != "success" {
                let _ = fields(body);
            }
        }
        still_answers(&d);
    }
}

#[test]
fn huge_bodies_huge_queries_duplicates_and_old_protocols() {
    let (_p, d) = daemon("");
    let q = signed_query(TOKEN);
    let twenty_mb = vec![b'x'; 20 << 20];

    // 20 MB announced: refused before it is read.
    let mut head = post_head(&q, twenty_mb.len()).into_bytes();
    head.extend_from_slice(&twenty_mb[..1024]);
    assert_eq!(raw(d.addr, &head).0, 413);
    // 20 MB chunked, without Content-Length: refused once the cap is passed.
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(
        format!("POST /wechat?{q} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .as_bytes(),
    );
    for chunk in twenty_mb.chunks(1 << 20) {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break; // the server answered and closed: good
        }
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        String::from_utf8_lossy(&out).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
    still_answers(&d);

    // A 100 KB query string: hyper refuses a URI that long (414) before replyd sees it; a
    // 30 KB one reaches replyd, which finds the signed parameters and answers.
    let body = text_message("hi");
    for (params, allowed) in [(10_000, &[414][..]), (3_000, &[200][..])] {
        let junk: String = (0..params).map(|i| format!("&x{i}=yyyy")).collect();
        let mut bytes = post_head(&format!("{q}{junk}"), body.len()).into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        let (status, _) = raw(d.addr, &bytes);
        assert!(
            allowed.contains(&status),
            "{} bytes of query: {status}",
            junk.len()
        );
        // Without a signature, the same junk is refused.
        let status = request(
            d.addr,
            "POST",
            &format!("/wechat?{}", &junk[1..]),
            &[],
            body.as_bytes(),
        )
        .status;
        assert!([403, 414].contains(&status), "{status}");
    }
    // Duplicated signed parameters.
    assert_eq!(
        request(
            d.addr,
            "POST",
            &format!("/wechat?{q}&timestamp=1"),
            &[],
            body.as_bytes()
        )
        .status,
        400
    );
    assert_eq!(
        request(
            d.addr,
            "POST",
            &format!("/wechat?{q}&signature=00"),
            &[],
            body.as_bytes()
        )
        .status,
        400
    );

    // HTTP/1.0.
    let mut bytes = format!(
        "POST /wechat?{q} HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    let (status, response) = raw(d.addr, &bytes);
    assert_eq!(status, 200, "{response}");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");

    // Pipelined: three requests in one write, three answers in order.
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut bytes = Vec::new();
    for (i, text) in ["hi", "nobody", "hi"].iter().enumerate() {
        let body = text_message(text);
        let close = if i == 2 { "Connection: close\r\n" } else { "" };
        bytes.extend(
            format!(
                "POST /wechat?{q} HTTP/1.1\r\nHost: x\r\n{close}Content-Length: {}\r\n\r\n",
                body.len()
            )
            .bytes(),
        );
        bytes.extend(body.bytes());
    }
    s.write_all(&bytes).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out.matches("HTTP/1.1 200").count(), 3, "{out}");
    let first = out.find("hello").unwrap();
    let transfer = out.find("transfer_customer_service").unwrap();
    let last = out.rfind("hello").unwrap();
    assert!(
        first < transfer && transfer < last,
        "answers out of order:\n{out}"
    );
    still_answers(&d);
}

#[test]
fn slow_clients_do_not_crowd_out_good_ones() {
    let (_p, d) = daemon("header_timeout_secs = 4\nbody_timeout_secs = 4");
    let q = signed_query(TOKEN);
    // 200 connections that trickle their head, 100 that trickle their body.
    let mut slow: Vec<TcpStream> = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(d.addr).unwrap();
        if i < 200 {
            s.write_all(b"POST /wechat?sig").unwrap();
        } else {
            s.write_all(
                post_head(&q, 1000)
                    .replace("Connection: close\r\n", "")
                    .as_bytes(),
            )
            .unwrap();
            s.write_all(b"<xml>").unwrap();
        }
        slow.push(s);
    }
    // While they hang on, good requests are answered.
    let start = Instant::now();
    for _ in 0..20 {
        still_answers(&d);
    }
    let answered_in = start.elapsed();
    // The slow ones are cut off: heads after header_timeout_secs, bodies after body_timeout_secs
    // (with 408).
    for (i, s) in slow.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut out = Vec::new();
        let ended = s.read_to_end(&mut out).is_ok();
        assert!(ended, "connection {i} was never closed");
        if i >= 200 {
            assert!(
                String::from_utf8_lossy(&out).starts_with("HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&out)
            );
        }
    }
    // The good requests did not wait for the slow ones to be cut off (after 4 s).
    assert!(
        answered_in < Duration::from_secs(4),
        "good requests waited {answered_in:?} behind slow clients"
    );
    still_answers(&d);
}

#[test]
fn max_clock_skew_refuses_replayed_requests() {
    let (_p, d) = daemon("max_clock_skew_secs = 300");
    still_answers(&d);
    let old = "1400000000";
    let sig = replyd::protocol::signature::sign(&[TOKEN, old, "1"]);
    let r = request(
        d.addr,
        "POST",
        &format!("/wechat?signature={sig}&timestamp={old}&nonce=1"),
        &[],
        text_message("hi").as_bytes(),
    );
    assert_eq!(r.status, 403);
    let r = request(
        d.addr,
        "GET",
        &format!("/wechat?signature={sig}&timestamp={old}&nonce=1&echostr=x"),
        &[],
        b"",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn request_targets_that_are_not_a_path_get_400_not_a_panic() {
    let (_p, d) = daemon("");
    for head in [
        "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n",
        "GET a:443 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "GET http://a/wechat HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    ] {
        let (status, text) = raw(d.addr, head.as_bytes());
        assert_eq!(status, 400, "{head:?} got {text:?}");
        assert!(text.contains("the request target must be a path"), "{text}");
    }
    still_answers(&d);
}

#[test]
fn a_client_that_sends_a_large_body_before_reading_still_reads_the_413() {
    // As Python's http.client does: the whole body first, then the response. The server must
    // not reset the connection while the client is still sending.
    let (_p, d) = daemon("");
    for size in [1 << 20, 10 << 20] {
        let body = vec![b'x'; size];
        let mut s = TcpStream::connect(d.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(post_head(&signed_query(TOKEN), size).as_bytes())
            .unwrap();
        let sent = s.write_all(&body);
        assert!(
            sent.is_ok(),
            "{size} bytes: the server reset the upload: {sent:?}"
        );
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 413"), "{size} bytes: {text:?}");
    }
    still_answers(&d);
}

#[test]
fn clients_that_never_read_their_answers_lose_their_connection() {
    // Two connection slots, both taken by clients that pipeline requests and never read the
    // answers: once a write has waited send_timeout_secs, the connection is closed and its
    // slot serves a good client.
    let (_p, d) = daemon("max_connections = 2\nsend_timeout_secs = 1");
    let pipelined: String = (0..3_000)
        .map(|_| {
            let body = message_with("");
            format!(
                "{}{body}",
                post_head_keep_alive(&signed_query(TOKEN), body.len())
            )
        })
        .collect();
    let hogs: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(d.addr).expect("connect");
            s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = s.write_all(pipelined.as_bytes());
            s
        })
        .collect();
    // Answered (request() fails on its 30 s read timeout otherwise).
    let r = request(
        d.addr,
        "POST",
        &format!("/wechat?{}", signed_query(TOKEN)),
        &[],
        text_message("hi").as_bytes(),
    );
    assert_eq!(r.status, 200);
    drop(hogs);
}

fn post_head_keep_alive(query: &str, length: usize) -> String {
    format!("POST /wechat?{query} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n")
}

#[test]
fn idle_keep_alive_connections_make_way_for_new_clients() {
    // Every slot is held by a keep-alive connection that sent one request and then idles
    // (well within the head timeout): a new client gets in, because the longest-idle
    // connections are closed to admit it.
    let (_p, d) = daemon("max_connections = 4\nheader_timeout_secs = 60");
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(d.addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let body = message_with("");
            s.write_all(
                format!(
                    "{}{body}",
                    post_head_keep_alive(&signed_query(TOKEN), body.len())
                )
                .as_bytes(),
            )
            .unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            s
        })
        .collect();
    // Answered (request() fails on its 30 s read timeout otherwise, the head timeout is 60 s).
    still_answers(&d);
    still_answers(&d);
    drop(idle);
}
