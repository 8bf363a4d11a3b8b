//! Stored rows with their folded text, and filters evaluated against them.

use audit_core::query::{Condition, Field, TextMatch, TimeRange};
use audit_core::text::fold;
use audit_core::{AuditEntry, AuditEvent, AuditQuery, Column};
use chrono::{DateTime, Utc};

/// Separates the folded text columns; stored text never contains NUL (events replace it).
const SEPARATOR: char = '\0';

/// An entry and the folded form of its text columns, joined by NUL in [`Column::TEXT`] order.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) entry: AuditEntry,
    folded: Box<str>,
}

impl Row {
    pub(crate) fn new(id: i64, event: AuditEvent) -> Self {
        let mut folded = String::new();
        for (i, column) in Column::TEXT.iter().enumerate() {
            if i > 0 {
                folded.push(SEPARATOR);
            }
            folded.push_str(&fold(event.text(*column)));
        }
        Row {
            entry: AuditEntry::new(id, event),
            folded: folded.into_boxed_str(),
        }
    }

    pub(crate) fn set_id(&mut self, id: i64) {
        let event = std::mem::replace(&mut self.entry, AuditEntry::new(0, AuditEvent::new("")))
            .into_event();
        self.entry = AuditEntry::new(id, event);
    }

    fn folded_column(&self, column: Column) -> &str {
        column
            .text_index()
            .and_then(|index| self.folded.split(SEPARATOR).nth(index))
            .unwrap_or("")
    }
}

/// A query's conditions, free text and time window, ready to test rows.
pub(crate) struct Filter<'q> {
    conditions: &'q [Condition],
    find: Option<&'q str>,
    range: TimeRange,
}

impl<'q> Filter<'q> {
    pub(crate) fn new(query: &'q AuditQuery, now: DateTime<Utc>) -> Self {
        Filter {
            conditions: query.conditions(),
            find: query.find_text(),
            range: query.effective_range(now),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.conditions.is_empty() && self.find.is_none() && self.range.is_unbounded()
    }

    pub(crate) fn date_range(&self) -> TimeRange {
        self.range
    }

    pub(crate) fn matches(&self, row: &Row) -> bool {
        self.range.contains(row.entry.date())
            && self.find.is_none_or(|needle| row.folded.contains(needle))
            && self.conditions.iter().all(|c| condition_holds(c, row))
    }
}

fn condition_holds(condition: &Condition, row: &Row) -> bool {
    let entry = &row.entry;
    match condition {
        Condition::Text {
            field,
            matcher,
            negated,
        } => {
            let hit = match (field, matcher) {
                (Field::Column(column), TextMatch::Exact(value)) => entry.text(*column) == value,
                (Field::Column(column), TextMatch::Pattern(pattern)) => {
                    pattern.matches_folded(row.folded_column(*column))
                }
                (Field::Extra(key), TextMatch::Exact(value)) => {
                    entry.as_event().extra_value(key) == value
                }
                (Field::Extra(key), TextMatch::Pattern(pattern)) => {
                    pattern.matches(entry.as_event().extra_value(key))
                }
            };
            hit != *negated
        }
        Condition::Success(value) => entry.success() == *value,
        Condition::Id { id, negated } => (entry.id() == *id) != *negated,
        Condition::Time {
            column,
            range,
            negated,
        } => {
            let inside = match column {
                Column::StartDate => entry.start_date().is_some_and(|d| range.contains(d)),
                _ => range.contains(entry.date()),
            };
            inside != *negated
        }
        // Conditions added to the query language later must be handled here before use.
        _ => false,
    }
}
