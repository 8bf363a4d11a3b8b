//! The schema: names, creation, versioned migrations serialized by an advisory lock, the checks
//! that refuse tables this store must not touch, and the trigram search index.

use audit_core::sql::{folded_column_name, stored_columns};
use audit_core::{Column, Error};
use tokio_postgres::types::Type;

use crate::dialect::search_expression;
use crate::error::Context;

/// Marks the store's tables as its own in the metadata table.
pub(crate) const APPLICATION: &str = "audit-postgres";
/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i32 = 3;

/// Whether free text and `*` wildcards are narrowed by the trigram index.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchIndex {
    /// The `pg_trgm` GIN index exists and lookups use it.
    Trigram,
    /// The host switched the index off (`search_index(false)`); searches scan.
    Disabled,
    /// The index was wanted but `pg_trgm` could not be created; searches scan and give the
    /// same answers, only slower. The reason is the server's.
    Unavailable {
        /// Why the extension could not be created.
        reason: String,
    },
}

/// The names of the store's objects, quoted and qualified where SQL text needs them.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) schema: String,
    pub(crate) table: String,
    /// `"schema"."table"`.
    pub(crate) entries: String,
    pub(crate) counters: String,
    pub(crate) meta: String,
    pub(crate) checkpoints: String,
    pub(crate) sequence: String,
    pub(crate) search_index: String,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Names {
    /// Names for a schema and table already checked with `validate_identifier`.
    pub(crate) fn new(schema: &str, table: &str) -> Self {
        let qualified = |name: &str| format!("{}.{}", quote(schema), quote(name));
        Names {
            schema: schema.to_owned(),
            table: table.to_owned(),
            entries: qualified(table),
            counters: qualified(&format!("{table}_counters")),
            meta: qualified(&format!("{table}_meta")),
            checkpoints: qualified(&format!("{table}_checkpoints")),
            sequence: qualified(&format!("{table}_id_seq")),
            search_index: format!("{table}_search"),
        }
    }

    /// The advisory lock that serializes schema changes to this table across every instance.
    fn lock_key(&self) -> i64 {
        fnv1a(&format!("{APPLICATION}\0{}\0{}", self.schema, self.table))
    }

    /// The advisory lock that serializes purges of this table across every instance.
    pub(crate) fn purge_lock_key(&self) -> i64 {
        fnv1a(&format!(
            "{APPLICATION}\0purge\0{}\0{}",
            self.schema, self.table
        ))
    }
}

/// FNV-1a: a stable hash (unlike `std`'s hasher) so every build agrees on the lock key.
fn fnv1a(text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Serializes the creation of the extension, which is per database, not per table.
fn extension_lock_key() -> i64 {
    fnv1a(&format!("{APPLICATION}\0extension pg_trgm"))
}

/// The type each stored column is written with by binary COPY.
pub(crate) fn column_type(name: &str) -> Type {
    match name {
        "date" | "start_date" | "duration" => Type::INT8,
        "success" => Type::BOOL,
        "extra" | "extra_folded" => Type::JSONB,
        _ => Type::TEXT,
    }
}

/// The COPY of a batch: the id first, then every stored column.
pub(crate) fn copy_sql(names: &Names) -> (String, Vec<Type>) {
    let columns = stored_columns();
    let mut quoted = vec![quote("id")];
    quoted.extend(columns.iter().map(|c| quote(c)));
    let mut types = vec![Type::INT8];
    types.extend(columns.iter().map(|c| column_type(c)));
    (
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            names.entries,
            quoted.join(", ")
        ),
        types,
    )
}

/// Reserves the ids of a batch of `$1` entries and counts them, returning the last id.
///
/// The UPDATE locks the one counter row until the transaction ends, so appends from every
/// instance queue here: ids are taken from the sequence and committed in the same order, which
/// makes them strictly increasing in commit order (a sequence alone does not). Only then is the
/// range taken, in one step, with `setval(nextval + n - 1)`.
pub(crate) fn reserve_sql(names: &Names) -> String {
    format!(
        "WITH counted AS (UPDATE {counters} SET \"entries\" = \"entries\" + $1 RETURNING 1) \
         SELECT setval('{sequence}', nextval('{sequence}') + $1 - 1) FROM counted",
        counters = names.counters,
        sequence = names.sequence,
    )
}

