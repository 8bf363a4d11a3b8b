//! What only a real server shows: several instances on one schema, a connection killed during
//! a COPY, schema versions and foreign tables, configuration errors, and the search index with
//! and without `pg_trgm`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::testkit::{check_query, dataset_events, load};
use audit_core::{AuditEntry, AuditEvent, AuditQuery, AuditStore, Column, Direction, Error};
use audit_postgres::{PostgresStore, SearchIndex};
use futures_util::StreamExt as _;

use support::{Cleanup, Schema, admin, server, unique_name};

/// Everything in the store, in id order, read through the export walk.
async fn everything(store: Arc<dyn AuditStore>) -> Vec<AuditEntry> {
    let query = AuditQuery::new().sort(Column::Id, Direction::Asc).unwrap();
    let mut chunks = audit_core::export(store, query, 1_000);
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_append_concurrently_to_one_schema() {
    let schema = Schema::new();
    // Three instances start at once on a schema that does not exist yet: the advisory lock lets
    // one create it while the others wait, then find it done.
    let (a, b, c) = tokio::join!(
        schema.builder().open(),
        schema.builder().open(),
        schema.builder().open()
    );
    let stores = [Arc::new(a.unwrap()), Arc::new(b.unwrap())];
    drop(c.unwrap());
    let mut tasks = Vec::new();
    for (instance, store) in stores.iter().enumerate() {
        for task in 0..3 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut appended = Vec::new();
                for round in 0..30 {
                    let batch: Vec<AuditEvent> = (0..25)
                        .map(|k| {
                            AuditEvent::new("concurrent")
                                .description(format!("{instance}/{task}/{round}/{k}"))
                        })
                        .collect();
                    let names: Vec<String> = batch
                        .iter()
                        .map(|e| e.text(Column::Description).to_owned())
                        .collect();
                    let ids = store.append(batch).await.unwrap();
                    assert_eq!(ids.len(), 25);
                    assert!(ids.windows(2).all(|w| w[0] < w[1]), "batch order: {ids:?}");
                    appended.extend(ids.into_iter().zip(names));
                }
                appended
            }));
        }
    }
    let mut appended: HashMap<i64, String> = HashMap::new();
    for task in tasks {
        for (id, name) in task.await.unwrap() {
            assert!(
                appended.insert(id, name).is_none(),
                "id {id} was given twice"
            );
        }
    }
    assert_eq!(appended.len(), 2 * 3 * 30 * 25);
    for store in &stores {
        let stored = everything(store.clone()).await;
        assert_eq!(stored.len(), appended.len(), "every entry is found once");
        let mut names = HashSet::new();
        for entry in &stored {
            assert_eq!(
                appended.get(&entry.id()).map(String::as_str),
                Some(entry.text(Column::Description)),
                "entry {} holds what its append was given",
                entry.id()
            );
            assert!(names.insert(entry.text(Column::Description).to_owned()));
        }
        let counts = store.count(&AuditQuery::new()).await.unwrap();
        assert_eq!(counts.total_count, appended.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_connection_during_a_copy_leaves_no_partial_batch() {
    let schema = Schema::new();
    let application = unique_name("audit_kill");
    let store = Arc::new(
        schema
            .builder()
            .application_name(&application)
            .open()
            .await
            .unwrap(),
    );
    let before = store.append(vec![AuditEvent::new("before")]).await.unwrap();
    let doomed: Vec<AuditEvent> = (0..50_000)
        .map(|i| {
            AuditEvent::new("doomed")
                .user("someone")
                .description(format!("row {i} of a batch that must vanish whole"))
        })
        .collect();
    let append = {
        let store = store.clone();
        tokio::spawn(async move { store.append(doomed).await })
    };
    // Wait until the store's connection is inside the COPY, then end it from the server side.
    let admin = admin().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    while !killed && !append.is_finished() && Instant::now() < deadline {
        let rows = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND query LIKE 'COPY%' AND state = 'active'",
                &[&application],
            )
            .await
            .unwrap();
        killed = rows.iter().any(|r| r.get::<_, bool>(0));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(killed, "the COPY was never seen running");
    let error = append
        .await
        .unwrap()
        .expect_err("an append whose connection was killed must fail");
    assert!(
        error.is_retryable(),
        "a lost connection is retryable: {error:?}"
    );

    let doomed = AuditQuery::new().filter("event", "doomed").unwrap();
    let counts = store.count(&doomed).await.unwrap();
    assert_eq!((counts.filter_count, counts.total_count), (0, 1));
    let sql = format!("SELECT count(*) FROM \"{}\".audit_entries", schema.name);
    let rows: i64 = admin.query_one(&sql, &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "no row of the killed batch is in the table");

    // The pool replaced the dead connection by itself.
    let after = store.append(vec![AuditEvent::new("after")]).await.unwrap();
    assert!(after[0] > before[0]);
    let page = store.query(&AuditQuery::new()).await.unwrap();
    assert_eq!(page.total_count, 2);
    let events: Vec<&str> = page.entries.iter().map(AuditEntry::event).collect();
    assert_eq!(events, ["after", "before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_version_is_refused_unchanged() {
    let schema = Schema::new();
    let store = schema.builder().open().await.unwrap();
    store.append(vec![AuditEvent::new("kept")]).await.unwrap();
    store.close();
    let admin = admin().await;
    let meta = format!("\"{}\".audit_entries_meta", schema.name);
    admin
        .batch_execute(&format!("UPDATE {meta} SET version = 99"))
        .await
        .unwrap();
    match schema.builder().open().await {
        Err(Error::Incompatible(message)) => assert!(message.contains("99"), "{message}"),
        other => panic!("a newer schema must be refused as incompatible, got {other:?}"),
    }
    let version: i32 = admin
        .query_one(&format!("SELECT version FROM {meta}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 99, "the refused schema is left as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_this_store_did_not_create_is_refused() {
    let schema = Schema::new();
    let admin = admin().await;
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA \"{0}\"; CREATE TABLE \"{0}\".audit_entries (x integer)",
            schema.name
        ))
        .await
        .unwrap();
    let opened = schema.builder().open().await;
    assert!(
        matches!(opened, Err(Error::Incompatible(_))),
        "a foreign table must be refused: {opened:?}"
    );
    let columns: i64 = admin
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(columns, 1, "the foreign table is left as it was");
}

#[tokio::test]
async fn bad_settings_are_refused_before_connecting() {
    // Port 1 on loopback: nothing listens, but nothing gets that far.
    let url = "postgres://postgres@127.0.0.1:1/postgres";
    for (builder, parameter) in [
        (
            PostgresStore::builder().url(url).schema("bad-name"),
            "schema",
        ),
        (PostgresStore::builder().url(url).table("1st"), "table"),
        (
            PostgresStore::builder().url(url).table("x\"; DROP"),
            "table",
        ),
        (PostgresStore::builder(), "url"),
        (PostgresStore::builder().url("postgres://[nope"), "url"),
    ] {
        match builder.open().await {
            Err(Error::InvalidQuery { parameter: p, .. }) => assert_eq!(p, parameter),
            other => panic!("expected an invalid {parameter}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opened = PostgresStore::builder()
        .url(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .connect_timeout(Duration::from_secs(2))
        .open()
        .await;
    match opened {
        Err(error) => assert!(error.is_retryable(), "{error:?}"),
        Ok(store) => panic!("nothing listens on port {port}, yet {store:?} opened"),
    }
}

#[tokio::test]
async fn the_builder_hides_the_password() {
    let builder = PostgresStore::builder().url("postgres://audit:s3cret@db.example:5432/audit");
    assert!(!format!("{builder:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_index_follows_the_setting_and_answers_stay_the_same() {
    let schema = Schema::new();
    let admin = admin().await;
    let index_exists = || async {
        admin
            .query_one(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'audit_entries_search'",
                &[&schema.name],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
            == 1
    };
    let store = schema.builder().open().await.unwrap();
    assert_eq!(store.search_index(), &SearchIndex::Trigram);
    assert!(index_exists().await);
    let reference = load(&store, dataset_events()).await.unwrap();
    let queries = [
        AuditQuery::new().find("ÄRGER").unwrap(),
        AuditQuery::new().filter("description", "*100%*").unwrap(),
        AuditQuery::new().filter("user", "*ixed.c*").unwrap(),
        AuditQuery::new().find("straße").unwrap(),
        AuditQuery::new().find("ab").unwrap(),
    ];
    for query in &queries {
        check_query(&store, &reference, query).await.unwrap();
    }
    store.close();

    let off = schema.builder().search_index(false).open().await.unwrap();
    assert_eq!(off.search_index(), &SearchIndex::Disabled);
    assert!(!index_exists().await, "switched off, the index is dropped");
    for query in &queries {
        check_query(&off, &reference, query).await.unwrap();
    }
    off.close();

    let on = schema.builder().open().await.unwrap();
    assert_eq!(on.search_index(), &SearchIndex::Trigram);
    assert!(
        index_exists().await,
        "switched on, the index is built again"
    );
    for query in &queries {
        check_query(&on, &reference, query).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pg_trgm_the_store_says_so_and_still_answers() {
    let admin = admin().await;
    let superuser: bool = admin
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if !superuser {
        eprintln!(
            "skipped: simulating a server without pg_trgm needs a superuser to create a database and a role"
        );
        return;
    }
    // A fresh database (so no pg_trgm) and a role that may not create extensions in it (no
    // CREATE on the database), as on a managed server where the DBA installs extensions.
    let database = unique_name("audit_db");
    let role = unique_name("audit_role");
    let _cleanup = Cleanup {
        url: server().url.clone(),
        statements: vec![
            format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
            format!("DROP ROLE IF EXISTS \"{role}\""),
        ],
    };
    admin
        .batch_execute(&format!("CREATE ROLE \"{role}\" LOGIN"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE \"{database}\""))
        .await
        .unwrap();
    let mut config: tokio_postgres::Config = server().url.parse().unwrap();
    config.dbname(&database);
    let owner = support::admin_at_config(&config).await;
    owner
        .batch_execute(&format!("CREATE SCHEMA audit AUTHORIZATION \"{role}\""))
        .await
        .unwrap();
    drop(owner);
    config.user(&role);

    let store = PostgresStore::builder()
        .config(config)
        .schema("audit")
        .open()
        .await
        .unwrap();
    match store.search_index() {
        SearchIndex::Unavailable { reason } => {
            assert!(reason.contains("permission denied"), "{reason}")
        }
        other => panic!("pg_trgm cannot be created here, yet the store reports {other:?}"),
    }
    let reference = load(&store, dataset_events()).await.unwrap();
    for query in [
        AuditQuery::new().find("ÄRGER").unwrap(),
        AuditQuery::new().find("ΟΔΟΣ").unwrap(),
        AuditQuery::new().filter("description", "*100%*").unwrap(),
        AuditQuery::new().filter("description", "!*sure").unwrap(),
        AuditQuery::new().filter("user", "MIXED*").unwrap(),
    ] {
        check_query(&store, &reference, &query).await.unwrap();
    }
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_reads_one_snapshot() {
    let schema = Schema::new();
    let store: Arc<dyn AuditStore> = Arc::new(schema.builder().open().await.unwrap());
    let now = chrono::Utc::now();
    let dated = |minutes: i64, user: &str| {
        AuditEvent::new("GET /audit/")
            .user(user)
            .date(now + chrono::TimeDelta::minutes(minutes))
    };
    store
        .append((0..3_000).map(|i| dated(-i, "before")).collect())
        .await
        .unwrap();
    // Oldest first: entries appended during the export, dated later, sort after the cursor.
    let query = AuditQuery::new()
        .sort(Column::Date, Direction::Asc)
        .unwrap();
    let mut chunks = audit_core::export(Arc::clone(&store), query, 100);
    let mut exported = chunks.next().await.unwrap().unwrap();
    store
        .append((1..=50).map(|i| dated(i, "during")).collect())
        .await
        .unwrap();
    while let Some(chunk) = chunks.next().await {
        exported.extend(chunk.unwrap());
    }
    assert_eq!(exported.len(), 3_000);
    assert!(exported.iter().all(|e| e.user() == "before"));
    assert!(exported.windows(2).all(|w| w[0].date() <= w[1].date()));
}

/// The backends connected under `application_name` that are running a statement.
async fn active_backends(admin: &tokio_postgres::Client, application: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
            &[&application],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_left_early_closes_its_connection_and_frees_its_slot() {
    let schema = Schema::new();
    let application = unique_name("export");
    let separator = if server().url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={application}", server().url);
    // Two connections: one may stream an export, the other stays for everything else.
    let store: Arc<dyn AuditStore> = Arc::new(
        PostgresStore::builder()
            .url(&url)
            .schema(&schema.name)
            .max_connections(2)
            .wait_timeout(Duration::from_secs(5))
            .open()
            .await
            .unwrap(),
    );
    for round in 0..4 {
        let batch = (0..10_000)
            .map(|i| AuditEvent::new("POST /validate/check").user(format!("u{round}-{i}")))
            .collect();
        store.append(batch).await.unwrap();
    }
    let admin = admin().await;
    let mut streamed = audit_core::export(Arc::clone(&store), AuditQuery::new(), 10);
    assert_eq!(streamed.next().await.unwrap().unwrap().len(), 10);
    // The server is still sending the export's rows.
    let deadline = Instant::now() + Duration::from_secs(10);
    let exporting = loop {
        if let [pid] = active_backends(&admin, &application).await[..] {
            break pid;
        }
        assert!(Instant::now() < deadline, "no backend streams the export");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Meanwhile a second export reads page after page, and appends still get a connection.
    let mut paged = audit_core::export(Arc::clone(&store), AuditQuery::new(), 5_000);
    let mut paged_rows = paged.next().await.unwrap().unwrap().len();
    store
        .append(vec![AuditEvent::new("GET /audit/").user("during")])
        .await
        .unwrap();
    while let Some(chunk) = paged.next().await {
        paged_rows += chunk.unwrap().len();
    }
    assert!(paged_rows >= 40_000, "{paged_rows} rows");
    // Left early, the streaming export's connection closes instead of going back to the pool.
    drop(streamed);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let connected: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&exporting],
            )
            .await
            .unwrap()
            .get(0);
        if connected == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned export's backend lives on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A full export afterwards sees everything.
    let all: usize = audit_core::export(store, AuditQuery::new(), 5_000)
        .map(|chunk| chunk.unwrap().len())
        .fold(0, |sum, n| async move { sum + n })
        .await;
    assert_eq!(all, 40_001);
}
