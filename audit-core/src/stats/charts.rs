//! Statistics drawn as charts (feature `charts`).

use crate::chart::{
    Bar, BarChart, StackedBar, StackedBarChart, TimeAxis, TimelineChart, TimelinePoint,
};
use crate::column::Column;
use crate::stats::{Bucket, Statistics};

/// The caption of the count axis.
const ENTRIES: &str = "entries";

fn axis(bucket: Bucket) -> TimeAxis {
    match bucket {
        Bucket::Minute => TimeAxis::Minute,
        Bucket::Hour => TimeAxis::Hour,
        Bucket::Day => TimeAxis::Day,
        Bucket::Week => TimeAxis::Week,
    }
}

impl Statistics {
    /// The top values of `column` as bars (empty, and drawn as "no entries", when the column
    /// was not ranked).
    pub fn top_chart(&self, column: Column, title: impl Into<String>) -> BarChart {
        let bars = self
            .ranking(column)
            .map(|r| {
                r.values
                    .iter()
                    .map(|v| Bar::new(v.value.as_str(), v.count))
                    .collect()
            })
            .unwrap_or_default();
        BarChart::new(title, ENTRIES, bars)
    }

    /// The top values of `column`, each bar split into successes and failures.
    pub fn outcome_chart(&self, column: Column, title: impl Into<String>) -> StackedBarChart {
        let rows = self
            .ranking(column)
            .map(|r| {
                r.values
                    .iter()
                    .map(|v| StackedBar::new(v.value.as_str(), v.successes, v.failures))
                    .collect()
            })
            .unwrap_or_default();
        StackedBarChart::new(title, ENTRIES, rows)
    }

    /// Successes and failures per bucket, empty buckets included.
    pub fn timeline_chart(&self, title: impl Into<String>) -> TimelineChart {
        let points = self
            .continuous_timeline()
            .into_iter()
            .map(|b| TimelinePoint::new(b.start, b.successes, b.failures))
            .collect();
        TimelineChart::new(title, ENTRIES, axis(self.bucket), points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{AuditQuery, TimeRange};
    use crate::stats::{Ranking, StatsRequest, ValueCount};

    fn sample() -> Statistics {
        let request = StatsRequest::new(AuditQuery::new());
        let day = Bucket::Day.micros();
        let ranking = Ranking::from_counts(
            Column::User,
            vec![
                ValueCount::new("alice", 5, 4),
                ValueCount::new("Jürgen", 2, 0),
            ],
            5,
        );
        Statistics::assemble(
            &request,
            TimeRange::default(),
            [(day * 20_000, 3, 2), (day * 20_002, 4, 4)],
            vec![ranking],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn charts_carry_the_statistics() {
        let stats = sample();
        let top = stats.top_chart(Column::User, "Top users");
        assert_eq!(top.bars.iter().map(|b| b.value).collect::<Vec<_>>(), [5, 2]);
        let outcome = stats.outcome_chart(Column::User, "Outcome");
        assert_eq!(outcome.rows[1].failures, 2);
        let timeline = stats.timeline_chart("Per day");
        assert_eq!(timeline.points.len(), 3, "the empty day between is drawn");
        assert!(stats.top_chart(Column::Serial, "unranked").bars.is_empty());
    }
}
