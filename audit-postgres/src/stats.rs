//! Statistics in one statement: a `GROUP BY GROUPING SETS` over the selected rows, one set per
//! ranked column and one for the timeline, with each ranking cut to its top values in SQL.
//! Above [`SLICE_ABOVE_IDS`] the two halves of the ids are grouped at once on two connections
//! and added up in Rust ([`merge`]); there the keys with few values share a set ([`grouping`]).
//!
//! Measured at 1,000,000 rows: one `GROUP BY` per column and one for the timeline read the table
//! six times (about 150 ms each with parallel workers); the grouping sets read it once. The
//! selection is fenced with `OFFSET 0` so the planner hashes every set: without the fence it
//! guessed the bucket expression had a million values and sorted the whole table to disk
//! (2.6 s instead of well under 1 s).

use audit_core::query::TimeRange;
use audit_core::sql::{SqlDialect, bucket_start, filtered_selection};
use audit_core::stats::{Ranking, Statistics, StatsRequest, ValueCount};
use audit_core::{AuditId, Error, Result};
use chrono::{DateTime, Utc};
use sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use tokio_postgres::Row;

/// Above this many ids the statistics are computed in two slices at once (see [`merge`]).
pub(crate) const SLICE_ABOVE_IDS: AuditId = 100_000;

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// The grouped selection, every group kept; its rows are (grouping set, each ranked column's
/// value or NULL, bucket start or NULL, entries, successes). `sets` lists the keys of each
/// grouping set: ranked columns by position, and `request.ranked().len()` for the bucket.
/// With `slice`, only the entries with ids in that inclusive range.
fn groups(
    table: &str,
    request: &StatsRequest,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
    slice: Option<(AuditId, AuditId)>,
    sets: &[Vec<usize>],
) -> SelectStatement {
    let mut keys: Vec<String> = request.ranked().iter().map(|c| quoted(c.name())).collect();
    keys.push(quoted("bucket"));
    let mut selected = filtered_selection(table, request.query(), now, dialect);
    if let Some((first, last)) = slice {
        selected.and_where(Expr::col(Alias::new("id")).between(first, last));
    }
    for column in request.ranked() {
        selected.column(Alias::new(column.name()));
    }
    selected
        .column(Alias::new("success"))
        .expr_as(bucket_start(request.bucket_width()), Alias::new("bucket"))
        .offset(0);

    let sets: Vec<String> = sets
        .iter()
        .map(|set| {
            let members: Vec<&str> = set
                .iter()
                .filter_map(|key| keys.get(*key).map(String::as_str))
                .collect();
            format!("({})", members.join(", "))
        })
        .collect();
    let mut groups = Query::select();
    groups.expr_as(
        Expr::cust(format!("GROUPING({})", keys.join(", "))),
        Alias::new("grouping_set"),
    );
    for column in request.ranked() {
        groups.column(Alias::new(column.name()));
    }
    groups
        .column(Alias::new("bucket"))
        .expr_as(Expr::cust("count(*)"), Alias::new("entries"))
        .expr_as(
            Expr::cust("sum(CASE WHEN \"success\" THEN 1 ELSE 0 END)"),
            Alias::new("successes"),
        )
        .from_subquery(selected, Alias::new("selected"))
        .add_group_by([Expr::cust(format!("GROUPING SETS ({})", sets.join(", ")))]);
    groups
}

/// One grouping set per key: each ranked column, then the bucket.
fn separate_sets(request: &StatsRequest) -> Vec<Vec<usize>> {
    (0..=request.ranked().len()).map(|key| vec![key]).collect()
}

/// The `work_mem` of a statistics statement over a slice, in kB: enough to hash
/// [`COMBINED_GROUPS`] groups (PostgreSQL allows hash tables twice as much).
pub(crate) const WORK_MEM_KB: u32 = 32 * 1024;

/// Above this many estimated groups, keys are not grouped together.
pub(crate) const COMBINED_GROUPS: f64 = 100_000.0;

/// How many distinct values a column holds by `pg_stats.n_distinct` for a table of `rows`
/// rows (`pg_class.reltuples`): a negative estimate is a share of the rows, and a table
/// never analyzed has -1 rows. Zero (unknown) and missing estimates give `None`.
pub(crate) fn distinct_values(n_distinct: f64, rows: f64) -> Option<f64> {
    if n_distinct > 0.0 {
        Some(n_distinct)
    } else if n_distinct < 0.0 && rows > 0.0 {
        Some(-n_distinct * rows)
    } else {
        None
    }
}

