//! Statistics over the entries a query selects: counts by outcome, the most frequent values of
//! chosen columns and a timeline, computed inside each store (DESIGN §5).
//!
//! ```
//! use audit_core::stats::{Bucket, StatsRequest};
//! use audit_core::{AuditQuery, Column};
//!
//! # fn main() -> audit_core::Result<()> {
//! let request = StatsRequest::new(AuditQuery::new().time_limit("90d".parse()?))
//!     .rank(Column::User)?
//!     .rank(Column::Serial)?
//!     .top(10)?
//!     .bucket(Bucket::Day);
//! assert_eq!(request.ranked(), [Column::User, Column::Serial]);
//! # Ok(())
//! # }
//! ```

mod bucket;
#[cfg(feature = "charts")]
mod charts;

use chrono::{DateTime, Utc};

pub use bucket::Bucket;

use crate::column::{Column, ColumnKind};
use crate::error::{Error, Result};
use crate::query::{AuditQuery, TimeRange};

/// How many values a ranking holds unless the request says otherwise.
pub const DEFAULT_TOP: u32 = 5;
/// The most values one ranking may hold.
pub const MAX_TOP: u32 = 1_000;
/// The most buckets [`Statistics::continuous_timeline`] fills in; beyond it the timeline keeps
/// only its non-empty buckets.
pub const MAX_FILLED_BUCKETS: usize = 10_000;

/// What to compute: the entries of a query (its conditions, free text and time window; sort and
/// page are ignored), the text columns to rank, how many values each ranking keeps and the
/// width of the timeline's buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    query: AuditQuery,
    ranked: Vec<Column>,
    top: u32,
    bucket: Bucket,
}

impl StatsRequest {
    /// Statistics over the entries `query` selects, ranking no column yet, the top
    /// [`DEFAULT_TOP`] values, daily buckets.
    pub fn new(query: AuditQuery) -> Self {
        StatsRequest {
            query,
            ranked: Vec::new(),
            top: DEFAULT_TOP,
            bucket: Bucket::default(),
        }
    }

    /// Also ranks the values of `column`, a text column. Ranking a column twice ranks it once.
    pub fn rank(mut self, column: Column) -> Result<Self> {
        if column.kind() != ColumnKind::Text {
            return Err(Error::invalid_query(
                "rank",
                format!("{column} is not a text column"),
                format!(
                    "one of {}",
                    Column::TEXT
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if !self.ranked.contains(&column) {
            self.ranked.push(column);
        }
        Ok(self)
    }

    /// Keeps the `top` most frequent values of each ranked column (1 to [`MAX_TOP`]).
    pub fn top(mut self, top: u32) -> Result<Self> {
        if top == 0 || top > MAX_TOP {
            return Err(Error::invalid_query(
                "top",
                format!("{top} values cannot be ranked"),
                format!("a whole number from 1 to {MAX_TOP}"),
            ));
        }
        self.top = top;
        Ok(self)
    }

    /// Cuts the timeline into buckets of this width.
    #[must_use]
    pub fn bucket(mut self, bucket: Bucket) -> Self {
        self.bucket = bucket;
        self
    }

    /// The query selecting the entries.
    pub fn query(&self) -> &AuditQuery {
        &self.query
    }

    /// The ranked columns, in the order they were asked for.
    pub fn ranked(&self) -> &[Column] {
        &self.ranked
    }

    /// How many values each ranking keeps.
    pub fn top_count(&self) -> u32 {
        self.top
    }

    /// The width of the timeline's buckets.
    pub fn bucket_width(&self) -> Bucket {
        self.bucket
    }
}

/// How often one value of a ranked column occurs, and with which outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    /// The value, exactly as stored.
    pub value: String,
    /// Entries holding it.
    pub count: u64,
    /// Of those, the successful ones.
    pub successes: u64,
    /// Of those, the failed ones.
    pub failures: u64,
}

impl ValueCount {
    /// A value seen `count` times, `successes` of them successful.
    pub fn new(value: impl Into<String>, count: u64, successes: u64) -> Self {
        ValueCount {
            value: value.into(),
            count,
            successes,
            failures: count.saturating_sub(successes),
        }
    }
}

/// The most frequent values of one column: most frequent first, equal counts in code-point
/// order of the value. Entries where the column is empty are not ranked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// The ranked column.
    pub column: Column,
    /// Up to the request's `top` values.
    pub values: Vec<ValueCount>,
}

impl Ranking {
    /// The ranking of `column` built from every value's count: sorted and cut to `top`.
    pub fn from_counts(column: Column, mut values: Vec<ValueCount>, top: u32) -> Self {
        let top = top as usize;
        let order = |a: &ValueCount, b: &ValueCount| {
            b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value))
        };
        if values.len() > top && top > 0 {
            values.select_nth_unstable_by(top - 1, order);
        }
        values.truncate(top);
        values.sort_unstable_by(order);
        Ranking { column, values }
    }
}

/// The entries of one timeline bucket, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineBucket {
    /// The start of the bucket (see [`Bucket`] for the alignment).
    pub start: DateTime<Utc>,
    /// Successful entries in the bucket.
    pub successes: u64,
    /// Failed entries in the bucket.
    pub failures: u64,
}

impl TimelineBucket {
    /// Every entry in the bucket.
    pub fn total(&self) -> u64 {
        self.successes + self.failures
    }
}

