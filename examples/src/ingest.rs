//! `POST /events`: events shipped over HTTP as a JSON array or NDJSON, with DESIGN §2's
//! canonical field names.

use std::collections::BTreeMap;

use audit_core::query::parse_timestamp;
use audit_core::{AuditEvent, Column};
use serde_json::Value;

/// Why a batch was refused: the index of the event, the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    /// The position of the event in the batch, from 0.
    pub index: usize,
    /// The field (or `body` when the body itself cannot be read).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event {}: field {:?}: {}",
            self.index, self.field, self.problem
        )
    }
}

fn invalid(index: usize, field: &str, problem: impl Into<String>) -> InvalidEvent {
    InvalidEvent {
        index,
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// Reads a body: a JSON array of events, or one JSON event per line (NDJSON). Any invalid event
/// refuses the whole batch.
pub fn parse_events(body: &[u8]) -> Result<Vec<AuditEvent>, InvalidEvent> {
    let text =
        std::str::from_utf8(body).map_err(|_| invalid(0, "body", "the body is not UTF-8"))?;
    let values: Vec<Value> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text)
            .map_err(|e| invalid(0, "body", format!("not a JSON array of events: {e}")))?
    } else {
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map_err(|e| invalid(i, "body", format!("line is not JSON: {e}")))
            })
            .collect::<Result<_, _>>()?
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| event_from_json(i, v))
        .collect()
}

fn text<'v>(index: usize, field: &str, value: &'v Value) -> Result<&'v str, InvalidEvent> {
    value
        .as_str()
        .ok_or_else(|| invalid(index, field, "expected a string"))
}

fn event_from_json(index: usize, value: &Value) -> Result<AuditEvent, InvalidEvent> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(index, "event", "expected a JSON object"))?;
    let name = object
        .get("event")
        .ok_or_else(|| invalid(index, "event", "the field is required"))?;
    let mut event = AuditEvent::new(text(index, "event", name)?);
    for (field, value) in object {
        if value.is_null() {
            continue;
        }
        match field.as_str() {
            "event" => {}
            "date" | "start_date" => {
                let instant = parse_timestamp(text(index, field, value)?).ok_or_else(|| {
                    invalid(
                        index,
                        field,
                        "expected an ISO-8601 timestamp such as 2026-05-01T12:00:00Z",
                    )
                })?;
                event = if field == "date" {
                    event.date(instant)
                } else {
                    event.start_date(instant)
                };
            }
            "success" => {
                event = event.success(
                    value
                        .as_bool()
                        .ok_or_else(|| invalid(index, field, "expected true or false"))?,
                );
            }
            "duration" => {
                let seconds = value
                    .as_f64()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e12)
                    .ok_or_else(|| {
                        invalid(index, field, "expected seconds as a non-negative number")
                    })?;
                event = event.duration_micros((seconds * 1_000_000.0).round() as i64);
            }
            "extra" => {
                let map = value
                    .as_object()
                    .ok_or_else(|| invalid(index, field, "expected an object of strings"))?;
                let mut extra = BTreeMap::new();
                for (key, value) in map {
                    extra.insert(
                        key.clone(),
                        text(index, &format!("extra.{key}"), value)?.to_owned(),
                    );
                }
                for (key, value) in &extra {
                    event = event.extra(key, value);
                }
            }
            other => match Column::from_name(other).filter(|c| c.text_index().is_some()) {
                Some(column) => event = event.with_text(column, text(index, other, value)?),
                None => return Err(invalid(index, other, "not a field of an audit event")),
            },
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_ndjson_are_read() {
        let array = br#"[{"event": "POST /auth", "user": "alice", "success": false, "duration": 0.25, "extra": {"ticket": "T-1"}}]"#;
        let events = parse_events(array).unwrap_or_default();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].text(Column::User), "alice");
        assert_eq!(events[0].duration_in_micros(), Some(250_000));
        let ndjson =
            b"{\"event\": \"a\"}\n\n{\"event\": \"b\", \"date\": \"2026-05-01T12:00:00Z\"}\n";
        assert_eq!(parse_events(ndjson).map(|e| e.len()).ok(), Some(2));
    }

    #[test]
    fn one_bad_event_names_its_index_and_field() {
        let body = br#"[{"event": "ok"}, {"event": "bad", "success": "yes"}]"#;
        let error = parse_events(body).err();
        assert_eq!(
            error.map(|e| (e.index, e.field)),
            Some((1, "success".to_owned()))
        );
        assert!(parse_events(br#"[{"user": "x"}]"#).is_err());
        assert!(parse_events(br#"[{"event": "x", "nope": "x"}]"#).is_err());
    }
}
