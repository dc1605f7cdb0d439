//! WeChat's vocabulary, written once: the message types, the event names (with what the
//! follower did to cause each), and the limits of a passive reply.
//!
//! The parser, the rule compiler, the index, the metrics and `lint` all take their names from
//! here, so a new event type is added in one place. Sources: Tencent's 接收普通消息, 接收事件推送
//! and 被动回复用户消息 pages (developers.weixin.qq.com/doc/offiaccount/Message_Management/).

/// WeChat's limit on a passive text reply, in UTF-8 bytes (longer ones are cut or refused).
pub const MAX_TEXT_BYTES: usize = 2047;
/// WeChat's limit on the articles of a news reply.
pub const MAX_ARTICLES: usize = 8;
/// How many articles of a news reply WeChat shows in answer to a user message (a menu event
/// shows up to [`MAX_ARTICLES`]).
pub const ARTICLES_SHOWN_FOR_USER_MESSAGES: usize = 1;

/// A `MsgType` WeChat sends to the server URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgType {
    /// `text`.
    Text,
    /// `image`.
    Image,
    /// `voice`.
    Voice,
    /// `video`.
    Video,
    /// `shortvideo`.
    ShortVideo,
    /// `location`.
    Location,
    /// `link`.
    Link,
    /// `event`: not a user message, but a follower's action (see [`EventKind`]).
    Event,
}

