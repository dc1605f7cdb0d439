//! Serving WeChat: signed requests over loopback HTTP, to the server in this process (what the
//! HTTP layer does) and to the real binary (start-up, what it logs, how it refuses to start).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::util::{
    Daemon, Project, Server, TOKEN, Target, event_message, fields, replyd, request, signed_query,
    text_message,
};

/// The daemon on the shipped `replyd.toml` and `rules/`.
fn shipped() -> Daemon {
    let config = crate::util::repo().join("replyd.toml");
    Daemon::start(&["--config", config.to_str().expect("UTF-8 path")])
}

/// The server in this process on the shipped `replyd.toml` and `rules/`.
fn shipped_server() -> Server {
    Server::start(&crate::util::repo().join("replyd.toml"))
}

fn shipped_post(d: &impl Target, body: &str) -> crate::util::Response {
    // The shipped config's token, as a user would have it.
    let query = signed_query("replyd-local-token");
    d.post_with(&query, body)
}

#[test]
fn starts_on_the_shipped_config_and_logs_what_it_loaded() {
    let d = shipped();
    let log = d.log();
    for file in [
        "account.toml",
        "menu.toml",
        "orders.toml",
        "promo.toml",
        "service.toml",
        "welcome.toml",
    ] {
        assert!(
            log.contains(&format!("rules/{file}")),
            "{file} not in log:\n{log}"
        );
    }
    assert!(log.contains("loaded 17 rules from 6 files"), "{log}");
}

#[test]
fn url_check_echoes_only_a_signed_echostr() {
    let d = Project::new("")
        .rule_file("a.toml", "[[test]]\nsend = \"x\"\nexpect = \"transfer\"\n")
        .serve();
    let q = signed_query(TOKEN);
    let r = request(
        d.addr,
        "GET",
        &format!("/wechat?{q}&echostr=4375120948345356249"),
        &[],
        b"",
    );
    assert_eq!((r.status, r.body.as_str()), (200, "4375120948345356249"));

    let wrong = signed_query("not-the-token");
    let r = request(
        d.addr,
        "GET",
        &format!("/wechat?{wrong}&echostr=1"),
        &[],
        b"",
    );
    assert_eq!(r.status, 403);
    let r = request(d.addr, "GET", "/wechat?echostr=1", &[], b"");
    assert_eq!(r.status, 403);
    let r = request(d.addr, "GET", "/wechat", &[], b"");
    assert_eq!(r.status, 403);
}

