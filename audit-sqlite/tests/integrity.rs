//! audit-sqlite's integrity chain: sealed in the write transaction, verified end to end, and
//! every kind of tampering with the file found at the entry it touched.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod sealed;

use std::path::Path;

use audit_core::integrity::{BreakKind, verify};
use audit_core::{AuditEvent, AuditStore};
use audit_sqlite::SqliteStore;
use sealed::{Dir, keyring, tamper};

fn dir(name: &str) -> Dir {
    sealed::dir("integrity", name)
}

async fn filled(path: &Path) {
    let store = SqliteStore::builder()
        .path(path)
        .integrity(keyring())
        .open()
        .await
        .unwrap();
    for batch in 0..10 {
        let events = (0..10)
            .map(|i| {
                AuditEvent::new("POST /validate/check")
                    .user(format!("user{}", (batch * 10 + i) % 7))
                    .extra("ticket", format!("T-{batch}"))
            })
            .collect();
        store.append(events).await.unwrap();
    }
    store.close().await.unwrap();
}

async fn first_break(path: &Path) -> (u64, Option<(i64, BreakKind)>) {
    let store = SqliteStore::builder()
        .path(path)
        .integrity(keyring())
        .open()
        .await
        .unwrap();
    let verification = verify(&store, &keyring()).await.unwrap();
    store.close().await.unwrap();
    (
        verification.checked,
        verification.first_break.map(|b| (b.id, b.kind)),
    )
}

#[tokio::test]
async fn an_untouched_file_verifies() {
    let dir = dir("intact");
    let path = dir.0.join("audit.db");
    filled(&path).await;
    assert_eq!(first_break(&path).await, (100, None));
}

#[tokio::test]
async fn each_kind_of_tampering_is_found_at_the_right_entry() {
    let cases: [(&str, &str, i64, BreakKind); 7] = [
        (
            "changed extra field",
            "UPDATE audit_entries SET extra = '{\"ticket\":\"T-99\"}' WHERE id = 12",
            12,
            BreakKind::Altered,
        ),
        (
            "unreadable extra fields",
            "UPDATE audit_entries SET extra = 'garbage' WHERE id = 13",
            13,
            BreakKind::Altered,
        ),
        (
            "changed",
            "UPDATE audit_entries SET \"user\" = 'mallory' WHERE id = 37",
            37,
            BreakKind::Altered,
        ),
        (
            "deleted",
            "DELETE FROM audit_entries WHERE id = 50",
            51,
            BreakKind::Missing { previous: 49 },
        ),
        (
            "inserted",
            "INSERT INTO audit_entries (id, date, success, event, seal_key, seal_mac) \
             VALUES (101, 0, 1, 'forged', 'k1', zeroblob(32))",
            101,
            BreakKind::Altered,
        ),
        (
            "swapped dates",
            "UPDATE audit_entries SET date = CASE id WHEN 20 THEN (SELECT date FROM audit_entries WHERE id = 80) \
             ELSE (SELECT date FROM audit_entries WHERE id = 20) END WHERE id IN (20, 80)",
            20,
            BreakKind::Altered,
        ),
        (
            "reseal with a guessed mac",
            "UPDATE audit_entries SET seal_mac = zeroblob(32) WHERE id = 5",
            5,
            BreakKind::Altered,
        ),
    ];
    for (name, sql, id, kind) in cases {
        let dir = dir(&name.replace(' ', "-"));
        let path = dir.0.join("audit.db");
        filled(&path).await;
        tamper(&path, sql);
        let intact = match kind {
            BreakKind::Missing { previous } => previous as u64,
            _ => (id - 1) as u64,
        };
        let (checked, found) = first_break(&path).await;
        assert_eq!(found, Some((id, kind)), "{name}");
        assert_eq!(checked, intact, "{name}: every entry before is intact");
    }
}

#[tokio::test]
async fn a_chain_continues_across_reopening_and_writers() {
    let dir = dir("continues");
    let path = dir.0.join("audit.db");
    filled(&path).await;
    let store = SqliteStore::builder()
        .path(&path)
        .integrity(keyring())
        .open()
        .await
        .unwrap();
    let mut writers = Vec::new();
    let store = std::sync::Arc::new(store);
    for writer in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for batch in 0..25 {
                store
                    .append(vec![AuditEvent::new(format!("w{writer}-{batch}")); 3])
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let verification = verify(&*store, &keyring()).await.unwrap();
    assert_eq!(verification.first_break, None);
    assert_eq!(verification.checked, 100 + 4 * 25 * 3);
}

#[tokio::test]
async fn privacyidea_pages_show_sig_check_and_missing_line_from_the_chain() {
    let dir = dir("sig-check");
    let path = dir.0.join("audit.db");
    filled(&path).await;
    tamper(
        &path,
        "UPDATE audit_entries SET \"user\" = 'mallory' WHERE id = 37; \
         DELETE FROM audit_entries WHERE id = 50;",
    );
    let store = SqliteStore::builder()
        .path(&path)
        .integrity(keyring())
        .open()
        .await
        .unwrap();
    let checks = sealed::sig_checks(store).await;
    assert_eq!(checks.len(), 99);
    for (id, sig_check, missing_line) in checks {
        let expected = match id {
            37 => ("FAIL", "OK"),
            51 => ("FAIL", "FAIL"),
            _ => ("OK", "OK"),
        };
        assert_eq!(
            (sig_check.as_str(), missing_line.as_str()),
            expected,
            "entry {id}"
        );
    }
}

const WRITER_CHILD: &str = "AUDIT_SQLITE_CHAIN_WRITER";

/// In a child process: four writer tasks append sealed batches to the file named by the
/// environment. Does nothing in a normal test run.
#[test]
fn chain_writer_child() {
    let Ok(path) = std::env::var(WRITER_CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = std::sync::Arc::new(
            SqliteStore::builder()
                .path(&path)
                .integrity(keyring())
                .open()
                .await
                .unwrap(),
        );
        let mut writers = Vec::new();
        for writer in 0..4 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for batch in 0..40 {
                    let events =
                        vec![
                            AuditEvent::new(format!("p{}-w{writer}-{batch}", std::process::id()));
                            5
                        ];
                    store.append(events).await.unwrap();
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_with_four_writers_each_extend_one_chain() {
    let dir = dir("two-processes");
    let path = dir.0.join("audit.db");
    // Create the file first, so the two children do not race to create the schema.
    SqliteStore::builder()
        .path(&path)
        .integrity(keyring())
        .open()
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "chain_writer_child", "--test-threads=1"])
                .env(WRITER_CHILD, &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let (checked, found) = first_break(&path).await;
    assert_eq!(found, None);
    assert_eq!(checked, 2 * 4 * 40 * 5);
}
