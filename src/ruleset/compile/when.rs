//! A rule's time keys (`during`, `outside`, `from`, `until`, `cooldown`) and the
//! `[[schedule]]` entries they name.
//!
//! Schedules may be written in any file, before or after the rules that name them, so a rule's
//! `during`/`outside` is kept by name ([`PendingGate`]) and resolved once every file is read
//! ([`resolve_gates`]).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use toml::Spanned;
use toml::value::Datetime;

use super::Entry;
use super::suggest::did_you_mean;
use crate::diag::{Code, Diagnostic, Location};
use crate::ruleset::raw::RawSchedule;
use crate::ruleset::schedule::{self, DEFAULT_TIMEZONE, PartError, Schedule, ScheduleParts};
use crate::ruleset::{Gate, Rule, When};

/// The longest cooldown: a follower's entry lives this long at most.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(30 * 24 * 3600);

/// A rule's `during` / `outside`, by name until every schedule is known.
pub(super) struct PendingGate {
    /// Index of the rule in the compiler's list.
    pub rule: usize,
    pub name: String,
    pub open: bool,
    pub at: Location,
}

/// The schedules read so far, by name.
#[derive(Default)]
pub(super) struct Schedules {
    pub list: Vec<Schedule>,
    /// Name → its index in `list` (`None`: it has errors), and where it was defined.
    by_name: HashMap<String, (Option<u32>, Location)>,
}

impl Schedules {
    /// Forgets the schedules `file` added after the first `len` (a file read again whole).
    pub fn forget(&mut self, file: crate::diag::FileId, len: usize) {
        self.list.truncate(len);
        self.by_name.retain(|_, (_, at)| at.file != file);
    }
}

/// An offset date-time from TOML as an instant; `Err` says why it is not one.
pub(super) fn instant(dt: &Datetime) -> Result<Timestamp, String> {
    if dt.date.is_none() || dt.time.is_none() {
        return Err(format!("{dt} is not a date and a time"));
    }
    if dt.offset.is_none() {
        return Err(format!(
            "{dt} has no offset, so it names no instant (add +08:00 for Beijing time, or Z for UTC)"
        ));
    }
    dt.to_string()
        .parse::<Timestamp>()
        .map_err(|e| format!("{dt} is not a time: {e}"))
}

/// The rule's time keys, checked. `Err(())` when one is wrong (the diagnostic is pushed).
pub(super) struct TimeKeys {
    pub during: Option<Spanned<String>>,
    pub outside: Option<Spanned<String>>,
    pub from: Option<Spanned<Datetime>>,
    pub until: Option<Spanned<Datetime>>,
    pub cooldown: Option<Spanned<String>>,
}

/// What the time keys compile to: the window (its gate still pending), the cooldown, and the
/// span of `until` for the `expired` warning.
pub(super) struct Timing {
    pub when: When,
    pub gate: Option<(String, bool, Range<usize>)>,
    pub cooldown: Option<Duration>,
    pub until_span: Option<crate::ruleset::EntrySpan>,
}

impl Timing {
    /// What the rule keeps: nothing for a rule that may always answer (no schedule, window,
    /// cooldown), which is most of a catalogue.
    pub fn kept(&self) -> Option<Box<crate::ruleset::Timing>> {
        let always = self.when.is_always()
            && self.gate.is_none()
            && self.cooldown.is_none()
            && self.until_span.is_none();
        (!always).then(|| {
            Box::new(crate::ruleset::Timing {
                when: self.when,
                cooldown: self.cooldown,
                until_span: self.until_span,
            })
        })
    }
}

