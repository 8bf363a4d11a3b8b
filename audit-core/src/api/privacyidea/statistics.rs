//! `GET /audit/statistics`: privacyIDEA's statistics (removed from privacyIDEA in 2018), computed
//! by the store and drawn without any system library.
//!
//! Parameters: `days` (default 7), `start`, `end` (ISO 8601, UTC unless an offset is given),
//! `top` (values per list, default 5), `bucket` (`minute`, `hour`, `day` or `week`; by default
//! chosen from the window), `format` (`png`, the default, or `svg`), and every filter of
//! `GET /audit/`. With neither `start` nor `end` the window is the last `days` days; with one of
//! them it spans `days` days from or up to it.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::{PrivacyIdea, Scope};
use crate::api::request::{ApiRequest, ApiResponse, BadRequest, parse_query, whole_number};
use crate::chart::{Chart, ChartError};
use crate::column::Column;
use crate::error::Error;
use crate::query::{AuditQuery, parse_timestamp};
use crate::stats::{Bucket, DEFAULT_TOP, MAX_FILLED_BUCKETS, MAX_TOP, Statistics, StatsRequest};

/// The window unless `days` says otherwise.
const DEFAULT_DAYS: u64 = 7;
/// The longest window `days` may ask for (about a hundred years).
const MAX_DAYS: u64 = 36_525;
/// The parameters of this endpoint beyond the filters of `GET /audit/`.
const OWN_KEYS: [&str; 6] = ["days", "start", "end", "top", "bucket", "format"];
/// The events the `validate_*` keys look at.
const VALIDATE_EVENTS: &str = "*/validate/check";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Svg,
}

struct Options {
    query: AuditQuery,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    top: u32,
    bucket: Bucket,
    format: Format,
}

fn iso(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn instant(key: &str, value: &str) -> Result<DateTime<Utc>, BadRequest> {
    parse_timestamp(value).ok_or_else(|| {
        BadRequest::new(
            key,
            format!(
                "{key}: {value:?} is not a timestamp; expected ISO 8601 such as 2026-11-01 or \
                 2026-11-01T12:00:00Z"
            ),
        )
    })
}

/// The bucket a window of `span` is drawn with when the client does not choose.
fn default_bucket(span: TimeDelta) -> Bucket {
    if span <= TimeDelta::days(2) {
        Bucket::Hour
    } else if span <= TimeDelta::days(120) {
        Bucket::Day
    } else {
        Bucket::Week
    }
}

fn window(
    days: u64,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), BadRequest> {
    let length = TimeDelta::days(i64::try_from(days).unwrap_or(i64::MAX));
    let beyond = || BadRequest::new("days", "days: the window reaches beyond the calendar");
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, start.checked_add_signed(length).ok_or_else(beyond)?),
        (None, Some(end)) => (end.checked_sub_signed(length).ok_or_else(beyond)?, end),
        (None, None) => {
            let end = Utc::now();
            (end.checked_sub_signed(length).ok_or_else(beyond)?, end)
        }
    };
    if end <= start {
        return Err(BadRequest::new(
            "end",
            format!(
                "end: {} is not after start {}; expected a window of positive length",
                iso(end),
                iso(start)
            ),
        ));
    }
    Ok((start, end))
}

