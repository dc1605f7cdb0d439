//! The engine against rule sets of 10 to 100,000 rules, beside a naive baseline that tries the
//! same rules one by one in rank order (what frameworks that route messages through a list of
//! handlers do).
//!
//! The `gated` group adds schedule-gated, campaign and key-family rules.
//!
//! Run: `cargo bench --bench engine`. Goals (issue 6): a literal hit at 100,000 rules within 2x
//! of one at 10; a hit at 10,000 rules under 5 µs; at least 100x faster than the baseline at
//! 10,000 rules.

#[path = "ruleset_gen/mod.rs"]
#[allow(dead_code)] // the catalogue is for the load and reload benchmarks
mod ruleset_gen;

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use replyd::engine;
use replyd::protocol::{Body, Event, Message};
use replyd::ruleset::normalize::{fold, normalize};
use replyd::ruleset::{KeyMatch, Matcher, RuleReply, RuleSet, compile, sources_from};

const SIZES: &[usize] = &[10, 1_000, 10_000, 100_000];

fn ruleset(n: usize) -> (RuleSet, ruleset_gen::Generated) {
    let g = ruleset_gen::generate(n);
    let files: Vec<(&str, &str)> = g
        .files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let compiled = compile(&sources_from(&files));
    let first = compiled.diagnostics.first().map(|d| format!("{d:?}"));
    let set = compiled
        .ruleset()
        .unwrap_or_else(|| panic!("generated rules do not compile: {first:?}"));
    (set, g)
}

fn text(content: &str) -> Message {
    message(Body::Text {
        content: content.to_owned(),
    })
}

fn message(body: Body) -> Message {
    Message {
        to_user: "gh_bench".to_owned(),
        from_user: "oBenchFollower".to_owned(),
        create_time: 1,
        msg_id: Some("1".to_owned()),
        body,
    }
}

/// The baseline: every enabled rule in rank order, tried one by one until one matches; then, as
/// replyd does, the winner's reply is filled in (with the regex's captures).
struct Naive<'a> {
    ranked: Vec<&'a replyd::ruleset::Rule>,
}

impl<'a> Naive<'a> {
    fn new(set: &'a RuleSet) -> Naive<'a> {
        let mut ranked: Vec<_> = set.rules().iter().filter(|r| r.enabled).collect();
        ranked.sort_by_key(|r| {
            (
                std::cmp::Reverse(r.priority),
                std::cmp::Reverse(r.matcher.kind().specificity()),
            )
        });
        Naive { ranked }
    }

    fn respond(&self, message: &Message) -> Option<(&'a str, Cow<'a, str>)> {
        let text = match &message.body {
            Body::Text { content } => content,
            Body::Event(e) => {
                return self
                    .ranked
                    .iter()
                    .find(|r| matches!(&r.matcher, Matcher::Event { name, key } if name.eq_ignore_ascii_case(e.name()) && match key { KeyMatch::Any => true, KeyMatch::Exact(k) => Some(k.as_str()) == e.key(), _ => false }))
                    .map(|r| (&*r.id, reply_text(r, None)));
            }
            _ => return None,
        };
        let normalized = normalize(text);
        let folded = fold(&normalized);
        self.ranked.iter().find_map(|r| {
            let t: &str = if r.case_sensitive {
                &normalized
            } else {
                &folded
            };
            let matched = match &r.matcher {
                Matcher::Exact(k) => k.iter().any(|k| k.normalized == t),
                Matcher::Prefix(k) => k.iter().any(|k| t.starts_with(&k.normalized)),
                Matcher::Contains(k) => k.iter().any(|k| t.contains(&k.normalized)),
                Matcher::Regex(p) => {
                    // Test each regex cheaply; only the winner runs again for its captures.
                    return p
                        .iter()
                        .find(|p| p.regex.is_match(&normalized))
                        .and_then(|p| p.regex.captures(&normalized))
                        .map(|c| (&*r.id, reply_text(r, Some(&c))));
                }
                Matcher::Event { .. }
                | Matcher::Scene(_)
                | Matcher::MsgType(_)
                | Matcher::AnyMessage => false,
            };
            matched.then(|| (&*r.id, reply_text(r, None)))
        })
    }
}

/// The text of a rule's reply, filled in (borrowed when nothing is inserted, as replyd does).
fn reply_text<'a>(
    rule: &'a replyd::ruleset::Rule,
    captures: Option<&regex::Captures<'_>>,
) -> Cow<'a, str> {
    match &rule.reply {
        RuleReply::Text(t) => t.render(captures),
        other => Cow::Borrowed(other.kind()),
    }
}

