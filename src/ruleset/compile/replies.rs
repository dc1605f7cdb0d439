//! `reply.*` → a [`RuleReply`]: exactly one kind, every string parsed as a template, WeChat's
//! limits checked.

use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::Entry;
use super::one_of::{OneOf, exactly_one_spanned};
use crate::diag::{Code, Diagnostic, has_errors};
use crate::protocol::EventKind;
use crate::protocol::vocab::{ARTICLES_SHOWN_FOR_USER_MESSAGES, MAX_ARTICLES, MAX_TEXT_BYTES};
use crate::ruleset::raw::{RawReply, ReplySpec, Spec as _};
use crate::ruleset::template::{GroupRef, Template};
use crate::ruleset::{ArticleTemplate, Matcher, MusicTemplate, RuleReply, VideoTemplate};

const HELP: &str = "add one of reply.text, reply.image, reply.voice, reply.video, \
                    reply.music, reply.news, reply.random, reply.all, reply.transfer, reply.ai, \
                    reply.upstream or reply.none";

/// How many replies `reply.random` holds.
pub const RANDOM_REPLIES: std::ops::RangeInclusive<usize> = 2..=10;

const ONE_REPLY: OneOf = OneOf {
    none: (Code::NoReply, "`reply` names no reply"),
    several: Code::SeveralReplies,
    prefix: "reply.",
    owner: "rule",
    help_none: HELP,
    help_several: "a rule has exactly one reply; keep one of them",
};

