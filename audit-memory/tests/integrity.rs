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
