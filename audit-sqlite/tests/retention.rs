//! audit-sqlite's retention on a file: a purge leaves the search index, the counters and the
//! chain consistent; a deletion or a forged checkpoint after it is still found; writers go on
//! while a purge runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod sealed;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit_core::integrity::{BreakKind, verify};
use audit_core::retention::{Retention, purge};
use audit_core::{AuditEvent, AuditQuery, AuditStore};
use audit_sqlite::SqliteStore;
use chrono::{DateTime, TimeDelta, Utc};
use sealed::{Dir, keyring, tamper};

fn dir(name: &str) -> Dir {
    sealed::dir("retention", name)
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::builder()
        .path(path)
        .integrity(keyring())
        .open()
        .await
        .unwrap()
}

/// 100 entries, entry `i` (id `i + 1`) dated `100 - i` days before `now`.
async fn aged(store: &SqliteStore, now: DateTime<Utc>) {
    let events = (0..100)
        .map(|i| {
            AuditEvent::new("POST /validate/check")
                .user(format!("searchable-user-{i}"))
                .date(now - TimeDelta::days(100 - i))
        })
        .collect();
    store.append(events).await.unwrap();
}

/// `count` entries dated 400 days before `now`.
fn older_than_a_year(count: usize, now: DateTime<Utc>) -> Vec<AuditEvent> {
    (0..count)
        .map(|i| {
            AuditEvent::new("POST /old")
                .user(format!("old-{i}"))
                .date(now - TimeDelta::days(400))
        })
        .collect()
}

/// Purges the entries older than 50½ days: ids 1 to 50.
async fn purge_half(store: &SqliteStore, now: DateTime<Utc>) {
    let policy = Retention::max_age(TimeDelta::days(50) + TimeDelta::hours(12)).unwrap();
    let report = purge(store, &policy, now, false).await.unwrap();
    assert_eq!(report.purged, 50);
}

/// A closed file holding [`aged`] entries with the older half purged by [`purge_half`] at
/// `now`, in a fresh directory for the test `name`.
async fn purged_file(name: &str, now: DateTime<Utc>) -> (Dir, PathBuf) {
    let dir = dir(name);
    let path = dir.0.join("audit.db");
    let store = open(&path).await;
    aged(&store, now).await;
    purge_half(&store, now).await;
    store.close().await.unwrap();
    (dir, path)
}

