//! Scopes through the HTTP server: a realm administrator and a self-service user see only their
//! entries, in pages, counts, CSV and statistics, whatever parameters they send.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::{AuditEntry, AuditEvent, AuditQuery, AuditStore, Column};
use audit_examples::accounts::{Account, Accounts};
use audit_examples::{App, demo, server};
use audit_memory::MemoryStore;
use serde_json::Value;

struct Running {
    base: String,
    client: reqwest::Client,
    everything: Vec<AuditEntry>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The realm administrator's scope: realms corp and engineering, plus entries by helpdesk.
fn helpdesk_sees(entry: &AuditEntry) -> bool {
    matches!(entry.text(Column::Realm), "corp" | "engineering")
        || entry.text(Column::Administrator) == "helpdesk"
}

fn alice_sees(entry: &AuditEntry) -> bool {
    entry.user() == "alice" && entry.text(Column::Realm) == "corp"
}

async fn start() -> Running {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    for chunk in demo::events(1_500, now).chunks(500) {
        store.append(chunk.to_vec()).await.unwrap();
    }
    // Entries helpdesk wrote in a realm it may not read, and one it must not see.
    store
        .append(vec![
            AuditEvent::new("POST /token/init")
                .administrator("helpdesk")
                .realm("external")
                .user("eve"),
            AuditEvent::new("POST /token/init")
                .administrator("operator")
                .realm("external")
                .user("eve"),
        ])
        .await
        .unwrap();
    let everything = store
        .fetch(&AuditQuery::new().offset(0, 10_000).unwrap())
        .await
        .unwrap();
    let app = Arc::new(App::new(
        store,
        Accounts::new(vec![
            Account::parse("helpdesk:pw:corp,engineering").unwrap(),
            Account::parse_user("alice:pw:corp").unwrap(),
        ]),
        false,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, app, 64 * 1024, async move {
        let _ = stopped.await;
    }));
    Running {
        base,
        client: reqwest::Client::new(),
        everything,
        _stop: stop,
    }
}

impl Running {
    async fn token(&self, name: &str) -> String {
        let response = self
            .client
            .post(format!("{}/auth", self.base))
            .form(&[("username", name), ("password", "pw")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["result"]["value"]["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn get(&self, path: &str, token: &str, body: Option<&str>) -> (u16, String) {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Authorization", token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    fn expected(&self, sees: fn(&AuditEntry) -> bool) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .everything
            .iter()
            .filter(|e| sees(e))
            .map(AuditEntry::id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Every id on the page is in scope, and the count is at most the scope's size.
fn assert_in_scope(body: &str, allowed: &[i64], context: &str) -> u64 {
    let body: Value = serde_json::from_str(body).unwrap();
    let value = &body["result"]["value"];
    for entry in value["auditdata"].as_array().unwrap() {
        let id = entry["number"].as_i64().unwrap();
        assert!(
            allowed.contains(&id),
            "{context}: entry {id} is out of scope"
        );
    }
    let count = value["count"].as_u64().unwrap();
    assert!(
        count <= allowed.len() as u64,
        "{context}: count {count} exceeds the scope"
    );
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_administrator_sees_its_realms_and_its_own_entries() {
    let server = start().await;
    let token = server.token("helpdesk").await;
    let allowed = server.expected(helpdesk_sees);
    let (status, body) = server.get("/audit/?page_size=1000", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let count = assert_in_scope(&body, &allowed, "plain listing");
    assert_eq!(count, allowed.len() as u64);
    let json: Value = serde_json::from_str(&body).unwrap();
    let mut seen: Vec<i64> = json["result"]["value"]["auditdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_i64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen, allowed,
        "exactly the scope: its realms and its own entries"
    );
    let operator_entry = server.everything.iter().map(AuditEntry::id).max().unwrap();
    assert!(!allowed.contains(&operator_entry));
    assert!(
        allowed.contains(&(operator_entry - 1)),
        "its own entry in another realm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_parameter_widens_a_realm_administrators_scope() {
    let server = start().await;
    let token = server.token("helpdesk").await;
    let allowed = server.expected(helpdesk_sees);
    let attacks = [
        "allowed_audit_realm=external",
        "allowed_audit_realm=external&allowed_audit_realm=defrealm",
        "allowed_audit_realm[]=external",
        "Allowed_Audit_Realm=external",
        "ALLOWED_AUDIT_REALM=*",
        "realm=*",
        "realm=**",
        "realm=external",
        "realm=!corp",
        "!realm=corp",
        "realm=corp&realm=external",
        "realm=External",
        "realm=%65xternal",
        "administrator=*",
        "administrator=operator",
        "user=*&realm=*&allowed_audit_realm=*",
        "realm=corp%00external",
        "page_size=1000&sortname=realm&sortorder=asc",
    ];
    for attack in attacks {
        let (status, body) = server
            .get(&format!("/audit/?page_size=1000&{attack}"), &token, None)
            .await;
        match status {
            200 => {
                assert_in_scope(&body, &allowed, attack);
            }
            400 => {}
            other => panic!("{attack}: status {other}: {body}"),
        }
    }
    // A JSON body carrying the key changes nothing.
    let (status, body) = server
        .get(
            "/audit/?page_size=1000",
            &token,
            Some(r#"{"allowed_audit_realm": ["external", "defrealm"], "realm": "external"}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        assert_in_scope(&body, &allowed, "JSON body"),
        allowed.len() as u64
    );
    // The widening key itself is refused, not silently honoured.
    let (status, _) = server
        .get("/audit/?allowed_audit_realm=external", &token, None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_statistics_and_vault_stay_inside_the_scope() {
    let server = start().await;
    let token = server.token("helpdesk").await;
    let allowed = server.expected(helpdesk_sees);
    let (status, csv) = server.get("/audit/all.csv?realm=*", &token, None).await;
    assert_eq!(status, 200);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let mut rows = 0;
    for record in reader.records() {
        let id: i64 = record.unwrap()[0].parse().unwrap();
        assert!(allowed.contains(&id), "CSV row {id} is out of scope");
        rows += 1;
    }
    assert_eq!(rows, allowed.len());

    let (status, body) = server
        .get(
            "/audit/statistics?days=60&allowed_audit_realm=external",
            &token,
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.get("/audit/statistics?days=60", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let stats: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["result"]["value"]["total"], allowed.len() as u64);

    let response = server
        .client
        .get(format!("{}/vault_rest/audit/0/1000", server.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("find", "external")
        .send()
        .await
        .unwrap();
    let vault: Value = response.json().await.unwrap();
    assert!(vault["items"].is_array(), "{vault}");
    assert_eq!(
        vault["total_count"],
        allowed.len() as u64,
        "the total is the scope's"
    );
    for item in vault["items"].as_array().unwrap() {
        let id = item["audit_id"].as_i64().unwrap();
        assert!(allowed.contains(&id), "Vault item {id} is out of scope");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_service_user_sees_only_itself_and_may_not_download() {
    let server = start().await;
    let token = server.token("alice").await;
    let allowed = server.expected(alice_sees);
    assert!(!allowed.is_empty());
    for query in ["", "user=bob", "user=*", "realm=engineering", "user=!alice"] {
        let (status, body) = server
            .get(&format!("/audit/?page_size=1000&{query}"), &token, None)
            .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_in_scope(&body, &allowed, query);
    }
    let (status, body) = server.get("/audit/mine.csv", &token, None).await;
    assert_eq!(status, 403, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["result"]["status"], false);
    assert_eq!(json["result"]["error"]["code"], 303);
    // Known, but not allowed to write entries: 403, not 401.
    let ingest = server
        .client
        .post(format!("{}/events", server.base))
        .header("Authorization", &token)
        .body(r#"[{"event": "POST /forged"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_columns_and_a_maximum_age_hold_for_every_route() {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    let now = chrono::Utc::now();
    store
        .append(vec![
            AuditEvent::new("POST /auth")
                .date(now - chrono::TimeDelta::days(40))
                .location("10.9.9.9"),
            AuditEvent::new("POST /auth").location("10.1.1.1"),
        ])
        .await
        .unwrap();
    let mut account = Account::new("auditor", "pw");
    account.scope = account
        .scope
        .clone()
        .max_age("30d".parse().unwrap())
        .hide(Column::Location);
    let app = Arc::new(App::new(store, Accounts::new(vec![account]), false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, app, 64 * 1024, async move {
        let _ = stopped.await;
    }));
    let server = Running {
        base,
        client: reqwest::Client::new(),
        everything: Vec::new(),
        _stop,
    };
    let token = server.token("auditor").await;
    let (status, body) = server.get("/audit/?timelimit=1y", &token, None).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    let value = &json["result"]["value"];
    assert_eq!(
        value["count"], 1,
        "the 40-day-old entry is beyond the maximum age"
    );
    assert!(value["auditdata"][0].get("client").is_none(), "{body}");
    assert!(
        !value["auditcolumns"]
            .as_array()
            .unwrap()
            .contains(&Value::from("client"))
    );
    assert!(!body.contains("10.1.1.1"));
    for probe in ["client=10.1.1.1", "client=10.*", "sortname=client"] {
        let (status, _) = server.get(&format!("/audit/?{probe}"), &token, None).await;
        assert_eq!(status, 400, "{probe} would reveal a hidden column");
    }
    let (status, csv) = server.get("/audit/a.csv", &token, None).await;
    assert_eq!(status, 200);
    assert!(!csv.lines().next().unwrap().contains("client"), "{csv}");
    assert!(!csv.contains("10.1.1.1"));
    // Free text does not look into the hidden column either.
    let response = server
        .client
        .get(format!("{}/vault_rest/audit/0/10", server.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("find", "10.1.1.1")
        .send()
        .await
        .unwrap();
    let vault: Value = response.json().await.unwrap();
    assert_eq!(vault["filter_count"], 0, "{vault}");
    assert_eq!(vault["total_count"], 1, "{vault}");
}
