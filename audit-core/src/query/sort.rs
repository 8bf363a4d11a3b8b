//! Sort order: any sortable column, ascending or descending, always tie-broken by `id`.

use std::fmt;
use std::str::FromStr;

use crate::column::Column;
use crate::error::Error;
use crate::event::AuditEntry;

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

impl Direction {
    /// `asc` or `desc`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = Error;

    /// Parses `asc` or `desc`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("asc") {
            Ok(Direction::Asc)
        } else if s.eq_ignore_ascii_case("desc") {
            Ok(Direction::Desc)
        } else {
            Err(Error::invalid_query(
                "sort_direction",
                format!("{s:?} is not a direction"),
                "asc or desc",
            ))
        }
    }
}

/// The order of results: `column` in `direction`, then `id` in the same direction, so that
/// pages are stable even when many entries share a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sort {
    column: Column,
    direction: Direction,
}

impl Default for Sort {
    /// Newest first: `date` descending.
    fn default() -> Self {
        Sort {
            column: Column::Date,
            direction: Direction::Desc,
        }
    }
}

impl Sort {
    /// Sorts by `column`, which must be sortable ([`Column::is_sortable`]).
    pub fn new(column: Column, direction: Direction) -> Result<Self, Error> {
        if !column.is_sortable() {
            return Err(Error::invalid_query(
                "sort_column",
                format!("{column} cannot be sorted"),
                format!("one of {}", Column::sortable_names()),
            ));
        }
        Ok(Sort { column, direction })
    }

    /// Parses a canonical column name and a direction as a client sends them.
    pub fn parse(column: &str, direction: &str) -> Result<Self, Error> {
        let column = Column::from_name(column).ok_or_else(|| {
            Error::invalid_query(
                "sort_column",
                format!("unknown column {column:?}"),
                format!("one of {}", Column::sortable_names()),
            )
        })?;
        Sort::new(column, direction.parse()?)
    }

    /// The primary sort column.
    pub fn column(&self) -> Column {
        self.column
    }

    /// The direction, shared by the tie-break on `id`.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Puts `entries` in this order, the id breaking ties, as every backend sorts.
    pub fn arrange(&self, entries: &mut [AuditEntry]) {
        let column = self.column;
        match self.direction {
            Direction::Asc => entries.sort_by_cached_key(|e| (e.sort_key(column), e.id())),
            Direction::Desc => {
                entries.sort_by_cached_key(|e| std::cmp::Reverse((e.sort_key(column), e.id())));
            }
        }
    }
}
