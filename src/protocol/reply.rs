//! Passive replies: a typed [`Reply`] → the XML WeChat expects (Tencent's 被动回复用户消息,
//! developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html).
//!
//! Every text value is written as CDATA. CDATA cannot contain `]]>`, so that sequence is split
//! across two sections (`]]]]><![CDATA[>`), which any XML parser joins back; `<` and `&` need
//! nothing inside CDATA. Characters XML 1.0 does not allow at all (C0 controls other than tab,
//! newline and carriage return, U+FFFE, U+FFFF) are dropped, because no escaping can carry them
//! and WeChat would reject the whole reply.
//!
//! "Nothing to say" is not a reply: the HTTP layer answers the body `success` for it.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;

/// A reply to one message. Strings borrow from the rule set when no template filled them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `text`.
    Text {
        /// `Content`; never empty (WeChat shows an error for an empty one).
        content: Cow<'a, str>,
    },
    /// `image`, a media id from the material API.
    Image {
        /// `MediaId`.
        media_id: Cow<'a, str>,
    },
    /// `voice`.
    Voice {
        /// `MediaId`.
        media_id: Cow<'a, str>,
    },
    /// `video`.
    Video {
        /// `MediaId`.
        media_id: Cow<'a, str>,
        /// `Title`.
        title: Option<Cow<'a, str>>,
        /// `Description`.
        description: Option<Cow<'a, str>>,
    },
    /// `music`.
    Music {
        /// `Title`.
        title: Option<Cow<'a, str>>,
        /// `Description`.
        description: Option<Cow<'a, str>>,
        /// `MusicUrl`.
        music_url: Option<Cow<'a, str>>,
        /// `HQMusicUrl`.
        hq_music_url: Option<Cow<'a, str>>,
        /// `ThumbMediaId`.
        thumb_media_id: Cow<'a, str>,
    },
    /// `news`: one to eight articles.
    News {
        /// The `Articles` items.
        articles: Vec<Article<'a>>,
    },
    /// `transfer_customer_service`: hand the message to the human agents.
    Transfer {
        /// A `KfAccount` (`prefix@account`) to hand it to one agent.
        kf_account: Option<Cow<'a, str>>,
    },
    /// `transfer_biz_ai_ivr`: hand the message to WeChat's AI reply for the account (switched
    /// on in the console; the envelope alone, like an untargeted transfer).
    Ai,
}

/// One item of a news reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article<'a> {
    /// `Title`.
    pub title: Cow<'a, str>,
    /// `Description`.
    pub description: Option<Cow<'a, str>>,
    /// `Url`: where a tap leads.
    pub url: Option<Cow<'a, str>>,
    /// `PicUrl`: the picture.
    pub pic_url: Option<Cow<'a, str>>,
}

/// The kind of a passive reply, named by its `MsgType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyKind {
    /// `text`.
    Text,
    /// `image`.
    Image,
    /// `voice`.
    Voice,
    /// `video`.
    Video,
    /// `music`.
    Music,
    /// `news`.
    News,
    /// `transfer_customer_service`.
    Transfer,
    /// `transfer_biz_ai_ivr`.
    Ai,
}

impl ReplyKind {
    /// Every kind.
    pub const ALL: [ReplyKind; 8] = [
        ReplyKind::Text,
        ReplyKind::Image,
        ReplyKind::Voice,
        ReplyKind::Video,
        ReplyKind::Music,
        ReplyKind::News,
        ReplyKind::Transfer,
        ReplyKind::Ai,
    ];

    /// The kind whose `MsgType` this is.
    pub fn parse(msg_type: &str) -> Option<ReplyKind> {
        ReplyKind::ALL
            .into_iter()
            .find(|k| k.msg_type() == msg_type)
    }

    /// The reply's `MsgType`.
    pub fn msg_type(self) -> &'static str {
        match self {
            ReplyKind::Text => "text",
            ReplyKind::Image => "image",
            ReplyKind::Voice => "voice",
            ReplyKind::Video => "video",
            ReplyKind::Music => "music",
            ReplyKind::News => "news",
            ReplyKind::Transfer => "transfer_customer_service",
            ReplyKind::Ai => "transfer_biz_ai_ivr",
        }
    }
}

