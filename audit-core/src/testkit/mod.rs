//! The conformance kit (feature `testkit`): the contract of DESIGN §3 as executable checks
//! that every backend runs.
//!
//! A deterministic dataset of [`DATASET_SIZE`] events, a naive [`Reference`] model that computes
//! the expected answers, more than a hundred named cases, walks over whole results by cursor
//! and by offset, write-path checks (ids, round trip, writer, time limits, export) and a
//! randomized part. A backend's test is a few lines:
//!
//! ```ignore
//! use std::sync::Arc;
//! use audit_core::AuditStore;
//!
//! audit_core::conformance_tests!(|| async {
//!     Arc::new(audit_memory::MemoryStore::new()) as Arc<dyn AuditStore>
//! });
//! ```
//!
//! The factory must give a fresh, empty store on each call.

mod cases;
mod dataset;
mod random;
mod reference;
mod reference_stats;
mod reference_store;
mod retention_cases;
mod rng;
mod stats_cases;
mod write_cases;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chrono::Utc;

use crate::event::{AuditEntry, AuditEvent};
use crate::query::{AuditQuery, Direction};
use crate::store::AuditStore;

pub use dataset::{DATASET_SIZE, base_date, events as dataset_events};
pub use reference::{Expected, Reference};
pub use reference_store::ReferenceStore;
pub use retention_cases::{check_retention, retention_keyring};

/// The seed of the randomized part unless `AUDIT_KIT_SEED` sets another.
pub const DEFAULT_SEED: u64 = 0x5EED_A0D1_7000;
/// How many randomized queries run unless `AUDIT_KIT_CASES` sets another number.
pub const DEFAULT_RANDOM_CASES: usize = 3_000;

/// One failed check.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The case's name.
    pub case: String,
    /// What differed.
    pub detail: String,
}

/// The outcome of a run of checks.
#[derive(Debug, Default)]
pub struct Report {
    /// How many checks ran.
    pub checks: usize,
    /// The checks that failed.
    pub failures: Vec<Failure>,
    /// The seed of the randomized part, if it ran.
    pub seed: Option<u64>,
}

impl Report {
    fn pass(&mut self) {
        self.checks += 1;
    }

    fn fail(&mut self, case: impl Into<String>, detail: impl Into<String>) {
        self.checks += 1;
        self.failures.push(Failure {
            case: case.into(),
            detail: detail.into(),
        });
    }

    fn merge(&mut self, other: Report) {
        self.checks += other.checks;
        self.failures.extend(other.failures);
        self.seed = self.seed.or(other.seed);
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Whether the named case failed.
    pub fn failed(&self, case: &str) -> bool {
        self.failures.iter().any(|f| f.case == case)
    }

    /// Panics with every failure listed (and the seed to reproduce the randomized part).
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} of {} conformance checks failed",
            self.failures.len(),
            self.checks
        )?;
        if let Some(seed) = self.seed {
            writeln!(
                f,
                "randomized part: seed {seed} (rerun with AUDIT_KIT_SEED={seed})"
            )?;
        }
        for failure in self.failures.iter().take(40) {
            writeln!(f, "- {}: {}", failure.case, failure.detail)?;
        }
        if self.failures.len() > 40 {
            writeln!(f, "... and {} more", self.failures.len() - 40)?;
        }
        Ok(())
    }
}

/// Appends `events` in batches of varying size (1 up to 500) and returns the reference model
/// of what the store now holds, checking that ids increase strictly and come back in batch
/// order.
pub async fn load(store: &dyn AuditStore, events: Vec<AuditEvent>) -> Result<Reference, Failure> {
    let fail = |detail: String| Failure {
        case: "load_dataset".into(),
        detail,
    };
    let sizes = [1usize, 7, 100, 500, 3, 250, 64];
    let mut entries: Vec<AuditEntry> = Vec::with_capacity(events.len());
    let mut pending = events.into_iter().peekable();
    let mut round = 0;
    while pending.peek().is_some() {
        let batch: Vec<AuditEvent> = pending.by_ref().take(sizes[round % sizes.len()]).collect();
        round += 1;
        let ids = store
            .append(batch.clone())
            .await
            .map_err(|e| fail(format!("append failed: {e}")))?;
        if ids.len() != batch.len() {
            return Err(fail(format!(
                "{} ids for a batch of {}",
                ids.len(),
                batch.len()
            )));
        }
        for (id, event) in ids.into_iter().zip(batch) {
            if entries.last().is_some_and(|last| last.id() >= id) {
                return Err(fail(format!("id {id} does not increase")));
            }
            entries.push(AuditEntry::new(id, event));
        }
    }
    Ok(Reference::new(entries))
}

fn ids(entries: &[AuditEntry]) -> Vec<i64> {
    entries.iter().map(AuditEntry::id).collect()
}

fn shorten(ids: &[i64]) -> String {
    if ids.len() <= 12 {
        format!("{ids:?}")
    } else {
        format!("{:?}... ({} ids)", &ids[..12], ids.len())
    }
}

