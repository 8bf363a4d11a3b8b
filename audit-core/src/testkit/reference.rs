//! The reference model: a deliberately naive evaluation of the query language that every
//! backend's answers are compared with. It shares no matching or ordering code with the
//! backends: it folds, matches wildcards and pages on its own, in the plainest way.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::column::{Column, ColumnKind};
use crate::event::AuditEntry;
use crate::query::{AuditQuery, Condition, Cursor, Direction, Field, Page, TextMatch};

/// The expected answer to a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The ids of the page, in order.
    pub ids: Vec<i64>,
    /// Entries matching the filter.
    pub filter_count: u64,
    /// All entries.
    pub total_count: u64,
    /// The cursor after the page, when more entries follow.
    pub next_cursor: Option<Cursor>,
}

/// Every entry a store holds, as the kit appended it.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    entries: Vec<AuditEntry>,
    /// Per entry, its text columns folded, in [`Column::TEXT`] order.
    folded: Vec<Vec<Vec<char>>>,
}

fn fold(text: &str) -> Vec<char> {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Whether `text` matches `pattern`, where `*` is any run; both already folded. Plain dynamic
/// programming over characters.
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    // reachable[j]: the pattern prefix consumed so far matches text[..j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for p in pattern {
        let mut next = vec![false; text.len() + 1];
        if *p == '*' {
            let mut seen = false;
            for j in 0..=text.len() {
                seen |= reachable[j];
                next[j] = seen;
            }
        } else {
            for j in 0..text.len() {
                next[j + 1] = reachable[j] && text[j] == *p;
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

fn contains(haystack: &[char], needle: &[char]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn field_text<'e>(entry: &'e AuditEntry, field: &Field) -> &'e str {
    match field {
        Field::Column(column) => entry.text(*column),
        Field::Extra(key) => entry.extra().get(key).map_or("", String::as_str),
    }
}

fn holds(condition: &Condition, entry: &AuditEntry) -> bool {
    match condition {
        Condition::Text {
            field,
            matcher,
            negated,
        } => {
            let value = field_text(entry, field);
            let hit = match matcher {
                TextMatch::Exact(expected) => value == expected,
                TextMatch::Pattern(pattern) => wildcard(&fold(pattern.as_str()), &fold(value)),
            };
            hit != *negated
        }
        Condition::Success(expected) => entry.success() == *expected,
        Condition::Id { id, negated } => (entry.id() == *id) != *negated,
        Condition::Time {
            column,
            range,
            negated,
        } => {
            let instant = if *column == Column::StartDate {
                entry.start_date()
            } else {
                Some(entry.date())
            };
            let inside = instant.is_some_and(|t| {
                range.from.is_none_or(|from| t >= from) && range.to.is_none_or(|to| t < to)
            });
            inside != *negated
        }
        Condition::Any {
            conditions,
            negated,
        } => conditions.iter().any(|c| holds(c, entry)) != *negated,
    }
}

fn compare(a: &AuditEntry, b: &AuditEntry, column: Column) -> Ordering {
    let key = match column.kind() {
        ColumnKind::Text => a.text(column).chars().cmp(b.text(column).chars()),
        ColumnKind::Bool => a.success().cmp(&b.success()),
        ColumnKind::Integer => a.id().cmp(&b.id()),
        ColumnKind::Timestamp if column == Column::StartDate => a.start_date().cmp(&b.start_date()),
        ColumnKind::Timestamp => a.date().cmp(&b.date()),
        ColumnKind::Duration => a.duration().cmp(&b.duration()),
        _ => Ordering::Equal,
    };
    key.then(a.id().cmp(&b.id()))
}

impl Reference {
    /// A model holding `entries`.
    pub fn new(entries: Vec<AuditEntry>) -> Self {
        let folded = entries
            .iter()
            .map(|e| Column::TEXT.iter().map(|c| fold(e.text(*c))).collect())
            .collect();
        Reference { entries, folded }
    }

    /// The entries, in id order.
    pub fn entries(&self) -> &[AuditEntry] {
        &self.entries
    }

    /// The entries matching the query's filter, in the query's order (the page is ignored).
    pub fn matching(&self, query: &AuditQuery, now: DateTime<Utc>) -> Vec<&AuditEntry> {
        let from = [
            query.range().from,
            query
                .relative_limit()
                .and_then(|l| now.checked_sub_signed(l.length())),
        ]
        .into_iter()
        .flatten()
        .max();
        let to = query.range().to;
        let needle = query.find_text().map(fold);
        let mut hits: Vec<&AuditEntry> = self
            .entries
            .iter()
            .zip(&self.folded)
            .filter(|(e, _)| from.is_none_or(|f| e.date() >= f) && to.is_none_or(|t| e.date() < t))
            .filter(|(_, texts)| {
                needle.as_ref().is_none_or(|needle| {
                    texts
                        .iter()
                        .zip(Column::TEXT)
                        .any(|(t, c)| query.searches(*c) && contains(t, needle))
                })
            })
            .filter(|(e, _)| query.conditions().iter().all(|c| holds(c, e)))
            .map(|(e, _)| e)
            .collect();
        let sort = query.sort_order();
        hits.sort_by(|a, b| {
            let ord = compare(a, b, sort.column());
            if sort.direction() == Direction::Desc {
                ord.reverse()
            } else {
                ord
            }
        });
        hits
    }

    /// The expected page, counts and next cursor for `query` run at `now`.
    pub fn answer(&self, query: &AuditQuery, now: DateTime<Utc>) -> Expected {
        let hits = self.matching(query, now);
        let count = query.page_spec().count() as usize;
        let start = match query.page_spec() {
            Page::Offset { start, .. } => usize::try_from(*start)
                .unwrap_or(usize::MAX)
                .min(hits.len()),
            Page::After { cursor, .. } => {
                let column = cursor.sort().column();
                let beyond = |e: &&AuditEntry| {
                    let ord =
                        (e.sort_key(column), e.id()).cmp(&(cursor.key().clone(), cursor.id()));
                    if cursor.sort().direction() == Direction::Desc {
                        ord.is_lt()
                    } else {
                        ord.is_gt()
                    }
                };
                hits.iter().position(beyond).unwrap_or(hits.len())
            }
        };
        let end = start.saturating_add(count).min(hits.len());
        let page = &hits[start..end];
        let next_cursor = if end < hits.len() && !page.is_empty() {
            page.last()
                .map(|e| Cursor::after_entry(e, query.sort_order()))
        } else {
            None
        };
        Expected {
            ids: page.iter().map(|e| e.id()).collect(),
            filter_count: hits.len() as u64,
            total_count: if query.is_scoped() {
                self.matching(&query.scope_query(), now).len() as u64
            } else {
                self.entries.len() as u64
            },
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_wildcard_is_plain_glob() {
        let m = |p: &str, t: &str| wildcard(&fold(p), &fold(t));
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("*ÄRGER*", "großer ärger"));
        assert!(m("%", "%"));
        assert!(!m("%", "x"));
    }
}
