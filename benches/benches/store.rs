//! Criterion benchmarks of every backend in [`audit_benches::backends`], each filled with
//! 1,000,000 generated events (`AUDIT_BENCH_ROWS=20000 cargo bench -p audit-benches --bench
//! store` for a quick run):
//!
//! | group | benchmark | what is timed |
//! |---|---|---|
//! | `<backend>/read` | `first_page` | `query`: newest 50 entries with both counts |
//! | | `cursor_page/<depth>` | `query`: 50 entries after a keyset cursor at 90 % depth, with counts |
//! | `<backend>/scan` | `filter_user_exact` | `query` with `user=user42`: a page and both counts |
//! | | `find_rare_term` | `query` with free text found in about 0.1 % of rows |
//! | | `offset_page/<depth>` | `query`: the same page as `cursor_page`, reached by offset |
//! | `<backend>/stats` | `privacyidea_5_columns_daily` | `statistics`: serial, event, user, administrator and realm ranked (top 5), a daily timeline over the 90 days |
//! | `<backend>/export` | `csv_all_rows` | `write_csv` of every row into `io::sink()`; throughput in rows |
//! | `<backend>/append` | `batch/1000` | one `append` of 1,000 events into a store that already holds the data set; throughput in events |
//!
//! The append benchmark generates each batch outside the timed part. Its store grows as it
//! runs; once it holds twice the data set it is replaced (untimed) by a freshly filled one, so
//! every batch lands in a store of between one and two data sets. Before it starts, and after
//! every refill, the backend's `settle` runs untimed: for PostgreSQL an `ANALYZE` and a
//! `CHECKPOINT`, so the appends do not compete with the write-back of the fill and of the hint
//! bits the export set on every page, and start at the same point of the checkpoint cycle as
//! the raw baseline's. It also runs once after the first fill, before the reads: the planner
//! then has the statistics autovacuum keeps on a server that has been running.
//!
//! The backends are `memory`, `sqlite` (a fresh file, WAL, `synchronous=FULL`, search index)
//! and `sqlite-nosearch` (the same without the search index), and with
//! `AUDIT_BENCH_POSTGRES_URL` set `postgres` (`audit-postgres` with its defaults, trigram
//! index, in schema `audit_bench`) and `postgres-nosearch` (`search_index(false)`, schema
//! `audit_bench_nosearch`); `AUDIT_BENCH_BACKENDS=postgres,postgres-nosearch` runs only the
//! named ones. Every store is filled through `append` in batches of 1,000; at 1,000,000 rows
//! that took 3 s for `memory`, 51 s for `sqlite`, 30 s for `sqlite-nosearch`, 105-115 s for
//! `postgres` and 20-30 s for `postgres-nosearch` on a 2-core VM (each batch is one durable
//! commit); the SQLite and memory part of the run takes about 6 minutes, each PostgreSQL
//! backend about 4 more. The raw baselines of the appends are the `sqlite_baseline` and
//! `postgres_baseline` benchmarks:
//!
//! ```text
//! AUDIT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/audit_bench_scratch \
//!     AUDIT_BENCH_BACKENDS=postgres,postgres-nosearch \
//!     cargo bench -p audit-benches --bench store -- postgres
//! AUDIT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/audit_bench_scratch \
//!     cargo bench -p audit-benches --bench postgres_baseline
//! ```

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_benches::{
    APPEND_TIME, BackendSpec, BenchBackend, DEFAULT_SEED, EventGenerator, RARE_TERM, filled,
    rows_from_env, selected_backends, statistics_request,
};
use audit_core::{AuditPage, AuditQuery, AuditStore, CsvLayout, Cursor, write_csv};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use tokio::runtime::Runtime;

/// Entries per page in the read benchmarks.
const PAGE: u32 = 50;
/// Events per append in the append benchmark.
const APPEND_BATCH: u64 = 1_000;
/// The user whose entries the exact-filter benchmark selects (about 0.1 % of rows).
const FILTER_USER: &str = "user42";

fn store_benches(c: &mut Criterion) {
    let rows = rows_from_env().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rows >= 10,
        "the benchmarks need at least 10 rows, not {rows}"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"));
    let specs = selected_backends().unwrap_or_else(|e| panic!("{e}"));
    for spec in specs {
        let backend = rt.block_on(open_filled(spec, rows, true));
        rt.block_on(settle(spec));
        read_benches(c, &rt, &backend, rows);
        stats_bench(c, &rt, &backend);
        export_bench(c, &rt, &backend, rows);
        append_bench(c, &rt, spec, backend, rows);
    }
}

