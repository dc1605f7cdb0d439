//! When a rule may answer: a schedule gate (`during`, `outside`) and a campaign window
//! (`from`, `until`). The engine asks [`When::skip`] for every candidate; the compiler asks
//! [`When::excludes`] whether two rules can ever be candidates at the same time.

use jiff::Timestamp;

use super::Schedule;

/// A rule's time conditions. The default is "always".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct When {
    /// `during` / `outside` a schedule.
    pub gate: Option<Gate>,
    /// `from`: the first instant the rule answers.
    pub from: Option<Timestamp>,
    /// `until`: the first instant it no longer answers.
    pub until: Option<Timestamp>,
}

/// `during = "office"` (`open: true`) or `outside = "office"` (`open: false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Index into the rule set's schedules.
    pub schedule: u32,
    /// Whether the rule answers while the schedule is open.
    pub open: bool,
}

/// Why a rule that matched cannot answer now: it is then not a candidate, and the next one
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `during` a schedule that is closed now.
    Closed,
    /// `outside` a schedule that is open now.
    Open,
    /// Before `from`.
    NotYet,
    /// At or after `until`.
    Over,
    /// The rule answered this follower within its cooldown.
    Cooling,
    /// The reply rendered as empty text (a template of empty captures).
    EmptyReply,
}

impl Skip {
    /// Why, in a few words (for `try` and test failures).
    pub fn phrase(self) -> &'static str {
        match self {
            Skip::Closed => "its schedule is closed now",
            Skip::Open => "its schedule is open now",
            Skip::NotYet => "its campaign has not started",
            Skip::Over => "its campaign is over",
            Skip::Cooling => "it answered this follower within its cooldown",
            Skip::EmptyReply => "its reply renders empty",
        }
    }
}

impl When {
    /// Whether the rule answers at any time.
    pub fn is_always(&self) -> bool {
        *self == When::default()
    }

    /// Why the rule cannot answer at `now`, if it cannot.
    pub fn skip(&self, schedules: &[Schedule], now: Timestamp) -> Option<Skip> {
        if self.from.is_some_and(|from| now < from) {
            return Some(Skip::NotYet);
        }
        if self.until.is_some_and(|until| now >= until) {
            return Some(Skip::Over);
        }
        let gate = self.gate?;
        let open = schedules
            .get(gate.schedule as usize)
            .is_some_and(|s| s.is_open(now));
        match (gate.open, open) {
            (true, false) => Some(Skip::Closed),
            (false, true) => Some(Skip::Open),
            _ => None,
        }
    }

    /// Whether two rules can never answer at the same instant: one `during` and one `outside`
    /// the same schedule, or campaign windows that do not overlap.
    pub fn excludes(&self, other: &When) -> bool {
        let gates = matches!(
            (self.gate, other.gate),
            (Some(a), Some(b)) if a.schedule == b.schedule && a.open != b.open
        );
        // Windows [from, until) are disjoint when one ends before the other starts.
        let before = |a: &When, b: &When| matches!((a.until, b.from), (Some(u), Some(f)) if u <= f);
        gates || before(self, other) || before(other, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn campaign_windows_and_exclusion() {
        let w = When {
            from: Some(t("2026-11-11T00:00:00+08:00")),
            until: Some(t("2026-11-12T00:00:00+08:00")),
            gate: None,
        };
        assert_eq!(
            w.skip(&[], t("2026-11-10T23:59:59+08:00")),
            Some(Skip::NotYet)
        );
        assert_eq!(w.skip(&[], t("2026-11-11T00:00:00+08:00")), None);
        assert_eq!(w.skip(&[], t("2026-11-11T23:59:59+08:00")), None);
        assert_eq!(
            w.skip(&[], t("2026-11-12T00:00:00+08:00")),
            Some(Skip::Over)
        );
        let next = When {
            from: Some(t("2026-11-12T00:00:00+08:00")),
            ..When::default()
        };
        assert!(w.excludes(&next) && next.excludes(&w));
        let overlapping = When {
            until: Some(t("2026-11-11T12:00:00+08:00")),
            ..When::default()
        };
        assert!(!w.excludes(&overlapping));
        let during = When {
            gate: Some(Gate {
                schedule: 0,
                open: true,
            }),
            ..When::default()
        };
        let outside = When {
            gate: Some(Gate {
                schedule: 0,
                open: false,
            }),
            ..When::default()
        };
        assert!(during.excludes(&outside));
        assert!(!during.excludes(&during));
        assert!(!When::default().excludes(&during));
    }
}
