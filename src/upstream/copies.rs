//! Copies of events (`copy_events`), sent in the background after the answer.
//!
//! A bounded queue drained by one task: a copy that finds the queue full is dropped and
//! counted, never waited for, so copies never delay an answer. Each copy is tried a few times
//! with a growing pause; its answer is ignored. At shutdown the queue is drained for at most
//! the grace time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::{Client, Reason, Request, Upstream};
use crate::metrics::Metrics;

/// How many copies may wait to be sent.
pub const QUEUE: usize = 1024;

/// How many times a copy is tried, and the pause before each retry.
const PAUSES: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(800)];

/// What becomes of a copy: the metric's `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOutcome {
    /// The upstream answered 200 (to a try).
    Sent,
    /// Every try failed.
    Failed,
    /// The queue was full (or closed for shutdown): not sent.
    Dropped,
}

impl CopyOutcome {
    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            CopyOutcome::Sent => "sent",
            CopyOutcome::Failed => "failed",
            CopyOutcome::Dropped => "dropped",
        }
    }
}

enum Job {
    Copy(Arc<Upstream>, Request),
    /// Sent by [`Copies::drain`]: everything before it has been tried.
    Stop,
}

/// The copy queue and its task.
#[derive(Debug)]
pub struct Copies {
    tx: mpsc::Sender<Job>,
    /// Taken by the task when it starts.
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    client: Client,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Copy(u, _) => write!(f, "Copy({})", u.spec.name),
            Job::Stop => f.write_str("Stop"),
        }
    }
}

impl Copies {
    /// An empty queue; nothing is sent until [`Copies::start`].
    pub fn new(client: Client, metrics: Arc<Metrics>) -> Copies {
        let (tx, rx) = mpsc::channel(QUEUE);
        Copies {
            tx,
            rx: Mutex::new(Some(rx)),
            task: Mutex::new(None),
            client,
            metrics,
        }
    }

    /// Starts the task that sends the copies (within a tokio runtime); a second call does
    /// nothing.
    pub fn start(&self) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let client = self.client.clone();
        let metrics = self.metrics.clone();
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let Job::Copy(upstream, request) = job else {
                    break;
                };
                let outcome = send(&client, &upstream, &request).await;
                metrics
                    .upstream_copies
                    .with_label_values(&[upstream.spec.name.as_str(), outcome.as_str()])
                    .inc();
            }
        });
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Queues a copy of `request` to `upstream`; a full queue drops it (counted).
    pub fn push(&self, upstream: Arc<Upstream>, request: Request) {
        let name = upstream.spec.name.clone();
        if self.tx.try_send(Job::Copy(upstream, request)).is_err() {
            warn!(upstream = %name, "the copy queue is full; an event copy was dropped");
            self.metrics
                .upstream_copies
                .with_label_values(&[name.as_str(), CopyOutcome::Dropped.as_str()])
                .inc();
        }
    }

    /// Sends what is queued, for at most `grace`; what is left then is abandoned (logged).
    pub async fn drain(&self, grace: Duration) {
        let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let waiting = QUEUE - self.tx.capacity();
        let stopped = tokio::time::timeout(grace, async {
            if self.tx.send(Job::Stop).await.is_ok() {
                let _ = task.await;
            }
        })
        .await;
        if stopped.is_err() {
            warn!("event copies still queued after {grace:?}; abandoned ({waiting} were waiting)");
        } else if waiting > 0 {
            debug!("{waiting} queued event copies were sent before stopping");
        }
    }
}

/// Tries a copy until the upstream answers 200, at most three times.
async fn send(client: &Client, upstream: &Upstream, request: &Request) -> CopyOutcome {
    let spec = &upstream.spec;
    let mut pauses = PAUSES.iter();
    loop {
        // Any 200 will do: a copy's answer is ignored, so an "invalid" body is still delivered.
        match client
            .post(&spec.url, spec.timeout, request, Reason::Copy)
            .await
        {
            Ok(_) => return CopyOutcome::Sent,
            Err(f) if f.delivered => return CopyOutcome::Sent,
            Err(f) => match pauses.next() {
                Some(pause) => {
                    debug!(upstream = %spec.name, "event copy failed ({}); retrying", f.detail);
                    tokio::time::sleep(*pause).await;
                }
                None => {
                    warn!(upstream = %spec.name, outcome = f.outcome.as_str(), "event copy failed: {}", f.detail);
                    return CopyOutcome::Failed;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamSpec;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let metrics = Arc::new(Metrics::new());
        // Not started: nothing drains the queue.
        let copies = Copies::new(Client::new(1024), metrics.clone());
        let upstream = Arc::new(Upstream {
            spec: UpstreamSpec {
                name: "app".into(),
                url: "http://127.0.0.1:9/wechat".parse().unwrap(),
                timeout: Duration::from_millis(100),
                copy_events: Vec::new(),
            },
            health: Mutex::default(),
        });
        let request = Request {
            query: String::new(),
            body: bytes::Bytes::new(),
            content_type: None,
            forwarded_for: None,
        };
        for _ in 0..QUEUE + 2 {
            copies.push(upstream.clone(), request.clone());
        }
        let dropped = metrics
            .upstream_copies
            .with_label_values(&["app", CopyOutcome::Dropped.as_str()])
            .get();
        assert_eq!(dropped, 2);
    }
}
