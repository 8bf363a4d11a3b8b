//! The server goes away and comes back: operations fail with a retryable error meanwhile, and
//! the store recovers by itself. Only against the tests' own cluster (a shared server is never
//! stopped), in a test binary of its own so that no other test sees the outage.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use std::time::Duration;

use audit_core::{AuditEvent, AuditQuery, AuditStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_survived_without_help() {
    let server = support::server();
    if !server.owned {
        eprintln!(
            "skipped: {} points at a shared server, which this test would have to stop",
            support::URL_VARIABLE
        );
        return;
    }
    let schema = support::Schema::new();
    let store = schema
        .builder()
        .connect_timeout(Duration::from_secs(2))
        .wait_timeout(Duration::from_secs(2))
        .open()
        .await
        .unwrap();
    store.append(vec![AuditEvent::new("before")]).await.unwrap();

    server.stop().unwrap();
    let read = store.query(&AuditQuery::new()).await;
    let write = store.append(vec![AuditEvent::new("lost")]).await;
    server.start().unwrap();
    for outcome in [read.map(|_| ()), write.map(|_| ())] {
        let error = outcome.expect_err("the server was down");
        assert!(error.is_retryable(), "{error:?}");
    }

    store.append(vec![AuditEvent::new("after")]).await.unwrap();
    let page = store.query(&AuditQuery::new()).await.unwrap();
    let events: Vec<&str> = page.entries.iter().map(|e| e.event()).collect();
    assert_eq!(events, ["after", "before"]);
    assert_eq!(page.total_count, 2);
}
