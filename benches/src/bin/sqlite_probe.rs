//! Diagnostics for the SQLite benchmarks, on a database file that outlives the run.
//!
//! ```text
//! sqlite_probe fill   PATH [ROWS] [nosearch]   fill a new audit-sqlite database through `append` (batches of 1,000)
//! sqlite_probe plans  PATH [nosearch]          EXPLAIN QUERY PLAN and timing of every statement the store benchmark runs
//! sqlite_probe export PATH                     where the CSV export's time goes
//! sqlite_probe csv    PATH [TIMES]             write_csv through SqliteStore, then the export's chunks alone (for a profiler)
//! sqlite_probe ingest PATH [nosearch] [BATCHES] the raw append under different engine settings
//! sqlite_probe compare PATH [nosearch] [BATCHES] SqliteStore::append against raw writes (with and without a savepoint)
//! sqlite_probe stats  PATH [nosearch]          time SqliteStore::statistics for the benchmark's request
//! sqlite_probe rawfill PATH [ROWS] [nosearch] [PAGE_SIZE]  fill a new database by hand with a page size
//! ```
//!
//! `fill` writes through [`SqliteStore`] exactly as the `store` benchmark's fill does (WAL,
//! `synchronous=FULL`, batches of [`FILL_BATCH`]) and keeps the file. With
//! `SQLITE_PROBE_THEN=<batches>` the same store then times that many more batches, reporting
//! the WAL every 50; `SQLITE_PROBE_FIND=1` first runs the rare free-text query on that store
//! (`SQLITE_PROBE_FIND_ELSEWHERE=1` on a second store, closed before the appends), and
//! `SQLITE_PROBE_MMAP=<bytes>` sets its `memory_map`; `SQLITE_PROBE_WORK=find,stats,export,
//! user,deep` runs those queries on it first, in that order (repeat a name to repeat one).
//! These located why appends without the search index ran about 25 % slower after scans:
//! SQLite's single page cache for all connections (see `.cargo/config.toml`). `compare` takes `SQLITE_PROBE_WARMUP=<batches>` (untimed appends first)
//! and `SQLITE_PROBE_READ=1` (reads of the store benchmark's shapes first); `ingest` takes
//! `SQLITE_PROBE_EXTRA=<pragmas>` as a setting of one's own. `plans` rebuilds the
//! statements `SqliteStore::query` runs for each benchmark query (with
//! [`SqliteDialectCopy`]), prints their plans and times each one alone. `export` times the
//! keyset walk of the export in stages: the SQL alone, with decoding, then `write_csv`.
//! `ingest` copies the file once per setting and appends `BATCHES` (default 60) raw batches
//! of 1,000 events to each copy, reporting wall time, the thread's CPU time and WAL frames per
//! commit (`SQLITE_PROBE_ONLY=<text>` keeps the settings whose name contains the text). A
//! typical session:
//!
//! ```text
//! cargo build -p audit-benches --release --bins
//! target/release/sqlite_probe fill /var/tmp/audit-1m.db 1000000
//! target/release/sqlite_probe plans /var/tmp/audit-1m.db
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audit_benches::raw_sqlite::{
    COUNTERS, ENTRIES, SEARCH, SearchIndex, SqliteDialectCopy, encoded_batch, write_batch,
};
use audit_benches::{
    DEFAULT_ROWS, DEFAULT_SEED, EventGenerator, FILL_BATCH, RARE_TERM, TempDir, filled,
};
use audit_core::sql::{StoredRow, count_statement, decode_entry, page_statement, where_clause};
use audit_core::{AuditEntry, AuditQuery, AuditStore, Column, CsvLayout, Cursor, write_csv};
use audit_sqlite::SqliteStore;
use chrono::Utc;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use sea_query::{SqliteQueryBuilder, Value};

type Probe = Result<(), Box<dyn Error>>;

const USAGE: &str = "usage: sqlite_probe fill PATH [ROWS] [nosearch] | plans PATH [nosearch] | export PATH | csv PATH [TIMES] | ingest PATH [nosearch] [BATCHES] | compare PATH [nosearch] [BATCHES] | rawfill PATH [ROWS] [nosearch] [PAGE_SIZE]";

