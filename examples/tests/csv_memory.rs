//! A 100,000-row CSV download streams: the server's peak memory grows far less than the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use futures_util::StreamExt as _;
use serde_json::Value;

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100k_row_download_streams_with_bounded_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return; // the measurement needs Linux's /proc
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--memory",
            "--demo",
            "100000",
            "--no-self-audit",
            "--admin",
            "admin:secret",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(address) = line.strip_prefix("audit server listening on ") {
            break address.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let client = reqwest::Client::new();
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
    // Reset the peak so it measures the download, not the demo data built at start.
    std::fs::write(format!("/proc/{}/clear_refs", child.id()), "5").unwrap();
    let before = status_kib(child.id(), "VmRSS:");
    let response = client
        .get(format!("{base}/audit/all.csv"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut bytes = 0usize;
    let mut rows = 0usize;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        rows += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let peak = status_kib(child.id(), "VmHWM:");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(rows, 100_001, "a header and 100,000 rows");
    let growth_kib = peak.saturating_sub(before);
    eprintln!("CSV download of {bytes} bytes: server peak memory grew by {growth_kib} KiB");
    assert!(
        growth_kib * 1024 < bytes as u64 / 2,
        "peak memory grew by {growth_kib} KiB for a {bytes}-byte download"
    );
}
