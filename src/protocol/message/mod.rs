//! Incoming messages: WeChat's XML body → a typed [`Message`].
//!
//! The XML is split into tokens (`tokens.rs`) and read by a pull reader over them (`xml.rs`)
//! into a flat `Wire`
//! struct whose fields are all optional strings (`wire.rs`: WeChat wraps some numbers in CDATA
//! and some not, so every value is read as text and converted here). Elements replyd does not
//! know are skipped; an unknown `MsgType` or `Event` is kept with its raw name ([`Body::Other`],
//! [`Event::Other`]) and never rejected. A DOCTYPE (the door to entity expansion and XXE) is
//! refused, and the root element must be `<xml>`.

use super::vocab::{EventKind, MsgType};

mod detail;
mod tokens;
mod wire;
mod xml;

pub use detail::{Detail, Subscription};
use wire::{Wire, WireDetail};

/// Why a body is not a message replyd can answer. Each is a 400 for the HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not UTF-8.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// The body is not well-formed XML (or is truncated).
    #[error("the body is not well-formed XML: {0}")]
    Xml(String),
    /// The body declares a DOCTYPE; WeChat never sends one and replyd does not read DTDs.
    #[error("a DOCTYPE declaration is not allowed")]
    Doctype,
    /// The body has no root element.
    #[error("the body has no XML element")]
    NoRoot,
    /// The root element is not `<xml>`.
    #[error("the root element is <{0}>, not <xml>")]
    WrongRoot(String),
    /// An element replyd reads appears twice: replyd and a backend behind it could read the
    /// body two ways.
    #[error("<{0}> appears twice")]
    Repeated(String),
    /// A field every message carries is missing or empty.
    #[error("the message has no <{0}>")]
    Missing(&'static str),
    /// An identifier field is longer than any WeChat sends (OpenIDs are 28 characters,
    /// account ids about 15, MsgIds 20 digits).
    #[error("<{field}> is {len} bytes; WeChat's are at most {max}")]
    TooLong {
        /// The element's name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// A numeric field does not hold a number.
    #[error("<{field}> is not a number: {value:?}")]
    NotANumber {
        /// The element's name.
        field: &'static str,
        /// What it held (cut to 40 characters).
        value: String,
    },
}

impl ParseError {
    /// A short, stable name for metrics (`replyd_bad_requests_total{reason=…}`).
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::NotUtf8 => "not_utf8",
            ParseError::Xml(_) => "not_xml",
            ParseError::Doctype => "doctype",
            ParseError::NoRoot => "no_root",
            ParseError::WrongRoot(_) => "wrong_root",
            ParseError::Repeated(_) => "repeated_field",
            ParseError::Missing(_) => "missing_field",
            ParseError::TooLong { .. } => "too_long",
            ParseError::NotANumber { .. } => "not_a_number",
        }
    }
}

/// A message or event from a follower, as WeChat posts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `ToUserName`: the account's original id (`gh_…`). A reply's `FromUserName`.
    pub to_user: String,
    /// `FromUserName`: the follower's OpenID. A reply's `ToUserName`.
    pub from_user: String,
    /// `CreateTime`, seconds since the epoch.
    pub create_time: u64,
    /// `MsgId`, or `MsgID` (capital D) on the job-finished events: what tells two messages of
    /// one follower in one second apart. User messages have one, most events do not. Kept as
    /// text: it is an opaque id; a blank one is `None`.
    pub msg_id: Option<String>,
    /// What was sent.
    pub body: Body,
}

/// The type-specific part of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `text`.
    Text {
        /// `Content`, exactly as sent.
        content: String,
    },
    /// `image`.
    Image {
        /// `PicUrl`.
        pic_url: String,
        /// `MediaId`.
        media_id: String,
    },
    /// `voice`.
    Voice {
        /// `MediaId`.
        media_id: String,
        /// `Format` (amr, speex, …).
        format: String,
        /// `Recognition`, when speech recognition is on for the account.
        recognition: Option<String>,
    },
    /// `video`.
    Video {
        /// `MediaId`.
        media_id: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
    },
    /// `shortvideo`.
    ShortVideo {
        /// `MediaId`.
        media_id: String,
        /// `ThumbMediaId`.
        thumb_media_id: String,
    },
    /// `location`.
    Location {
        /// `Location_X` (latitude).
        latitude: f64,
        /// `Location_Y` (longitude).
        longitude: f64,
        /// `Scale`, the map zoom.
        scale: f64,
        /// `Label`, the place's name.
        label: String,
    },
    /// `link`.
    Link {
        /// `Title`.
        title: String,
        /// `Description`.
        description: String,
        /// `Url`.
        url: String,
    },
    /// `event`.
    Event(Event),
    /// A `MsgType` replyd does not know, kept by name.
    Other {
        /// The raw `MsgType`.
        msg_type: String,
    },
}

