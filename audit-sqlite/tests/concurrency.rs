//! Many writers and readers on one file: no error surfaces, every entry is found, ids unique.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::{AuditEvent, AuditQuery, AuditStore};
use audit_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_and_eight_readers_share_one_file() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("concurrency-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let until = Instant::now() + Duration::from_secs(3);
    let mut writers = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut n = 0;
            while Instant::now() < until {
                let batch = (0..10)
                    .map(|k| {
                        AuditEvent::new("concurrent")
                            .user(format!("w{writer}"))
                            .description(format!("{n}/{k}"))
                    })
                    .collect();
                ids.extend(store.append(batch).await.unwrap());
                n += 1;
            }
            ids
        }));
    }
    let mut readers = Vec::new();
    for reader in 0..8 {
        let store = store.clone();
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while Instant::now() < until {
                let query = match reader % 4 {
                    0 => AuditQuery::new(),
                    1 => AuditQuery::new()
                        .filter("user", &format!("w{reader}"))
                        .unwrap(),
                    2 => AuditQuery::new().find("concurr").unwrap(),
                    _ => AuditQuery::new().filter("description", "1*").unwrap(),
                };
                store.query(&query).await.unwrap();
                reads += 1;
            }
            reads
        }));
    }
    let mut all = Vec::new();
    for writer in writers {
        all.extend(writer.await.unwrap());
    }
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.unwrap();
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "ids are unique");
    let counts = store.count(&AuditQuery::new()).await.unwrap();
    assert_eq!(counts.total_count, all.len() as u64);
    let scanned = store
        .count(&AuditQuery::new().filter("event", "concurrent").unwrap())
        .await
        .unwrap();
    assert_eq!(
        scanned.filter_count,
        all.len() as u64,
        "every appended entry is found"
    );
    assert!(reads > 8, "readers made progress ({reads} reads)");
}