pub(super) fn timing(
    entry: &Entry<'_>,
    keys: TimeKeys,
    diags: &mut Vec<Diagnostic>,
) -> Option<Timing> {
    let TimeKeys {
        during,
        outside,
        from,
        until,
        cooldown,
    } = keys;
    let mut ok = true;
    let gate = match (during, outside) {
        (Some(d), Some(o)) => {
            diags.push(
                entry
                    .diag(
                        Code::InvalidWindow,
                        o.span(),
                        "a rule has `during` or `outside`, not both",
                    )
                    .with_help("keep one: `during` answers while the schedule is open, `outside` while it is closed")
                    .with_related(entry.file, d.span(), "`during` is here"),
            );
            ok = false;
            None
        }
        (Some(d), None) => Some((d.get_ref().clone(), true, d.span())),
        (None, Some(o)) => Some((o.get_ref().clone(), false, o.span())),
        (None, None) => None,
    };
    let mut instant_of = |v: Option<Spanned<Datetime>>, key: &str| match v {
        None => None,
        Some(v) => match instant(v.get_ref()) {
            Ok(t) => Some((t, v.span())),
            Err(why) => {
                diags.push(
                    entry
                        .diag(Code::InvalidWindow, v.span(), format!("`{key}` {why}"))
                        .with_help(format!(
                            "write an offset date-time: `{key} = 2026-11-11T00:00:00+08:00`"
                        )),
                );
                ok = false;
                None
            }
        },
    };
    let from = instant_of(from, "from");
    let until = instant_of(until, "until");
    if let (Some((f, fspan)), Some((u, uspan))) = (&from, &until)
        && u <= f
    {
        diags.push(
            entry
                .diag(
                    Code::InvalidWindow,
                    uspan.clone(),
                    "`until` is not after `from`: the campaign never answers",
                )
                .with_help("`until` is the first instant the rule no longer answers; make it later than `from`")
                .with_related(entry.file, fspan.clone(), "`from` is here"),
        );
        ok = false;
    }
    let cooldown = match cooldown {
        None => None,
        Some(c) => match humantime::parse_duration(c.get_ref().trim()) {
            Ok(d) if d >= Duration::from_secs(1) && d <= MAX_COOLDOWN => Some(d),
            Ok(_) => {
                diags.push(
                    entry
                        .diag(
                            Code::InvalidCooldown,
                            c.span(),
                            format!("the cooldown {:?} is out of range", c.get_ref()),
                        )
                        .with_help("a cooldown is from 1s to 30d"),
                );
                ok = false;
                None
            }
            Err(e) => {
                diags.push(
                    entry
                        .diag(
                            Code::InvalidCooldown,
                            c.span(),
                            format!("{:?} is not a duration: {e}", c.get_ref()),
                        )
                        .with_help("write a number and a unit: `30s`, `10m`, `1h`, `1d`"),
                );
                ok = false;
                None
            }
        },
    };
    ok.then(|| Timing {
        when: When {
            gate: None,
            from: from.as_ref().map(|f| f.0),
            until: until.as_ref().map(|u| u.0),
        },
        gate,
        cooldown,
        until_span: until.map(|u| entry.within(&u.1)),
    })
}