impl MsgType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [MsgType; 8] = [
        MsgType::Text,
        MsgType::Image,
        MsgType::Voice,
        MsgType::Video,
        MsgType::ShortVideo,
        MsgType::Location,
        MsgType::Link,
        MsgType::Event,
    ];

    /// The name as WeChat writes it in `<MsgType>`.
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Text => "text",
            MsgType::Image => "image",
            MsgType::Voice => "voice",
            MsgType::Video => "video",
            MsgType::ShortVideo => "shortvideo",
            MsgType::Location => "location",
            MsgType::Link => "link",
            MsgType::Event => "event",
        }
    }

    /// The type WeChat names exactly so (it sends lower case).
    pub fn parse(name: &str) -> Option<MsgType> {
        MsgType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The type named so in any ASCII case: how a rule file may spell it.
    pub fn parse_ignore_case(name: &str) -> Option<MsgType> {
        MsgType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether a `match.msg_type` rule answers this type: every user message but text (which
    /// has its own matchers); events have `match.event`.
    pub fn is_msg_type_rule_target(self) -> bool {
        !matches!(self, MsgType::Text | MsgType::Event)
    }

    /// The types a `match.msg_type` rule can name, for help texts: `image, voice, …`.
    pub fn msg_type_rule_targets() -> impl Iterator<Item = MsgType> {
        MsgType::ALL
            .into_iter()
            .filter(|t| t.is_msg_type_rule_target())
    }
}

/// An event WeChat is known to send (`<MsgType>event</MsgType>`, `<Event>` one of these).
/// Others are carried along by name and can still be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `subscribe`.
    Subscribe,
    /// `unsubscribe`.
    Unsubscribe,
    /// `SCAN`.
    Scan,
    /// `LOCATION`.
    Location,
    /// `CLICK`.
    Click,
    /// `VIEW`.
    View,
    /// `scancode_push`.
    ScancodePush,
    /// `scancode_waitmsg`.
    ScancodeWaitmsg,
    /// `pic_sysphoto`.
    PicSysphoto,
    /// `pic_photo_or_album`.
    PicPhotoOrAlbum,
    /// `pic_weixin`.
    PicWeixin,
    /// `location_select`.
    LocationSelect,
    /// `view_miniprogram`.
    ViewMiniprogram,
    /// `kf_create_session`.
    KfCreateSession,
    /// `kf_close_session`.
    KfCloseSession,
    /// `kf_switch_session`.
    KfSwitchSession,
    /// `MASSSENDJOBFINISH`.
    MassSendJobFinish,
    /// `TEMPLATESENDJOBFINISH`.
    TemplateSendJobFinish,
    /// `PUBLISHJOBFINISH`.
    PublishJobFinish,
    /// `subscribe_msg_popup_event`.
    SubscribeMsgPopup,
    /// `subscribe_msg_change_event`.
    SubscribeMsgChange,
    /// `subscribe_msg_sent_event`.
    SubscribeMsgSent,
}

impl EventKind {
    /// Every known event.
    pub const ALL: [EventKind; 22] = [
        EventKind::Subscribe,
        EventKind::Unsubscribe,
        EventKind::Scan,
        EventKind::Location,
        EventKind::Click,
        EventKind::View,
        EventKind::ScancodePush,
        EventKind::ScancodeWaitmsg,
        EventKind::PicSysphoto,
        EventKind::PicPhotoOrAlbum,
        EventKind::PicWeixin,
        EventKind::LocationSelect,
        EventKind::ViewMiniprogram,
        EventKind::KfCreateSession,
        EventKind::KfCloseSession,
        EventKind::KfSwitchSession,
        EventKind::MassSendJobFinish,
        EventKind::TemplateSendJobFinish,
        EventKind::PublishJobFinish,
        EventKind::SubscribeMsgPopup,
        EventKind::SubscribeMsgChange,
        EventKind::SubscribeMsgSent,
    ];

    /// The name as WeChat writes it in `<Event>`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Subscribe => "subscribe",
            EventKind::Unsubscribe => "unsubscribe",
            EventKind::Scan => "SCAN",
            EventKind::Location => "LOCATION",
            EventKind::Click => "CLICK",
            EventKind::View => "VIEW",
            EventKind::ScancodePush => "scancode_push",
            EventKind::ScancodeWaitmsg => "scancode_waitmsg",
            EventKind::PicSysphoto => "pic_sysphoto",
            EventKind::PicPhotoOrAlbum => "pic_photo_or_album",
            EventKind::PicWeixin => "pic_weixin",
            EventKind::LocationSelect => "location_select",
            EventKind::ViewMiniprogram => "view_miniprogram",
            EventKind::KfCreateSession => "kf_create_session",
            EventKind::KfCloseSession => "kf_close_session",
            EventKind::KfSwitchSession => "kf_switch_session",
            EventKind::MassSendJobFinish => "MASSSENDJOBFINISH",
            EventKind::TemplateSendJobFinish => "TEMPLATESENDJOBFINISH",
            EventKind::PublishJobFinish => "PUBLISHJOBFINISH",
            EventKind::SubscribeMsgPopup => "subscribe_msg_popup_event",
            EventKind::SubscribeMsgChange => "subscribe_msg_change_event",
            EventKind::SubscribeMsgSent => "subscribe_msg_sent_event",
        }
    }

    /// What happened, as the follower (or the account's operator) saw it; and what the
    /// `EventKey` holds, where there is one.
    pub fn describe(self) -> &'static str {
        match self {
            EventKind::Subscribe => {
                "a follower followed the account (from a parametric QR code: EventKey qrscene_…)"
            }
            EventKind::Unsubscribe => "a follower unfollowed the account (no reply is shown)",
            EventKind::Scan => "a follower scanned a parametric QR code (EventKey: the scene)",
            EventKind::Location => "a follower opened the chat and reported their position",
            EventKind::Click => "a follower tapped a menu button (EventKey: the button's key)",
            EventKind::View => "a follower tapped a menu link (EventKey: the URL)",
            EventKind::ScancodePush => "a menu button opened the scanner and showed the result",
            EventKind::ScancodeWaitmsg => "a menu button opened the scanner, waiting for a reply",
            EventKind::PicSysphoto => "a menu button opened the camera",
            EventKind::PicPhotoOrAlbum => "a menu button opened the camera or the album",
            EventKind::PicWeixin => "a menu button opened WeChat's album",
            EventKind::LocationSelect => "a menu button opened the location picker",
            EventKind::ViewMiniprogram => "a follower tapped a menu link to a mini program",
            EventKind::KfCreateSession => "a customer-service agent took the conversation",
            EventKind::KfCloseSession => "a customer-service agent closed the conversation",
            EventKind::KfSwitchSession => "the conversation moved to another agent",
            EventKind::MassSendJobFinish => "a mass message finished sending",
            EventKind::TemplateSendJobFinish => "a template message was delivered (or not)",
            EventKind::PublishJobFinish => "an article finished publishing",
            EventKind::SubscribeMsgPopup => "a follower answered a subscription-message prompt",
            EventKind::SubscribeMsgChange => "a follower changed a subscription-message setting",
            EventKind::SubscribeMsgSent => "a subscription message was delivered",
        }
    }

    /// Whether WeChat shows the follower a passive reply to this event. It does not for an
    /// unfollow, the job-finished reports, the customer-service session events, the
    /// subscription-message events and a mini-program link: a reply there is never seen.
    pub fn shows_reply(self) -> bool {
        match self {
            EventKind::Unsubscribe
            | EventKind::ViewMiniprogram
            | EventKind::KfCreateSession
            | EventKind::KfCloseSession
            | EventKind::KfSwitchSession
            | EventKind::MassSendJobFinish
            | EventKind::TemplateSendJobFinish
            | EventKind::PublishJobFinish
            | EventKind::SubscribeMsgPopup
            | EventKind::SubscribeMsgChange
            | EventKind::SubscribeMsgSent => false,
            EventKind::Subscribe
            | EventKind::Scan
            | EventKind::Location
            | EventKind::Click
            | EventKind::View
            | EventKind::ScancodePush
            | EventKind::ScancodeWaitmsg
            | EventKind::PicSysphoto
            | EventKind::PicPhotoOrAlbum
            | EventKind::PicWeixin
            | EventKind::LocationSelect => true,
        }
    }

    /// The event WeChat names so, in any ASCII case (no two events differ only by case, and a
    /// rule file may write `click` for `CLICK`).
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
    }

    /// Every known event name, for suggestions.
    pub fn names() -> impl Iterator<Item = &'static str> {
        EventKind::ALL.into_iter().map(EventKind::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_itself() {
        for t in MsgType::ALL {
            assert_eq!(MsgType::parse(t.as_str()), Some(t));
            assert_eq!(
                MsgType::parse_ignore_case(&t.as_str().to_uppercase()),
                Some(t)
            );
        }
        for e in EventKind::ALL {
            assert_eq!(EventKind::parse(e.as_str()), Some(e));
            assert_eq!(EventKind::parse(&e.as_str().to_lowercase()), Some(e));
            assert!(!e.describe().is_empty());
        }
        assert_eq!(MsgType::parse("Text"), None, "WeChat sends lower case");
        assert_eq!(EventKind::parse("miniprogrampage"), None);
    }

    #[test]
    fn names_are_unique_regardless_of_case() {
        let mut names: Vec<String> = EventKind::names().map(str::to_lowercase).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }

    #[test]
    fn msg_type_rules_answer_the_other_user_messages() {
        let targets: Vec<&str> = MsgType::msg_type_rule_targets()
            .map(MsgType::as_str)
            .collect();
        assert_eq!(
            targets,
            ["image", "voice", "video", "shortvideo", "location", "link"]
        );
    }
}
