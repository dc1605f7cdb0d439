//! Per-follower cooldowns (`cooldown = "1h"` on a rule): after a rule answers a follower, it is
//! not a candidate for that follower until the cooldown has passed.
//!
//! The engine reads the state through [`Cooldowns`], a small trait, so that dry runs use
//! [`NoCooldowns`], the daemon [`MemoryCooldowns`], and replicas a shared store. A lookup never
//! waits on IO: the in-memory map answers under a short lock.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher as _, Hasher as _, RandomState};
use std::sync::Mutex;

use jiff::Timestamp;

/// Who answered whom, until when.
pub trait Cooldowns: Send + Sync + std::fmt::Debug {
    /// Whether `rule` answered `follower` and its cooldown has not passed at `now`.
    fn cooling(&self, follower: &str, rule: &str, now: Timestamp) -> bool;
    /// Records that `rule` answered `follower`; it cools until `until`.
    fn start(&self, follower: &str, rule: &str, until: Timestamp);
}

/// No follower is ever cooling: `try`, `[[test]]` and the shadowing analysis.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCooldowns;

impl Cooldowns for NoCooldowns {
    fn cooling(&self, _: &str, _: &str, _: Timestamp) -> bool {
        false
    }

    fn start(&self, _: &str, _: &str, _: Timestamp) {}
}

/// Cooldowns in this process's memory: at most `capacity` entries, the earliest to expire
/// dropped first when full, expired ones swept as new ones arrive.
#[derive(Debug)]
pub struct MemoryCooldowns {
    capacity: usize,
    hasher: RandomState,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Key → until.
    until: HashMap<u128, Timestamp>,
    /// (until, key), earliest first.
    order: BTreeSet<(Timestamp, u128)>,
}

/// The default bound: a few megabytes at most.
pub const DEFAULT_CAPACITY: usize = 100_000;

impl MemoryCooldowns {
    /// An empty map holding at most `capacity` entries.
    pub fn new(capacity: usize) -> MemoryCooldowns {
        MemoryCooldowns {
            capacity: capacity.max(1),
            hasher: RandomState::new(),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// A 128-bit keyed digest of (follower, rule), length-prefixed so no two pairs collide by
    /// concatenation.
    fn key(&self, follower: &str, rule: &str) -> u128 {
        let half = |salt: u8| {
            let mut h = self.hasher.build_hasher();
            h.write_u8(salt);
            h.write_usize(follower.len());
            h.write(follower.as_bytes());
            h.write(rule.as_bytes());
            h.finish()
        };
        (u128::from(half(1)) << 64) | u128::from(half(2))
    }

    /// How many entries are held (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().until.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves consistent maps (each step is one insert or
        // remove): keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Cooldowns for MemoryCooldowns {
    fn cooling(&self, follower: &str, rule: &str, now: Timestamp) -> bool {
        let key = self.key(follower, rule);
        self.lock().until.get(&key).is_some_and(|&u| now < u)
    }

    fn start(&self, follower: &str, rule: &str, until: Timestamp) {
        let key = self.key(follower, rule);
        let mut e = self.lock();
        if let Some(old) = e.until.insert(key, until) {
            e.order.remove(&(old, key));
        }
        e.order.insert((until, key));
        // Over capacity: drop the entries that expire first.
        while e.until.len() > self.capacity {
            let Some((t, k)) = e.order.pop_first() else {
                break;
            };
            if e.until.get(&k) == Some(&t) {
                e.until.remove(&k);
            }
        }
    }
}

impl MemoryCooldowns {
    /// Drops every entry that has expired at `now`.
    pub fn sweep(&self, now: Timestamp) {
        let mut e = self.lock();
        while let Some(&(t, k)) = e.order.first() {
            if t > now {
                break;
            }
            e.order.pop_first();
            e.until.remove(&k);
        }
    }
}

/// The cooldowns another replica recorded for one follower (read from the shared store before
/// the engine runs), seen together with this daemon's own.
#[derive(Debug)]
pub struct WithShared<'a> {
    /// This daemon's cooldowns: where new ones are recorded.
    pub local: &'a dyn Cooldowns,
    /// The follower whose shared cooldowns these are.
    pub follower: &'a str,
    /// (rule, until) as the shared store holds them for `follower`.
    pub shared: &'a [(String, Timestamp)],
}

impl Cooldowns for WithShared<'_> {
    fn cooling(&self, follower: &str, rule: &str, now: Timestamp) -> bool {
        self.local.cooling(follower, rule, now)
            || (follower == self.follower
                && self
                    .shared
                    .iter()
                    .any(|(r, until)| r == rule && now < *until))
    }

    fn start(&self, follower: &str, rule: &str, until: Timestamp) {
        self.local.start(follower, rule, until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn a_cooldown_holds_until_it_passes_per_follower_and_rule() {
        let c = MemoryCooldowns::new(10);
        assert!(!c.cooling("a", "r", t(0)));
        c.start("a", "r", t(3600));
        assert!(c.cooling("a", "r", t(0)));
        assert!(c.cooling("a", "r", t(3599)));
        assert!(!c.cooling("a", "r", t(3600)));
        assert!(!c.cooling("b", "r", t(10)));
        assert!(!c.cooling("a", "r2", t(10)));
        // Length-prefixed: ("ab", "c") is not ("a", "bc").
        c.start("ab", "c", t(100));
        assert!(!c.cooling("a", "bc", t(10)));
        c.sweep(t(3600));
        assert!(c.is_empty());
    }

    #[test]
    fn shared_cooldowns_add_to_the_local_ones() {
        let local = MemoryCooldowns::new(10);
        local.start("a", "mine", t(100));
        let shared = [("theirs".to_owned(), t(200))];
        let both = WithShared {
            local: &local,
            follower: "a",
            shared: &shared,
        };
        assert!(both.cooling("a", "mine", t(50)));
        assert!(both.cooling("a", "theirs", t(199)));
        assert!(!both.cooling("a", "theirs", t(200)));
        assert!(!both.cooling("b", "theirs", t(50)));
        both.start("a", "new", t(300));
        assert!(local.cooling("a", "new", t(0)));
    }

    #[test]
    fn the_map_is_bounded_and_drops_the_earliest_to_expire() {
        let c = MemoryCooldowns::new(3);
        for (i, f) in ["a", "b", "c", "d"].iter().enumerate() {
            c.start(f, "r", t(100 + i as i64));
        }
        assert_eq!(c.len(), 3);
        assert!(!c.cooling("a", "r", t(0)));
        assert!(c.cooling("d", "r", t(0)));
        // Restarting an entry moves it, without a second entry.
        c.start("b", "r", t(1000));
        assert_eq!(c.len(), 3);
        assert!(c.cooling("b", "r", t(500)));
    }
}
