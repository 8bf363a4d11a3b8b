//! The raw rusqlite side of the SQLite benchmarks: `audit-sqlite`'s schema and rows written by
//! hand, with nothing but the engine's own cost, and a copy of its SQL dialect so that the
//! statements it runs can be explained (`EXPLAIN QUERY PLAN`) on a benchmark database.
//!
//! Everything here mirrors `audit-sqlite` 0.1 (`schema.rs`, `writer.rs`, `dialect.rs`) with the
//! default table prefix `audit_`; the column lists come from the same registry
//! ([`stored_columns`], [`Column::TEXT`]), so only the statement shapes are copied.

use std::path::Path;

use audit_core::sql::{RowValue, SqlDialect, encode_event, folded_column_name, stored_columns};
use audit_core::text::fold;
use audit_core::{AuditEvent, Column};
use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use sea_query::Expr;

use crate::EventGenerator;

/// The entries table, as `audit-sqlite` names it with its default prefix.
pub const ENTRIES: &str = "audit_entries";
/// The search index table.
pub const SEARCH: &str = "audit_search";
/// The counters table.
pub const COUNTERS: &str = "audit_counters";
/// The bits of an id below its block, which leads the user index (`ID_BLOCK_BITS` in
/// `schema.rs`).
pub const ID_BLOCK_BITS: u32 = 16;

/// Which search index a database maintains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchIndex {
    /// No search index (`audit-sqlite` with `search_index(false)`).
    None,
    /// Contentless trigram FTS5 with `detail=none`: what `audit-sqlite` creates.
    DetailNone,
    /// Contentless trigram FTS5 with `detail=full`: token positions kept.
    DetailFull,
}

impl SearchIndex {
    /// The `CREATE VIRTUAL TABLE` of the index, if any (`sync_search_index` in `schema.rs`).
    pub fn ddl(self) -> Option<String> {
        let detail = match self {
            SearchIndex::None => return None,
            SearchIndex::DetailNone => "none",
            SearchIndex::DetailFull => "full",
        };
        Some(format!(
            "CREATE VIRTUAL TABLE \"{SEARCH}\" USING fts5(\"text\", content='', tokenize='trigram case_sensitive 1', detail={detail})"
        ))
    }

    /// Whether rows go into a search index.
    pub fn is_some(self) -> bool {
        self != SearchIndex::None
    }
}

/// The schema of `audit-sqlite` (`create_version_1`, then the search index of `search`): the
/// entries table with every column including the `*_folded` shadows, its four indexes, the
/// counters table with its one row.
pub fn schema(search: SearchIndex) -> Vec<String> {
    let mut columns = vec![
        "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT".to_owned(),
        "\"date\" INTEGER NOT NULL".to_owned(),
        "\"success\" INTEGER NOT NULL".to_owned(),
    ];
    columns.extend(
        Column::TEXT
            .iter()
            .map(|c| format!("\"{}\" TEXT NOT NULL DEFAULT ''", c.name())),
    );
    columns.extend(
        Column::TEXT
            .iter()
            .map(|c| format!("\"{}\" TEXT", folded_column_name(*c))),
    );
    columns.extend([
        "\"start_date\" INTEGER".to_owned(),
        "\"duration\" INTEGER".to_owned(),
        "\"extra\" TEXT".to_owned(),
        "\"extra_folded\" TEXT".to_owned(),
    ]);
    let mut statements = vec![
        format!("CREATE TABLE \"{ENTRIES}\" ({})", columns.join(", ")),
        format!("CREATE INDEX \"{ENTRIES}_date\" ON \"{ENTRIES}\" (\"date\")"),
        format!(
            "CREATE INDEX \"{ENTRIES}_block_user_date\" ON \"{ENTRIES}\" ((\"id\" >> {ID_BLOCK_BITS}), \"user\", \"date\")"
        ),
        format!("CREATE INDEX \"{ENTRIES}_event_date\" ON \"{ENTRIES}\" (\"event\", \"date\")"),
        format!("CREATE INDEX \"{ENTRIES}_realm_date\" ON \"{ENTRIES}\" (\"realm\", \"date\")"),
        format!(
            "CREATE TABLE \"{COUNTERS}\" (\"name\" TEXT PRIMARY KEY, \"value\" INTEGER NOT NULL) WITHOUT ROWID"
        ),
        format!("INSERT INTO \"{COUNTERS}\" (\"name\", \"value\") VALUES ('entries', 0)"),
    ];
    statements.extend(search.ddl());
    statements
}

/// Creates a database file at `path` in WAL mode with [`schema`], `synchronous=FULL`.
pub fn create(path: &Path, search: SearchIndex) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidQuery);
    }
    let tx = conn.transaction()?;
    for statement in schema(search) {
        tx.execute_batch(&statement)?;
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA synchronous = FULL")?;
    Ok(conn)
}

/// The INSERT of one entry, a parameter per stored column (`insert_sql` in `schema.rs`).
pub fn insert_entry_sql() -> String {
    let columns = stored_columns();
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO \"{ENTRIES}\" ({}) VALUES ({})",
        quoted.join(", "),
        params.join(", ")
    )
}

/// The INSERT of one entry's search text.
pub fn insert_search_sql() -> String {
    format!("INSERT INTO \"{SEARCH}\" (rowid, \"text\") VALUES (?1, ?2)")
}

/// The counter update of one transaction.
pub fn count_sql() -> String {
    format!("UPDATE \"{COUNTERS}\" SET \"value\" = \"value\" + ?1 WHERE \"name\" = 'entries'")
}