/// Checks and builds the reply; `refs` collects the template group references with spans.
pub(super) fn build(
    entry: &Entry<'_>,
    raw: Option<Spanned<RawReply>>,
    matcher: Option<&Matcher>,
    refs: &mut Vec<(GroupRef, Range<usize>)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<RuleReply> {
    let Some(raw) = raw else {
        diags.push(
            entry
                .diag(Code::NoReply, entry.header.clone(), "rule has no `reply`")
                .with_help(HELP),
        );
        return None;
    };
    let span = raw.span();
    let (spec, problem) =
        exactly_one_spanned(entry.file, &ONE_REPLY, span, raw.into_inner().specs());
    let several = problem.is_some();
    diags.extend(problem);
    let mut t = Templates {
        entry,
        diags: Vec::new(),
        refs,
    };
    if let (Some((spec, spec_span)), Some(Matcher::Event { name, .. })) = (&spec, matcher)
        && !matches!(spec, ReplySpec::None(_))
        && EventKind::parse(name).is_some_and(|e| !e.shows_reply())
    {
        t.diags.push(
            entry
                .diag(
                    Code::ReplyNotShown,
                    spec_span.clone(),
                    format!("WeChat never shows a reply to the event {name}"),
                )
                .with_help("answer it with reply.none = true (to count it, or to let it reach an upstream), or delete the rule"),
        );
    }
    let reply = spec.and_then(|(spec, _)| reply(spec, matcher, &mut t));
    let ok = !several && !has_errors(&t.diags);
    diags.append(&mut t.diags);
    reply.filter(|_| ok)
}

/// Builds the reply of one kind; every problem goes to `t.diags`.
fn reply(
    spec: ReplySpec,
    matcher: Option<&Matcher>,
    t: &mut Templates<'_, '_>,
) -> Option<RuleReply> {
    let entry = t.entry;
    Some(match spec {
        ReplySpec::Text(text) => {
            let template = t.required(&text, "reply.text")?;
            let bytes = template.literal_text().len();
            if bytes > MAX_TEXT_BYTES {
                t.diags.push(
                    entry
                        .diag(
                            Code::OverLimit,
                            text.span(),
                            format!("reply.text is {bytes} bytes in UTF-8; WeChat takes at most {MAX_TEXT_BYTES}"),
                        )
                        .with_help("shorten it, or answer with a news article that links to the full text"),
                );
            }
            RuleReply::Text(template)
        }
        ReplySpec::Image(m) => RuleReply::Image {
            media_id: t.required(&m.into_inner().media_id, "media_id")?,
        },
        ReplySpec::Voice(m) => RuleReply::Voice {
            media_id: t.required(&m.into_inner().media_id, "media_id")?,
        },
        ReplySpec::Video(v) => {
            let v = v.into_inner();
            RuleReply::Video(Box::new(VideoTemplate {
                media_id: t.required(&v.media_id, "media_id")?,
                title: t.optional(v.title.as_ref())?,
                description: t.optional(v.description.as_ref())?,
            }))
        }
        ReplySpec::Music(m) => {
            let m = m.into_inner();
            RuleReply::Music(Box::new(MusicTemplate {
                title: t.optional(m.title.as_ref())?,
                description: t.optional(m.description.as_ref())?,
                music_url: t.optional(m.music_url.as_ref())?,
                hq_music_url: t.optional(m.hq_music_url.as_ref())?,
                thumb_media_id: t.required(&m.thumb_media_id, "thumb_media_id")?,
            }))
        }
        ReplySpec::News(news) => news_reply(news, matcher, t)?,
        ReplySpec::Transfer(tr) => {
            if matcher.is_some_and(|m| !m.answers_user_messages()) {
                t.diags.push(
                    entry
                        .diag(
                            Code::TransferOnEvent,
                            tr.span(),
                            "reply.transfer on an event rule: WeChat forwards only user messages to customer service",
                        )
                        .with_help("answer the event with a text or news reply, or reply.none = true"),
                );
            }
            let tr = tr.into_inner();
            let offline = match tr.offline {
                None => None,
                Some(o) => {
                    needs_api(t, o.span(), "an offline reply");
                    let o =
                        content_reply(*o, "reply.transfer.offline", Code::InvalidKey, matcher, t)?;
                    Some(Box::new(o))
                }
            };
            RuleReply::Transfer {
                kf_account: t.optional(tr.kf_account.as_ref())?,
                offline,
            }
        }
        ReplySpec::Ai(ai) => {
            if matcher.is_some_and(|m| !m.answers_user_messages()) {
                t.diags.push(
                    entry
                        .diag(
                            Code::TransferOnEvent,
                            ai.span(),
                            "reply.ai on an event rule: WeChat's AI reply answers only user messages",
                        )
                        .with_help("answer the event with a text or news reply, or reply.none = true"),
                );
            }
            RuleReply::Ai
        }
        ReplySpec::Random(list) => RuleReply::Random(reply_list(&RANDOM, list, matcher, t)?),
        ReplySpec::All(list) => {
            needs_api(t, list.span(), "reply.all");
            RuleReply::All(reply_list(&ALL, list, matcher, t)?)
        }
        ReplySpec::Upstream(name) => {
            let declared = &entry.declared.upstreams;
            if !declared.iter().any(|d| d == name.get_ref()) {
                let known: Vec<&str> = declared.iter().map(String::as_str).collect();
                let help = match crate::diag::did_you_mean(name.get_ref(), &known) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if known.is_empty() => "declare it in replyd.toml: [[upstream]] name = \"…\" url = \"http://…\" (lint and try read the config serve reads: --config FILE, or replyd.toml here)".to_owned(),
                    None => format!("the config's upstreams are {}", known.join(", ")),
                };
                t.diags.push(
                    entry
                        .diag(
                            Code::UnknownUpstream,
                            name.span(),
                            format!("no [[upstream]] is named `{}`", name.get_ref()),
                        )
                        .with_help(help),
                );
                return None;
            }
            RuleReply::Upstream(Arc::from(name.into_inner()))
        }
        ReplySpec::None(none) => {
            if !*none.get_ref() {
                t.diags.push(
                    entry
                        .diag(
                            Code::InvalidKey,
                            none.span(),
                            "`reply.none` can only be `true`",
                        )
                        .with_help(
                            "write `reply.none = true` to answer nothing, or pick another reply",
                        ),
                );
            }
            RuleReply::None
        }
    })
}

