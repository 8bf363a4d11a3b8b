//! The stored row: which columns a SQL backend writes and reads, and how an event maps to them.

use std::collections::BTreeMap;

use chrono::DateTime;

use crate::column::Column;
use crate::error::{Error, Result};
use crate::event::{AuditEntry, AuditEvent, AuditId};
use crate::text::fold;

/// One value of a stored row, typed for binding.
#[derive(Debug, Clone, PartialEq)]
pub enum RowValue<'a> {
    /// An integer (dates and durations are microseconds).
    Int(i64),
    /// A nullable integer.
    OptionalInt(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// Text borrowed from the event.
    Text(&'a str),
    /// Nullable text computed for storage (folded shadows, JSON).
    OptionalText(Option<String>),
}

/// The name of the folded shadow of a text column, for example `user_folded`.
pub fn folded_column_name(column: Column) -> String {
    format!("{}_folded", column.name())
}

/// The columns a backend writes for each event (the id is assigned by the engine), in the order
/// of [`encode_event`]'s values.
pub fn stored_columns() -> Vec<String> {
    let mut names = vec![
        Column::Date.name().to_owned(),
        Column::Success.name().to_owned(),
    ];
    names.extend(Column::TEXT.iter().map(|c| c.name().to_owned()));
    names.extend(Column::TEXT.iter().map(|c| folded_column_name(*c)));
    names.extend([
        Column::StartDate.name().to_owned(),
        Column::Duration.name().to_owned(),
        "extra".to_owned(),
        "extra_folded".to_owned(),
    ]);
    names
}

fn folded_if_changed(text: &str) -> Option<String> {
    let folded = fold(text);
    (folded != text).then_some(folded)
}

/// The values to store for `event`, in the order of [`stored_columns`].
pub fn encode_event(event: &AuditEvent) -> Vec<RowValue<'_>> {
    let mut values = Vec::with_capacity(4 + 2 * Column::TEXT.len() + 4);
    values.push(RowValue::Int(event.timestamp().timestamp_micros()));
    values.push(RowValue::Bool(event.is_success()));
    values.extend(Column::TEXT.iter().map(|c| RowValue::Text(event.text(*c))));
    values.extend(
        Column::TEXT
            .iter()
            .map(|c| RowValue::OptionalText(folded_if_changed(event.text(*c)))),
    );
    values.push(RowValue::OptionalInt(
        event.started_at().map(|d| d.timestamp_micros()),
    ));
    values.push(RowValue::OptionalInt(event.duration_in_micros()));
    let extra = event.extra_fields();
    let (json, folded_json) = if extra.is_empty() {
        (None, None)
    } else {
        let folded: BTreeMap<&str, String> =
            extra.iter().map(|(k, v)| (k.as_str(), fold(v))).collect();
        let changed = folded
            .iter()
            .any(|(k, v)| extra.get(*k).is_some_and(|original| original != v));
        (
            serde_json::to_string(extra).ok(),
            if changed {
                serde_json::to_string(&folded).ok()
            } else {
                None
            },
        )
    };
    values.push(RowValue::OptionalText(json));
    values.push(RowValue::OptionalText(folded_json));
    values
}

/// A stored row as read back, in the order of [`select_columns`](crate::sql::page_statement)'s
/// columns: id, date, success, the text columns, start date, duration, extra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow<T = String> {
    /// The id.
    pub id: AuditId,
    /// Microseconds since the epoch.
    pub date: i64,
    /// The outcome.
    pub success: bool,
    /// The text columns in [`Column::TEXT`] order.
    pub texts: Vec<T>,
    /// Microseconds since the epoch.
    pub start_date: Option<i64>,
    /// Microseconds.
    pub duration: Option<i64>,
    /// The host's fields as JSON.
    pub extra: Option<T>,
}

fn corrupt(id: AuditId, what: &str) -> Error {
    Error::Integrity(format!("entry {id}: the stored {what} cannot be read"))
}

/// Rebuilds an entry from its stored row (text owned, or borrowed from the driver's row).
pub fn decode_entry<T: AsRef<str>>(row: StoredRow<T>) -> Result<AuditEntry> {
    let id = row.id;
    let date = DateTime::from_timestamp_micros(row.date).ok_or_else(|| corrupt(id, "date"))?;
    let start_date = match row.start_date {
        Some(micros) => {
            Some(DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(id, "start date"))?)
        }
        None => None,
    };
    let extra: BTreeMap<String, String> = match row.extra {
        Some(json) => {
            serde_json::from_str(json.as_ref()).map_err(|_| corrupt(id, "extra fields"))?
        }
        None => BTreeMap::new(),
    };
    let event = AuditEvent::restore(
        date,
        row.success,
        row.texts.iter().map(AsRef::as_ref),
        start_date,
        row.duration,
        extra,
    );
    Ok(AuditEntry::new(id, event))
}

/// The extra fields of a stored row as a chain check must see them: the JSON object this layout
/// wrote or, for text that is not one, a map no entry can have (so the MAC cannot match).
pub fn extra_for_check(json: &str) -> BTreeMap<String, String> {
    serde_json::from_str(json)
        .unwrap_or_else(|_| [("\0unreadable".to_owned(), json.to_owned())].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_survives_encoding_and_decoding() {
        let event = AuditEvent::new("POST /Auth")
            .user("ÄRGER")
            .extra("k", "Vä")
            .duration_micros(5);
        let values = encode_event(&event);
        assert_eq!(values.len(), stored_columns().len());
        let texts: Vec<String> = Column::TEXT
            .iter()
            .map(|c| event.text(*c).to_owned())
            .collect();
        let extra = values.iter().rev().nth(1).and_then(|v| match v {
            RowValue::OptionalText(t) => t.clone(),
            _ => None,
        });
        let row = StoredRow {
            id: 9,
            date: event.timestamp().timestamp_micros(),
            success: true,
            texts,
            start_date: None,
            duration: Some(5),
            extra,
        };
        assert_eq!(decode_entry(row).ok(), Some(AuditEntry::new(9, event)));
    }

    #[test]
    fn folded_shadows_are_stored_only_when_folding_changes_the_text() {
        let event = AuditEvent::new("lower").user("Alice");
        let values = encode_event(&event);
        let shadows = &values[2 + Column::TEXT.len()..2 + 2 * Column::TEXT.len()];
        assert_eq!(shadows[0], RowValue::OptionalText(None));
        let user = Column::User.text_index().unwrap_or(0);
        assert_eq!(shadows[user], RowValue::OptionalText(Some("alice".into())));
    }
}