fn main() -> Probe {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nosearch = args.iter().any(|a| a == "nosearch");
    let positional: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "nosearch")
        .collect();
    let number = |i: usize, default: usize| -> Result<usize, Box<dyn Error>> {
        match positional.get(i) {
            Some(v) => Ok(v.replace('_', "").parse()?),
            None => Ok(default),
        }
    };
    let path = PathBuf::from(positional.get(1).ok_or(USAGE)?);
    match positional.first().copied() {
        Some("fill") => fill(&path, number(2, DEFAULT_ROWS)?, !nosearch),
        Some("plans") => plans(&path, !nosearch),
        Some("export") => export(&path),
        Some("csv") => csv_only(&path, number(2, 3)?),
        Some("ingest") => ingest(&path, !nosearch, number(2, 60)?),
        Some("compare") => compare(&path, !nosearch, number(2, 60)?),
        Some("stats") => stats(&path, !nosearch),
        Some("rawfill") => rawfill(&path, number(2, DEFAULT_ROWS)?, !nosearch, number(3, 4096)?),
        _ => Err(USAGE.into()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn Error>> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn fill(path: &Path, rows: usize, search: bool) -> Probe {
    if path.exists() {
        return Err(format!("{} exists; fill makes a new database", path.display()).into());
    }
    runtime()?.block_on(async {
        let map: u64 = std::env::var("SQLITE_PROBE_MMAP")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 30);
        let store = Arc::new(
            SqliteStore::builder()
                .path(path)
                .memory_map(map)
                .search_index(search)
                .open()
                .await?,
        );
        let started = Instant::now();
        filled(&*store, rows).await?;
        let took = started.elapsed();
        // `SQLITE_PROBE_THEN=<batches>`: time that many more batches on the same store.
        if let Some(then) = std::env::var("SQLITE_PROBE_THEN")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            let generator = EventGenerator::new(DEFAULT_SEED, rows);
            if std::env::var("SQLITE_PROBE_FIND_ELSEWHERE").is_ok() {
                let other = SqliteStore::builder()
                    .path(path)
                    .search_index(search)
                    .open()
                    .await?;
                let page = other
                    .query(&AuditQuery::new().find(RARE_TERM)?.offset(0, 50)?)
                    .await?;
                println!("find {RARE_TERM} in another store: {} matches", page.filter_count);
                other.close().await?;
            }
            if let Ok(what) = std::env::var("SQLITE_PROBE_WORK") {
                let shared: Arc<dyn AuditStore> = store.clone();
                for step in what.split(',') {
                    let started = Instant::now();
                    match step {
                        "find" => {
                            store.query(&AuditQuery::new().find(RARE_TERM)?.offset(0, 50)?).await?;
                        }
                        "export" => {
                            audit_core::write_csv(Arc::clone(&shared), AuditQuery::new(), &CsvLayout::canonical(), std::io::sink()).await?;
                        }
                        "stats" => {
                            store.statistics(&audit_benches::statistics_request()?).await?;
                        }
                        "user" => {
                            store.query(&AuditQuery::new().filter("user", "user42")?).await?;
                        }
                        "deep" => {
                            store.query(&AuditQuery::new().offset(900_000, 50)?).await?;
                        }
                        other => return Err(format!("unknown step {other}").into()),
                    }
                    println!("{step}: {:.2?}", started.elapsed());
                }
            }
            if std::env::var("SQLITE_PROBE_FIND").is_ok() {
                let page = store
                    .query(&AuditQuery::new().find(RARE_TERM)?.offset(0, 50)?)
                    .await?;
                println!("find {RARE_TERM}: {} matches", page.filter_count);
            }
            let mut timed = Duration::ZERO;
            for i in 0..then {
                let start = rows as u64 + i * 1_000;
                let batch: Vec<_> = generator.range(start..start + 1_000).collect();
                let appended = Instant::now();
                store.append(batch).await?;
                timed += appended.elapsed();
                if (i + 1) % 50 == 0 {
                    let wal = std::fs::metadata(format!("{}-wal", path.display()))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    let marks: String = Connection::open(path)?
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok(format!("{:?}", (r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
                        })?;
                    println!(
                        "  after {} batches: {:.0} events/s so far; wal {wal} bytes, checkpoint {marks}",
                        i + 1,
                        ((i + 1) * 1_000) as f64 / timed.as_secs_f64()
                    );
                }
            }
            println!(
                "then {then} batches of 1,000: {:.0} events/s",
                (then * 1_000) as f64 / timed.as_secs_f64()
            );
        }
        if let Ok(store) = Arc::try_unwrap(store) {
            store.close().await?;
        }
        println!(
            "filled {} with {rows} events through append (batches of {FILL_BATCH}) in {took:.2?}: {:.0} events/s",
            path.display(),
            rows as f64 / took.as_secs_f64()
        );
        Ok(())
    })
}

fn stats(path: &Path, search: bool) -> Probe {
    runtime()?.block_on(async {
        let store = SqliteStore::builder()
            .path(path)
            .search_index(search)
            .open()
            .await?;
        let request = audit_benches::statistics_request()?;
        for _ in 0..5 {
            let started = Instant::now();
            let stats = store.statistics(&request).await?;
            println!(
                "statistics of {} entries ({} buckets, {} rankings) in {:.2?}",
                stats.total,
                stats.timeline.len(),
                stats.rankings.len(),
                started.elapsed()
            );
        }
        store.close().await?;
        Ok(())
    })
}

/// A statement and its values, bound as `audit-sqlite` binds them.
struct Statement {
    sql: String,
    values: Vec<SqlValue>,
}

fn bind(value: &Value) -> SqlValue {
    match value {
        Value::Bool(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::Int(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::BigInt(Some(v)) => SqlValue::Integer(*v),
        Value::Unsigned(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::BigUnsigned(Some(v)) => SqlValue::Integer(i64::try_from(*v).unwrap_or(i64::MAX)),
        Value::String(Some(v)) => SqlValue::Text(v.clone()),
        Value::Double(Some(v)) => SqlValue::Real(*v),
        _ => SqlValue::Null,
    }
}

fn statement((sql, values): (String, sea_query::Values)) -> Statement {
    Statement {
        sql,
        values: values.0.iter().map(bind).collect(),
    }
}

/// The statements `SqliteStore::query` runs for `query`: the page (one row more than asked,
/// for the next cursor), the filtered count when there is a filter, the total.
fn query_statements(query: &AuditQuery, dialect: &SqliteDialectCopy) -> Vec<(String, Statement)> {
    let now = Utc::now();
    let ahead = query.with_count(query.page_spec().count().saturating_add(1));
    let mut out = vec![(
        "page".to_owned(),
        statement(page_statement(ENTRIES, &ahead, now, dialect).build(SqliteQueryBuilder)),
    )];
    if where_clause(query, now, dialect).is_some() {
        out.push((
            "filter_count".to_owned(),
            statement(count_statement(ENTRIES, query, now, dialect).build(SqliteQueryBuilder)),
        ));
    }
    out.push((
        "total_count".to_owned(),
        Statement {
            sql: format!("SELECT \"value\" FROM \"{COUNTERS}\" WHERE \"name\" = 'entries'"),
            values: Vec::new(),
        },
    ));
    out
}

fn read_only(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Runs `statement` to the end; the number of rows.
fn run(conn: &Connection, statement: &Statement) -> rusqlite::Result<usize> {
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    let mut rows = prepared.query(params_from_iter(&statement.values))?;
    let mut n = 0;
    while rows.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// The median of timing `work` repeatedly for about half a second (at least 3, at most 200 runs).
fn time<T>(mut work: impl FnMut() -> T) -> Duration {
    let mut samples = Vec::new();
    let budget = Instant::now();
    while samples.len() < 3
        || (samples.len() < 200 && budget.elapsed() < Duration::from_millis(500))
    {
        let started = Instant::now();
        std::hint::black_box(work());
        samples.push(started.elapsed());
    }
    median(samples)
}

fn read_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    let mut texts = Vec::with_capacity(Column::TEXT.len());
    for i in 0..Column::TEXT.len() {
        texts.push(row.get::<_, String>(3 + i)?);
    }
    let at = 3 + texts.len();
    Ok(StoredRow {
        id: row.get(0)?,
        date: row.get(1)?,
        success: row.get(2)?,
        texts,
        start_date: row.get(at)?,
        duration: row.get(at + 1)?,
        extra: row.get(at + 2)?,
    })
}

fn fetch(conn: &Connection, statement: &Statement) -> Result<Vec<AuditEntry>, Box<dyn Error>> {
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    let mut rows = prepared.query(params_from_iter(&statement.values))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode_entry(read_entry(row)?)?);
    }
    Ok(out)
}

fn plans(path: &Path, search: bool) -> Probe {
    let conn = read_only(path)?;
    let dialect = SqliteDialectCopy {
        search_index: search,
    };
    let rows: i64 = conn.query_row(
        &format!("SELECT \"value\" FROM \"{COUNTERS}\" WHERE \"name\" = 'entries'"),
        [],
        |r| r.get(0),
    )?;
    let depth = rows.unsigned_abs() * 9 / 10;
    let last_skipped = AuditQuery::new().offset(depth - 1, 1)?;
    let (_, page) = query_statements(&last_skipped, &dialect)
        .into_iter()
        .next()
        .ok_or("no page statement")?;
    let entry = fetch(&conn, &page)?
        .into_iter()
        .next()
        .ok_or("fewer rows than the depth")?;
    let cursor = Cursor::after_entry(&entry, last_skipped.sort_order());
    let queries = [
        ("first_page", AuditQuery::new().offset(0, 50)?),
        ("cursor_page", AuditQuery::new().after(cursor.clone(), 50)?),
        (
            "filter_user_exact",
            AuditQuery::new()
                .filter("user", "user42")
                .and_then(|q| q.offset(0, 50))?,
        ),
        (
            "find_rare_term",
            AuditQuery::new()
                .find(RARE_TERM)
                .and_then(|q| q.offset(0, 50))?,
        ),
        ("offset_page", AuditQuery::new().offset(depth, 50)?),
    ];
    println!(
        "{} rows, search index {}",
        rows,
        if search { "on" } else { "off" }
    );
    for (name, query) in queries {
        println!("\n== {name}");
        for (part, statement) in query_statements(&query, &dialect) {
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))?;
            let plan: Vec<String> = explain
                .query_map(params_from_iter(&statement.values), |r| {
                    Ok(format!(
                        "{:>3} {:>3} {}",
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(3)?
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let found = run(&conn, &statement)?;
            let took = time(|| run(&conn, &statement));
            println!("-- {part}: {found} rows, median {took:.2?}");
            println!("   {}", statement.sql);
            for line in plan {
                println!("   {line}");
            }
        }
    }
    Ok(())
}

fn export(path: &Path) -> Probe {
    let conn = read_only(path)?;
    let dialect = SqliteDialectCopy { search_index: true };
    let chunk = audit_core::store::EXPORT_CHUNK_SIZE;
    // The keyset walk of `audit_core::store::export`, three ways.
    let walk = |decode: bool| -> Result<(usize, Duration), Box<dyn Error>> {
        let started = Instant::now();
        let mut cursor: Option<Cursor> = None;
        let mut total = 0;
        loop {
            let query = match cursor.take() {
                Some(c) => AuditQuery::new().after(c, chunk)?,
                None => AuditQuery::new().offset(0, chunk)?,
            };
            let statement = statement(
                page_statement(ENTRIES, &query, Utc::now(), &dialect).build(SqliteQueryBuilder),
            );
            let n = if decode {
                let entries = fetch(&conn, &statement)?;
                cursor = entries
                    .last()
                    .map(|e| Cursor::after_entry(e, query.sort_order()));
                entries.len()
            } else {
                let mut prepared = conn.prepare_cached(&statement.sql)?;
                let mut rows = prepared.query(params_from_iter(&statement.values))?;
                let mut n = 0;
                let mut last = None;
                while let Some(row) = rows.next()? {
                    last = Some(read_entry(row)?);
                    n += 1;
                }
                // The cursor needs an entry; decode only the last row.
                cursor = match last {
                    Some(row) => Some(Cursor::after_entry(&decode_entry(row)?, query.sort_order())),
                    None => None,
                };
                n
            };
            total += n;
            if n < chunk as usize {
                return Ok((total, started.elapsed()));
            }
        }
    };
    let report = |what: &str, (rows, took): (usize, Duration)| {
        println!(
            "{what}: {rows} rows in {took:.2?}, {:.0} rows/s",
            rows as f64 / took.as_secs_f64()
        );
    };
    let mut plan = conn.prepare(&format!(
        "EXPLAIN QUERY PLAN {}",
        query_statements(&AuditQuery::new().offset(0, chunk)?, &dialect)
            .first()
            .map(|(_, s)| s.sql.clone())
            .unwrap_or_default()
    ))?;
    let lines: Vec<String> = plan
        .query_map(
            params_from_iter([SqlValue::Integer(i64::from(chunk) + 1)]),
            |r| r.get::<_, String>(3),
        )?
        .collect::<Result<_, _>>()?;
    println!("export chunk plan: {lines:?}");
    // A full table scan in rowid order, reading every column the page reads: the floor.
    let started = Instant::now();
    let mut scan = conn.prepare(&format!(
        "SELECT id, date, success, {}, start_date, duration, extra FROM \"{ENTRIES}\"",
        Column::TEXT
            .iter()
            .map(|c| format!("\"{}\"", c.name()))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let mut rows = scan.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        std::hint::black_box(read_entry(row)?);
        n += 1;
    }
    drop(rows);
    report(
        "table scan, columns read into StoredRow",
        (n, started.elapsed()),
    );
    // The same scan borrowing the text from SQLite instead of allocating a String per cell.
    let started = Instant::now();
    let mut rows = scan.query([])?;
    let mut n = 0;
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        for i in 0..3 + Column::TEXT.len() + 3 {
            bytes += match row.get_ref(i)? {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)?.len(),
                _ => 1,
            };
        }
        n += 1;
    }
    std::hint::black_box(bytes);
    report(
        "table scan, text borrowed (no allocation)",
        (n, started.elapsed()),
    );
    report("keyset walk, columns read (SQL only)", walk(false)?);
    report("keyset walk, decoded into AuditEntry", walk(true)?);
    let rt = runtime()?;
    let (rows, took) = rt.block_on(async {
        let store: Arc<dyn AuditStore> = Arc::new(SqliteStore::open(path).await?);
        timed_csv(store).await
    })?;
    report(
        "write_csv through SqliteStore into io::sink()",
        (rows, took),
    );
    let (rows, took) = rt.block_on(async {
        let store: Arc<dyn AuditStore> = Arc::new(SqliteStore::open(path).await?);
        let started = Instant::now();
        let ahead: Arc<dyn AuditStore> = Arc::new(Prefetch::start(store, AuditQuery::new()));
        let rows = write_csv(
            ahead,
            AuditQuery::new(),
            &CsvLayout::canonical(),
            std::io::sink(),
        )
        .await?;
        Ok::<_, Box<dyn Error>>((rows as usize, started.elapsed()))
    })?;
    report(
        "write_csv with the next chunk fetched while one renders",
        (rows, took),
    );
    Ok(())
}

/// Every entry of `store` written as CSV into `io::sink()`: the rows and the time it took.
async fn timed_csv(store: Arc<dyn AuditStore>) -> Result<(usize, Duration), Box<dyn Error>> {
    let started = Instant::now();
    let rows = write_csv(
        store,
        AuditQuery::new(),
        &CsvLayout::canonical(),
        std::io::sink(),
    )
    .await?;
    Ok((usize::try_from(rows)?, started.elapsed()))
}

/// `write_csv` through the store, then the export's chunks without rendering, `times` times
/// each: the export as applications run it, short enough for a profiler.
fn csv_only(path: &Path, times: usize) -> Probe {
    let report = |what: &str, rows: usize, took: Duration| {
        println!(
            "{what}: {rows} rows in {took:.2?}, {:.0} rows/s",
            rows as f64 / took.as_secs_f64()
        );
    };
    let rt = runtime()?;
    rt.block_on(async {
        let store: Arc<dyn AuditStore> = Arc::new(SqliteStore::open(path).await?);
        for _ in 0..times {
            let (rows, took) = timed_csv(Arc::clone(&store)).await?;
            report("write_csv", rows, took);
            let started = Instant::now();
            let mut chunks = audit_core::export(
                Arc::clone(&store),
                AuditQuery::new(),
                audit_core::store::EXPORT_CHUNK_SIZE,
            );
            let mut rows = 0;
            while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
                rows += chunk?.len();
            }
            report("export, chunks only", rows, started.elapsed());
        }
        Ok(())
    })
}

/// A store that answers the export's walk from chunks another task fetches ahead: what
/// `audit_core::store::export` would do with one fetch in flight while the consumer renders.
/// Only the export's own sequence of `fetch` calls is supported.
#[derive(Debug)]
struct Prefetch {
    chunks: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<audit_core::Result<Vec<AuditEntry>>>>,
}

impl Prefetch {
    fn start(store: Arc<dyn AuditStore>, query: AuditQuery) -> Self {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut chunks = audit_core::export(store, query, audit_core::store::EXPORT_CHUNK_SIZE);
            while let Some(chunk) = chunks.next().await {
                if sender.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        Prefetch {
            chunks: tokio::sync::Mutex::new(receiver),
        }
    }
}

#[async_trait::async_trait]
impl AuditStore for Prefetch {
    async fn append(&self, _: Vec<audit_core::AuditEvent>) -> audit_core::Result<Vec<i64>> {
        Err(audit_core::Error::Unsupported("append".into()))
    }

    async fn fetch(&self, _: &AuditQuery) -> audit_core::Result<Vec<AuditEntry>> {
        Ok(self
            .chunks
            .lock()
            .await
            .recv()
            .await
            .transpose()?
            .unwrap_or_default())
    }

    async fn count(&self, _: &AuditQuery) -> audit_core::Result<audit_core::Counts> {
        Err(audit_core::Error::Unsupported("count".into()))
    }
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// One engine setting of the ingest comparison.
struct Setting {
    name: String,
    /// Run on the copy before appending.
    setup: String,
    /// Checkpoint by hand after every commit (autocheckpoint off), to count WAL frames.
    count_frames: bool,
    /// Checkpoint from a second connection on another thread (autocheckpoint off).
    background_checkpoint: bool,
}

fn setting(name: &str, setup: &str) -> Setting {
    Setting {
        name: name.to_owned(),
        setup: setup.to_owned(),
        count_frames: false,
        background_checkpoint: false,
    }
}

const CACHE_64M: &str = "PRAGMA cache_size = -65536;";
const NO_USER_INDEX: &str = "DROP INDEX audit_entries_block_user_date;";

fn settings(search: SearchIndex) -> Vec<Setting> {
    let mut all = vec![
        setting(
            "as audit-sqlite opens it (cache 2 MiB, autocheckpoint 1000 pages)",
            "",
        ),
        Setting {
            count_frames: true,
            ..setting(
                "same, checkpoint by hand after each commit to count frames",
                "PRAGMA wal_autocheckpoint = 0;",
            )
        },
        Setting {
            count_frames: true,
            ..setting(
                "cache 64 MiB, checkpoint by hand after each commit to count frames",
                &format!("{CACHE_64M} PRAGMA wal_autocheckpoint = 0;"),
            )
        },
        setting("synchronous=NORMAL", "PRAGMA synchronous = NORMAL;"),
        setting("cache_size 64 MiB", CACHE_64M),
        setting(
            "wal_autocheckpoint 10000 pages",
            "PRAGMA wal_autocheckpoint = 10000;",
        ),
        setting(
            "cache_size 64 MiB + wal_autocheckpoint 10000",
            &format!("{CACHE_64M} PRAGMA wal_autocheckpoint = 10000;"),
        ),
        Setting {
            background_checkpoint: true,
            ..setting(
                "checkpoints on a background thread (autocheckpoint 0)",
                "PRAGMA wal_autocheckpoint = 0;",
            )
        },
        Setting {
            background_checkpoint: true,
            ..setting(
                "cache 64 MiB + checkpoints on a background thread",
                &format!("{CACHE_64M} PRAGMA wal_autocheckpoint = 0;"),
            )
        },
        setting("without the user index", NO_USER_INDEX),
        Setting {
            count_frames: true,
            ..setting(
                "without the user index, checkpoint by hand after each commit to count frames",
                &format!("{NO_USER_INDEX} PRAGMA wal_autocheckpoint = 0;"),
            )
        },
        setting(
            "without the user, event and realm indexes",
            "DROP INDEX audit_entries_block_user_date; DROP INDEX audit_entries_event_date; DROP INDEX audit_entries_realm_date;",
        ),
        setting(
            "without the user index, cache 64 MiB + autocheckpoint 10000",
            &format!("{NO_USER_INDEX} {CACHE_64M} PRAGMA wal_autocheckpoint = 10000;"),
        ),
    ];
    // `SQLITE_PROBE_EXTRA=<pragmas>` adds a setting of one's own.
    if let Ok(extra) = std::env::var("SQLITE_PROBE_EXTRA") {
        all.push(setting(&format!("extra: {extra}"), &extra));
    }
    if search.is_some() {
        let automerge = |n: u32| {
            format!("INSERT INTO \"{SEARCH}\" (\"{SEARCH}\", rank) VALUES ('automerge', {n});")
        };
        all.extend([
            setting("FTS5 automerge 8 (default 4)", &automerge(8)),
            setting("FTS5 automerge 16", &automerge(16)),
            Setting {
                background_checkpoint: true,
                ..setting(
                    "FTS5 automerge 16 + cache 64 MiB + checkpoints on a background thread",
                    &format!(
                        "{} {CACHE_64M} PRAGMA wal_autocheckpoint = 0;",
                        automerge(16)
                    ),
                )
            },
            setting(
                "FTS5 automerge 16 + cache 64 MiB + wal_autocheckpoint 10000",
                &format!(
                    "{} {CACHE_64M} PRAGMA wal_autocheckpoint = 10000;",
                    automerge(16)
                ),
            ),
            setting(
                "without the search index (rows only)",
                &format!("DROP TABLE \"{SEARCH}\";"),
            ),
            Setting {
                count_frames: true,
                ..setting(
                    "without the search index (rows only), checkpoint by hand after each commit to count frames",
                    &format!("DROP TABLE \"{SEARCH}\"; PRAGMA wal_autocheckpoint = 0;"),
                )
            },
        ]);
    }
    all
}

/// Runs PASSIVE checkpoints on its own connection until told to stop.
fn checkpointer(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u32> {
    std::thread::spawn(move || {
        let Ok(conn) = Connection::open(&path) else {
            return 0;
        };
        let mut runs = 0;
        while !stop.load(Ordering::Relaxed) {
            if conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .is_ok()
            {
                runs += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        runs
    })
}

fn ingest(path: &Path, search: bool, batches: usize) -> Probe {
    let search = if search {
        SearchIndex::DetailNone
    } else {
        SearchIndex::None
    };
    let rows: i64 = read_only(path)?.query_row(
        &format!("SELECT \"value\" FROM \"{COUNTERS}\" WHERE \"name\" = 'entries'"),
        [],
        |r| r.get(0),
    )?;
    let rows = rows.unsigned_abs();
    let page_size: i64 = read_only(path)?.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let generator = EventGenerator::new(DEFAULT_SEED, rows as usize);
    let mut settings = settings(search);
    println!(
        "{rows} rows, page size {page_size}; {batches} raw batches of 1,000 per setting, synchronous=FULL unless said"
    );
    // `SQLITE_PROBE_ONLY=<text>` keeps the settings whose name contains it (for `perf record`).
    let only = std::env::var("SQLITE_PROBE_ONLY").unwrap_or_default();
    settings.retain(|s| s.name.contains(&only));
    for setting in settings {
        let dir = TempDir::new("probe")?;
        let copy = dir.path().join("audit.db");
        std::fs::copy(path, &copy)?;
        // Write the copy out now, not in the background while appends are timed.
        std::fs::File::open(&copy)?.sync_all()?;
        let mut conn = Connection::open(&copy)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
        conn.execute_batch(&setting.setup)?;
        let variant = if setting.setup.contains(&format!("DROP TABLE \"{SEARCH}\"")) {
            SearchIndex::None
        } else {
            search
        };
        // Warm the OS cache and the connection as a long-running store would be.
        for i in 0..3 {
            let batch = encoded_batch(&generator, rows + i * 1_000, 1_000);
            write_batch(&mut conn, variant, &batch)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let background = setting
            .background_checkpoint
            .then(|| checkpointer(copy.clone(), Arc::clone(&stop)));
        let mut wall = Vec::new();
        let mut checkpoints = Duration::ZERO;
        let mut frames = 0u64;
        let mut cpu = Duration::ZERO;
        let run_started = Instant::now();
        for i in 3..3 + batches as u64 {
            let batch = encoded_batch(&generator, rows + i * 1_000, 1_000);
            let cpu_before = thread_cpu();
            let started = Instant::now();
            write_batch(&mut conn, variant, &batch)?;
            if setting.count_frames {
                let before = Instant::now();
                let (_, log, _): (i64, i64, i64) =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
                checkpoints += before.elapsed();
                frames += log.unsigned_abs();
            }
            wall.push(started.elapsed());
            cpu += thread_cpu().saturating_sub(cpu_before);
        }
        let run_wall = run_started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let checkpoint_runs = background.map(|t| t.join().unwrap_or(0));
        let wal_bytes = std::fs::metadata(dir.path().join("audit.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        let total: Duration = wall.iter().sum();
        let mean = total / batches.max(1) as u32;
        let per_batch = median(wall);
        let mut line = format!(
            "{}: median {per_batch:.2?}/batch = {:.0} rows/s, mean {mean:.2?} = {:.0} rows/s; CPU {:.0} % of wall",
            setting.name,
            1_000.0 / per_batch.as_secs_f64(),
            1_000.0 / mean.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / total.as_secs_f64()
        );
        if setting.count_frames {
            line.push_str(&format!(
                "; {} WAL frames per commit, checkpoint {:.2?} per commit",
                frames / batches as u64,
                checkpoints / batches as u32
            ));
        }
        if let Some(runs) = checkpoint_runs {
            line.push_str(&format!(
                "; {runs} background checkpoints, WAL file {:.1} MiB at the end, loop wall {run_wall:.2?}",
                wal_bytes as f64 / 1_048_576.0
            ));
        }
        println!("{line}");
    }
    Ok(())
}

/// Fills a new database by hand (raw rusqlite, 1,000-row transactions, synchronous=OFF) with
/// the given page size, for comparing page sizes with `ingest`.
fn rawfill(path: &Path, rows: usize, search: bool, page_size: usize) -> Probe {
    if path.exists() {
        return Err(format!("{} exists; rawfill makes a new database", path.display()).into());
    }
    let search = if search {
        SearchIndex::DetailNone
    } else {
        SearchIndex::None
    };
    {
        let conn = Connection::open(path)?;
        conn.execute_batch(&format!("PRAGMA page_size = {page_size}; VACUUM;"))?;
    }
    let mut conn = audit_benches::raw_sqlite::create(path, search)?;
    conn.execute_batch("PRAGMA synchronous = OFF")?;
    let generator = EventGenerator::new(DEFAULT_SEED, rows);
    let started = Instant::now();
    let mut next = 0u64;
    while next < rows as u64 {
        let len = (FILL_BATCH as u64).min(rows as u64 - next);
        write_batch(&mut conn, search, &encoded_batch(&generator, next, len))?;
        next += len;
    }
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    println!(
        "filled {} (page size {size}) with {rows} rows in {:.2?}",
        path.display(),
        started.elapsed()
    );
    Ok(())
}

/// How `compare` appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Through [`SqliteStore::append`].
    Store,
    /// By hand, [`write_batch`].
    Raw,
    /// By hand, the batch inside a savepoint in the transaction, as `audit-sqlite`'s writer
    /// does.
    RawSavepoint,
    /// The same with `PRAGMA temp_store = MEMORY` (the savepoint's sub-journal in memory).
    RawSavepointMemory,
}

/// [`write_batch`] with the rows inside a savepoint and the counter after it, as
/// `audit-sqlite`'s `write_group` does for a group of one batch.
fn write_batch_in_savepoint(
    conn: &mut Connection,
    search: SearchIndex,
    rows: &[audit_benches::raw_sqlite::EncodedRow],
) -> rusqlite::Result<()> {
    use audit_benches::raw_sqlite::{count_sql, insert_entry_sql, insert_search_sql};
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let savepoint = tx.savepoint()?;
        {
            let mut insert = savepoint.prepare_cached(&insert_entry_sql())?;
            let mut index = if search.is_some() {
                Some(savepoint.prepare_cached(&insert_search_sql())?)
            } else {
                None
            };
            for row in rows {
                insert.execute(params_from_iter(&row.values))?;
                if let Some(index) = index.as_mut() {
                    let id = savepoint.last_insert_rowid();
                    index.execute(rusqlite::params![id, row.search])?;
                }
            }
        }
        savepoint.commit()?;
    }
    tx.prepare_cached(&count_sql())?
        .execute([rows.len() as i64])?;
    tx.commit()
}

/// Appends `batches` batches of 1,000 to a fresh copy of `path` in each of the [`Writer`]
/// ways, three rounds, and prints the mean per batch: ratios with the machine's noise spread
/// over all of them. `SQLITE_PROBE_BATCH` sets the batch size (default 1,000).
fn compare(path: &Path, search: bool, batches: usize) -> Probe {
    let rows: i64 = read_only(path)?.query_row(
        &format!("SELECT \"value\" FROM \"{COUNTERS}\" WHERE \"name\" = 'entries'"),
        [],
        |r| r.get(0),
    )?;
    let rows = rows.unsigned_abs();
    let size: u64 = std::env::var("SQLITE_PROBE_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    // `SQLITE_PROBE_WARMUP=<batches>`: how many untimed batches the store appends first.
    let warmup: u64 = std::env::var("SQLITE_PROBE_WARMUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let generator = EventGenerator::new(DEFAULT_SEED, rows as usize);
    let variant = if search {
        SearchIndex::DetailNone
    } else {
        SearchIndex::None
    };
    let rt = runtime()?;
    let writers = [
        Writer::Store,
        Writer::Raw,
        Writer::RawSavepoint,
        Writer::RawSavepointMemory,
    ];
    let mut means: Vec<Vec<Duration>> = vec![Vec::new(); writers.len()];
    println!("{rows} rows; {batches} batches of {size} per run");
    for round in 0..3 {
        for (w, writer) in writers.iter().enumerate() {
            let dir = TempDir::new("compare")?;
            let copy = dir.path().join("audit.db");
            std::fs::copy(path, &copy)?;
            // Write the copy out now, not in the background while appends are timed.
            std::fs::File::open(&copy)?.sync_all()?;
            let mut timed = Duration::ZERO;
            let range = |i: u64| rows + i * size..rows + (i + 1) * size;
            if *writer == Writer::Store {
                rt.block_on(async {
                    let store = SqliteStore::builder()
                        .path(&copy)
                        .search_index(search)
                        .open()
                        .await?;
                    // `SQLITE_PROBE_READ=1`: read every row first, as the store benchmark's
                    // reads do before its appends.
                    if std::env::var("SQLITE_PROBE_READ").is_ok() {
                        let every_row = AuditQuery::new().filter("serial", "*zz*")?;
                        store.count(&every_row).await?;
                        store
                            .query(&AuditQuery::new().filter("user", "user42")?)
                            .await?;
                        store.fetch(&AuditQuery::new().offset(899_999, 1)?).await?;
                        store.query(&AuditQuery::new().offset(900_000, 50)?).await?;
                    }
                    for i in 0..warmup + batches as u64 {
                        let batch: Vec<_> = generator.range(range(i)).collect();
                        let started = Instant::now();
                        store.append(batch).await?;
                        if i >= warmup {
                            timed += started.elapsed();
                        }
                    }
                    store.close().await?;
                    Ok::<_, Box<dyn Error>>(())
                })?;
            } else {
                let mut conn = Connection::open(&copy)?;
                conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
                if *writer == Writer::RawSavepointMemory {
                    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
                }
                for i in 0..3 + batches as u64 {
                    let batch = encoded_batch(&generator, range(i).start, size);
                    let started = Instant::now();
                    match writer {
                        Writer::Raw => write_batch(&mut conn, variant, &batch)?,
                        _ => write_batch_in_savepoint(&mut conn, variant, &batch)?,
                    }
                    if i >= 3 {
                        timed += started.elapsed();
                    }
                }
            }
            let mean = timed / batches.max(1) as u32;
            println!(
                "round {round}, {writer:?}: mean {mean:.2?} per batch of {size} = {:.0} rows/s",
                size as f64 / mean.as_secs_f64()
            );
            means[w].push(mean);
        }
    }
    let raw: Duration = means[1].iter().sum::<Duration>() / 3;
    for (writer, m) in writers.iter().zip(&means) {
        let mean: Duration = m.iter().sum::<Duration>() / 3;
        println!(
            "overall {writer:?}: {mean:.2?} per batch = {:.0} rows/s, {:.0} % of the raw throughput",
            size as f64 / mean.as_secs_f64(),
            100.0 * raw.as_secs_f64() / mean.as_secs_f64()
        );
    }
    Ok(())
}
