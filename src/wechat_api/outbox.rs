//! Customer-service messages leave the request path: `reply.all`'s follow-ups are queued with
//! the message's answer and sent by a task of their own, in order, after the passive reply has
//! gone out (the job waits for the server's signal that the response was written). A full
//! queue drops (counted); a failed message is counted by errcode and not retried, and the rest
//! of its job is skipped, so nothing arrives twice or out of order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, mpsc, oneshot};
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
}

impl Outbox {
    /// An empty queue; nothing is sent until [`Outbox::start`].
    pub fn new(metrics: Arc<Metrics>) -> Outbox {
        let (tx, rx) = mpsc::channel(CAPACITY);
        Outbox {
            tx,
            rx: Mutex::new(Some(rx)),
            metrics,
        }
    }

    /// Starts the task that sends through `api` (within a tokio runtime); a second call does
    /// nothing.
    pub fn start(&self, api: Arc<Api>) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(CONCURRENT));
            while let Some(job) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (api, metrics) = (api.clone(), metrics.clone());
                tokio::spawn(async move {
                    send(&api, &metrics, job).await;
                    drop(slot);
                });
            }
        });
    }

    /// Queues `job`; a full queue drops it (counted).
    pub fn push(&self, job: Job) {
        let n = job.messages.len() as u64;
        if self.tx.try_send(job).is_ok() {
            self.metrics
                .custom_messages
                .with_label_values(&["queued"])
                .inc_by(n);
        } else {
            warn!("the customer-service message queue is full; follow-up replies were dropped");
            self.metrics
                .custom_messages
                .with_label_values(&["dropped"])
                .inc_by(n);
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