/// One row ready to bind: the values of [`encode_event`] and the search index text.
#[derive(Debug, Clone)]
pub struct EncodedRow {
    /// The values, in the order of [`stored_columns`].
    pub values: Vec<Value>,
    /// What goes into the search index.
    pub search: String,
}

fn owned(value: &RowValue<'_>) -> Value {
    match value {
        RowValue::Int(v) | RowValue::OptionalInt(Some(v)) => Value::Integer(*v),
        RowValue::OptionalInt(None) | RowValue::OptionalText(None) => Value::Null,
        RowValue::Bool(v) => Value::Integer(i64::from(*v)),
        RowValue::Text(v) => Value::Text((*v).to_owned()),
        RowValue::OptionalText(Some(v)) => Value::Text(v.clone()),
    }
}

/// The text `audit-sqlite` puts in the search index (`search_text` in `schema.rs`): the text
/// columns, folded, one per line.
pub fn search_text(event: &AuditEvent) -> String {
    let mut out = String::new();
    for text in event.texts() {
        if !text.is_empty() {
            out.push_str(&fold(text));
            out.push('\n');
        }
    }
    out
}

/// The row `audit-sqlite` writes for `event`.
pub fn encode(event: &AuditEvent) -> EncodedRow {
    EncodedRow {
        values: encode_event(event).iter().map(owned).collect(),
        search: search_text(event),
    }
}

/// The rows of the events `start..start + len` of `generator`.
pub fn encoded_batch(generator: &EventGenerator, start: u64, len: u64) -> Vec<EncodedRow> {
    generator
        .range(start..start + len)
        .map(|e| encode(&e))
        .collect()
}

/// Writes `rows` in one `BEGIN IMMEDIATE` transaction the way `audit-sqlite`'s writer does,
/// minus its savepoint: one prepared statement per table, the counter updated once, one commit.
pub fn write_batch(
    conn: &mut Connection,
    search: SearchIndex,
    rows: &[EncodedRow],
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(&insert_entry_sql())?;
        let mut index = if search.is_some() {
            Some(tx.prepare_cached(&insert_search_sql())?)
        } else {
            None
        };
        for row in rows {
            insert.execute(params_from_iter(&row.values))?;
            if let Some(index) = index.as_mut() {
                let id = tx.last_insert_rowid();
                index.execute(rusqlite::params![id, row.search])?;
            }
        }
        tx.prepare_cached(&count_sql())?
            .execute([rows.len() as i64])?;
    }
    tx.commit()
}

/// A copy of `audit-sqlite`'s SQL dialect (`dialect.rs`), to build the exact statements it
/// runs for a query.
#[derive(Debug, Clone)]
pub struct SqliteDialectCopy {
    /// Whether the search index exists (free text and wildcards use it).
    pub search_index: bool,
}

/// The FTS5 query keeping rows that contain every trigram of `needle`.
fn trigram_query(needle: &str) -> String {
    let chars: Vec<char> = needle.chars().collect();
    let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    trigrams.sort();
    trigrams.dedup();
    trigrams
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl SqlDialect for SqliteDialectCopy {
    fn json_field(&self, column: &str, key: &str) -> Expr {
        let column = if column == "extra_folded" {
            "extra_folded"
        } else {
            "extra"
        };
        Expr::cust_with_values(
            format!("(SELECT value FROM json_each(\"{ENTRIES}\".\"{column}\") WHERE key = ?)"),
            [key.to_owned()],
        )
    }

    fn equality_lookup(&self, column: Column) -> Option<Expr> {
        (column == Column::User).then(|| {
            Expr::cust(format!(
                "(\"id\" >> {ID_BLOCK_BITS}) IN (WITH RECURSIVE \"blocks\"(\"block\") AS (\
                 SELECT (SELECT min(\"id\") FROM \"{ENTRIES}\") >> {ID_BLOCK_BITS} \
                 UNION ALL SELECT \"block\" + 1 FROM \"blocks\" \
                 WHERE \"block\" < (SELECT max(\"id\") FROM \"{ENTRIES}\") >> {ID_BLOCK_BITS}) \
                 SELECT \"block\" FROM \"blocks\")"
            ))
        })
    }

    fn text_prefilter(&self, needle: &str) -> Option<Expr> {
        if !self.search_index {
            return None;
        }
        Some(Expr::cust_with_values(
            format!("\"id\" IN (SELECT rowid FROM \"{SEARCH}\" WHERE \"{SEARCH}\" MATCH ?)"),
            [trigram_query(needle)],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rows_read_back_like_the_store_writes_them() {
        let dir = crate::TempDir::new("raw-test").unwrap();
        let mut conn = create(&dir.path().join("raw.db"), SearchIndex::DetailNone).unwrap();
        let generator = EventGenerator::new(crate::DEFAULT_SEED, 3_000);
        for start in [0, 1_000, 2_000] {
            write_batch(
                &mut conn,
                SearchIndex::DetailNone,
                &encoded_batch(&generator, start, 1_000),
            )
            .unwrap();
        }
        let counted: i64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{ENTRIES}\""), [], |r| {
                r.get(0)
            })
            .unwrap();
        let counter: i64 = conn
            .query_row(&format!("SELECT \"value\" FROM \"{COUNTERS}\""), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!((counted, counter), (3_000, 3_000));
        let found: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM \"{SEARCH}\" WHERE \"{SEARCH}\" MATCH ?1"),
                [trigram_query(crate::RARE_TERM)],
                |r| r.get(0),
            )
            .unwrap();
        let expected = generator
            .range(0..3_000)
            .filter(|e| e.text(Column::Description).contains(crate::RARE_TERM))
            .count();
        assert_eq!(found as usize, expected);
    }
}