/// The grouping sets for keys with these estimated numbers of distinct values (ranked columns,
/// then the bucket; `None` when unknown). The keys with the fewest values are grouped together
/// while the product of their estimates stays at most [`COMBINED_GROUPS`]: each grouping set
/// costs a hash lookup per row, and one set over (event, administrator, realm, bucket) is
/// cheaper than four. Measured at 1,000,000 rows, one half of the ids: six sets 300–335 ms,
/// three 260–271 ms (the rows alone are read in 98 ms). Every other key gets a set of its own.
pub(crate) fn grouping(estimates: &[Option<f64>]) -> Vec<Vec<usize>> {
    let mut known: Vec<(usize, f64)> = estimates
        .iter()
        .enumerate()
        .filter_map(|(key, estimate)| estimate.filter(|e| *e >= 1.0).map(|e| (key, e)))
        .collect();
    known.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut combined = Vec::new();
    let mut product = 1.0;
    for (key, estimate) in known {
        if product * estimate > COMBINED_GROUPS {
            break;
        }
        product *= estimate;
        combined.push(key);
    }
    if combined.len() < 2 {
        combined.clear();
    }
    combined.sort_unstable();
    let mut sets: Vec<Vec<usize>> = (0..estimates.len())
        .filter(|key| !combined.contains(key))
        .map(|key| vec![key])
        .collect();
    if !combined.is_empty() {
        sets.push(combined);
    }
    sets
}

/// The statement over a slice of ids, every group kept, for [`merge`].
pub(crate) fn slice_statement(
    table: &str,
    request: &StatsRequest,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
    slice: (AuditId, AuditId),
    sets: &[Vec<usize>],
) -> SelectStatement {
    groups(table, request, now, dialect, Some(slice), sets)
}

/// The statement; its rows are (grouping set, value, bucket start, entries, successes).
pub(crate) fn statement(
    table: &str,
    request: &StatsRequest,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let groups = groups(table, request, now, dialect, None, &separate_sets(request));
    let ranked: Vec<String> = request.ranked().iter().map(|c| quoted(c.name())).collect();
    let value = if ranked.is_empty() {
        "NULL::text".to_owned()
    } else {
        format!("COALESCE({})", ranked.join(", "))
    };

    // Empty values are not ranked; ties go to the lower code point.
    let mut positioned = Query::select();
    positioned
        .column(Alias::new("grouping_set"))
        .expr_as(Expr::cust(value.clone()), Alias::new("value"))
        .columns([
            Alias::new("bucket"),
            Alias::new("entries"),
            Alias::new("successes"),
        ])
        .expr_as(
            Expr::cust(format!(
                "row_number() OVER (PARTITION BY \"grouping_set\" \
                 ORDER BY \"entries\" DESC, {value} COLLATE \"C\")"
            )),
            Alias::new("position"),
        )
        .from_subquery(groups, Alias::new("groups"))
        .and_where(Expr::cust(format!(
            "\"bucket\" IS NOT NULL OR {value} <> ''"
        )));

    let mut kept = Query::select();
    kept.columns([
        Alias::new("grouping_set"),
        Alias::new("value"),
        Alias::new("bucket"),
        Alias::new("entries"),
        Alias::new("successes"),
    ])
    .from_subquery(positioned, Alias::new("positioned"))
    .and_where(
        Expr::cust("\"bucket\" IS NOT NULL")
            .or(Expr::col(Alias::new("position")).lte(i64::from(request.top_count()))),
    );
    kept
}

fn unreadable(error: tokio_postgres::Error) -> Error {
    Error::Incompatible(format!(
        "a statistics row does not have the expected layout: {error}"
    ))
}

fn count(value: i64) -> u64 {
    Ord::max(value, 0).unsigned_abs()
}

