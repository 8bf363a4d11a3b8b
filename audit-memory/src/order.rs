//! Sort order and keyset positions over stored rows, compared without building entries.

use std::cmp::Ordering;
use std::ops::Bound;

use audit_core::query::TimeRange;
use audit_core::{AuditId, Column, ColumnKind, Cursor, Direction, SortValue};

use crate::date_index::DateIndex;
use crate::table::Table;

fn key_order(table: &Table, a: usize, b: usize, column: Column) -> Ordering {
    match column.kind() {
        ColumnKind::Text => match column.text_index() {
            Some(i) if table.codes[i][a] == table.codes[i][b] => Ordering::Equal,
            Some(i) => table.text(i, a).cmp(table.text(i, b)),
            None => Ordering::Equal,
        },
        ColumnKind::Bool => table.success[a].cmp(&table.success[b]),
        ColumnKind::Integer => a.cmp(&b),
        ColumnKind::Timestamp if column == Column::StartDate => {
            table.starts[a].cmp(&table.starts[b])
        }
        ColumnKind::Timestamp => table.dates[a].cmp(&table.dates[b]),
        ColumnKind::Duration => table.durations[a].cmp(&table.durations[b]),
        _ => Ordering::Equal,
    }
}

/// Compares rows `a` and `b` by `column`, then by id, in `direction`.
pub(crate) fn compare_rows(
    table: &Table,
    a: usize,
    b: usize,
    column: Column,
    direction: Direction,
) -> Ordering {
    let ord = key_order(table, a, b, column).then(a.cmp(&b));
    match direction {
        Direction::Asc => ord,
        Direction::Desc => ord.reverse(),
    }
}

/// Whether `row` lies strictly beyond `cursor` in the cursor's order.
pub(crate) fn beyond_cursor(table: &Table, cursor: &Cursor, row: usize) -> bool {
    let column = cursor.sort().column();
    let key = match (column.kind(), cursor.key()) {
        (ColumnKind::Text, SortValue::Text(key)) => column
            .text_index()
            .map_or(Ordering::Equal, |i| table.text(i, row).cmp(key.as_str())),
        (ColumnKind::Bool, SortValue::Bool(key)) => table.success[row].cmp(key),
        (ColumnKind::Integer, SortValue::Integer(key)) => table.ids[row].cmp(key),
        (ColumnKind::Timestamp, SortValue::Integer(key)) => table.dates[row].cmp(key),
        (ColumnKind::Timestamp, SortValue::OptionalInteger(key)) => table.starts[row].cmp(key),
        (ColumnKind::Duration, SortValue::OptionalInteger(key)) => table.durations[row].cmp(key),
        _ => Ordering::Equal,
    };
    let ord = key.then(table.ids[row].cmp(&cursor.id()));
    match cursor.sort().direction() {
        Direction::Asc => ord.is_gt(),
        Direction::Desc => ord.is_lt(),
    }
}

/// The ids of the date index within `range` and beyond `cursor`, in `direction`.
pub(crate) fn date_walk<'a>(
    index: &'a DateIndex,
    range: TimeRange,
    cursor: Option<&Cursor>,
    direction: Direction,
) -> Box<dyn Iterator<Item = AuditId> + 'a> {
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
            Direction::Asc => lower = tighter(lower, Bound::Excluded(at), Ordering::Greater),
            Direction::Desc => upper = tighter(upper, Bound::Excluded(at), Ordering::Less),
        }
    }
    let ids = index.range(lower, upper).iter().map(|(_, id)| *id);
    match direction {
        Direction::Asc => Box::new(ids),
        Direction::Desc => Box::new(ids.rev()),
    }
}

fn point<T>(bound: &Bound<T>) -> Option<&T> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => Some(v),
        Bound::Unbounded => None,
    }
}

/// Of two bounds on the same side, the one that admits less: for a lower bound the greater
/// point (`wins` = Greater), for an upper bound the smaller; on a tie the exclusive one.
fn tighter(
    a: Bound<(i64, AuditId)>,
    b: Bound<(i64, AuditId)>,
    wins: Ordering,
) -> Bound<(i64, AuditId)> {
    match (point(&a), point(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x.cmp(y) == wins => a,
        (Some(x), Some(y)) if y.cmp(x) == wins => b,
        _ if matches!(a, Bound::Excluded(_)) => a,
        _ => b,
    }
}
