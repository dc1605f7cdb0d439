//! Hot reload: watch the rules directory, wait for a change to settle, load the whole set again
//! with the same loader as start-up, and serve it only if it has no error.
//!
//! One task does all reloads, one after the other, so that two loads never race, and each load
//! runs on a blocking thread, so a slow load never holds up a request. The task waits for
//! triggers on a channel:
//!
//! - file-system events from `notify`, on the rules directory (recursively) and on its parent
//!   (so that a symlink switched to a new release, or the directory removed and created again,
//!   is seen even though nothing inside the old target changed);
//! - SIGHUP, or anything else that calls [`Reloader::trigger`]: reload now.
//!
//! A change *settles* when no relevant event has arrived for the settle time: a `git pull` that
//! writes 30 files, or an editor that writes a temporary file and renames it, leads to one load
//! of the final state. The settle is one quiet period over the whole directory, not a
//! per-file debounce: a per-file debouncer (notify-debouncer-full) releases the first files of a
//! `git checkout` while the last are still being written. It is measured with `tokio::time`, so
//! tests drive it with `tokio::time::pause` and `advance` instead of waiting.
//!
//! Triggers that queue up while a load runs (a SIGHUP storm, a deploy still writing) lead to
//! one more load, not one each: the load that starts next reads everything written until then.
//!
//! Before each load the watches are set up again, so that the recursive watch follows the
//! directory the rules path now points to.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tracing::{debug, error, info, warn};

use crate::git;
use crate::load;
use crate::state::{Outcome, Rules};

/// Why the reload task wakes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Something changed on disk: wait for it to settle, then reload.
    Changed,
    /// Reload now (SIGHUP).
    Now,
    /// Stop the task.
    Stop,
}

/// The running reloader. Dropping it stops the watching and the task.
#[derive(Debug)]
pub struct Reloader {
    trigger: UnboundedSender<Trigger>,
}

impl Reloader {
    /// Starts watching `rules.dir()` and reloading into `rules`, on the current tokio runtime.
    /// When the watch cannot be set up (no inotify, too many watches), reloading still works on
    /// [`Reloader::trigger`].
    pub fn start(rules: Arc<Rules>, settle: Duration) -> Reloader {
        Reloader::spawn(rules, settle, true)
    }

    /// The reload task, with or without the file-system watch (tests send the triggers).
    fn spawn(rules: Arc<Rules>, settle: Duration, watch: bool) -> Reloader {
        let (tx, rx) = unbounded_channel();
        let watches = watch
            .then(|| Watches::new(rules.dir(), tx.clone()))
            .flatten();
        tokio::spawn(run(rules, rx, watches, settle));
        Reloader { trigger: tx }
    }

    /// Asks for a reload now, without waiting for the settle time.
    pub fn trigger(&self) {
        let _ = self.trigger.send(Trigger::Now);
    }

    /// Says the files changed, as a file-system event does: a reload follows once it settles.
    #[cfg(test)]
    fn changed(&self) {
        let _ = self.trigger.send(Trigger::Changed);
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        let _ = self.trigger.send(Trigger::Stop);
    }
}

async fn run(
    rules: Arc<Rules>,
    mut rx: UnboundedReceiver<Trigger>,
    mut watches: Option<Watches>,
    settle: Duration,
) {
    loop {
        let reason = match rx.recv().await {
            Some(Trigger::Changed) => match settle_down(&mut rx, settle).await {
                Some(r) => r,
                None => return,
            },
            Some(Trigger::Now) => "reload requested",
            Some(Trigger::Stop) | None => return,
        };
        if drain(&mut rx) {
            return;
        }
        if let Some(w) = &mut watches {
            w.refresh();
        }
        let task_rules = rules.clone();
        let done = tokio::task::spawn_blocking(move || {
            guarded(&task_rules, || reload(&task_rules, reason));
        })
        .await;
        if let Err(e) = done {
            // Only a cancelled runtime gets here (panics are caught in `guarded`).
            warn!("the reload did not finish: {e}");
            return;
        }
    }
}

/// Takes every trigger already queued: the load about to start covers them all. `true` when one
/// of them says stop.
fn drain(rx: &mut UnboundedReceiver<Trigger>) -> bool {
    while let Ok(t) = rx.try_recv() {
        if t == Trigger::Stop {
            return true;
        }
    }
    false
}