/// The number of stored entries, kept by every append.
pub(crate) fn total_sql(names: &Names) -> String {
    format!("SELECT \"entries\" FROM {}", names.counters)
}

/// The migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
fn migrations(names: &Names) -> Vec<Vec<String>> {
    vec![
        create_version_1(names),
        add_seals(names),
        add_checkpoints(names),
    ]
}

/// Version 3: the signed checkpoints purges leave (see `audit_core::retention`).
fn add_checkpoints(names: &Names) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {} (\"first\" BIGINT PRIMARY KEY, \"last\" BIGINT NOT NULL, \
         \"before\" BYTEA NOT NULL, \"last_mac\" BYTEA NOT NULL, \"purged\" BIGINT NOT NULL, \
         \"purged_at\" BIGINT NOT NULL, \"key_id\" TEXT NOT NULL, \"signature\" BYTEA NOT NULL)",
            names.checkpoints
        ),
        // A purge reads the checkpoints that end at or after the row before its chunk.
        format!("CREATE INDEX ON {} (\"last\")", names.checkpoints),
    ]
}

/// Version 2: every entry may carry an integrity seal, and the counter row keeps the MAC of
/// the chain's tail, read and advanced under the counter row's lock by every sealed append.
fn add_seals(names: &Names) -> Vec<String> {
    vec![
        format!(
            "ALTER TABLE {} ADD COLUMN \"seal_key\" TEXT, ADD COLUMN \"seal_mac\" BYTEA",
            names.entries
        ),
        format!(
            "ALTER TABLE {} ADD COLUMN \"chain_mac\" BYTEA",
            names.counters
        ),
    ]
}

/// The COPY of a sealed batch: the id, every stored column, then the seal.
pub(crate) fn sealed_copy_sql(names: &Names) -> (String, Vec<Type>) {
    let columns = stored_columns();
    let mut quoted = vec![quote("id")];
    quoted.extend(columns.iter().map(|c| quote(c)));
    quoted.extend([quote("seal_key"), quote("seal_mac")]);
    let mut types = vec![Type::INT8];
    types.extend(columns.iter().map(|c| column_type(c)));
    types.extend([Type::TEXT, Type::BYTEA]);
    (
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            names.entries,
            quoted.join(", ")
        ),
        types,
    )
}

/// Like [`reserve_sql`], also returning the MAC of the chain's tail (NULL at the start).
pub(crate) fn reserve_sealed_sql(names: &Names) -> String {
    format!(
        "WITH counted AS (UPDATE {counters} SET \"entries\" = \"entries\" + $1 RETURNING \"chain_mac\") \
         SELECT setval('{sequence}', nextval('{sequence}') + $1 - 1), counted.\"chain_mac\" FROM counted",
        counters = names.counters,
        sequence = names.sequence,
    )
}

/// Moves the chain's tail to the last MAC of a sealed batch.
pub(crate) fn advance_chain_sql(names: &Names) -> String {
    format!("UPDATE {} SET \"chain_mac\" = $1", names.counters)
}

/// Like [`chain_sql`] from id `$1` itself (so the entry before a chunk comes first).
pub(crate) fn check_sql(names: &Names) -> String {
    chain_sql(names).replace("\"id\" > $1", "\"id\" >= $1")
}

/// The links of the chain after an id (`$1`), at most `$2`: the page columns, then the seal.
pub(crate) fn chain_sql(names: &Names) -> String {
    let mut columns = vec![quote("id"), quote("date"), quote("success")];
    columns.extend(Column::TEXT.iter().map(|c| quote(c.name())));
    columns.extend(["start_date", "duration", "extra", "seal_key", "seal_mac"].map(quote));
    format!(
        "SELECT {} FROM {} WHERE \"id\" > $1 ORDER BY \"id\" LIMIT $2",
        columns.join(", "),
        names.entries
    )
}

