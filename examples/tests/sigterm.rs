//! The real binary: SIGTERM stops it gracefully and nothing acknowledged is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn launch(db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit-server"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_everything_and_a_restart_finds_it() {
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigterm-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let client = reqwest::Client::new();
    let (mut child, base) = launch(&db);
    let login: Value = client
        .post(format!("{base}/auth"))
        .body("username=admin&password=secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["result"]["value"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
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
    terminate(&mut child);

    let (mut child, base) = launch(&db);
    let login: Value = client
        .post(format!("{base}/auth"))
        .body("username=admin&password=secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["result"]["value"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
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
    // The first run's self-audit entries (login, ingest) were written before it exited.
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
