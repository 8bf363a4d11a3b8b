//! The event model: [`AuditEvent`] is what a host appends, [`AuditEntry`] what a store returns.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::column::{
    Column, ColumnKind, EXTRA_KEY_MAX_CHARS, EXTRA_MAX_KEYS, EXTRA_VALUE_MAX_CHARS,
};
use crate::text::{normalize, normalized};

/// The id a store assigns to an entry: strictly increasing in append order, starting at 1.
pub type AuditId = i64;

const TEXT_COLUMNS: usize = Column::TEXT.len();

/// One audit event to append, built with chained setters.
///
/// Every setter normalises its value at once: text longer than the column's limit
/// ([`Column::max_chars`]) is truncated on a character boundary, NUL characters become U+FFFD,
/// timestamps are cut to microseconds and clamped to the years 1 to 9999. An event is therefore
/// never refused because of one long field.
///
/// ```
/// use audit_core::{AuditEvent, Column};
///
/// let event = AuditEvent::new("POST /validate/check")
///     .user("alice")
///     .realm("corp")
///     .success(false)
///     .extra("ticket", "T-17");
/// assert_eq!(event.text(Column::User), "alice");
/// assert!(!event.is_success());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    date: DateTime<Utc>,
    success: bool,
    /// Every text column, concatenated in [`Column::TEXT`] order; `ends[i]` is where column `i`
    /// ends. One allocation per event instead of one per column keeps copies cheap.
    text: Box<str>,
    ends: [u32; TEXT_COLUMNS],
    start_date: Option<DateTime<Utc>>,
    duration_micros: Option<i64>,
    extra: BTreeMap<String, String>,
}

macro_rules! text_setters {
    ($($method:ident => $column:ident),* $(,)?) => {
        impl AuditEvent {
            $(
                #[doc = concat!("Sets the `", stringify!($method), "` column (truncated to its limit).")]
                #[must_use]
                pub fn $method(self, value: impl AsRef<str>) -> Self {
                    self.with_text(Column::$column, value)
                }
            )*
        }

        impl AuditEntry {
            $(
                #[doc = concat!("The `", stringify!($method), "` column (empty when missing).")]
                pub fn $method(&self) -> &str {
                    self.event.text(Column::$column)
                }
            )*
        }
    };
}

text_setters! {
    description => Description,
    user => User,
    realm => Realm,
    resolver => Resolver,
    role => Role,
    administrator => Administrator,
    location => Location,
    serial => Serial,
    token_type => TokenType,
    authentication => Authentication,
    action_detail => ActionDetail,
    policies => Policies,
    user_agent => UserAgent,
    user_agent_version => UserAgentVersion,
    container_serial => ContainerSerial,
    container_type => ContainerType,
    log_level => LogLevel,
    clearance_level => ClearanceLevel,
    thread_id => ThreadId,
    server => Server,
}

/// 0001-01-01T00:00:00Z in microseconds since the Unix epoch.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z in microseconds since the Unix epoch.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// Clamps a timestamp to microseconds within the years 1 to 9999, the range every backend stores.
pub fn normalize_timestamp(value: DateTime<Utc>) -> DateTime<Utc> {
    let micros = value.timestamp_micros();
    if (MIN_MICROS..=MAX_MICROS).contains(&micros) && value.timestamp_subsec_nanos() % 1_000 == 0 {
        return value;
    }
    DateTime::from_timestamp_micros(micros.clamp(MIN_MICROS, MAX_MICROS)).unwrap_or(value)
}

impl AuditEvent {
    /// A new event named `event` (for example `POST /validate/check`), dated now, successful,
    /// with every other column missing.
    pub fn new(event: impl AsRef<str>) -> Self {
        AuditEvent {
            date: normalize_timestamp(Utc::now()),
            success: true,
            text: Box::from(""),
            ends: [0; TEXT_COLUMNS],
            start_date: None,
            duration_micros: None,
            extra: BTreeMap::new(),
        }
        .with_text(Column::Event, event)
    }

    /// Sets any text column; other columns are left unchanged.
    #[must_use]
    pub fn with_text(mut self, column: Column, value: impl AsRef<str>) -> Self {
        self.set_text(column, value.as_ref());
        self
    }

    /// Sets any text column in place; a column that is not text is ignored.
    pub fn set_text(&mut self, column: Column, value: &str) {
        if let (Some(index), Some(limit)) = (column.text_index(), column.max_chars()) {
            let value = normalized(value, limit);
            let start = if index == 0 {
                0
            } else {
                self.ends[index - 1] as usize
            };
            let end = self.ends[index] as usize;
            let mut text = std::mem::take(&mut self.text).into_string();
            text.replace_range(start..end, &value);
            // Every column is bounded by its limit, so the total stays far below u32::MAX.
            let new_end = u32::try_from(start + value.len()).unwrap_or(u32::MAX);
            let shift = i64::from(new_end) - self.ends[index] as i64;
            for later in &mut self.ends[index..] {
                *later = u32::try_from(i64::from(*later) + shift).unwrap_or(u32::MAX);
            }
            self.text = text.into_boxed_str();
        }
    }

