//! Diagnostics for the PostgreSQL benchmarks, on a table the `store` benchmark left in place
//! (`audit_bench`, `audit_bench_nosearch`) in the database of `AUDIT_BENCH_POSTGRES_URL`.
//!
//! ```text
//! postgres_probe compare SCHEMA [ROUNDS] [CONNECTIONS]  PostgresStore::append against raw binary COPY, interleaved
//! postgres_probe export  SCHEMA           where the CSV export's time goes
//! ```
//!
//! `compare` opens the store on the table (with the search index if the table has it) and a raw
//! connection, then runs `ROUNDS` (default 40) rounds; each round appends one batch of 1,000
//! events with every variant below, in an order that rotates from round to round, so all of
//! them meet the same checkpoints, GIN pending-list flushes and neighbours on the machine:
//!
//! | variant | what is timed |
//! |---|---|
//! | `store` | `PostgresStore::append`: pool, encoding, `BEGIN`, id reservation (counter row and sequence), COPY, `COMMIT` |
//! | `raw+reserve+encode` | the same transaction by hand on one connection: encoding, `BEGIN`, the store's reservation statement, COPY, `COMMIT` |
//! | `raw+reserve` | the same without the encoding (done before the clock starts) |
//! | `raw` | `BEGIN`, COPY, `COMMIT` (what `postgres_baseline` times); the ids are reserved beforehand, untimed |
//! | `raw, async commit` | `raw` with `SET LOCAL synchronous_commit = off`: the share of waiting for the WAL flush |
//!
//! With `CONNECTIONS` (default 1) the store's pool is first made to open that many connections
//! (by as many reads at once), as the benchmarks' reads and the export's prefetch leave it;
//! the pool hands them out in turn (first in, first out), so the store's appends then rotate
//! over that many server processes.
//!
//! For each it prints the median and mean time per batch, the WAL written per batch (from
//! `pg_current_wal_lsn()`, read outside the timed part) and the CPU time per batch of this
//! process and of every `postgres` process on the machine (from `/proc`, in clock ticks of
//! 10 ms, so only meaningful summed over many batches).
//!
//! `export` times the keyset walk of `write_csv` in stages, each over every row: the SQL alone
//! (the statements `PostgresStore::fetch` runs, executed on a raw connection and not decoded),
//! `fetch` chunk after chunk (decoding included, no prefetch), the export stream of
//! `audit_core::export` (one chunk fetched ahead), and `write_csv` into `io::sink()`; for
//! comparison one statement that streams every row (`query_raw`, text columns read); then
//! `EXPLAIN (ANALYZE, BUFFERS)` of the chunk at half depth. Every stage prints its CPU split.
//!
//! ```text
//! cargo build -p audit-benches --release --bins
//! AUDIT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/audit_bench_scratch \
//!     target/release/postgres_probe compare audit_bench 40
//! ```
//!
//! `compare` appends to the table (5 × ROUNDS batches) and keeps the counter row and the id
//! sequence consistent, so the store still reads it correctly afterwards.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_benches::raw_postgres::{RawCopy, Transaction, connect, encode_batch, entries_table};
use audit_benches::{DEFAULT_SEED, EventGenerator, postgres_url, rows_from_env};
use audit_core::sql::{SqlDialect, page_statement};
use audit_core::{AuditEntry, AuditEvent, AuditQuery, AuditStore, CsvLayout, Cursor, write_csv};
use audit_postgres::PostgresStore;
use futures_util::StreamExt as _;
use sea_query::{Expr, PostgresQueryBuilder};

type Probe<T = ()> = Result<T, Box<dyn Error>>;

/// Events per append, as in the benchmarks.
const BATCH: u64 = 1_000;

/// The name the probe's store connections report, to find their server processes.
const APPLICATION: &str = "audit-postgres-probe";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Store,
    RawReserveEncode,
    RawReserve,
    Raw,
    RawAsyncCommit,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Store,
        Variant::RawReserveEncode,
        Variant::RawReserve,
        Variant::Raw,
        Variant::RawAsyncCommit,
    ];

    fn label(self) -> &'static str {
        match self {
            Variant::Store => "store",
            Variant::RawReserveEncode => "raw+reserve+encode",
            Variant::RawReserve => "raw+reserve",
            Variant::Raw => "raw",
            Variant::RawAsyncCommit => "raw, async commit",
        }
    }
}

/// CPU time in clock ticks: of this process, and of every process named `postgres`.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    client: u64,
    server: u64,
}

