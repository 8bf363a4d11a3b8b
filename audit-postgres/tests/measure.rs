//! Measurements behind the index choices (ignored by default; they take minutes):
//!
//! ```text
//! AUDIT_MEASURE_EVENTS=1000000 cargo test --release -p audit-postgres --test measure -- --ignored --nocapture
//! ```
//!
//! Appends `AUDIT_MEASURE_EVENTS` (default 200,000) generated events in batches of 10,000 with
//! the trigram index in each GIN setting and without it, next to a raw binary COPY of the same
//! rows into the same table and indexes, then times the query shapes the issue names.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::sql::{encode_event, stored_columns};
use audit_core::{AuditEvent, AuditQuery, AuditStore, Column, Cursor, Direction};
use chrono::{DateTime, TimeDelta};
use futures_util::StreamExt as _;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

const BATCH: usize = 10_000;
const RARE: &str = "qzxwv";

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A realistic event: 5,000 users in 5 realms, a dozen event names, a rare term in one event
/// of 10,000 (in the description only).
fn event(i: u64, n: u64) -> AuditEvent {
    const EVENTS: [&str; 12] = [
        "POST /validate/check",
        "POST /validate/check",
        "POST /validate/check",
        "POST /validate/samlcheck",
        "POST /validate/triggerchallenge",
        "POST /auth",
        "GET /token/",
        "POST /token/init",
        "DELETE /token/<serial>",
        "POST /token/disable",
        "GET /audit/",
        "POST /container/init",
    ];
    const MESSAGES: [&str; 6] = [
        "matching 1 tokens",
        "wrong otp value",
        "The user has no tokens assigned",
        "Please enter the code from your authenticator",
        "token disabled",
        "ERR401: Authentication failed",
    ];
    let r = mix(i);
    let user = r % 5_000;
    let end = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
    let date =
        end - TimeDelta::days(90) + TimeDelta::microseconds((i * 90 * 86_400_000_000 / n) as i64);
    let mut description = MESSAGES[(r >> 20) as usize % MESSAGES.len()].to_owned();
    if mix(i ^ 0x5eed) % 10_000 == 0 {
        description.push_str(&format!(" (ticket {RARE}-{user})"));
    }
    AuditEvent::new(EVENTS[(r >> 8) as usize % EVENTS.len()])
        .date(date)
        .success((r >> 40) % 10 != 0)
        .user(format!("user{user}"))
        .realm(format!("realm{}", user % 5))
        .resolver(format!("ldap{}", user % 5))
        .serial(format!("TOTP{:08X}", mix(user) as u32))
        .token_type("totp")
        .authentication(if (r >> 40) % 10 != 0 {
            "ACCEPT"
        } else {
            "REJECT"
        })
        .location(format!(
            "10.{}.{}.{}",
            user % 200,
            (r >> 24) % 256,
            1 + (r >> 32) % 254
        ))
        .user_agent("privacyidea-cp")
        .user_agent_version("3.11")
        .server("pi-node-1")
        .thread_id(format!("1398{:011}", 17_000_000_000 + (r >> 48) % 64))
        .log_level("INFO")
        .policies("otp_policy,lockout")
        .description(description)
        .duration_micros(2_000 + (r >> 12) as i64 % 40_000)
}

fn rate(rows: usize, elapsed: Duration) -> String {
    format!("{:>9.0} rows/s", rows as f64 / elapsed.as_secs_f64())
}

async fn fill(store: &dyn AuditStore, n: u64) -> Duration {
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + BATCH as u64).min(n);
        let batch: Vec<AuditEvent> = (next..end).map(|i| event(i, n)).collect();
        store.append(batch).await.unwrap();
        next = end;
    }
    started.elapsed()
}

