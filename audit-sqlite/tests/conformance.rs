//! The shared conformance kit against SQLite: a file database and an in-memory one, with and
//! without the search index.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use audit_core::AuditStore;
use audit_sqlite::SqliteStore;

static FILES: AtomicUsize = AtomicUsize::new(0);

/// A fresh database file under the test target directory.
fn fresh_file(kind: &str) -> PathBuf {
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("conformance-{kind}-{}-{n}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

async fn open(builder: audit_sqlite::SqliteStoreBuilder) -> Arc<dyn AuditStore> {
    match builder.open().await {
        Ok(store) => Arc::new(store),
        Err(e) => panic!("opening the store failed: {e}"),
    }
}

mod file {
    use super::*;
    audit_core::conformance_tests!(|| async {
        open(SqliteStore::builder().path(fresh_file("file"))).await
    });
}

mod memory {
    use super::*;
    audit_core::conformance_tests!(|| async { open(SqliteStore::builder().in_memory()).await });
}

mod file_without_search_index {
    use super::*;
    audit_core::conformance_tests!(|| async {
        open(
            SqliteStore::builder()
                .path(fresh_file("nosearch"))
                .search_index(false),
        )
        .await
    });
}

/// With an integrity chain: sealing must not change a single answer.
mod memory_sealed {
    use super::*;
    audit_core::conformance_tests!(|| async {
        let key = audit_core::integrity::IntegrityKey::new("k1", b"sixteen-bytes-or-more".to_vec());
        let keyring = match key {
            Ok(key) => audit_core::integrity::Keyring::new(key),
            Err(e) => panic!("{e}"),
        };
        open(SqliteStore::builder().in_memory().integrity(keyring)).await
    });
}

/// Retention on a sealed file database, with the search index (whose rows a purge must forget)
/// and without it.
mod retention {
    use super::*;

    mod with_search_index {
        use super::*;
        audit_core::retention_tests!(|| async {
            open(
                SqliteStore::builder()
                    .path(fresh_file("retention"))
                    .integrity(audit_core::testkit::retention_keyring()),
            )
            .await
        });
    }

    mod without_search_index {
        use super::*;
        audit_core::retention_tests!(|| async {
            open(
                SqliteStore::builder()
                    .path(fresh_file("retention-nosearch"))
                    .search_index(false)
                    .integrity(audit_core::testkit::retention_keyring()),
            )
            .await
        });
    }
}
