//! Retention: purging entries by age, by watermarks or by per-column rules, in bounded chunks,
//! with a dry run that only counts.
//!
//! A purge never deletes the newest entry: it anchors the id sequence and the integrity chain.
//! On a store with an integrity chain every purged stretch leaves a signed
//! [`Checkpoint`](crate::integrity::Checkpoint), so [`verify`](crate::integrity::verify) passes
//! after a purge while an entry deleted by other means still breaks the chain.
//!
//! ```
//! use audit_core::retention::{Retention, RetentionRule, purge};
//! use audit_core::{AuditStore, Condition};
//! use chrono::{TimeDelta, Utc};
//!
//! # async fn run(store: &dyn AuditStore) -> audit_core::Result<()> {
//! // Keep failed logins for a year, everything else for 90 days.
//! let policy = Retention::rules(vec![
//!     RetentionRule::new(TimeDelta::days(365))?.matching(Condition::Success(false)),
//!     RetentionRule::new(TimeDelta::days(90))?,
//! ])?;
//! let would = purge(store, &policy, Utc::now(), true).await?;
//! println!("{} entries would go", would.purged);
//! let done = purge(store, &policy, Utc::now(), false).await?;
//! println!("{} entries purged in {} transactions", done.purged, done.chunks);
//! # Ok(())
//! # }
//! ```

mod plan;

pub use plan::{ChunkPlan, ChunkRead, ScannedRow, plan_chunk};

use chrono::{DateTime, TimeDelta, Utc};

use crate::column::Column;
use crate::error::{Error, Result};
use crate::event::AuditId;
use crate::query::{AuditQuery, Condition, Direction, TimeRange};
use crate::store::AuditStore;

/// Rows a backend reads (and at most deletes) per purge transaction in [`purge`] (see
/// [`purge_in_chunks`]): small enough that a writer waits only for one chunk.
pub const PURGE_CHUNK_ROWS: u32 = 2_000;

/// What to purge.
#[derive(Debug, Clone, PartialEq)]
pub enum Retention {
    /// Entries dated more than this long before the purge runs.
    MaxAge(TimeDelta),
    /// When more than `high` entries are stored, the oldest (by id) until `low` remain, as
    /// privacyIDEA's `audit rotate` does.
    Watermarks {
        /// The count above which a purge deletes anything.
        high: u64,
        /// How many entries a purge keeps.
        low: u64,
    },
    /// Per-entry rules: the first rule an entry matches gives its maximum age; entries that
    /// match no rule are kept.
    Rules(Vec<RetentionRule>),
}

impl Retention {
    /// Purge entries older than `age` (which must be positive).
    pub fn max_age(age: TimeDelta) -> Result<Self> {
        check_age(age)?;
        Ok(Retention::MaxAge(age))
    }

    /// Above `high` entries, purge down to the newest `low` (`1 <= low <= high`: the newest
    /// entry is always kept).
    pub fn watermarks(high: u64, low: u64) -> Result<Self> {
        if low == 0 || low > high {
            return Err(Error::invalid_query(
                "watermarks",
                format!("high {high}, low {low}"),
                "a low watermark of at least 1 and a high watermark no lower than it",
            ));
        }
        Ok(Retention::Watermarks { high, low })
    }

    /// Purge by rules, first match wins (at least one rule).
    pub fn rules(rules: Vec<RetentionRule>) -> Result<Self> {
        if rules.is_empty() {
            return Err(Error::invalid_query(
                "rules",
                "no rule was given",
                "at least one rule; a rule without conditions matches every entry",
            ));
        }
        Ok(Retention::Rules(rules))
    }

    /// The entries to purge at `now` as a query, with the id every purged entry lies below;
    /// `None` when nothing is due. `newest` is the store's newest id, which is always kept.
    async fn selection(
        &self,
        store: &dyn AuditStore,
        now: DateTime<Utc>,
        newest: AuditId,
    ) -> Result<Option<(AuditQuery, AuditId)>> {
        let query = match self {
            Retention::MaxAge(age) => AuditQuery::new().condition(older_than(now, *age)),
            Retention::Watermarks { high, low } => {
                let stored = store.count(&AuditQuery::new()).await?.total_count;
                if stored <= *high {
                    return Ok(None);
                }
                // The oldest entry to keep is the `low`-th newest.
                let newest_first = AuditQuery::new()
                    .sort(Column::Id, Direction::Desc)?
                    .offset(low.saturating_sub(1), 1)?;
                let keep_from = match store.fetch(&newest_first).await?.first() {
                    Some(entry) => entry.id(),
                    None => return Ok(None),
                };
                return Ok(Some((AuditQuery::new(), keep_from.min(newest))));
            }
            Retention::Rules(rules) => {
                let mut earlier: Vec<Condition> = Vec::new();
                let mut due = Vec::with_capacity(rules.len());
                for rule in rules {
                    let matches = Condition::all(rule.conditions.clone());
                    let mut parts = rule.conditions.clone();
                    parts.push(older_than(now, rule.max_age));
                    parts.extend(earlier.iter().cloned().map(Condition::negate));
                    due.push(Condition::all(parts));
                    earlier.push(matches);
                }
                AuditQuery::new().condition(Condition::any(due))
            }
        };
        Ok(Some((query, newest)))
    }
}

