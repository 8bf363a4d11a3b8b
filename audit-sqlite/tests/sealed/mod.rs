//! What the integrity and retention tests share: the key, scratch directories and raw SQL on
//! the file.

use std::path::{Path, PathBuf};

use audit_core::integrity::{IntegrityKey, Keyring};

pub(crate) fn keyring() -> Keyring {
    Keyring::new(IntegrityKey::new("k1", b"a-secret-of-sixteen-bytes".to_vec()).unwrap())
}

/// A scratch directory, removed when dropped.
pub(crate) struct Dir(pub(crate) PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory for the test named `name` of the suite `suite`.
pub(crate) fn dir(suite: &str, name: &str) -> Dir {
    let path = std::env::temp_dir().join(format!(
        "audit-sqlite-{suite}-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    Dir(path)
}

/// Runs `sql` on the file behind the store's back.
pub(crate) fn tamper(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}
