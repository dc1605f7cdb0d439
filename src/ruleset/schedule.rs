//! Schedules (`[[schedule]]`): when an office is open, compiled once into a form that answers
//! "open at this instant?" by looking at a few small arrays, without allocating.
//!
//! A date in `closed` is closed all day; otherwise a date in `open` is open in its hours only;
//! otherwise `weekly` decides. Times are local to the schedule's zone (jiff's bundled IANA
//! database, so a machine without tzdata answers the same), minute-precise, each range
//! half-open (`18:00` is closed) and at most `24:00`.
//!
//! The parsers here read one string each (`"mon-fri 09:00-18:00"`, `"2026-10-01..2026-10-07"`,
//! `"2026-10-11 09:00-18:00"`) and say what is wrong with a byte range inside it, so that the
//! compiler can point at the exact character.

use std::ops::Range;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The zone of a schedule that names none: the zone of every official account's followers.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// Minutes in a day: the end of a range that closes at midnight (`24:00`).
const DAY: u16 = 24 * 60;

/// A compiled schedule.
#[derive(Debug)]
pub struct Schedule {
    /// Its name.
    pub name: Arc<str>,
    tz: TimeZone,
    /// Open ranges `[start, end)` in minutes of the day, per weekday (Monday first).
    weekly: [Vec<(u16, u16)>; 7],
    /// Closed date ranges (inclusive), sorted by start.
    closed: Vec<(Date, Date)>,
    /// Dates with hours of their own, sorted and unique.
    open: Vec<(Date, Vec<(u16, u16)>)>,
}

/// Open hours `[start, end)` in minutes of the day.
pub type Hours = Vec<(u16, u16)>;

/// Days of the week (Monday first) and their hours: one `weekly` item.
pub type Weekly = ([bool; 7], Hours);

/// What the rule files say of a schedule, parsed and checked.
#[derive(Debug, Default)]
pub struct ScheduleParts {
    /// `weekly`: (days, hours).
    pub weekly: Vec<Weekly>,
    /// `closed`.
    pub closed: Vec<(Date, Date)>,
    /// `open`.
    pub open: Vec<(Date, Vec<(u16, u16)>)>,
}

impl Schedule {
    /// Compiles parsed parts in a zone.
    pub fn new(name: Arc<str>, tz: TimeZone, parts: ScheduleParts) -> Schedule {
        let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
        for (days, hours) in parts.weekly {
            for (d, on) in days.iter().enumerate() {
                if *on {
                    weekly[d].extend(hours.iter().copied());
                }
            }
        }
        let mut closed = parts.closed;
        closed.sort();
        let mut open: Vec<(Date, Vec<(u16, u16)>)> = Vec::new();
        let mut given = parts.open;
        given.sort_by_key(|(d, _)| *d);
        for (date, hours) in given {
            match open.last_mut() {
                Some((d, h)) if *d == date => h.extend(hours),
                _ => open.push((date, hours)),
            }
        }
        Schedule {
            name,
            tz,
            weekly,
            closed,
            open,
        }
    }

    /// Whether the schedule is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        let local = self.tz.to_datetime(t);
        let date = local.date();
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let inside = |hours: &[(u16, u16)]| hours.iter().any(|&(s, e)| s <= minute && minute < e);
        // Closed ranges are sorted by start: only those starting on or before the date can
        // hold it.
        let upto = self.closed.partition_point(|(start, _)| *start <= date);
        if self.closed[..upto].iter().any(|(_, end)| date <= *end) {
            return false;
        }
        if let Ok(i) = self.open.binary_search_by_key(&date, |(d, _)| *d) {
            return inside(&self.open[i].1);
        }
        let day = date.weekday().to_monday_zero_offset() as usize;
        inside(&self.weekly[day])
    }

    /// The zone's name, as written.
    pub fn timezone(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }
}

/// What is wrong with a string, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartError {
    /// Byte range in the string.
    pub at: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: &'static str,
}

