//! What time it is on the request path: the wall clock (a reply's `CreateTime`, the signed
//! timestamp's skew) and a monotonic clock (the retry cache's window).
//!
//! The daemon uses the system's clocks. A test makes a manual clock and moves it forward
//! itself ([`ManualClock::advance`]), so that "a second later" or "after the window" costs no
//! waiting and cannot race.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A clock: the system's, or a manual one.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

#[derive(Debug)]
struct Manual {
    unix_secs: AtomicU64,
    monotonic_nanos: AtomicU64,
}

/// The handle that moves a manual clock.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Manual>);

impl Clock {
    /// The system's clocks.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that starts at `unix_secs` and moves only when told to.
    pub fn manual(unix_secs: u64) -> (Clock, ManualClock) {
        let m = Arc::new(Manual {
            unix_secs: AtomicU64::new(unix_secs),
            monotonic_nanos: AtomicU64::new(0),
        });
        (
            Clock {
                manual: Some(m.clone()),
            },
            ManualClock(m),
        )
    }

    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        match &self.manual {
            Some(m) => m.unix_secs.load(Ordering::Relaxed),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// Time since an arbitrary origin; never goes back.
    pub fn monotonic(&self) -> Duration {
        match &self.manual {
            Some(m) => Duration::from_nanos(m.monotonic_nanos.load(Ordering::Relaxed)),
            None => {
                static ORIGIN: OnceLock<Instant> = OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed()
            }
        }
    }
}

impl ManualClock {
    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        self.0.unix_secs.fetch_add(by.as_secs(), Ordering::Relaxed);
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.monotonic_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let (clock, hand) = Clock::manual(1_700_000_000);
        assert_eq!(
            (clock.unix_secs(), clock.monotonic()),
            (1_700_000_000, Duration::ZERO)
        );
        hand.advance(Duration::from_secs(61));
        assert_eq!(clock.unix_secs(), 1_700_000_061);
        assert_eq!(clock.monotonic(), Duration::from_secs(61));
        let system = Clock::system();
        assert!(system.unix_secs() > 1_700_000_000);
        assert!(system.monotonic() <= system.monotonic());
    }
}