async fn open_filled(spec: BackendSpec, rows: usize, announce: bool) -> BenchBackend {
    let started = Instant::now();
    let backend = spec
        .open()
        .await
        .unwrap_or_else(|e| panic!("cannot open the {} backend: {e}", spec.name));
    filled(&*backend.store, rows)
        .await
        .unwrap_or_else(|e| panic!("cannot fill the {} backend: {e}", spec.name));
    if announce {
        eprintln!(
            "{}: filled with {rows} events in {:.2?}",
            spec.name,
            started.elapsed()
        );
    }
    backend
}

fn build(query: audit_core::Result<AuditQuery>) -> AuditQuery {
    query.unwrap_or_else(|e| panic!("invalid benchmark query: {e}"))
}

async fn run(store: &dyn AuditStore, query: &AuditQuery) -> AuditPage {
    store
        .query(query)
        .await
        .unwrap_or_else(|e| panic!("query {query:?} failed: {e}"))
}

/// The keyset cursor after the first `depth` entries of the default order (date descending).
async fn cursor_at_depth(store: &dyn AuditStore, depth: u64) -> Cursor {
    let last_skipped = build(AuditQuery::new().offset(depth - 1, 1));
    let entries = store
        .fetch(&last_skipped)
        .await
        .unwrap_or_else(|e| panic!("cannot fetch the entry at depth {depth}: {e}"));
    match entries.first() {
        Some(entry) => Cursor::after_entry(entry, last_skipped.sort_order()),
        None => panic!("the store holds fewer than {depth} entries"),
    }
}

fn bench_query(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &dyn AuditStore,
    id: BenchmarkId,
    query: &AuditQuery,
) {
    group.bench_function(id, move |b| {
        b.to_async(rt)
            .iter(move || async move { black_box(run(store, query).await) });
    });
}

fn stats_bench(c: &mut Criterion, rt: &Runtime, backend: &BenchBackend) {
    let store = &*backend.store;
    let request = statistics_request().unwrap_or_else(|e| panic!("invalid request: {e}"));
    let stats = rt
        .block_on(store.statistics(&request))
        .unwrap_or_else(|e| panic!("statistics failed on {}: {e}", backend.name));
    eprintln!(
        "{}: statistics over {} entries, {} daily buckets, top user {:?}",
        backend.name,
        stats.total,
        stats.timeline.len(),
        stats.rankings.get(2).and_then(|r| r.values.first())
    );
    let mut group = c.benchmark_group(format!("{}/stats", backend.name));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let request = &request;
    group.bench_function("privacyidea_5_columns_daily", move |b| {
        b.to_async(rt).iter(move || async move {
            black_box(
                store
                    .statistics(request)
                    .await
                    .unwrap_or_else(|e| panic!("statistics failed: {e}")),
            )
        });
    });
    group.finish();
}

fn read_benches(c: &mut Criterion, rt: &Runtime, backend: &BenchBackend, rows: usize) {
    let store = &*backend.store;
    let depth = rows as u64 * 9 / 10;
    let first_page = build(AuditQuery::new().offset(0, PAGE));
    let by_user = build(
        AuditQuery::new()
            .filter("user", FILTER_USER)
            .and_then(|q| q.offset(0, PAGE)),
    );
    let find = build(
        AuditQuery::new()
            .find(RARE_TERM)
            .and_then(|q| q.offset(0, PAGE)),
    );
    let deep_offset = build(AuditQuery::new().offset(depth, PAGE));
    let cursor = rt.block_on(cursor_at_depth(store, depth));
    let deep_cursor = build(AuditQuery::new().after(cursor, PAGE));

    // Check once, untimed, that the benchmarks measure what they claim to.
    let (by_offset, by_cursor) = rt.block_on(async {
        (
            run(store, &deep_offset).await,
            run(store, &deep_cursor).await,
        )
    });
    let ids = |page: &AuditPage| page.entries.iter().map(|e| e.id()).collect::<Vec<_>>();
    assert_eq!(
        ids(&by_offset),
        ids(&by_cursor),
        "offset and cursor pages differ"
    );
    assert_eq!(
        by_offset.entries.len(),
        (PAGE as usize).min(rows - depth as usize)
    );
    let user_page = rt.block_on(run(store, &by_user));
    let find_page = rt.block_on(run(store, &find));
    eprintln!(
        "{}: {} rows; user={FILTER_USER} matches {}, find={RARE_TERM} matches {}",
        backend.name, user_page.total_count, user_page.filter_count, find_page.filter_count
    );

    let mut group = c.benchmark_group(format!("{}/read", backend.name));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    bench_query(
        &mut group,
        rt,
        store,
        BenchmarkId::from_parameter("first_page"),
        &first_page,
    );
    bench_query(
        &mut group,
        rt,
        store,
        BenchmarkId::new("cursor_page", depth),
        &deep_cursor,
    );
    group.finish();

    let mut group = c.benchmark_group(format!("{}/scan", backend.name));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    bench_query(
        &mut group,
        rt,
        store,
        BenchmarkId::from_parameter("filter_user_exact"),
        &by_user,
    );
    bench_query(
        &mut group,
        rt,
        store,
        BenchmarkId::from_parameter("find_rare_term"),
        &find,
    );
    bench_query(
        &mut group,
        rt,
        store,
        BenchmarkId::new("offset_page", depth),
        &deep_offset,
    );
    group.finish();
}

