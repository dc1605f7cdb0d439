//! The parser against the published samples and hostile bodies.

use super::*;

fn sample(name: &str) -> Message {
    let path = format!(
        "{}/tests/fixtures/messages/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn text() {
    let m = sample("text.xml");
    assert_eq!(m.to_user, "toUser");
    assert_eq!(m.from_user, "fromUser");
    assert_eq!(m.create_time, 1348831860);
    assert_eq!(m.msg_id.as_deref(), Some("1234567890123456"));
    assert_eq!(m.msg_type(), "text");
    assert_eq!(
        m.body,
        Body::Text {
            content: "this is a test".into()
        }
    );
}

#[test]
fn image() {
    assert_eq!(
        sample("image.xml").body,
        Body::Image {
            pic_url: "this is a url".into(),
            media_id: "media_id".into()
        }
    );
}

#[test]
fn voice_with_recognition() {
    assert_eq!(
        sample("voice.xml").body,
        Body::Voice {
            media_id: "media_id".into(),
            format: "Format".into(),
            recognition: Some("腾讯微信团队".into())
        }
    );
}

#[test]
fn video_and_shortvideo() {
    let expected = |v: bool| {
        let (media_id, thumb_media_id) = ("media_id".to_owned(), "thumb_media_id".to_owned());
        if v {
            Body::Video {
                media_id,
                thumb_media_id,
            }
        } else {
            Body::ShortVideo {
                media_id,
                thumb_media_id,
            }
        }
    };
    assert_eq!(sample("video.xml").body, expected(true));
    assert_eq!(sample("shortvideo.xml").body, expected(false));
}

#[test]
fn location() {
    assert_eq!(
        sample("location.xml").body,
        Body::Location {
            latitude: 23.134521,
            longitude: 113.358803,
            scale: 20.0,
            label: "位置信息".into()
        }
    );
}

#[test]
fn link() {
    assert_eq!(
        sample("link.xml").body,
        Body::Link {
            title: "公众平台官网链接".into(),
            description: "公众平台官网链接".into(),
            url: "url".into()
        }
    );
}

#[test]
fn events() {
    let cases: &[(&str, Event)] = &[
        (
            "event_subscribe.xml",
            Event::Subscribe {
                key: None,
                ticket: None,
            },
        ),
        (
            "event_subscribe_qrscene.xml",
            Event::Subscribe {
                key: Some("qrscene_123123".into()),
                ticket: Some("TICKET".into()),
            },
        ),
        (
            "event_scan.xml",
            Event::Scan {
                key: "SCENE_VALUE".into(),
                ticket: Some("TICKET".into()),
            },
        ),
        (
            "event_location.xml",
            Event::Location {
                latitude: 23.137466,
                longitude: 113.352425,
                precision: 119.38504,
            },
        ),
        (
            "event_click.xml",
            Event::Click {
                key: "EVENTKEY".into(),
            },
        ),
        (
            "event_view.xml",
            Event::View {
                key: "www.qq.com".into(),
                menu_id: Some("MENUID".into()),
            },
        ),
    ];
    for (file, expected) in cases {
        let m = sample(file);
        assert_eq!(m.msg_type(), "event", "{file}");
        assert_eq!(m.event(), Some(expected), "{file}");
        assert_eq!(m.msg_id, None, "{file}");
    }
}

#[test]
fn encrypted_bodies_give_their_encrypt_element() {
    let read = |name: &str| {
        let path = format!(
            "{}/tests/fixtures/messages/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        encrypted_part(&std::fs::read(path).unwrap()).unwrap()
    };
    assert!(read("encrypted_safe_mode.xml").is_some_and(|e| e.starts_with("rTNFcsut4LfG")));
    assert!(read("encrypted_compat_mode.xml").is_some_and(|e| e.starts_with("hyzAe4OzmOMb")));
    assert_eq!(read("text.xml"), None);
    assert_eq!(
        encrypted_part(b"<html/>"),
        Err(ParseError::WrongRoot("html".into()))
    );
}

#[test]
fn compatible_mode_body_reads_its_plaintext_fields() {
    let m = sample("encrypted_compat_mode.xml");
    assert_eq!(m.to_user, "gh_10f6c3c3ac5a");
    assert_eq!(m.msg_id.as_deref(), Some("6054768590064713728"));
    assert_eq!(
        m.body,
        Body::Text {
            content: "abcdteT".into()
        }
    );
}

#[test]
fn unsubscribe_and_unknown_names_are_carried_along() {
    let xml = |msg_type: &str, extra: &str| {
        format!(
            "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>{msg_type}</MsgType>{extra}</xml>"
        )
    };
    let m = parse(xml("event", "<Event>unsubscribe</Event>").as_bytes()).unwrap();
    assert_eq!(m.event(), Some(&Event::Unsubscribe));
    let m = parse(
        xml(
            "event",
            "<Event>scancode_push</Event><EventKey>6</EventKey>\
             <ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo>",
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        m.event(),
        Some(&Event::Other {
            name: "scancode_push".into(),
            key: Some("6".into()),
            detail: Detail::ScanCode {
                scan_type: "qrcode".into(),
                scan_result: "1".into()
            }
        })
    );
    let m = parse(xml("miniprogrampage", "<AppId>wx1</AppId>").as_bytes()).unwrap();
    assert_eq!(m.msg_type(), "miniprogrampage");
}

#[test]
fn a_blank_msg_id_is_no_msg_id() {
    for id in ["<MsgId></MsgId>", "<MsgId/>", "<MsgId> </MsgId>", ""] {
        let body = format!(
            "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content>{id}</xml>"
        );
        assert_eq!(parse(body.as_bytes()).unwrap().msg_id, None, "{id}");
    }
}

#[test]
fn text_keeps_markup_characters_and_whitespace_inside_cdata() {
    let body = "<xml><ToUserName><![CDATA[a]]></ToUserName><FromUserName><![CDATA[b]]></FromUserName>\
        <CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType>\
        <Content><![CDATA[ <a> & b ]]></Content></xml>";
    assert_eq!(
        parse(body.as_bytes()).unwrap().body,
        Body::Text {
            content: " <a> & b ".into()
        }
    );
}

#[test]
fn identifiers_longer_than_wechats_are_refused() {
    let body = |from: &str, id: &str| {
        format!(
            "<xml><ToUserName>gh_1</ToUserName><FromUserName>{from}</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content>\
             <MsgId>{id}</MsgId></xml>"
        )
    };
    let openid = "oFollower0123456789abcdefghi"; // 28, as WeChat's
    assert!(parse(body(openid, "6054768590064713728").as_bytes()).is_ok());
    assert!(parse(body(&"o".repeat(64), "1").as_bytes()).is_ok());
    assert_eq!(
        parse(body(&"o".repeat(30_000), "1").as_bytes()),
        Err(ParseError::TooLong {
            field: "FromUserName",
            len: 30_000,
            max: 64
        })
    );
    assert_eq!(
        parse(body(openid, &"9".repeat(65)).as_bytes())
            .unwrap_err()
            .reason(),
        "too_long"
    );
}

#[test]
fn bad_bodies_say_what_is_wrong() {
    let ok = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
              <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>x</Content></xml>";
    assert!(parse(ok.as_bytes()).is_ok());
    let cases: &[(&[u8], ParseError)] = &[
        (b"", ParseError::NoRoot),
        (b"hello", ParseError::NoRoot),
        (b"\xff\xfe<xml/>", ParseError::NotUtf8),
        (
            b"<!DOCTYPE xml [<!ENTITY a \"b\">]><xml></xml>",
            ParseError::Doctype,
        ),
        (b"<html></html>", ParseError::WrongRoot("html".into())),
        (b"<xml></xml>", ParseError::Missing("ToUserName")),
        (
            b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime></xml>",
            ParseError::Missing("MsgType"),
        ),
        (
            b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
            ParseError::NotANumber {
                field: "CreateTime",
                value: "soon".into(),
            },
        ),
        (
            b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>",
            ParseError::Missing("Event"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            parse(body).as_ref().err(),
            Some(expected),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Truncated and mismatched documents are XML errors.
    for body in [
        &ok[..ok.len() - 10],
        "<xml><ToUserName>a</FromUserName></xml>",
    ] {
        assert!(
            matches!(parse(body.as_bytes()), Err(ParseError::Xml(_))),
            "{body}"
        );
    }
}

#[test]
fn events_carry_their_fields() {
    let detail = |file: &str| match sample(file).body {
        Body::Event(Event::Other { detail, .. }) => detail,
        other => panic!("{file}: {other:?}"),
    };
    let cases: Vec<(&str, Detail)> = vec![
        (
            "event_scancode_push.xml",
            Detail::ScanCode {
                scan_type: "qrcode".into(),
                scan_result: "1".into(),
            },
        ),
        (
            "event_pic_sysphoto.xml",
            Detail::Pictures {
                count: 1,
                md5: vec!["1b5f7c23b5bf75682a53e7b6d163e185".into()],
            },
        ),
        (
            "event_location_select.xml",
            Detail::LocationSelect {
                latitude: "23".into(),
                longitude: "113".into(),
                scale: "15".into(),
                label: "广州市海珠区客村艺苑路 106号".into(),
                poiname: String::new(),
            },
        ),
        (
            "event_view_miniprogram.xml",
            Detail::Menu {
                menu_id: "MENUID".into(),
            },
        ),
        (
            "event_templatesendjobfinish.xml",
            Detail::Job {
                status: "success".into(),
            },
        ),
        (
            "event_kf_create_session.xml",
            Detail::Session {
                account: Some("test1@test".into()),
                from: None,
                to: None,
            },
        ),
        (
            "event_kf_switch_session.xml",
            Detail::Session {
                account: None,
                from: Some("test1@test".into()),
                to: Some("test2@test".into()),
            },
        ),
        (
            "event_subscribe_msg_popup.xml",
            Detail::Subscriptions(vec![
                Subscription {
                    template_id: "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc".into(),
                    status: "accept".into(),
                },
                Subscription {
                    template_id: "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI".into(),
                    status: "reject".into(),
                },
            ]),
        ),
    ];
    for (file, expected) in cases {
        let got = detail(file);
        assert_eq!(got, expected, "{file}");
        assert!(!got.fields().is_empty(), "{file}");
    }
    assert_eq!(
        detail("event_kf_switch_session.xml").fields(),
        vec![
            ("FromKfAccount", "test1@test".to_owned()),
            ("ToKfAccount", "test2@test".to_owned())
        ]
    );
}

#[test]
fn job_finished_events_are_identified_by_their_msg_id() {
    let m = sample("event_templatesendjobfinish.xml");
    assert_eq!(m.msg_id.as_deref(), Some("200163836"));
    // MsgId wins when both are present; a blank one gives way to MsgID.
    let body = |ids: &str| {
        format!(
            "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>event</MsgType>\
             <Event>MASSSENDJOBFINISH</Event>{ids}</xml>"
        )
    };
    let id = |ids: &str| parse(body(ids).as_bytes()).unwrap().msg_id;
    assert_eq!(id("<MsgID>7</MsgID>").as_deref(), Some("7"));
    assert_eq!(id("<MsgId>6</MsgId><MsgID>7</MsgID>").as_deref(), Some("6"));
    assert_eq!(id("<MsgId> </MsgId><MsgID>7</MsgID>").as_deref(), Some("7"));
    assert_eq!(
        parse(body(&format!("<MsgID>{}</MsgID>", "9".repeat(65))).as_bytes()),
        Err(ParseError::TooLong {
            field: "MsgID",
            len: 65,
            max: MAX_IDENTIFIER_BYTES
        })
    );
}

#[test]
fn whitespace_around_identifiers_is_not_part_of_them() {
    let body = "<xml>\n<ToUserName>\n<![CDATA[gh_1]]>\n</ToUserName>\n\
        <FromUserName> <![CDATA[oFollower]]>\t</FromUserName>\n\
        <CreateTime> 1 </CreateTime>\n<MsgType>\n<![CDATA[text]]>\n</MsgType>\n\
        <Content><![CDATA[ 流量 ]]></Content>\n<MsgId>\n 42 \n</MsgId>\n</xml>";
    let m = parse(body.as_bytes()).unwrap();
    assert_eq!(
        (m.to_user.as_str(), m.from_user.as_str()),
        ("gh_1", "oFollower")
    );
    assert_eq!(m.msg_id.as_deref(), Some("42"));
    // The content is the follower's: kept exactly.
    assert_eq!(
        m.body,
        Body::Text {
            content: " 流量 ".into()
        }
    );
    let event = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
        <CreateTime>1</CreateTime><MsgType>\n<![CDATA[event]]>\n</MsgType>\
        <Event>\n<![CDATA[CLICK]]>\n</Event><EventKey>\n<![CDATA[ABOUT_US]]>\n</EventKey></xml>";
    assert_eq!(
        parse(event.as_bytes()).unwrap().event(),
        Some(&Event::Click {
            key: "ABOUT_US".into()
        })
    );
}

/// A text message whose `<Content>` element is written as `content_xml`.
fn with_content(content_xml: &str) -> Result<Message, ParseError> {
    let body = format!(
        "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>\
         <CreateTime>1</CreateTime><MsgType>text</MsgType>{content_xml}</xml>"
    );
    parse(body.as_bytes())
}

fn content(content_xml: &str) -> String {
    match with_content(content_xml)
        .unwrap_or_else(|e| panic!("{content_xml}: {e}"))
        .body
    {
        Body::Text { content } => content,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_value_is_its_text_cdata_and_references_joined() {
    // Every way XML has of writing `<你好> & "hi"` reads as the same text.
    let written = [
        "<Content><![CDATA[<你好> & \"hi\"]]></Content>",
        "<Content>&lt;你好&gt; &amp; &quot;hi&quot;</Content>",
        "<Content>&lt;&#20320;&#x597D;&gt; &amp; \"hi\"</Content>",
        "<Content><![CDATA[<你]]>好&gt;<!-- a comment --> &amp;<?pi x?> <![CDATA[\"hi\"]]></Content>",
    ];
    for xml in written {
        assert_eq!(content(xml), "<你好> & \"hi\"", "{xml}");
    }
    // Nothing is trimmed; line ends are normalized as XML says.
    assert_eq!(content("<Content>  a\r\nb\r </Content>"), "  a\nb\n ");
    assert_eq!(content("<Content><![CDATA[ x\r\n ]]></Content>"), " x\n ");
    assert_eq!(content("<Content/>"), "");
    assert_eq!(content("<Content></Content>"), "");
    // An apostrophe entity and a character reference to a line end are characters like others.
    assert_eq!(content("<Content>it&apos;s&#10;</Content>"), "it's\n");
}

#[test]
fn elements_replyd_does_not_read_are_skipped_with_what_they_hold() {
    assert_eq!(
        content(
            "<Unknown a=\"1\">u<b>v<c/></b><Content>not this one</Content></Unknown>\
             <Content>hi</Content><Empty/><ArticleCount>2</ArticleCount>"
        ),
        "hi"
    );
    // Attributes are not read, on any element.
    assert_eq!(content("<Content lang=\"zh\">hi</Content>"), "hi");
}

#[test]
fn a_body_that_could_be_read_two_ways_is_refused() {
    let cases = [
        // The same field twice: replyd and a backend behind it could each take a different one.
        (
            "<Content>a</Content><Content>b</Content>",
            ParseError::Repeated("Content".into()),
        ),
        (
            "<Content>a</Content><ScanCodeInfo/><ScanCodeInfo/>",
            ParseError::Repeated("ScanCodeInfo".into()),
        ),
    ];
    for (xml, expected) in cases {
        assert_eq!(with_content(xml), Err(expected), "{xml}");
    }
    assert_eq!(
        ParseError::Repeated("Content".into()).to_string(),
        "<Content> appears twice"
    );
    for xml in [
        // An element where text belongs.
        "<Content>a<b>c</b></Content>",
        // An entity XML does not define (there is no DTD to define one), or a bad reference.
        "<Content>&nbsp;</Content>",
        "<Content>a</Content>&bogus;",
        "<Content>&#xFFFFFFFF;</Content>",
        // A malformed attribute: the tag is not well-formed.
        "<Content x>a</Content>",
        "<Content>a</Content><Other y/>",
    ] {
        assert!(
            matches!(with_content(xml), Err(ParseError::Xml(_))),
            "{xml}: {:?}",
            with_content(xml)
        );
    }
    // Text before the root element is not XML either.
    let body = "hi<xml><ToUserName>a</ToUserName></xml>";
    assert_eq!(
        parse(body.as_bytes()),
        Err(ParseError::Xml("text before the root element".into()))
    );
    // A lone root element is a message without fields.
    assert_eq!(parse(b"<xml/>"), Err(ParseError::Missing("ToUserName")));
    // A body that stops inside an element says which.
    assert_eq!(
        parse(b"<xml><ToUserName>a</ToUserName><Content>b"),
        Err(ParseError::Xml("the body ends inside <Content>".into()))
    );
}
