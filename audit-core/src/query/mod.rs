//! The query language (DESIGN §3) as plain Rust types: filters, free text, time windows, sort
//! order and paging.

mod cursor;
mod filter;
mod pattern;
mod sort;
mod time;

use chrono::{DateTime, Utc};

pub use cursor::Cursor;
pub use filter::{Condition, Field, MAX_FILTER_VALUE_BYTES, TextMatch, check_value, parse_bool};
pub use pattern::Pattern;
pub use sort::{Direction, Sort};
pub use time::{TimeLimit, TimeRange, TimeUnit, parse_date_filter, parse_timestamp};

use crate::column::Column;
use crate::error::Error;
use crate::event::AuditEntry;
use crate::text::fold;

/// The most entries one page may hold.
pub const MAX_PAGE_SIZE: u32 = 10_000;
/// The page size of a query that does not set one.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Which slice of the sorted result a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// Skip `start` entries, then return up to `count`.
    Offset {
        /// Entries to skip.
        start: u64,
        /// Entries to return.
        count: u32,
    },
    /// Return up to `count` entries strictly beyond `cursor`; constant cost at any depth.
    After {
        /// The position of the last entry already seen.
        cursor: Cursor,
        /// Entries to return.
        count: u32,
    },
}

impl Page {
    /// The most entries the page holds.
    pub fn count(&self) -> u32 {
        match self {
            Page::Offset { count, .. } | Page::After { count, .. } => *count,
        }
    }

    fn with_count(&self, count: u32) -> Page {
        match self {
            Page::Offset { start, .. } => Page::Offset {
                start: *start,
                count,
            },
            Page::After { cursor, .. } => Page::After {
                cursor: cursor.clone(),
                count,
            },
        }
    }
}