fn export_bench(c: &mut Criterion, rt: &Runtime, backend: &BenchBackend, rows: usize) {
    let store = &backend.store;
    let layout = &CsvLayout::canonical();
    let mut group = c.benchmark_group(format!("{}/export", backend.name));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        // Ten flat samples of a full export: about 1.3 s each (memory) and 2.5 s (sqlite) at
        // 1,000,000 rows today.
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(rows as u64));
    group.bench_function("csv_all_rows", move |b| {
        b.to_async(rt).iter(move || async move {
            let written = write_csv(
                Arc::clone(store),
                AuditQuery::new(),
                layout,
                std::io::sink(),
            )
            .await
            .unwrap_or_else(|e| panic!("CSV export failed: {e}"));
            assert_eq!(written, rows as u64, "the export missed rows");
            written
        });
    });
    group.finish();
}

/// The append benchmark's store, carried from one criterion sample to the next.
struct AppendState {
    /// `None` only while a fresh store is being filled.
    backend: Option<BenchBackend>,
    /// The generator index of the next event to append.
    next: u64,
    /// How often the store was replaced by a freshly filled one.
    refills: u32,
}

/// Appends `iters` batches, timing only the `append` calls.
async fn append_round(
    state: &mut AppendState,
    spec: BackendSpec,
    generator: &EventGenerator,
    rows: usize,
    iters: u64,
) -> Duration {
    let mut timed = Duration::ZERO;
    for _ in 0..iters {
        if state.next >= 2 * rows as u64 {
            // Drop the grown store before filling its replacement, so only one is in memory.
            state.backend = None;
            state.backend = Some(open_filled(spec, rows, false).await);
            settle(spec).await;
            state.next = rows as u64;
            state.refills += 1;
        }
        let store = match &state.backend {
            Some(backend) => Arc::clone(&backend.store),
            None => panic!("the append benchmark lost its store"),
        };
        let batch: Vec<_> = generator
            .range(state.next..state.next + APPEND_BATCH)
            .collect();
        let started = Instant::now();
        let ids = store
            .append(batch)
            .await
            .unwrap_or_else(|e| panic!("append failed: {e}"));
        timed += started.elapsed();
        assert_eq!(
            ids.len() as u64,
            APPEND_BATCH,
            "append assigned too few ids"
        );
        state.next += APPEND_BATCH;
    }
    timed
}

/// Runs the backend's [`BackendSpec::settle`]; a failure only weakens the measurement.
async fn settle(spec: BackendSpec) {
    if let Err(e) = spec.settle().await {
        eprintln!(
            "{}: could not settle ({e}); what follows may pay for earlier work",
            spec.name
        );
    }
}

fn append_bench(
    c: &mut Criterion,
    rt: &Runtime,
    spec: BackendSpec,
    backend: BenchBackend,
    rows: usize,
) {
    rt.block_on(settle(spec));
    // The indices from `rows` on continue the data set past its end, newest last, as a live
    // service appends.
    let generator = &EventGenerator::new(DEFAULT_SEED, rows);
    let state = &Cell::new(Some(AppendState {
        backend: Some(backend),
        next: rows as u64,
        refills: 0,
    }));
    let mut group = c.benchmark_group(format!("{}/append", spec.name));
    // Flat: every sample averages the same number of batches, so the periodic costs of a
    // durable store (WAL checkpoints, search index merges) spread evenly over the samples.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(APPEND_TIME)
        .throughput(Throughput::Elements(APPEND_BATCH));
    group.bench_function(BenchmarkId::new("batch", APPEND_BATCH), move |b| {
        b.to_async(rt).iter_custom(move |iters| async move {
            let mut current = state
                .take()
                .unwrap_or_else(|| panic!("the append benchmark lost its state"));
            let timed = append_round(&mut current, spec, generator, rows, iters).await;
            state.set(Some(current));
            timed
        });
    });
    group.finish();
    if let Some(done) = state.take() {
        eprintln!(
            "{}: the append benchmark refilled its store {} times",
            spec.name, done.refills
        );
    }
}

criterion_group!(benches, store_benches);
criterion_main!(benches);
