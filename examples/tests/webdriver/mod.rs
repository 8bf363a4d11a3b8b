//! A small WebDriver client on std's TCP, enough to drive Debian's headless Chromium through
//! chromedriver: sessions, navigation, elements, script, window size and screenshots.
//!
//! Written here rather than taken from a crate: fantoccini without TLS brings 22 crates the
//! workspace does not build yet (the `webdriver` crate, ICU segmentation data, a second `http`
//! and `cookie`), thirtyfour more; the protocol calls these tests need are a page of code.
//! Being synchronous, it also works from `Drop`, where the guard takes the failure screenshot
//! and ends the browser.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The flags Chromium needs in a container without a display, GPU or user namespace.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
];

fn program(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "the browser tests need {} (set {variable} to use another path); on Debian install \
         the packages: apt-get install -y chromium chromium-driver (bash .ci/run does this)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap()
}

/// One HTTP/1.1 exchange with `Connection: close`; the JSON answer, or why not.
fn exchange(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // chromedriver keeps the connection open whatever the request says: read by length.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let (head, mut content) = loop {
        let read = stream.read(&mut buffer).map_err(|e| e.to_string())?;
        if read == 0 {
            return Err(format!("{method} {path}: the connection closed early"));
        }
        answer.extend_from_slice(&buffer[..read]);
        if let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
            break (head, answer[split + 4..].to_vec());
        }
    };
    let length = head.lines().find_map(|line| {
        line.strip_prefix("content-length:")
            .and_then(|n| n.trim().parse::<usize>().ok())
    });
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let complete = match length {
            Some(length) => content.len() >= length,
            None if chunked => content.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let read = stream.read(&mut buffer).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        content.extend_from_slice(&buffer[..read]);
    }
    if chunked {
        content = dechunk(&content);
    }
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let value: Value = serde_json::from_slice(&content).map_err(|e| e.to_string())?;
    if status == 200 {
        Ok(value["value"].clone())
    } else {
        Err(format!("{method} {path}: HTTP {status}: {value}"))
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 || body.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[(end + 4 + size).min(body.len())..];
    }
    out
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

/// chromedriver with one Chromium session in a fresh profile. Dropping it takes a screenshot
/// when the test is failing, ends the session and kills chromedriver's process group.
pub(crate) struct Browser {
    driver: Child,
    port: u16,
    session: String,
    /// Where downloads land.
    pub(crate) downloads: PathBuf,
    dir: PathBuf,
    name: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a Chromium session; `name` names the
    /// temporary directory and the failure screenshot.
    pub(crate) fn start(name: &str) -> Browser {
        let chromium = program("AUDIT_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = program("AUDIT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("browser-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so the guard can end Chromium's processes with it.
            .process_group(0)
            .spawn()
            .unwrap();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            downloads,
            dir,
            name: name.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while exchange(port, "GET", "/status", None).map_or(true, |v| v["ready"] != true) {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser.dir.join("profile").display()
        ));
        args.push("--window-size=1366,768".to_owned());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": browser.downloads,
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let session = exchange(port, "POST", "/session", Some(&capabilities)).unwrap();
        browser.session = session["sessionId"].as_str().unwrap().to_owned();
        browser.set_window(1366, 768);
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        exchange(self.port, method, &path, body).unwrap()
    }

    /// Opens `url` and waits for it to load.
    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// Reloads the page.
    pub(crate) fn refresh(&self) {
        self.call("POST", "/refresh", Some(&json!({})));
    }

    /// Sets the outer window size.
    pub(crate) fn set_window(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(&json!({"width": width, "height": height})),
        );
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub(crate) fn run(&self, script: &str, args: &[Value]) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The element `css` selects; panics when there is none.
    pub(crate) fn find(&self, css: &str) -> Element {
        let found = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        Element(found[ELEMENT].as_str().unwrap().to_owned())
    }

    /// Clicks the element `css` selects.
    pub(crate) fn click(&self, css: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(&json!({})),
        );
    }

    /// Clears the field `css` selects and types `text` into it (`\u{E007}` is Enter).
    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(&json!({})),
        );
        self.call(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(&json!({ "text": text })),
        );
    }

    /// The visible text of the element `css` selects.
    pub(crate) fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until `script` returns something other than `false`, `null` or `undefined`, and
    /// returns it; panics after 20 seconds naming `what`.
    pub(crate) fn wait_for(&self, what: &str, script: &str, args: &[Value]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.run(script, args);
            if !(value.is_null() || value == false) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// The page as PNG.
    pub(crate) fn screenshot(&self) -> Result<Vec<u8>, String> {
        let path = format!("/session/{}/screenshot", self.session);
        let value = exchange(self.port, "GET", &path, None)?;
        base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.session.is_empty() {
            let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("browser-{}-failure.png", self.name));
            match self
                .screenshot()
                .and_then(|png| std::fs::write(&path, png).map_err(|e| e.to_string()))
            {
                Ok(()) => eprintln!("screenshot of the failing page: {}", path.display()),
                Err(error) => eprintln!("no screenshot of the failing page: {error}"),
            }
        }
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = exchange(self.port, "DELETE", &path, None);
        }
        // Whatever is left of Chromium is in chromedriver's process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(self.dir.join("profile"));
    }
}
