//! Running a server binary in a test: start it, read its address, log in, stop it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Starts `binary` with `args` on an ephemeral loopback port; returns the child and base URL.
pub(crate) fn launch(binary: &str, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(address) = line.strip_prefix("audit server listening on ") {
            break address.trim().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// Logs in as `admin:secret` and returns the token.
pub(crate) async fn login(client: &reqwest::Client, base: &str) -> String {
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

/// Sends SIGTERM and waits; the server must exit with status 0.
pub(crate) fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "the server exits 0 on SIGTERM: {exit}");
}