/// An event (`MsgType` `event`).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `subscribe`; with a key `qrscene_…` and a ticket when the follow came from a QR code.
    Subscribe {
        /// `EventKey`.
        key: Option<String>,
        /// `Ticket`.
        ticket: Option<String>,
    },
    /// `unsubscribe`.
    Unsubscribe,
    /// `SCAN`: a follower scanned a parametric QR code.
    Scan {
        /// `EventKey`: the scene value.
        key: String,
        /// `Ticket`.
        ticket: Option<String>,
    },
    /// `LOCATION`: the follower's position, reported on entering the chat.
    Location {
        /// `Latitude`.
        latitude: f64,
        /// `Longitude`.
        longitude: f64,
        /// `Precision`.
        precision: f64,
    },
    /// `CLICK`: a menu button.
    Click {
        /// `EventKey`: the button's key.
        key: String,
    },
    /// `VIEW`: a menu link.
    View {
        /// `EventKey`: the URL.
        key: String,
        /// `MenuId`.
        menu_id: Option<String>,
    },
    /// Any other event, kept by name with its key if it has one and the fields it carries.
    Other {
        /// The raw `Event`.
        name: String,
        /// `EventKey`.
        key: Option<String>,
        /// What else it carries.
        detail: Detail,
    },
}

impl Message {
    /// The `MsgType` as WeChat names it: `text`, `image`, …, `event`, or the unknown raw name.
    pub fn msg_type(&self) -> &str {
        match &self.body {
            Body::Other { msg_type } => msg_type,
            known => known.kind().map_or("", MsgType::as_str),
        }
    }

    /// The event, if this is one.
    pub fn event(&self) -> Option<&Event> {
        match &self.body {
            Body::Event(e) => Some(e),
            _ => None,
        }
    }
}

impl Body {
    /// The body's `MsgType`; `None` for a type replyd does not know ([`Body::Other`]).
    pub fn kind(&self) -> Option<MsgType> {
        Some(match self {
            Body::Text { .. } => MsgType::Text,
            Body::Image { .. } => MsgType::Image,
            Body::Voice { .. } => MsgType::Voice,
            Body::Video { .. } => MsgType::Video,
            Body::ShortVideo { .. } => MsgType::ShortVideo,
            Body::Location { .. } => MsgType::Location,
            Body::Link { .. } => MsgType::Link,
            Body::Event(_) => MsgType::Event,
            Body::Other { .. } => return None,
        })
    }

    /// A message of the given type with empty fields, for dry runs (`try`, `[[test]]`). An
    /// unknown name gives [`Body::Other`]; `text` and `event` are not types here (a dry run
    /// gives a text its content and an event its name), so they give `None`.
    pub fn of_type(msg_type: &str) -> Option<Body> {
        let s = String::new;
        Some(match MsgType::parse(msg_type) {
            Some(MsgType::Text | MsgType::Event) => return None,
            Some(MsgType::Image) => Body::Image {
                pic_url: s(),
                media_id: s(),
            },
            Some(MsgType::Voice) => Body::Voice {
                media_id: s(),
                format: s(),
                recognition: None,
            },
            Some(MsgType::Video) => Body::Video {
                media_id: s(),
                thumb_media_id: s(),
            },
            Some(MsgType::ShortVideo) => Body::ShortVideo {
                media_id: s(),
                thumb_media_id: s(),
            },
            Some(MsgType::Location) => Body::Location {
                latitude: 0.0,
                longitude: 0.0,
                scale: 0.0,
                label: s(),
            },
            Some(MsgType::Link) => Body::Link {
                title: s(),
                description: s(),
                url: s(),
            },
            None => Body::Other {
                msg_type: msg_type.to_owned(),
            },
        })
    }
}