#[test]
fn the_seed_keyword_gets_the_shipped_text_reply() {
    // Read before the server starts: its clock starts at the second it starts.
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let d = shipped_server();
    let r = shipped_post(&d, &text_message("流量"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.headers["content-type"].starts_with("application/xml"));
    let f = fields(&r.body);
    assert_eq!(f["xml/ToUserName"], "oFollower");
    assert_eq!(f["xml/FromUserName"], "gh_account");
    assert_eq!(f["xml/MsgType"], "text");
    assert_eq!(
        f["xml/Content"],
        "亲，送流量活动是……快点击【抢流量】来参加。"
    );
    let create_time: u64 = f["xml/CreateTime"].parse().unwrap();
    assert!(
        (before..before + 60).contains(&create_time),
        "CreateTime {create_time} is not now in seconds"
    );
}

#[test]
fn what_no_rule_answers_goes_to_customer_service() {
    let d = shipped_server();
    let f = fields(&shipped_post(&d, &text_message("你们几点关门？")).body);
    assert_eq!(f["xml/MsgType"], "transfer_customer_service");
    assert!(!f.contains_key("xml/TransInfo/KfAccount"));

    let f = fields(&shipped_post(&d, &text_message("VIP 客户")).body);
    assert_eq!(f["xml/MsgType"], "transfer_customer_service");
    assert_eq!(f["xml/TransInfo/KfAccount"], "kf2001@gh_abc");

    // A message type no rule answers is handed over too.
    let voice =
        std::fs::read_to_string(crate::util::repo().join("tests/fixtures/messages/voice.xml"))
            .unwrap();
    assert_eq!(
        fields(&shipped_post(&d, &voice).body)["xml/MsgType"],
        "transfer_customer_service"
    );
}

#[test]
fn events_get_their_rule_or_success() {
    let d = shipped_server();
    let f = fields(&shipped_post(&d, &event_message("subscribe", None)).body);
    assert!(f["xml/Content"].starts_with("欢迎关注"), "{f:?}");

    let f = fields(&shipped_post(&d, &event_message("CLICK", Some("ABOUT_US"))).body);
    assert_eq!(f["xml/MsgType"], "news");
    assert_eq!(f["xml/ArticleCount"], "2");
    assert_eq!(
        f["xml/Articles/item/Url"], "https://example.com/stores",
        "the last item read"
    );

    // A key without a rule of its own: the event rule without a key answers.
    let f = fields(&shipped_post(&d, &event_message("CLICK", Some("NEW_BUTTON"))).body);
    assert_eq!(f["xml/Content"], "该功能即将上线，敬请期待。");

    for (event, key) in [
        ("unsubscribe", None),
        ("VIEW", Some("https://example.com")),
        ("scancode_push", Some("6")),
    ] {
        let r = shipped_post(&d, &event_message(event, key));
        assert_eq!((r.status, r.body.as_str()), (200, "success"), "{event}");
    }
    // The published sample messages parse and are answered.
    for name in [
        "event_subscribe.xml",
        "event_subscribe_qrscene.xml",
        "event_scan.xml",
        "event_location.xml",
        "event_view.xml",
        "event_click.xml",
    ] {
        let body = std::fs::read_to_string(
            crate::util::repo()
                .join("tests/fixtures/messages")
                .join(name),
        )
        .unwrap();
        assert_eq!(shipped_post(&d, &body).status, 200, "{name}");
    }
}

/// Every matcher and every reply kind, through HTTP.
const EVERY_KIND: &str = r#"
[[rule]]
id = "exact"
match.exact = ["Hello", "你好"]
reply.text = "text <b> & ]]> end"

[[rule]]
id = "prefix"
match.prefix = "img"
reply.image = { media_id = "MEDIA_IMG" }

[[rule]]
id = "contains"
match.contains = "voice"
reply.voice = { media_id = "MEDIA_VOICE" }

[[rule]]
id = "regex"
match.regex = '^video (?P<what>\w+) (\d+)$'
reply.video = { media_id = "MEDIA_${2}", title = "about ${what}", description = "costs $$5" }

[[rule]]
id = "music"
match.exact = "music"
reply.music = { title = "t", description = "d", music_url = "http://m/a.mp3", hq_music_url = "http://m/a-hq.mp3", thumb_media_id = "THUMB" }

[[rule]]
id = "news"
match.exact = "news"
reply.news = [{ title = "N", description = "D", url = "https://e.com/?a=1&b=2", pic_url = "https://e.com/p.jpg" }]

[[rule]]
id = "to-agent"
match.exact = "agent"
reply.transfer = { kf_account = "kf1@gh_x" }

[[rule]]
id = "quiet"
match.exact = "quiet"
reply.none = true

[[rule]]
id = "sensitive"
match.exact = "ABC"
case_sensitive = true
reply.text = "upper"

[[rule]]
id = "disabled"
enabled = false
match.exact = "disabled"
reply.text = "never"

[[rule]]
id = "location"
match.msg_type = "location"
reply.text = "got your location"

[[rule]]
id = "view"
match.event = "VIEW"
reply.none = true
"#;

#[test]
fn every_matcher_and_reply_kind() {
    let p = Project::new("");
    p.rule_file("kinds.toml", EVERY_KIND);
    let d = p.start();
    let get = |text: &str| fields(&d.post(&text_message(text)).body);

    let f = get("  ＨＥＬＬＯ ");
    assert_eq!(
        (f["xml/MsgType"].as_str(), f["xml/Content"].as_str()),
        ("text", "text <b> & ]]> end")
    );
    assert_eq!(get("你好")["xml/Content"], "text <b> & ]]> end");
    assert_eq!(get("IMG_1234")["xml/Image/MediaId"], "MEDIA_IMG");
    assert_eq!(get("a Voice note")["xml/Voice/MediaId"], "MEDIA_VOICE");
    let f = get("video cats 42");
    assert_eq!(f["xml/Video/MediaId"], "MEDIA_42");
    assert_eq!(f["xml/Video/Title"], "about cats");
    assert_eq!(f["xml/Video/Description"], "costs $5");
    let f = get("MUSIC");
    assert_eq!(f["xml/Music/HQMusicUrl"], "http://m/a-hq.mp3");
    assert_eq!(f["xml/Music/ThumbMediaId"], "THUMB");
    let f = get("news");
    assert_eq!(f["xml/ArticleCount"], "1");
    assert_eq!(f["xml/Articles/item/Url"], "https://e.com/?a=1&b=2");
    assert_eq!(get("agent")["xml/TransInfo/KfAccount"], "kf1@gh_x");
    assert_eq!(d.post(&text_message("quiet")).body, "success");
    assert_eq!(get("ABC")["xml/Content"], "upper");
    assert_eq!(get("abc")["xml/MsgType"], "transfer_customer_service");
    assert_eq!(get("disabled")["xml/MsgType"], "transfer_customer_service");
    let location =
        std::fs::read_to_string(crate::util::repo().join("tests/fixtures/messages/location.xml"))
            .unwrap();
    assert_eq!(
        fields(&d.post(&location).body)["xml/Content"],
        "got your location"
    );
    assert_eq!(
        d.post(&event_message("VIEW", Some("https://x"))).body,
        "success"
    );

    let log = d.wait_for_log("rule=view");
    assert!(
        log.contains("disabled-rule"),
        "the disabled rule is reported at start-up:\n{log}"
    );
}

#[test]
fn bad_requests_get_4xx_and_disturb_nothing() {
    let p = Project::new("max_body_bytes = 2048");
    p.rule_file(
        "a.toml",
        "[[rule]]\nid = \"hi\"\nmatch.exact = \"hi\"\nreply.text = \"hello\"\n",
    );
    let d = p.serve();
    let q = signed_query(TOKEN);
    let post = |query: &str, body: &[u8], headers: &[(&str, &str)]| {
        request(d.addr, "POST", &format!("/wechat?{query}"), headers, body).status
    };
    let good = text_message("hi");

    // Unsigned, wrongly signed, signature for another token.
    assert_eq!(post("", good.as_bytes(), &[]), 403);
    assert_eq!(
        post("signature=0000&timestamp=1&nonce=2", good.as_bytes(), &[]),
        403
    );
    assert_eq!(post(&signed_query("other"), good.as_bytes(), &[]), 403);
    // Not XML, truncated XML, XML without MsgType, empty, a DOCTYPE, a wrong root.
    assert_eq!(post(&q, b"hello", &[]), 400);
    assert_eq!(post(&q, &good.as_bytes()[..good.len() - 12], &[]), 400);
    assert_eq!(post(&q, b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime></xml>", &[]), 400);
    assert_eq!(post(&q, b"", &[]), 400);
    assert_eq!(
        post(
            &q,
            b"<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml>&x;</xml>",
            &[]
        ),
        400
    );
    assert_eq!(post(&q, b"<html></html>", &[]), 400);
    assert_eq!(post(&q, b"\xff\xfe\x00<xml/>", &[]), 400);
    // Duplicated signed parameter.
    assert_eq!(post(&format!("{q}&nonce=2"), good.as_bytes(), &[]), 400);
    // Over max_body_bytes, announced by Content-Length, and chunked without one.
    let big = format!("<xml>{}</xml>", "x".repeat(4096));
    assert_eq!(post(&q, big.as_bytes(), &[]), 413);
    let chunked = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    assert_eq!(
        post(&q, chunked.as_bytes(), &[("Transfer-Encoding", "chunked")]),
        413
    );
    // Other methods and paths.
    let r = request(d.addr, "PUT", &format!("/wechat?{q}"), &[], good.as_bytes());
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, POST");
    assert_eq!(request(d.addr, "DELETE", "/wechat", &[], b"").status, 405);
    assert_eq!(request(d.addr, "GET", "/other", &[], b"").status, 404);

    // A small chunked body is read whole, and the daemon still answers good requests.
    let chunked = format!("{:x}\r\n{good}\r\n0\r\n\r\n", good.len());
    let r = request(
        d.addr,
        "POST",
        &format!("/wechat?{q}"),
        &[("Transfer-Encoding", "chunked")],
        chunked.as_bytes(),
    );
    assert_eq!(fields(&r.body)["xml/Content"], "hello");
    assert_eq!(fields(&d.post(&good).body)["xml/Content"], "hello");
}

#[test]
fn a_broken_rules_directory_stops_start_up_with_every_error() {
    let p = Project::new("");
    p.rule_file(
        "a.toml",
        "[[rule]]\nid = \"ok\"\nmatch.exact = \"x\"\nreply.text = \"y\"\n",
    );
    p.rule_file(
        "b.toml",
        "[[rule]]\nid = \"b\"\nmatch.exact = \"z\"\nreplay.text = \"oops\"\n",
    );
    p.rule_file(
        "sub/c.toml",
        "[[rule]]\nid = \"c\"\nmatch.regex = '(unclosed'\nreply.text = \"y\"\n",
    );
    let out = replyd()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(p.config())
        .output()
        .expect("run replyd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("b.toml:4:1: error[invalid-key]: unknown field `replay`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c.toml:3:15: error[invalid-regex]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("refusing to start: the rules have 2 errors"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

#[test]
fn a_missing_token_says_how_to_set_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("replyd.toml"), "rules = \".\"\n").unwrap();
    // Plain text on stderr even with JSON logs: a configuration error is for the person who
    // started the daemon, not for the log collector.
    let out = replyd()
        .args(["serve", "--log-format", "json", "--config"])
        .arg(dir.path().join("replyd.toml"))
        .output()
        .expect("run replyd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: no token is configured") && stderr.contains("REPLYD_TOKEN"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A blank token is no token.
    std::fs::write(
        dir.path().join("replyd.toml"),
        "rules = \".\"\ntoken = \" \"\n",
    )
    .unwrap();
    let out = replyd()
        .args(["serve", "--config"])
        .arg(dir.path().join("replyd.toml"))
        .output()
        .expect("run replyd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "replyd.toml:2:9: `token` is not valid: expected the console's Token, not blank"
        ),
        "{stderr}"
    );

    // The environment supplies it.
    let out = replyd()
        .args(["serve", "--listen", "not-an-address", "--config"])
        .arg(dir.path().join("replyd.toml"))
        .env("REPLYD_TOKEN", "t")
        .output()
        .expect("run replyd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: --listen: `listen` is not valid: expected an address"),
        "{stderr}"
    );
}

#[test]
fn the_shipped_sample_messages_are_answered_as_documented() {
    let d = shipped_server();
    // (file under examples/messages, MsgType of the reply or `success`)
    let cases = [
        ("text.xml", "text"),
        ("text_order.xml", "text"),
        ("image.xml", "text"),
        ("voice.xml", "transfer_customer_service"),
        ("video.xml", "transfer_customer_service"),
        ("shortvideo.xml", "transfer_customer_service"),
        ("location.xml", "transfer_customer_service"),
        ("link.xml", "transfer_customer_service"),
        ("event_subscribe.xml", "text"),
        ("event_subscribe_qrscene.xml", "text"),
        ("event_unsubscribe.xml", "success"),
        ("event_scan.xml", "success"),
        ("event_location.xml", "success"),
        ("event_click.xml", "news"),
        ("event_view.xml", "success"),
        ("event_scancode_waitmsg.xml", "success"),
    ];
    let dir = crate::util::repo().join("examples/messages");
    let listed = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "xml")
        })
        .count();
    assert_eq!(listed, cases.len(), "every sample is checked here");
    for (file, expected) in cases {
        let body = std::fs::read_to_string(dir.join(file)).unwrap();
        let r = shipped_post(&d, &body);
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        let got = if r.body == "success" {
            "success".to_owned()
        } else {
            fields(&r.body)["xml/MsgType"].clone()
        };
        assert_eq!(got, expected, "{file}");
    }
    let f = fields(
        &shipped_post(
            &d,
            &std::fs::read_to_string(dir.join("text_order.xml")).unwrap(),
        )
        .body,
    );
    assert_eq!(
        f["xml/Content"],
        "订单 20240611 正在处理中，发货后会通知您。"
    );
    let f = fields(
        &shipped_post(
            &d,
            &std::fs::read_to_string(dir.join("event_subscribe_qrscene.xml")).unwrap(),
        )
        .body,
    );
    assert!(f["xml/Content"].starts_with("欢迎光临门店"), "{f:?}");
}
