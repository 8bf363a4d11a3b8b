//! A query's filter compiled against the store's dictionaries, then tested row by row.

use std::collections::BTreeMap;

use audit_core::query::{Condition, Field, TextMatch, TimeRange};
use audit_core::{AuditQuery, Column};
use chrono::{DateTime, Utc};

use crate::table::Table;

enum Test {
    /// The column's code equals `code` (`None`: no row holds the value).
    Code {
        column: usize,
        code: Option<u32>,
        negated: bool,
    },
    /// The column's code is in `set`.
    CodeSet {
        column: usize,
        set: Vec<bool>,
        negated: bool,
    },
    /// A host field, matched on the fly.
    Extra {
        key: String,
        matcher: TextMatch,
        negated: bool,
    },
    /// A test whose answer does not depend on the row.
    Constant(bool),
    Success(bool),
    Id {
        id: i64,
        negated: bool,
    },
    Date {
        range: TimeRange,
        negated: bool,
    },
    StartDate {
        range: TimeRange,
        negated: bool,
    },
    /// At least one of the tests holds.
    Any {
        tests: Vec<Test>,
        negated: bool,
    },
}

impl Test {
    fn holds(&self, table: &Table, row: usize) -> bool {
        match self {
            Test::Code {
                column,
                code,
                negated,
            } => (Some(table.codes[*column][row]) == *code) != *negated,
            Test::CodeSet {
                column,
                set,
                negated,
            } => {
                set.get(table.codes[*column][row] as usize)
                    .copied()
                    .unwrap_or(false)
                    != *negated
            }
            Test::Extra {
                key,
                matcher,
                negated,
            } => {
                let value = extra_value(table.extras.get(&row), key);
                let hit = match matcher {
                    TextMatch::Exact(expected) => value == expected,
                    TextMatch::Pattern(pattern) => pattern.matches(value),
                };
                hit != *negated
            }
            Test::Constant(value) => *value,
            Test::Success(value) => table.success[row] == *value,
            Test::Id { id, negated } => (table.ids[row] == *id) != *negated,
            Test::Date { range, negated } => in_range(table.dates[row], range) != *negated,
            Test::StartDate { range, negated } => {
                table.starts[row].is_some_and(|start| in_range(start, range)) != *negated
            }
            Test::Any { tests, negated } => {
                tests.iter().any(|test| test.holds(table, row)) != *negated
            }
        }
    }
}

/// A compiled filter: every test must hold.
pub(crate) struct Filter {
    range: TimeRange,
    /// Free text: per text column, the codes whose folded value contains the needle.
    find: Option<Vec<Vec<bool>>>,
    tests: Vec<Test>,
}

fn micros(range: TimeRange) -> (i64, i64) {
    (
        range.from.map_or(i64::MIN, |d| d.timestamp_micros()),
        range.to.map_or(i64::MAX, |d| d.timestamp_micros()),
    )
}

fn in_range(value: i64, range: &TimeRange) -> bool {
    let (from, to) = micros(*range);
    value >= from && value < to
}

fn extra_value<'e>(extras: Option<&'e BTreeMap<String, String>>, key: &str) -> &'e str {
    extras.and_then(|m| m.get(key)).map_or("", String::as_str)
}

impl Filter {
    pub(crate) fn compile(query: &AuditQuery, now: DateTime<Utc>, table: &Table) -> Self {
        let tests = query
            .conditions()
            .iter()
            .filter_map(|condition| compile_condition(condition, table))
            .collect();
        let find = query.find_text().map(|needle| {
            Column::TEXT
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    if query.searches(*column) {
                        table
                            .dictionary(i)
                            .codes_where(|folded| folded.contains(needle))
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        });
        Filter {
            range: query.effective_range(now),
            find,
            tests,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.range.is_unbounded() && self.find.is_none() && self.tests.is_empty()
    }

    pub(crate) fn date_range(&self) -> TimeRange {
        self.range
    }

    /// Whether row `row` passes.
    pub(crate) fn matches(&self, table: &Table, row: usize) -> bool {
        if !self.range.is_unbounded() && !in_range(table.dates[row], &self.range) {
            return false;
        }
        let passes = self.tests.iter().all(|test| test.holds(table, row));
        passes
            && self.find.as_ref().is_none_or(|sets| {
                sets.iter()
                    .zip(&table.codes)
                    .any(|(set, codes)| set.get(codes[row] as usize).copied().unwrap_or(false))
            })
    }
}

fn compile_condition(condition: &Condition, table: &Table) -> Option<Test> {
    Some(match condition {
        Condition::Text {
            field: Field::Column(column),
            matcher,
            negated,
        } => {
            let Some(index) = column.text_index() else {
                // A column that is not text reads as the empty string.
                let hit = match matcher {
                    TextMatch::Exact(value) => value.is_empty(),
                    TextMatch::Pattern(pattern) => pattern.matches(""),
                };
                return Some(Test::Constant(hit != *negated));
            };
            let dictionary = table.dictionary(index);
            match matcher {
                TextMatch::Exact(value) => Test::Code {
                    column: index,
                    code: dictionary.code(value),
                    negated: *negated,
                },
                TextMatch::Pattern(pattern) => Test::CodeSet {
                    column: index,
                    set: dictionary.codes_where(|folded| pattern.matches_folded(folded)),
                    negated: *negated,
                },
            }
        }
        Condition::Text {
            field: Field::Extra(key),
            matcher,
            negated,
        } => Test::Extra {
            key: key.clone(),
            matcher: matcher.clone(),
            negated: *negated,
        },
        Condition::Success(value) => Test::Success(*value),
        Condition::Id { id, negated } => Test::Id {
            id: *id,
            negated: *negated,
        },
        Condition::Time {
            column: Column::StartDate,
            range,
            negated,
        } => Test::StartDate {
            range: *range,
            negated: *negated,
        },
        Condition::Time { range, negated, .. } => Test::Date {
            range: *range,
            negated: *negated,
        },
        Condition::Any {
            conditions,
            negated,
        } => Test::Any {
            tests: conditions
                .iter()
                .filter_map(|c| compile_condition(c, table))
                .collect(),
            negated: *negated,
        },
        // A condition this store does not know cannot be honoured; match nothing rather than
        // everything.
        _ => Test::Id {
            id: 0,
            negated: false,
        },
    })
}
