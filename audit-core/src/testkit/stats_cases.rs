//! Statistics cases: named and randomized requests whose answers must equal the reference
//! model's.

use chrono::{DateTime, TimeDelta, Utc};

use crate::column::Column;
use crate::error::Result;
use crate::query::AuditQuery;
use crate::stats::{Bucket, MAX_TOP, Statistics, StatsRequest};
use crate::store::AuditStore;
use crate::testkit::dataset::base_date;
use crate::testkit::random::random_query;
use crate::testkit::reference::Reference;
use crate::testkit::rng::Rng;

/// The columns privacyIDEA's statistics ranked.
const PRIVACYIDEA_COLUMNS: [Column; 5] = [
    Column::Serial,
    Column::Event,
    Column::User,
    Column::Administrator,
    Column::Realm,
];

fn request(
    query: Result<AuditQuery>,
    columns: &[Column],
    top: u32,
    bucket: Bucket,
) -> Result<StatsRequest> {
    let mut request = StatsRequest::new(query?).top(top)?.bucket(bucket);
    for column in columns {
        request = request.rank(*column)?;
    }
    Ok(request)
}

/// The named statistics requests.
pub(crate) fn named_requests() -> Vec<(&'static str, Result<StatsRequest>)> {
    let all = || Ok(AuditQuery::new());
    let day = TimeDelta::days(1);
    vec![
        (
            "stats_everything_daily",
            request(all(), &PRIVACYIDEA_COLUMNS, 5, Bucket::Day),
        ),
        (
            "stats_every_text_column_with_every_value",
            request(all(), Column::TEXT, MAX_TOP, Bucket::Week),
        ),
        (
            "stats_top_one_breaks_ties_by_code_point",
            request(
                all(),
                &[Column::User, Column::Realm, Column::TokenType],
                1,
                Bucket::Day,
            ),
        ),
        (
            "stats_hourly",
            request(all(), &[Column::Event], 3, Bucket::Hour),
        ),
        (
            "stats_by_minute_over_two_days",
            request(
                Ok(AuditQuery::new()
                    .from(base_date() + day * 3)
                    .to(base_date() + day * 5)),
                &[Column::User],
                5,
                Bucket::Minute,
            ),
        ),
        (
            "stats_validate_check_failures",
            request(
                AuditQuery::new()
                    .filter("event", "*/validate/check")
                    .and_then(|q| q.filter("success", "0")),
                &[Column::User, Column::Serial],
                5,
                Bucket::Day,
            ),
        ),
        (
            "stats_wildcard_and_negation",
            request(
                AuditQuery::new()
                    .filter("user", "*Ü*")
                    .and_then(|q| q.filter("realm", "!corp")),
                &[Column::User, Column::Event],
                10,
                Bucket::Week,
            ),
        ),
        (
            "stats_free_text",
            request(
                AuditQuery::new().find("ärger"),
                &[Column::Description],
                10,
                Bucket::Day,
            ),
        ),
        (
            "stats_extra_field_filter",
            request(
                AuditQuery::new().filter("extra.ticket", "T-1*"),
                &[Column::User],
                5,
                Bucket::Day,
            ),
        ),
        (
            "stats_nothing_matches",
            request(
                AuditQuery::new().filter("user", "nobody-at-all"),
                &PRIVACYIDEA_COLUMNS,
                5,
                Bucket::Day,
            ),
        ),
        (
            "stats_window_before_any_entry",
            request(
                Ok(AuditQuery::new().to(base_date() - day * 30)),
                &[Column::User],
                5,
                Bucket::Day,
            ),
        ),
        (
            "stats_no_ranked_column",
            request(all(), &[], 5, Bucket::Week),
        ),
    ]
}

/// One random request: a random query's filter, one to five ranked columns, a random top and
/// bucket width.
pub(crate) fn random_request(
    rng: &mut Rng,
    reference: &Reference,
    now: DateTime<Utc>,
) -> Result<StatsRequest> {
    let query = random_query(rng, reference, now)?;
    let mut request = StatsRequest::new(query)
        .top(1 + u32::try_from(rng.below(12)).unwrap_or(4))?
        .bucket(*rng.pick(&Bucket::ALL));
    for _ in 0..=rng.below(5) {
        request = request.rank(*rng.pick(Column::TEXT))?;
    }
    Ok(request)
}

fn first_difference(
    got: &Statistics,
    expected: &Statistics,
    compare_window: bool,
) -> Option<String> {
    if (got.total, got.successes, got.failures)
        != (expected.total, expected.successes, expected.failures)
    {
        return Some(format!(
            "totals (all {}, successes {}, failures {}) expected ({}, {}, {})",
            got.total,
            got.successes,
            got.failures,
            expected.total,
            expected.successes,
            expected.failures
        ));
    }
    if got.rankings.len() != expected.rankings.len() {
        return Some(format!(
            "{} rankings, expected {}",
            got.rankings.len(),
            expected.rankings.len()
        ));
    }
    for (got, expected) in got.rankings.iter().zip(&expected.rankings) {
        if got != expected {
            return Some(format!("ranking {got:?} expected {expected:?}"));
        }
    }
    if got.timeline != expected.timeline {
        let at = got
            .timeline
            .iter()
            .zip(&expected.timeline)
            .position(|(a, b)| a != b)
            .unwrap_or(got.timeline.len().min(expected.timeline.len()));
        return Some(format!(
            "timeline differs at bucket {at}: {:?} expected {:?} ({} buckets, expected {})",
            got.timeline.get(at),
            expected.timeline.get(at),
            got.timeline.len(),
            expected.timeline.len()
        ));
    }
    if got.bucket != expected.bucket {
        return Some(format!(
            "bucket {} expected {}",
            got.bucket, expected.bucket
        ));
    }
    if compare_window && got.window != expected.window {
        return Some(format!(
            "window {:?} expected {:?}",
            got.window, expected.window
        ));
    }
    None
}

/// Compares the store's statistics for `request` with the reference model's.
pub(crate) async fn check_statistics(
    store: &dyn AuditStore,
    reference: &Reference,
    request: &StatsRequest,
) -> std::result::Result<(), String> {
    let got = store
        .statistics(request)
        .await
        .map_err(|e| format!("statistics failed: {e}; request {request:?}"))?;
    let expected = reference.statistics(request, Utc::now());
    // A relative time limit is resolved at slightly different moments by the store and the
    // model; the dataset keeps entries far from its edge, so only the window itself differs.
    let compare_window = request.query().relative_limit().is_none();
    match first_difference(&got, &expected, compare_window) {
        None => Ok(()),
        Some(difference) => Err(format!("{difference}; request {request:?}")),
    }
}