/// Waits until no change has arrived for `settle`. `None` when asked to stop.
async fn settle_down(
    rx: &mut UnboundedReceiver<Trigger>,
    settle: Duration,
) -> Option<&'static str> {
    loop {
        match tokio::time::timeout(settle, rx.recv()).await {
            Ok(Some(Trigger::Changed)) => {}
            Ok(Some(Trigger::Now)) => return Some("reload requested"),
            Ok(Some(Trigger::Stop) | None) => return None,
            Err(_) => return Some("rule files changed"),
        }
    }
}

/// Runs one reload; a panic in it (a bug) is recorded as a failed reload, so `/healthz` says
/// so, and the task goes on to the next one instead of dying silently.
fn guarded(rules: &Rules, reload: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(reload)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        error!(
            "the reload crashed ({what}); still serving generation {}",
            rules.load().generation
        );
        rules.reject(Outcome::Crashed {
            error: format!("the reload crashed: {what}"),
        });
    }
}

/// Loads the rules directory again and serves the result if it has no error.
pub fn reload(rules: &Rules, reason: &str) {
    let _running = rules.reloading();
    let started = Instant::now();
    let dir = rules.dir();
    let serving = rules.load().generation;
    // The served set, to serve again if the files have not changed (no second copy of it).
    let served = rules.load().ruleset.clone();
    match load::reload_paths(
        &[dir.to_owned()],
        rules.declared(),
        jiff::Timestamp::now(),
        served,
    ) {
        Err(e) => {
            let error = with_causes(&e);
            warn!("{error}; still serving generation {serving}");
            rules.reject(Outcome::Unreadable { error });
        }
        Ok(loaded) => {
            loaded.log_diagnostics();
            match loaded.ruleset {
                Some(set) => {
                    let (count, files) = (set.rules().len(), set.files().len());
                    let generation = rules.apply(set, git::head_commit(dir));
                    info!(
                        generation,
                        rules = count,
                        files,
                        unchanged = loaded.unchanged,
                        taken = loaded.summary.rules_taken,
                        millis = started.elapsed().as_millis() as u64,
                        "rules reloaded ({reason})"
                    );
                }
                None => {
                    let errors: Vec<String> = loaded
                        .diagnostics
                        .iter()
                        .filter(|d| d.severity() == crate::diag::Severity::Error)
                        .map(|d| d.short(&loaded.sources))
                        .collect();
                    error!(
                        "reload rejected ({reason}): the rules have {} error(s); still serving generation {serving}",
                        errors.len()
                    );
                    rules.reject(Outcome::Rejected { errors });
                }
            }
        }
    }
}

/// An error and its causes, `: `-separated (each says only its own part).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The `notify` watches: the rules directory, recursively; the entry for it in its parent; and,
/// when the rules path is a symbolic link, the entry of the link's target in the target's
/// parent (so a target that is removed and created again is seen, although nothing under the
/// link's own parent changes).
struct Watches {
    watcher: RecommendedWatcher,
    dir: PathBuf,
    dir_watched: bool,
    /// The link's target and the parent being watched for it, when the rules path is a link.
    target: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watches").field("dir", &self.dir).finish()
    }
}

impl Watches {
    fn new(dir: &Path, tx: UnboundedSender<Trigger>) -> Option<Watches> {
        let watched = dir.to_owned();
        let handler = move |res: notify::Result<Event>| match res {
            Ok(event) if relevant(&event, &watched, link_target(&watched).as_deref()) => {
                debug!(?event, "rules directory changed");
                let _ = tx.send(Trigger::Changed);
            }
            Ok(_) => {}
            Err(e) => warn!("watching the rules directory: {e}"),
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                warn!("cannot watch the rules directory ({e}); reload with SIGHUP");
                return None;
            }
        };
        if let Err(e) = watcher.watch(&parent_of(dir), RecursiveMode::NonRecursive) {
            warn!(
                "cannot watch {} ({e}); a switched symlink or a re-created rules directory needs SIGHUP",
                parent_of(dir).display()
            );
        }
        let mut w = Watches {
            watcher,
            dir: dir.to_owned(),
            dir_watched: false,
            target: None,
        };
        w.refresh();
        Some(w)
    }

    /// Watches the directory the rules path points to now, and the place of the link's target.
    fn refresh(&mut self) {
        if self.dir_watched {
            let _ = self.watcher.unwatch(&self.dir);
        }
        self.dir_watched = match self.watcher.watch(&self.dir, RecursiveMode::Recursive) {
            Ok(()) => true,
            Err(e) => {
                warn!("cannot watch {}: {e}", self.dir.display());
                false
            }
        };
        let target = link_target(&self.dir).map(|t| {
            let parent = parent_of(&t);
            (t, parent)
        });
        if target.as_ref().map(|t| &t.1) != self.target.as_ref().map(|t| &t.1) {
            if let Some((_, old)) = &self.target {
                let _ = self.watcher.unwatch(old);
            }
            if let Some((t, parent)) = &target
                && parent != &parent_of(&self.dir)
                && let Err(e) = self.watcher.watch(parent, RecursiveMode::NonRecursive)
            {
                warn!(
                    "cannot watch {} ({e}); if {} is removed and created again, reload with SIGHUP",
                    parent.display(),
                    t.display()
                );
            }
        }
        self.target = target;
    }
}