/// The same rows written by a bare binary COPY per batch, ids included.
async fn raw_copy(client: &mut tokio_postgres::Client, table: &str, n: u64) -> Duration {
    let columns: Vec<String> = stored_columns();
    let mut types = vec![Type::INT8];
    types.extend(columns.iter().map(|c| match c.as_str() {
        "date" | "start_date" | "duration" => Type::INT8,
        "success" => Type::BOOL,
        "extra" | "extra_folded" => Type::JSONB,
        _ => Type::TEXT,
    }));
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!(
        "COPY {table} (\"id\", {}) FROM STDIN (FORMAT binary)",
        quoted.join(", ")
    );
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let end = (next + BATCH as u64).min(n);
        let events: Vec<AuditEvent> = (next..end).map(|i| event(i, n)).collect();
        let tx = client.transaction().await.unwrap();
        let sink = tx.copy_in(&sql).await.unwrap();
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        for (id, event) in (next as i64 + 1..).zip(&events) {
            let values = encode_event(event);
            let texts: Vec<Option<String>> = values
                .iter()
                .map(|v| match v {
                    audit_core::sql::RowValue::Text(t) => Some((*t).to_owned()),
                    audit_core::sql::RowValue::OptionalText(t) => t.clone(),
                    _ => None,
                })
                .collect();
            let ints: Vec<Option<i64>> = values
                .iter()
                .map(|v| match v {
                    audit_core::sql::RowValue::Int(i) => Some(*i),
                    audit_core::sql::RowValue::OptionalInt(i) => *i,
                    _ => None,
                })
                .collect();
            let success = event.is_success();
            let jsonb: Option<serde_json_text::Jsonb> = None;
            let mut row: Vec<&(dyn ToSql + Sync)> = vec![&id];
            for (k, ty) in types[1..].iter().enumerate() {
                row.push(match *ty {
                    Type::INT8 => &ints[k],
                    Type::BOOL => &success,
                    Type::JSONB => &jsonb,
                    _ => &texts[k],
                });
            }
            writer.as_mut().write(&row).await.unwrap();
        }
        writer.finish().await.unwrap();
        tx.commit().await.unwrap();
        next = end;
    }
    started.elapsed()
}

/// A NULL jsonb for the raw baseline (the generated events carry no extra fields).
mod serde_json_text {
    use bytes::BytesMut;
    use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

    #[derive(Debug)]
    pub(crate) struct Jsonb;

    impl ToSql for Jsonb {
        fn to_sql(
            &self,
            _: &Type,
            _: &mut BytesMut,
        ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
            Ok(IsNull::Yes)
        }
        fn accepts(ty: &Type) -> bool {
            *ty == Type::JSONB
        }
        to_sql_checked!();
    }
}