    /// Rebuilds an event from stored values (for backends): `texts` are the text columns in
    /// [`Column::TEXT`] order, normalised as the setters do.
    pub fn restore<'t>(
        date: DateTime<Utc>,
        success: bool,
        texts: impl IntoIterator<Item = &'t str>,
        start_date: Option<DateTime<Utc>>,
        duration_micros: Option<i64>,
        extra: BTreeMap<String, String>,
    ) -> Self {
        let mut values: [std::borrow::Cow<'t, str>; TEXT_COLUMNS] = Default::default();
        let mut texts = texts.into_iter();
        for (column, value) in Column::TEXT.iter().zip(values.iter_mut()) {
            *value = normalized(
                texts.next().unwrap_or(""),
                column.max_chars().unwrap_or(usize::MAX),
            );
        }
        let mut text = String::with_capacity(values.iter().map(|v| v.len()).sum());
        let mut ends = [0u32; TEXT_COLUMNS];
        for (value, end) in values.iter().zip(ends.iter_mut()) {
            text.push_str(value);
            *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        let mut event = AuditEvent {
            date: normalize_timestamp(date),
            success,
            text: text.into_boxed_str(),
            ends,
            start_date: start_date.map(normalize_timestamp),
            duration_micros: duration_micros.map(|d| d.max(0)),
            extra: BTreeMap::new(),
        };
        for (key, value) in &extra {
            event.insert_extra(key, value);
        }
        event
    }

    fn text_at(&self, index: usize) -> &str {
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        let end = self.ends[index] as usize;
        self.text.get(start..end).unwrap_or("")
    }

    /// Sets when the event happened (stored in UTC with microsecond precision).
    #[must_use]
    pub fn date(mut self, date: DateTime<Utc>) -> Self {
        self.date = normalize_timestamp(date);
        self
    }

    /// Sets the outcome.
    #[must_use]
    pub fn success(mut self, success: bool) -> Self {
        self.success = success;
        self
    }

    /// Sets when handling of the request started.
    #[must_use]
    pub fn start_date(mut self, start: DateTime<Utc>) -> Self {
        self.start_date = Some(normalize_timestamp(start));
        self
    }

    /// Sets how long the request took (stored in whole microseconds).
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration_micros = Some(i64::try_from(duration.as_micros()).unwrap_or(i64::MAX));
        self
    }

    /// Sets the duration from microseconds; negative values count as zero.
    #[must_use]
    pub fn duration_micros(mut self, micros: i64) -> Self {
        self.duration_micros = Some(micros.max(0));
        self
    }

    /// Adds one of the host's own fields. Keys and values are truncated to
    /// [`EXTRA_KEY_MAX_CHARS`] and [`EXTRA_VALUE_MAX_CHARS`]; an empty key is ignored; of more
    /// than [`EXTRA_MAX_KEYS`] keys, the smallest in key order are kept.
    #[must_use]
    pub fn extra(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.insert_extra(key.as_ref(), value.as_ref());
        self
    }

    /// Adds one of the host's own fields in place (see [`AuditEvent::extra`]).
    pub fn insert_extra(&mut self, key: &str, value: &str) {
        let key = normalize(key, EXTRA_KEY_MAX_CHARS);
        if key.is_empty() {
            return;
        }
        let value = normalize(value, EXTRA_VALUE_MAX_CHARS);
        self.extra.insert(key.into(), value.into());
        while self.extra.len() > EXTRA_MAX_KEYS {
            self.extra.pop_last();
        }
    }

    /// The value of a text column (empty when missing, or when `column` is not text).
    pub fn text(&self, column: Column) -> &str {
        column.text_index().map_or("", |index| self.text_at(index))
    }

    /// The event name.
    pub fn event(&self) -> &str {
        self.text(Column::Event)
    }

    /// Every text column's value, in [`Column::TEXT`] order.
    pub fn texts(&self) -> impl Iterator<Item = &str> + '_ {
        (0..TEXT_COLUMNS).map(|index| self.text_at(index))
    }

    /// When the event happened.
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.date
    }

    /// The outcome.
    pub fn is_success(&self) -> bool {
        self.success
    }

    /// When handling started, if recorded.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.start_date
    }

    /// How long the request took in microseconds, if recorded.
    pub fn duration_in_micros(&self) -> Option<i64> {
        self.duration_micros
    }

    /// The host's own fields.
    pub fn extra_fields(&self) -> &BTreeMap<String, String> {
        &self.extra
    }

    /// One value of the host's own fields; empty when missing.
    pub fn extra_value(&self, key: &str) -> &str {
        self.extra.get(key).map_or("", String::as_str)
    }
}

