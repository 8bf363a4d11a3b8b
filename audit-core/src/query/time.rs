//! Time filters: relative time limits (`5m`, `7d`) and ISO-8601 date prefixes (`2026-05-01*`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Utc};

use crate::error::Error;

/// A half-open time range: `from` inclusive, `to` exclusive; a missing bound is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether `instant` lies in the range.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| instant >= from) && self.to.is_none_or(|to| instant < to)
    }

    /// The intersection of two ranges.
    pub fn intersect(self, other: TimeRange) -> TimeRange {
        TimeRange {
            from: later(self.from, other.from),
            to: earlier(self.to, other.to),
        }
    }

    /// Whether neither bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn earlier(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

const TIME_LIMIT_EXPECTED: &str = "a positive whole number followed by s, m, h, d, w or y (for example 30s, 5m, 2h, 7d, 2w, 1y; m is minutes)";

/// A relative time window ending now, as the `timelimit` parameter gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    amount: u32,
    unit: TimeUnit,
}

/// The unit of a [`TimeLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
    /// `y`: 365 days.
    Years,
}

impl TimeUnit {
    fn suffix(self) -> char {
        match self {
            TimeUnit::Seconds => 's',
            TimeUnit::Minutes => 'm',
            TimeUnit::Hours => 'h',
            TimeUnit::Days => 'd',
            TimeUnit::Weeks => 'w',
            TimeUnit::Years => 'y',
        }
    }

    fn seconds(self) -> i64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3_600,
            TimeUnit::Days => 86_400,
            TimeUnit::Weeks => 7 * 86_400,
            TimeUnit::Years => 365 * 86_400,
        }
    }
}

impl TimeLimit {
    /// A window of `amount` units; `amount` must be at least 1.
    pub fn new(amount: u32, unit: TimeUnit) -> Result<Self, Error> {
        if amount == 0 {
            return Err(Error::invalid_query(
                "timelimit",
                "the window is zero",
                TIME_LIMIT_EXPECTED,
            ));
        }
        Ok(TimeLimit { amount, unit })
    }

    /// The window's length.
    pub fn length(&self) -> TimeDelta {
        TimeDelta::seconds(i64::from(self.amount) * self.unit.seconds())
    }

    /// The range from `now` minus the window up to (and excluding nothing after) now.
    pub fn range_ending(&self, now: DateTime<Utc>) -> TimeRange {
        TimeRange {
            from: now.checked_sub_signed(self.length()),
            to: None,
        }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl FromStr for TimeLimit {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid =
            |problem: String| Error::invalid_query("timelimit", problem, TIME_LIMIT_EXPECTED);
        let Some(last) = s.chars().last() else {
            return Err(invalid("the value is empty".into()));
        };
        let unit = match last {
            's' => TimeUnit::Seconds,
            'm' => TimeUnit::Minutes,
            'h' => TimeUnit::Hours,
            'd' => TimeUnit::Days,
            'w' => TimeUnit::Weeks,
            'y' => TimeUnit::Years,
            _ => return Err(invalid(format!("{s:?} has no valid unit"))),
        };
        let digits = &s[..s.len() - last.len_utf8()];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("{s:?} does not start with a whole number")));
        }
        let amount: u32 = digits
            .parse()
            .map_err(|_| invalid(format!("{s:?} is too large")))?;
        // Keep every window inside the range of timestamps the backends store (years 1..9999).
        if i64::from(amount) * unit.seconds() > 10_000 * 365 * 86_400 {
            return Err(invalid(format!("{s:?} is longer than 10000 years")));
        }
        TimeLimit::new(amount, unit)
    }
}

const DATE_PREFIX_EXPECTED: &str = "YYYY*, YYYY-MM*, YYYY-MM-DD*, YYYY-MM-DDTHH*, YYYY-MM-DDTHH:MM*, \
     YYYY-MM-DDTHH:MM:SS* (UTC) or a full ISO-8601 timestamp";

/// Parses a date filter value into the range it selects: a prefix ending in `*` selects the
/// whole year, month, day, hour, minute or second it names (UTC); a full timestamp (RFC 3339, or
/// without offset for UTC) selects that microsecond.
pub fn parse_date_filter(parameter: &str, value: &str) -> Result<TimeRange, Error> {
    let invalid = |problem: String| Error::invalid_query(parameter, problem, DATE_PREFIX_EXPECTED);
    if let Some(prefix) = value.strip_suffix('*') {
        let prefix = prefix.trim_end_matches('*');
        if prefix.contains('*') {
            return Err(invalid(format!(
                "{value:?} has a `*` that is not at the end"
            )));
        }
        return prefix_range(prefix)
            .ok_or_else(|| invalid(format!("{value:?} is not a date prefix")));
    }
    let instant =
        parse_timestamp(value).ok_or_else(|| invalid(format!("{value:?} is not a timestamp")))?;
    Ok(TimeRange {
        from: Some(instant),
        to: instant.checked_add_signed(TimeDelta::microseconds(1)),
    })
}

