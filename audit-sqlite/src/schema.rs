//! The schema: table names from the prefix, creation, versioned migrations, and the checks that
//! refuse files this store must not touch.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use audit_core::sql::{folded_column_name, stored_columns};
use audit_core::text::fold;
use audit_core::{Column, Error};
use rusqlite::{Connection, OptionalExtension};

use crate::error::Context;

/// Marks a file as an audit database (`PRAGMA application_id`): "AUDT".
pub(crate) const APPLICATION_ID: i64 = 0x4155_4454;
/// The schema version this build writes (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 4;

/// The user index leads with the block of `1 << ID_BLOCK_BITS` ids an entry falls in (see
/// [`index_users_by_block`]).
pub(crate) const ID_BLOCK_BITS: u32 = 16;

/// The expression of an entry's id block, as the user index and its lookups spell it.
pub(crate) fn id_block() -> String {
    format!("(\"id\" >> {ID_BLOCK_BITS})")
}

/// The names of the store's tables.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) entries: String,
    pub(crate) search: String,
    pub(crate) counters: String,
    pub(crate) checkpoints: String,
}

impl Names {
    pub(crate) fn new(prefix: &str) -> Self {
        Names {
            entries: format!("{prefix}entries"),
            search: format!("{prefix}search"),
            counters: format!("{prefix}counters"),
            checkpoints: format!("{prefix}checkpoints"),
        }
    }
}

/// The migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
fn migrations(names: &Names) -> Vec<Vec<String>> {
    vec![
        create_version_1(names),
        add_seals(names),
        add_checkpoints(names),
        index_users_by_block(names),
    ]
}

/// Version 4: the user index leads with the id block, `(block, user, date)`, instead of
/// `(user, date)`.
///
/// An append adds each entry at the end of its user's run in a user index. With `(user, date)`
/// a batch of 1,000 entries from 630 different users changes about 630 pages of that index,
/// each written whole to the write-ahead log and again at the checkpoint: measured with the
/// raw baseline at 1,000,000 entries, 1,086 log pages per batch and 55,000 entries/s, against
/// 229 pages and 144,000 entries/s without a user index. In the block form, entries go into
/// the newest block only, a few dozen pages: 112,000 entries/s with blocks of 65,536 ids
/// (124,000 with 16,384, 120,000 with 4,096, at the cost of more blocks to visit).
///
/// An exact user filter visits every block ([`crate::dialect`] adds the lookup): at 1,000,000
/// entries that is 16 index seeks, and counting a user's 1,000 entries takes 0.1 ms. The
/// index no longer lists entries in user order: a page sorted by user is ranked like any
/// other unindexed order (see [`crate::ranking`]).
fn index_users_by_block(names: &Names) -> Vec<String> {
    let entries = &names.entries;
    vec![
        format!("DROP INDEX IF EXISTS \"{entries}_user_date\""),
        format!(
            "CREATE INDEX \"{entries}_block_user_date\" ON \"{entries}\" ({}, \"user\", \"date\")",
            id_block()
        ),
    ]
}

/// Version 3: the signed checkpoints purges leave (see `audit_core::retention`).
fn add_checkpoints(names: &Names) -> Vec<String> {
    let checkpoints = &names.checkpoints;
    vec![
        format!(
            "CREATE TABLE \"{}\" (\"first\" INTEGER PRIMARY KEY, \"last\" INTEGER NOT NULL, \
         \"before\" BLOB NOT NULL, \"last_mac\" BLOB NOT NULL, \"purged\" INTEGER NOT NULL, \
         \"purged_at\" INTEGER NOT NULL, \"key_id\" TEXT NOT NULL, \"signature\" BLOB NOT NULL)",
            names.checkpoints
        ),
        // A purge reads the checkpoints that end at or after the row before its chunk.
        format!("CREATE INDEX \"{checkpoints}_last\" ON \"{checkpoints}\" (\"last\")"),
    ]
}

/// Version 2: every entry may carry an integrity seal (the key id and the MAC).
fn add_seals(names: &Names) -> Vec<String> {
    let entries = &names.entries;
    vec![
        format!("ALTER TABLE \"{entries}\" ADD COLUMN \"seal_key\" TEXT"),
        format!("ALTER TABLE \"{entries}\" ADD COLUMN \"seal_mac\" BLOB"),
    ]
}

