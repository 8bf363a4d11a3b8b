//! A 100,000-row CSV download streams: the server's peak memory grows far less than the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use futures_util::StreamExt as _;
use support::{launch, login, terminate};

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
    let (mut child, base) = launch(
        env!("CARGO_BIN_EXE_audit-server"),
        &[
            "--memory",
            "--demo",
            "100000",
            "--no-self-audit",
            "--admin",
            "admin:secret",
        ],
    );
    let client = reqwest::Client::new();
    let token = login(&client, &base).await;
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
    terminate(&mut child);
    assert_eq!(rows, 100_001, "a header and 100,000 rows");
    let growth_kib = peak.saturating_sub(before);
    eprintln!("CSV download of {bytes} bytes: server peak memory grew by {growth_kib} KiB");
    assert!(
        growth_kib * 1024 < bytes as u64 / 2,
        "peak memory grew by {growth_kib} KiB for a {bytes}-byte download"
    );
}
