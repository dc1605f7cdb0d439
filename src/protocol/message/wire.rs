//! The elements of a message replyd reads, as text, before any is converted: what the pull
//! reader ([`super::xml`]) finds under `<xml>`. Each element's name appears once, in the match
//! that files it; any other element is skipped with its subtree.

use super::ParseError;
use super::xml::{Child, Elements, once};

/// Every element replyd reads, as optional text.
#[derive(Debug, Default)]
pub(super) struct Wire {
    pub to_user_name: Option<String>,
    pub from_user_name: Option<String>,
    pub create_time: Option<String>,
    pub msg_type: Option<String>,
    pub msg_id: Option<String>,
    pub content: Option<String>,
    pub pic_url: Option<String>,
    pub media_id: Option<String>,
    pub format: Option<String>,
    pub recognition: Option<String>,
    pub thumb_media_id: Option<String>,
    pub location_x: Option<String>,
    pub location_y: Option<String>,
    pub scale: Option<String>,
    pub label: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub event: Option<String>,
    pub event_key: Option<String>,
    pub ticket: Option<String>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub precision: Option<String>,
    pub menu_id: Option<String>,
    /// `MsgID` (capital D): the id of TEMPLATESENDJOBFINISH and MASSSENDJOBFINISH.
    pub msg_id_upper: Option<String>,
    pub detail: WireDetail,
}

/// The elements of an event's detail.
#[derive(Debug, Default)]
pub(super) struct WireDetail {
    pub scan_code_info: Option<WireScanCode>,
    pub send_pics_info: Option<WirePics>,
    pub send_location_info: Option<WireLocation>,
    pub kf_account: Option<String>,
    pub from_kf_account: Option<String>,
    pub to_kf_account: Option<String>,
    pub status: Option<String>,
    pub subscribe_msg_popup_event: Option<WireSubscriptions>,
    pub subscribe_msg_change_event: Option<WireSubscriptions>,
    pub subscribe_msg_sent_event: Option<WireSubscriptions>,
}

/// `ScanCodeInfo`.
#[derive(Debug, Default)]
pub(super) struct WireScanCode {
    pub scan_type: Option<String>,
    pub scan_result: Option<String>,
}

/// `SendPicsInfo`.
#[derive(Debug, Default)]
pub(super) struct WirePics {
    pub count: Option<String>,
    /// `PicList/item/PicMd5Sum`, one per `item` (`None` for an item without one).
    pub pic_list: Option<Vec<Option<String>>>,
}

/// `SendLocationInfo`.
#[derive(Debug, Default)]
pub(super) struct WireLocation {
    pub location_x: Option<String>,
    pub location_y: Option<String>,
    pub scale: Option<String>,
    pub label: Option<String>,
    pub poiname: Option<String>,
}

/// `SubscribeMsgPopupEvent`, `SubscribeMsgChangeEvent`, `SubscribeMsgSentEvent`: one `List`
/// per template.
#[derive(Debug, Default)]
pub(super) struct WireSubscriptions {
    pub list: Vec<WireSubscription>,
}

/// One `List` of a subscription event.
#[derive(Debug, Default)]
pub(super) struct WireSubscription {
    pub template_id: Option<String>,
    pub subscribe_status_string: Option<String>,
    pub error_status: Option<String>,
}

impl Wire {
    /// Reads a body: the root must be `<xml>` (see [`Elements::open`]).
    pub(super) fn read(text: &str) -> Result<Wire, ParseError> {
        let (mut xml, root) = Elements::open(text)?;
        let mut w = Wire::default();
        xml.children(&root, |xml, child| w.file(xml, child))?;
        Ok(w)
    }

