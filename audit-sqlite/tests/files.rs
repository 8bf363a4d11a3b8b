//! Opening files: new, reopened, migrated, and refused (damaged, foreign, newer) without a
//! single byte changed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::path::{Path, PathBuf};

use audit_core::{AuditEvent, AuditQuery, AuditStore, Error};
use audit_sqlite::SqliteStore;

fn fresh(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("files-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

async fn filled(path: &Path, events: usize) {
    let store = SqliteStore::open(path).await.unwrap();
    for chunk in 0..events / 500 {
        let batch = (0..500)
            .map(|k| AuditEvent::new("filled").user(format!("u{chunk}-{k}")))
            .collect();
        store.append(batch).await.unwrap();
    }
    store.close().await.unwrap();
}

async fn refused_unchanged(path: &Path) -> Error {
    let before = std::fs::read(path).unwrap();
    let error = SqliteStore::open(path)
        .await
        .expect_err("the file must be refused");
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the refused file was modified"
    );
    assert!(
        !Path::new(&format!("{}-wal", path.display())).exists(),
        "a WAL file was created"
    );
    error
}

#[tokio::test]
async fn a_new_file_is_created_and_reopened_with_its_entries() {
    let path = fresh("reopen");
    filled(&path, 1_000).await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.count(&AuditQuery::new()).await.unwrap().total_count,
        1_000
    );
    let ids = store
        .append(vec![AuditEvent::new("after reopen")])
        .await
        .unwrap();
    assert_eq!(ids, [1_001]);
}

#[tokio::test]
async fn random_bytes_are_refused() {
    let path = fresh("random");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    assert!(matches!(
        refused_unchanged(&path).await,
        Error::Incompatible(_)
    ));
}

#[tokio::test]
async fn a_truncated_file_is_refused() {
    let path = fresh("truncated");
    filled(&path, 5_000).await;
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = refused_unchanged(&path).await;
    assert!(
        matches!(&error, Error::Incompatible(m) if m.contains("truncated")),
        "{error}"
    );
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let path = fresh("foreign");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('x');")
            .unwrap();
    }
    let error = refused_unchanged(&path).await;
    assert!(
        matches!(&error, Error::Incompatible(m) if m.contains("not an audit database")),
        "{error}"
    );
}

#[tokio::test]
async fn a_version_3_file_is_upgraded_with_its_entries() {
    let path = fresh("version3");
    filled(&path, 1_000).await;
    {
        // Version 3 differs from 4 in the user index alone.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX audit_entries_block_user_date; \
             CREATE INDEX audit_entries_user_date ON audit_entries (user, date); \
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let alone = AuditQuery::new().filter("user", "u1-7").unwrap();
    assert_eq!(store.count(&alone).await.unwrap().filter_count, 1);
    assert_eq!(
        store.count(&AuditQuery::new()).await.unwrap().total_count,
        1_000
    );
    store.close().await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%user%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, ["audit_entries_block_user_date"]);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let path = fresh("newer");
    filled(&path, 500).await;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99; PRAGMA journal_mode = DELETE;")
            .unwrap();
    }
    let error = refused_unchanged(&path).await;
    assert!(
        matches!(&error, Error::Incompatible(m) if m.contains("newer")),
        "{error}"
    );
}

#[tokio::test]
async fn an_invalid_table_prefix_is_refused_before_opening() {
    let error = SqliteStore::builder()
        .in_memory()
        .table_prefix("audit; DROP")
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidQuery { ref parameter, .. } if parameter == "table_prefix")
    );
}

#[tokio::test]
async fn the_search_index_is_rebuilt_when_switched_back_on() {
    let path = fresh("search");
    {
        let store = SqliteStore::builder()
            .path(&path)
            .search_index(false)
            .open()
            .await
            .unwrap();
        store
            .append(vec![
                AuditEvent::new("x").description("Großer ÄRGER"),
                AuditEvent::new("y"),
            ])
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let page = store
        .query(&AuditQuery::new().find("ärger").unwrap())
        .await
        .unwrap();
    assert_eq!(page.filter_count, 1);
    let page = store
        .query(&AuditQuery::new().filter("description", "*OSSER*").unwrap())
        .await
        .unwrap();
    assert_eq!(page.filter_count, 0, "ß does not fold to ss");
}

#[tokio::test]
async fn two_prefixes_keep_separate_logs_in_one_file() {
    let path = fresh("prefixes");
    let first = SqliteStore::builder()
        .path(&path)
        .table_prefix("a_")
        .open()
        .await
        .unwrap();
    first.append(vec![AuditEvent::new("in a")]).await.unwrap();
    first.close().await.unwrap();
    let error = SqliteStore::builder()
        .path(&path)
        .table_prefix("b_")
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Incompatible(_)),
        "a second prefix in the same file is refused: {error}"
    );
}
