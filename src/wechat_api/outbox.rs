//! Customer-service messages leave the request path: `reply.all`'s follow-ups are queued with
//! the message's answer and sent by a task of their own, in order, after the passive reply has
//! gone out (the job waits for the server's signal that the response was written). A full
//! queue drops (counted); a failed message is counted by errcode and not retried, and the rest
//! of its job is skipped, so nothing arrives twice or out of order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tracing::warn;

use super::Api;
use crate::metrics::Metrics;

/// Jobs queued at most.
pub const CAPACITY: usize = 1024;

/// Followers sent to at once (each one's messages in order).
const CONCURRENT: usize = 16;

/// The longest a job waits for its passive reply to be written.
const AFTER_TIMEOUT: Duration = Duration::from_secs(5);

/// What to send one follower.
#[derive(Debug)]
pub struct Job {
    /// Fires (or is dropped) once the passive reply has been written.
    pub after: Option<oneshot::Receiver<()>>,
    /// The messages, in order (the JSON of `custom_message`).
    pub messages: Vec<Value>,
}

/// The queue and its task.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Job>,
    rx: Mutex<Option<mpsc::Receiver<Job>>>,
    metrics: Arc<Metrics>,
    /// Jobs queued or being sent, and a signal each time one ends (for `drain`).
    pending: Arc<(AtomicUsize, Notify)>,
}

impl Outbox {
    /// An empty queue; nothing is sent until [`Outbox::start`].
    pub fn new(metrics: Arc<Metrics>) -> Outbox {
        let (tx, rx) = mpsc::channel(CAPACITY);
        Outbox {
            tx,
            rx: Mutex::new(Some(rx)),
            metrics,
            pending: Arc::default(),
        }
    }

    /// Starts the task that sends through `api` (within a tokio runtime); a second call does
    /// nothing.
    pub fn start(&self, api: Arc<Api>) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let metrics = self.metrics.clone();
        let pending = self.pending.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(CONCURRENT));
            while let Some(job) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (api, metrics, pending) = (api.clone(), metrics.clone(), pending.clone());
                tokio::spawn(async move {
                    send(&api, &metrics, job).await;
                    drop(slot);
                    pending.0.fetch_sub(1, Ordering::SeqCst);
                    pending.1.notify_waiters();
                });
            }
        });
    }

    /// Queues `job`; a full queue drops it (counted).
    pub fn push(&self, job: Job) {
        let n = job.messages.len() as u64;
        self.pending.0.fetch_add(1, Ordering::SeqCst);
        if self.tx.try_send(job).is_ok() {
            self.metrics
                .custom_messages
                .with_label_values(&["queued"])
                .inc_by(n);
        } else {
            self.pending.0.fetch_sub(1, Ordering::SeqCst);
            warn!("the customer-service message queue is full; follow-up replies were dropped");
            self.metrics
                .custom_messages
                .with_label_values(&["dropped"])
                .inc_by(n);
        }
    }

    /// Sends what is queued, for at most `grace` (at shutdown); what is left then is not sent
    /// (logged). Without the sending task (no API) there is nothing to wait for.
    pub async fn drain(&self, grace: Duration) {
        let started = self.rx.lock().unwrap_or_else(|p| p.into_inner()).is_none();
        if !started {
            return;
        }
        let (count, ended) = &*self.pending;
        let drained = tokio::time::timeout(grace, async {
            loop {
                // Registered before the count is read, so that no ending is missed between.
                let notified = ended.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if drained.is_err() {
            warn!("customer-service messages still queued after {grace:?}; they are not sent");
        }
    }
}

async fn send(api: &Api, metrics: &Metrics, job: Job) {
    if let Some(after) = job.after {
        // Written, or the connection went away: either way, send now.
        let _ = tokio::time::timeout(AFTER_TIMEOUT, after).await;
    }
    let count = |outcome: &str, n: usize| {
        metrics
            .custom_messages
            .with_label_values(&[outcome])
            .inc_by(n as u64);
    };
    for (i, m) in job.messages.iter().enumerate() {
        if api.send_custom(m).await.is_err() {
            // Counted by errcode in replyd_wechat_api_calls_total; the rest would arrive out
            // of order or fail the same way.
            count("failed", 1);
            count("skipped", job.messages.len() - i - 1);
            return;
        }
        count("sent", 1);
    }
}