fn create_version_1(names: &Names) -> Vec<String> {
    let Names {
        entries,
        counters,
        meta,
        sequence,
        table,
        schema,
        ..
    } = names;
    let mut columns = vec![
        format!(
            "\"id\" BIGINT GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME {sequence}) PRIMARY KEY"
        ),
        "\"date\" BIGINT NOT NULL".to_owned(),
        "\"success\" BOOLEAN NOT NULL".to_owned(),
    ];
    // Code-point order and byte comparison for every text column (DESIGN §3), whatever the
    // database's locale; the folded shadows too, so `coalesce(shadow, value)` has one collation.
    columns.extend(
        Column::TEXT
            .iter()
            .map(|c| format!("\"{}\" TEXT COLLATE \"C\" NOT NULL DEFAULT ''", c.name())),
    );
    columns.extend(
        Column::TEXT
            .iter()
            .map(|c| format!("\"{}\" TEXT COLLATE \"C\"", folded_column_name(*c))),
    );
    columns.extend([
        "\"start_date\" BIGINT".to_owned(),
        "\"duration\" BIGINT".to_owned(),
        "\"extra\" JSONB".to_owned(),
        "\"extra_folded\" JSONB".to_owned(),
    ]);
    let index = |suffix: &str, columns: &str| {
        format!(
            "CREATE INDEX {} ON {entries} ({columns})",
            quote(&format!("{table}_{suffix}"))
        )
    };
    vec![
        format!("CREATE TABLE {entries} ({})", columns.join(", ")),
        // The benchmarked query shapes: newest first (`ORDER BY date DESC, id DESC`, keyset
        // cursors and time windows walk this index), and the common exact filters in date order
        // (the page and its count both answered from one index).
        index("date", "\"date\", \"id\""),
        index("user_date", "\"user\", \"date\", \"id\""),
        index("event_date", "\"event\", \"date\", \"id\""),
        index("realm_date", "\"realm\", \"date\", \"id\""),
        // One row, updated by every append: room on its page for HOT updates.
        format!(
            "CREATE TABLE {counters} (\"singleton\" BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (\"singleton\"), \
             \"entries\" BIGINT NOT NULL) WITH (fillfactor = 50)"
        ),
        format!("INSERT INTO {counters} (\"entries\") VALUES (0)"),
        format!(
            "CREATE TABLE {meta} (\"singleton\" BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (\"singleton\"), \
             \"application\" TEXT NOT NULL, \"version\" INTEGER NOT NULL)"
        ),
        format!("INSERT INTO {meta} (\"application\", \"version\") VALUES ('{APPLICATION}', 0)"),
        format!(
            "COMMENT ON TABLE {entries} IS 'audit log entries, managed by {APPLICATION} (schema {schema})'"
        ),
    ]
}

/// What the database holds before the store touches it.
struct Found {
    schema: bool,
    entries: bool,
    counters: bool,
    meta: Option<(String, i32)>,
}

async fn inspect(tx: &tokio_postgres::Transaction<'_>, names: &Names) -> Result<Found, Error> {
    let action = "reading the schema";
    let schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            &[&names.schema],
        )
        .await
        .during(action)?
        .try_get(0)
        .during(action)?;
    let rows = tx
        .query(
            "SELECT c.relname FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname IN ($2, $3, $4)",
            &[
                &names.schema,
                &names.table,
                &format!("{}_counters", names.table),
                &format!("{}_meta", names.table),
            ],
        )
        .await
        .during(action)?;
    let mut found = Found {
        schema,
        entries: false,
        counters: false,
        meta: None,
    };
    let mut has_meta = false;
    for row in rows {
        let name: String = row.try_get(0).during(action)?;
        if name == names.table {
            found.entries = true;
        } else if name.ends_with("_counters") {
            found.counters = true;
        } else {
            has_meta = true;
        }
    }
    if has_meta {
        let row = tx
            .query_opt(
                &format!("SELECT \"application\", \"version\" FROM {}", names.meta),
                &[],
            )
            .await
            .during(action)?;
        let Some(row) = row else {
            return Err(Error::Incompatible(format!(
                "{} holds no schema version",
                names.meta
            )));
        };
        found.meta = Some((
            row.try_get(0).during(action)?,
            row.try_get(1).during(action)?,
        ));
    }
    Ok(found)
}

