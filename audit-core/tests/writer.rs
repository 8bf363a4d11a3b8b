//! The batching writer: back-pressure without loss, retries, failures reported, and nothing
//! queued lost on flush, shutdown or drop.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditQuery, AuditStore, AuditWriter, Counts, Error, Result,
    WriterConfig,
};
use audit_memory::MemoryStore;
use tokio::sync::Semaphore;

/// Wraps a memory store: appends wait for a permit, and the first `failures` appends fail.
#[derive(Debug)]
struct Gated {
    inner: MemoryStore,
    gate: Semaphore,
    failures: AtomicUsize,
    retryable: bool,
    attempts: AtomicUsize,
}

impl Gated {
    fn new(permits: usize, failures: usize, retryable: bool) -> Arc<Self> {
        Arc::new(Gated {
            inner: MemoryStore::new(),
            gate: Semaphore::new(permits),
            failures: AtomicUsize::new(failures),
            retryable,
            attempts: AtomicUsize::new(0),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("simulated outage")]
struct Outage;

#[async_trait]
impl AuditStore for Gated {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let permit = self
            .gate
            .acquire()
            .await
            .map_err(|e| Error::backend("test", "gate closed", false, e))?;
        permit.forget();
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(Error::backend(
                "test",
                "append failed",
                self.retryable,
                Outage,
            ));
        }
        self.inner.append(batch).await
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.inner.fetch(query).await
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        self.inner.count(query).await
    }
}

fn config(max_batch: usize, queue: usize) -> WriterConfig {
    WriterConfig {
        max_batch,
        max_delay: Duration::from_millis(5),
        queue_capacity: queue,
        max_retries: 3,
        retry_backoff: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn a_full_queue_makes_append_wait_and_loses_nothing() {
    let store = Gated::new(0, 0, false);
    let writer = AuditWriter::spawn(store.clone(), config(1, 4));
    let mut receipts = Vec::new();
    // One event is taken by the blocked writer task, four wait in the queue.
    for n in 0..5 {
        receipts.push(
            writer
                .append(AuditEvent::new(format!("e{n}")))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sixth = tokio::time::timeout(
        Duration::from_millis(200),
        writer.append(AuditEvent::new("e5")),
    )
    .await;
    assert!(sixth.is_err(), "append must wait while the queue is full");
    store.gate.add_permits(100);
    receipts.push(writer.append(AuditEvent::new("e5")).await.unwrap());
    let mut ids = Vec::new();
    for receipt in receipts {
        ids.push(receipt.written().await.unwrap());
    }
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    assert_eq!(store.inner.len(), 6);
}

#[tokio::test]
async fn retryable_failures_are_retried_and_written_once() {
    let store = Gated::new(100, 2, true);
    let writer = AuditWriter::spawn(store.clone(), config(10, 10));
    let id = writer
        .append_and_wait(AuditEvent::new("retried"))
        .await
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(store.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(store.inner.len(), 1);
}

#[tokio::test]
async fn a_permanent_failure_reaches_the_receipt_and_flush() {
    let store = Gated::new(100, 1, false);
    let writer = AuditWriter::spawn(store.clone(), config(10, 10));
    let receipt = writer.append(AuditEvent::new("lost")).await.unwrap();
    assert!(writer.flush().await.is_err());
    assert!(matches!(
        receipt.written().await,
        Err(Error::Backend {
            retryable: false,
            ..
        })
    ));
    // The writer keeps working after a failed batch.
    assert_eq!(
        writer
            .append_and_wait(AuditEvent::new("next"))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn batches_are_written_after_the_delay_without_a_flush() {
    let store = Arc::new(MemoryStore::new());
    let writer = AuditWriter::spawn(
        store.clone(),
        WriterConfig {
            max_delay: Duration::from_millis(10),
            ..WriterConfig::default()
        },
    );
    let receipt = writer.append(AuditEvent::new("timed")).await.unwrap();
    let id = tokio::time::timeout(Duration::from_secs(5), receipt.written())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, 1);
}

#[tokio::test]
async fn dropping_every_handle_writes_what_is_queued() {
    let store = Gated::new(0, 0, false);
    let writer = AuditWriter::spawn(
        store.clone(),
        WriterConfig {
            max_delay: Duration::from_secs(3600),
            ..config(1000, 100)
        },
    );
    let mut receipts = Vec::new();
    for n in 0..20 {
        receipts.push(
            writer
                .append(AuditEvent::new(format!("e{n}")))
                .await
                .unwrap(),
        );
    }
    drop(writer);
    store.gate.add_permits(10);
    for receipt in receipts {
        receipt.written().await.unwrap();
    }
    assert_eq!(store.inner.len(), 20);
}
