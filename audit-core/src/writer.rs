//! [`AuditWriter`]: batches appends from many tasks into one store, with back-pressure.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::event::{AuditEvent, AuditId};
use crate::store::AuditStore;

/// How an [`AuditWriter`] batches.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// The most events written in one batch.
    pub max_batch: usize,
    /// How long the first queued event waits for companions before its batch is written.
    pub max_delay: Duration,
    /// How many events may wait in the queue; `append` waits while it is full.
    pub queue_capacity: usize,
    /// How often a batch that failed with a retryable error is tried again.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further retry.
    pub retry_backoff: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            max_batch: 1_000,
            max_delay: Duration::from_millis(20),
            queue_capacity: 10_000,
            max_retries: 3,
            retry_backoff: Duration::from_millis(50),
        }
    }
}

// Appends dominate and flushes are rare: boxing the event would cost an allocation per append.
#[allow(clippy::large_enum_variant)]
enum Command {
    Append(AuditEvent, oneshot::Sender<Result<AuditId>>),
    Flush(oneshot::Sender<Result<()>>),
    Shutdown(oneshot::Sender<Result<()>>),
}

/// A cloneable handle that batches events from many tasks into one [`AuditStore`].
///
/// * Back-pressure: the queue is bounded; [`append`](AuditWriter::append) waits for room and
///   never drops an event.
/// * A batch is written when it holds `max_batch` events or its first event has waited
///   `max_delay`.
/// * [`Receipt::written`] resolves once the event's batch is stored (as durable as the store
///   promises), or with the error that prevented it.
/// * [`flush`](AuditWriter::flush) writes everything queued before it;
///   [`shutdown`](AuditWriter::shutdown) writes everything queued and stops the writer. When
///   every handle is dropped the writer also writes what is queued, then stops.
///
/// Must be created inside a Tokio runtime.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    sender: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Append(..) => "Append",
            Command::Flush(_) => "Flush",
            Command::Shutdown(_) => "Shutdown",
        })
    }
}

/// The promise that one appended event will be written.
#[derive(Debug)]
#[must_use = "a receipt tells whether the event was written; await `written()` or drop it explicitly"]
pub struct Receipt(oneshot::Receiver<Result<AuditId>>);

impl Receipt {
    /// Waits until the event is stored and returns its id.
    pub async fn written(self) -> Result<AuditId> {
        self.0.await.unwrap_or(Err(Error::Closed))
    }
}

impl AuditWriter {
    /// Starts a writer task for `store`.
    pub fn spawn(store: Arc<dyn AuditStore>, config: WriterConfig) -> Self {
        let config = WriterConfig {
            max_batch: config.max_batch.max(1),
            queue_capacity: config.queue_capacity.max(1),
            ..config
        };
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        tokio::spawn(run(store, config, receiver));
        AuditWriter { sender }
    }

    /// Queues `event`, waiting while the queue is full. The receipt tells when it is written.
    pub async fn append(&self, event: AuditEvent) -> Result<Receipt> {
        let (tx, rx) = oneshot::channel();
        self.sender
            .send(Command::Append(event, tx))
            .await
            .map_err(|_| Error::Closed)?;
        Ok(Receipt(rx))
    }

    /// Queues `event` and waits until it is written.
    pub async fn append_and_wait(&self, event: AuditEvent) -> Result<AuditId> {
        self.append(event).await?.written().await
    }

    /// Writes everything queued before this call; fails if any of it could not be written.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.sender
            .send(Command::Flush(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Stops taking events, writes everything queued (from every handle) and stops the writer.
    pub async fn shutdown(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.sender
            .send(Command::Shutdown(tx))
            .await
            .map_err(|_| Error::Closed)?;
        rx.await.unwrap_or(Err(Error::Closed))
    }
}

struct Batch {
    events: Vec<AuditEvent>,
    receipts: Vec<oneshot::Sender<Result<AuditId>>>,
}

async fn run(
    store: Arc<dyn AuditStore>,
    config: WriterConfig,
    mut receiver: mpsc::Receiver<Command>,
) {
    let mut batch = Batch {
        events: Vec::with_capacity(config.max_batch),
        receipts: Vec::with_capacity(config.max_batch),
    };
    let mut failure: Option<Error> = None;
    let mut deadline: Option<Instant> = None;
    loop {
        let command = match deadline {
            Some(at) => match tokio::time::timeout_at(at, receiver.recv()).await {
                Ok(command) => command,
                Err(_elapsed) => {
                    write(&*store, &config, &mut batch, &mut failure).await;
                    deadline = None;
                    continue;
                }
            },
            None => receiver.recv().await,
        };
        match command {
            Some(Command::Append(event, receipt)) => {
                batch.events.push(event);
                batch.receipts.push(receipt);
                if batch.events.len() >= config.max_batch {
                    write(&*store, &config, &mut batch, &mut failure).await;
                    deadline = None;
                } else if deadline.is_none() {
                    deadline = Some(Instant::now() + config.max_delay);
                }
            }
            Some(Command::Flush(done)) => {
                write(&*store, &config, &mut batch, &mut failure).await;
                deadline = None;
                let _ = done.send(failure.take().map_or(Ok(()), Err));
            }
            Some(Command::Shutdown(done)) => {
                receiver.close();
                while let Some(command) = receiver.recv().await {
                    match command {
                        Command::Append(event, receipt) => {
                            batch.events.push(event);
                            batch.receipts.push(receipt);
                            if batch.events.len() >= config.max_batch {
                                write(&*store, &config, &mut batch, &mut failure).await;
                            }
                        }
                        Command::Flush(other) | Command::Shutdown(other) => {
                            write(&*store, &config, &mut batch, &mut failure).await;
                            let _ = other.send(failure.clone().map_or(Ok(()), Err));
                        }
                    }
                }
                write(&*store, &config, &mut batch, &mut failure).await;
                let _ = done.send(failure.take().map_or(Ok(()), Err));
                return;
            }
            None => {
                write(&*store, &config, &mut batch, &mut failure).await;
                return;
            }
        }
    }
}

async fn write(
    store: &dyn AuditStore,
    config: &WriterConfig,
    batch: &mut Batch,
    failure: &mut Option<Error>,
) {
    if batch.events.is_empty() {
        return;
    }
    let receipts = std::mem::take(&mut batch.receipts);
    let events = std::mem::take(&mut batch.events);
    let mut attempt = 0;
    let result = loop {
        match store.append(events.clone()).await {
            Err(error) if error.is_retryable() && attempt < config.max_retries => {
                tokio::time::sleep(config.retry_backoff * 2u32.saturating_pow(attempt)).await;
                attempt += 1;
            }
            other => break other,
        }
    };
    match result {
        Ok(ids) if ids.len() == receipts.len() => {
            for (receipt, id) in receipts.into_iter().zip(ids) {
                let _ = receipt.send(Ok(id));
            }
        }
        Ok(ids) => {
            let error = Error::Integrity(format!(
                "the store returned {} ids for a batch of {}",
                ids.len(),
                receipts.len()
            ));
            for receipt in receipts {
                let _ = receipt.send(Err(error.clone()));
            }
            *failure = Some(error);
        }
        Err(error) => {
            for receipt in receipts {
                let _ = receipt.send(Err(error.clone()));
            }
            *failure = Some(error);
        }
    }
    batch.events.reserve(config.max_batch);
    batch.receipts.reserve(config.max_batch);
}
