//! The real binaries, axum and actix-web: the same routes answer the same way, and SIGTERM
//! stops them gracefully with nothing acknowledged lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn launch(binary: &str, db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(["--admin", "admin:secret", "--demo", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("audit server listening on ") {
            break address.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "the server exits 0 on SIGTERM: {exit}");
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let login: Value = client
        .post(format!("{base}/auth"))
        .body("username=admin&password=secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["result"]["value"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Ships 500 events, terminates the server, restarts it on the same file and finds them all,
/// with every route answering on the way.
async fn survives_sigterm(binary: &str, name: &str) {
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigterm-{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let client = reqwest::Client::new();
    let (mut child, base) = launch(binary, &db);
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
    terminate(&mut child);

    let (mut child, base) = launch(binary, &db);
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
