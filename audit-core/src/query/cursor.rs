//! Opaque keyset cursors: the position after the last entry of a page.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::column::Column;
use crate::error::Error;
use crate::event::{AuditEntry, AuditId, SortValue};
use crate::query::sort::{Direction, Sort};

const VERSION: &str = "1";
const MAX_ENCODED_LEN: usize = 16 * 1024;
const EXPECTED: &str = "a cursor returned by a previous page of the same sort order";

/// A position in a sorted result: the sort key and id of the last entry seen. A page "after"
/// a cursor starts with the first entry strictly beyond that position, so its cost does not
/// grow with depth.
///
/// Cursors are opaque to clients: [`Cursor::encode`] gives URL-safe base64 without padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    sort: Sort,
    key: SortValue,
    id: AuditId,
}

impl Cursor {
    /// The position of `entry` in `sort` order.
    pub fn after_entry(entry: &AuditEntry, sort: Sort) -> Self {
        Cursor {
            sort,
            key: entry.sort_key(sort.column()),
            id: entry.id(),
        }
    }

    /// The sort order the cursor belongs to.
    pub fn sort(&self) -> Sort {
        self.sort
    }

    /// The sort key of the last entry seen.
    pub fn key(&self) -> &SortValue {
        &self.key
    }

    /// The id of the last entry seen.
    pub fn id(&self) -> AuditId {
        self.id
    }

    /// Whether an entry with this key and id lies strictly beyond the cursor in its order.
    pub fn is_before(&self, key: &SortValue, id: AuditId) -> bool {
        let ord = (key, id).cmp(&(&self.key, self.id));
        match self.sort.direction() {
            Direction::Asc => ord.is_gt(),
            Direction::Desc => ord.is_lt(),
        }
    }

    /// The opaque, URL-safe form.
    pub fn encode(&self) -> String {
        let (tag, payload) = match &self.key {
            SortValue::Integer(v) => ("i", v.to_string()),
            SortValue::OptionalInteger(None) => ("n", String::new()),
            SortValue::OptionalInteger(Some(v)) => ("o", v.to_string()),
            SortValue::Bool(v) => ("b", u8::from(*v).to_string()),
            SortValue::Text(v) => ("t", v.clone()),
        };
        let plain = format!(
            "{VERSION}.{}.{}.{}.{tag}.{payload}",
            self.sort.column().name(),
            self.sort.direction().as_str(),
            self.id
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Decodes a cursor a client sent back.
    pub fn decode(encoded: &str) -> Result<Self, Error> {
        let invalid = |problem: &str| Error::invalid_query("cursor", problem, EXPECTED);
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(invalid("the cursor is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| invalid("the cursor is not URL-safe base64"))?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid("the cursor is not valid"))?;
        let mut parts = plain.splitn(6, '.');
        let mut next = || {
            parts
                .next()
                .ok_or_else(|| invalid("the cursor is incomplete"))
        };
        if next()? != VERSION {
            return Err(invalid("the cursor has an unknown version"));
        }
        let column = Column::from_name(next()?)
            .ok_or_else(|| invalid("the cursor names an unknown column"))?;
        let direction: Direction = next()?
            .parse()
            .map_err(|_| invalid("the cursor has no valid direction"))?;
        let id: AuditId = next()?
            .parse()
            .map_err(|_| invalid("the cursor has no valid id"))?;
        let tag = next()?;
        let payload = next()?;
        let integer = || {
            payload
                .parse::<i64>()
                .map_err(|_| invalid("the cursor has no valid key"))
        };
        let key = match tag {
            "i" => SortValue::Integer(integer()?),
            "n" if payload.is_empty() => SortValue::OptionalInteger(None),
            "o" => SortValue::OptionalInteger(Some(integer()?)),
            "b" if payload == "0" || payload == "1" => SortValue::Bool(payload == "1"),
            "t" => SortValue::Text(payload.to_owned()),
            _ => return Err(invalid("the cursor has no valid key")),
        };
        let sort = Sort::new(column, direction)
            .map_err(|_| invalid("the cursor names an unsortable column"))?;
        if std::mem::discriminant(&key) != std::mem::discriminant(&expected_shape(column)) {
            return Err(invalid("the cursor's key does not fit its column"));
        }
        Ok(Cursor { sort, key, id })
    }
}

fn expected_shape(column: Column) -> SortValue {
    use crate::column::ColumnKind;
    match column.kind() {
        ColumnKind::Text => SortValue::Text(String::new()),
        ColumnKind::Bool => SortValue::Bool(false),
        ColumnKind::Duration => SortValue::OptionalInteger(None),
        ColumnKind::Timestamp if column == Column::StartDate => SortValue::OptionalInteger(None),
        _ => SortValue::Integer(0),
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for Cursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cursor::decode(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AuditEvent;

    #[test]
    fn cursor_round_trips_through_its_encoding() {
        let entry = AuditEntry::new(7, AuditEvent::new("e").user("a.b|c.ä"));
        for column in Column::ALL.iter().copied().filter(|c| c.is_sortable()) {
            let sort = Sort::new(column, Direction::Asc).unwrap_or_default();
            let cursor = Cursor::after_entry(&entry, sort);
            assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        }
    }

    #[test]
    fn garbage_cursors_are_typed_errors() {
        for bad in [
            "",
            "!!",
            "bm9wZQ",
            "MS5kYXRlLmRlc2MuNy50LnRleHQ",
            &"A".repeat(20_000),
        ] {
            assert!(
                matches!(Cursor::decode(bad), Err(Error::InvalidQuery { .. })),
                "{bad}"
            );
        }
    }
}
