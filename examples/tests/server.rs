//! The example server on a loopback port, driven by a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::{AuditQuery, AuditStore};
use audit_examples::accounts::{Account, Accounts};
use audit_examples::{App, demo, server};
use audit_memory::MemoryStore;
use serde_json::Value;

struct Running {
    base: String,
    store: Arc<dyn AuditStore>,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(demo_events: usize) -> Running {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    for chunk in demo::events(demo_events, chrono::Utc::now()).chunks(1_000) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    let app = Arc::new(App::new(
        store.clone(),
        Accounts::new(vec![Account::new("admin", "secret")]),
        true,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, app, 64 * 1024, async move {
        let _ = stopped.await;
    }));
    Running {
        base,
        store,
        client: reqwest::Client::new(),
        stop: Some(stop),
    }
}

impl Running {
    async fn token(&self) -> String {
        let response = self
            .client
            .post(format!("{}/auth", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("username=admin&password=secret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["result"]["value"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacyidea_listing_pages_filters_and_counts() {
    let server = start(500).await;
    let token = server.token().await;
    let auth = [("Authorization", token.as_str())];
    let (status, body) = server
        .get("/audit/?page_size=7&page=2&sortorder=asc", &auth)
        .await;
    assert_eq!(status, 200);
    let value = &body["result"]["value"];
    assert_eq!(value["auditdata"].as_array().unwrap().len(), 7);
    assert_eq!(value["current"], 2);
    assert_eq!(value["prev"], 1);
    assert_eq!(value["next"], 3);
    assert_eq!(value["auditcolumns"].as_array().unwrap().len(), 27);
    assert_eq!(value["auditdata"][0]["number"], 8);
    assert_eq!(value["auditdata"][0].as_object().unwrap().len(), 27);
    // The filter count comes from the store, whatever the page.
    let (_, body) = server
        .get("/audit/?user=alice&action=*validate*", &auth)
        .await;
    let expected = server
        .store
        .count(
            &AuditQuery::new()
                .filter("user", "alice")
                .unwrap()
                .filter("event", "*validate*")
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(body["result"]["value"]["count"], expected.filter_count);
    // PI-Authorization works too; keys the UI sends empty are ignored.
    let (status, _) = server
        .get(
            "/audit/?serial=&info=*",
            &[("PI-Authorization", token.as_str())],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_400_with_the_parameter_named() {
    let server = start(10).await;
    let token = server.token().await;
    let auth = [("Authorization", token.as_str())];
    for (path, parameter) in [
        ("/audit/?page=x", "page"),
        ("/audit/?page=-1", "page"),
        ("/audit/?page_size=1001", "page_size"),
        ("/audit/?timelimit=5x", "timelimit"),
        ("/audit/?sortorder=up", "sortorder"),
        ("/audit/?sortname=nope", "sortname"),
        ("/audit/?nope=1", "nope"),
        ("/audit/?user=%FF", "user"),
        ("/audit/?user=a%00b", "user"),
    ] {
        let (status, body) = server.get(path, &auth).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["result"]["status"], false);
        let message = body["result"]["error"]["message"].as_str().unwrap();
        assert!(message.contains(parameter), "{path}: {message}");
    }
    let long = format!("/audit/?user={}", "x".repeat(5_000));
    assert_eq!(server.get(&long, &auth).await.0, 400);
    let vault = format!("Bearer {token}");
    let vauth = [("Authorization", vault.as_str())];
    assert_eq!(server.get("/vault_rest/audit/-1/10", &vauth).await.0, 400);
    assert_eq!(server.get("/vault_rest/audit/0/x", &vauth).await.0, 400);
    assert_eq!(server.get("/vault_rest/audit/0/5000", &vauth).await.0, 400);
    assert_eq!(
        server
            .get(
                "/vault_rest/audit/0/10",
                &[vauth[0], ("sort_column", "nope")]
            )
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .get(
                "/vault_rest/audit/0/10",
                &[vauth[0], ("sort_direction", "up")]
            )
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .get("/vault_rest/audit/0/10", &[vauth[0], ("findB64", "***")])
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .get("/vault_rest/audit/0/10", &[vauth[0], ("findB64", "/w==")])
            .await
            .0,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_auth_styles_and_their_failures() {
    let server = start(10).await;
    let token = server.token().await;
    assert_eq!(server.get("/audit/", &[]).await.0, 401);
    let (status, body) = server.get("/audit/", &[("Authorization", "wrong")]).await;
    assert_eq!(
        (status, body["result"]["error"]["code"].as_u64()),
        (401, Some(4033))
    );
    assert_eq!(server.get("/vault_rest/audit/0/10", &[]).await.0, 401);
    assert_eq!(
        server
            .get(
                "/vault_rest/audit/0/10",
                &[("Authorization", "Bearer wrong")]
            )
            .await
            .0,
        403
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        server
            .get(
                "/vault_rest/audit/0/10",
                &[("Authorization", bearer.as_str())]
            )
            .await
            .0,
        200
    );
    let bad_login = server
        .client
        .post(format!("{}/auth", server.base))
        .json(&serde_json::json!({"username": "admin", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_login.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_listing_sorts_and_searches() {
    let server = start(300).await;
    let token = format!("Bearer {}", server.token().await);
    let auth = ("Authorization", token.as_str());
    let (status, body) = server.get("/vault_rest/audit/0/5", &[auth]).await;
    assert_eq!(status, 200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let dates: Vec<&str> = items.iter().map(|i| i["date"].as_str().unwrap()).collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "date descending by default"
    );
    assert_eq!(dates[0].len(), "2015-08-07T14:55:30.5070000".len());
    assert!(["Success", "Failure"].contains(&items[0]["status"].as_str().unwrap()));
    let (_, found) = server
        .get("/vault_rest/audit/0/100", &[auth, ("findB64", "QUxJQ0U=")])
        .await;
    let (_, plain) = server
        .get("/vault_rest/audit/0/100", &[auth, ("find", "alice")])
        .await;
    assert_eq!(found["filter_count"], plain["filter_count"]);
    assert!(found["filter_count"].as_u64().unwrap() < found["total_count"].as_u64().unwrap());
    let (_, sorted) = server
        .get(
            "/vault_rest/audit/0/20",
            &[auth, ("sort_column", "user"), ("sort_direction", "asc")],
        )
        .await;
    let users: Vec<&str> = sorted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user"].as_str().unwrap())
        .collect();
    assert!(users.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_downloads_match_the_listing() {
    let server = start(400).await;
    let token = server.token().await;
    let response = server
        .client
        .get(format!(
            "{}/audit/../evil%22name.csv?realm=corp",
            server.base
        ))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "a path outside /audit/ is not served"
    );
    let response = server
        .client
        .get(format!(
            "{}/audit/evil%22name%0A.csv?realm=corp&sortorder=asc",
            server.base
        ))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=evilname.csv"
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().len(), 27);
    let numbers: Vec<u64> = reader
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect();
    let (_, listing) = server
        .get(
            "/audit/?realm=corp&sortorder=asc&page_size=1000",
            &[("Authorization", token.as_str())],
        )
        .await;
    let listed: Vec<u64> = listing["result"]["value"]["auditdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, listed);
    let bearer = format!("Bearer {token}");
    let export = server
        .client
        .get(format!("{}/vault_rest/audit/export", server.base))
        .header("Authorization", bearer)
        .send()
        .await
        .unwrap();
    let text = export.text().await.unwrap();
    assert!(text.starts_with("audit_id,date,description,event,location,status,user,role\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_ingested_atomically_and_requests_are_self_audited() {
    let server = start(0).await;
    let token = server.token().await;
    let before = server
        .store
        .count(&AuditQuery::new())
        .await
        .unwrap()
        .total_count;
    let post = |body: &'static str| {
        server
            .client
            .post(format!("{}/events", server.base))
            .header("Authorization", &token)
            .body(body)
            .send()
    };
    let response = post(r#"[{"event": "POST /x", "user": "a", "duration": 0.5, "extra": {"k": "v"}}, {"event": "POST /y", "date": "2026-05-01T12:00:00Z"}]"#).await.unwrap();
    assert_eq!(response.status(), 200);
    let ids: Value = response.json().await.unwrap();
    assert_eq!(ids["ids"].as_array().unwrap().len(), 2);
    let response = post("{\"event\": \"ok\"}\n{\"event\": \"bad\", \"success\": \"yes\"}\n")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        (error["index"].as_u64(), error["field"].as_str()),
        (Some(1), Some("success"))
    );
    let too_big = server
        .client
        .post(format!("{}/events", server.base))
        .header("Authorization", &token)
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let unauthenticated = server
        .client
        .post(format!("{}/events", server.base))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    // Self-audit: the login, both posts and the listing are entries themselves.
    let _ = server
        .get("/audit/", &[("Authorization", token.as_str())])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logged = server
        .store
        .count(&AuditQuery::new().filter("event", "POST /events").unwrap())
        .await
        .unwrap();
    assert!(logged.filter_count >= 3, "{logged:?}");
    let after = server
        .store
        .count(&AuditQuery::new())
        .await
        .unwrap()
        .total_count;
    assert!(after >= before + 2 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_served_with_charts_for_the_callers_filter() {
    use base64::Engine as _;
    let server = start(2_000).await;
    let token = server.token().await;
    let auth = [("Authorization", token.as_str())];
    let (status, _) = server.get("/audit/statistics", &[]).await;
    assert_eq!(status, 401);
    let (status, body) = server.get("/audit/statistics?days=30", &auth).await;
    assert_eq!(status, 200, "{body}");
    let value = &body["result"]["value"];
    let validate_checks = server
        .store
        .count(
            &AuditQuery::new()
                .filter("event", "*/validate/check")
                .unwrap()
                .time_limit("30d".parse().unwrap()),
        )
        .await
        .unwrap()
        .filter_count;
    let top_action = &value["action"][0];
    assert_eq!(top_action["key"], "POST /validate/check");
    assert!(
        (validate_checks..=validate_checks + 3).contains(&top_action["count"].as_u64().unwrap()),
        "{top_action} vs {validate_checks} (entries may age out of the window between calls)"
    );
    let plot = value["validate_user_plot"].as_str().unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(plot.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));

    let (status, body) = server
        .get(
            "/audit/statistics?days=30&user=mallory&format=svg&top=3",
            &auth,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let value = &body["result"]["value"];
    assert_eq!(value["validate_failed_user"][0]["key"], "mallory");
    assert_eq!(value["validate_failed_user"].as_array().unwrap().len(), 1);
    assert!(
        value["serial_plot"]
            .as_str()
            .unwrap()
            .starts_with("data:image/svg+xml;base64,")
    );
    let (status, body) = server.get("/audit/statistics?days=0", &auth).await;
    assert_eq!(status, 400, "{body}");
}
