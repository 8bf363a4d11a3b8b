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

/// `(number, sig_check, missing_line)` of every entry on the first privacyIDEA page of up to
/// 100 entries, oldest first, as the dialect with the keyring shows them.
pub(crate) async fn sig_checks(store: audit_sqlite::SqliteStore) -> Vec<(i64, String, String)> {
    use audit_core::api::{ApiRequest, PrivacyIdea, Scope};
    let dialect = PrivacyIdea::new(std::sync::Arc::new(store)).integrity(keyring());
    let response = dialect
        .handle(
            &ApiRequest::get("/audit/?page_size=100&sortorder=asc"),
            &Scope::everything(),
        )
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(response.bytes().unwrap()).unwrap();
    body["result"]["value"]["auditdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["number"].as_i64().unwrap(),
                e["sig_check"].as_str().unwrap().to_owned(),
                e["missing_line"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
