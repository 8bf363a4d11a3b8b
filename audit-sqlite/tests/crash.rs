//! Crash safety: a child process appends batches and reports each acknowledged one; it is
//! killed with SIGKILL mid-stream. Every acknowledged entry must be there after reopening, and
//! no batch may be there in part.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use audit_core::{AuditEvent, AuditQuery, AuditStore, Column, Direction, export};
use audit_sqlite::SqliteStore;
use futures_util::StreamExt as _;

const CHILD: &str = "AUDIT_SQLITE_CRASH_CHILD";
const BATCH: usize = 50;

/// In the child process: append batches forever, printing `ack <batch> <first id> <last id>`
/// after each acknowledged one. Does nothing in a normal test run.
#[test]
fn crash_child_appends_until_killed() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(&path).await.unwrap();
        for batch in 0.. {
            let events = (0..BATCH)
                .map(|k| AuditEvent::new("crash test").description(format!("{batch}/{k}")))
                .collect();
            let ids = store.append(events).await.unwrap();
            println!("ack {batch} {} {}", ids[0], ids[BATCH - 1]);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_sigkill_and_no_batch_is_partial() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("crash-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_appends_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acknowledged: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let Some(rest) = line.strip_prefix("ack ") else {
            continue;
        };
        let parts: Vec<i64> = rest.split(' ').map(|p| p.parse().unwrap()).collect();
        acknowledged.insert(parts[0].unsigned_abs(), (parts[1], parts[2]));
        if acknowledged.len() == 40 {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert_eq!(acknowledged.len(), 40, "the child stopped early");

    let store = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let query = AuditQuery::new().sort(Column::Id, Direction::Asc).unwrap();
    let mut by_batch: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let mut chunks = export(store.clone(), query, 1_000);
    while let Some(chunk) = chunks.next().await {
        for entry in chunk.unwrap() {
            let batch: u64 = entry
                .description()
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            by_batch.entry(batch).or_default().push(entry.id());
        }
    }
    for (batch, (first, last)) in &acknowledged {
        let ids = by_batch
            .get(batch)
            .unwrap_or_else(|| panic!("acknowledged batch {batch} is lost"));
        assert_eq!(
            (ids[0], *ids.last().unwrap()),
            (*first, *last),
            "batch {batch}"
        );
    }
    for (batch, ids) in &by_batch {
        assert_eq!(ids.len(), BATCH, "batch {batch} is stored in part");
    }
}