/// The statistics from the statement's rows.
pub(crate) fn read(rows: &[Row], request: &StatsRequest, window: TimeRange) -> Result<Statistics> {
    let ranked = request.ranked().len();
    // GROUPING(a, b, …) has a bit per argument, the first argument the most significant; the
    // bit is clear for the argument the row is grouped by.
    let grouped_by = |mask: i32| (0..=ranked).find(|i| mask & (1 << (ranked - i)) == 0);
    let mut values: Vec<Vec<ValueCount>> = vec![Vec::new(); ranked];
    let mut timeline = Vec::new();
    for row in rows {
        let mask: i32 = row.try_get(0).map_err(unreadable)?;
        let entries = count(row.try_get(3).map_err(unreadable)?);
        let successes = count(row.try_get(4).map_err(unreadable)?);
        match grouped_by(mask) {
            Some(i) if i == ranked => {
                let start: i64 = row.try_get(2).map_err(unreadable)?;
                timeline.push((start, entries, successes));
            }
            Some(i) => {
                let value: String = row.try_get(1).map_err(unreadable)?;
                values[i].push(ValueCount::new(value, entries, successes));
            }
            None => {
                return Err(Error::Incompatible(format!(
                    "a statistics row belongs to no grouping set (mask {mask})"
                )));
            }
        }
    }
    let rankings = request
        .ranked()
        .iter()
        .zip(values)
        .map(|(column, values)| Ranking::from_counts(*column, values, request.top_count()))
        .collect();
    Statistics::assemble(request, window, timeline, rankings)
}

/// Statistics from the rows of [`slice_statement`] over slices that together cover the
/// selection: counts of equal values and buckets are added, then ranked as one.
pub(crate) fn merge(
    slices: &[Vec<Row>],
    request: &StatsRequest,
    window: TimeRange,
) -> Result<Statistics> {
    use std::collections::HashMap;
    let ranked = request.ranked().len();
    let mut values: Vec<HashMap<String, (u64, u64)>> = vec![HashMap::new(); ranked];
    let mut timeline: HashMap<i64, (u64, u64)> = HashMap::new();
    // Columns: grouping set, each ranked column, bucket, entries, successes.
    for row in slices.iter().flatten() {
        let mask: i32 = row.try_get(0).map_err(unreadable)?;
        let entries = count(row.try_get(ranked + 2).map_err(unreadable)?);
        let successes = count(row.try_get(ranked + 3).map_err(unreadable)?);
        // GROUPING(a, b, …) has a bit per key, the first key the most significant; the bit is
        // clear for each key the row is grouped by.
        let mut grouped = (0..=ranked).filter(|key| mask & (1 << (ranked - key)) == 0);
        let Some(first) = grouped.next() else {
            return Err(Error::Incompatible(format!(
                "a statistics row belongs to no grouping set (mask {mask})"
            )));
        };
        for key in std::iter::once(first).chain(grouped) {
            let tally = if key == ranked {
                let start: i64 = row.try_get(ranked + 1).map_err(unreadable)?;
                timeline.entry(start).or_default()
            } else {
                let value: String = row.try_get(key + 1).map_err(unreadable)?;
                // Empty values are not ranked.
                if value.is_empty() {
                    continue;
                }
                values[key].entry(value).or_default()
            };
            tally.0 += entries;
            tally.1 += successes;
        }
    }
    let rankings = request
        .ranked()
        .iter()
        .zip(values)
        .map(|(column, counts)| {
            let counts = counts
                .into_iter()
                .map(|(value, (entries, successes))| ValueCount::new(value, entries, successes))
                .collect();
            Ranking::from_counts(*column, counts, request.top_count())
        })
        .collect();
    let timeline = timeline
        .into_iter()
        .map(|(start, (entries, successes))| (start, entries, successes));
    Statistics::assemble(request, window, timeline, rankings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_few_values_share_one_set() {
        // serial, event, user, administrator, realm, then 90 daily buckets.
        let estimates = [
            Some(2_000.0),
            Some(30.0),
            Some(1_001.0),
            Some(5.0),
            Some(6.0),
            Some(92.0),
        ];
        assert_eq!(
            grouping(&estimates),
            vec![vec![0], vec![2], vec![1, 3, 4, 5]]
        );
    }

    #[test]
    fn estimates_read_shares_of_the_rows() {
        assert_eq!(distinct_values(30.0, 1e6), Some(30.0));
        assert_eq!(distinct_values(-0.5, 1e6), Some(500_000.0));
        assert_eq!(distinct_values(-0.5, -1.0), None);
        assert_eq!(distinct_values(0.0, 1e6), None);
    }

    #[test]
    fn unknown_or_large_estimates_keep_sets_of_their_own() {
        assert_eq!(
            grouping(&[None, None, Some(90.0)]),
            vec![vec![0], vec![1], vec![2]]
        );
        assert_eq!(
            grouping(&[Some(400.0), Some(300.0), Some(2.0)]),
            vec![vec![0], vec![1, 2]]
        );
        assert_eq!(grouping(&[Some(1e6), Some(1e6)]), vec![vec![0], vec![1]]);
    }
}
