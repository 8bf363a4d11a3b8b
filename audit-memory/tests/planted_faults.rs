//! The conformance kit must catch wrong backends: each store here wraps the memory store and
//! plants one fault that real backends are prone to, and the kit has to fail on it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use async_trait::async_trait;
use audit_core::query::{Condition, Field, TextMatch};
use audit_core::stats::{Bucket, Statistics, StatsRequest};
use audit_core::testkit::{Report, check_named};
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditQuery, AuditStore, Counts, Pattern, Result,
};
use audit_memory::MemoryStore;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Entries with equal sort keys come back in the opposite id order.
    ReversedTieBreak,
    /// `total_count` counts only the filtered entries.
    TotalCountIsFiltered,
    /// A missing value fails a negated filter, as `NOT (col = ?)` does on SQL NULL.
    NullFailsNegation,
    /// Wildcards fold ASCII only, as SQLite's `LIKE` does.
    AsciiOnlyFolding,
    /// Values ranked with equal counts come in reverse code-point order (a locale collation or
    /// a missing tie-break in `ORDER BY count DESC`).
    RankingTiesReversed,
    /// Weekly buckets start on Sunday.
    SundayWeeks,
}

#[derive(Debug)]
struct Faulty {
    inner: MemoryStore,
    fault: Fault,
}

fn text_field<'e>(entry: &'e AuditEntry, field: &Field) -> &'e str {
    match field {
        Field::Column(column) => entry.text(*column),
        Field::Extra(key) => entry.as_event().extra_value(key),
    }
}

fn ascii_folded_match(pattern: &Pattern, value: &str) -> bool {
    let ascii_pattern = Pattern::new(&pattern.as_str().to_ascii_lowercase());
    ascii_pattern.matches_folded(&value.to_ascii_lowercase())
}

impl Faulty {
    fn keeps(&self, query: &AuditQuery, entry: &AuditEntry) -> bool {
        query
            .conditions()
            .iter()
            .all(|condition| match (self.fault, condition) {
                (
                    Fault::NullFailsNegation,
                    Condition::Text {
                        field,
                        negated: true,
                        ..
                    },
                ) => !text_field(entry, field).is_empty(),
                (
                    Fault::AsciiOnlyFolding,
                    Condition::Text {
                        field,
                        matcher: TextMatch::Pattern(p),
                        negated: false,
                    },
                ) => ascii_folded_match(p, text_field(entry, field)),
                _ => true,
            })
    }
}

#[async_trait]
impl AuditStore for Faulty {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        self.inner.append(batch).await
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut entries: Vec<AuditEntry> = self
            .inner
            .fetch(query)
            .await?
            .into_iter()
            .filter(|e| self.keeps(query, e))
            .collect();
        if let Fault::ReversedTieBreak = self.fault {
            let column = query.sort_order().column();
            entries
                .chunk_by_mut(|a, b| a.sort_key(column) == b.sort_key(column))
                .for_each(<[_]>::reverse);
        }
        Ok(entries)
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let counts = self.inner.count(query).await?;
        Ok(match self.fault {
            Fault::TotalCountIsFiltered => Counts {
                total_count: counts.filter_count,
                ..counts
            },
            _ => counts,
        })
    }

    async fn statistics(&self, request: &StatsRequest) -> Result<Statistics> {
        let mut stats = self.inner.statistics(request).await?;
        match self.fault {
            Fault::RankingTiesReversed => {
                for ranking in &mut stats.rankings {
                    ranking
                        .values
                        .chunk_by_mut(|a, b| a.count == b.count)
                        .for_each(<[_]>::reverse);
                }
            }
            Fault::SundayWeeks if stats.bucket == Bucket::Week => {
                for bucket in &mut stats.timeline {
                    bucket.start -= chrono::TimeDelta::days(1);
                }
            }
            _ => {}
        }
        Ok(stats)
    }
}

async fn kit_on(fault: Fault) -> Report {
    check_named(move || async move {
        Arc::new(Faulty {
            inner: MemoryStore::new(),
            fault,
        }) as Arc<dyn AuditStore>
    })
    .await
}

#[tokio::test]
async fn kit_catches_a_reversed_id_tie_break() {
    let report = kit_on(Fault::ReversedTieBreak).await;
    assert!(report.failed("sort_by_success_asc"), "{report}");
    assert!(report.failed("cursor_walk_user_with_ties"), "{report}");
}

#[tokio::test]
async fn kit_catches_a_total_count_that_follows_the_filter() {
    let report = kit_on(Fault::TotalCountIsFiltered).await;
    assert!(
        report.failed("exact_filter_matches_equal_value"),
        "{report}"
    );
}

#[tokio::test]
async fn kit_catches_missing_values_failing_negated_filters() {
    let report = kit_on(Fault::NullFailsNegation).await;
    assert!(
        report.failed("negated_exact_includes_missing_values"),
        "{report}"
    );
    assert!(
        report.failed("negated_extra_includes_missing_key"),
        "{report}"
    );
}

#[tokio::test]
async fn kit_catches_ascii_only_case_folding() {
    let report = kit_on(Fault::AsciiOnlyFolding).await;
    assert!(
        report.failed("wildcard_is_case_insensitive_for_non_ascii"),
        "{report}"
    );
    assert!(
        !report.failed("wildcard_is_case_insensitive_for_ascii"),
        "{report}"
    );
}

#[tokio::test]
async fn kit_catches_ranking_ties_in_the_wrong_order() {
    let report = kit_on(Fault::RankingTiesReversed).await;
    assert!(
        report.failed("stats_every_text_column_with_every_value"),
        "{report}"
    );
    assert!(!report.failed("stats_no_ranked_column"), "{report}");
}

#[tokio::test]
async fn kit_catches_weeks_that_start_on_sunday() {
    let report = kit_on(Fault::SundayWeeks).await;
    assert!(
        report.failed("stats_every_text_column_with_every_value"),
        "{report}"
    );
    assert!(!report.failed("stats_everything_daily"), "{report}");
}
