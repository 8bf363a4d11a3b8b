//! Timeline buckets: how the time axis of the statistics is cut.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::Error;

const MINUTE: i64 = 60 * 1_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// The Unix epoch fell on a Thursday; weeks start on Monday, three days earlier.
const WEEK_OFFSET: i64 = 3 * DAY;

/// The width of one timeline bucket. Buckets are aligned in UTC: minutes and hours on the
/// clock, days at midnight, weeks on Monday at midnight (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day, from midnight UTC.
    #[default]
    Day,
    /// One week, from Monday midnight UTC.
    Week,
}

impl Bucket {
    /// Every bucket width, narrowest first.
    pub const ALL: [Bucket; 4] = [Bucket::Minute, Bucket::Hour, Bucket::Day, Bucket::Week];

    /// The bucket's name as a client writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }

    /// The width in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            Bucket::Minute => MINUTE,
            Bucket::Hour => HOUR,
            Bucket::Day => DAY,
            Bucket::Week => WEEK,
        }
    }

    /// How far the buckets' grid is shifted from the Unix epoch, in microseconds.
    pub const fn offset_micros(self) -> i64 {
        match self {
            Bucket::Week => WEEK_OFFSET,
            _ => 0,
        }
    }

    /// The start of the bucket holding the instant `micros` (microseconds since the epoch), as
    /// microseconds since the epoch. This is the formula every backend evaluates:
    /// `micros - (micros + offset) mod width`, with the remainder taken non-negative.
    pub const fn floor_micros(self, micros: i64) -> i64 {
        let width = self.micros();
        micros - (micros.wrapping_add(self.offset_micros())).rem_euclid(width)
    }

    /// The start of the bucket holding `instant`.
    pub fn start_of(self, instant: DateTime<Utc>) -> DateTime<Utc> {
        let micros = self.floor_micros(instant.timestamp_micros());
        DateTime::from_timestamp_micros(micros).unwrap_or(instant)
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bucket {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Bucket::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                Error::invalid_query(
                    "bucket",
                    format!("{text:?} is not a bucket width"),
                    "one of minute, hour, day, week",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn buckets_start_on_the_clock_in_utc() {
        let t = at(2026, 11, 25, 13, 47, 12);
        assert_eq!(Bucket::Minute.start_of(t), at(2026, 11, 25, 13, 47, 0));
        assert_eq!(Bucket::Hour.start_of(t), at(2026, 11, 25, 13, 0, 0));
        assert_eq!(Bucket::Day.start_of(t), at(2026, 11, 25, 0, 0, 0));
        let week = Bucket::Week.start_of(t);
        assert_eq!(week.weekday(), Weekday::Mon);
        assert_eq!((week.day(), week.hour()), (23, 0));
    }

    #[test]
    fn instants_before_the_epoch_fall_into_the_bucket_before() {
        let t = at(1969, 12, 31, 23, 59, 59);
        assert_eq!(Bucket::Day.start_of(t), at(1969, 12, 31, 0, 0, 0));
        assert_eq!(Bucket::Week.start_of(t), at(1969, 12, 29, 0, 0, 0));
        assert_eq!(
            Bucket::Week.start_of(at(1970, 1, 1, 0, 0, 0)),
            at(1969, 12, 29, 0, 0, 0)
        );
    }

    #[test]
    fn a_bucket_start_is_its_own_bucket() {
        for bucket in Bucket::ALL {
            let start = bucket.start_of(at(2026, 3, 29, 1, 30, 0));
            assert_eq!(bucket.start_of(start), start);
        }
    }

    #[test]
    fn bucket_names_parse_case_insensitively() {
        assert_eq!("Week".parse::<Bucket>().ok(), Some(Bucket::Week));
        assert!("fortnight".parse::<Bucket>().is_err());
    }
}
