//! The raw tokio-postgres baseline for `audit-postgres`'s batch append: the same rows into the
//! same table and indexes, written by hand with binary COPY and nothing else, so that
//! "`postgres/append/batch/1000` ÷ `postgres-baseline/append/batch/1000`" can be read from one
//! run. Needs `AUDIT_BENCH_POSTGRES_URL` (does nothing without it):
//!
//! ```text
//! AUDIT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/audit_bench_scratch \
//!     cargo bench -p audit-benches --bench postgres_baseline
//! ```
//!
//! (`AUDIT_BENCH_ROWS=20000` for a quick run.) Each variant works in a schema of its own,
//! dropped first and then created by `audit-postgres` itself (`PostgresStore::builder()
//! .schema(..).search_index(..).open()`), so the table, its five B-tree indexes and, with the
//! search index, the `pg_trgm` GIN index are exactly the store's. The store then fills it,
//! untimed, with the data set of [`audit_benches::filled`] (1,000,000 events by default, in
//! appends of 1,000) and is closed: the table holds what the store benchmark's table holds when
//! its append benchmark starts. From then on one plain tokio-postgres connection appends the
//! next 1,000 events of the same generator per timed transaction:
//!
//! | group | benchmark | search index | what is timed |
//! |---|---|---|---|
//! | `postgres-baseline/append` | `batch/1000` | trigram GIN (what `audit-postgres` creates by default) | `BEGIN`, one binary `COPY` of 1,000 rows (ids included), `COMMIT` |
//! | `postgres-nosearch-baseline/append` | `batch/1000` | none (`search_index(false)`) | the same |
//!
//! The rows are the store's: `audit_core::sql::encode_event` gives the values, written with the
//! column types and binary encoding of `audit-postgres` ([`audit_benches::raw_postgres`]); ids
//! continue after the largest stored one. The events are generated and encoded before the clock
//! starts, so the baseline measures the server's and the driver's cost of exactly the rows the
//! store writes; the store's own additions (the pool, the counter update and id reservation in
//! the same transaction, encoding) are what the ratio shows. Sampling is that of the store
//! benchmark's append group: a `CHECKPOINT` first (untimed, `audit_benches::postgres_checkpoint`,
//! as the store benchmark settles before its appends), then ten flat samples over
//! [`audit_benches::APPEND_TIME`] after a one-second warm-up, on a multi-threaded tokio runtime.
//!
//! How far apart two runs may land: on the shared 2-core VM these benchmarks were written on,
//! the same baseline measured 90 ms and 118 ms per trigram batch (17 ms and 23 ms without the
//! index) in quiet runs an hour apart, and the store's append moved as much; the server is CPU
//! bound (one core busy with the COPY) and the machine's speed drifts. Read the ratio from runs
//! close together; `postgres_probe compare` interleaves the store's and the raw appends batch
//! by batch on one table, which cancels the drift (there the store stayed within 80-100 % of
//! the raw COPY).
//!
//! The schemas (`audit_bench_baseline`, `audit_bench_nosearch_baseline`) are left in place
//! after the run, for inspection, as the store benchmark leaves its own.

use std::time::{Duration, Instant};

use audit_benches::raw_postgres::{RawCopy, encode_batch, entries_table};
use audit_benches::{
    APPEND_TIME, DEFAULT_SEED, EventGenerator, POSTGRES_URL_ENV, filled, postgres_checkpoint,
    postgres_store, postgres_url, rows_from_env,
};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tokio::runtime::Runtime;

/// Rows per timed transaction, as in the store benchmark's `append/batch/1000`.
const BATCH: u64 = 1_000;

/// The variants, in the order they run: group prefix, schema, search index.
const VARIANTS: [(&str, &str, bool); 2] = [
    ("postgres-baseline", "audit_bench_baseline", true),
    (
        "postgres-nosearch-baseline",
        "audit_bench_nosearch_baseline",
        false,
    ),
];