    /// Files one child of `<xml>`.
    fn file<'a>(&mut self, xml: &mut Elements<'a>, child: Child<'a>) -> Result<(), ParseError> {
        let d = &mut self.detail;
        let slot = match child.name() {
            "ToUserName" => &mut self.to_user_name,
            "FromUserName" => &mut self.from_user_name,
            "CreateTime" => &mut self.create_time,
            "MsgType" => &mut self.msg_type,
            "MsgId" => &mut self.msg_id,
            "MsgID" => &mut self.msg_id_upper,
            "Content" => &mut self.content,
            "PicUrl" => &mut self.pic_url,
            "MediaId" => &mut self.media_id,
            "Format" => &mut self.format,
            "Recognition" => &mut self.recognition,
            "ThumbMediaId" => &mut self.thumb_media_id,
            "Location_X" => &mut self.location_x,
            "Location_Y" => &mut self.location_y,
            "Scale" => &mut self.scale,
            "Label" => &mut self.label,
            "Title" => &mut self.title,
            "Description" => &mut self.description,
            "Url" => &mut self.url,
            "Event" => &mut self.event,
            "EventKey" => &mut self.event_key,
            "Ticket" => &mut self.ticket,
            "Latitude" => &mut self.latitude,
            "Longitude" => &mut self.longitude,
            "Precision" => &mut self.precision,
            "MenuId" => &mut self.menu_id,
            "KfAccount" => &mut d.kf_account,
            "FromKfAccount" => &mut d.from_kf_account,
            "ToKfAccount" => &mut d.to_kf_account,
            "Status" => &mut d.status,
            "ScanCodeInfo" => return once(&mut d.scan_code_info, xml, &child, WireScanCode::file),
            "SendPicsInfo" => return once(&mut d.send_pics_info, xml, &child, WirePics::file),
            "SendLocationInfo" => {
                return once(&mut d.send_location_info, xml, &child, WireLocation::file);
            }
            "SubscribeMsgPopupEvent" => {
                return once(
                    &mut d.subscribe_msg_popup_event,
                    xml,
                    &child,
                    WireSubscriptions::file,
                );
            }
            "SubscribeMsgChangeEvent" => {
                return once(
                    &mut d.subscribe_msg_change_event,
                    xml,
                    &child,
                    WireSubscriptions::file,
                );
            }
            "SubscribeMsgSentEvent" => {
                return once(
                    &mut d.subscribe_msg_sent_event,
                    xml,
                    &child,
                    WireSubscriptions::file,
                );
            }
            _ => return xml.skip(&child),
        };
        xml.text(slot, &child)
    }
}

impl WireScanCode {
    fn file<'a>(&mut self, xml: &mut Elements<'a>, child: Child<'a>) -> Result<(), ParseError> {
        match child.name() {
            "ScanType" => xml.text(&mut self.scan_type, &child),
            "ScanResult" => xml.text(&mut self.scan_result, &child),
            _ => xml.skip(&child),
        }
    }
}

impl WirePics {
    fn file<'a>(&mut self, xml: &mut Elements<'a>, child: Child<'a>) -> Result<(), ParseError> {
        match child.name() {
            "Count" => xml.text(&mut self.count, &child),
            "PicList" => once(&mut self.pic_list, xml, &child, |items, xml, item| {
                if item.name() != "item" {
                    return xml.skip(&item);
                }
                let mut md5 = None;
                xml.children(&item, |xml, field| match field.name() {
                    "PicMd5Sum" => xml.text(&mut md5, &field),
                    _ => xml.skip(&field),
                })?;
                items.push(md5);
                Ok(())
            }),
            _ => xml.skip(&child),
        }
    }
}

impl WireLocation {
    fn file<'a>(&mut self, xml: &mut Elements<'a>, child: Child<'a>) -> Result<(), ParseError> {
        let slot = match child.name() {
            "Location_X" => &mut self.location_x,
            "Location_Y" => &mut self.location_y,
            "Scale" => &mut self.scale,
            "Label" => &mut self.label,
            "Poiname" => &mut self.poiname,
            _ => return xml.skip(&child),
        };
        xml.text(slot, &child)
    }
}

impl WireSubscriptions {
    fn file<'a>(&mut self, xml: &mut Elements<'a>, child: Child<'a>) -> Result<(), ParseError> {
        if child.name() != "List" {
            return xml.skip(&child);
        }
        let mut one = WireSubscription::default();
        xml.children(&child, |xml, field| {
            let slot = match field.name() {
                "TemplateId" => &mut one.template_id,
                "SubscribeStatusString" => &mut one.subscribe_status_string,
                "ErrorStatus" => &mut one.error_status,
                _ => return xml.skip(&field),
            };
            xml.text(slot, &field)
        })?;
        self.list.push(one);
        Ok(())
    }
}

/// The `Encrypt` element of a body, if it has one: all an encrypted envelope is read for.
pub(super) fn encrypt(text: &str) -> Result<Option<String>, ParseError> {
    let (mut xml, root) = Elements::open(text)?;
    let mut encrypt = None;
    xml.children(&root, |xml, child| match child.name() {
        "Encrypt" => xml.text(&mut encrypt, &child),
        _ => xml.skip(&child),
    })?;
    Ok(encrypt)
}