impl Event {
    /// An event by name and key, as if WeChat had sent it with no other fields: for dry runs.
    pub fn new(name: &str, key: Option<&str>) -> Event {
        event_of(
            name.to_owned(),
            key.map(str::to_owned),
            None,
            None,
            [0.0; 3],
            WireDetail::default(),
        )
    }

    /// The event's name as WeChat sends it (`subscribe`, `SCAN`, `CLICK`, …).
    pub fn name(&self) -> &str {
        match self {
            Event::Subscribe { .. } => EventKind::Subscribe.as_str(),
            Event::Unsubscribe => EventKind::Unsubscribe.as_str(),
            Event::Scan { .. } => EventKind::Scan.as_str(),
            Event::Location { .. } => EventKind::Location.as_str(),
            Event::Click { .. } => EventKind::Click.as_str(),
            Event::View { .. } => EventKind::View.as_str(),
            Event::Other { name, .. } => name,
        }
    }

    /// What the event carries beyond its name and key ([`Detail::None`] for the events replyd
    /// reads field by field).
    pub fn detail(&self) -> &Detail {
        match self {
            Event::Other { detail, .. } => detail,
            _ => &Detail::None,
        }
    }

    /// The `EventKey`, if the event has one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Event::Subscribe { key, .. } | Event::Other { key, .. } => key.as_deref(),
            Event::Scan { key, .. } | Event::Click { key } | Event::View { key, .. } => Some(key),
            Event::Unsubscribe | Event::Location { .. } => None,
        }
    }
}

/// Parses a WeChat message body.
///
/// # Errors
///
/// A [`ParseError`] saying what is wrong: not UTF-8, not XML, a DOCTYPE, a wrong root element,
/// a field replyd reads given twice, a missing `ToUserName`, `FromUserName`, `CreateTime` or
/// `MsgType`, or a number that is not one.
pub fn parse(body: &[u8]) -> Result<Message, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    Message::from_wire(Wire::read(text)?)
}

/// The `Encrypt` element of an encrypted (safe or compatible mode) body, if it has one.
///
/// # Errors
///
/// The same as [`parse`] for a body that is not UTF-8, not XML, has a DOCTYPE or a root other
/// than `<xml>`.
pub fn encrypted_part(body: &[u8]) -> Result<Option<String>, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    Ok(wire::encrypt(text)?.filter(|e| !e.trim().is_empty()))
}

impl Message {
    fn from_wire(w: Wire) -> Result<Message, ParseError> {
        let to_user = identifier(required(w.to_user_name, "ToUserName")?, "ToUserName")?;
        let from_user = identifier(required(w.from_user_name, "FromUserName")?, "FromUserName")?;
        let create_time = number::<u64>(required(w.create_time, "CreateTime")?, "CreateTime")?;
        let msg_type = required(w.msg_type, "MsgType")?;
        let text = |v: Option<String>| v.unwrap_or_default();
        let body = match MsgType::parse(&msg_type) {
            Some(MsgType::Text) => Body::Text {
                content: text(w.content),
            },
            Some(MsgType::Image) => Body::Image {
                pic_url: text(w.pic_url),
                media_id: text(w.media_id),
            },
            Some(MsgType::Voice) => Body::Voice {
                media_id: text(w.media_id),
                format: text(w.format),
                recognition: w.recognition,
            },
            Some(MsgType::Video) => Body::Video {
                media_id: text(w.media_id),
                thumb_media_id: text(w.thumb_media_id),
            },
            Some(MsgType::ShortVideo) => Body::ShortVideo {
                media_id: text(w.media_id),
                thumb_media_id: text(w.thumb_media_id),
            },
            Some(MsgType::Location) => Body::Location {
                latitude: optional_number(w.location_x, "Location_X")?,
                longitude: optional_number(w.location_y, "Location_Y")?,
                scale: optional_number(w.scale, "Scale")?,
                label: text(w.label),
            },
            Some(MsgType::Link) => Body::Link {
                title: text(w.title),
                description: text(w.description),
                url: text(w.url),
            },
            Some(MsgType::Event) => {
                let name = required(w.event, "Event")?;
                // Only a LOCATION event's numbers are read: a stray field elsewhere is ignored.
                let location = if EventKind::parse(&name) == Some(EventKind::Location) {
                    [
                        optional_number(w.latitude, "Latitude")?,
                        optional_number(w.longitude, "Longitude")?,
                        optional_number(w.precision, "Precision")?,
                    ]
                } else {
                    [0.0; 3]
                };
                // Whitespace around an identifier is the XML's layout, not the value.
                let key = w.event_key.map(|k| k.trim().to_owned());
                Body::Event(event_of(name, key, w.ticket, w.menu_id, location, w.detail))
            }
            None => Body::Other { msg_type },
        };
        Ok(Message {
            to_user,
            from_user,
            create_time,
            // A blank MsgId identifies nothing: it is treated as absent. The job-finished
            // events spell it MsgID.
            msg_id: match (blank_is_none(w.msg_id), blank_is_none(w.msg_id_upper)) {
                (Some(id), _) => Some(identifier(id, "MsgId")?),
                (None, Some(id)) => Some(identifier(id, "MsgID")?),
                (None, None) => None,
            },
            body,
        })
    }
}

