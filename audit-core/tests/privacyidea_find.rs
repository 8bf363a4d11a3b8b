//! privacyIDEA's listing with the `find` extension: free text over the columns the caller may
//! see, never over hidden ones.
#![cfg(feature = "api")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::api::{ApiRequest, PrivacyIdea, Scope};
use audit_core::{AuditEvent, AuditStore, Column};
use audit_memory::MemoryStore;
use serde_json::Value;

async fn dialect() -> PrivacyIdea {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    store
        .append(vec![
            AuditEvent::new("POST /validate/check")
                .user("Jürgen")
                .description("token locked"),
            AuditEvent::new("POST /validate/check")
                .user("alice")
                .description("wrong otp"),
            AuditEvent::new("GET /token/")
                .user("bob")
                .location("10.0.0.7"),
        ])
        .await
        .unwrap();
    PrivacyIdea::new(store)
}

async fn count(dialect: &PrivacyIdea, path: &str, scope: &Scope) -> (u16, Value) {
    let response = dialect
        .handle(&ApiRequest::get(path), scope)
        .await
        .expect("served");
    let body: Value = serde_json::from_slice(response.bytes().expect("one piece")).unwrap();
    (response.status, body["result"]["value"]["count"].clone())
}

#[tokio::test]
async fn find_searches_every_visible_column_case_insensitively() {
    let dialect = dialect().await;
    let everything = Scope::everything();
    assert_eq!(
        count(&dialect, "/audit/?find=J%C3%9CRG", &everything).await,
        (200, 1.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=otp", &everything).await,
        (200, 1.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=validate", &everything).await,
        (200, 2.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=", &everything).await,
        (200, 3.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=10.0.0.7", &everything).await,
        (200, 1.into())
    );
    let (status, _) = count(&dialect, "/audit/?find=a&find=b", &everything).await;
    assert_eq!(status, 400, "find given twice");
}

#[tokio::test]
async fn find_never_reaches_into_hidden_columns() {
    let dialect = dialect().await;
    let hiding = Scope::everything()
        .hide(Column::Location)
        .hide(Column::Description);
    assert_eq!(
        count(&dialect, "/audit/?find=10.0.0.7", &hiding).await,
        (200, 0.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=otp", &hiding).await,
        (200, 0.into())
    );
    assert_eq!(
        count(&dialect, "/audit/?find=alice", &hiding).await,
        (200, 1.into())
    );
}