/// Where the rules path points when it is a symbolic link (followed to the end, even when the
/// last target does not exist), made absolute.
fn link_target(path: &Path) -> Option<PathBuf> {
    let mut current = path.to_owned();
    let mut followed = false;
    // A chain of links, but not a loop.
    for _ in 0..16 {
        match std::fs::read_link(&current) {
            Ok(next) => {
                current = parent_of(&current).join(next);
                followed = true;
            }
            Err(_) => break,
        }
    }
    followed.then_some(current)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Whether an event can change the rule set: a change to a rule file or a directory under the
/// rules directory `dir`, to the rules directory's own entry in its parent, or to the entry of
/// the link's `target` in its parent. Reads (access events) and metadata changes are not, nor
/// hidden files (editor swap files, `.git`), backups (`~`), files of other types, and anything
/// else in the parent directories.
fn relevant(event: &Event, dir: &Path, target: Option<&Path>) -> bool {
    match event.kind {
        EventKind::Access(_) | EventKind::Modify(notify::event::ModifyKind::Metadata(_)) => {
            return false;
        }
        _ => {}
    }
    let is_entry =
        |p: &Path, of: &Path| p.parent() == of.parent() && p.file_name() == of.file_name();
    event.paths.iter().any(|p| {
        if is_entry(p, dir) || target.is_some_and(|t| is_entry(p, t)) {
            return true;
        }
        let Ok(inside) = p.strip_prefix(dir) else {
            return false;
        };
        let hidden = inside
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let other_type = p.extension().is_some_and(|x| x != "toml");
        !hidden && !name.ends_with('~') && !other_type
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, MetadataKind, ModifyKind, RemoveKind, RenameMode};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn which_events_matter() {
        let rules = Path::new("/srv/rules");
        let modify = EventKind::Modify(ModifyKind::Any);
        // (event, relevant)
        let cases = [
            (event(modify, "/srv/rules/a.toml"), true),
            (
                event(EventKind::Create(CreateKind::File), "/srv/rules/sub/b.toml"),
                true,
            ),
            (
                event(EventKind::Remove(RemoveKind::Folder), "/srv/rules/sub"),
                true,
            ),
            (
                event(
                    EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                    "/srv/rules/a.toml",
                ),
                true,
            ),
            (
                event(EventKind::Create(CreateKind::Any), "/srv/rules"),
                true,
            ),
            (event(modify, "/srv/rules/.a.toml.swp"), false),
            (event(modify, "/srv/rules/.git/index"), false),
            (event(modify, "/srv/rules/a.toml~"), false),
            (event(modify, "/srv/rules/README.md"), false),
            (event(modify, "/srv/replyd.toml"), false),
            (
                event(EventKind::Create(CreateKind::Folder), "/srv/releases"),
                false,
            ),
            (
                event(
                    EventKind::Modify(ModifyKind::Name(RenameMode::To)),
                    "/srv/rules",
                ),
                true,
            ),
            (
                event(EventKind::Access(AccessKind::Any), "/srv/rules/a.toml"),
                false,
            ),
            (
                event(
                    EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                    "/srv/rules/a.toml",
                ),
                false,
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(relevant(&e, rules, None), expected, "{e:?}");
        }
        // A symlinked rules path: the target's entry in its own parent matters too.
        let target = Path::new("/srv/releases/current");
        let created = event(
            EventKind::Create(CreateKind::Folder),
            "/srv/releases/current",
        );
        assert!(!relevant(&created, rules, None));
        assert!(relevant(&created, rules, Some(target)));
        let other = event(EventKind::Create(CreateKind::Folder), "/srv/releases/old");
        assert!(!relevant(&other, rules, Some(target)));
    }

    fn rule_file(dir: &Path, reply: &str) {
        std::fs::write(
            dir.join("a.toml"),
            format!("[[rule]]\nid = \"a\"\nmatch.exact = \"x\"\nreply.text = \"{reply}\"\n"),
        )
        .unwrap();
    }

    fn rules_in(dir: &Path) -> Arc<Rules> {
        rule_file(dir, "v1");
        let set = load::load(dir).unwrap().ruleset.unwrap();
        let metrics = Arc::new(crate::metrics::Metrics::new());
        Arc::new(Rules::new(dir.to_owned(), set, None, metrics))
    }

    /// Lets the reload task run (the load itself is on a blocking thread, in real time) until
    /// the served generation is `n`.
    async fn until_generation(rules: &Rules, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while rules.load().generation < n {
            assert!(Instant::now() < deadline, "generation {n} never came");
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lets the reload task run whatever it can without time passing.
    async fn settle_tasks() {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_is_loaded_once_it_has_been_quiet_for_the_settle_time() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules_in(dir.path());
        let reloader = Reloader::spawn(rules.clone(), Duration::from_millis(500), false);
        rule_file(dir.path(), "v2");
        reloader.changed();
        settle_tasks().await;
        tokio::time::advance(Duration::from_millis(499)).await;
        settle_tasks().await;
        assert_eq!(rules.load().generation, 1, "not before the settle time");
        // Another change restarts the quiet period.
        reloader.changed();
        settle_tasks().await;
        tokio::time::advance(Duration::from_millis(499)).await;
        settle_tasks().await;
        assert_eq!(rules.load().generation, 1, "the quiet period starts again");
        tokio::time::advance(Duration::from_millis(2)).await;
        until_generation(&rules, 2).await;
        // SIGHUP does not wait.
        rule_file(dir.path(), "v3");
        reloader.trigger();
        until_generation(&rules, 3).await;
    }

    #[test]
    fn triggers_queued_before_a_load_are_covered_by_it() {
        let (tx, mut rx) = unbounded_channel();
        for _ in 0..200 {
            tx.send(Trigger::Now).unwrap();
            tx.send(Trigger::Changed).unwrap();
        }
        assert!(!drain(&mut rx));
        assert!(rx.try_recv().is_err(), "one load covers all 400");
        tx.send(Trigger::Now).unwrap();
        tx.send(Trigger::Stop).unwrap();
        assert!(drain(&mut rx), "a stop among them is kept");
    }

    #[test]
    fn a_panicking_reload_is_a_failed_reload_and_the_next_one_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules_in(dir.path());
        guarded(&rules, || panic!("a bug in the loader"));
        let status = rules.status();
        assert!(status.is_failing(), "healthz must not say ok");
        assert!(
            matches!(&status.last, Some((_, Outcome::Crashed { error })) if error.contains("a bug in the loader")),
            "{status:?}"
        );
        assert_eq!(rules.reloading_since(), None);
        guarded(&rules, || {
            let running = rules.reloading();
            assert!(rules.reloading_since().is_some());
            drop(running);
            reload(&rules, "test");
        });
        assert_eq!(
            rules.reloading_since(),
            None,
            "a finished reload is not running"
        );
        assert!(!rules.status().is_failing());
        assert_eq!(rules.load().generation, 2);
    }

    #[test]
    fn a_reload_of_unchanged_files_serves_the_same_set_and_an_edit_compiles_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let rules = rules_in(dir.path());
        let first = rules.load().ruleset.clone();
        // Written again with the same bytes (an editor's save, a checkout): still a reload
        // applied, but the set served is the very same one, not a second copy.
        rule_file(dir.path(), "v1");
        reload(&rules, "test");
        let served = rules.load();
        assert_eq!(served.generation, 2);
        assert!(Arc::ptr_eq(&served.ruleset, &first), "not compiled again");
        drop(served);
        // Two strong references: `first` and the served generation (none left by the reload).
        assert_eq!(Arc::strong_count(&first), 2);
        rule_file(dir.path(), "v2");
        reload(&rules, "test");
        let served = rules.load();
        assert_eq!(served.generation, 3);
        assert!(!Arc::ptr_eq(&served.ruleset, &first), "an edit is compiled");
        assert_eq!(Arc::strong_count(&first), 1, "the old set is let go");
        drop(served);
        // A new file beside the old ones is a change too.
        std::fs::write(
            dir.path().join("b.toml"),
            "[[rule]]\nid = \"b\"\nmatch.exact = \"y\"\nreply.text = \"b\"\n",
        )
        .unwrap();
        let before = rules.load().ruleset.clone();
        reload(&rules, "test");
        assert_eq!(rules.load().ruleset.rules().len(), 2);
        assert!(!Arc::ptr_eq(&rules.load().ruleset, &before));
    }
}