/// Maps an event name (any ASCII case) and its fields to an [`Event`].
fn event_of(
    name: String,
    key: Option<String>,
    ticket: Option<String>,
    menu_id: Option<String>,
    [latitude, longitude, precision]: [f64; 3],
    detail: WireDetail,
) -> Event {
    // WeChat's names are case-sensitive as sent; matching them regardless of case costs nothing
    // and no two events differ only by case.
    match EventKind::parse(&name) {
        Some(EventKind::Subscribe) => Event::Subscribe {
            key: key.filter(|k| !k.is_empty()),
            ticket,
        },
        Some(EventKind::Unsubscribe) => Event::Unsubscribe,
        Some(EventKind::Scan) => Event::Scan {
            key: key.unwrap_or_default(),
            ticket,
        },
        Some(EventKind::Location) => Event::Location {
            latitude,
            longitude,
            precision,
        },
        Some(EventKind::Click) => Event::Click {
            key: key.unwrap_or_default(),
        },
        Some(EventKind::View) => Event::View {
            key: key.unwrap_or_default(),
            menu_id,
        },
        // The other events are told apart by name; what they carry is their detail.
        Some(_) | None => Event::Other {
            name,
            key,
            detail: detail.into_detail(menu_id),
        },
    }
}

/// The longest identifier (`ToUserName`, `FromUserName`, `MsgId`) accepted: twice what WeChat
/// sends, so that nothing a client makes up costs the retry cache or the log more.
pub const MAX_IDENTIFIER_BYTES: usize = 64;

fn identifier(value: String, field: &'static str) -> Result<String, ParseError> {
    if value.len() > MAX_IDENTIFIER_BYTES {
        return Err(ParseError::TooLong {
            field,
            len: value.len(),
            max: MAX_IDENTIFIER_BYTES,
        });
    }
    Ok(value)
}

/// A field every message carries, without the whitespace around it (the XML's layout, as in
/// `<MsgType>\n<![CDATA[text]]>\n</MsgType>`).
fn required(value: Option<String>, field: &'static str) -> Result<String, ParseError> {
    blank_is_none(value).ok_or(ParseError::Missing(field))
}

/// An identifier's value without surrounding whitespace; `None` when nothing is left.
fn blank_is_none(value: Option<String>) -> Option<String> {
    let v = value?;
    let trimmed = v.trim();
    match (trimmed.len(), v.len()) {
        (0, _) => None,
        (t, n) if t == n => Some(v),
        _ => Some(trimmed.to_owned()),
    }
}

fn number<T: std::str::FromStr>(value: String, field: &'static str) -> Result<T, ParseError> {
    value.trim().parse().map_err(|_| ParseError::NotANumber {
        field,
        value: truncate(&value),
    })
}

fn optional_number(value: Option<String>, field: &'static str) -> Result<f64, ParseError> {
    match value {
        Some(v) if !v.trim().is_empty() => {
            let n: f64 = number(v.clone(), field)?;
            if n.is_finite() {
                Ok(n)
            } else {
                Err(ParseError::NotANumber {
                    field,
                    value: truncate(&v),
                })
            }
        }
        _ => Ok(0.0),
    }
}

/// Cuts user input quoted in an error to a readable length.
fn truncate(s: &str) -> String {
    clip(s, 40).into_owned()
}

/// At most `max` characters of a client's text, with `…` where it was cut: what an error
/// message or a log line quotes.
pub fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((i, _)) => std::borrow::Cow::Owned(format!("{}…", &s[..i])),
        None => std::borrow::Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests;
