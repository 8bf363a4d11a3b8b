//! audit-postgres's retention on a real server: a purge keeps the counter and the chain right,
//! tampering after it is still found, and a writer goes on while a purge runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::integrity::{BreakKind, IntegrityKey, Keyring, verify};
use audit_core::retention::{Retention, purge};
use audit_core::{AuditEvent, AuditQuery, AuditStore};
use chrono::{DateTime, TimeDelta, Utc};

use support::{Schema, admin};

fn keyring() -> Keyring {
    Keyring::new(IntegrityKey::new("k1", b"a-secret-of-sixteen-bytes".to_vec()).unwrap())
}

/// 100 entries, entry `i` (id `i + 1`) dated `100 - i` days before `now`; then purges those
/// older than 50½ days: ids 1 to 50.
async fn aged_and_purged(store: &dyn AuditStore, now: DateTime<Utc>) {
    let events = (0..100)
        .map(|i| {
            AuditEvent::new("POST /validate/check")
                .user(format!("searchable-user-{i}"))
                .date(now - TimeDelta::days(100 - i))
        })
        .collect();
    store.append(events).await.unwrap();
    let policy = Retention::max_age(TimeDelta::days(50) + TimeDelta::hours(12)).unwrap();
    assert_eq!(purge(store, &policy, now, true).await.unwrap().purged, 50);
    assert_eq!(purge(store, &policy, now, false).await.unwrap().purged, 50);
}

/// Where verification finds the chain broken, and how.
type Found = (i64, BreakKind);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_after_a_purge_is_still_found() {
    let cases: [(&str, &str, Option<Found>); 5] = [
        ("untouched", "SELECT 1", None),
        (
            "deleted after the purge",
            "DELETE FROM {t} WHERE id = 70",
            Some((71, BreakKind::Missing { previous: 69 })),
        ),
        (
            "forged checkpoint over a deleted entry",
            "DELETE FROM {t} WHERE id = 70; INSERT INTO {t}_checkpoints VALUES \
             (70, 70, decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'), 1, 0, 'k1', \
             decode(repeat('00', 32), 'hex'))",
            Some((71, BreakKind::Missing { previous: 69 })),
        ),
        (
            "checkpoint stretched over a deleted entry",
            "DELETE FROM {t} WHERE id = 51; UPDATE {t}_checkpoints SET last = 51",
            Some((52, BreakKind::Missing { previous: 0 })),
        ),
        (
            "changed after the purge",
            "UPDATE {t} SET \"user\" = 'mallory' WHERE id = 60",
            Some((60, BreakKind::Altered)),
        ),
    ];
    for (name, sql, expected) in cases {
        let schema = Schema::new();
        let store = schema.builder().integrity(keyring()).open().await.unwrap();
        let now = Utc::now();
        aged_and_purged(&store, now).await;
        let page = store.query(&AuditQuery::new()).await.unwrap();
        assert_eq!((page.filter_count, page.total_count), (50, 50), "{name}");
        let table = format!("\"{}\".audit_entries", schema.name);
        admin()
            .await
            .batch_execute(&sql.replace("{t}", &table))
            .await
            .unwrap();
        let verification = verify(&store, &keyring()).await.unwrap();
        assert_eq!(
            verification.first_break.map(|b| (b.id, b.kind)),
            expected,
            "{name}"
        );
        store.close();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_goes_on_while_a_purge_runs() {
    let schema = Schema::new();
    let store = Arc::new(schema.builder().integrity(keyring()).open().await.unwrap());
    let now = Utc::now();
    let old: Vec<AuditEvent> = (0..6_000)
        .map(|i| {
            AuditEvent::new("POST /old")
                .user(format!("old-{i}"))
                .date(now - TimeDelta::days(400))
        })
        .collect();
    store.append(old).await.unwrap();

    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut written = 0u64;
            let mut longest = Duration::ZERO;
            for round in 0..40 {
                let batch: Vec<AuditEvent> = (0..25)
                    .map(|i| AuditEvent::new("POST /new").user(format!("new-{round}-{i}")))
                    .collect();
                let started = Instant::now();
                written += store.append(batch).await.unwrap().len() as u64;
                longest = longest.max(started.elapsed());
            }
            (written, longest)
        })
    };
    let policy = Retention::max_age(TimeDelta::days(365)).unwrap();
    let report = purge(&*store, &policy, now, false).await.unwrap();
    let (written, longest) = writer.await.unwrap();
    eprintln!(
        "purged {} in {} chunks; the writer's longest append took {longest:?}",
        report.purged, report.chunks
    );

    // The newest old entry may be kept as the chain's anchor when no new entry came first.
    assert!(report.purged >= 5_999, "purged {}", report.purged);
    assert!(report.chunks >= 3, "{} chunks", report.chunks);
    let remaining = store.count(&AuditQuery::new()).await.unwrap().total_count;
    assert_eq!(remaining, 6_000 - report.purged + written);
    let verification = verify(&*store, &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, remaining);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_refuses_to_vouch_for_tampered_entries() {
    let schema = Schema::new();
    let store = schema.builder().integrity(keyring()).open().await.unwrap();
    let now = Utc::now();
    aged_and_purged(&store, now).await;
    // Backdated by hand so that the next purge would delete them and hide the change.
    let table = format!("\"{}\".audit_entries", schema.name);
    admin()
        .await
        .batch_execute(&format!(
            "UPDATE {table} SET date = 0 WHERE id BETWEEN 60 AND 70"
        ))
        .await
        .unwrap();
    let policy = Retention::max_age(TimeDelta::days(50) + TimeDelta::hours(12)).unwrap();
    match purge(&store, &policy, now, false).await {
        Err(audit_core::Error::Integrity(message)) => {
            assert!(message.contains("entry 60"), "{message}")
        }
        other => panic!("the purge went ahead: {other:?}"),
    }
    assert_eq!(
        store.count(&AuditQuery::new()).await.unwrap().total_count,
        50
    );
    let verification = verify(&store, &keyring()).await.unwrap();
    assert_eq!(
        verification.first_break.map(|b| (b.id, b.kind)),
        Some((60, BreakKind::Altered))
    );
    store.close();
}
