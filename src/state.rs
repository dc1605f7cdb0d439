//! The rules being served, shared by the HTTP handlers (which read) and the reloader (which
//! writes).
//!
//! The served set sits in an `ArcSwap`: a request loads it once and answers wholly from that
//! set, lock-free, while a reload may store a new one at any moment. Only [`Rules::apply`]
//! stores a set, and only the reload task (and start-up) calls it, so generations increase one
//! by one. The outcome of the last reload is kept beside it for `/healthz`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::{ArcSwap, Guard};

use crate::metrics::Metrics;
use crate::ruleset::{Declared, RuleSet};

/// A rule set as it is served: the set, and when and from what it was loaded.
#[derive(Debug)]
pub struct Served {
    /// The rules (shared with the next generation when a reload finds the files unchanged).
    pub ruleset: Arc<RuleSet>,
    /// When the set was loaded.
    pub loaded_at: SystemTime,
    /// 1 for the set loaded at start-up, one more for every reload applied.
    pub generation: u64,
    /// The git commit of the rules directory, when it is in a git checkout.
    pub commit: Option<String>,
}

/// How the last reload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new set is being served.
    Applied {
        /// Its generation.
        generation: u64,
    },
    /// The files have errors; the previous set is still served.
    Rejected {
        /// Each error in the `file:line:col: error[code]: message` form.
        errors: Vec<String>,
    },
    /// The rules directory could not be read (removed, permissions); the previous set is still
    /// served.
    Unreadable {
        /// Why.
        error: String,
    },
    /// The reload crashed (a bug in replyd); the previous set is still served, and the next
    /// change is loaded again.
    Crashed {
        /// What the panic said.
        error: String,
    },
}

/// The last reload, for `/healthz` and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// When the last reload finished, and how; `None` before the first.
    pub last: Option<(SystemTime, Outcome)>,
    /// When reloads started failing, if the last one failed.
    pub failing_since: Option<SystemTime>,
}

impl ReloadStatus {
    /// Whether the last reload failed (the daemon serves an older set than the files say).
    pub fn is_failing(&self) -> bool {
        self.failing_since.is_some()
    }
}

/// The served rule set and the reload status.
#[derive(Debug)]
pub struct Rules {
    dir: PathBuf,
    /// What the config declares, which the rules may rely on (a reload checks them too).
    declared: Declared,
    current: ArcSwap<Served>,
    status: ArcSwap<ReloadStatus>,
    /// When the reload running now started, if one is.
    reloading: ArcSwap<Option<SystemTime>>,
    metrics: Arc<Metrics>,
}

impl Rules {
    /// Starts serving the set loaded at start-up (generation 1) from `dir`; the rule and reload
    /// metrics follow what is served.
    pub fn new(
        dir: PathBuf,
        ruleset: impl Into<Arc<RuleSet>>,
        commit: Option<String>,
        metrics: Arc<Metrics>,
    ) -> Rules {
        let ruleset = ruleset.into();
        metrics.rules.set(ruleset.rules().len() as i64);
        metrics.generation.set(1);
        Rules {
            metrics,
            dir,
            declared: Declared::default(),
            current: ArcSwap::from_pointee(Served {
                ruleset,
                loaded_at: SystemTime::now(),
                generation: 1,
                commit,
            }),
            status: ArcSwap::from_pointee(ReloadStatus::default()),
            reloading: ArcSwap::from_pointee(None),
        }
    }

    /// Marks a reload as running until the returned guard is dropped: `/healthz` says since
    /// when, so a load that takes long is visible rather than a silent "ok".
    pub fn reloading(&self) -> ReloadRunning<'_> {
        self.reloading.store(Arc::new(Some(SystemTime::now())));
        ReloadRunning(self)
    }

    /// When the reload running now started, if one is.
    pub fn reloading_since(&self) -> Option<SystemTime> {
        **self.reloading.load()
    }

    /// The same, for rules that may rely on what the config `declared`.
    pub fn with_declared(mut self, declared: Declared) -> Rules {
        self.declared = declared;
        self
    }

    /// What the config declares, which the rules may rely on.
    pub fn declared(&self) -> &Declared {
        &self.declared
    }

    /// The rules directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The set to answer one request with. Load it once per request, and do not hold the guard
    /// across an `.await`.
    pub fn load(&self) -> Guard<Arc<Served>> {
        self.current.load()
    }

    /// The outcome of the last reload.
    pub fn status(&self) -> Arc<ReloadStatus> {
        self.status.load_full()
    }

    /// Serves a new set, atomically, and records the success. Returns its generation.
    pub fn apply(&self, ruleset: impl Into<Arc<RuleSet>>, commit: Option<String>) -> u64 {
        let ruleset = ruleset.into();
        let generation = self.current.load().generation + 1;
        let count = ruleset.rules().len();
        let old = self.current.swap(Arc::new(Served {
            ruleset,
            loaded_at: SystemTime::now(),
            generation,
            commit,
        }));
        // The old set is freed here, on the reload's blocking thread, unless a request still holds it.
        drop(old);
        let now = SystemTime::now();
        self.status.store(Arc::new(ReloadStatus {
            last: Some((now, Outcome::Applied { generation })),
            failing_since: None,
        }));
        let m = &self.metrics;
        m.reloads.with_label_values(&["applied"]).inc();
        m.rules.set(count as i64);
        m.generation.set(generation as i64);
        m.last_reload_time.set(unix_seconds(now));
        m.last_reload_success.set(1);
        generation
    }

    /// Records a failed reload; the served set does not change.
    pub fn reject(&self, outcome: Outcome) {
        let now = SystemTime::now();
        let since = self.status.load().failing_since.unwrap_or(now);
        let m = &self.metrics;
        let result = match outcome {
            Outcome::Applied { .. } => "applied",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Unreadable { .. } => "unreadable",
            Outcome::Crashed { .. } => "crashed",
        };
        m.reloads.with_label_values(&[result]).inc();
        m.last_reload_time.set(unix_seconds(now));
        m.last_reload_success.set(0);
        self.status.store(Arc::new(ReloadStatus {
            last: Some((now, outcome)),
            failing_since: Some(since),
        }));
    }
}

/// A reload in progress; see [`Rules::reloading`].
#[derive(Debug)]
pub struct ReloadRunning<'r>(&'r Rules);

impl Drop for ReloadRunning<'_> {
    fn drop(&mut self) {
        self.0.reloading.store(Arc::new(None));
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
