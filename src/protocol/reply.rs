//! Passive replies: a typed [`Reply`] → the XML WeChat expects (PROTOCOL.md §3).
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

impl Reply<'_> {
    /// The reply's `MsgType`.
    pub fn msg_type(&self) -> &'static str {
        match self {
            Reply::Text { .. } => "text",
            Reply::Image { .. } => "image",
            Reply::Voice { .. } => "voice",
            Reply::Video { .. } => "video",
            Reply::Music { .. } => "music",
            Reply::News { .. } => "news",
            Reply::Transfer { .. } => "transfer_customer_service",
        }
    }
}

/// Writes the reply XML.
///
/// `to_user` is the follower (the message's `FromUserName`), `from_user` the account (the
/// message's `ToUserName`), `create_time` seconds since the epoch.
pub fn render(reply: &Reply<'_>, to_user: &str, from_user: &str, create_time: u64) -> String {
    let mut w = Writer(String::with_capacity(256));
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
    }
    w.0.push_str("</xml>");
    w.0
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
    out.push_str("<![CDATA[");
    let mut rest = value;
    while let Some(i) = rest.find("]]>") {
        push_xml_chars(out, &rest[..i + 2]);
        out.push_str("]]><![CDATA[>");
        rest = &rest[i + 3..];
    }
    push_xml_chars(out, rest);
    out.push_str("]]>");
}

fn push_xml_chars(out: &mut String, s: &str) {
    if s.chars().all(is_xml_char) {
        out.push_str(s);
    } else {
        out.extend(s.chars().filter(|&c| is_xml_char(c)));
    }
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
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    path.push(e.name().into_inner().to_owned());
                    text.clear();
                }
                Event::CData(t) => text.push_str(&t.into_inner()),
                Event::Text(t) => text.push_str(&t.into_inner()),
                Event::End(_) => {
                    let p = path.join("/");
                    if !text.trim().is_empty() {
                        out.push((p, std::mem::take(&mut text)));
                    }
                    text.clear();
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
