//! The real binaries, axum and actix-web: the same routes answer the same way, and SIGTERM
//! stops them gracefully with nothing acknowledged lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use serde_json::Value;
use support::{launch, login, terminate};

/// Ships 500 events, terminates the server, restarts it on the same file and finds them all,
/// with every route answering on the way.
async fn survives_sigterm(binary: &str, name: &str) {
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigterm-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let client = reqwest::Client::new();
    let (mut child, base) = launch(
        binary,
        &[
            "--db",
            db.to_str().unwrap(),
            "--admin",
            "admin:secret",
            "--demo",
            "0",
        ],
    );
    let token = login(&client, &base).await;
    let events: String = (0..500)
        .map(|i| format!("{{\"event\": \"shipped\", \"description\": \"{i}\"}}\n"))
        .collect();
    let response = client
        .post(format!("{base}/events"))
        .header("Authorization", &token)
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let vault = client
        .get(format!("{base}/vault_rest/audit/0/3"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(vault.status(), 200);
    let wrong = client
        .get(format!("{base}/vault_rest/audit/0/3"))
        .header("Authorization", "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let csv = client
        .get(format!("{base}/audit/x.csv?action=shipped"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.text().await.unwrap().lines().count(), 501);
    let bad = client
        .get(format!("{base}/audit/?page=0"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The viewer's files, each under the policy that keeps entries from running as script.
    for (path, needle) in [
        ("/", "viewer.js"),
        ("/viewer.js", "textContent"),
        ("/viewer.css", "table"),
    ] {
        let page = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(
            page.headers()["content-security-policy"],
            audit_examples::viewer::CONTENT_SECURITY_POLICY
        );
        assert!(page.text().await.unwrap().contains(needle), "{path}");
    }
    terminate(&mut child);

    let (mut child, base) = launch(
        binary,
        &[
            "--db",
            db.to_str().unwrap(),
            "--admin",
            "admin:secret",
            "--demo",
            "0",
        ],
    );
    let token = login(&client, &base).await;
    let listing: Value = client
        .get(format!("{base}/audit/?action=shipped"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["result"]["value"]["count"], 500);
    // The first run's self-audit entries were written before it exited.
    let own: Value = client
        .get(format!("{base}/audit/?action=POST /events"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["result"]["value"]["count"], 1);
    terminate(&mut child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_server_survives_sigterm() {
    survives_sigterm(env!("CARGO_BIN_EXE_audit-server"), "axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_server_survives_sigterm() {
    survives_sigterm(env!("CARGO_BIN_EXE_audit-server-actix"), "actix").await;
}
