//! The fields an event carries beyond its name and key: what the menu's scan, photo and
//! location buttons report, the customer-service session events, the job-finished reports and
//! the subscription-message events (Tencent's "接收事件推送" and menu event pages).
//!
//! replyd does not answer on these fields; it reads them so that `try` and the debug log show
//! what WeChat sent, and so that a backend behind replyd (or an operator) can see them.

use super::wire::WireDetail;

/// The fields of an event beyond its name and key.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Detail {
    /// The event carries nothing more (or nothing replyd reads).
    #[default]
    None,
    /// `scancode_push`, `scancode_waitmsg`: `ScanCodeInfo`.
    ScanCode {
        /// `ScanType` (`qrcode`, `barcode`).
        scan_type: String,
        /// `ScanResult`: what the code said.
        scan_result: String,
    },
    /// `pic_sysphoto`, `pic_photo_or_album`, `pic_weixin`: `SendPicsInfo`.
    Pictures {
        /// `Count`.
        count: u32,
        /// `PicList/item/PicMd5Sum`, in the order sent.
        md5: Vec<String>,
    },
    /// `location_select`: `SendLocationInfo`.
    LocationSelect {
        /// `Location_X` (latitude), as sent.
        latitude: String,
        /// `Location_Y` (longitude), as sent.
        longitude: String,
        /// `Scale`.
        scale: String,
        /// `Label`.
        label: String,
        /// `Poiname`.
        poiname: String,
    },
    /// `view_miniprogram`: the menu's `MenuId` (the key is the page path).
    Menu {
        /// `MenuId`.
        menu_id: String,
    },
    /// `kf_create_session`, `kf_close_session` (`KfAccount`), `kf_switch_session`
    /// (`FromKfAccount`, `ToKfAccount`).
    Session {
        /// `KfAccount`.
        account: Option<String>,
        /// `FromKfAccount`.
        from: Option<String>,
        /// `ToKfAccount`.
        to: Option<String>,
    },
    /// `TEMPLATESENDJOBFINISH`, `MASSSENDJOBFINISH`: `Status` (the `MsgID` is the message's id).
    Job {
        /// `Status` (`success`, `failed:user block`, …).
        status: String,
    },
    /// `subscribe_msg_popup_event`, `subscribe_msg_change_event`, `subscribe_msg_sent_event`:
    /// one entry per template.
    Subscriptions(Vec<Subscription>),
}

/// One template of a subscription-message event.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// `TemplateId`.
    pub template_id: String,
    /// `SubscribeStatusString` (`accept`, `reject`) or, for a sent report, `ErrorStatus`.
    pub status: String,
}

impl Detail {
    /// The fields as `(name, value)` pairs, named as WeChat names them: what `try` and the
    /// debug log show.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        match self {
            Detail::None => Vec::new(),
            Detail::ScanCode {
                scan_type,
                scan_result,
            } => vec![
                ("ScanType", scan_type.clone()),
                ("ScanResult", scan_result.clone()),
            ],
            Detail::Pictures { count, md5 } => {
                let mut out = vec![("Count", count.to_string())];
                out.extend(md5.iter().map(|m| ("PicMd5Sum", m.clone())));
                out
            }
            Detail::LocationSelect {
                latitude,
                longitude,
                scale,
                label,
                poiname,
            } => vec![
                ("Location_X", latitude.clone()),
                ("Location_Y", longitude.clone()),
                ("Scale", scale.clone()),
                ("Label", label.clone()),
                ("Poiname", poiname.clone()),
            ],
            Detail::Menu { menu_id } => vec![("MenuId", menu_id.clone())],
            Detail::Session { account, from, to } => [
                ("KfAccount", account),
                ("FromKfAccount", from),
                ("ToKfAccount", to),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
            .collect(),
            Detail::Job { status } => vec![("Status", status.clone())],
            Detail::Subscriptions(list) => list
                .iter()
                .flat_map(|s| {
                    [
                        ("TemplateId", s.template_id.clone()),
                        ("Status", s.status.clone()),
                    ]
                })
                .collect(),
        }
    }
}

impl WireDetail {
    /// The detail of a known event kind, from the elements it carries. `menu_id` is the
    /// message's `MenuId` (shared with `VIEW`).
    pub(super) fn into_detail(self, menu_id: Option<String>) -> Detail {
        let text = |v: Option<String>| v.map(|s| s.trim().to_owned()).unwrap_or_default();
        if let Some(s) = self.scan_code_info {
            return Detail::ScanCode {
                scan_type: text(s.scan_type),
                scan_result: s.scan_result.unwrap_or_default(),
            };
        }
        if let Some(p) = self.send_pics_info {
            let md5: Vec<String> = p
                .pic_list
                .map(|items| items.into_iter().map(text).collect())
                .unwrap_or_default();
            let count = p
                .count
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(md5.len() as u32);
            return Detail::Pictures { count, md5 };
        }
        if let Some(l) = self.send_location_info {
            return Detail::LocationSelect {
                latitude: text(l.location_x),
                longitude: text(l.location_y),
                scale: text(l.scale),
                label: l.label.unwrap_or_default(),
                poiname: l.poiname.unwrap_or_default(),
            };
        }
        if self.kf_account.is_some()
            || self.from_kf_account.is_some()
            || self.to_kf_account.is_some()
        {
            let trim = |v: Option<String>| v.map(|s| s.trim().to_owned());
            return Detail::Session {
                account: trim(self.kf_account),
                from: trim(self.from_kf_account),
                to: trim(self.to_kf_account),
            };
        }
        if let Some(list) = self
            .subscribe_msg_popup_event
            .or(self.subscribe_msg_change_event)
            .or(self.subscribe_msg_sent_event)
        {
            return Detail::Subscriptions(
                list.list
                    .into_iter()
                    .map(|s| Subscription {
                        template_id: text(s.template_id),
                        status: text(s.subscribe_status_string.or(s.error_status)),
                    })
                    .collect(),
            );
        }
        if let Some(status) = self.status {
            return Detail::Job {
                status: status.trim().to_owned(),
            };
        }
        match menu_id {
            Some(menu_id) => Detail::Menu {
                menu_id: menu_id.trim().to_owned(),
            },
            None => Detail::None,
        }
    }
}
