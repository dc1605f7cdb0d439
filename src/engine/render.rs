//! The winner's reply, filled in: templates rendered with the match's captures, one reply of a
//! `reply.random` picked, and the result held within WeChat's limits.
//!
//! What WeChat would refuse is never sent: a text that renders blank is no answer (the engine
//! then asks the next candidate), and one over 2047 UTF-8 bytes is cut to its longest prefix
//! of whole characters within the limit.

use std::borrow::Cow;

use sha1::{Digest as _, Sha1};

use super::Action;
use crate::agents::Agents;
pub use crate::protocol::vocab::MAX_TEXT_BYTES;
use crate::protocol::{Article, Message, Reply};
use crate::ruleset::{Rule, RuleReply, Template};

/// A rendered reply, or why there is none.
pub(super) enum Rendered<'r> {
    /// The text rendered blank: this rule does not answer.
    Empty,
    /// What to do, whether the reply's text was cut, and `reply.all`'s other replies.
    Reply {
        action: Action<'r>,
        clipped: bool,
        more: Vec<Reply<'r>>,
    },
}

/// Which of `n` replies a `reply.random` rule gives this message: a digest of the message's
/// identity (its MsgId, or sender and time) and the rule, so a retry of the message, on any
/// replica, gets the same one, and different messages spread evenly.
pub fn pick(message: &Message, rule: &str, n: usize) -> usize {
    let mut h = Sha1::new();
    match &message.msg_id {
        Some(id) => {
            h.update(b"id:");
            h.update(id.as_bytes());
        }
        None => {
            h.update(b"at:");
            h.update(message.from_user.as_bytes());
            h.update(message.create_time.to_be_bytes());
        }
    }
    h.update([0]);
    h.update(message.from_user.as_bytes());
    h.update([0]);
    h.update(rule.as_bytes());
    let d = h.finalize();
    let v = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    (v % n.max(1) as u64) as usize
}

/// Fills the rule's reply in: `reply.random` picked, `reply.all`'s first reply passive and
/// the others in `more`, a hand-over to nobody replaced by its `offline` reply.
pub(super) fn reply<'r>(
    rule: &'r Rule,
    message: &Message,
    captures: Option<&regex::Captures<'_>>,
    agents: &dyn Agents,
) -> Rendered<'r> {
    let (chosen, rest): (&RuleReply, &[RuleReply]) = match &rule.reply {
        RuleReply::Random(list) => (&list[pick(message, &rule.id, list.len())], &[]),
        RuleReply::All(list) => match list.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Rendered::Empty,
        },
        other => (other, &[]),
    };
    let (action, clipped) = match checked(fill_reply(chosen, captures, agents)) {
        Some(c) => c,
        None => return Rendered::Empty,
    };
    let mut more = Vec::new();
    let mut clipped_more = false;
    for r in rest {
        // A follow-up that renders blank is left out; the others are sent.
        if let Some((Action::Reply(r), c)) = checked(fill_reply(r, captures, agents)) {
            more.push(r);
            clipped_more |= c;
        }
    }
    Rendered::Reply {
        action,
        clipped: clipped || clipped_more,
        more,
    }
}

/// A text that renders blank is no answer (`None`); a long one is cut.
fn checked(action: Action<'_>) -> Option<(Action<'_>, bool)> {
    match action {
        Action::Reply(Reply::Text { content }) => {
            if content.trim().is_empty() {
                return None;
            }
            let (content, clipped) = clip_text(content);
            Some((Action::Reply(Reply::Text { content }), clipped))
        }
        action => Some((action, false)),
    }
}

/// The longest prefix of whole characters within [`MAX_TEXT_BYTES`]; whether it was cut.
pub(super) fn clip_text(content: Cow<'_, str>) -> (Cow<'_, str>, bool) {
    if content.len() <= MAX_TEXT_BYTES {
        return (content, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    let cut = match content {
        Cow::Borrowed(s) => Cow::Borrowed(&s[..end]),
        Cow::Owned(mut s) => {
            s.truncate(end);
            Cow::Owned(s)
        }
    };
    (cut, true)
}

/// Renders one reply's templates.
fn fill_reply<'r>(
    reply: &'r RuleReply,
    captures: Option<&regex::Captures<'_>>,
    agents: &dyn Agents,
) -> Action<'r> {
    let fill = |t: &'r Template| -> Cow<'r, str> { t.render(captures) };
    let fill_opt = |t: &'r Option<Template>| t.as_ref().map(|t| t.render(captures));
    Action::Reply(match reply {
        RuleReply::Text(t) => Reply::Text { content: fill(t) },
        RuleReply::Image { media_id } => Reply::Image {
            media_id: fill(media_id),
        },
        RuleReply::Voice { media_id } => Reply::Voice {
            media_id: fill(media_id),
        },
        RuleReply::Video(v) => Reply::Video {
            media_id: fill(&v.media_id),
            title: fill_opt(&v.title),
            description: fill_opt(&v.description),
        },
        RuleReply::Music(m) => Reply::Music {
            title: fill_opt(&m.title),
            description: fill_opt(&m.description),
            music_url: fill_opt(&m.music_url),
            hq_music_url: fill_opt(&m.hq_music_url),
            thumb_media_id: fill(&m.thumb_media_id),
        },
        RuleReply::News(articles) => Reply::News {
            articles: articles
                .iter()
                .map(|a| Article {
                    title: fill(&a.title),
                    description: fill_opt(&a.description),
                    url: fill_opt(&a.url),
                    pic_url: fill_opt(&a.pic_url),
                })
                .collect(),
        },
        RuleReply::Transfer {
            kf_account,
            offline,
        } => {
            let kf_account = fill_opt(kf_account);
            if let Some(offline) = offline
                && agents.offline(kf_account.as_deref())
            {
                return fill_reply(offline, captures, agents);
            }
            Reply::Transfer { kf_account }
        }
        RuleReply::Ai => Reply::Ai,
        RuleReply::None => return Action::Success,
        RuleReply::Upstream(name) => return Action::Forward(name),
        // The compiler refuses a list inside a list; one level is taken apart by the caller.
        RuleReply::Random(list) | RuleReply::All(list) => {
            return list
                .first()
                .map_or(Action::Success, |r| fill_reply(r, captures, agents));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        let s = "流".repeat(700); // 2100 bytes
        let (cut, clipped) = clip_text(Cow::Borrowed(&s));
        assert!(clipped);
        assert_eq!(cut.len(), 2046); // 682 characters of 3 bytes
        assert!(s.starts_with(cut.as_ref()));
        let (same, clipped) = clip_text(Cow::Borrowed("ok"));
        assert_eq!((same.as_ref(), clipped), ("ok", false));
        let exact = "a".repeat(MAX_TEXT_BYTES);
        assert!(!clip_text(Cow::Borrowed(&exact)).1);
    }
}