/// Brings the schema to [`SCHEMA_VERSION`] and the search index to what is configured, in one
/// transaction under an advisory lock, so several instances may start at once: the first
/// creates or migrates, the others wait and then find it done. A newer schema, or tables of the
/// same names that this store did not create, are refused before anything is changed.
pub(crate) async fn prepare(
    client: &mut tokio_postgres::Client,
    names: &Names,
    search: bool,
) -> Result<SearchIndex, Error> {
    let action = "preparing the schema";
    let mut tx = client.transaction().await.during(action)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&names.lock_key()])
        .await
        .during("waiting for the schema lock")?;
    let found = inspect(&tx, names).await?;
    let version = match &found.meta {
        Some((application, version)) => {
            if application != APPLICATION {
                return Err(Error::Incompatible(format!(
                    "{} belongs to {application:?}, not {APPLICATION}",
                    names.meta
                )));
            }
            if *version > SCHEMA_VERSION {
                return Err(Error::Incompatible(format!(
                    "{} has schema version {version}, newer than the {SCHEMA_VERSION} this version of {APPLICATION} understands",
                    names.entries
                )));
            }
            if *version > 0 && !(found.entries && found.counters) {
                return Err(Error::Incompatible(format!(
                    "{} records schema version {version} but {} or {} is missing",
                    names.meta, names.entries, names.counters
                )));
            }
            *version
        }
        None if found.entries || found.counters => {
            return Err(Error::Incompatible(format!(
                "{} or {} exists but was not created by {APPLICATION}",
                names.entries, names.counters
            )));
        }
        None => {
            if !found.schema {
                tx.batch_execute(&format!("CREATE SCHEMA {}", quote(&names.schema)))
                    .await
                    .during("creating the schema")?;
            }
            0
        }
    };
    if version < SCHEMA_VERSION {
        let from = usize::try_from(version).unwrap_or(0);
        for step in migrations(names).into_iter().skip(from) {
            for statement in step {
                tx.batch_execute(&statement)
                    .await
                    .during("migrating the schema")?;
            }
        }
        tx.execute(
            &format!("UPDATE {} SET \"version\" = $1", names.meta),
            &[&SCHEMA_VERSION],
        )
        .await
        .during("recording the schema version")?;
    }
    let status = sync_search_index(&mut tx, names, search).await?;
    tx.commit().await.during("committing the schema")?;
    Ok(status)
}

async fn trigram_schema(tx: &tokio_postgres::Transaction<'_>) -> Result<Option<String>, Error> {
    let row = tx
        .query_opt(
            "SELECT n.nspname FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
            &[],
        )
        .await
        .during("looking for pg_trgm")?;
    row.map(|r| r.try_get(0))
        .transpose()
        .during("looking for pg_trgm")
}

