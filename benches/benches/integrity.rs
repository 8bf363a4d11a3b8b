//! Criterion benchmarks of the integrity chain at 1,000,000 events (`AUDIT_BENCH_ROWS` for
//! fewer), for SQLite (with and without the search index) and, when `AUDIT_BENCH_POSTGRES_URL`
//! names a database, PostgreSQL (schemas `audit_bench_plain` and `audit_bench_sealed`):
//!
//! | group | benchmark | what is timed |
//! |---|---|---|
//! | `integrity/<backend>/append` | `plain`, `sealed` | one `append` of 1,000 events into a store that holds the data set, without and with a keyring; throughput in events |
//! | `integrity/<backend>/verify` | `all` | `verify` over the whole sealed chain; throughput in entries |
//!
//! The stores grow by the appended batches while they are measured (by at most a few percent
//! of the data set).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use audit_benches::{DEFAULT_SEED, EventGenerator, TempDir, filled, rows_from_env};
use audit_core::integrity::{IntegrityKey, Keyring, verify};
use audit_core::{AuditEvent, AuditStore};
use audit_sqlite::SqliteStore;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const BATCH: u64 = 1_000;

fn keyring() -> Keyring {
    match IntegrityKey::new("bench", b"a benchmark secret of 32 bytes..".to_vec()) {
        Ok(key) => Keyring::new(key),
        Err(e) => panic!("{e}"),
    }
}

/// A store and whatever must outlive it.
struct Opened {
    store: Arc<dyn AuditStore>,
    _dir: Option<TempDir>,
}

async fn sqlite(search: bool, sealed: bool) -> Opened {
    let dir = TempDir::new("integrity").unwrap_or_else(|e| panic!("{e}"));
    let mut builder = SqliteStore::builder()
        .path(dir.path().join("audit.db"))
        .search_index(search);
    if sealed {
        builder = builder.integrity(keyring());
    }
    let store = builder.open().await.unwrap_or_else(|e| panic!("{e}"));
    Opened {
        store: Arc::new(store),
        _dir: Some(dir),
    }
}

async fn postgres(url: &str, sealed: bool) -> Opened {
    let schema = if sealed {
        "audit_bench_sealed"
    } else {
        "audit_bench_plain"
    };
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(client);
    let _ = driver.await;
    let mut builder = audit_postgres::PostgresStore::builder()
        .url(url)
        .schema(schema);
    if sealed {
        builder = builder.integrity(keyring());
    }
    let store = builder.open().await.unwrap_or_else(|e| panic!("{e}"));
    Opened {
        store: Arc::new(store),
        _dir: None,
    }
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, plain: Opened, sealed: Opened) {
    let rows = rows_from_env().unwrap_or_else(|e| panic!("{e}"));
    for opened in [&plain, &sealed] {
        rt.block_on(filled(&*opened.store, rows))
            .unwrap_or_else(|e| panic!("cannot fill {name}: {e}"));
    }
    let generator = EventGenerator::new(DEFAULT_SEED, rows);
    let mut group = c.benchmark_group(format!("integrity/{name}/append"));
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(BATCH))
        .measurement_time(Duration::from_secs(10));
    for (label, opened) in [("plain", &plain), ("sealed", &sealed)] {
        let store = &*opened.store;
        let generator = &generator;
        let mut next = rows as u64;
        group.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let batch: Vec<AuditEvent> =
                        (next..next + BATCH).map(|i| generator.event(i)).collect();
                    next += BATCH;
                    batch
                },
                |batch| {
                    rt.block_on(store.append(batch))
                        .unwrap_or_else(|e| panic!("append failed: {e}"))
                },
                criterion::BatchSize::PerIteration,
            );
        });
    }
    group.finish();

    let total = rt
        .block_on(sealed.store.count(&audit_core::AuditQuery::new()))
        .map(|c| c.total_count)
        .unwrap_or(0);
    let mut group = c.benchmark_group(format!("integrity/{name}/verify"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(total))
        .measurement_time(Duration::from_secs(20));
    let store = &*sealed.store;
    let keyring = keyring();
    group.bench_function("all", |b| {
        b.iter(|| {
            let verification = rt
                .block_on(verify(store, &keyring))
                .unwrap_or_else(|e| panic!("verify failed: {e}"));
            assert_eq!(verification.first_break, None);
            black_box(verification.checked)
        });
    });
    group.finish();
}

fn integrity_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"));
    for (name, search) in [("sqlite", true), ("sqlite-nosearch", false)] {
        let plain = rt.block_on(sqlite(search, false));
        let sealed = rt.block_on(sqlite(search, true));
        bench_backend(c, &rt, name, plain, sealed);
    }
    if let Ok(url) = std::env::var(audit_benches::POSTGRES_URL_ENV) {
        let plain = rt.block_on(postgres(&url, false));
        let sealed = rt.block_on(postgres(&url, true));
        bench_backend(c, &rt, "postgres", plain, sealed);
    }
}

criterion_group!(benches, integrity_benches);
criterion_main!(benches);