/// A stored audit entry: an [`AuditEvent`] with the id its store assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    id: AuditId,
    event: AuditEvent,
}

impl AuditEntry {
    /// Pairs an event with the id its store assigned (for backends).
    pub fn new(id: AuditId, event: AuditEvent) -> Self {
        AuditEntry { id, event }
    }

    /// The id assigned by the store.
    pub fn id(&self) -> AuditId {
        self.id
    }

    /// The stored event.
    pub fn as_event(&self) -> &AuditEvent {
        &self.event
    }

    /// Gives the stored event back.
    pub fn into_event(self) -> AuditEvent {
        self.event
    }

    /// When the event happened.
    pub fn date(&self) -> DateTime<Utc> {
        self.event.date
    }

    /// The event name.
    pub fn event(&self) -> &str {
        self.event.event()
    }

    /// The outcome.
    pub fn success(&self) -> bool {
        self.event.success
    }

    /// The value of a text column (empty when missing).
    pub fn text(&self, column: Column) -> &str {
        self.event.text(column)
    }

    /// When handling started, if recorded.
    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.event.start_date
    }

    /// How long the request took, if recorded.
    pub fn duration(&self) -> Option<Duration> {
        self.event
            .duration_micros
            .map(|us| Duration::from_micros(us.max(0).unsigned_abs()))
    }

    /// The host's own fields.
    pub fn extra(&self) -> &BTreeMap<String, String> {
        &self.event.extra
    }

    /// The sort key of this entry for `column`.
    pub fn sort_key(&self, column: Column) -> SortValue {
        match column.kind() {
            ColumnKind::Integer => SortValue::Integer(self.id),
            ColumnKind::Bool => SortValue::Bool(self.event.success),
            ColumnKind::Text => SortValue::Text(self.text(column).to_owned()),
            ColumnKind::Duration => SortValue::OptionalInteger(self.event.duration_micros),
            ColumnKind::Timestamp if column == Column::StartDate => {
                SortValue::OptionalInteger(self.event.start_date.map(|d| d.timestamp_micros()))
            }
            ColumnKind::Timestamp => SortValue::Integer(self.event.date.timestamp_micros()),
            ColumnKind::Map => SortValue::Integer(0),
        }
    }
}

/// The value an entry is sorted by, in the order every backend uses: integers numerically,
/// booleans `false` before `true`, text by Unicode code point, and a missing optional value
/// before any present one. Timestamps are microseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValue {
    /// An integer or timestamp (microseconds since the epoch).
    Integer(i64),
    /// A value that may be missing (start date, duration); `None` sorts first.
    OptionalInteger(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// Text, compared by code point.
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_truncated_to_the_column_limit() {
        let long = "x".repeat(5000);
        let event = AuditEvent::new(&long).description(&long);
        assert_eq!(event.event().chars().count(), 200);
        assert_eq!(event.text(Column::Description).chars().count(), 2000);
    }

    #[test]
    fn extra_keeps_the_smallest_keys_when_over_the_limit() {
        let mut event = AuditEvent::new("e");
        for i in 0..(EXTRA_MAX_KEYS + 5) {
            event = event.extra(format!("k{i:03}"), "v");
        }
        assert_eq!(event.extra_fields().len(), EXTRA_MAX_KEYS);
        assert!(event.extra_fields().contains_key("k000"));
        assert!(!event.extra_fields().contains_key("k068"));
        assert!(event.clone().extra("", "ignored").extra_fields().len() == EXTRA_MAX_KEYS);
    }

    #[test]
    fn timestamps_are_cut_to_microseconds() {
        let date = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap_or_default();
        let event = AuditEvent::new("e").date(date);
        assert_eq!(event.timestamp().timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn timestamps_are_clamped_to_years_one_to_9999() {
        let far = DateTime::from_timestamp(400_000_000_000, 0).unwrap_or_default();
        let clamped = AuditEvent::new("e").date(far).timestamp();
        assert_eq!(clamped.to_rfc3339(), "9999-12-31T23:59:59.999999+00:00");
        let early = DateTime::from_timestamp(-70_000_000_000, 0).unwrap_or_default();
        assert_eq!(
            AuditEvent::new("e").date(early).timestamp().to_rfc3339(),
            "0001-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn missing_optional_values_sort_first() {
        assert!(SortValue::OptionalInteger(None) < SortValue::OptionalInteger(Some(-5)));
    }
}
