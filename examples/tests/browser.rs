//! The log viewer in a real browser: Debian's headless Chromium, driven through chromedriver,
//! against the `audit-server` binary on a loopback port. Every figure the page shows is
//! compared with what the API answers for the same request.
//!
//! Needs the Debian packages `chromium` and `chromium-driver` (`bash .ci/run` installs them);
//! without them these tests fail and say so. A failing test leaves a screenshot of the page
//! under the target directory and prints its path.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;
mod webdriver;

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use webdriver::Browser;

const ENTER: &str = "\u{E007}";

/// The server binary, killed when the test ends however it ends.
struct Server {
    child: Option<Child>,
    base: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut all = vec!["--memory", "--no-self-audit"];
        all.extend_from_slice(args);
        let (child, base) = support::launch(env!("CARGO_BIN_EXE_audit-server"), &all);
        Server {
            child: Some(child),
            base,
        }
    }

    /// Stops the server with SIGTERM; it must exit 0.
    fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            support::terminate(&mut child);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The API, asked directly, to check the page against.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(base: &str) -> Api {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::new();
        let token = runtime.block_on(support::login(&client, base));
        Api {
            runtime,
            client,
            base: base.to_owned(),
            token,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.runtime.block_on(async {
            let response = self
                .client
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.token)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

    fn listing(&self, query: &str) -> Value {
        let (status, body) = self.get(&format!("/audit/?{query}"));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["result"]["value"].clone()
    }

    fn ingest(&self, events: &Value) {
        self.runtime.block_on(async {
            let response = self
                .client
                .post(format!("{}/events", self.base))
                .header("Authorization", &self.token)
                .json(events)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        });
    }
}

fn numbers(listing: &Value) -> Vec<String> {
    listing["auditdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["number"].to_string())
        .collect()
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Waits until the page has finished its last request; returns `ready`, `empty`, `error`
/// or `login`.
fn settled(browser: &Browser) -> String {
    browser
        .wait_for(
            "the page to settle",
            "const s = document.body.dataset.state; \
             return ['ready', 'empty', 'error', 'login'].includes(s) && s;",
            &[],
        )
        .as_str()
        .unwrap()
        .to_owned()
}

/// The shown rows, as the text of each cell by its column key.
fn rows(browser: &Browser) -> Vec<Value> {
    browser
        .run(
            "return [...document.querySelectorAll('#rows tr')].map(tr => \
             Object.fromEntries([...tr.children].map(td => [td.dataset.key, td.textContent])));",
            &[],
        )
        .as_array()
        .unwrap()
        .clone()
}

fn column(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|row| row[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn hash(browser: &Browser) -> String {
    browser
        .run("return location.hash;", &[])
        .as_str()
        .unwrap()
        .to_owned()
}

fn log_in(browser: &Browser, user: &str, password: &str) -> String {
    browser.type_into("#login-user", user);
    browser.type_into("#login-password", &format!("{password}{ENTER}"));
    settled(browser)
}

/// Waits for a finished download in the browser's download directory.
fn downloaded(browser: &Browser, name: &str) -> Vec<u8> {
    let path = browser.downloads.join(name);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let partial = std::fs::read_dir(&browser.downloads).unwrap().any(|e| {
            e.unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "crdownload")
        });
        if path.exists() && !partial {
            return std::fs::read(&path).unwrap();
        }
        assert!(Instant::now() < deadline, "{name} was not downloaded");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_viewer_lists_filters_sorts_pages_downloads_and_charts_what_the_api_answers() {
    let server = Server::start(&["--admin", "admin:secret", "--demo", "2000"]);
    let api = Api::new(&server.base);
    let browser = Browser::start("main");
    browser.goto(&format!("{}/", server.base));
    assert_eq!(settled(&browser), "login");

    // Log in: the newest 15 of everything.
    assert_eq!(log_in(&browser, "admin", "secret"), "ready");
    assert_eq!(browser.text("#range"), "1–15 of 2,000 (2,000)");
    let shown = rows(&browser);
    assert_eq!(column(&shown, "number"), numbers(&api.listing("")));
    let headers = browser.run(
        "return [...document.querySelectorAll('#head th')].map(th => th.dataset.key);",
        &[],
    );
    let visible = api.listing("page_size=1")["auditcolumns"].clone();
    for key in headers.as_array().unwrap() {
        assert!(
            visible.as_array().unwrap().contains(key),
            "{key} is visible"
        );
    }

    // A filter per column, with the wildcard and negation syntax; what is typed in one field
    // and not yet sent goes along with Enter in the next.
    browser.type_into("input.filter[data-key=user]", "alice");
    browser.type_into(
        "input.filter[data-key=action]",
        &format!("!*validate*{ENTER}"),
    );
    assert_eq!(settled(&browser), "ready");
    let query = "user=alice&action=%21*validate*";
    let expected = api.listing(query);
    let count = expected["count"].as_u64().unwrap();
    assert!(count > 15, "enough entries to page through");
    assert_eq!(
        browser.text("#range"),
        format!("1–15 of {} (2,000)", thousands(count))
    );
    let shown = rows(&browser);
    assert!(column(&shown, "user").iter().all(|u| u == "alice"));
    assert!(
        column(&shown, "action")
            .iter()
            .all(|a| !a.contains("validate"))
    );
    assert_eq!(column(&shown, "number"), numbers(&expected));

    // Sort by clicking a header: text columns go ascending first, a second click reverses.
    browser.click("th[data-key=serial] button");
    assert_eq!(settled(&browser), "ready");
    let sorted = format!("{query}&sortname=serial&sortorder=asc");
    assert_eq!(
        column(&rows(&browser), "number"),
        numbers(&api.listing(&sorted))
    );
    assert_eq!(
        browser
            .run(
                "return document.querySelector('th[data-key=serial]').getAttribute('aria-sort');",
                &[]
            )
            .as_str(),
        Some("ascending")
    );

    // Page forward, then a larger page size.
    browser.click("#next");
    assert_eq!(settled(&browser), "ready");
    assert_eq!(
        column(&rows(&browser), "number"),
        numbers(&api.listing(&format!("{sorted}&page=2")))
    );
    assert!(browser.text("#range").starts_with("16–"));
    browser.click("#page-size option[value='50']");
    assert_eq!(settled(&browser), "ready");
    assert_eq!(
        column(&rows(&browser), "number"),
        numbers(&api.listing(&format!("{sorted}&page_size=50")))
    );
    browser.click("#last");
    assert_eq!(settled(&browser), "ready");
    assert!(
        browser
            .text("#range")
            .ends_with(&format!("{n} of {n} (2,000)", n = thousands(count)))
    );

    // The state is in the address: a reload shows the same view.
    assert!(hash(&browser).contains("sortname=serial"));
    browser.refresh();
    assert_eq!(settled(&browser), "ready");
    assert!(
        browser
            .text("#range")
            .ends_with(&format!("{n} of {n} (2,000)", n = thousands(count)))
    );
    let filter_value = browser.run(
        "return document.querySelector('input.filter[data-key=action]').value;",
        &[],
    );
    assert_eq!(filter_value, "!*validate*");

    // The time window narrows the listing as timelimit does.
    browser.click("#window option[value='7d']");
    assert_eq!(settled(&browser), "ready");
    let week = api.listing(&format!("{sorted}&timelimit=7d&page_size=50"));
    assert_eq!(
        browser.text("#range"),
        format!(
            "1–{} of {} (2,000)",
            week["count"].as_u64().unwrap().min(50),
            week["count"]
        )
    );

    // The CSV holds exactly what the API's CSV holds for the same filter, window and sort.
    browser.click("#csv");
    assert_eq!(settled(&browser), "ready");
    let csv = downloaded(&browser, "audit.csv");
    let (status, expected_csv) = api.get(&format!("/audit/audit.csv?{sorted}&timelimit=7d"));
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(csv).unwrap(), expected_csv);

    // Free text narrows the listing as `find` does; cleared, the listing is as before.
    browser.type_into("#find", &format!("TOKEN{ENTER}"));
    assert_eq!(settled(&browser), "ready");
    let found = api.listing(&format!("{sorted}&timelimit=7d&page_size=50&find=TOKEN"));
    assert!(
        found["count"].as_u64().unwrap() > 0,
        "the week has token entries"
    );
    assert_eq!(column(&rows(&browser), "number"), numbers(&found));
    assert!(hash(&browser).contains("find=TOKEN"));
    browser.run("document.getElementById('find').value = '';", &[]);
    browser.type_into("#find", ENTER);
    assert_eq!(settled(&browser), "ready");
    assert!(!hash(&browser).contains("find="));

    // Statistics for the current filters over all time: the totals of the listing, and charts
    // the browser could decode.
    browser.click("#window option[value='']");
    assert_eq!(settled(&browser), "ready");
    browser.click("#tab-stats");
    assert_eq!(settled(&browser), "ready");
    assert!(hash(&browser).contains("view=stats"));
    let summary = browser.text("#stats-summary");
    assert!(
        summary.starts_with(&format!("{} entries", thousands(count))),
        "{summary}"
    );
    let charts = browser.wait_for(
        "the charts to be decoded",
        "const imgs = [...document.querySelectorAll('#charts img')]; \
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0) \
         && imgs.map(i => i.closest('figure').dataset.key);",
        &[],
    );
    for key in ["timeline_plot", "action_plot", "admin_plot"] {
        assert!(charts.as_array().unwrap().contains(&json!(key)), "{key}");
    }

    // Usable on a laptop and on a phone: nothing wider than the window but the table itself.
    browser.click("#tab-table");
    assert_eq!(settled(&browser), "ready");
    for (width, height) in [(1366, 768), (390, 844)] {
        browser.set_window(width, height);
        let overflow = browser.run(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            &[],
        );
        assert_eq!(overflow, 0, "no sideways scrolling at {width}px");
        let paging_visible = browser.run(
            "const r = document.querySelector('.paging').getBoundingClientRect(); \
             return r.width > 0 && r.right <= innerWidth;",
            &[],
        );
        assert_eq!(paging_visible, true, "the paging fits at {width}px");
    }
    drop(browser);
    server.stop();
}

#[test]
fn entries_and_typed_text_render_as_text_and_never_run_as_script() {
    let server = Server::start(&["--admin", "admin:secret", "--demo", "0"]);
    let api = Api::new(&server.base);
    let hostile = [
        ("user", "<img src=x onerror=\"window.pwned='user'\">"),
        ("description", "<script>window.pwned='info'</script>"),
        ("event", "javascript:window.pwned='action'"),
        ("realm", "\"'><svg onload=window.pwned='realm'>"),
        (
            "serial",
            "</td></tr><iframe src=\"javascript:parent.pwned='serial'\">",
        ),
        (
            "location",
            "&lt;b&gt;not bold&lt;/b&gt; & \"quoted\" 'single'",
        ),
    ];
    let event: serde_json::Map<String, Value> = hostile
        .iter()
        .map(|(field, text)| ((*field).to_owned(), json!(text)))
        .collect();
    api.ingest(&json!([event, {"event": "POST /validate/check", "user": "alice"}]));

    let browser = Browser::start("xss");
    browser.goto(&format!("{}/", server.base));
    assert_eq!(settled(&browser), "login");
    // A hostile user name is only ever text, here in a failed login.
    assert_eq!(
        log_in(&browser, "<img src=x onerror=window.pwned='login'>", "nope"),
        "login"
    );
    assert_eq!(browser.text("#message"), "Wrong user name or password.");
    assert_eq!(log_in(&browser, "admin", "secret"), "ready");

    let cells = browser.run(
        "return [...document.querySelectorAll('#rows td')].map(td => td.textContent);",
        &[],
    );
    for (field, text) in hostile {
        assert!(
            cells.as_array().unwrap().contains(&json!(text)),
            "{field} shows as text: {cells}"
        );
    }
    let markup = "return document.querySelectorAll('main img, main script, main svg, main iframe, \
                  main a, main b').length;";
    assert_eq!(browser.run(markup, &[]), 0);

    // Filtering on the hostile text finds the entry and shows the filter as typed.
    browser.type_into(
        "input.filter[data-key=user]",
        &format!("{}{ENTER}", hostile[0].1),
    );
    assert_eq!(settled(&browser), "ready");
    assert_eq!(browser.text("#range"), "1–1 of 1 (2)");

    // State from a shared address is text too, even where the server echoes it in an error.
    let trap = "<img src=x onerror=window.pwned='hash'>";
    let address = format!(
        "{}/#sortname={}&client=*%3Cscript%3Ewindow.pwned%3D1%3C%2Fscript%3E*",
        server.base,
        urlencode(trap)
    );
    browser.goto(&address);
    assert_eq!(settled(&browser), "error");
    let message = browser.text("#message");
    assert!(message.contains(trap), "{message}");
    assert_eq!(browser.run(markup, &[]), 0);

    // The charts of hostile values are images that decode, not markup.
    browser.goto(&format!("{}/#view=stats", server.base));
    assert_eq!(settled(&browser), "ready");
    browser.wait_for(
        "the charts to be decoded",
        "const imgs = [...document.querySelectorAll('#charts img')]; \
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);",
        &[],
    );
    assert_eq!(
        browser.run("return window.pwned === undefined;", &[]),
        true,
        "no script ran"
    );
    drop(browser);
    server.stop();
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn refusals_and_empty_results_are_explained() {
    let server = Server::start(&[
        "--admin",
        "admin:secret",
        "--user",
        "alice:wonder:corp",
        "--demo",
        "300",
    ]);
    let browser = Browser::start("errors");
    browser.goto(&format!("{}/", server.base));
    assert_eq!(settled(&browser), "login");
    assert_eq!(log_in(&browser, "admin", "wrong"), "login");
    assert_eq!(browser.text("#message"), "Wrong user name or password.");
    assert_eq!(log_in(&browser, "admin", "secret"), "ready");

    // 400: the server's reason, which names the parameter.
    browser.type_into("input.filter[data-key=success]", &format!("maybe{ENTER}"));
    assert_eq!(settled(&browser), "error");
    let message = browser.text("#message");
    assert!(
        message.starts_with("The server cannot use this request; check the filters.")
            && message.contains("success"),
        "{message}"
    );

    // An empty result says so.
    browser.type_into("input.filter[data-key=success]", &format!("1{ENTER}"));
    assert_eq!(settled(&browser), "ready");
    browser.type_into("input.filter[data-key=user]", &format!("nobody{ENTER}"));
    assert_eq!(settled(&browser), "empty");
    assert_eq!(
        browser.text("#message"),
        "No entries match these filters in this time window."
    );
    assert!(browser.text("#range").starts_with("0–0 of 0 ("));

    // 401: a token the server no longer knows sends the user back to the login form.
    browser.run("sessionStorage.setItem('audit.token', 'expired');", &[]);
    browser.click("#clear");
    assert_eq!(settled(&browser), "login");
    assert!(
        browser
            .text("#message")
            .starts_with("Please log in again. Authentication failure."),
        "{}",
        browser.text("#message")
    );

    // 403: a self-service user may read their entries but not download them.
    assert_eq!(log_in(&browser, "alice", "wonder"), "ready");
    let users = column(&rows(&browser), "user");
    assert!(!users.is_empty() && users.iter().all(|u| u == "alice"));
    browser.click("#csv");
    assert_eq!(settled(&browser), "error");
    assert!(
        browser
            .text("#message")
            .starts_with("Not allowed. ERR303: You are not allowed to download"),
        "{}",
        browser.text("#message")
    );
    drop(browser);
    server.stop();
}

/// Draws `docs/viewer.png` and `docs/viewer-statistics.png` for the README from 10,000 demo
/// events: `cargo test -p audit-examples --test browser -- --ignored readme`.
#[test]
#[ignore = "writes the README's screenshots into docs/"]
fn readme_screenshots() {
    let server = Server::start(&["--admin", "admin:secret", "--demo", "10000"]);
    let browser = Browser::start("readme");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    browser.goto(&format!(
        "{}/#action=*validate*&success=0&timelimit=7d",
        server.base
    ));
    assert_eq!(settled(&browser), "login");
    assert_eq!(log_in(&browser, "admin", "secret"), "ready");
    std::fs::write(docs.join("viewer.png"), browser.screenshot().unwrap()).unwrap();
    browser.set_window(1366, 1000);
    browser.goto(&format!("{}/#timelimit=30d&view=stats", server.base));
    assert_eq!(settled(&browser), "ready");
    browser.wait_for(
        "the charts to be decoded",
        "return [...document.querySelectorAll('#charts img')].every(i => i.naturalWidth > 0);",
        &[],
    );
    std::fs::write(
        docs.join("viewer-statistics.png"),
        browser.screenshot().unwrap(),
    )
    .unwrap();
    drop(browser);
    server.stop();
}
