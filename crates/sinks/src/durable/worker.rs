//! The delivery worker: one batch in flight, retried with backoff, then
//! either taken off the backlog or moved to the dead letters.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use switchboard_protocol::event::Event;

use super::{Shared, Target};
use crate::answer::Answer;

enum Outcome {
    /// With what the target answered, per event.
    Delivered(Vec<Option<Answer>>),
    /// Given up: (last error, attempts).
    Dead(String, u32),
    /// Shutdown began while retrying; the batch stays in the backlog.
    Stopped,
}

pub(super) async fn run<T: Target>(shared: Arc<Shared>, mut target: T, name: String) {
    loop {
        let batch = match next_batch(&shared).await {
            Some(batch) => batch,
            None => return,
        };
        let n = batch.len();
        shared.stats.in_flight.store(n as u64, Ordering::Relaxed);
        let outcome = deliver(&shared, &mut target, &batch, &name).await;
        shared.stats.in_flight.store(0, Ordering::Relaxed);
        match outcome {
            Outcome::Delivered(answers) => {
                shared
                    .stats
                    .delivered
                    .fetch_add(n as u64, Ordering::Relaxed);
                tell_delivered(&shared, &name, &batch, answers);
            }
            Outcome::Dead(error, attempts) => {
                tracing::warn!(sink = %name, events = n, attempts, %error, "delivery given up; events kept as dead letters");
                if let Some(responder) = &shared.responder {
                    for event in batch.iter().filter(|e| e.receipt.is_some()) {
                        responder.failed(&name, event, &error);
                    }
                }
                let (dead, store) = (batch.clone(), shared.clone());
                let kept =
                    super::run_blocking(move || store.dead.add(&dead, &error, attempts)).await;
                match kept {
                    Ok(()) => shared
                        .stats
                        .dead_lettered
                        .fetch_add(n as u64, Ordering::Relaxed),
                    Err(err) => {
                        tracing::error!(sink = %name, error = %err, events = n, "dead letters could not be stored; events lost");
                        shared.stats.dropped.fetch_add(n as u64, Ordering::Relaxed)
                    }
                };
            }
            Outcome::Stopped => return,
        }
        if let Err(err) = shared.blocking(move |b| b.pop(n)).await {
            // The batch stays at the front and is sent again: at least once.
            tracing::error!(sink = %name, error = %err, "sink store failed; retrying the batch");
            tokio::time::sleep(shared.delivery.backoff_max.min(Duration::from_secs(1))).await;
        }
    }
}

/// Hands the answers, and the receipts clients asked for, to the responder.
fn tell_delivered(shared: &Shared, name: &str, batch: &[Arc<Event>], answers: Vec<Option<Answer>>) {
    let Some(responder) = &shared.responder else {
        return;
    };
    let mut answers = answers.into_iter();
    for event in batch {
        let answer = answers.next().flatten().filter(|a| !a.is_empty());
        if answer.is_some() || event.receipt.is_some() {
            responder.delivered(name, event, answer);
        }
    }
}

/// The next batch; `None` once closing with nothing left, or when the
/// store fails while closing.
async fn next_batch(shared: &Arc<Shared>) -> Option<Vec<Arc<Event>>> {
    let size = shared.delivery.batch_size;
    let mut lingered = false;
    loop {
        let woken = shared.wake.notified();
        let batch = match shared.blocking(move |b| b.peek(size)).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!(error = %err, "sink store cannot be read");
                if shared.closing() {
                    return None;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let closing = shared.closing();
        if batch.is_empty() {
            if closing {
                return None;
            }
            tokio::select! {
                _ = woken => {}
                _ = shared.closing.cancelled() => {}
            }
            continue;
        }
        let linger = shared.delivery.linger;
        if batch.len() < size && !linger.is_zero() && !lingered && !closing {
            lingered = true;
            tokio::time::sleep(linger).await;
            continue;
        }
        return Some(batch);
    }
}

async fn deliver<T: Target>(
    shared: &Arc<Shared>,
    target: &mut T,
    batch: &[Arc<Event>],
    name: &str,
) -> Outcome {
    let max = shared.delivery.max_attempts;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match target.send(batch).await {
            Ok(answers) => return Outcome::Delivered(answers),
            Err(failure) => failure,
        };
        shared.stats.failed.fetch_add(1, Ordering::Relaxed);
        shared.stats.set_last_error(&failure.message);
        if !failure.retry || attempt >= max {
            return Outcome::Dead(failure.message, attempt);
        }
        if shared.closing() {
            return Outcome::Stopped;
        }
        // A target's `Retry-After` is honoured, up to `backoff_max`.
        let asked = failure.retry_after.unwrap_or_default();
        let wait = backoff(shared, attempt).max(asked.min(shared.delivery.backoff_max));
        tracing::debug!(sink = %name, attempt, wait_ms = wait.as_millis() as u64, error = %failure.message, "delivery failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.closing.cancelled() => {}
        }
        if shared.closing() {
            return Outcome::Stopped;
        }
    }
}

/// `backoff_initial × 2^(attempt−1)`, capped at `backoff_max`, then a random
/// point in its upper half, so that many senders do not retry in step.
fn backoff(shared: &Shared, attempt: u32) -> Duration {
    let d = &shared.delivery;
    let doubled = d
        .backoff_initial
        .saturating_mul(1u32 << (attempt - 1).min(20));
    let cap = doubled.min(d.backoff_max);
    let half = cap / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}
