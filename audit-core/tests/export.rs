//! The chunked export walk: every entry once, in order, with or without a runtime; a fetch that
//! panics ends the export with an error; a dropped export stops fetching.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use audit_core::store::EXPORT_CHUNKS_AHEAD;
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditQuery, AuditStore, Column, Counts, Direction, Result,
    export,
};
use audit_memory::MemoryStore;
use futures_util::{FutureExt as _, StreamExt as _};

/// Wraps a memory store, counting fetches; the fetch numbered `panic_at` (from 1) panics.
#[derive(Debug)]
struct Watched {
    inner: MemoryStore,
    fetches: AtomicUsize,
    panic_at: Option<usize>,
}

#[async_trait]
impl AuditStore for Watched {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        self.inner.append(batch).await
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        assert_ne!(Some(n), self.panic_at, "fetch {n} fails on purpose");
        self.inner.fetch(query).await
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        self.inner.count(query).await
    }
}

/// A store of `entries` events by four users, the fetch numbered `panic_at` panicking.
async fn store(entries: usize, panic_at: Option<usize>) -> Arc<Watched> {
    let inner = MemoryStore::new();
    let events = (0..entries)
        .map(|i| AuditEvent::new("GET /token/").user(format!("user{}", i % 4)))
        .collect();
    inner.append(events).await.unwrap();
    Arc::new(Watched {
        inner,
        fetches: AtomicUsize::new(0),
        panic_at,
    })
}

fn by_user() -> AuditQuery {
    AuditQuery::new()
        .sort(Column::User, Direction::Desc)
        .unwrap()
}

async fn ids_of(store: Arc<Watched>, query: AuditQuery, chunk: u32) -> Vec<AuditId> {
    let chunks: Vec<_> = export(store, query, chunk).collect().await;
    chunks
        .into_iter()
        .flat_map(|chunk| chunk.unwrap())
        .map(|e| e.id())
        .collect()
}

#[tokio::test]
async fn every_entry_arrives_once_in_the_query_order() {
    let store = store(100, None).await;
    let want: Vec<AuditId> = store
        .fetch(&by_user().offset(0, 1_000).unwrap())
        .await
        .unwrap()
        .iter()
        .map(AuditEntry::id)
        .collect();
    assert_eq!(want.len(), 100);
    for chunk in [1, 7, 50, 99, 100, 101] {
        let got = ids_of(Arc::clone(&store), by_user(), chunk).await;
        assert_eq!(got, want, "chunks of {chunk}");
    }
}

#[test]
fn without_a_runtime_each_chunk_is_fetched_when_polled() {
    let store = futures_util::FutureExt::now_or_never(store(10, None)).unwrap();
    let mut chunks = export(Arc::clone(&store) as Arc<dyn AuditStore>, by_user(), 4);
    assert_eq!(store.fetches.load(Ordering::SeqCst), 0);
    let mut sizes = Vec::new();
    while let Some(chunk) = chunks.next().now_or_never().unwrap() {
        sizes.push(chunk.unwrap().len());
        assert_eq!(store.fetches.load(Ordering::SeqCst), sizes.len());
    }
    assert_eq!(sizes, [4, 4, 2]);
}

#[tokio::test]
async fn a_fetch_that_panics_ends_the_export_with_an_error() {
    let store = store(30, Some(3)).await;
    let chunks: Vec<_> = export(store, by_user(), 5).collect().await;
    let sizes: Vec<_> = chunks.iter().map(|c| c.as_ref().map(Vec::len)).collect();
    assert!(
        matches!(sizes.as_slice(), [Ok(5), Ok(5), Err(_)]),
        "the export must not end as if complete: {sizes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_export_stops_fetching() {
    let store = store(1_000, None).await;
    let mut chunks = export(Arc::clone(&store) as Arc<dyn AuditStore>, by_user(), 10);
    assert_eq!(chunks.next().await.unwrap().unwrap().len(), 10);
    drop(chunks);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fetched = store.fetches.load(Ordering::SeqCst);
    // The chunk consumed, the ones waiting for the consumer, and the one in flight.
    assert!(
        fetched <= 2 + EXPORT_CHUNKS_AHEAD,
        "{fetched} fetches after the consumer left"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.fetches.load(Ordering::SeqCst), fetched);
}
