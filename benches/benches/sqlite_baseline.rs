//! The raw rusqlite baseline for `audit-sqlite`'s batch append: the same rows into the same
//! tables and indexes, written by hand with nothing but the engine's own cost, so that
//! "`sqlite/append/batch/1000` ÷ baseline" can be read from one run
//! (`AUDIT_BENCH_ROWS=20000 cargo bench -p audit-benches --bench sqlite_baseline` for a quick
//! run).
//!
//! Each variant gets a fresh database file in a temporary directory, created with the DDL of
//! `audit-sqlite`'s `schema.rs` (table `audit_entries` with every column including the
//! `*_folded` shadows, the four indexes, the counters table) and, depending on the variant, the
//! search index. It is first filled, untimed, with the data set of
//! [`audit_benches::filled`] (1,000,000 events by default) in transactions of 1,000 rows
//! (with `synchronous=OFF`, then checkpointed and synced to disk before anything is timed);
//! then every timed transaction appends the next 1,000 events of the same generator, as the
//! store benchmark does:
//!
//! | group | benchmark | search index | what is timed |
//! |---|---|---|---|
//! | `sqlite_baseline/append` | `fts_detail_none/1000` | contentless trigram FTS5, `detail=none` (what `audit-sqlite` creates) | one transaction: 1,000 rows into `audit_entries` and the search index, the counter update, the commit |
//! | | `no_fts/1000` | none (`search_index(false)`) | the same without the search index |
//! | | `fts_detail_full/1000` | contentless trigram FTS5, `detail=full` (the alternative) | the same into the bigger index |
//! | `sqlite_baseline/encode` | `batch/1000` | — | `encode_event` and the search text of 1,000 events: the Rust work `audit-sqlite` adds per batch |
//!
//! Every timed transaction is `BEGIN IMMEDIATE` … `COMMIT` with one prepared statement per
//! table, in WAL mode with `synchronous=FULL`, as `audit-sqlite` writes by default. The values
//! are produced by `audit_core::sql::encode_event` (and the search text by folding the text
//! columns, one per line, as `audit-sqlite` does) outside the timed part, so the baseline
//! measures the engine's cost of exactly the rows `audit-sqlite` writes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use audit_benches::raw_sqlite::{
    COUNTERS, SearchIndex, create, encoded_batch, search_text, write_batch,
};
use audit_benches::{
    APPEND_TIME, DEFAULT_SEED, EventGenerator, FILL_BATCH, TempDir, rows_from_env,
};
use audit_core::AuditEvent;
use audit_core::sql::encode_event;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use rusqlite::Connection;

/// Rows per timed transaction, as in the store benchmark's `append/batch/1000`.
const BATCH: u64 = 1_000;

/// The variants, in the order they run.
const VARIANTS: [(&str, SearchIndex); 3] = [
    ("fts_detail_none", SearchIndex::DetailNone),
    ("no_fts", SearchIndex::None),
    ("fts_detail_full", SearchIndex::DetailFull),
];

fn fail<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A database of one variant, filled with the data set, and where the next event comes from.
struct Baseline {
    conn: Connection,
    search: SearchIndex,
    generator: EventGenerator,
    next: u64,
    // Dropped after the connection (fields drop in declaration order).
    _dir: TempDir,
}

fn open(label: &str, search: SearchIndex, rows: usize) -> Result<Baseline, String> {
    let dir = TempDir::new(label).map_err(fail("creating a temporary directory"))?;
    let mut conn = create(&dir.path().join("audit.db"), search).map_err(fail("creating"))?;
    // Filling is untimed and needs no durability; the structure it leaves (pages, FTS
    // segments, WAL checkpoints) is that of 1,000-row transactions, as `filled` leaves it.
    conn.execute_batch("PRAGMA synchronous = OFF")
        .map_err(fail("setting synchronous"))?;
    let generator = EventGenerator::new(DEFAULT_SEED, rows);
    let started = Instant::now();
    let mut next = 0u64;
    while next < rows as u64 {
        let len = (FILL_BATCH as u64).min(rows as u64 - next);
        let batch = encoded_batch(&generator, next, len);
        write_batch(&mut conn, search, &batch).map_err(fail("filling"))?;
        next += len;
    }
    let filled_in = started.elapsed();
    conn.execute_batch("PRAGMA synchronous = FULL")
        .map_err(fail("setting synchronous"))?;
    // The fill ran without syncing: write everything out now, so the timed appends do not
    // compete with the background write-back of the whole database.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(fail("checkpointing"))?;
    for entry in std::fs::read_dir(dir.path()).map_err(fail("listing the database files"))? {
        let file = entry.map_err(fail("listing the database files"))?.path();
        std::fs::File::open(&file)
            .and_then(|f| f.sync_all())
            .map_err(fail("syncing the database files"))?;
    }
    let bytes: u64 = std::fs::read_dir(dir.path())
        .map_err(fail("listing the database files"))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "sqlite_baseline/{label}: filled with {rows} events in {filled_in:.2?} \
         ({:.0} rows/s including generation, synchronous=OFF); files {:.1} MiB",
        rows as f64 / filled_in.as_secs_f64(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(Baseline {
        conn,
        search,
        generator,
        next: rows as u64,
        _dir: dir,
    })
}

fn append_benches(c: &mut Criterion, rows: usize) {
    let mut group = c.benchmark_group("sqlite_baseline/append");
    // As the store benchmark's `append` group: flat samples over the same measurement time.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(APPEND_TIME)
        .throughput(Throughput::Elements(BATCH));
    for (label, search) in VARIANTS {
        let mut baseline = open(label, search, rows).unwrap_or_else(|e| panic!("{label}: {e}"));
        let mut timed_batches = 0u64;
        group.bench_function(BenchmarkId::new(label, BATCH), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let batch = encoded_batch(&baseline.generator, baseline.next, BATCH);
                    let started = Instant::now();
                    write_batch(&mut baseline.conn, baseline.search, &batch)
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    timed += started.elapsed();
                    baseline.next += BATCH;
                    timed_batches += 1;
                }
                timed
            });
        });
        let total: i64 = baseline
            .conn
            .query_row(
                &format!("SELECT \"value\" FROM \"{COUNTERS}\" WHERE \"name\" = 'entries'"),
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{label}: reading the counter: {e}"));
        assert_eq!(
            total as u64, baseline.next,
            "{label}: the counter disagrees with the rows written"
        );
        eprintln!(
            "sqlite_baseline/{label}: appended {timed_batches} batches; the table ends with {total} rows"
        );
    }
    group.finish();
}

fn encode_bench(c: &mut Criterion, rows: usize) {
    let generator = EventGenerator::new(DEFAULT_SEED, rows);
    let events: Vec<AuditEvent> = generator.range(rows as u64..rows as u64 + BATCH).collect();
    let mut group = c.benchmark_group("sqlite_baseline/encode");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BATCH));
    group.bench_function(BenchmarkId::new("batch", BATCH), |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for event in &events {
                let values = encode_event(event);
                bytes += values.len() + search_text(event).len();
                black_box(&values);
            }
            bytes
        });
    });
    group.finish();
}

fn baseline_benches(c: &mut Criterion) {
    let rows = rows_from_env().unwrap_or_else(|e| panic!("{e}"));
    encode_bench(c, rows);
    append_benches(c, rows);
}

criterion_group!(benches, baseline_benches);
criterion_main!(benches);
