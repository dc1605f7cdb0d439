//! Log lines on their way to stderr: appended to one buffer by the threads that log, written by
//! a thread of its own in batches.
//!
//! A thread that logs never waits for a write to stderr, and pays no allocation, channel
//! message or wake-up per line: it takes a lock, appends its line, and wakes the writer only
//! when the writer sleeps on an empty buffer. The writer then lets lines gather for a moment
//! ([`LINGER`]) before each write, so under load one write carries hundreds of lines.
//! (tracing-appender's channel, used before, cost every line an allocation and a message, and
//! under the HTTP benchmark its thread woke and wrote every ~25 lines: with the logs off,
//! replyd's CPU per request was a fifth lower.)
//!
//! Nothing is dropped. Past [`CAP`] bytes pending (stderr blocked: a stuck log collector) a
//! thread that logs waits for the writer, as it would for a blocking stderr. Once the [`Flush`]
//! guard is dropped (the pending lines written, the thread joined), a line is written at once,
//! in the order it was logged.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer lets lines gather after the first one before it writes them.
pub const LINGER: Duration = Duration::from_millis(20);
/// The bytes that may be pending before a thread that logs waits for the writer: about 40,000
/// lines, a second or more of a busy daemon's log, so that a log collector's hiccup does not
/// stall requests. (tracing-appender's channel held 128,000 lines.)
pub const CAP: usize = 8 << 20;
/// A buffer grown past this by a burst is let go once written, not kept at its size.
const KEEP: usize = 1 << 20;

/// Where lines go: the `MakeWriter` given to tracing-subscriber (it writes each event's whole
/// line with one `write_all`).
#[derive(Clone)]
pub struct Lines(Arc<Shared>);

/// The writer thread's guard: dropping it writes what is pending and stops the thread.
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits here for lines (and for the end).
    lines: Condvar,
    /// Threads that log wait here for room.
    room: Condvar,
    /// Locked after `state`, never before it, so that lines reach it in the order they were
    /// logged even while the writer stops.
    out: Mutex<Box<dyn Write + Send>>,
    linger: Duration,
    cap: usize,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    /// The writer sleeps until a line comes: the next line wakes it.
    idle: bool,
    /// The writer lets lines gather: a buffer half full wakes it.
    lingering: bool,
    /// Threads waiting for room.
    waiting: usize,
    /// The guard was dropped: lines are written as they come.
    closed: bool,
}

/// Starts the writer thread over `out`.
///
/// # Errors
///
/// When the thread cannot be spawned.
pub fn start(
    out: Box<dyn Write + Send>,
    linger: Duration,
    cap: usize,
) -> io::Result<(Lines, Flush)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        lines: Condvar::new(),
        room: Condvar::new(),
        out: Mutex::new(out),
        linger,
        cap,
    });
    let writer = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("replyd-log".into())
        .spawn(move || writer.run())?;
    Ok((
        Lines(Arc::clone(&shared)),
        Flush {
            shared,
            thread: Some(thread),
        },
    ))
}

/// A poisoned lock only means a thread panicked while logging; the buffer is still whole
/// lines, so logging goes on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The writer thread: waits for a line, lets more gather, writes them all, again.
    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            let mut state = lock(&self.state);
            while state.pending.is_empty() && !state.closed {
                state.idle = true;
                state = self
                    .lines
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            state.idle = false;
            let gathering = |s: &mut State| !s.closed && s.pending.len() < self.cap / 2;
            if gathering(&mut state) {
                // Woken early by the end, or by a buffer half full.
                state.lingering = true;
                state = self
                    .lines
                    .wait_timeout_while(state, self.linger, gathering)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                state.lingering = false;
            }
            std::mem::swap(&mut state.pending, &mut batch);
            if state.waiting > 0 {
                self.room.notify_all();
            }
            let closed = state.closed;
            let mut out = lock(&self.out);
            drop(state);
            // Nothing to do about a failed write to stderr but to go on: the next may work.
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            drop(out);
            batch.clear();
            if batch.capacity() > KEEP {
                batch = Vec::new();
            }
            if closed {
                // Lines are written as they come from now on.
                return;
            }
        }
    }
}

