//! Retention under load: fills a sealed store with the benchmark data set, purges the older
//! half (`Retention::MaxAge(45 days)` at the data set's end) while a writer appends batches of
//! 100 events without pause, and reports how long the purge took and how long the writer ever
//! waited, next to the same writer's waits without a purge (10 s before it); then verifies the
//! whole chain over the purge's checkpoint.
//!
//! ```text
//! purge_probe BACKEND [ROWS]
//!   BACKEND: memory | sqlite | sqlite-nosearch | postgres | postgres-nosearch
//!   ROWS:    default 1,000,000 (AUDIT_BENCH_ROWS is read too)
//! ```
//!
//! The PostgreSQL backends work in schema `audit_bench_purge` of the database named by
//! `AUDIT_BENCH_POSTGRES_URL` (dropped and created afresh). A typical run:
//!
//! ```text
//! cargo run --release -p audit-benches --bin purge_probe -- sqlite
//! ```

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audit_benches::{
    DEFAULT_SEED, END, EventGenerator, FILL_BATCH, POSTGRES_URL_ENV, TempDir, append_generated,
    rows_from_env,
};
use audit_core::AuditStore;
use audit_core::integrity::{IntegrityKey, Keyring, verify};
use audit_core::retention::{Retention, purge};
use audit_memory::MemoryStore;
use audit_sqlite::SqliteStore;
use chrono::TimeDelta;

type Failure = Box<dyn Error + Send + Sync>;

const SCHEMA: &str = "audit_bench_purge";
const WRITER_BATCH: u64 = 100;

fn keyring() -> Result<Keyring, Failure> {
    Ok(Keyring::new(IntegrityKey::new(
        "bench",
        b"a benchmark secret of 32 bytes..".to_vec(),
    )?))
}

async fn open(backend: &str) -> Result<(Arc<dyn AuditStore>, Option<TempDir>), Failure> {
    let keyring = keyring()?;
    match backend {
        "memory" => Ok((Arc::new(MemoryStore::with_integrity(keyring)), None)),
        "sqlite" | "sqlite-nosearch" => {
            let dir = TempDir::new("purge")?;
            let store = SqliteStore::builder()
                .path(dir.path().join("audit.db"))
                .search_index(backend == "sqlite")
                .integrity(keyring)
                .open()
                .await?;
            Ok((Arc::new(store), Some(dir)))
        }
        "postgres" | "postgres-nosearch" => {
            let url = std::env::var(POSTGRES_URL_ENV)
                .map_err(|_| format!("{POSTGRES_URL_ENV} must name a database"))?;
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
                .await?;
            drop(client);
            let _ = driver.await;
            let store = audit_postgres::PostgresStore::builder()
                .url(&url)
                .schema(SCHEMA)
                .search_index(backend == "postgres")
                .integrity(keyring)
                .open()
                .await?;
            Ok((Arc::new(store), None))
        }
        other => Err(format!(
            "unknown backend {other:?}: memory, sqlite, sqlite-nosearch, postgres or postgres-nosearch"
        )
        .into()),
    }
}

/// Appends batches of [`WRITER_BATCH`] one after the other until `stop` is set or `duration`
/// has passed, and returns how long each append took.
async fn writer(
    store: &Arc<dyn AuditStore>,
    generator: &EventGenerator,
    next: &mut u64,
    stop: Option<&AtomicBool>,
    duration: Duration,
) -> Result<Vec<Duration>, audit_core::Error> {
    let started = Instant::now();
    let mut waits = Vec::new();
    while !stop.is_some_and(|s| s.load(Ordering::Relaxed)) && started.elapsed() < duration {
        let batch = generator.range(*next..*next + WRITER_BATCH).collect();
        let append = Instant::now();
        store.append(batch).await?;
        waits.push(append.elapsed());
        *next += WRITER_BATCH;
    }
    Ok(waits)
}

fn report_waits(what: &str, waits: &[Duration]) {
    let mut sorted = waits.to_vec();
    sorted.sort_unstable();
    let quantile = |q: f64| {
        sorted
            .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{what}: {} appends of {WRITER_BATCH}; wait median {:.1?}, p99 {:.1?}, longest {:.1?}",
        sorted.len(),
        quantile(0.5),
        quantile(0.99),
        sorted.last().copied().unwrap_or_default()
    );
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn main() -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>().into_iter();
    let backend = args.next().unwrap_or_else(|| "sqlite".to_owned());
    let rows = match args.next() {
        Some(rows) => rows.parse()?,
        None => rows_from_env()?,
    };
    let (store, _dir) = open(&backend).await?;
    let generator = EventGenerator::new(DEFAULT_SEED, rows);

    let started = Instant::now();
    append_generated(&*store, &generator, 0..rows as u64, FILL_BATCH).await?;
    let fill = started.elapsed();
    println!(
        "{backend}: filled {rows} sealed entries in {fill:.1?} ({:.0}/s)",
        per_second(rows as u64, fill)
    );

    let policy = Retention::max_age(TimeDelta::days(45))?;
    let started = Instant::now();
    let dry = purge(&*store, &policy, END, true).await?;
    println!(
        "dry run: {} entries would go (counted in {:.1?})",
        dry.purged,
        started.elapsed()
    );

    // The writer alone first, for as long as the purge will take about: its waits without a
    // purge are the baseline for its waits with one.
    let mut next = rows as u64;
    let alone = writer(&store, &generator, &mut next, None, Duration::from_secs(10)).await?;
    report_waits("writer alone for 10 s", &alone);

    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (store, stop, generator) = (Arc::clone(&store), Arc::clone(&stop), generator.clone());
        tokio::spawn(async move {
            let mut next = next;
            writer(&store, &generator, &mut next, Some(&stop), Duration::MAX).await
        })
    };
    let started = Instant::now();
    let report = purge(&*store, &policy, END, false).await?;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = appender.await??;
    println!(
        "purge: {} entries in {} chunks in {took:.1?} ({:.0}/s)",
        report.purged,
        report.chunks,
        per_second(report.purged, took)
    );
    report_waits("writer during the purge", &during);

    let started = Instant::now();
    let verification = verify(&*store, &keyring()?).await?;
    let took = started.elapsed();
    println!(
        "verify: {} entries over {} checkpoint(s) in {took:.1?} ({:.0}/s), first break {:?}",
        verification.checked,
        verification.checkpoints,
        per_second(verification.checked, took),
        verification.first_break
    );
    if verification.first_break.is_some() {
        return Err("the chain does not verify after the purge".into());
    }
    Ok(())
}