/// How many replies `reply.all` holds: the passive one and up to four customer-service
/// messages.
pub const ALL_REPLIES: std::ops::RangeInclusive<usize> = 2..=5;

/// A list of replies: `reply.random` or `reply.all`.
struct ListKind {
    key: &'static str,
    code: Code,
    range: std::ops::RangeInclusive<usize>,
    does: &'static str,
    help_count: &'static str,
}

const RANDOM: ListKind = ListKind {
    key: "reply.random",
    code: Code::InvalidRandom,
    range: RANDOM_REPLIES,
    does: "picks one of",
    help_count: "list 2 to 10 replies, or write the one reply as reply.text (or image, …)",
};

const ALL: ListKind = ListKind {
    key: "reply.all",
    code: Code::InvalidAll,
    range: ALL_REPLIES,
    does: "sends",
    help_count: "list 2 to 5 replies (WeChat takes at most 5 messages in 48 hours after a follower's message), or write the one reply as reply.text (or image, …)",
};

/// `reply.random` or `reply.all`: replies of the kinds that answer with content.
fn reply_list(
    kind: &ListKind,
    list: Spanned<Vec<Spanned<RawReply>>>,
    matcher: Option<&Matcher>,
    t: &mut Templates<'_, '_>,
) -> Option<Vec<RuleReply>> {
    let entry = t.entry;
    let span = list.span();
    let items = list.into_inner();
    let mut ok = true;
    if !kind.range.contains(&items.len()) {
        t.diags.push(
            entry
                .diag(
                    kind.code,
                    span.clone(),
                    format!(
                        "{} has {} replies; it {} {} to {}",
                        kind.key,
                        items.len(),
                        kind.does,
                        kind.range.start(),
                        kind.range.end()
                    ),
                )
                .with_help(kind.help_count),
        );
        ok = false;
    }
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        match content_reply(item, kind.key, kind.code, matcher, t) {
            Some(r) => replies.push(r),
            None => ok = false,
        }
    }
    ok.then_some(replies)
}

/// One reply that answers with content (text, image, voice, video, music or news): an item of
/// `reply.random` or `reply.all`, or an offline reply; `what` names it in the error.
fn content_reply(
    item: Spanned<RawReply>,
    what: &str,
    code: Code,
    matcher: Option<&Matcher>,
    t: &mut Templates<'_, '_>,
) -> Option<RuleReply> {
    let entry = t.entry;
    let item_span = item.span();
    let (spec, problem) =
        exactly_one_spanned(entry.file, &ONE_REPLY, item_span, item.into_inner().specs());
    let several = problem.is_some();
    t.diags.extend(problem);
    let (spec, spec_span) = spec?;
    if matches!(
        spec,
        ReplySpec::Transfer(_)
            | ReplySpec::Ai(_)
            | ReplySpec::None(_)
            | ReplySpec::Random(_)
            | ReplySpec::All(_)
            | ReplySpec::Upstream(_)
    ) {
        t.diags.push(
            entry
                .diag(code, spec_span, format!("{what} cannot hold `{}`", spec.key()))
                .with_help(format!("{what} holds answers: text, image, voice, video, music or news; hand over or stay silent with a rule of its own")),
        );
        return None;
    }
    let r = reply(spec, matcher, t)?;
    (!several).then_some(r)
}

/// `reply.all` and offline replies are sent or chosen through WeChat's API: the config must
/// have `app_secret`.
fn needs_api(t: &mut Templates<'_, '_>, span: Range<usize>, what: &str) {
    if !t.entry.declared.api {
        t.diags.push(
            t.entry
                .diag(
                    Code::NeedsAppSecret,
                    span,
                    format!("{what} needs WeChat's API, and the config has no app_secret"),
                )
                .with_help("set app_secret (REPLYD_APP_SECRET) and app_id in the config serve reads (lint and try read it too: --config FILE, or replyd.toml here)"),
        );
    }
}