impl PrivacyIdea {
    fn statistics_options(
        &self,
        request: &ApiRequest,
        scope: &Scope,
    ) -> Result<Options, BadRequest> {
        let pairs = parse_query(request.query.as_deref())?;
        let (own, filters): (Vec<_>, Vec<_>) = pairs
            .into_iter()
            .partition(|(key, _)| OWN_KEYS.contains(&key.as_str()));
        let mut days = DEFAULT_DAYS;
        let (mut start, mut end, mut bucket) = (None, None, None);
        let mut top = DEFAULT_TOP;
        let mut format = Format::Png;
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in &own {
            if seen.contains(&key.as_str()) {
                return Err(BadRequest::new(key, format!("{key}: given more than once")));
            }
            seen.push(key);
            match key.as_str() {
                "days" => {
                    days = whole_number(key, value)?;
                    if days == 0 || days > MAX_DAYS {
                        return Err(BadRequest::new(
                            key,
                            format!("days: {days} is not allowed; expected 1 to {MAX_DAYS}"),
                        ));
                    }
                }
                "start" => start = Some(instant(key, value)?),
                "end" => end = Some(instant(key, value)?),
                "top" => {
                    let n = whole_number(key, value)?;
                    top = u32::try_from(n)
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            BadRequest::new(
                                key,
                                format!("top: {n} is not allowed; expected 1 to {MAX_TOP}"),
                            )
                        })?;
                }
                "bucket" => bucket = Some(value.parse::<Bucket>()?),
                _ => {
                    format = match value.to_ascii_lowercase().as_str() {
                        "png" => Format::Png,
                        "svg" => Format::Svg,
                        _ => {
                            return Err(BadRequest::new(
                                key,
                                format!("format: {value:?} is not a format; expected png or svg"),
                            ));
                        }
                    };
                }
            }
        }
        let (start, end) = window(days, start, end)?;
        let bucket = bucket.unwrap_or_else(|| default_bucket(end - start));
        let buckets = (end - start).num_microseconds().unwrap_or(i64::MAX) / bucket.micros();
        if buckets > MAX_FILLED_BUCKETS as i64 {
            return Err(BadRequest::new(
                "bucket",
                format!(
                    "bucket: {buckets} buckets of a {bucket} do not fit a chart; expected a wider \
                     bucket or a shorter window (at most {MAX_FILLED_BUCKETS} buckets)"
                ),
            ));
        }
        let query = self
            .parse_pairs(&filters, scope, false)?
            .query
            .from(start)
            .to(end);
        Ok(Options {
            query,
            start,
            end,
            top,
            bucket,
            format,
        })
    }

    /// `GET /audit/statistics`: rankings, outcomes and a timeline of the caller's entries in
    /// the window, as lists and as chart images.
    pub async fn statistics(&self, request: &ApiRequest, scope: &Scope) -> ApiResponse {
        let options = match self.statistics_options(request, scope) {
            Ok(options) => options,
            Err(bad) => return self.bad_request(&bad),
        };
        let requests = match statistics_requests(&options) {
            Ok(requests) => requests,
            Err(error) => return self.bad_request(&error.into()),
        };
        let [everything, validate, failed] = requests;
        let answers = futures_util::future::try_join3(
            self.store.statistics(&everything),
            self.store.statistics(&validate),
            self.store.statistics(&failed),
        )
        .await;
        let (everything, validate, failed) = match answers {
            Ok(answers) => answers,
            Err(error) if error.is_client_error() => return self.bad_request(&error.into()),
            Err(Error::Unsupported(what)) => {
                return self.error(501, 501, &format!("this audit store has no {what}"));
            }
            Err(error) => return self.error(500, 500, &format!("the audit store failed: {error}")),
        };
        match render(&options, scope, &everything, &validate, &failed) {
            Ok(value) => self.success(value),
            Err(error) => self.error(500, 500, &format!("a chart could not be drawn: {error}")),
        }
    }
}

/// All entries (serials, actions, administrators, timeline), validate checks (users and
/// serials by outcome) and failed validate checks (users and serials).
fn statistics_requests(options: &Options) -> Result<[StatsRequest; 3], Error> {
    let ranked = |query: AuditQuery, columns: &[Column]| -> Result<StatsRequest, Error> {
        let mut request = StatsRequest::new(query)
            .top(options.top)?
            .bucket(options.bucket);
        for column in columns {
            request = request.rank(*column)?;
        }
        Ok(request)
    };
    let validate = options.query.clone().filter("event", VALIDATE_EVENTS)?;
    Ok([
        ranked(
            options.query.clone(),
            &[Column::Serial, Column::Event, Column::Administrator],
        )?,
        ranked(validate.clone(), &[Column::User, Column::Serial])?,
        ranked(
            validate.filter("success", "0")?,
            &[Column::User, Column::Serial],
        )?,
    ])
}

