//! The connections a listener is serving, and which of them are idle.
//!
//! Each connection registers a [`Slot`] and marks itself busy while it answers a request. Two
//! things ask connections to close, gracefully (an idle one closes at once, a busy one after
//! its answer):
//!
//! - admission: when every slot is taken and a new client is waiting, the longest-idle
//!   keep-alive connections make way (what nginx does), so idle sockets cannot starve real
//!   requests however many an attacker opens;
//! - shutdown: every connection, and the server waits until they are all gone (or the grace
//!   time runs out).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The connections of one server (its listeners share it).
#[derive(Debug)]
pub struct Registry {
    epoch: Instant,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Rung when the last connection leaves.
    emptied: Notify,
}

/// One connection's entry.
#[derive(Debug)]
pub struct Slot {
    epoch: Instant,
    /// Nanoseconds since the registry's epoch at which it became idle; `BUSY` while a request
    /// is being answered.
    idle_since: AtomicU64,
    /// Asks the connection to close gracefully.
    pub close: Notify,
    /// Already asked to make way: not counted again.
    asked: AtomicBool,
}

const BUSY: u64 = u64::MAX;

/// A connection idle for less than this is not asked to make way: it may be a client whose
/// first request is still arriving.
pub const MIN_IDLE: Duration = Duration::from_millis(250);

impl Slot {
    /// A request has arrived: not idle until it is answered.
    pub fn busy(&self) {
        self.idle_since.store(BUSY, Ordering::Relaxed);
    }

    /// The request is answered: the connection is idle from now.
    pub fn idle(&self) {
        self.idle_since
            .store(nanos_since(self.epoch), Ordering::Relaxed);
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(BUSY - 1)
}

/// A connection's registration; dropping it leaves the registry.
#[derive(Debug)]
pub struct Registered {
    registry: Arc<Registry>,
    id: u64,
    /// The connection's entry.
    pub slot: Arc<Slot>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut slots = self.registry.lock();
        slots.remove(&self.id);
        if slots.is_empty() {
            self.registry.emptied.notify_waiters();
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
            emptied: Notify::new(),
        }
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // Each operation is one insert, remove or scan: a poisoned map is still consistent.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection, idle (it has not sent a request yet).
    pub fn register(self: &Arc<Self>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            epoch: self.epoch,
            idle_since: AtomicU64::new(nanos_since(self.epoch)),
            close: Notify::new(),
            asked: AtomicBool::new(false),
        });
        self.lock().insert(id, slot.clone());
        Registered {
            registry: self.clone(),
            id,
            slot,
        }
    }

    /// Asks the `n` connections idle the longest (and not asked before) to close; returns how
    /// many were asked.
    pub fn close_idle(&self, n: usize) -> usize {
        let newest = nanos_since(self.epoch)
            .saturating_sub(u64::try_from(MIN_IDLE.as_nanos()).unwrap_or(u64::MAX));
        let mut idle: Vec<(u64, Arc<Slot>)> = self
            .lock()
            .values()
            .filter_map(|s| {
                let since = s.idle_since.load(Ordering::Relaxed);
                (since != BUSY && since <= newest && !s.asked.load(Ordering::Relaxed))
                    .then(|| (since, s.clone()))
            })
            .collect();
        idle.sort_unstable_by_key(|(since, _)| *since);
        let asked = idle.len().min(n);
        for (_, slot) in idle.into_iter().take(asked) {
            slot.asked.store(true, Ordering::Relaxed);
            // Stored if the connection is not waiting yet: it closes when it next looks.
            slot.close.notify_one();
        }
        asked
    }

    /// Asks every connection to close, and waits until they all have, for at most `grace`.
    /// `true` when they all did.
    pub async fn close_all(&self, grace: Duration) -> bool {
        let emptied = self.emptied.notified();
        tokio::pin!(emptied);
        emptied.as_mut().enable();
        let open: Vec<Arc<Slot>> = self.lock().values().cloned().collect();
        if open.is_empty() {
            return true;
        }
        for slot in open {
            slot.close.notify_one();
        }
        tokio::time::timeout(grace, emptied).await.is_ok()
    }

    /// How many connections are registered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none are.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_longest_idle_are_asked_to_close_and_busy_ones_are_not() {
        let registry = Arc::new(Registry::default());
        let a = registry.register();
        std::thread::sleep(Duration::from_millis(2));
        let b = registry.register();
        let c = registry.register();
        c.slot.busy();
        assert_eq!(
            registry.close_idle(1),
            0,
            "none has been idle for MIN_IDLE yet"
        );
        std::thread::sleep(MIN_IDLE);
        assert_eq!(registry.close_idle(1), 1);
        // `a` has been idle longest: its close is stored for it.
        tokio::time::timeout(Duration::from_secs(5), a.slot.close.notified())
            .await
            .expect("a is asked");
        assert_eq!(
            registry.close_idle(10),
            1,
            "b only: a was asked already, c is busy"
        );
        tokio::time::timeout(Duration::from_secs(5), b.slot.close.notified())
            .await
            .expect("b is asked");
        drop((a, b));
        assert_eq!(registry.len(), 1);
        // Shutdown: c closes when asked; close_all returns once it is gone.
        let closing = tokio::spawn(async move {
            c.slot.close.notified().await;
            drop(c);
        });
        assert!(registry.close_all(Duration::from_secs(5)).await);
        closing.await.unwrap();
        assert!(registry.is_empty());
    }
}