/// Compares the store's answer to one query with the reference model's.
pub async fn check_query(
    store: &dyn AuditStore,
    reference: &Reference,
    query: &AuditQuery,
) -> Result<(), String> {
    let page = store
        .query(query)
        .await
        .map_err(|e| format!("query failed: {e}"))?;
    let expected = reference.answer(query, Utc::now());
    let got = ids(&page.entries);
    if got != expected.ids {
        return Err(format!(
            "ids {} expected {}; query {query:?}",
            shorten(&got),
            shorten(&expected.ids)
        ));
    }
    if (page.filter_count, page.total_count) != (expected.filter_count, expected.total_count) {
        return Err(format!(
            "counts (filter {}, total {}) expected (filter {}, total {}); query {query:?}",
            page.filter_count, page.total_count, expected.filter_count, expected.total_count
        ));
    }
    if page.next_cursor != expected.next_cursor {
        return Err(format!(
            "next cursor {:?} expected {:?}; query {query:?}",
            page.next_cursor, expected.next_cursor
        ));
    }
    for (entry, id) in page.entries.iter().zip(&expected.ids) {
        let stored = reference.entries().iter().find(|e| e.id() == *id);
        if stored != Some(entry) {
            return Err(format!(
                "entry {id} differs from what was appended: {entry:?}"
            ));
        }
    }
    Ok(())
}

async fn check_parts(
    store: &dyn AuditStore,
    reference: &Reference,
    query: &AuditQuery,
) -> Result<(), String> {
    let expected = reference.answer(query, Utc::now());
    let counts = store
        .count(query)
        .await
        .map_err(|e| format!("count failed: {e}"))?;
    if (counts.filter_count, counts.total_count) != (expected.filter_count, expected.total_count) {
        return Err(format!(
            "count() gave {counts:?}, expected filter {} total {}",
            expected.filter_count, expected.total_count
        ));
    }
    let fetched = store
        .fetch(query)
        .await
        .map_err(|e| format!("fetch failed: {e}"))?;
    if ids(&fetched) != expected.ids {
        return Err(format!(
            "fetch() gave {} expected {}",
            shorten(&ids(&fetched)),
            shorten(&expected.ids)
        ));
    }
    Ok(())
}

async fn walk(
    store: &dyn AuditStore,
    reference: &Reference,
    query: &AuditQuery,
    size: u32,
    by_cursor: bool,
) -> Result<(), String> {
    let expected: Vec<i64> = reference
        .matching(query, Utc::now())
        .iter()
        .map(|e| e.id())
        .collect();
    let mut seen = Vec::new();
    let mut next = query.clone().offset(0, size).map_err(|e| e.to_string())?;
    for _ in 0..=(expected.len() + 1) {
        let page = store
            .query(&next)
            .await
            .map_err(|e| format!("query failed: {e}"))?;
        if page.filter_count != expected.len() as u64 {
            return Err(format!(
                "filter_count {} during the walk, expected {}",
                page.filter_count,
                expected.len()
            ));
        }
        seen.extend(ids(&page.entries));
        let cursor = match (by_cursor, page.next_cursor) {
            (true, Some(cursor)) => cursor,
            (true, None) => break,
            (false, _) if page.entries.len() < size as usize => break,
            (false, _) => {
                let start = seen.len() as u64;
                next = query
                    .clone()
                    .offset(start, size)
                    .map_err(|e| e.to_string())?;
                continue;
            }
        };
        next = query
            .clone()
            .after(cursor, size)
            .map_err(|e| e.to_string())?;
    }
    if seen != expected {
        return Err(format!(
            "walk gave {} expected {}",
            shorten(&seen),
            shorten(&expected)
        ));
    }
    Ok(())
}

/// Runs every named case: read cases, walks, and write-path cases on fresh stores.
pub async fn check_named<F, Fut>(factory: F) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = Report::default();
    let store = factory().await;
    let reference = match load(&*store, dataset_events()).await {
        Ok(reference) => reference,
        Err(failure) => {
            report.fail(failure.case, failure.detail);
            return report;
        }
    };
    for case in cases::read_cases(&reference) {
        let query = match case.query {
            Ok(query) => query,
            Err(error) => {
                report.fail(
                    case.name,
                    format!("the kit built an invalid query: {error}"),
                );
                continue;
            }
        };
        if let Some(pinned) = case.pinned_count {
            let modelled = reference.answer(&query, Utc::now()).filter_count;
            if modelled != pinned {
                report.fail(
                    &case.name,
                    format!("the reference model counts {modelled}, the dataset holds {pinned}"),
                );
                continue;
            }
        }
        let outcome = match check_query(&*store, &reference, &query).await {
            Ok(()) => check_parts(&*store, &reference, &query).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => report.pass(),
            Err(detail) => report.fail(case.name, detail),
        }
    }
    for case in cases::walk_cases() {
        let outcome = match case.query {
            Ok(query) => walk(&*store, &reference, &query, case.page_size, case.by_cursor).await,
            Err(error) => Err(format!("the kit built an invalid query: {error}")),
        };
        match outcome {
            Ok(()) => report.pass(),
            Err(detail) => report.fail(case.name, detail),
        }
    }
    for (name, request) in stats_cases::named_requests() {
        let outcome = match request {
            Ok(request) => stats_cases::check_statistics(&*store, &reference, &request).await,
            Err(error) => Err(format!("the kit built an invalid request: {error}")),
        };
        match outcome {
            Ok(()) => report.pass(),
            Err(detail) => report.fail(name, detail),
        }
    }
    report.merge(write_cases::check_on_loaded(&store, &reference).await);
    report.merge(write_cases::check_on_fresh(&factory).await);
    report
}