fn list(stats: &Statistics, column: Column) -> Value {
    let values = stats.ranking(column).map_or(&[][..], |r| &r.values[..]);
    Value::Array(
        values
            .iter()
            .map(|v| json!({"key": v.value, "count": v.count, "success": v.successes, "fail": v.failures}))
            .collect(),
    )
}

fn image(chart: Chart, format: Format) -> Result<Value, ChartError> {
    let uri = match format {
        Format::Png => chart.to_data_uri()?,
        Format::Svg => {
            use base64::Engine as _;
            let mut uri = String::from("data:image/svg+xml;base64,");
            base64::engine::general_purpose::STANDARD.encode_string(chart.to_svg(), &mut uri);
            uri
        }
    };
    Ok(Value::String(uri))
}

fn render(
    options: &Options,
    scope: &Scope,
    everything: &Statistics,
    validate: &Statistics,
    failed: &Statistics,
) -> Result<Value, ChartError> {
    let mut value = Map::new();
    let format = options.format;
    let mut put = |key: &str, chart: Chart, data: Option<Value>| -> Result<(), ChartError> {
        value.insert(format!("{key}_plot"), image(chart, format)?);
        if let Some(data) = data {
            value.insert(key.to_owned(), data);
        }
        Ok(())
    };
    if scope.shows(Column::Serial) {
        put(
            "serial",
            everything
                .top_chart(Column::Serial, "Most used serials")
                .into(),
            Some(list(everything, Column::Serial)),
        )?;
    }
    if scope.shows(Column::Event) {
        put(
            "action",
            everything
                .top_chart(Column::Event, "Most frequent actions")
                .into(),
            Some(list(everything, Column::Event)),
        )?;
    }
    if scope.shows(Column::Administrator) {
        put(
            "admin",
            everything
                .top_chart(Column::Administrator, "Most active administrators")
                .into(),
            Some(list(everything, Column::Administrator)),
        )?;
    }
    for (key, column, noun) in [
        ("user", Column::User, "user"),
        ("serial", Column::Serial, "serial"),
    ] {
        if !scope.shows(column) {
            continue;
        }
        put(
            &format!("validate_{key}"),
            validate
                .outcome_chart(column, format!("Authentications per {noun}"))
                .into(),
            None,
        )?;
        put(
            &format!("validate_failed_{key}"),
            failed
                .top_chart(column, format!("Failed authentications per {noun}"))
                .into(),
            Some(list(failed, column)),
        )?;
    }
    let timeline: Vec<Value> = everything
        .continuous_timeline()
        .iter()
        .map(|b| json!({"start": iso(b.start), "success": b.successes, "fail": b.failures}))
        .collect();
    put(
        "timeline",
        everything
            .timeline_chart(format!("Entries per {}", options.bucket))
            .into(),
        Some(Value::Array(timeline)),
    )?;
    value.insert("total".into(), json!(everything.total));
    value.insert("success".into(), json!(everything.successes));
    value.insert("fail".into(), json!(everything.failures));
    value.insert("time_start".into(), json!(iso(options.start)));
    value.insert("time_end".into(), json!(iso(options.end)));
    Ok(Value::Object(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_days_start_and_end() {
        let at = |s: &str| parse_timestamp(s).unwrap_or_default();
        let (start, end) = window(7, Some(at("2026-11-01")), None).unwrap_or_default();
        assert_eq!((start, end), (at("2026-11-01"), at("2026-11-08")));
        let (start, _) = window(3, None, Some(at("2026-11-10"))).unwrap_or_default();
        assert_eq!(start, at("2026-11-07"));
        assert!(window(7, Some(at("2026-11-10")), Some(at("2026-11-01"))).is_err());
        assert_eq!(default_bucket(TimeDelta::days(1)), Bucket::Hour);
        assert_eq!(default_bucket(TimeDelta::days(90)), Bucket::Day);
        assert_eq!(default_bucket(TimeDelta::days(365)), Bucket::Week);
    }
}