impl Write for Lines {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = &*self.0;
        let mut state = lock(&shared.state);
        while state.pending.len() >= shared.cap && !state.closed {
            state.waiting += 1;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting -= 1;
        }
        if state.closed {
            // Lines still pending (a thread that waited for room) go first.
            let pending = std::mem::take(&mut state.pending);
            let mut out = lock(&shared.out);
            drop(state);
            out.write_all(&pending)?;
            out.write_all(line)?;
            out.flush()?;
            return Ok(line.len());
        }
        state.pending.extend_from_slice(line);
        if state.idle {
            state.idle = false;
            shared.lines.notify_one();
        } else if state.lingering && state.pending.len() >= shared.cap / 2 {
            // A burst: the writer need not wait out its linger.
            state.lingering = false;
            shared.lines.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        state.closed = true;
        self.shared.lines.notify_one();
        self.shared.room.notify_all();
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink the test reads back, counting the writes.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            lock(&self.written).extend_from_slice(b);
            *lock(&self.writes) += 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(sink: &Sink) -> String {
        String::from_utf8(lock(&sink.written).clone()).unwrap()
    }

    #[test]
    fn every_line_of_every_thread_is_written_in_its_order() {
        let sink = Sink::default();
        let (lines, flush) = start(Box::new(sink.clone()), LINGER, CAP).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut lines = lines.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        lines.write_all(format!("{t} {i}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(flush);
        let log = text(&sink);
        for t in 0..4 {
            let seen: Vec<usize> = log
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(seen, (0..2_000).collect::<Vec<_>>(), "thread {t}");
        }
        // Batched: far fewer writes than lines.
        assert!(
            *lock(&sink.writes) < 8_000 / 10,
            "{} writes",
            lock(&sink.writes)
        );
    }

    #[test]
    fn a_line_logged_after_the_guard_is_dropped_is_written_at_once() {
        let sink = Sink::default();
        let (mut lines, flush) = start(Box::new(sink.clone()), LINGER, CAP).unwrap();
        lines.write_all(b"before\n").unwrap();
        drop(flush);
        assert_eq!(text(&sink), "before\n");
        lines.write_all(b"after\n").unwrap();
        assert_eq!(text(&sink), "before\nafter\n");
    }

    /// Half a buffer of lines is written without waiting out the linger.
    #[test]
    fn a_burst_is_written_before_the_linger_ends() {
        struct Told(mpsc::Sender<Vec<u8>>);
        impl Write for Told {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                let _ = self.0.send(b.to_vec());
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (tx, written) = mpsc::channel();
        // An hour's linger and a cap of 16 bytes: 8 pending is half.
        let linger = Duration::from_secs(3600);
        let (mut lines, flush) = start(Box::new(Told(tx)), linger, 16).unwrap();
        lines.write_all(b"a\n").unwrap();
        // Once the writer lingers over the first line, half a buffer more wakes it.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !lock(&lines.0.state).lingering {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never lingered"
            );
            std::thread::yield_now();
        }
        lines.write_all(b"bcdefg\n").unwrap();
        let got = written.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(got, b"a\nbcdefg\n");
        drop(flush);
    }

    /// With stderr stuck, a thread that logs past the cap waits: nothing is dropped.
    #[test]
    fn past_the_cap_a_thread_that_logs_waits_for_the_writer_and_nothing_is_lost() {
        struct Stuck {
            sink: Sink,
            release: mpsc::Receiver<()>,
        }
        impl Write for Stuck {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.release.recv().unwrap();
                self.sink.write(b)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let (release, stuck) = mpsc::channel();
        let out = Stuck {
            sink: sink.clone(),
            release: stuck,
        };
        // A cap of 8 bytes: each 8-byte line fills the buffer.
        let (lines, flush) = start(Box::new(out), Duration::ZERO, 8).unwrap();
        let (logged, done) = mpsc::channel();
        let logger = {
            let mut lines = lines.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    lines
                        .write_all(format!("line {i:02}\n").as_bytes())
                        .unwrap();
                    logged.send(i).unwrap();
                }
            })
        };
        // The writer takes a line and is stuck writing it; the next fills the buffer; the one
        // after must wait.
        assert_eq!(done.recv().unwrap(), 0);
        assert_eq!(done.recv().unwrap(), 1);
        assert!(done.try_recv().is_err(), "a line was taken past the cap");
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        logger.join().unwrap();
        assert_eq!(done.iter().collect::<Vec<_>>(), [2, 3, 4]);
        drop(release);
        drop(flush);
        assert_eq!(text(&sink), "line 00\nline 01\nline 02\nline 03\nline 04\n");
    }
}