fn create_version_1(names: &Names) -> Vec<String> {
    let Names {
        entries, counters, ..
    } = names;
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
    vec![
        format!("CREATE TABLE \"{entries}\" ({})", columns.join(", ")),
        // Chosen for the benchmarked query shapes: newest first (the rowid completes every index,
        // so `ORDER BY date, id` walks it), and the common exact filters with date order.
        format!("CREATE INDEX \"{entries}_date\" ON \"{entries}\" (\"date\")"),
        format!("CREATE INDEX \"{entries}_user_date\" ON \"{entries}\" (\"user\", \"date\")"),
        format!("CREATE INDEX \"{entries}_event_date\" ON \"{entries}\" (\"event\", \"date\")"),
        format!("CREATE INDEX \"{entries}_realm_date\" ON \"{entries}\" (\"realm\", \"date\")"),
        format!(
            "CREATE TABLE \"{counters}\" (\"name\" TEXT PRIMARY KEY, \"value\" INTEGER NOT NULL) WITHOUT ROWID"
        ),
        format!("INSERT INTO \"{counters}\" (\"name\", \"value\") VALUES ('entries', 0)"),
    ]
}

/// Reads the 100-byte header and refuses a file that SQLite would misread: not SQLite at all,
/// or shorter than the header says (truncated).
fn check_header(path: &Path) -> Result<(), Error> {
    let Ok(mut file) = File::open(path) else {
        return Ok(());
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    if length == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    if length < 100 || file.read_exact(&mut header).is_err() {
        return Err(Error::Incompatible(format!(
            "{} is too short to be a SQLite database",
            path.display()
        )));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(Error::Incompatible(format!(
            "{} is not a SQLite database",
            path.display()
        )));
    }
    let page_size = match u32::from(u16::from_be_bytes([header[16], header[17]])) {
        1 => 65_536,
        size => size,
    };
    let pages = u32::from_be_bytes([header[28], header[29], header[30], header[31]]);
    let change_counter = &header[24..28];
    let valid_for = &header[92..96];
    // With pages still in the write-ahead log, a checkpoint may have copied page 1 (and its new
    // size) before the pages that extend the file: the file is then legitimately shorter.
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_holds_pages = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
    if !wal_holds_pages
        && pages > 0
        && change_counter == valid_for
        && u64::from(pages) * u64::from(page_size) > length
    {
        return Err(Error::Incompatible(format!(
            "{} is truncated: its header names {pages} pages of {page_size} bytes, the file holds {length} bytes",
            path.display()
        )));
    }
    Ok(())
}

/// What a database holds before the store touches it.
struct Found {
    application_id: i64,
    version: i64,
    foreign_tables: Vec<String>,
    has_entries: bool,
}

fn inspect(conn: &Connection, names: &Names) -> Result<Found, Error> {
    let application_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .during("reading the file")?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .during("reading the file")?;
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        .during("reading the schema")?;
    let tables: Vec<String> = statement
        .query_map([], |r| r.get(0))
        .during("reading the schema")?
        .collect::<Result<_, _>>()
        .during("reading the schema")?;
    let has_entries = tables.contains(&names.entries);
    let foreign_tables = tables
        .into_iter()
        .filter(|t| {
            *t != names.entries
                && *t != names.counters
                && *t != names.checkpoints
                && !t.starts_with(&names.search)
        })
        .collect();
    Ok(Found {
        application_id,
        version,
        foreign_tables,
        has_entries,
    })
}

/// Checks the file and brings its schema to [`SCHEMA_VERSION`]: a new file is created, an older
/// schema is upgraded in one transaction; a newer schema, another application's database or a
/// damaged file is refused before anything is written.
pub(crate) fn prepare(
    conn: &mut Connection,
    path: Option<&Path>,
    names: &Names,
) -> Result<(), Error> {
    if let Some(path) = path {
        check_header(path)?;
    }
    let found = inspect(conn, names)?;
    let ours = found.application_id == APPLICATION_ID;
    if !ours
        && (found.application_id != 0 || !found.foreign_tables.is_empty() || found.version != 0)
    {
        return Err(Error::Incompatible(format!(
            "not an audit database (application id {:#x}, schema version {}, tables {:?})",
            found.application_id, found.version, found.foreign_tables
        )));
    }
    if found.version > SCHEMA_VERSION {
        return Err(Error::Incompatible(format!(
            "the database has schema version {}, newer than the {SCHEMA_VERSION} this version of audit-sqlite understands",
            found.version
        )));
    }
    if ours && found.version == SCHEMA_VERSION && !found.has_entries {
        return Err(Error::Incompatible(format!(
            "the audit database has no table {:?}",
            names.entries
        )));
    }
    if found.version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction().during("starting the schema migration")?;
    let from = usize::try_from(found.version).unwrap_or(0);
    for step in migrations(names).into_iter().skip(from) {
        for statement in step {
            tx.execute_batch(&statement)
                .during("migrating the schema")?;
        }
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .during("recording the schema version")?;
    tx.commit().during("committing the schema migration")
}

/// Creates the search index (filling it from the stored entries) or drops it, as configured,
/// so that an index can never be stale.
pub(crate) fn sync_search_index(
    conn: &mut Connection,
    names: &Names,
    enabled: bool,
) -> Result<(), Error> {
    let exists: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [&names.search],
            |_| Ok(()),
        )
        .optional()
        .during("reading the schema")?
        .is_some();
    let search = &names.search;
    if !enabled {
        if exists {
            conn.execute_batch(&format!("DROP TABLE \"{search}\""))
                .during("dropping the search index")?;
        }
        return Ok(());
    }
    if exists {
        return tune_search_index(conn, names);
    }
    let tx = conn.transaction().during("creating the search index")?;
    // Contentless with detail=none: the smallest trigram index, fastest to maintain; it only
    // narrows candidates, and the exact check runs on the rows themselves.
    tx.execute_batch(&format!(
        "CREATE VIRTUAL TABLE \"{search}\" USING fts5(\"text\", content='', tokenize='trigram case_sensitive 1', detail=none)"
    ))
    .during("creating the search index")?;
    {
        let columns: Vec<String> = Column::TEXT
            .iter()
            .map(|c| format!("\"{}\"", c.name()))
            .collect();
        let mut read = tx
            .prepare(&format!(
                "SELECT \"id\", {} FROM \"{}\"",
                columns.join(", "),
                names.entries
            ))
            .during("filling the search index")?;
        let mut write = tx
            .prepare(&format!(
                "INSERT INTO \"{search}\" (rowid, \"text\") VALUES (?1, ?2)"
            ))
            .during("filling the search index")?;
        let mut rows = read.query([]).during("filling the search index")?;
        while let Some(row) = rows.next().during("filling the search index")? {
            let id: i64 = row.get(0).during("filling the search index")?;
            let mut texts = Vec::with_capacity(Column::TEXT.len());
            for i in 0..Column::TEXT.len() {
                texts.push(
                    row.get::<_, String>(i + 1)
                        .during("filling the search index")?,
                );
            }
            write
                .execute(rusqlite::params![
                    id,
                    search_text(texts.iter().map(String::as_str))
                ])
                .during("filling the search index")?;
        }
    }
    tx.commit().during("creating the search index")?;
    tune_search_index(conn, names)
}

/// Lets FTS5 merge 16 segments at a time instead of 4: fewer, larger merges per commit
/// (measured with the raw baseline at 1M rows: ~34.7 to ~27.8 ms per 1,000 rows).
fn tune_search_index(conn: &Connection, names: &Names) -> Result<(), Error> {
    let search = &names.search;
    conn.execute(
        &format!("INSERT INTO \"{search}\" (\"{search}\", rank) VALUES ('automerge', 16)"),
        [],
    )
    .during("tuning the search index")?;
    Ok(())
}

/// The text the search index holds for an entry: its text columns, folded, one per line.
pub(crate) fn search_text<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for text in texts {
        if !text.is_empty() {
            out.push_str(&fold(text));
            out.push('\n');
        }
    }
    out
}

