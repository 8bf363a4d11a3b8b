//! The reference model's statistics: plain loops over the matching entries, sharing no
//! counting, ranking or bucketing code with the stores.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Timelike, Utc};

use crate::stats::{Bucket, Ranking, Statistics, StatsRequest, TimelineBucket, ValueCount};
use crate::testkit::reference::Reference;

/// The start of `instant`'s bucket, by calendar arithmetic.
fn calendar_bucket(bucket: Bucket, instant: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = instant.date_naive().and_time(NaiveTime::MIN).and_utc();
    match bucket {
        Bucket::Minute => {
            midnight
                + TimeDelta::hours(i64::from(instant.hour()))
                + TimeDelta::minutes(i64::from(instant.minute()))
        }
        Bucket::Hour => midnight + TimeDelta::hours(i64::from(instant.hour())),
        Bucket::Day => midnight,
        Bucket::Week => {
            midnight - TimeDelta::days(i64::from(instant.weekday().num_days_from_monday()))
        }
    }
}

impl Reference {
    /// The expected statistics for `request` answered at `now`.
    pub fn statistics(&self, request: &StatsRequest, now: DateTime<Utc>) -> Statistics {
        let hits = self.matching(request.query(), now);
        let successes = hits.iter().filter(|e| e.success()).count() as u64;
        let mut rankings = Vec::new();
        for column in request.ranked() {
            let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for entry in &hits {
                let value = entry.text(*column);
                if value.is_empty() {
                    continue;
                }
                let slot = counts.entry(value).or_default();
                slot.0 += 1;
                slot.1 += u64::from(entry.success());
            }
            let mut values: Vec<ValueCount> = counts
                .into_iter()
                .map(|(value, (count, ok))| ValueCount {
                    value: value.to_owned(),
                    count,
                    successes: ok,
                    failures: count - ok,
                })
                .collect();
            // Stable sort on a list already in code-point order: equal counts keep that order.
            values.sort_by_key(|v| std::cmp::Reverse(v.count));
            values.truncate(request.top_count() as usize);
            rankings.push(Ranking {
                column: *column,
                values,
            });
        }
        let mut timeline: BTreeMap<DateTime<Utc>, (u64, u64)> = BTreeMap::new();
        for entry in &hits {
            let slot = timeline
                .entry(calendar_bucket(request.bucket_width(), entry.date()))
                .or_default();
            if entry.success() {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
        Statistics {
            window: request.query().effective_range(now),
            bucket: request.bucket_width(),
            total: hits.len() as u64,
            successes,
            failures: hits.len() as u64 - successes,
            rankings,
            timeline: timeline
                .into_iter()
                .map(|(start, (successes, failures))| TimelineBucket {
                    start,
                    successes,
                    failures,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn calendar_buckets_agree_with_the_bucket_formula() {
        let mut instant = Utc
            .with_ymd_and_hms(2024, 2, 26, 23, 59, 59)
            .single()
            .unwrap_or_default();
        for _ in 0..500 {
            for bucket in Bucket::ALL {
                assert_eq!(calendar_bucket(bucket, instant), bucket.start_of(instant));
            }
            instant += TimeDelta::seconds(7_919);
        }
    }
}
