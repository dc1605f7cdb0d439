//! The ranking, written once: which of two candidates answers (README, "How a message is
//! matched").

use std::cmp::Ordering;

use crate::ruleset::MatchKind;

/// One rule that matched a message, with what decides its rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Index of the rule in the set.
    pub rule: u32,
    /// Which matcher fired.
    pub kind: MatchKind,
    /// Which keyword or pattern of the rule (0 for event and msg_type rules).
    pub item: u32,
    /// Characters of the matched literal (of the match, for a regex).
    pub chars: u32,
    /// The rule's priority.
    pub priority: i64,
}

impl Candidate {
    /// Orders candidates so that the winner is the greatest: the first step of [`RANKING`]
    /// that tells them apart decides.
    pub(super) fn rank_cmp(&self, other: &Candidate) -> Ordering {
        RANKING
            .iter()
            .map(|step| step.compare(self, other))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// What decides between `self` and a lower-ranked `other`.
    pub fn decided_by(&self, other: &Candidate) -> Decider {
        RANKING
            .into_iter()
            .find(|step| step.compare(self, other).is_ne())
            .unwrap_or(Decider::Order)
    }

    /// Whether a rule of this priority and matcher kind could still outrank `self`, before it
    /// is known what (or how much) it matches: the steps of [`RANKING`] that depend only on
    /// the rule decide while they can; at the first that needs the match, it could.
    pub(super) fn could_be_outranked_by(&self, priority: i64, kind: MatchKind) -> bool {
        let probe = Candidate {
            rule: 0,
            kind,
            item: 0,
            chars: 0,
            priority,
        };
        for step in RANKING {
            if !step.known_before_matching() {
                return true;
            }
            match step.compare(&probe, self) {
                Ordering::Greater => return true,
                Ordering::Less => return false,
                Ordering::Equal => {}
            }
        }
        false
    }
}

/// The ranking, written once (README, "How a message is matched"): among the candidates,
/// the first step that tells two apart decides which wins.
pub const RANKING: [Decider; 4] = [
    Decider::Priority,
    Decider::Specificity,
    Decider::Length,
    Decider::Order,
];

/// A step of the ranking: what decides between two candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider {
    /// The higher `priority`.
    Priority,
    /// The more specific matcher (exact > prefix > contains > regex; event with key > without).
    Specificity,
    /// The longer matched literal (or regex match).
    Length,
    /// The rule written first (path order, then file order).
    Order,
}

impl Decider {
    /// How `a` compares with `b` at this step (`Greater`: `a` ranks higher).
    pub(super) fn compare(self, a: &Candidate, b: &Candidate) -> Ordering {
        match self {
            Decider::Priority => a.priority.cmp(&b.priority),
            Decider::Specificity => a.kind.specificity().cmp(&b.kind.specificity()),
            Decider::Length => a.chars.cmp(&b.chars),
            // The rule written first has the lower index and ranks higher.
            Decider::Order => b.rule.cmp(&a.rule),
        }
    }

    /// Whether the step depends only on the rule (priority, matcher kind), not on the match.
    fn known_before_matching(self) -> bool {
        match self {
            Decider::Priority | Decider::Specificity => true,
            Decider::Length | Decider::Order => false,
        }
    }

    /// Why the winner wins, in a few words.
    pub fn winner_phrase(self) -> &'static str {
        match self {
            Decider::Priority => "higher priority",
            Decider::Specificity => "more specific matcher",
            Decider::Length => "longer match",
            Decider::Order => "written first",
        }
    }

    /// Why the loser loses, in a few words.
    pub fn loser_phrase(self) -> &'static str {
        match self {
            Decider::Priority => "lower priority",
            Decider::Specificity => "less specific matcher",
            Decider::Length => "shorter match",
            Decider::Order => "written later",
        }
    }
}