fn news_reply(
    news: Spanned<Vec<Spanned<crate::ruleset::raw::RawArticle>>>,
    matcher: Option<&Matcher>,
    t: &mut Templates<'_, '_>,
) -> Option<RuleReply> {
    let entry = t.entry;
    let span = news.span();
    let raw_articles = news.into_inner();
    let n = raw_articles.len();
    if n == 0 {
        t.diags.push(
            entry
                .diag(Code::EmptyReply, span, "reply.news has no articles")
                .with_help("add an article: { title = \"…\", url = \"…\", pic_url = \"…\" }"),
        );
    } else if n > MAX_ARTICLES {
        t.diags.push(
            entry
                .diag(
                    Code::OverLimit,
                    span,
                    format!("reply.news has {n} articles; WeChat sends at most {MAX_ARTICLES}"),
                )
                .with_help("keep the most important eight"),
        );
    } else if n > ARTICLES_SHOWN_FOR_USER_MESSAGES
        && matcher.is_some_and(Matcher::answers_user_messages)
    {
        t.diags.push(
            entry
                .diag(
                    Code::NewsArticles,
                    span,
                    format!("reply.news has {n} articles, but WeChat shows only the first in reply to a user message"),
                )
                .with_help("keep one article, or answer a menu event (match.event) where up to eight are shown"),
        );
    }
    let mut articles = Vec::with_capacity(n);
    for a in raw_articles {
        let a = a.into_inner();
        articles.push(ArticleTemplate {
            title: t.required(&a.title, "title")?,
            description: t.optional(a.description.as_ref())?,
            url: t.optional(a.url.as_ref())?,
            pic_url: t.optional(a.pic_url.as_ref())?,
        });
    }
    Some(RuleReply::News(articles))
}

/// Template parsing for one reply, collecting diagnostics and group references.
struct Templates<'a, 'e> {
    entry: &'a Entry<'e>,
    diags: Vec<Diagnostic>,
    refs: &'a mut Vec<(GroupRef, Range<usize>)>,
}

impl Templates<'_, '_> {
    fn parse(&mut self, value: &Spanned<String>) -> Option<Template> {
        let span = value.span();
        match Template::parse(value.get_ref()) {
            Ok(t) => {
                for (g, sub) in t.group_refs() {
                    let at = self.entry.inner_span(&span, value.get_ref(), sub);
                    self.refs.push((g.clone(), at));
                }
                Some(t)
            }
            Err(e) => {
                let at = self
                    .entry
                    .inner_span(&span, value.get_ref(), e.span.clone());
                self.diags.push(
                    self.entry
                        .diag(Code::InvalidTemplate, at, e.message)
                        .with_help("`${1}` or `${name}` inserts a capture group; write `$$` for a literal `$`"),
                );
                None
            }
        }
    }

    /// A field WeChat needs: must not be empty.
    fn required(&mut self, value: &Spanned<String>, what: &str) -> Option<Template> {
        let t = self.parse(value)?;
        if t.literal_text().trim().is_empty() && t.group_refs().next().is_none() {
            self.diags.push(
                self.entry
                    .diag(Code::EmptyReply, value.span(), format!("{what} is empty"))
                    .with_help(if what == "reply.text" {
                        "WeChat shows the follower an error for an empty text; write the text, or use reply.none = true to answer nothing"
                    } else {
                        "WeChat needs it; fill it in"
                    }),
            );
            return None;
        }
        Some(t)
    }

    /// `None` when absent, `Some(None)` when present but malformed (an error was pushed).
    fn optional(&mut self, value: Option<&Spanned<String>>) -> Option<Option<Template>> {
        match value {
            None => Some(None),
            Some(v) => self.parse(v).map(Some),
        }
    }
}