fn check_age(age: TimeDelta) -> Result<()> {
    if age <= TimeDelta::zero() {
        return Err(Error::invalid_query(
            "max age",
            format!("{} seconds", age.num_seconds()),
            "a positive duration",
        ));
    }
    Ok(())
}

fn older_than(now: DateTime<Utc>, age: TimeDelta) -> Condition {
    Condition::Time {
        column: Column::Date,
        range: TimeRange {
            from: None,
            // An age reaching before the earliest representable instant keeps everything.
            to: Some(
                now.checked_sub_signed(age)
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            ),
        },
        negated: false,
    }
}

/// One rule of [`Retention::Rules`]: entries matching every condition are kept for `max_age`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionRule {
    conditions: Vec<Condition>,
    max_age: TimeDelta,
}

impl RetentionRule {
    /// A rule that matches every entry and keeps it for `max_age` (positive).
    pub fn new(max_age: TimeDelta) -> Result<Self> {
        check_age(max_age)?;
        Ok(RetentionRule {
            conditions: Vec::new(),
            max_age,
        })
    }

    /// Narrows the rule to entries that also match `condition`.
    #[must_use]
    pub fn matching(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// Narrows the rule by a filter as a client writes it (`"user", "adm*"`; see
    /// [`Condition::parse`]); an empty filter changes nothing.
    pub fn filter(self, field: &str, value: &str) -> Result<Self> {
        Ok(match Condition::parse(field, value)? {
            Some(condition) => self.matching(condition),
            None => self,
        })
    }
}

/// What a backend's [`AuditStore::purge`] is asked to do.
#[derive(Debug, Clone)]
pub struct PurgeRequest {
    /// The entries to delete (only its conditions and time range count; no scope).
    pub selection: AuditQuery,
    /// Only entries with ids below this one are deleted.
    pub below: AuditId,
    /// Count, change nothing.
    pub dry_run: bool,
    /// Rows read per transaction.
    pub chunk_rows: u32,
}

/// What a purge did, or in a dry run would do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Entries deleted (or, in a dry run, that would be).
    pub purged: u64,
    /// Transactions that deleted entries (0 in a dry run; the memory store compacts once).
    pub chunks: u64,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// Purges `store` by `policy` as of `now`; with `dry_run` only counts what would go.
///
/// Entries appended while the purge runs are never deleted by it.
pub async fn purge(
    store: &dyn AuditStore,
    policy: &Retention,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeReport> {
    purge_in_chunks(store, policy, now, dry_run, PURGE_CHUNK_ROWS).await
}

/// Like [`purge`], reading at most `chunk_rows` rows (at least 1) per transaction: smaller
/// chunks hold writers back for less time each, larger ones finish sooner.
pub async fn purge_in_chunks(
    store: &dyn AuditStore,
    policy: &Retention,
    now: DateTime<Utc>,
    dry_run: bool,
    chunk_rows: u32,
) -> Result<PurgeReport> {
    let newest_first = AuditQuery::new()
        .sort(Column::Id, Direction::Desc)?
        .offset(0, 1)?;
    let Some(newest) = store.fetch(&newest_first).await?.first().map(|e| e.id()) else {
        return Ok(PurgeReport {
            dry_run,
            ..PurgeReport::default()
        });
    };
    match policy.selection(store, now, newest).await? {
        None => Ok(PurgeReport {
            dry_run,
            ..PurgeReport::default()
        }),
        Some((selection, below)) => {
            store
                .purge(&PurgeRequest {
                    selection,
                    below,
                    dry_run,
                    chunk_rows: chunk_rows.max(1),
                })
                .await
        }
    }
}