impl Cpu {
    fn now() -> Cpu {
        let mut server = 0;
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_postgres = std::fs::read_to_string(path.join("comm"))
                    .map(|comm| comm.trim() == "postgres")
                    .unwrap_or(false);
                if is_postgres {
                    server += ticks(&path.join("stat")).unwrap_or(0);
                }
            }
        }
        Cpu {
            client: ticks(std::path::Path::new("/proc/self/stat")).unwrap_or(0),
            server,
        }
    }

    fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            client: self.client.saturating_sub(earlier.client),
            server: self.server.saturating_sub(earlier.server),
        }
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` file (fields 14 and 15, after the command name).
fn ticks(stat: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(stat).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(user + system)
}

/// Ticks of 10 ms (`CLK_TCK` is 100 on Linux) per batch, in milliseconds.
fn cpu_ms(ticks: u64, batches: usize) -> f64 {
    ticks as f64 * 10.0 / batches.max(1) as f64
}

async fn wal_position(client: &tokio_postgres::Client) -> Probe<i64> {
    let row = client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn checkpoints(client: &tokio_postgres::Client) -> Probe<i64> {
    let row = client
        .query_one(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn has_search_index(client: &tokio_postgres::Client, schema: &str) -> Probe<bool> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_indexes \
             WHERE schemaname = $1 AND indexname = 'audit_entries_search')",
            &[&schema],
        )
        .await?;
    Ok(row.try_get(0)?)
}

async fn open_store(url: &str, schema: &str, search: bool) -> Probe<PostgresStore> {
    Ok(PostgresStore::builder()
        .url(url)
        .schema(schema)
        .search_index(search)
        .application_name(APPLICATION)
        .open()
        .await?)
}

/// What one variant measured.
#[derive(Debug, Default)]
struct Tally {
    times: Vec<Duration>,
    wal: Vec<i64>,
    cpu: Cpu,
}

fn median<T: Copy + Ord>(values: &[T]) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied()
}

async fn compare(url: &str, schema: &str, rounds: usize, connections: usize) -> Probe {
    let admin = connect(url).await?;
    let search = has_search_index(&admin, schema).await?;
    let table = entries_table(schema);
    // The baseline writes rows without counting them: make the counter and the sequence agree
    // with the table before the store appends to it.
    admin
        .batch_execute(&format!(
            "SELECT setval('\"{schema}\".audit_entries_id_seq', (SELECT max(id) FROM {table})); \
             UPDATE \"{schema}\".audit_entries_counters SET entries = (SELECT count(*) FROM {table})"
        ))
        .await?;
    let stored: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .try_get(0)?;
    let store = open_store(url, schema, search).await?;
    let probe = AuditQuery::new().offset(0, 1)?;
    let reads = (0..connections.max(1)).map(|_| store.count(&probe));
    futures_util::future::try_join_all(reads).await?;
    let backends: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&APPLICATION],
        )
        .await?
        .try_get(0)?;
    let mut raw = RawCopy::open(url, schema).await?;
    let rows = rows_from_env()?;
    let generator = EventGenerator::new(DEFAULT_SEED, rows);
    let mut next = u64::try_from(stored)?;
    println!(
        "{table}: {stored} rows, search index {:?}; {rounds} rounds of {} variants; \
         the store's pool holds {backends} connections",
        store.search_index(),
        Variant::ALL.len()
    );

    let mut trips = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        admin.query_one("SELECT 1", &[]).await?;
        trips.push(started.elapsed());
    }
    println!(
        "round trip (SELECT 1): median {:.3} ms",
        median(&trips).unwrap_or_default().as_secs_f64() * 1e3
    );
    let events: Vec<AuditEvent> = generator.range(next..next + BATCH).collect();
    let started = Instant::now();
    for _ in 0..20 {
        std::hint::black_box(encode_batch(&events));
    }
    println!(
        "encode_event of 1,000 events: {:.3} ms",
        started.elapsed().as_secs_f64() * 1e3 / 20.0
    );

    let checkpoints_before = checkpoints(&admin).await?;
    let mut tallies: Vec<Tally> = Variant::ALL.iter().map(|_| Tally::default()).collect();
    for round in 0..rounds {
        for k in 0..Variant::ALL.len() {
            let slot = (round + k) % Variant::ALL.len();
            let variant = Variant::ALL[slot];
            let events: Vec<AuditEvent> = generator.range(next..next + BATCH).collect();
            next += BATCH;
            let wal_before = wal_position(&admin).await?;
            let cpu_before = Cpu::now();
            let elapsed = match variant {
                Variant::Store => {
                    let started = Instant::now();
                    store.append(events).await?;
                    started.elapsed()
                }
                Variant::RawReserveEncode => {
                    let started = Instant::now();
                    let rows = encode_batch(&events);
                    let shape = Transaction {
                        reserve: true,
                        ..Transaction::default()
                    };
                    raw.write_batch_in(&rows, shape).await?;
                    started.elapsed()
                }
                Variant::RawReserve => {
                    let rows = encode_batch(&events);
                    let shape = Transaction {
                        reserve: true,
                        ..Transaction::default()
                    };
                    let started = Instant::now();
                    raw.write_batch_in(&rows, shape).await?;
                    started.elapsed()
                }
                Variant::Raw | Variant::RawAsyncCommit => {
                    let rows = encode_batch(&events);
                    raw.reserve(rows.len()).await?;
                    let shape = Transaction {
                        asynchronous_commit: variant == Variant::RawAsyncCommit,
                        ..Transaction::default()
                    };
                    let started = Instant::now();
                    raw.write_batch_in(&rows, shape).await?;
                    started.elapsed()
                }
            };
            let cpu = Cpu::now().since(cpu_before);
            let tally = &mut tallies[slot];
            tally.times.push(elapsed);
            tally.wal.push(wal_position(&admin).await? - wal_before);
            tally.cpu.client += cpu.client;
            tally.cpu.server += cpu.server;
        }
    }
    let checkpoints_after = checkpoints(&admin).await?;
    println!(
        "{} checkpoints started during the rounds",
        checkpoints_after - checkpoints_before
    );
    println!(
        "{:<20} {:>10} {:>10} {:>12} {:>12} {:>14} {:>14}",
        "variant", "median ms", "mean ms", "events/s", "WAL MiB", "client CPU ms", "server CPU ms"
    );
    for (variant, tally) in Variant::ALL.iter().zip(&tallies) {
        let med = median(&tally.times).unwrap_or_default().as_secs_f64();
        let mean = tally.times.iter().sum::<Duration>().as_secs_f64() / tally.times.len() as f64;
        let wal = median(&tally.wal).unwrap_or(0) as f64 / (1024.0 * 1024.0);
        println!(
            "{:<20} {:>10.2} {:>10.2} {:>12.0} {:>12.2} {:>14.1} {:>14.1}",
            variant.label(),
            med * 1e3,
            mean * 1e3,
            BATCH as f64 / med,
            wal,
            cpu_ms(tally.cpu.client, tally.times.len()),
            cpu_ms(tally.cpu.server, tally.times.len()),
        );
    }
    let counted: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .try_get(0)?;
    let counter = store.count(&AuditQuery::new()).await?.total_count;
    if u64::try_from(counted)? != counter {
        return Err(format!("the counter says {counter}, the table holds {counted}").into());
    }
    Ok(())
}

/// A dialect for the unfiltered export statements, which use neither JSON fields nor text
/// search (so nothing of `audit-postgres`'s own dialect is needed to rebuild them).
struct Unfiltered;

impl SqlDialect for Unfiltered {
    fn json_field(&self, _column: &str, _key: &str) -> Expr {
        Expr::cust("NULL")
    }
}

fn report(stage: &str, rows: u64, elapsed: Duration, cpu: Cpu) {
    println!(
        "{stage:<48} {:>8.2} s {:>10.0} rows/s   client CPU {:>6.2} s, server CPU {:>6.2} s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64(),
        cpu.client as f64 / 100.0,
        cpu.server as f64 / 100.0
    );
}

async fn export(url: &str, schema: &str) -> Probe {
    let admin = connect(url).await?;
    let search = has_search_index(&admin, schema).await?;
    let store: Arc<dyn AuditStore> = Arc::new(open_store(url, schema, search).await?);
    let total = store.count(&AuditQuery::new()).await?.total_count;
    println!("{schema}: {total} entries");
    let chunk = audit_core::store::EXPORT_CHUNK_SIZE;
    // The first read of rows appended since the last full read sets their hint bits (and
    // dirties their pages); do it untimed, so every stage reads the table in the same state.
    admin
        .batch_execute(&format!("SELECT count(*) FROM {}", entries_table(schema)))
        .await?;

    // fetch, chunk after chunk, remembering each chunk's query for the raw stage.
    let mut queries = Vec::new();
    let mut query = AuditQuery::new().offset(0, chunk)?;
    let mut rows = 0u64;
    let cpu = Cpu::now();
    let started = Instant::now();
    loop {
        let entries = store.fetch(&query).await?;
        queries.push(query.clone());
        rows += entries.len() as u64;
        let Some(last) = entries.last().filter(|_| entries.len() == chunk as usize) else {
            break;
        };
        query = AuditQuery::new().after(Cursor::after_entry(last, query.sort_order()), chunk)?;
    }
    let fetch_time = started.elapsed();
    let fetch_cpu = Cpu::now().since(cpu);

    // The same statements on a raw connection, rows received but not decoded.
    admin
        .batch_execute(&format!("SET search_path = \"{schema}\", pg_catalog"))
        .await?;
    let now = chrono::Utc::now();
    let statements: Vec<String> = queries
        .iter()
        .map(|q| {
            page_statement("audit_entries", q, now, &Unfiltered).to_string(PostgresQueryBuilder)
        })
        .collect();
    let cpu = Cpu::now();
    let started = Instant::now();
    let mut raw_rows = 0u64;
    for sql in &statements {
        raw_rows += admin.query_typed(sql, &[]).await?.len() as u64;
    }
    report(
        "SQL alone (raw connection, no decoding)",
        raw_rows,
        started.elapsed(),
        Cpu::now().since(cpu),
    );
    report(
        "fetch chunk after chunk (decoding)",
        rows,
        fetch_time,
        fetch_cpu,
    );

    // One statement for every row, streamed: the server sends while the client reads, which a
    // walk of chunks, one request after the other, cannot do.
    // The first chunk's statement without its LIMIT (a query's page is at most 10,000).
    let all = match statements.first().and_then(|first| first.rfind(" LIMIT ")) {
        Some(limit) => statements[0][..limit].to_owned(),
        None => return Err("the export statement has no LIMIT".into()),
    };
    let cpu = Cpu::now();
    let started = Instant::now();
    let stream = admin
        .query_raw(
            &all,
            std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
        )
        .await?;
    let mut stream = std::pin::pin!(stream);
    let mut streamed_rows = 0u64;
    let mut text_bytes = 0usize;
    while let Some(row) = stream.next().await {
        let row = row?;
        // Every text column read as `&str` (UTF-8 checked), as decoding must at least do.
        for i in 3..row.len() - 3 {
            text_bytes += row.try_get::<_, &str>(i).map(str::len).unwrap_or(0);
        }
        streamed_rows += 1;
    }
    std::hint::black_box(text_bytes);
    report(
        "one streamed statement, text columns read",
        streamed_rows,
        started.elapsed(),
        Cpu::now().since(cpu),
    );

    let cpu = Cpu::now();
    let started = Instant::now();
    let mut streamed = 0u64;
    let mut chunks = audit_core::export(store.clone(), AuditQuery::new(), chunk);
    while let Some(entries) = chunks.next().await {
        let entries: Vec<AuditEntry> = entries?;
        streamed += entries.len() as u64;
    }
    report(
        "export stream (one chunk ahead)",
        streamed,
        started.elapsed(),
        Cpu::now().since(cpu),
    );

    let cpu = Cpu::now();
    let started = Instant::now();
    let written = write_csv(
        store.clone(),
        AuditQuery::new(),
        &CsvLayout::canonical(),
        std::io::sink(),
    )
    .await?;
    report(
        "write_csv into io::sink()",
        written,
        started.elapsed(),
        Cpu::now().since(cpu),
    );

    if let Some(sql) = statements.get(statements.len() / 2) {
        println!("\nEXPLAIN (ANALYZE, BUFFERS) of the chunk at half depth:\n{sql}\n");
        for row in admin
            .simple_query(&format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            .await?
        {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = row {
                println!("  {}", row.get(0).unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn main() -> Probe {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: postgres_probe compare SCHEMA [ROUNDS] [CONNECTIONS] | postgres_probe export SCHEMA";
    let (Some(mode), Some(schema)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    audit_core::sql::validate_identifier("schema", schema)?;
    let url = postgres_url()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match mode.as_str() {
        "compare" => {
            let number = |i: usize, default: usize| -> Probe<usize> {
                Ok(match args.get(i) {
                    Some(value) => value.parse()?,
                    None => default,
                })
            };
            rt.block_on(compare(&url, schema, number(2, 40)?, number(3, 1)?))
        }
        "export" => rt.block_on(export(&url, schema)),
        _ => Err(usage.into()),
    }
}