fn error(at: Range<usize>, message: impl Into<String>, help: &'static str) -> PartError {
    PartError {
        at,
        message: message.into(),
        help,
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const HELP_DAYS: &str =
    "days are mon, tue, wed, thu, fri, sat, sun, as a list (`mon,wed`) or a range (`mon-fri`)";
const HELP_HOURS: &str = "hours are HH:MM-HH:MM on a 24-hour clock, the end after the start and at most 24:00 \
     (a night shift is two ranges: `22:00-24:00` and, the next day, `00:00-06:00`)";
const HELP_DATE: &str = "dates are YYYY-MM-DD, a range is `2026-10-01..2026-10-07` (inclusive)";

/// Parses a `weekly` item: `"mon-fri 09:00-18:00"`, `"sat,sun 10:00-12:00,14:00-16:00"`.
pub fn parse_weekly(s: &str) -> Result<Weekly, PartError> {
    let (days, hours, hours_at) = split_once_space(s).ok_or_else(|| {
        error(
            0..s.len(),
            format!("{s:?} has no hours"),
            "write the days, a space, then the hours: `mon-fri 09:00-18:00`",
        )
    })?;
    Ok((parse_days(days)?, parse_hours(hours, hours_at)?))
}

/// Parses a `closed` item: a date or an inclusive range of dates.
pub fn parse_closed(s: &str) -> Result<(Date, Date), PartError> {
    match s.split_once("..") {
        Some((a, b)) => {
            let start = parse_date(a, 0)?;
            let b_at = a.len() + 2;
            let end = parse_date(b, b_at)?;
            if end < start {
                return Err(error(
                    0..s.len(),
                    format!("the range {s:?} ends before it starts"),
                    HELP_DATE,
                ));
            }
            Ok((start, end))
        }
        None => {
            let d = parse_date(s, 0)?;
            Ok((d, d))
        }
    }
}

/// Parses an `open` item: a date and its hours, `"2026-10-11 09:00-18:00"`.
pub fn parse_open(s: &str) -> Result<(Date, Vec<(u16, u16)>), PartError> {
    let (date, hours, hours_at) = split_once_space(s).ok_or_else(|| {
        error(
            0..s.len(),
            format!("{s:?} has no hours"),
            "write the date, a space, then the hours: `2026-10-11 09:00-18:00`",
        )
    })?;
    Ok((parse_date(date, 0)?, parse_hours(hours, hours_at)?))
}

/// Looks a zone up in the bundled database.
pub fn parse_timezone(name: &str) -> Result<TimeZone, PartError> {
    TimeZone::get(name).map_err(|_| {
        error(
            0..name.len(),
            format!("{name:?} is not an IANA time zone"),
            "name a zone of the IANA database, such as Asia/Shanghai, Asia/Hong_Kong, Europe/Berlin or UTC",
        )
    })
}

/// `"days hours"` → (days, hours, where the hours start).
fn split_once_space(s: &str) -> Option<(&str, &str, usize)> {
    let trimmed = s.trim_end();
    let i = trimmed.find(char::is_whitespace)?;
    let rest = &trimmed[i..];
    let start = i + (rest.len() - rest.trim_start().len());
    Some((&trimmed[..i], &trimmed[start..], start))
}

fn parse_days(s: &str) -> Result<[bool; 7], PartError> {
    let mut days = [false; 7];
    let mut at = 0;
    for part in s.split(',') {
        let span = at..at + part.len();
        at += part.len() + 1;
        let day = |name: &str, offset: usize| {
            DAYS.iter()
                .position(|d| d.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    let start = span.start + offset;
                    error(
                        start..start + name.len(),
                        format!("{name:?} is not a day"),
                        HELP_DAYS,
                    )
                })
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (first, last) = (day(a, 0)?, day(b, a.len() + 1)?);
                // A range may wrap over the week's end (`fri-mon`).
                let mut d = first;
                loop {
                    days[d] = true;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part, 0)?] = true,
        }
    }
    Ok(days)
}

fn parse_hours(s: &str, base: usize) -> Result<Vec<(u16, u16)>, PartError> {
    let mut out = Vec::new();
    let mut at = base;
    for part in s.split(',') {
        let span = at..at + part.len();
        at += part.len() + 1;
        let bad = |m: String| error(span.clone(), m, HELP_HOURS);
        let (a, b) = part
            .split_once('-')
            .ok_or_else(|| bad(format!("{part:?} is not a range of hours")))?;
        let (start, end) = (
            minute_of(a).ok_or_else(|| bad(format!("{a:?} is not a time of day")))?,
            minute_of(b).ok_or_else(|| bad(format!("{b:?} is not a time of day")))?,
        );
        if start >= end {
            return Err(bad(format!("{part:?} ends before it starts")));
        }
        out.push((start, end));
    }
    Ok(out)
}

/// `HH:MM` (`24:00` allowed) → minutes of the day.
fn minute_of(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minute = h * 60 + m;
    (m < 60 && minute <= DAY).then_some(minute)
}