/// The insert of a sealed entry: the id (known before the insert, as the MAC covers it), the
/// stored columns and the seal.
pub(crate) fn insert_sealed_sql(names: &Names) -> String {
    let mut columns = vec!["id".to_owned()];
    columns.extend(stored_columns());
    columns.extend(["seal_key".to_owned(), "seal_mac".to_owned()]);
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        names.entries,
        quoted.join(", "),
        params.join(", ")
    )
}

/// The links of the chain after an id: the stored row's columns in `StoredRow` order, then
/// the seal.
pub(crate) fn chain_sql(names: &Names) -> String {
    let mut columns = vec!["id".to_owned(), "date".to_owned(), "success".to_owned()];
    columns.extend(Column::TEXT.iter().map(|c| c.name().to_owned()));
    columns.extend(["start_date", "duration", "extra", "seal_key", "seal_mac"].map(str::to_owned));
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "SELECT {} FROM \"{}\" WHERE \"id\" > ?1 ORDER BY \"id\" LIMIT ?2",
        quoted.join(", "),
        names.entries
    )
}

/// Like [`chain_sql`] from id `?1` itself (so the entry before a chunk comes first).
pub(crate) fn check_sql(names: &Names) -> String {
    chain_sql(names).replace("\"id\" > ?1", "\"id\" >= ?1")
}

/// The insert of an entry without a seal: the id (assigned by the writer), then the stored
/// columns.
pub(crate) fn insert_sql(names: &Names) -> String {
    let mut columns = vec!["id".to_owned()];
    columns.extend(stored_columns());
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO \"{}\" ({}) VALUES ({})",
        names.entries,
        quoted.join(", "),
        params.join(", ")
    )
}