fn scalar(path: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

async fn first_break(path: &Path) -> Option<(i64, BreakKind)> {
    let store = open(path).await;
    let verification = verify(&store, &keyring()).await.unwrap();
    store.close().await.unwrap();
    verification.first_break.map(|b| (b.id, b.kind))
}

#[tokio::test]
async fn a_purge_keeps_index_counters_and_chain_consistent() {
    let dir = dir("consistent");
    let path = dir.0.join("audit.db");
    let now = Utc::now();
    let store = open(&path).await;
    aged(&store, now).await;
    purge_half(&store, now).await;

    let page = store.query(&AuditQuery::new()).await.unwrap();
    assert_eq!((page.filter_count, page.total_count), (50, 50));
    // Users 5 and 50 to 59 contain the needle; 5 is gone.
    let found = AuditQuery::new().find("searchable-user-5").unwrap();
    assert_eq!(store.count(&found).await.unwrap().filter_count, 10);
    store.close().await.unwrap();

    assert_eq!(scalar(&path, "SELECT count(*) FROM audit_entries"), 50);
    assert_eq!(
        scalar(&path, "SELECT count(*) FROM audit_search"),
        50,
        "the search index forgot the purged rows"
    );
    assert_eq!(
        scalar(
            &path,
            "SELECT value FROM audit_counters WHERE name = 'entries'"
        ),
        50
    );
    assert_eq!(scalar(&path, "SELECT count(*) FROM audit_checkpoints"), 1);
    assert_eq!(first_break(&path).await, None);
}

#[tokio::test]
async fn tampering_after_a_purge_is_still_found() {
    let cases: [(&str, &str, i64, BreakKind); 4] = [
        (
            "deleted after the purge",
            "DELETE FROM audit_entries WHERE id = 70",
            71,
            BreakKind::Missing { previous: 69 },
        ),
        (
            "forged checkpoint over a deleted entry",
            "DELETE FROM audit_entries WHERE id = 70; \
             INSERT INTO audit_checkpoints VALUES (70, 70, zeroblob(32), zeroblob(32), 1, 0, 'k1', zeroblob(32))",
            71,
            BreakKind::Missing { previous: 69 },
        ),
        (
            "checkpoint stretched over a deleted entry",
            "DELETE FROM audit_entries WHERE id = 51; UPDATE audit_checkpoints SET last = 51",
            52,
            BreakKind::Missing { previous: 0 },
        ),
        (
            "changed after the purge",
            "UPDATE audit_entries SET \"user\" = 'mallory' WHERE id = 60",
            60,
            BreakKind::Altered,
        ),
    ];
    for (name, sql, id, kind) in cases {
        let (_dir, path) = purged_file(&name.replace(' ', "-"), Utc::now()).await;
        assert_eq!(first_break(&path).await, None, "{name}: intact before");
        tamper(&path, sql);
        assert_eq!(first_break(&path).await, Some((id, kind)), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_go_on_while_a_purge_runs() {
    let dir = dir("concurrent");
    let path = dir.0.join("audit.db");
    let now = Utc::now();
    let store = Arc::new(open(&path).await);
    store.append(older_than_a_year(6_000, now)).await.unwrap();

    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for round in 0..40 {
                let batch = (0..25)
                    .map(|i| AuditEvent::new("POST /new").user(format!("new-{round}-{i}")))
                    .collect();
                ids.extend(store.append(batch).await.unwrap());
                tokio::task::yield_now().await;
            }
            ids
        })
    };
    let policy = Retention::max_age(TimeDelta::days(365)).unwrap();
    let report = purge(&*store, &policy, now, false).await.unwrap();
    let written = writer.await.unwrap();

    // The newest old entry may be kept as the chain's anchor when no new entry came first.
    assert!(report.purged >= 5_999, "purged {}", report.purged);
    assert!(report.chunks >= 3, "{} chunks", report.chunks);
    let remaining = store.count(&AuditQuery::new()).await.unwrap().total_count;
    assert_eq!(remaining, 6_000 - report.purged + written.len() as u64);
    let verification = verify(&*store, &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, remaining);
}

#[tokio::test]
async fn privacyidea_pages_check_the_first_entry_after_a_purge_against_its_checkpoint() {
    let now = Utc::now();
    let (_dir, path) = purged_file("sig-check", now).await;
    tamper(&path, "DELETE FROM audit_entries WHERE id = 70");

    let checks = sealed::sig_checks(open(&path).await).await;
    assert_eq!(checks.len(), 49);
    for (id, sig_check, missing_line) in checks {
        // 51 follows the purge's checkpoint; 71 follows an entry deleted by hand.
        let expected = if id == 71 {
            ("FAIL", "FAIL")
        } else {
            ("OK", "OK")
        };
        assert_eq!(
            (sig_check.as_str(), missing_line.as_str()),
            expected,
            "entry {id}"
        );
    }
}

#[tokio::test]
async fn a_purge_refuses_to_vouch_for_tampered_entries() {
    let now = Utc::now();
    let (_dir, path) = purged_file("refuses", now).await;
    // Backdated by hand so that the next purge would delete them and hide the change.
    tamper(
        &path,
        "UPDATE audit_entries SET date = 0 WHERE id BETWEEN 60 AND 70",
    );
    let store = open(&path).await;
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
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_during_a_purge_reports_no_break() {
    let dir = dir("verify-during");
    let path = dir.0.join("audit.db");
    let now = Utc::now();
    let store = Arc::new(open(&path).await);
    store.append(older_than_a_year(12_000, now)).await.unwrap();
    store
        .append(vec![AuditEvent::new("POST /new").user("kept")])
        .await
        .unwrap();

    let purger = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let policy = Retention::max_age(TimeDelta::days(365)).unwrap();
            // Small chunks: many commits for verification to run between.
            audit_core::retention::purge_in_chunks(&*store, &policy, now, false, 50)
                .await
                .unwrap()
        })
    };
    let mut verifications = 0;
    while !purger.is_finished() {
        let verification = verify(&*store, &keyring()).await.unwrap();
        assert_eq!(verification.first_break, None, "while purging");
        verifications += 1;
    }
    let report = purger.await.unwrap();
    assert_eq!(report.purged, 12_000);
    assert!(verifications > 0);
    let verification = verify(&*store, &keyring()).await.unwrap();
    assert_eq!((verification.first_break, verification.checked), (None, 1));
}