fn check_count(parameter: &str, count: u32) -> Result<u32, Error> {
    if count > MAX_PAGE_SIZE {
        return Err(Error::invalid_query(
            parameter,
            format!("{count} is more than a page may hold"),
            format!("a whole number from 0 to {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(count)
}

/// A query for audit entries: conditions (all must hold), free text, a time window, the sort
/// order and the page.
///
/// ```
/// use audit_core::{AuditQuery, Column, Direction};
///
/// # fn main() -> audit_core::Result<()> {
/// let query = AuditQuery::new()
///     .filter("user", "alice")?
///     .filter("authentication", "!CHAL*")?
///     .time_limit("7d".parse()?)
///     .find("token")?
///     .sort(Column::Date, Direction::Desc)?
///     .offset(0, 20)?;
/// assert_eq!(query.conditions().len(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    conditions: Vec<Condition>,
    find: Option<String>,
    /// Text columns free text does not look at (hidden from the caller).
    unsearched: Vec<Column>,
    /// The caller's scope: these conditions are among `conditions` too, and with `scope_age`
    /// they define the entries `total_count` counts.
    scope_conditions: Vec<Condition>,
    scope_age: Option<TimeLimit>,
    scoped: bool,
    range: TimeRange,
    time_limit: Option<TimeLimit>,
    sort: Sort,
    page: Page,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery::new()
    }
}

impl AuditQuery {
    /// Everything, newest first, first page of [`DEFAULT_PAGE_SIZE`].
    pub fn new() -> Self {
        AuditQuery {
            conditions: Vec::new(),
            find: None,
            unsearched: Vec::new(),
            scope_conditions: Vec::new(),
            scope_age: None,
            scoped: false,
            range: TimeRange::default(),
            time_limit: None,
            sort: Sort::default(),
            page: Page::Offset {
                start: 0,
                count: DEFAULT_PAGE_SIZE,
            },
        }
    }

    /// Adds a filter parsed from client text (see [`Condition::parse`]); an empty or all-`*`
    /// value adds nothing.
    pub fn filter(mut self, field: &str, value: &str) -> Result<Self, Error> {
        if let Some(condition) = Condition::parse(field, value)? {
            self.conditions.push(condition);
        }
        Ok(self)
    }

    /// Adds a typed condition.
    #[must_use]
    pub fn condition(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// Free text: a case-insensitive substring of any text column; empty text is no filter.
    pub fn find(mut self, text: &str) -> Result<Self, Error> {
        check_value("find", text)?;
        self.find = (!text.is_empty()).then(|| fold(text));
        Ok(self)
    }

    /// Entries dated at or after `from`.
    #[must_use]
    pub fn from(mut self, from: DateTime<Utc>) -> Self {
        self.range.from = Some(from);
        self
    }

    /// Entries dated before `to`.
    #[must_use]
    pub fn to(mut self, to: DateTime<Utc>) -> Self {
        self.range.to = Some(to);
        self
    }

    /// Entries dated within `limit` of the moment the query runs.
    #[must_use]
    pub fn time_limit(mut self, limit: TimeLimit) -> Self {
        self.time_limit = Some(limit);
        self
    }

    /// Sorts by `column` (then by `id`) in `direction`.
    pub fn sort(mut self, column: Column, direction: Direction) -> Result<Self, Error> {
        self.sort = Sort::new(column, direction)?;
        Ok(self)
    }

    /// Sets the sort order.
    #[must_use]
    pub fn sorted(mut self, sort: Sort) -> Self {
        self.sort = sort;
        self
    }

    /// Skips `start` entries and returns up to `count` (at most [`MAX_PAGE_SIZE`]).
    pub fn offset(mut self, start: u64, count: u32) -> Result<Self, Error> {
        self.page = Page::Offset {
            start,
            count: check_count("count", count)?,
        };
        Ok(self)
    }

    /// Page number `page` (from 1) of `page_size` entries.
    pub fn page(mut self, page: u64, page_size: u32) -> Result<Self, Error> {
        let page_size = check_count("page_size", page_size)?;
        if page == 0 {
            return Err(Error::invalid_query(
                "page",
                "pages count from 1",
                "a whole number from 1",
            ));
        }
        let start = (page - 1)
            .checked_mul(u64::from(page_size))
            .ok_or_else(|| {
                Error::invalid_query(
                    "page",
                    format!("page {page} is beyond any result"),
                    "a smaller page number",
                )
            })?;
        self.page = Page::Offset {
            start,
            count: page_size,
        };
        Ok(self)
    }

    /// Up to `count` entries after `cursor`; the cursor must belong to this query's sort order,
    /// so set the sort first.
    pub fn after(mut self, cursor: Cursor, count: u32) -> Result<Self, Error> {
        if cursor.sort() != self.sort {
            return Err(Error::invalid_query(
                "cursor",
                format!(
                    "the cursor belongs to the order {} {}, the query sorts by {} {}",
                    cursor.sort().column(),
                    cursor.sort().direction(),
                    self.sort.column(),
                    self.sort.direction()
                ),
                "a cursor from a page with the same sort order",
            ));
        }
        self.page = Page::After {
            cursor,
            count: check_count("count", count)?,
        };
        Ok(self)
    }

    /// The conditions, all of which must hold.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The folded free-text needle, if any.
    pub fn find_text(&self) -> Option<&str> {
        self.find.as_deref()
    }

    /// The absolute time range on `date` (without the relative limit).
    pub fn range(&self) -> TimeRange {
        self.range
    }

    /// The relative time limit, if any.
    pub fn relative_limit(&self) -> Option<TimeLimit> {
        self.time_limit
    }

    /// The range on `date` in force when the query runs at `now`: the absolute range
    /// intersected with the relative limit. Every backend must use this.
    pub fn effective_range(&self, now: DateTime<Utc>) -> TimeRange {
        match self.time_limit {
            Some(limit) => self.range.intersect(limit.range_ending(now)),
            None => self.range,
        }
    }

    /// The sort order.
    pub fn sort_order(&self) -> Sort {
        self.sort
    }

    /// The page.
    pub fn page_spec(&self) -> &Page {
        &self.page
    }

    /// The same query asking for `count` entries (used to look one entry ahead).
    #[must_use]
    pub fn with_count(&self, count: u32) -> Self {
        AuditQuery {
            page: self.page.with_count(count),
            ..self.clone()
        }
    }

    /// Holds the query to a caller's scope: `conditions` must hold and entries older than
    /// `max_age` are excluded, for the page, the filter count and the total count alike
    /// (which then counts the entries in scope, not the whole log). Used by
    /// [`Scope::restrict`](crate::Scope::restrict).
    #[must_use]
    pub fn restrict(mut self, conditions: Vec<Condition>, max_age: Option<TimeLimit>) -> Self {
        self.scoped = true;
        self.conditions.extend(conditions.iter().cloned());
        self.scope_conditions.extend(conditions);
        if let Some(limit) = max_age {
            self = self.cap_time_limit(limit);
            self.scope_age = Some(match self.scope_age {
                Some(current) if current.length() <= limit.length() => current,
                _ => limit,
            });
        }
        self
    }

    /// Whether the query is held to a scope, so its total count is not the whole log's.
    pub fn is_scoped(&self) -> bool {
        self.scoped
    }

    /// The query selecting every entry in scope (whatever the filter): what `total_count`
    /// counts. For a query without a scope, everything.
    pub fn scope_query(&self) -> AuditQuery {
        let mut query = AuditQuery::new();
        query.conditions = self.scope_conditions.clone();
        query.time_limit = self.scope_age;
        query
    }

    /// Caps the relative time limit at `limit`: the shorter of the two applies.
    #[must_use]
    pub fn cap_time_limit(mut self, limit: TimeLimit) -> Self {
        self.time_limit = Some(match self.time_limit {
            Some(current) if current.length() <= limit.length() => current,
            _ => limit,
        });
        self
    }

    /// Keeps free text off `columns` (for columns the caller may not see).
    #[must_use]
    pub fn search_without(mut self, columns: &[Column]) -> Self {
        for column in columns {
            if !self.unsearched.contains(column) {
                self.unsearched.push(*column);
            }
        }
        self
    }

    /// Whether free text looks at `column`.
    pub fn searches(&self, column: Column) -> bool {
        !self.unsearched.contains(&column)
    }

    /// The same query without its absolute range and relative time limit, for a store that
    /// knows every entry it reads lies inside the window.
    #[must_use]
    pub fn without_window(&self) -> Self {
        AuditQuery {
            range: TimeRange::default(),
            time_limit: None,
            ..self.clone()
        }
    }

    /// Whether the query has no condition, free text or time window.
    pub fn is_unfiltered(&self) -> bool {
        self.conditions.is_empty()
            && self.find.is_none()
            && self.range.is_unbounded()
            && self.time_limit.is_none()
    }
}

/// How many entries match the filter, and how many are in scope at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Entries that match the query's filter.
    pub filter_count: u64,
    /// All entries in scope, whatever the filter.
    pub total_count: u64,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The entries, in the query's order.
    pub entries: Vec<AuditEntry>,
    /// Entries that match the filter.
    pub filter_count: u64,
    /// All entries in scope.
    pub total_count: u64,
    /// The position after the last entry, when more entries follow.
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_become_offsets() {
        let q = AuditQuery::new().page(3, 15).ok();
        assert_eq!(
            q.map(|q| q.page_spec().clone()),
            Some(Page::Offset {
                start: 30,
                count: 15
            })
        );
        assert!(AuditQuery::new().page(0, 15).is_err());
        assert!(AuditQuery::new().page(u64::MAX, 1000).is_err());
        assert!(AuditQuery::new().offset(0, MAX_PAGE_SIZE + 1).is_err());
    }

    #[test]
    fn a_cursor_of_another_order_is_refused() {
        let entry = AuditEntry::new(1, crate::AuditEvent::new("e"));
        let cursor = Cursor::after_entry(&entry, Sort::default());
        let q = AuditQuery::new().sort(Column::User, Direction::Asc);
        assert!(q.and_then(|q| q.after(cursor, 10)).is_err());
    }

    #[test]
    fn time_limit_narrows_the_absolute_range() {
        let now = Utc::now();
        let q = AuditQuery::new()
            .time_limit(TimeLimit::new(1, TimeUnit::Hours).unwrap_or_else(|_| unreachable!()));
        let range = q.effective_range(now);
        assert_eq!(range.from, Some(now - chrono::TimeDelta::hours(1)));
    }
}