/// Runs `count` random queries from `seed` against a store loaded with the dataset, and one
/// random statistics request per ten queries.
pub async fn check_randomized<F, Fut>(factory: F, seed: u64, count: usize) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = Report {
        seed: Some(seed),
        ..Report::default()
    };
    let store = factory().await;
    let reference = match load(&*store, dataset_events()).await {
        Ok(reference) => reference,
        Err(failure) => {
            report.fail(failure.case, failure.detail);
            return report;
        }
    };
    let mut rng = rng::Rng::new(seed);
    for n in 0..count {
        let name = format!("random_{n}");
        match random::random_query(&mut rng, &reference, Utc::now()) {
            Ok(query) => match check_query(&*store, &reference, &query).await {
                Ok(()) => report.pass(),
                Err(detail) => report.fail(name, detail),
            },
            Err(error) => report.fail(name, format!("the kit built an invalid query: {error}")),
        }
    }
    for n in 0..count.div_ceil(RANDOM_QUERIES_PER_STATS_REQUEST) {
        let name = format!("random_stats_{n}");
        match stats_cases::random_request(&mut rng, &reference, Utc::now()) {
            Ok(request) => match stats_cases::check_statistics(&*store, &reference, &request).await
            {
                Ok(()) => report.pass(),
                Err(detail) => report.fail(name, detail),
            },
            Err(error) => report.fail(name, format!("the kit built an invalid request: {error}")),
        }
    }
    report
}

/// The randomized part runs one statistics request per this many queries.
const RANDOM_QUERIES_PER_STATS_REQUEST: usize = 10;

/// The seed and number of randomized cases, from `AUDIT_KIT_SEED` and `AUDIT_KIT_CASES`.
pub fn random_settings() -> (u64, usize) {
    let seed = std::env::var("AUDIT_KIT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let count = std::env::var("AUDIT_KIT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_RANDOM_CASES);
    (seed, count)
}

/// Runs the whole kit and panics with every failure listed.
pub async fn run<F, Fut>(factory: F)
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = check_named(&factory).await;
    let (seed, count) = random_settings();
    report.merge(check_randomized(&factory, seed, count).await);
    report.assert_passed();
}

/// Runs only the statistics cases, named and `count` random ones from `seed`, against a store
/// loaded with the dataset: for backends with more than one way to compute statistics.
pub async fn check_statistics<F, Fut>(factory: F, seed: u64, count: usize) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = Report {
        seed: Some(seed),
        ..Report::default()
    };
    let store = factory().await;
    let reference = match load(&*store, dataset_events()).await {
        Ok(reference) => reference,
        Err(failure) => {
            report.fail(failure.case, failure.detail);
            return report;
        }
    };
    let mut requests: Vec<(String, crate::error::Result<crate::stats::StatsRequest>)> =
        stats_cases::named_requests()
            .into_iter()
            .map(|(name, request)| (name.to_owned(), request))
            .collect();
    let mut rng = rng::Rng::new(seed);
    for n in 0..count {
        let request = stats_cases::random_request(&mut rng, &reference, Utc::now());
        requests.push((format!("random_stats_{n}"), request));
    }
    for (name, request) in requests {
        let outcome = match request {
            Ok(request) => stats_cases::check_statistics(&*store, &reference, &request).await,
            Err(error) => Err(format!("the kit built an invalid request: {error}")),
        };
        match outcome {
            Ok(()) => report.pass(),
            Err(detail) => report.fail(name, detail),
        }
    }
    report
}

/// The query the walks and exports use to read everything in id order.
pub(crate) fn everything_by_id() -> AuditQuery {
    AuditQuery::new().sorted(
        crate::query::Sort::new(crate::column::Column::Id, Direction::Asc).unwrap_or_default(),
    )
}

/// Turns the kit into one test per part for a backend: named cases and randomized cases.
///
/// `$factory` is an expression giving a closure that returns a future of a fresh, empty
/// `Arc<dyn AuditStore>`. The tests need Tokio's `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_named_cases() {
            $crate::testkit::check_named($factory).await.assert_passed();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_randomized_cases() {
            let (seed, count) = $crate::testkit::random_settings();
            $crate::testkit::check_randomized($factory, seed, count)
                .await
                .assert_passed();
        }
    };
}

/// Turns the retention cases into a test for a backend. `$factory` gives a fresh, empty store
/// that seals with [`retention_keyring`](crate::testkit::retention_keyring).
#[macro_export]
macro_rules! retention_tests {
    ($factory:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_retention_cases() {
            $crate::testkit::check_retention($factory)
                .await
                .assert_passed();
        }
    };
}