impl Reply<'_> {
    /// The reply's kind.
    pub fn kind(&self) -> ReplyKind {
        match self {
            Reply::Text { .. } => ReplyKind::Text,
            Reply::Image { .. } => ReplyKind::Image,
            Reply::Voice { .. } => ReplyKind::Voice,
            Reply::Video { .. } => ReplyKind::Video,
            Reply::Music { .. } => ReplyKind::Music,
            Reply::News { .. } => ReplyKind::News,
            Reply::Transfer { .. } => ReplyKind::Transfer,
            Reply::Ai => ReplyKind::Ai,
        }
    }

    /// The reply's `MsgType`.
    pub fn msg_type(&self) -> &'static str {
        self.kind().msg_type()
    }
}

/// Writes the reply XML.
///
/// `to_user` is the follower (the message's `FromUserName`), `from_user` the account (the
/// message's `ToUserName`), `create_time` seconds since the epoch.
pub fn render(reply: &Reply<'_>, to_user: &str, from_user: &str, create_time: u64) -> String {
    // Room for a text reply of a few hundred characters without growing.
    let mut w = Writer(String::with_capacity(512));
    w.0.push_str("<xml>\n");
    w.cdata_element("ToUserName", to_user);
    w.cdata_element("FromUserName", from_user);
    // Writing to a String cannot fail.
    let _ = writeln!(w.0, "<CreateTime>{create_time}</CreateTime>");
    w.cdata_element("MsgType", reply.msg_type());
    match reply {
        Reply::Text { content } => w.cdata_element("Content", content),
        Reply::Image { media_id } => {
            w.0.push_str("<Image>\n");
            w.cdata_element("MediaId", media_id);
            w.0.push_str("</Image>\n");
        }
        Reply::Voice { media_id } => {
            w.0.push_str("<Voice>\n");
            w.cdata_element("MediaId", media_id);
            w.0.push_str("</Voice>\n");
        }
        Reply::Video {
            media_id,
            title,
            description,
        } => {
            w.0.push_str("<Video>\n");
            w.cdata_element("MediaId", media_id);
            w.optional("Title", title);
            w.optional("Description", description);
            w.0.push_str("</Video>\n");
        }
        Reply::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => {
            w.0.push_str("<Music>\n");
            w.optional("Title", title);
            w.optional("Description", description);
            w.optional("MusicUrl", music_url);
            w.optional("HQMusicUrl", hq_music_url);
            w.cdata_element("ThumbMediaId", thumb_media_id);
            w.0.push_str("</Music>\n");
        }
        Reply::News { articles } => {
            let _ = writeln!(w.0, "<ArticleCount>{}</ArticleCount>", articles.len());
            w.0.push_str("<Articles>\n");
            for a in articles {
                w.0.push_str("<item>\n");
                w.cdata_element("Title", &a.title);
                w.optional("Description", &a.description);
                w.optional("PicUrl", &a.pic_url);
                w.optional("Url", &a.url);
                w.0.push_str("</item>\n");
            }
            w.0.push_str("</Articles>\n");
        }
        Reply::Transfer { kf_account } => {
            if let Some(kf) = kf_account {
                w.0.push_str("<TransInfo>\n");
                w.cdata_element("KfAccount", kf);
                w.0.push_str("</TransInfo>\n");
            }
        }
        Reply::Ai => {}
    }
    w.0.push_str("</xml>");
    w.0
}

/// A reply read back from its XML: who it is for, who from, when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    /// `ToUserName`: the follower.
    pub to_user: String,
    /// `FromUserName`: the account.
    pub from_user: String,
    /// `CreateTime`.
    pub create_time: u64,
    /// The reply.
    pub reply: Reply<'static>,
}

