//! The memory store's integrity chain: sealed under concurrent appends, verified end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::integrity::{BreakKind, IntegrityKey, Keyring, verify};
use audit_core::{AuditEvent, AuditStore};
use audit_memory::MemoryStore;

fn keyring() -> Keyring {
    Keyring::new(IntegrityKey::new("k1", b"0123456789abcdef0123".to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_sealed_by_concurrent_writers_verifies() {
    let store = Arc::new(MemoryStore::with_integrity(keyring()));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0..50 {
                let events = (0..1 + batch % 7)
                    .map(|i| AuditEvent::new("POST /auth").user(format!("w{writer}-{batch}-{i}")))
                    .collect();
                store.append(events).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let verification = verify(&*store, &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, store.len() as u64);
    assert_eq!(verification.last_intact, Some(store.len() as i64));

    // Another key cannot vouch for these entries.
    let other = Keyring::new(IntegrityKey::new("k1", b"another secret of 16+".to_vec()).unwrap());
    let broken = verify(&*store, &other).await.unwrap();
    assert_eq!(
        broken.first_break.map(|b| (b.id, b.kind)),
        Some((1, BreakKind::Altered))
    );
    assert_eq!(broken.checked, 0);
}

#[tokio::test]
async fn a_store_without_a_keyring_has_unsealed_entries() {
    let store = MemoryStore::new();
    store.append(vec![AuditEvent::new("e")]).await.unwrap();
    let verification = verify(&store, &keyring()).await.unwrap();
    assert_eq!(
        verification.first_break.map(|b| b.kind),
        Some(BreakKind::Unsealed)
    );
}

/// A store that runs a purge just before the first chunk check that starts after an entry:
/// the entry verification resumes from is gone when it reads on.
#[derive(Debug)]
struct PurgesMidVerification {
    inner: MemoryStore,
    purged: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl AuditStore for PurgesMidVerification {
    async fn append(&self, batch: Vec<AuditEvent>) -> audit_core::Result<Vec<audit_core::AuditId>> {
        self.inner.append(batch).await
    }

    async fn fetch(
        &self,
        query: &audit_core::AuditQuery,
    ) -> audit_core::Result<Vec<audit_core::AuditEntry>> {
        self.inner.fetch(query).await
    }

    async fn count(
        &self,
        query: &audit_core::AuditQuery,
    ) -> audit_core::Result<audit_core::Counts> {
        self.inner.count(query).await
    }

    async fn checkpoints(&self) -> audit_core::Result<Vec<audit_core::integrity::Checkpoint>> {
        self.inner.checkpoints().await
    }

    async fn check_chain(
        &self,
        keyring: &Keyring,
        checkpoints: &audit_core::integrity::Checkpoints,
        after: audit_core::AuditId,
        limit: u32,
    ) -> audit_core::Result<audit_core::integrity::ChainCheck> {
        if after > 0 && !self.purged.swap(true, std::sync::atomic::Ordering::SeqCst) {
            // Everything up to and beyond the entry this chunk starts after goes.
            let policy = audit_core::retention::Retention::max_age(chrono::TimeDelta::days(1))?;
            audit_core::retention::purge(&self.inner, &policy, chrono::Utc::now(), false).await?;
        }
        self.inner
            .check_chain(keyring, checkpoints, after, limit)
            .await
    }
}

#[tokio::test]
async fn verification_resumes_over_a_purge_that_removed_where_it_stood() {
    let store = PurgesMidVerification {
        inner: MemoryStore::with_integrity(keyring()),
        purged: std::sync::atomic::AtomicBool::new(false),
    };
    let old = chrono::Utc::now() - chrono::TimeDelta::days(30);
    let events: Vec<AuditEvent> = (0..10_000)
        .map(|i| {
            AuditEvent::new("POST /auth")
                .user(format!("u{i}"))
                .date(old)
        })
        .chain((0..10).map(|i| AuditEvent::new("POST /auth").user(format!("new{i}"))))
        .collect();
    store.append(events).await.unwrap();
    let verification = verify(&store, &keyring()).await.unwrap();
    assert!(store.purged.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(verification.first_break, None);
}