/// Creates `pg_trgm` when it is missing and allowed; `Err(reason)` when it cannot be.
async fn ensure_trigram(
    tx: &mut tokio_postgres::Transaction<'_>,
) -> Result<Result<String, String>, Error> {
    if let Some(schema) = trigram_schema(tx).await? {
        return Ok(Ok(schema));
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&extension_lock_key()])
        .await
        .during("waiting for the extension lock")?;
    if let Some(schema) = trigram_schema(tx).await? {
        return Ok(Ok(schema));
    }
    // In `public` where it exists, so that dropping the store's schema does not drop an
    // extension other stores in the database may use.
    let public: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'public')",
            &[],
        )
        .await
        .during("looking for pg_trgm")?
        .try_get(0)
        .during("looking for pg_trgm")?;
    let create = if public {
        "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"
    } else {
        "CREATE EXTENSION IF NOT EXISTS pg_trgm"
    };
    let savepoint = tx
        .savepoint("audit_pg_trgm")
        .await
        .during("creating pg_trgm")?;
    match savepoint.batch_execute(create).await {
        Ok(()) => savepoint.commit().await.during("creating pg_trgm")?,
        Err(error) => {
            savepoint.rollback().await.during("creating pg_trgm")?;
            let reason = match error.as_db_error() {
                Some(db) => format!("{} ({})", db.message(), db.code().code()),
                None => error.to_string(),
            };
            return Ok(Err(reason));
        }
    }
    match trigram_schema(tx).await? {
        Some(schema) => Ok(Ok(schema)),
        None => Ok(Err("CREATE EXTENSION pg_trgm left no extension".into())),
    }
}

/// Creates the trigram index (building it from the stored entries) or drops it, as configured.
async fn sync_search_index(
    tx: &mut tokio_postgres::Transaction<'_>,
    names: &Names,
    enabled: bool,
) -> Result<SearchIndex, Error> {
    let index = format!("{}.{}", quote(&names.schema), quote(&names.search_index));
    if !enabled {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {index}"))
            .await
            .during("dropping the search index")?;
        return Ok(SearchIndex::Disabled);
    }
    let schema = match ensure_trigram(tx).await? {
        Ok(schema) => schema,
        Err(reason) => {
            log::warn!(
                "audit-postgres: the pg_trgm extension is not available ({reason}); free text and \
                 `*` wildcards on {} scan the table instead of using a trigram index",
                names.entries
            );
            return Ok(SearchIndex::Unavailable { reason });
        }
    };
    // One GIN index over all text columns (free text searches them all, so an index on some
    // would not narrow it), with PostgreSQL's GIN defaults. Measured with tests/measure.rs
    // (batches of 10,000): `fastupdate` off ~3k rows/s; on, with the default 4 MB pending list,
    // ~12k rows/s at 1M rows; 16 or 64 MB ~15k rows/s, but a search then reads the whole
    // unsorted pending list until it is merged (21 ms, and once 164 ms, with 64 MB). A host may
    // `ALTER INDEX ... SET (gin_pending_list_limit = ...)`; the store leaves that in place.
    tx.batch_execute(&format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({} {}.gin_trgm_ops)",
        quote(&names.search_index),
        names.entries,
        search_expression(),
        quote(&schema),
    ))
    .await
    .during("creating the search index")?;
    Ok(SearchIndex::Trigram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_qualified() {
        let names = Names::new("Audit", "entries");
        assert_eq!(names.entries, "\"Audit\".\"entries\"");
        assert_eq!(names.counters, "\"Audit\".\"entries_counters\"");
        assert_eq!(names.search_index, "entries_search");
    }

    #[test]
    fn copy_types_follow_the_stored_columns() {
        let (sql, types) = copy_sql(&Names::new("s", "t"));
        assert_eq!(types.len(), stored_columns().len() + 1);
        assert!(sql.starts_with("COPY \"s\".\"t\" (\"id\", \"date\", \"success\", \"event\""));
        assert_eq!(types[..3], [Type::INT8, Type::INT8, Type::BOOL]);
        assert_eq!(types.last(), Some(&Type::JSONB));
    }

    #[test]
    fn lock_keys_differ_by_table_and_are_stable() {
        assert_ne!(
            Names::new("s", "a").lock_key(),
            Names::new("s", "b").lock_key()
        );
        assert_eq!(
            fnv1a(""),
            i64::from_ne_bytes(0xcbf2_9ce4_8422_2325u64.to_ne_bytes())
        );
    }
}