fn bench(c: &mut Criterion) {
    for &n in SIZES {
        let (set, g) = ruleset(n);
        let naive = Naive::new(&set);
        let probes = [
            ("exact", text(&g.exact_hit)),
            ("prefix", text(&g.prefix_hit)),
            ("contains", text(&g.contains_hit)),
            ("regex", text(&g.regex_hit)),
            ("miss", text(&g.miss)),
            (
                "event",
                message(Body::Event(Event::Click {
                    key: g.event_key.clone(),
                })),
            ),
        ];
        let cx = engine::Context::at(jiff::Timestamp::now());
        for (kind, m) in &probes {
            let ours = engine::respond(&set, m, &cx)
                .winner
                .map(|(r, _)| r.id.to_string());
            let theirs = naive.respond(m).map(|(id, _)| id.to_owned());
            assert_eq!(
                ours, theirs,
                "{n} rules, {kind}: the baseline must answer the same"
            );
            assert_eq!(
                ours.is_none(),
                *kind == "miss",
                "{n} rules, {kind}: {ours:?}"
            );
        }
        let mut group = c.benchmark_group(format!("rules={n}"));
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30);
        for (kind, m) in &probes {
            group.bench_with_input(BenchmarkId::new("replyd", kind), m, |b, m| {
                b.iter(|| {
                    black_box(
                        engine::respond(&set, black_box(m), &cx)
                            .action
                            .reply()
                            .is_some(),
                    )
                })
            });
            group.bench_with_input(BenchmarkId::new("naive", kind), m, |b, m| {
                b.iter(|| black_box(naive.respond(black_box(m))))
            });
        }
        group.finish();
    }
}

/// Rules that depend on the time and key families: a tenth of the set gated by a schedule, a
/// tenth in campaigns that are over, and as many CLICK key prefixes. Whether a gated rule
/// answers is asked only when it matched, so these should cost what a plain hit costs.
fn gated(c: &mut Criterion) {
    for &n in SIZES {
        let g = ruleset_gen::generate(n);
        let k = (n / 10).max(1);
        let mut extra = String::from(
            "[[schedule]]\nname = \"office\"\nweekly = [\"mon-fri 09:00-18:00\"]\nclosed = [\"2026-10-01..2026-10-07\"]\n",
        );
        for i in 0..k {
            extra.push_str(&format!(
                "[[rule]]\nid = \"gated-{i}\"\nmatch.exact = \"gated{i}\"\nduring = \"office\"\nreply.text = \"g\"\n\
                 [[rule]]\nid = \"camp-{i}\"\nmatch.exact = \"camp{i}\"\nuntil = 2025-11-12T00:00:00+08:00\nreply.text = \"c\"\n\
                 [[rule]]\nid = \"fam-{i}\"\nmatch.event = \"CLICK\"\nmatch.key_prefix = \"FAM{i}_\"\nreply.text = \"f\"\n"
            ));
        }
        let mut files: Vec<(&str, &str)> = g
            .files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        files.push(("zz/gated.toml", &extra));
        let set = compile(&sources_from(&files))
            .ruleset()
            .expect("the gated rules compile");
        let open = engine::Context::at("2026-12-07T10:00:00+08:00".parse().unwrap());
        let closed = engine::Context::at("2026-12-07T20:00:00+08:00".parse().unwrap());
        let last = k - 1;
        let probes = [
            ("plain-exact", text(&g.exact_hit), open),
            ("gated-open", text(&format!("gated{last}")), open),
            ("gated-closed", text(&format!("gated{last}")), closed),
            ("campaign-over", text(&format!("camp{last}")), open),
            (
                "key-prefix",
                message(Body::Event(Event::Click {
                    key: format!("FAM{last}_42"),
                })),
                open,
            ),
        ];
        for (kind, m, cx) in &probes {
            let a = engine::respond(&set, m, cx);
            let expected = match *kind {
                "gated-open" => Some(format!("gated-{last}")),
                "key-prefix" => Some(format!("fam-{last}")),
                "gated-closed" | "campaign-over" => None,
                _ => a.winner.as_ref().map(|(r, _)| r.id.to_string()),
            };
            assert_eq!(
                a.winner.map(|(r, _)| r.id.to_string()),
                expected,
                "{n}: {kind}"
            );
        }
        let mut group = c.benchmark_group(format!("gated rules={n}"));
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30);
        for (kind, m, cx) in &probes {
            group.bench_with_input(BenchmarkId::new("replyd", kind), m, |b, m| {
                b.iter(|| {
                    black_box(
                        engine::respond(&set, black_box(m), cx)
                            .action
                            .reply()
                            .is_some(),
                    )
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench, gated);
criterion_main!(benches);