/// Parses an ISO-8601 timestamp: RFC 3339 with an offset, or without one meaning UTC
/// (`2026-05-01T12:00:00`, `2026-05-01 12:00:00.5`), or a date alone meaning its midnight UTC.
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(value) {
        return Some(date.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn number(text: &str, digits: usize) -> Option<u32> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// An optional two-digit field: `Some(None)` when absent, `None` when present but invalid.
fn optional_pair(text: Option<&str>) -> Option<Option<u32>> {
    match text {
        None => Some(None),
        Some(text) => number(text, 2).map(Some),
    }
}

fn prefix_range(prefix: &str) -> Option<TimeRange> {
    let (date_part, time_part) = match prefix.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (prefix, None),
    };
    let mut date_fields = date_part.split('-');
    let year = number(date_fields.next()?, 4)?;
    let month = optional_pair(date_fields.next())?;
    let day = optional_pair(date_fields.next())?;
    if date_fields.next().is_some() {
        return None;
    }
    let year = i32::try_from(year).ok()?;
    let start_date = NaiveDate::from_ymd_opt(year, month.unwrap_or(1), day.unwrap_or(1))?;
    let (Some(_), Some(_)) = (month, day) else {
        if time_part.is_some() {
            return None;
        }
        let start = start_date.and_hms_opt(0, 0, 0)?;
        let end = match month {
            Some(_) => start.checked_add_months(Months::new(1))?,
            None => NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)?.and_hms_opt(0, 0, 0)?,
        };
        return Some(range(start, end));
    };
    let Some(time_part) = time_part else {
        let start = start_date.and_hms_opt(0, 0, 0)?;
        return Some(range(start, start + TimeDelta::days(1)));
    };
    let mut time_fields = time_part.split(':');
    let hour = number(time_fields.next()?, 2)?;
    let minute = optional_pair(time_fields.next())?;
    let second = optional_pair(time_fields.next())?;
    if time_fields.next().is_some() {
        return None;
    }
    let start = start_date.and_hms_opt(hour, minute.unwrap_or(0), second.unwrap_or(0))?;
    let step = match (minute, second) {
        (None, _) => TimeDelta::hours(1),
        (Some(_), None) => TimeDelta::minutes(1),
        (Some(_), Some(_)) => TimeDelta::seconds(1),
    };
    Some(range(start, start + step))
}

fn range(start: NaiveDateTime, end: NaiveDateTime) -> TimeRange {
    TimeRange {
        from: Some(start.and_utc()),
        to: Some(end.and_utc()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        parse_timestamp(s)
    }

    #[test]
    fn time_limits_parse_with_every_unit() {
        assert_eq!(
            "30s".parse::<TimeLimit>().map(|t| t.length()).ok(),
            Some(TimeDelta::seconds(30))
        );
        assert_eq!(
            "5m".parse::<TimeLimit>().map(|t| t.length()).ok(),
            Some(TimeDelta::minutes(5))
        );
        assert_eq!(
            "2w".parse::<TimeLimit>().map(|t| t.length()).ok(),
            Some(TimeDelta::days(14))
        );
        assert_eq!(
            "1y".parse::<TimeLimit>().map(|t| t.length()).ok(),
            Some(TimeDelta::days(365))
        );
    }

    #[test]
    fn bad_time_limits_are_typed_errors() {
        for bad in [
            "",
            "m",
            "5",
            "5x",
            "-5m",
            "0d",
            "1.5h",
            "99999999999d",
            "5 m",
            "５m",
        ] {
            let err = bad.parse::<TimeLimit>();
            assert!(
                matches!(err, Err(Error::InvalidQuery { ref parameter, .. }) if parameter == "timelimit"),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn date_prefix_selects_the_named_period() {
        let day = parse_date_filter("date", "2026-05-01*").ok();
        assert_eq!(day.and_then(|r| r.from), at("2026-05-01T00:00:00Z"));
        assert_eq!(day.and_then(|r| r.to), at("2026-05-02T00:00:00Z"));
        let month = parse_date_filter("date", "2026-12*").ok();
        assert_eq!(month.and_then(|r| r.to), at("2027-01-01T00:00:00Z"));
        let minute = parse_date_filter("date", "2026-05-01T13:07*").ok();
        assert_eq!(minute.and_then(|r| r.to), at("2026-05-01T13:08:00Z"));
        let year = parse_date_filter("date", "2026*").ok();
        assert_eq!(year.and_then(|r| r.to), at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn bad_date_filters_are_typed_errors() {
        for bad in [
            "2026-13*",
            "26*",
            "2026-5-1*",
            "2026-02-30*",
            "*2026",
            "2026-05-01T25*",
            "x",
            "2026-05-01T10:00:00:00*",
        ] {
            assert!(parse_date_filter("date", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_timestamp_selects_one_microsecond() {
        let r = parse_date_filter("date", "2026-05-01T12:00:00.000001Z").ok();
        assert!(
            r.is_some_and(|r| r.contains(at("2026-05-01T12:00:00.000001Z").unwrap_or_default()))
        );
    }
}