/// The answer to a [`StatsRequest`]; every backend gives the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statistics {
    /// The time window the statistics cover: the query's range, narrowed by its time limit at
    /// the moment the store answered.
    pub window: TimeRange,
    /// The width of the timeline's buckets.
    pub bucket: Bucket,
    /// Entries selected.
    pub total: u64,
    /// Of those, the successful ones.
    pub successes: u64,
    /// Of those, the failed ones.
    pub failures: u64,
    /// One ranking per ranked column, in the request's order.
    pub rankings: Vec<Ranking>,
    /// The buckets holding at least one entry, oldest first.
    pub timeline: Vec<TimelineBucket>,
}

impl Statistics {
    /// Statistics for `request` from the store's per-bucket counts (`(bucket start in
    /// microseconds, entries, successes)`, any order) and its rankings; the totals are the sum
    /// of the timeline.
    pub fn assemble(
        request: &StatsRequest,
        window: TimeRange,
        timeline: impl IntoIterator<Item = (i64, u64, u64)>,
        rankings: Vec<Ranking>,
    ) -> Result<Self> {
        let mut buckets = Vec::new();
        for (start, count, successes) in timeline {
            let start = DateTime::from_timestamp_micros(start).ok_or_else(|| {
                Error::Integrity(format!(
                    "a timeline bucket starts at {start} µs, out of range"
                ))
            })?;
            buckets.push(TimelineBucket {
                start,
                successes,
                failures: count.saturating_sub(successes),
            });
        }
        buckets.retain(|b| b.total() > 0);
        buckets.sort_unstable_by_key(|b| b.start);
        let successes = buckets.iter().map(|b| b.successes).sum();
        let failures = buckets.iter().map(|b| b.failures).sum();
        Ok(Statistics {
            window,
            bucket: request.bucket_width(),
            total: successes + failures,
            successes,
            failures,
            rankings,
            timeline: buckets,
        })
    }

    /// The ranking of `column`, if it was asked for.
    pub fn ranking(&self, column: Column) -> Option<&Ranking> {
        self.rankings.iter().find(|r| r.column == column)
    }

    /// The timeline with empty buckets filled in, from the bucket of the window's start (or of
    /// the first entry) to the bucket of its end (or of the last entry), for charts. When that
    /// would take more than [`MAX_FILLED_BUCKETS`] buckets, the timeline is returned as it is.
    pub fn continuous_timeline(&self) -> Vec<TimelineBucket> {
        let width = self.bucket.micros();
        let first = self
            .window
            .from
            .map(|from| self.bucket.floor_micros(from.timestamp_micros()))
            .or_else(|| self.timeline.first().map(|b| b.start.timestamp_micros()));
        let last = self
            .window
            .to
            .map(|to| {
                self.bucket
                    .floor_micros(to.timestamp_micros().saturating_sub(1))
            })
            .or_else(|| self.timeline.last().map(|b| b.start.timestamp_micros()));
        let (Some(first), Some(last)) = (first, last) else {
            return self.timeline.clone();
        };
        let span = last.saturating_sub(first) / width;
        if last < first || span >= MAX_FILLED_BUCKETS as i64 {
            return self.timeline.clone();
        }
        let mut stored = self.timeline.iter().peekable();
        let mut filled = Vec::with_capacity(span as usize + 1);
        for step in 0..=span {
            let micros = first + step * width;
            let Some(start) = DateTime::from_timestamp_micros(micros) else {
                continue;
            };
            let mut bucket = TimelineBucket {
                start,
                successes: 0,
                failures: 0,
            };
            while let Some(next) = stored.next_if(|b| b.start <= start) {
                if next.start == start {
                    bucket = *next;
                }
            }
            filled.push(bucket);
        }
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_order_by_count_then_value() {
        let values = vec![
            ValueCount::new("b", 3, 1),
            ValueCount::new("a", 3, 3),
            ValueCount::new("z", 9, 0),
            ValueCount::new("Ä", 3, 0),
            ValueCount::new("c", 1, 1),
        ];
        let ranking = Ranking::from_counts(Column::User, values, 3);
        let order: Vec<&str> = ranking.values.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(order, ["z", "a", "b"]);
        assert_eq!(ranking.values[0].failures, 9);
    }

    #[test]
    fn only_text_columns_are_ranked() {
        assert!(
            StatsRequest::new(AuditQuery::new())
                .rank(Column::Date)
                .is_err()
        );
        assert!(StatsRequest::new(AuditQuery::new()).top(0).is_err());
        assert!(
            StatsRequest::new(AuditQuery::new())
                .top(MAX_TOP + 1)
                .is_err()
        );
    }

    #[test]
    fn the_continuous_timeline_fills_the_window_with_empty_buckets() {
        let day = Bucket::Day.micros();
        let request = StatsRequest::new(AuditQuery::new());
        let window = TimeRange {
            from: DateTime::from_timestamp_micros(10 * day + 5),
            to: DateTime::from_timestamp_micros(14 * day),
        };
        let stats = Statistics::assemble(
            &request,
            window,
            [(12 * day, 4, 1), (11 * day, 2, 2)],
            Vec::new(),
        );
        let stats = stats.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((stats.total, stats.successes, stats.failures), (6, 3, 3));
        let filled: Vec<(i64, u64)> = stats
            .continuous_timeline()
            .iter()
            .map(|b| (b.start.timestamp_micros() / day, b.total()))
            .collect();
        assert_eq!(filled, [(10, 0), (11, 2), (12, 4), (13, 0)]);
    }
}