async fn median<F, Fut>(runs: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of minutes; run with --ignored --release"]
async fn measure_ingest_and_queries() {
    let n: u64 = std::env::var("AUDIT_MEASURE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let admin = support::admin().await;
    println!("{n} events, batches of {BATCH}");

    // What the client alone spends: generating and encoding the events.
    let started = Instant::now();
    let mut cells = 0;
    for i in 0..n {
        cells += encode_event(&event(i, n)).len();
    }
    println!(
        "client  {:<45} {} ({cells} cells)",
        "generate and encode only",
        rate(n as usize, started.elapsed())
    );

    // Ingest: without the trigram index, and with it in several GIN settings; a search right
    // after the ingest reads whatever the pending list still holds.
    let variants: [(&str, bool, Option<&str>, bool); 4] = [
        ("no trigram index", false, None, true),
        (
            "trigram, 4MB pending list (server default)",
            true,
            Some("gin_pending_list_limit = 4096"),
            true,
        ),
        (
            "trigram, 16MB pending list",
            true,
            Some("gin_pending_list_limit = 16384"),
            false,
        ),
        (
            "trigram, 64MB pending list",
            true,
            Some("gin_pending_list_limit = 65536"),
            false,
        ),
    ];
    let rare_query = AuditQuery::new().find(RARE).unwrap().offset(0, 15).unwrap();
    let mut kept = None;
    for (label, search, setting, with_baseline) in variants {
        let schema = support::Schema::new();
        let store = schema.builder().search_index(search).open().await.unwrap();
        if let Some(setting) = setting {
            admin
                .batch_execute(&format!(
                    "ALTER INDEX \"{}\".audit_entries_search SET ({setting})",
                    schema.name
                ))
                .await
                .unwrap();
        }
        let store_time = fill(&store, n).await;
        let dirty = median(5, || async {
            store.query(&rare_query).await.unwrap();
        })
        .await;
        let mut line = format!(
            "append  {label:<45} store {}  find right after {:>7.2} ms",
            rate(n as usize, store_time),
            dirty.as_secs_f64() * 1_000.0
        );
        if with_baseline {
            // The same rows by bare COPY into an identical empty table.
            let baseline_schema = support::Schema::new();
            let baseline = baseline_schema
                .builder()
                .search_index(search)
                .open()
                .await
                .unwrap();
            if let Some(setting) = setting {
                admin
                    .batch_execute(&format!(
                        "ALTER INDEX \"{}\".audit_entries_search SET ({setting})",
                        baseline_schema.name
                    ))
                    .await
                    .unwrap();
            }
            let mut raw = support::admin().await;
            let raw_time = raw_copy(
                &mut raw,
                &format!("\"{}\".audit_entries", baseline_schema.name),
                n,
            )
            .await;
            drop(baseline);
            line.push_str(&format!(
                "  raw COPY {} (store at {:.0}%)",
                rate(n as usize, raw_time),
                100.0 * raw_time.as_secs_f64() / store_time.as_secs_f64()
            ));
        }
        println!("{line}");
        if search && kept.is_none() {
            kept = Some((schema, store));
        }
    }

    // Queries on the store with the default trigram index.
    let (schema, store) = kept.unwrap();
    admin
        .batch_execute(&format!("VACUUM ANALYZE \"{}\".audit_entries", schema.name))
        .await
        .unwrap();
    let store: Arc<dyn AuditStore> = Arc::new(store);
    let first = AuditQuery::new().offset(0, 15).unwrap();
    let exact = AuditQuery::new()
        .filter("user", "user42")
        .unwrap()
        .offset(0, 15)
        .unwrap();
    let rare = AuditQuery::new().find(RARE).unwrap().offset(0, 15).unwrap();
    let wildcard = AuditQuery::new()
        .filter("description", "*qzxw*")
        .unwrap()
        .offset(0, 15)
        .unwrap();
    let depth = n * 9 / 10;
    let deep = store
        .fetch(&AuditQuery::new().offset(depth, 1).unwrap())
        .await
        .unwrap();
    let cursor = Cursor::after_entry(&deep[0], AuditQuery::new().sort_order());
    let cursor_page = AuditQuery::new().after(cursor, 15).unwrap();
    for (label, query) in [
        ("first page with both counts", &first),
        ("exact filter (user) page with counts", &exact),
        ("find a rare 5-character term", &rare),
        ("wildcard on a rare term", &wildcard),
        ("cursor page at depth 90%", &cursor_page),
    ] {
        let time = median(11, || async {
            store.query(query).await.unwrap();
        })
        .await;
        let page = store.query(query).await.unwrap();
        println!(
            "query   {label:<45} median {:>8.2} ms  ({} of {} match)",
            time.as_secs_f64() * 1_000.0,
            page.filter_count,
            page.total_count
        );
    }
    let started = Instant::now();
    let mut exported = 0;
    let mut chunks = audit_core::export(
        store.clone(),
        AuditQuery::new().sort(Column::Id, Direction::Asc).unwrap(),
        audit_core::store::EXPORT_CHUNK_SIZE,
    );
    while let Some(chunk) = chunks.next().await {
        exported += chunk.unwrap().len();
    }
    println!(
        "export  {:<45} {}",
        "every entry by the keyset walk",
        rate(exported, started.elapsed())
    );
}