impl Schedules {
    /// Reads one `[[schedule]]`.
    pub(super) fn add(&mut self, entry: &Entry<'_>, raw: RawSchedule, diags: &mut Vec<Diagnostic>) {
        let RawSchedule {
            name,
            timezone,
            weekly,
            closed,
            open,
        } = raw;
        let Some(name) = name else {
            diags.push(
                entry
                    .diag(Code::InvalidSchedule, entry.header.clone(), "schedule has no `name`")
                    .with_help("add `name = \"office\"`: letters, digits, `_` and `-`, unique across all rule files"),
            );
            return;
        };
        let n = name.get_ref();
        if n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        {
            diags.push(
                entry
                    .diag(
                        Code::InvalidSchedule,
                        name.span(),
                        format!("invalid schedule name {n:?}"),
                    )
                    .with_help(
                        "a schedule name is letters, digits, `_` and `-` (for example `office`)",
                    ),
            );
            return;
        }
        if let Some((_, first)) = self.by_name.get(n) {
            diags.push(
                entry
                    .diag(
                        Code::DuplicateSchedule,
                        name.span(),
                        format!("the schedule `{n}` is already defined"),
                    )
                    .with_help("schedule names are unique across all rule files; rename or merge one of them")
                    .with_related(first.file, first.span.clone(), "first defined here"),
            );
            return;
        }
        let here = Location {
            file: entry.file,
            span: name.span(),
        };
        let mut ok = true;
        let mut report = |span: &Range<usize>, value: &str, e: PartError| {
            let at = entry.inner_span(span, value, e.at.clone());
            diags.push(
                entry
                    .diag(Code::InvalidSchedule, at, e.message)
                    .with_help(e.help),
            );
            ok = false;
        };
        let zone = match &timezone {
            None => schedule::parse_timezone(DEFAULT_TIMEZONE).ok(),
            Some(tz) => match schedule::parse_timezone(tz.get_ref()) {
                Ok(z) => Some(z),
                Err(e) => {
                    report(&tz.span(), tz.get_ref(), e);
                    None
                }
            },
        };
        let mut parts = ScheduleParts::default();
        for w in &weekly {
            match schedule::parse_weekly(w.get_ref()) {
                Ok(p) => parts.weekly.push(p),
                Err(e) => report(&w.span(), w.get_ref(), e),
            }
        }
        for c in &closed {
            match schedule::parse_closed(c.get_ref()) {
                Ok(p) => parts.closed.push(p),
                Err(e) => report(&c.span(), c.get_ref(), e),
            }
        }
        for o in &open {
            match schedule::parse_open(o.get_ref()) {
                Ok(p) => parts.open.push(p),
                Err(e) => report(&o.span(), o.get_ref(), e),
            }
        }
        if weekly.is_empty() && open.is_empty() {
            diags.push(
                entry
                    .diag(
                        Code::InvalidSchedule,
                        name.span(),
                        format!("the schedule `{n}` is never open"),
                    )
                    .with_help("give it open hours: `weekly = [\"mon-fri 09:00-18:00\"]`"),
            );
            ok = false;
        }
        let Some(zone) = zone.filter(|_| ok) else {
            self.by_name.insert(n.clone(), (None, here));
            return;
        };
        let index = self.list.len() as u32;
        self.by_name.insert(n.clone(), (Some(index), here));
        self.list
            .push(Schedule::new(Arc::from(n.as_str()), zone, parts));
    }
}

/// Resolves every rule's `during`/`outside` to its schedule; a rule naming an unknown one is
/// reported and dropped (its index in `rules` is then gone, so this runs before the index is
/// built).
pub(super) fn resolve_gates(
    pending: Vec<PendingGate>,
    schedules: &Schedules,
    rules: &mut Vec<Rule>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut unknown = vec![false; rules.len()];
    let names: Vec<&str> = schedules.by_name.keys().map(String::as_str).collect();
    for p in pending {
        match schedules.by_name.get(&p.name) {
            Some(&(Some(index), _)) => {
                // A rule with a gate kept its timing (`Timing::kept`).
                if let Some(timing) = rules[p.rule].body_mut().and_then(|b| b.timing.as_mut()) {
                    timing.when.gate = Some(Gate {
                        schedule: index,
                        open: p.open,
                    });
                }
            }
            // The schedule has errors of its own, reported where it is written.
            Some(&(None, _)) => unknown[p.rule] = true,
            None => {
                let help = match did_you_mean(&p.name, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => {
                        "define it: [[schedule]] name = \"…\" weekly = [\"mon-fri 09:00-18:00\"]"
                            .to_owned()
                    }
                    None => format!("the schedules are {}", names.join(", ")),
                };
                diags.push(
                    Diagnostic::new(
                        Code::UnknownSchedule,
                        p.at.file,
                        p.at.span,
                        format!("no schedule is named `{}`", p.name),
                    )
                    .with_help(help),
                );
                unknown[p.rule] = true;
            }
        }
    }
    let mut i = 0;
    rules.retain(|_| {
        i += 1;
        !unknown[i - 1]
    });
}