fn parse_date(s: &str, base: usize) -> Result<Date, PartError> {
    let bad = || {
        error(
            base..base + s.len(),
            format!("{s:?} is not a date"),
            HELP_DATE,
        )
    };
    if s.len() != 10 {
        return Err(bad());
    }
    s.parse::<Date>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office() -> Schedule {
        let mut parts = ScheduleParts::default();
        for w in ["mon-fri 09:00-18:00", "sat 10:00-12:00"] {
            parts.weekly.push(parse_weekly(w).unwrap());
        }
        for c in ["2026-10-01..2026-10-07", "2027-01-01"] {
            parts.closed.push(parse_closed(c).unwrap());
        }
        parts
            .open
            .push(parse_open("2026-10-11 09:00-18:00").unwrap());
        Schedule::new(
            "office".into(),
            parse_timezone(DEFAULT_TIMEZONE).unwrap(),
            parts,
        )
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// One line per case: (instant, open?). 2026-12-07 is a Monday.
    #[test]
    fn office_hours_holidays_and_make_up_days() {
        let s = office();
        let cases: &[(&str, bool)] = &[
            ("2026-12-07T09:00:00+08:00", true),
            ("2026-12-07T08:59:59+08:00", false),
            ("2026-12-07T17:59:59+08:00", true),
            ("2026-12-07T18:00:00+08:00", false), // the end is exclusive
            ("2026-12-07T01:00:00Z", true),       // 09:00 in Shanghai
            ("2026-12-07T00:59:00Z", false),
            ("2026-12-12T10:30:00+08:00", true), // Saturday
            ("2026-12-12T12:00:00+08:00", false),
            ("2026-12-13T10:30:00+08:00", false), // Sunday
            ("2026-10-01T10:00:00+08:00", false), // Thursday, a holiday
            ("2026-10-07T10:00:00+08:00", false), // the range is inclusive
            ("2026-10-08T10:00:00+08:00", true),
            ("2026-10-11T10:00:00+08:00", true), // a Sunday made a working day
            ("2026-10-11T08:00:00+08:00", false), // … in its hours only
            ("2027-01-01T10:00:00+08:00", false),
            ("2026-12-31T23:59:00+08:00", false),
        ];
        for &(t, open) in cases {
            assert_eq!(s.is_open(at(t)), open, "{t}");
        }
    }

    #[test]
    fn midnight_ranges_and_a_week_that_wraps() {
        let mut parts = ScheduleParts::default();
        parts
            .weekly
            .push(parse_weekly("fri-mon 22:00-24:00").unwrap());
        parts
            .weekly
            .push(parse_weekly("sat,sun 00:00-06:00").unwrap());
        let s = Schedule::new("night".into(), TimeZone::UTC, parts);
        let cases: &[(&str, bool)] = &[
            ("2026-12-11T23:59:59Z", true),  // Friday
            ("2026-12-12T00:00:00Z", true),  // Saturday
            ("2026-12-12T06:00:00Z", false), // Saturday
            ("2026-12-14T22:00:00Z", true),  // Monday
            ("2026-12-15T22:00:00Z", false), // Tuesday
            ("2026-12-15T00:30:00Z", false), // Tuesday: Monday's night ended at 24:00
        ];
        for &(t, open) in cases {
            assert_eq!(s.is_open(at(t)), open, "{t}");
        }
    }

    #[test]
    fn a_zone_with_daylight_saving_time_keeps_local_hours() {
        let mut parts = ScheduleParts::default();
        parts
            .weekly
            .push(parse_weekly("mon-sun 09:00-17:00").unwrap());
        let s = Schedule::new(
            "berlin".into(),
            parse_timezone("Europe/Berlin").unwrap(),
            parts,
        );
        // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST); the
        // switch to summer time was on 2026-03-29.
        let cases: &[(&str, bool)] = &[
            ("2026-03-28T07:30:00Z", false),
            ("2026-03-28T08:00:00Z", true),
            ("2026-03-30T07:00:00Z", true),
            ("2026-03-30T06:59:00Z", false),
            ("2026-03-30T15:00:00Z", false), // 17:00 CEST
            ("2026-12-01T15:59:00Z", true),  // 16:59 CET
        ];
        for &(t, open) in cases {
            assert_eq!(s.is_open(at(t)), open, "{t}");
        }
        assert_eq!(s.timezone(), "Europe/Berlin");
    }

    #[test]
    fn bad_parts_say_where() {
        type Case = (&'static str, fn(&str) -> Option<PartError>, Range<usize>);
        let cases: &[Case] = &[
            ("mon-fry 09:00-18:00", |s| parse_weekly(s).err(), 4..7),
            ("mon-fri", |s| parse_weekly(s).err(), 0..7),
            ("mon 9:00-18:00", |s| parse_weekly(s).err(), 4..14),
            ("mon 18:00-09:00", |s| parse_weekly(s).err(), 4..15),
            ("mon 09:00-24:01", |s| parse_weekly(s).err(), 4..15),
            (
                "mon 09:00-12:00,13:60-18:00",
                |s| parse_weekly(s).err(),
                16..27,
            ),
            ("2026-13-01", |s| parse_closed(s).err(), 0..10),
            ("2026-10-01..2026-1-7", |s| parse_closed(s).err(), 12..20),
            ("2026-10-07..2026-10-01", |s| parse_closed(s).err(), 0..22),
            ("2026-10-11", |s| parse_open(s).err(), 0..10),
            ("Asia/Shangai", |s| parse_timezone(s).err(), 0..12),
        ];
        for (s, f, span) in cases {
            let e = f(s).unwrap_or_else(|| panic!("{s} parsed"));
            assert_eq!(&e.at, span, "{s}: {e:?}");
        }
        assert_eq!(
            parse_weekly("mon,wed 09:00-12:00,14:00-24:00").unwrap(),
            (
                [true, false, true, false, false, false, false],
                vec![(540, 720), (840, 1440)]
            )
        );
    }
}