/// A table created and filled by the store, and the raw connection that appends to it.
struct Baseline {
    raw: RawCopy,
    generator: EventGenerator,
    next: u64,
}

async fn open(label: &str, schema: &str, search: bool, rows: usize) -> Baseline {
    let started = Instant::now();
    let store = postgres_store(schema, search)
        .await
        .unwrap_or_else(|e| panic!("{label}: cannot open the store that creates the table: {e}"));
    eprintln!("{label}: search index {:?}", store.search_index());
    filled(&store, rows)
        .await
        .unwrap_or_else(|e| panic!("{label}: cannot fill the table: {e}"));
    store.close();
    drop(store);
    let filled_in = started.elapsed();
    let url = postgres_url().unwrap_or_else(|e| panic!("{label}: {e}"));
    let raw = RawCopy::open(&url, schema)
        .await
        .unwrap_or_else(|e| panic!("{label}: cannot connect for the raw COPY: {e}"));
    assert_eq!(
        raw.next_id(),
        rows as i64 + 1,
        "{label}: the store did not assign ids 1..={rows}"
    );
    eprintln!("{label}: filled by the store with {rows} events in {filled_in:.2?}");
    Baseline {
        raw,
        generator: EventGenerator::new(DEFAULT_SEED, rows),
        next: rows as u64,
    }
}

/// Appends `iters` batches, timing only the transactions.
async fn append_round(baseline: &mut Baseline, label: &str, iters: u64) -> Duration {
    let mut timed = Duration::ZERO;
    for _ in 0..iters {
        let events: Vec<_> = baseline
            .generator
            .range(baseline.next..baseline.next + BATCH)
            .collect();
        let rows = encode_batch(&events);
        let started = Instant::now();
        baseline
            .raw
            .write_batch(&rows)
            .await
            .unwrap_or_else(|e| panic!("{label}: the raw COPY failed: {e}"));
        timed += started.elapsed();
        baseline.next += BATCH;
    }
    timed
}

fn append_bench(c: &mut Criterion, rt: &Runtime, rows: usize, variant: (&str, &str, bool)) {
    let (label, schema, search) = variant;
    let mut baseline = rt.block_on(open(label, schema, search, rows));
    // As the store benchmark does before its append group.
    rt.block_on(postgres_checkpoint())
        .unwrap_or_else(|e| panic!("{label}: cannot settle before the appends: {e}"));
    let mut group = c.benchmark_group(format!("{label}/append"));
    // As the store benchmark's `append` group: flat samples over the same measurement time, so
    // GIN pending-list flushes and checkpoints spread over the samples as they do there.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(APPEND_TIME)
        .throughput(Throughput::Elements(BATCH));
    group.bench_function(BenchmarkId::new("batch", BATCH), |b| {
        b.iter_custom(|iters| rt.block_on(append_round(&mut baseline, label, iters)));
    });
    group.finish();
    let stored: i64 = rt
        .block_on(baseline.raw.client().query_one(
            &format!("SELECT count(*) FROM {}", entries_table(schema)),
            &[],
        ))
        .and_then(|row| row.try_get(0))
        .unwrap_or_else(|e| panic!("{label}: cannot count the rows: {e}"));
    assert_eq!(
        stored as u64, baseline.next,
        "{label}: the table does not hold every row written"
    );
    eprintln!(
        "{label}: appended {} batches; the table ends with {stored} rows",
        (baseline.next - rows as u64) / BATCH
    );
}

fn baseline_benches(c: &mut Criterion) {
    if std::env::var_os(POSTGRES_URL_ENV).is_none() {
        eprintln!("postgres_baseline: {POSTGRES_URL_ENV} is not set; nothing to measure");
        return;
    }
    let rows = rows_from_env().unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"));
    for variant in VARIANTS {
        append_bench(c, &rt, rows, variant);
    }
}

criterion_group!(benches, baseline_benches);
criterion_main!(benches);
