//! Sort order and keyset positions over stored rows, compared without allocating.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use audit_core::query::TimeRange;
use audit_core::{AuditId, Column, ColumnKind, Cursor, Direction, SortValue};

use crate::matching::Row;

/// Compares two rows in the order of `column` then id, in `direction`.
pub(crate) fn compare_rows(a: &Row, b: &Row, column: Column, direction: Direction) -> Ordering {
    let ord = compare_key(a, b, column).then(a.entry.id().cmp(&b.entry.id()));
    match direction {
        Direction::Asc => ord,
        Direction::Desc => ord.reverse(),
    }
}

fn compare_key(a: &Row, b: &Row, column: Column) -> Ordering {
    let (a, b) = (&a.entry, &b.entry);
    match column.kind() {
        ColumnKind::Text => a.text(column).cmp(b.text(column)),
        ColumnKind::Bool => a.success().cmp(&b.success()),
        ColumnKind::Integer => a.id().cmp(&b.id()),
        ColumnKind::Timestamp if column == Column::StartDate => a.start_date().cmp(&b.start_date()),
        ColumnKind::Timestamp => a.date().cmp(&b.date()),
        ColumnKind::Duration => a
            .as_event()
            .duration_in_micros()
            .cmp(&b.as_event().duration_in_micros()),
        _ => Ordering::Equal,
    }
}

/// Whether `row` lies strictly beyond `cursor` in the cursor's order.
pub(crate) fn cursor_allows(cursor: &Cursor, row: &Row) -> bool {
    let column = cursor.sort().column();
    let entry = &row.entry;
    let key_order = match (column.kind(), cursor.key()) {
        (ColumnKind::Text, SortValue::Text(key)) => entry.text(column).cmp(key.as_str()),
        _ => entry.sort_key(column).cmp(cursor.key()),
    };
    let ord = key_order.then(entry.id().cmp(&cursor.id()));
    match cursor.sort().direction() {
        Direction::Asc => ord.is_gt(),
        Direction::Desc => ord.is_lt(),
    }
}

/// A walk over the date index within a time range, starting after a cursor.
pub(crate) struct DateWalk<'a> {
    index: &'a BTreeSet<(i64, AuditId)>,
    lower: Bound<(i64, AuditId)>,
    upper: Bound<(i64, AuditId)>,
    direction: Direction,
}

impl<'a> DateWalk<'a> {
    pub(crate) fn new(
        index: &'a BTreeSet<(i64, AuditId)>,
        range: TimeRange,
        cursor: Option<&Cursor>,
        direction: Direction,
    ) -> Self {
        let mut lower = range.from.map_or(Bound::Unbounded, |from| {
            Bound::Included((from.timestamp_micros(), AuditId::MIN))
        });
        let mut upper = range.to.map_or(Bound::Unbounded, |to| {
            Bound::Excluded((to.timestamp_micros(), AuditId::MIN))
        });
        if let Some(cursor) = cursor {
            let at = match cursor.key() {
                SortValue::Integer(micros) => (*micros, cursor.id()),
                _ => (i64::MIN, AuditId::MIN),
            };
            match direction {
                Direction::Asc => lower = tighter_lower(lower, Bound::Excluded(at)),
                Direction::Desc => upper = tighter_upper(upper, Bound::Excluded(at)),
            }
        }
        DateWalk {
            index,
            lower,
            upper,
            direction,
        }
    }

    pub(crate) fn ids(self) -> Box<dyn Iterator<Item = AuditId> + 'a> {
        if bounds_empty(&self.lower, &self.upper) {
            return Box::new(std::iter::empty());
        }
        let range = self
            .index
            .range((self.lower, self.upper))
            .map(|(_, id)| *id);
        match self.direction {
            Direction::Asc => Box::new(range),
            Direction::Desc => Box::new(range.rev()),
        }
    }
}

fn value<T>(bound: &Bound<T>) -> Option<&T> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => Some(v),
        Bound::Unbounded => None,
    }
}

fn tighter_lower(a: Bound<(i64, AuditId)>, b: Bound<(i64, AuditId)>) -> Bound<(i64, AuditId)> {
    match (value(&a), value(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x > y => a,
        (Some(x), Some(y)) if y > x => b,
        _ => {
            if matches!(a, Bound::Excluded(_)) {
                a
            } else {
                b
            }
        }
    }
}

fn tighter_upper(a: Bound<(i64, AuditId)>, b: Bound<(i64, AuditId)>) -> Bound<(i64, AuditId)> {
    match (value(&a), value(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x < y => a,
        (Some(x), Some(y)) if y < x => b,
        _ => {
            if matches!(a, Bound::Excluded(_)) {
                a
            } else {
                b
            }
        }
    }
}

/// `BTreeSet::range` panics on an empty or inverted range, so such walks are cut short here.
fn bounds_empty(lower: &Bound<(i64, AuditId)>, upper: &Bound<(i64, AuditId)>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}