/// Why a text is not a reply replyd could have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a passive reply: {0}")]
pub struct ReplyParseError(String);

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReplyWire {
    to_user_name: String,
    from_user_name: String,
    create_time: String,
    msg_type: String,
    content: Option<String>,
    image: Option<MediaWire>,
    voice: Option<MediaWire>,
    video: Option<VideoWire>,
    music: Option<MusicWire>,
    articles: Option<ArticlesWire>,
    trans_info: Option<TransWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MediaWire {
    media_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VideoWire {
    media_id: String,
    title: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MusicWire {
    title: Option<String>,
    description: Option<String>,
    music_url: Option<String>,
    #[serde(rename = "HQMusicUrl")]
    hq_music_url: Option<String>,
    thumb_media_id: String,
}

#[derive(Deserialize)]
struct ArticlesWire {
    #[serde(default)]
    item: Vec<ArticleWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArticleWire {
    title: String,
    description: Option<String>,
    pic_url: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransWire {
    kf_account: Option<String>,
}

/// Reads a reply back from its XML (what [`render`] writes, or what a server sends WeChat):
/// for `replyd send`, and to check that writing loses nothing.
///
/// # Errors
///
/// When the text is not XML, or not a passive reply of a known `MsgType`.
pub fn parse(xml: &str) -> Result<ParsedReply, ReplyParseError> {
    let w: ReplyWire = quick_xml::de::from_str(xml).map_err(|e| ReplyParseError(e.to_string()))?;
    let missing = |what: &str| ReplyParseError(format!("a {} reply without <{what}>", w.msg_type));
    let owned = |s: String| -> Cow<'static, str> { Cow::Owned(s) };
    let kind = ReplyKind::parse(&w.msg_type)
        .ok_or_else(|| ReplyParseError(format!("unknown MsgType {:?}", w.msg_type)))?;
    let reply = match kind {
        ReplyKind::Text => Reply::Text {
            content: owned(w.content.ok_or_else(|| missing("Content"))?),
        },
        ReplyKind::Image => Reply::Image {
            media_id: owned(w.image.ok_or_else(|| missing("Image"))?.media_id),
        },
        ReplyKind::Voice => Reply::Voice {
            media_id: owned(w.voice.ok_or_else(|| missing("Voice"))?.media_id),
        },
        ReplyKind::Video => {
            let v = w.video.ok_or_else(|| missing("Video"))?;
            Reply::Video {
                media_id: owned(v.media_id),
                title: v.title.map(owned),
                description: v.description.map(owned),
            }
        }
        ReplyKind::Music => {
            let m = w.music.ok_or_else(|| missing("Music"))?;
            Reply::Music {
                title: m.title.map(owned),
                description: m.description.map(owned),
                music_url: m.music_url.map(owned),
                hq_music_url: m.hq_music_url.map(owned),
                thumb_media_id: owned(m.thumb_media_id),
            }
        }
        ReplyKind::News => Reply::News {
            articles: w
                .articles
                .ok_or_else(|| missing("Articles"))?
                .item
                .into_iter()
                .map(|a| Article {
                    title: owned(a.title),
                    description: a.description.map(owned),
                    url: a.url.map(owned),
                    pic_url: a.pic_url.map(owned),
                })
                .collect(),
        },
        ReplyKind::Transfer => Reply::Transfer {
            kf_account: w.trans_info.and_then(|t| t.kf_account).map(owned),
        },
        ReplyKind::Ai => Reply::Ai,
    };
    Ok(ParsedReply {
        create_time: w.create_time.trim().parse().map_err(|_| {
            ReplyParseError(format!("CreateTime {:?} is not a number", w.create_time))
        })?,
        to_user: w.to_user_name,
        from_user: w.from_user_name,
        reply,
    })
}

struct Writer(String);

impl Writer {
    fn cdata_element(&mut self, name: &str, value: &str) {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        push_cdata(&mut self.0, value);
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push_str(">\n");
    }

    fn optional(&mut self, name: &str, value: &Option<Cow<'_, str>>) {
        if let Some(v) = value {
            self.cdata_element(name, v);
        }
    }
}

/// Appends `value` as one or more CDATA sections that an XML parser reads back as `value`
/// (less any character XML cannot carry).
pub fn push_cdata(out: &mut String, value: &str) {
    // Drop what XML cannot carry first: dropping it afterwards could join `]]` and `>` into a
    // `]]>` that ends the section early (found by fuzzing: "a]\u{1f}]>b").
    let value: Cow<'_, str> = if is_xml_text(value) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.chars().filter(|&c| is_xml_char(c)).collect())
    };
    out.push_str("<![CDATA[");
    let mut rest = value.as_ref();
    // Only a `]` (which may start a `]]>`) or a carriage return needs care.
    while let Some(i) = memchr::memchr2(b']', b'\r', rest.as_bytes()) {
        if rest.as_bytes()[i] == b'\r' {
            // A parser turns a carriage return inside CDATA into a line feed (XML's
            // end-of-line handling; found by fuzzing): write it as a character reference.
            out.push_str(&rest[..i]);
            out.push_str("]]>&#13;<![CDATA[");
            rest = &rest[i + 1..];
        } else if rest[i..].starts_with("]]>") {
            // `]]>` cannot be inside a section: end it after `]]`, start the next with `>`.
            out.push_str(&rest[..i + 2]);
            out.push_str("]]><![CDATA[>");
            rest = &rest[i + 3..];
        } else {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    out.push_str("]]>");
}

/// Whether XML 1.0 allows every character of `text`, read from its bytes without decoding
/// characters: in UTF-8 the only characters outside XML's `Char` are the C0 controls but tab,
/// line feed and carriage return (one byte each below 0x20), and U+FFFE and U+FFFF (EF BF BE,
/// EF BF BF); a `str` holds no surrogate.
fn is_xml_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    // No early exit: the compiler checks many bytes at a time.
    let controls = bytes.iter().fold(false, |found, &b| {
        found | (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    });
    !controls
        && memchr::memchr_iter(0xEF, bytes)
            .all(|i| !matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])))
}

/// Whether XML 1.0 allows the character in a document (its `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    /// Reads an XML document back into (element path, text) pairs, joining CDATA sections.
    fn read_back(xml: &str) -> Vec<(String, String)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut path: Vec<String> = Vec::new();
        let mut out: Vec<(String, String)> = Vec::new();
        let mut text = String::new();
        // Whether the element had data (CDATA or a reference), not only indentation.
        let mut data = false;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    path.push(e.name().into_inner().to_owned());
                    text.clear();
                    data = false;
                }
                Event::CData(t) => {
                    text.push_str(&t.into_inner());
                    data = true;
                }
                Event::Text(t) => text.push_str(&t.into_inner()),
                Event::GeneralRef(r) => {
                    text.extend(r.resolve_char_ref().unwrap());
                    data = true;
                }
                Event::End(_) => {
                    let p = path.join("/");
                    if data || !text.trim().is_empty() {
                        out.push((p, std::mem::take(&mut text)));
                    }
                    text.clear();
                    data = false;
                    path.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    fn field<'a>(fields: &'a [(String, String)], path: &str) -> &'a str {
        fields
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {path} in {fields:?}"))
    }

    #[test]
    fn text_reply_is_exactly_the_documented_shape() {
        let xml = render(
            &Reply::Text {
                content: "你好".into(),
            },
            "toUser",
            "fromUser",
            12345678,
        );
        assert_eq!(
            xml,
            "<xml>\n<ToUserName><![CDATA[toUser]]></ToUserName>\n\
             <FromUserName><![CDATA[fromUser]]></FromUserName>\n\
             <CreateTime>12345678</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n\
             <Content><![CDATA[你好]]></Content>\n</xml>"
        );
    }

    #[test]
    fn hostile_text_survives_unchanged() {
        for content in [
            "a ]]> b",
            "]]>",
            "]]]]>",
            "x]]>]]>y",
            "<b>bold</b> & &amp; ]]",
            "line 1\nline 2\r\n\ttab",
            "\r",
            "]]\r>",
            "a\r\r\nb",
            "<![CDATA[nested]]>",
        ] {
            let xml = render(
                &Reply::Text {
                    content: content.into(),
                },
                "u",
                "a",
                1,
            );
            let fields = read_back(&xml);
            assert_eq!(field(&fields, "xml/Content"), content, "{xml}");
        }
    }

    #[test]
    fn replies_read_back_as_written() {
        let reply = Reply::News {
            articles: vec![
                Article {
                    title: "a ]]> b".into(),
                    description: None,
                    url: Some("https://e.com/?a=1&b=2".into()),
                    pic_url: None,
                },
                Article {
                    title: "  spaced  ".into(),
                    description: Some("<&>".into()),
                    url: None,
                    pic_url: Some("p".into()),
                },
            ],
        };
        let parsed = parse(&render(&reply, "u", "a", 7)).unwrap();
        assert_eq!(
            (
                parsed.to_user.as_str(),
                parsed.from_user.as_str(),
                parsed.create_time
            ),
            ("u", "a", 7)
        );
        assert_eq!(parsed.reply, reply);
        assert!(parse("<xml><ToUserName>u</ToUserName></xml>").is_err());
        assert!(parse("success").is_err());
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let xml = render(
            &Reply::Text {
                content: "a\u{1d}b\u{0}c\u{FFFF}d".into(),
            },
            "u",
            "a",
            1,
        );
        assert_eq!(field(&read_back(&xml), "xml/Content"), "abcd");
    }

    /// Regression (fuzz target parse_message): a carriage return came back as a line feed.
    #[test]
    fn carriage_returns_survive_a_parser() {
        let reply = Reply::Text {
            content: "a\r\nb\rc]]\r>".into(),
        };
        let xml = render(&reply, "u\r", "a", 1);
        let parsed = parse(&xml).unwrap();
        assert_eq!(parsed.reply, reply, "{xml}");
        assert_eq!(parsed.to_user, "u\r");
    }

    /// The byte check agrees with the character check on every character, alone and amid
    /// others.
    #[test]
    fn text_is_checked_from_its_bytes_as_character_by_character() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFF_u32).filter_map(char::from_u32) {
            let one: &str = c.encode_utf8(&mut buf);
            assert_eq!(is_xml_text(one), is_xml_char(c), "{c:?}");
            let amid = format!("流量{c}，ok");
            assert_eq!(is_xml_text(&amid), is_xml_char(c), "{c:?}");
        }
        assert!(is_xml_text(""));
        assert!(is_xml_text("\u{FFFD}\u{FF0C}\u{EFBF}"));
    }

    /// Regression (fuzz target parse_message): a control character between `]` and `]>` was
    /// dropped after the `]]>` split, so the joined `]]>` ended the CDATA section early.
    #[test]
    fn dropping_a_character_never_makes_a_cdata_end() {
        for content in ["a]\u{1f}]>b", "]\u{0}]\u{1}>", "x]]\u{1d}>y"] {
            let xml = render(
                &Reply::Text {
                    content: content.into(),
                },
                "follower]\u{1}]>",
                "a",
                1,
            );
            let expected: String = content.chars().filter(|&c| is_xml_char(c)).collect();
            let fields = read_back(&xml);
            assert_eq!(field(&fields, "xml/Content"), expected, "{xml}");
            assert_eq!(field(&fields, "xml/ToUserName"), "follower]]>", "{xml}");
        }
    }

    #[test]
    fn every_reply_kind() {
        type Case<'a> = (Reply<'a>, &'a str, &'a [(&'a str, &'a str)]);
        let cases: Vec<Case<'_>> = vec![
            (
                Reply::Image {
                    media_id: "m1".into(),
                },
                "image",
                &[("xml/Image/MediaId", "m1")],
            ),
            (
                Reply::Voice {
                    media_id: "m2".into(),
                },
                "voice",
                &[("xml/Voice/MediaId", "m2")],
            ),
            (
                Reply::Video {
                    media_id: "m3".into(),
                    title: Some("t".into()),
                    description: Some("d".into()),
                },
                "video",
                &[
                    ("xml/Video/MediaId", "m3"),
                    ("xml/Video/Title", "t"),
                    ("xml/Video/Description", "d"),
                ],
            ),
            (
                Reply::Music {
                    title: Some("t".into()),
                    description: None,
                    music_url: Some("http://m/1.mp3".into()),
                    hq_music_url: Some("http://m/1-hq.mp3".into()),
                    thumb_media_id: "th".into(),
                },
                "music",
                &[
                    ("xml/Music/Title", "t"),
                    ("xml/Music/MusicUrl", "http://m/1.mp3"),
                    ("xml/Music/HQMusicUrl", "http://m/1-hq.mp3"),
                    ("xml/Music/ThumbMediaId", "th"),
                ],
            ),
            (
                Reply::News {
                    articles: vec![Article {
                        title: "关于我们".into(),
                        description: Some("d".into()),
                        url: Some("https://example.com/?a=1&b=2".into()),
                        pic_url: Some("https://example.com/a.jpg".into()),
                    }],
                },
                "news",
                &[
                    ("xml/ArticleCount", "1"),
                    ("xml/Articles/item/Title", "关于我们"),
                    ("xml/Articles/item/Description", "d"),
                    ("xml/Articles/item/Url", "https://example.com/?a=1&b=2"),
                    ("xml/Articles/item/PicUrl", "https://example.com/a.jpg"),
                ],
            ),
            (
                Reply::Transfer { kf_account: None },
                "transfer_customer_service",
                &[],
            ),
            (
                Reply::Transfer {
                    kf_account: Some("kf2001@gh_abc".into()),
                },
                "transfer_customer_service",
                &[("xml/TransInfo/KfAccount", "kf2001@gh_abc")],
            ),
        ];
        for (reply, msg_type, expected) in cases {
            let xml = render(&reply, "follower", "gh_account", 1700000000);
            let fields = read_back(&xml);
            assert_eq!(field(&fields, "xml/ToUserName"), "follower");
            assert_eq!(field(&fields, "xml/FromUserName"), "gh_account");
            assert_eq!(field(&fields, "xml/CreateTime"), "1700000000");
            assert_eq!(field(&fields, "xml/MsgType"), msg_type);
            for (path, value) in expected {
                assert_eq!(field(&fields, path), *value, "{xml}");
            }
        }
        let plain = render(&Reply::Transfer { kf_account: None }, "u", "a", 1);
        assert!(!plain.contains("TransInfo"), "{plain}");
        let music = render(
            &Reply::Music {
                title: None,
                description: None,
                music_url: None,
                hq_music_url: None,
                thumb_media_id: "th".into(),
            },
            "u",
            "a",
            1,
        );
        assert!(!music.contains("<Title>"), "{music}");
    }
}
