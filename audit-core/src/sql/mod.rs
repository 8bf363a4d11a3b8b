//! The SQL translation shared by the SQL backends (feature `sql`): the stored row layout and
//! the translation of an [`AuditQuery`](crate::AuditQuery) into sea-query statements.
//!
//! Every value is bound; no input is ever written into SQL text. A backend supplies only what
//! its engine does differently through [`SqlDialect`].
//!
//! The row layout, identical in every SQL backend:
//!
//! | column | type | holds |
//! |---|---|---|
//! | `id` | integer | the entry id |
//! | `date`, `start_date` | integer | microseconds since the Unix epoch, UTC (`start_date` nullable) |
//! | `success` | boolean | the outcome |
//! | each text column | text, not null | the value, `''` when missing |
//! | `<text column>_folded` | text, nullable | the value folded with [`fold`](crate::text::fold), only where folding changes it |
//! | `duration` | integer, nullable | microseconds |
//! | `extra`, `extra_folded` | JSON text, nullable | the host's fields, and their folded values where folding changes any |
//!
//! Folding in Rust at write time (and for every needle) is what makes wildcard filters and
//! free text give the same answers on every engine, whatever its locale.

mod purge;
mod row;
mod stats;
mod translate;

pub use purge::{purge_count_statement, purge_scan_statement, purge_start_statement};
pub use row::{
    RowValue, StoredRow, decode_entry, encode_event, extra_for_check, folded_column_name,
    stored_columns,
};
pub use stats::{bucket_start, filtered_selection};
pub use translate::{
    SqlDialect, count_statement, entries_statement, export_statement, like_contains, like_pattern,
    page_ids_statement, page_statement, page_statement_by_ids, prefilter_needles, select_columns,
    sort_key_statement, where_clause,
};

/// Checks a table-name prefix or schema name given by the host: ASCII letters, digits and `_`,
/// starting with a letter or `_`, at most 40 characters.
pub fn validate_identifier(kind: &str, name: &str) -> crate::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if valid {
        Ok(())
    } else {
        Err(crate::Error::invalid_query(
            kind,
            format!("{name:?} is not a plain SQL identifier"),
            "1 to 40 ASCII letters, digits or `_`, not starting with a digit",
        ))
    }
}
