#![doc = include_str!("../README.md")]

mod bind;
mod count;
mod dialect;
mod error;
mod pool;
mod purge;
mod ranking;
mod schema;
mod stats;
mod wal_checkpoint;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use audit_core::integrity::{
    ChainCheck, ChainChecker, Checkpoint, Checkpoints, Keyring, Link, Seal, StoredEntry,
};
use audit_core::query::{Page, Sort};
use audit_core::retention::{PurgeReport, PurgeRequest};
use audit_core::sql::{
    StoredRow, count_statement, decode_entry, entries_statement, extra_for_check,
    filtered_selection, page_ids_statement, page_statement_by_ids, prefilter_needles,
    purge_count_statement, select_columns, sort_key_statement, validate_identifier, where_clause,
};
use audit_core::stats::{Statistics, StatsRequest};
use audit_core::store::{lookahead, page_from_lookahead};
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditPage, AuditQuery, AuditStore, Column, Counts, Error,
    Result,
};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, params_from_iter};
use sea_query::{Alias, Expr, SqliteQueryBuilder};
use tokio::sync::{mpsc, oneshot};

use crate::bind::{Param, params};
use crate::dialect::SqliteDialect;
use crate::error::{Context, SqliteError};
use crate::pool::ReadPool;
use crate::purge::PurgeJob;
use crate::schema::Names;
use crate::wal_checkpoint::WalCheckpointer;
use crate::writer::{Job, WriteRequest};

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// A committed batch survives a crash of the process and of the machine (power loss).
    #[default]
    Full,
    /// A committed batch survives a crash of the process; the last commits before a power loss
    /// may be lost (never half of a batch). Faster.
    Normal,
}

#[derive(Debug, Clone)]
enum Location {
    File(PathBuf),
    Memory(String),
}

/// Configures and opens a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteStoreBuilder {
    location: Location,
    prefix: String,
    synchronous: Synchronous,
    busy_timeout: Duration,
    readers: usize,
    search_index: bool,
    keyring: Option<Keyring>,
    memory_map: u64,
}

/// The default of [`SqliteStoreBuilder::memory_map`].
const DEFAULT_MEMORY_MAP: u64 = 1 << 30;

/// How many connections read in slices (counts and ranked pages in halves, statistics),
/// besides the read connections.
const SCAN_CONNECTIONS: usize = 4;

/// Pages of at least this many entries are read ids first, in two halves at once (see
/// `SqliteStore::fetch_ids_first`). Chosen, not measured: above any listing page a viewer
/// asks for, below the export's chunks.
const FETCH_IN_HALVES_FROM: u32 = 2_000;

/// The write connection's page cache, in KiB (see `open_blocking` for why it is not larger).
const WRITER_CACHE_KIB: u32 = 8_192;

static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

impl Default for SqliteStoreBuilder {
    fn default() -> Self {
        SqliteStoreBuilder {
            location: Location::File(PathBuf::from("audit.db")),
            prefix: "audit_".into(),
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(10),
            readers: 4,
            search_index: true,
            keyring: None,
            memory_map: DEFAULT_MEMORY_MAP,
        }
    }
}

impl SqliteStoreBuilder {
    /// Seals every appended entry into an integrity chain with the keyring's current key (see
    /// [`audit_core::integrity`]). Writers in several processes extend one chain: each write
    /// transaction holds SQLite's write lock while it reads the tail and seals its batches.
    #[must_use]
    pub fn integrity(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Stores entries in the file at `path`, created when missing (default `audit.db`).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.location = Location::File(path.as_ref().to_path_buf());
        self
    }

    /// Keeps entries in memory only, for tests: gone when the store is dropped.
    #[must_use]
    pub fn in_memory(mut self) -> Self {
        let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
        self.location = Location::Memory(format!("audit-{}-{n}", std::process::id()));
        self
    }

    /// Prefixes the store's table names (default `audit_`): ASCII letters, digits and `_`.
    #[must_use]
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How durable a commit is (default [`Synchronous::Full`]).
    #[must_use]
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long a connection waits for a lock held by another process (default 10 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many read connections serve queries in parallel (default 4, at least 1); four more
    /// read in slices (see [`memory_map`](Self::memory_map)).
    #[must_use]
    pub fn read_connections(mut self, readers: usize) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// Whether free text and `*` wildcards use the trigram search index (default on). Off,
    /// appends are faster and searches scan; the answers are the same.
    #[must_use]
    pub fn search_index(mut self, enabled: bool) -> Self {
        self.search_index = enabled;
        self
    }

    /// How many bytes of the file the four connections that read in slices (counts and pages
    /// in halves of the ids, statistics) map into memory (default 1 GiB; 0 reads through
    /// system calls only); they are opened besides the read connections. SQLite as
    /// `libsqlite3-sys` bundles it by default shares one page cache among the connections of
    /// a process, under one lock; mapped pages bypass it. At 1,000,000 entries two halves
    /// counted at once each ran at about half speed without the map, and the statistics of
    /// `GET /audit/statistics?days=7` took 152 ms instead of 108. The read connections do not
    /// map the file: with a page cache per connection (see the README), an export of
    /// 1,000,000 entries took as long through the map as without it (2.12-2.18 s against
    /// 2.12-2.16 s). An I/O error on a mapped page ends the process with `SIGBUS` where a read
    /// would return an error.
    #[must_use]
    pub fn memory_map(mut self, bytes: u64) -> Self {
        self.memory_map = bytes;
        self
    }

    /// Opens the store: checks the file, creates or migrates the schema, starts the writer.
    pub async fn open(self) -> Result<SqliteStore> {
        validate_identifier("table_prefix", &self.prefix)?;
        tokio::task::spawn_blocking(move || self.open_blocking())
            .await
            .map_err(|e| SqliteError::from(e).during("opening the store"))?
    }

    fn connect(&self, read_only: bool) -> Result<Connection> {
        let access = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        };
        let flags = access | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match &self.location {
            Location::File(path) => Connection::open_with_flags(path, flags),
            Location::Memory(name) => {
                Connection::open_with_flags(format!("file:/{name}?vfs=memdb"), flags)
            }
        }
        .during("opening the database")?;
        conn.busy_timeout(self.busy_timeout)
            .during("setting the busy timeout")?;
        Ok(conn)
    }

    fn open_blocking(self) -> Result<SqliteStore> {
        let names = Names::new(&self.prefix);
        let path = match &self.location {
            Location::File(path) => Some(path.as_path()),
            Location::Memory(_) => None,
        };
        let mut conn = self.connect(false)?;
        schema::prepare(&mut conn, path, &names)?;
        if path.is_some() {
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .during("enabling WAL")?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::Incompatible(format!(
                    "the database cannot use WAL (journal mode {mode})"
                )));
            }
        }
        let synchronous = match self.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        // A commit of 1,000 rows writes about 110 WAL pages without the search index. A file's
        // log is copied into the file by a thread of its own (see `wal_checkpoint`), so commits
        // mostly do not pay for it; the writer's automatic checkpoint at 10,000 pages finishes
        // what is left and lets the log restart, and the log file is truncated to 64 MiB when
        // it does. In memory there is no log.
        let checkpointer = match path {
            Some(_) => {
                let conn = self.connect(false)?;
                conn.execute_batch(&format!("PRAGMA synchronous = {synchronous};"))
                    .during("configuring the checkpoint connection")?;
                Some(WalCheckpointer::spawn(conn, &names.entries).map_err(|e| {
                    Error::backend("sqlite", "starting the checkpoint thread", false, e)
                })?)
            }
            None => None,
        };
        // `libsqlite3-sys` builds its bundled SQLite with SQLITE_ENABLE_MEMORY_MANAGEMENT: one
        // page cache for every connection of the process. Readers that scan then free an
        // idle writer's pages as it uses them, for hundreds of batches: at 1,000,000 entries
        // without the search index, appends after one scanning query ran at 70,000 events/s
        // against 97,000 before it with a 64 MiB cache (256 MiB: 59,000), and at 93,000-96,000
        // either way with 8 MiB, unless many scans ran (ten: 69,600). Built without the flag
        // (see the README), appends stay at 97,000-100,000. With the search index, 8 MiB
        // appends 32,100 events/s against 31,700 with 64 MiB.
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA wal_autocheckpoint = 10000; \
             PRAGMA journal_size_limit = 67108864; \
             PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))
        .during("configuring the write connection")?;
        schema::sync_search_index(&mut conn, &names, self.search_index)?;
        let readers = (0..self.readers)
            .map(|_| self.connect(true))
            .collect::<Result<Vec<_>>>()?;
        let scan_readers = (0..SCAN_CONNECTIONS)
            .map(|_| {
                let conn = self.connect(true)?;
                if path.is_some() {
                    conn.execute_batch(&format!("PRAGMA mmap_size = {};", self.memory_map))
                        .during("configuring a counting connection")?;
                }
                Ok(conn)
            })
            .collect::<Result<Vec<_>>>()?;
        let (writer, writer_stopped) = writer::spawn(
            conn,
            names.clone(),
            self.search_index,
            self.keyring.clone(),
            checkpointer,
        )
        .map_err(|e| Error::backend("sqlite", "starting the writer thread", false, e))?;
        let dialect = SqliteDialect {
            entries: names.entries.clone(),
            search: self.search_index.then(|| names.search.clone()),
            broad: Vec::new(),
            ids: None,
        };
        Ok(SqliteStore {
            writer,
            writer_stopped,
            readers: ReadPool::new(readers),
            scan_readers: ReadPool::new(scan_readers),
            names,
            dialect: Arc::new(dialect),
            slice_statistics_above: stats::SLICE_ABOVE_ROWS,
            split_counts_above: count::SPLIT_ABOVE_IDS,
        })
    }
}

/// An [`AuditStore`] in a SQLite database: the embedded default backend.
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    writer_stopped: oneshot::Receiver<()>,
    readers: Arc<ReadPool>,
    /// The connections that read in slices (see [`count`], [`ranking`], [`stats`]), mapping
    /// the file.
    scan_readers: Arc<ReadPool>,
    names: Names,
    dialect: Arc<SqliteDialect>,
    /// Statistics over more entries than this are computed in slices, one per reader and core.
    slice_statistics_above: i64,
    /// Filtered counts that read every row are split in two above this many ids.
    split_counts_above: i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("entries", &self.names.entries)
            .field("search_index", &self.dialect.search.is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// A builder with the defaults: file `audit.db`, prefix `audit_`, `synchronous=FULL`.
    pub fn builder() -> SqliteStoreBuilder {
        SqliteStoreBuilder::default()
    }

    /// Opens (or creates) the database file at `path` with the defaults.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        SqliteStore::builder().path(path).open().await
    }

    /// An in-memory database with the defaults.
    pub async fn in_memory() -> Result<Self> {
        SqliteStore::builder().in_memory().open().await
    }

    /// Writes what is queued, closes every connection (checkpointing the WAL into the file)
    /// and waits until that is done. Dropping the store does the same without waiting.
    pub async fn close(self) -> Result<()> {
        let SqliteStore {
            writer,
            writer_stopped,
            readers,
            scan_readers,
            ..
        } = self;
        drop(readers);
        drop(scan_readers);
        drop(writer);
        writer_stopped
            .await
            .map_err(|_| SqliteError::WriterGone.during("closing the store"))
    }
}

/// A statement and its bound values, built before entering the blocking task.
struct Statement {
    sql: String,
    params: Vec<Param>,
}

/// The entries of a page read with [`page_statement_by_ids`], put in `sort`'s order.
fn read_page(conn: &Connection, statement: &Statement, sort: Sort) -> Result<Vec<AuditEntry>> {
    let mut entries = read_entries(conn, statement)?;
    sort.arrange(&mut entries);
    Ok(entries)
}

/// A page and what `then` reads, in one read transaction: from the same snapshot.
fn page_and<T>(
    conn: &Connection,
    page: &Statement,
    sort: Sort,
    then: impl FnOnce(&Connection) -> Result<T>,
) -> Result<(Vec<AuditEntry>, T)> {
    let tx = conn.unchecked_transaction().during("starting a read")?;
    let entries = read_page(&tx, page, sort)?;
    let also = then(&tx)?;
    tx.finish().during("ending a read")?;
    Ok((entries, also))
}

fn read_entries(conn: &Connection, statement: &Statement) -> Result<Vec<AuditEntry>> {
    let mut prepared = conn
        .prepare_cached(&statement.sql)
        .during("preparing a query")?;
    let mut rows = prepared
        .query(params_from_iter(&statement.params))
        .during("running a query")?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().during("reading a row")? {
        entries.push(decode_entry(stored_row(row, "reading a row")?)?);
    }
    Ok(entries)
}

/// The columns of [`StoredRow`] at the start of `row`, text borrowed from SQLite's row rather
/// than copied into a `String` per cell.
fn stored_row<'r>(row: &'r rusqlite::Row<'_>, action: &'static str) -> Result<StoredRow<&'r str>> {
    let text = |i: usize| -> Result<&'r str> {
        row.get_ref(i)
            .and_then(|value| {
                value.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e))
                })
            })
            .during(action)
    };
    let columns = audit_core::Column::TEXT.len();
    // Sized up front: collecting through `Result` would grow the vector three times per row.
    let mut texts = Vec::with_capacity(columns);
    for i in 3..3 + columns {
        texts.push(text(i)?);
    }
    let at = 3 + columns;
    let extra = match row.get_ref(at + 2).during(action)? {
        rusqlite::types::ValueRef::Null => None,
        _ => Some(text(at + 2)?),
    };
    Ok(StoredRow {
        id: row.get(0).during(action)?,
        date: row.get(1).during(action)?,
        success: row.get(2).during(action)?,
        texts,
        start_date: row.get(at).during(action)?,
        duration: row.get(at + 1).during(action)?,
        extra,
    })
}

/// The entries with these ids: a join over the ids given as one JSON array (one bound value),
/// which SQLite walks looking each row up by its id. `id IN (...)` with a value per id first
/// builds a temporary index of them: per half of an export chunk (2,500 ids), 0.62-0.84 ms
/// against 0.43 ms for the join.
fn entries_by_listed_ids(table: &str, ids: &[AuditId]) -> sea_query::SelectStatement {
    let list = ids
        .iter()
        .map(AuditId::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let entry = Alias::new("entry");
    let listed = Alias::new("listed");
    let mut select = sea_query::Query::select();
    for column in select_columns() {
        select.column((entry.clone(), column));
    }
    select
        .from_function(
            sea_query::Func::cust(Alias::new("json_each")).arg(format!("[{list}]")),
            listed.clone(),
        )
        .join_as(
            sea_query::JoinType::InnerJoin,
            Alias::new(table),
            entry.clone(),
            sea_query::ExprTrait::equals(
                Expr::col((entry, Alias::new("id"))),
                (listed, Alias::new("value")),
            ),
        );
    select
}

fn read_ids(conn: &Connection, statement: &Statement) -> Result<Vec<AuditId>> {
    let mut prepared = conn
        .prepare_cached(&statement.sql)
        .during("preparing a query")?;
    let ids = prepared
        .query_map(params_from_iter(&statement.params), |row| row.get(0))
        .during("running a query")?
        .collect::<rusqlite::Result<Vec<AuditId>>>()
        .during("reading a row")?;
    Ok(ids)
}

fn read_links(conn: &Connection, sql: &str, after: AuditId, limit: u32) -> Result<Vec<Link>> {
    let mut prepared = conn
        .prepare_cached(sql)
        .during("preparing the chain read")?;
    let mut rows = prepared
        .query(rusqlite::params![after, limit])
        .during("reading the chain")?;
    let at = 3 + audit_core::Column::TEXT.len();
    let mut links = Vec::new();
    while let Some(row) = rows.next().during("reading the chain")? {
        let stored = stored_row(row, "reading the chain")?;
        let key_id: Option<String> = row.get(at + 3).during("reading the chain")?;
        let mac: Option<Vec<u8>> = row.get(at + 4).during("reading the chain")?;
        let entry = decode_entry(stored)?;
        // A seal that cannot be read is reported by verification as a broken link.
        let seal = Seal::from_columns(key_id, mac.as_deref());
        links.push(Link { entry, seal });
    }
    Ok(links)
}

/// Checks the chain from the entry after `after` as the rows are read, with their text
/// borrowed from SQLite: no entry is rebuilt.
fn check_rows(
    conn: &Connection,
    sql: &str,
    keyring: &Keyring,
    checkpoints: &Checkpoints,
    after: AuditId,
    limit: u32,
) -> Result<ChainCheck> {
    let mut prepared = conn
        .prepare_cached(sql)
        .during("preparing the chain check")?;
    let rows_wanted = i64::from(limit) + i64::from(after > 0);
    let mut rows = prepared
        .query(rusqlite::params![after, rows_wanted])
        .during("checking the chain")?;
    let columns = audit_core::Column::TEXT.len();
    let at = 3 + columns;
    let mut checker = ChainChecker::new(keyring, checkpoints, after);
    let mut last_id = None;
    while let Some(row) = rows.next().during("checking the chain")? {
        let text = |i: usize| -> &str {
            // A cell that is not text cannot match its MAC; it is checked as empty.
            row.get_ref(i)
                .ok()
                .and_then(|v| v.as_str().ok())
                .unwrap_or("")
        };
        let texts: Vec<&str> = (0..columns).map(|i| text(3 + i)).collect();
        let extra_json = match row.get_ref(at + 2).during("checking the chain")? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(text(at + 2)),
        };
        let extra = extra_json.map(extra_for_check);
        let id: AuditId = row.get(0).during("checking the chain")?;
        let entry = StoredEntry {
            id,
            date: row.get(1).during("checking the chain")?,
            success: row.get(2).during("checking the chain")?,
            texts: &texts,
            start_date: row.get(at).during("checking the chain")?,
            duration: row.get(at + 1).during("checking the chain")?,
            extra: extra.as_ref(),
        };
        let key_id = row.get_ref(at + 3).ok().and_then(|v| v.as_str().ok());
        let mac = row.get_ref(at + 4).ok().and_then(|v| v.as_blob().ok());
        let seal = key_id.zip(mac);
        if id != after {
            last_id = Some(id);
        }
        if !checker.feed(&entry, seal) {
            break;
        }
    }
    Ok(checker.finish(last_id))
}

fn read_count(conn: &Connection, statement: &Statement) -> Result<u64> {
    let mut prepared = conn
        .prepare_cached(&statement.sql)
        .during("preparing a count")?;
    let count: i64 = prepared
        .query_row(params_from_iter(&statement.params), |r| r.get(0))
        .during("counting")?;
    Ok(count.max(0).unsigned_abs())
}

impl SqliteStore {
    /// The dialects for `query`'s page and for its counts: without index lookups for wildcard
    /// filters that would select too many entries to help (see [`dialect::BROAD_SHARE`]), and
    /// for the page also without the lookup of common free text when it is read in id or
    /// date order, where a scan stops at the page's last entry. A count reads every match,
    /// which the lookup finds faster than a scan of every text column.
    async fn dialect_for(&self, query: &AuditQuery) -> Result<Dialects> {
        let find = query.find_text().map(str::to_owned);
        let scan_finds = matches!(query.sort_order().column(), Column::Id | Column::Date);
        let mut needles = prefilter_needles(query);
        if !scan_finds {
            needles.retain(|needle| Some(needle) != find.as_ref());
        }
        let Some(search) = self.dialect.search.clone().filter(|_| !needles.is_empty()) else {
            return Ok(Dialects::same(Arc::clone(&self.dialect)));
        };
        let counters = self.names.counters.clone();
        let broad = self
            .readers
            .read("sizing the search", move |conn| {
                let total: i64 = conn
                    .query_row(
                        &format!("SELECT \"value\" FROM \"{counters}\" WHERE \"name\" = 'entries'"),
                        [],
                        |r| r.get(0),
                    )
                    .during("sizing the search")?;
                dialect::broad_needles(conn, &search, &needles, total.max(0).unsigned_abs())
                    .during("sizing the search")
            })
            .await?;
        if broad.is_empty() {
            return Ok(Dialects::same(Arc::clone(&self.dialect)));
        }
        let with_broad = |broad: Vec<String>| {
            Arc::new(SqliteDialect {
                broad,
                ..(*self.dialect).clone()
            })
        };
        let counted: Vec<String> = broad
            .iter()
            .filter(|needle| Some(*needle) != find.as_ref())
            .cloned()
            .collect();
        Ok(Dialects {
            count: with_broad(counted),
            page: with_broad(broad),
        })
    }

    fn page(&self, query: &AuditQuery, now: DateTime<Utc>, dialect: &SqliteDialect) -> Statement {
        let (sql, values) = page_statement_by_ids(&self.names.entries, query, now, dialect)
            .build(SqliteQueryBuilder);
        Statement {
            sql,
            params: params(&values),
        }
    }

    /// A large page read ids first: the ids of the page in one statement, then their rows, in
    /// two halves read at once on two read connections when there are many. Decoding rows is
    /// most of the cost of a large page, and the halves decode on two cores; an export at
    /// 1,000,000 entries reads its chunks of 5,000 about 40 % faster so. `None` for a page
    /// too small to gain from it, or when a purge took some of its entries between the two
    /// reads: then the caller reads the page in one statement, from one snapshot.
    async fn fetch_ids_first(
        &self,
        query: &AuditQuery,
        now: DateTime<Utc>,
        dialect: &SqliteDialect,
    ) -> Result<Option<Vec<AuditEntry>>> {
        if query.page_spec().count() < FETCH_IN_HALVES_FROM {
            return Ok(None);
        }
        let ids = {
            let (sql, values) = page_ids_statement(&self.names.entries, query, now, dialect)
                .build(SqliteQueryBuilder);
            Statement {
                sql,
                params: params(&values),
            }
        };
        let ids = self
            .readers
            .read("reading entries", move |conn| read_ids(conn, &ids))
            .await?;
        let read = |ids: &[AuditId]| {
            let (sql, values) =
                entries_by_listed_ids(&self.names.entries, ids).build(SqliteQueryBuilder);
            let rows = Statement {
                sql,
                params: params(&values),
            };
            self.readers
                .read("reading entries", move |conn| read_entries(conn, &rows))
        };
        if ids.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // Few ids are read in one go rather than dropped: finding them may have scanned. So are
        // many while other reads hold the connections: halves would only queue behind them.
        let mut entries = if ids.len() < FETCH_IN_HALVES_FROM as usize || self.readers.idle() < 2 {
            read(&ids).await?
        } else {
            let (lower, upper) = ids.split_at(ids.len() / 2);
            let (mut lower, upper) =
                futures_util::future::try_join(read(lower), read(upper)).await?;
            lower.extend(upper);
            lower
        };
        if entries.len() < ids.len() {
            return Ok(None);
        }
        query.sort_order().arrange(&mut entries);
        Ok(Some(entries))
    }

    /// The count statement, or `None` when the query is unfiltered and the counter answers.
    fn filtered_count(
        &self,
        query: &AuditQuery,
        now: DateTime<Utc>,
        dialect: &SqliteDialect,
    ) -> Option<Statement> {
        where_clause(query, now, dialect)?;
        let (sql, values) =
            count_statement(&self.names.entries, query, now, dialect).build(SqliteQueryBuilder);
        Some(Statement {
            sql,
            params: params(&values),
        })
    }

    /// The filtered count in two halves of the ids (see [`count`]), when `query` reads every
    /// row and the table holds enough ids to make splitting pay.
    async fn count_halves(
        &self,
        query: &AuditQuery,
        now: DateTime<Utc>,
        dialect: &SqliteDialect,
    ) -> Result<Option<[Statement; 2]>> {
        if where_clause(query, now, dialect).is_none() || !count::reads_every_row(query, now) {
            return Ok(None);
        }
        self.halves_of(
            |dialect| count_statement(&self.names.entries, query, now, dialect),
            dialect,
            query.find_text(),
        )
        .await
    }

    /// `statement` (built with the dialect it is given, from `dialect`) restricted to each half
    /// of the ids, when the table holds enough ids to make splitting pay; free text `find` is
    /// looked up by joining the search index (see [`SqliteDialect::search_join`]).
    async fn halves_of(
        &self,
        statement: impl Fn(&SqliteDialect) -> sea_query::SelectStatement,
        dialect: &SqliteDialect,
        find: Option<&str>,
    ) -> Result<Option<[Statement; 2]>> {
        use sea_query::ExprTrait;
        // Busy with another request's halves (or short of a connection lost to a panic): the
        // caller reads whole on a read connection instead of queueing.
        if self.scan_readers.idle() < 2 {
            return Ok(None);
        }
        let entries = self.names.entries.clone();
        let bounds = self
            .readers
            .read("sizing a count", move |conn| {
                conn.query_row(
                    // Two subqueries: SQLite looks up a lone min() or max() in the index, but
                    // scans the table for both in one select.
                    &format!(
                        "SELECT (SELECT min(\"id\") FROM \"{entries}\"), \
                         (SELECT max(\"id\") FROM \"{entries}\")"
                    ),
                    [],
                    |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
                )
                .during("sizing a count")
            })
            .await?;
        let (Some(first), Some(last)) = bounds else {
            return Ok(None);
        };
        let Some(halves) = count::halves(first, last, self.split_counts_above) else {
            return Ok(None);
        };
        Ok(Some(halves.map(|(after, up_to)| {
            let join = find.and_then(|needle| {
                let (search, on) = dialect.search_join(needle, (after, up_to))?;
                Some((needle, search, on))
            });
            let mut broad = dialect.broad.clone();
            if let Some((needle, ..)) = &join {
                // Joined instead of looked up.
                broad.push((*needle).to_owned());
            }
            let dialect = SqliteDialect {
                ids: Some((after, up_to)),
                broad,
                ..dialect.clone()
            };
            let mut select = statement(&dialect);
            if let Some((_, search, on)) = join {
                select
                    .join(
                        sea_query::JoinType::InnerJoin,
                        Alias::new(&search),
                        Expr::cust(format!(
                            "\"{search}\".rowid = \"{}\".\"id\"",
                            self.names.entries
                        )),
                    )
                    .and_where(on);
            }
            select
                .and_where(Expr::col(Alias::new("id")).gt(after))
                .and_where(Expr::col(Alias::new("id")).lte(up_to));
            let (sql, values) = select.build(SqliteQueryBuilder);
            Statement {
                sql,
                params: params(&values),
            }
        })))
    }

    /// A page and its counts from one pass over each half of the ids (see [`ranking`]), when
    /// the page is one to rank that way and its filter, if any, reads every row.
    async fn ranked_page(
        &self,
        query: &AuditQuery,
        now: DateTime<Utc>,
        dialect: &SqliteDialect,
    ) -> Result<Option<AuditPage>> {
        let filtered = where_clause(query, now, dialect).is_some();
        if filtered && !count::reads_every_row(query, now) {
            return Ok(None);
        }
        let Some(keep) = ranking::to_keep(query, filtered) else {
            return Ok(None);
        };
        let Page::Offset { start, count } = *query.page_spec() else {
            return Ok(None);
        };
        let Some(halves) = self
            .halves_of(
                |dialect| sort_key_statement(&self.names.entries, query, now, dialect),
                dialect,
                query.find_text(),
            )
            .await?
        else {
            return Ok(None);
        };
        let direction = query.sort_order().direction();
        let [lower, upper] = halves;
        let rank = |half: Statement| {
            self.scan_readers.read("ranking entries", move |conn| {
                ranking::rank(conn, &half.sql, &half.params, keep, direction)
            })
        };
        let (lower, upper) = futures_util::future::try_join(rank(lower), rank(upper)).await?;
        // `keep` is at most ranking::RANK_UP_TO, so the start fits.
        let start = usize::try_from(start).unwrap_or(usize::MAX);
        let (ids, filter_count) =
            ranking::merge([lower, upper], start, count as usize + 1, direction);
        let rows = {
            let (sql, values) =
                entries_statement(&self.names.entries, &ids).build(SqliteQueryBuilder);
            Statement {
                sql,
                params: params(&values),
            }
        };
        let total = self.total(query, now, dialect);
        let sort = query.sort_order();
        let (entries, total_count) = self
            .readers
            .read("reading a page", move |conn| {
                page_and(conn, &rows, sort, |tx| read_count(tx, &total))
            })
            .await?;
        if entries.len() < ids.len() {
            // A purge took entries of the page between the ranking and the read: rank the
            // usual way instead of showing a short page.
            return Ok(None);
        }
        let counts = Counts {
            // Unfiltered, the counter answers for both, as on every other page. Filtered, the
            // halves were counted a moment before the total was read.
            filter_count: if filtered {
                filter_count.min(total_count)
            } else {
                total_count
            },
            total_count,
        };
        Ok(Some(page_from_lookahead(entries, query, counts)))
    }

    /// Counts the two halves at once and adds them up.
    async fn count_in_halves(&self, halves: [Statement; 2]) -> Result<u64> {
        let [lower, upper] = halves;
        let (lower, upper) = futures_util::future::try_join(
            self.scan_readers
                .read("counting entries", move |conn| read_count(conn, &lower)),
            self.scan_readers
                .read("counting entries", move |conn| read_count(conn, &upper)),
        )
        .await?;
        Ok(lower.saturating_add(upper))
    }

    /// The statistics statement of each slice of the rows `query` selects.
    fn statistics_slices(
        &self,
        request: &StatsRequest,
        query: &AuditQuery,
        now: DateTime<Utc>,
        slices: &[stats::Slice],
        dialect: &SqliteDialect,
    ) -> Vec<stats::SliceStatement> {
        use sea_query::ExprTrait;
        let mut base = filtered_selection(&self.names.entries, query, now, dialect);
        base.expr(Expr::cust(stats::aggregate_call(request)));
        let column = |name: &str| Expr::col(Alias::new(name));
        slices
            .iter()
            .map(|slice| {
                let mut statement = base.clone();
                match *slice {
                    stats::Slice::Whole => {}
                    stats::Slice::Dates(from, to) => {
                        if let Some(from) = from {
                            statement.and_where(column("date").gte(from));
                        }
                        if let Some(to) = to {
                            statement.and_where(column("date").lt(to));
                        }
                    }
                    stats::Slice::Ids(after, up_to) => {
                        statement
                            .and_where(column("id").gt(after))
                            .and_where(column("id").lte(up_to));
                    }
                }
                stats::SliceStatement::new(&statement, request)
            })
            .collect()
    }

    /// The total count: the counter, or for a scoped query the entries in scope.
    fn total(&self, query: &AuditQuery, now: DateTime<Utc>, dialect: &SqliteDialect) -> Statement {
        if query.is_scoped() {
            let (sql, values) =
                count_statement(&self.names.entries, &query.scope_query(), now, dialect)
                    .build(SqliteQueryBuilder);
            return Statement {
                sql,
                params: params(&values),
            };
        }
        Statement {
            sql: format!(
                "SELECT \"value\" FROM \"{}\" WHERE \"name\" = 'entries'",
                self.names.counters
            ),
            params: Vec::new(),
        }
    }
}

/// The dialect a page is read with, and the one its counts are made with.
struct Dialects {
    page: Arc<SqliteDialect>,
    count: Arc<SqliteDialect>,
}

impl Dialects {
    fn same(dialect: Arc<SqliteDialect>) -> Self {
        Dialects {
            page: Arc::clone(&dialect),
            count: dialect,
        }
    }
}

fn counts(conn: &Connection, total: &Statement, filtered: Option<&Statement>) -> Result<Counts> {
    let total_count = read_count(conn, total)?;
    let filter_count = match filtered {
        Some(statement) => read_count(conn, statement)?,
        None => total_count,
    };
    Ok(Counts {
        filter_count,
        total_count,
    })
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Write(WriteRequest { batch, reply }))
            .await
            .map_err(|_| Error::Closed)?;
        answer
            .await
            .map_err(|_| SqliteError::WriterGone.during("appending"))?
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let dialects = self.dialect_for(query).await?;
        let now = Utc::now();
        if let Some(entries) = self.fetch_ids_first(query, now, &dialects.page).await? {
            return Ok(entries);
        }
        let statement = self.page(query, now, &dialects.page);
        let sort = query.sort_order();
        self.readers
            .read("reading entries", move |conn| {
                read_page(conn, &statement, sort)
            })
            .await
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let now = Utc::now();
        let dialect = self.dialect_for(query).await?.count;
        let total = self.total(query, now, &dialect);
        if let Some(halves) = self.count_halves(query, now, &dialect).await? {
            let (total_count, filter_count) = futures_util::future::try_join(
                self.readers
                    .read("counting entries", move |conn| read_count(conn, &total)),
                self.count_in_halves(halves),
            )
            .await?;
            return Ok(Counts {
                filter_count: filter_count.min(total_count),
                total_count,
            });
        }
        let filtered = self.filtered_count(query, now, &dialect);
        self.readers
            .read("counting entries", move |conn| {
                counts(conn, &total, filtered.as_ref())
            })
            .await
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let now = Utc::now();
        let dialects = self.dialect_for(query).await?;
        let dialect = dialects.count;
        if let Some(page) = self.ranked_page(query, now, &dialect).await? {
            return Ok(page);
        }
        let page = self.page(&lookahead(query), now, &dialects.page);
        let sort = query.sort_order();
        let total = self.total(query, now, &dialect);
        if let Some(halves) = self.count_halves(query, now, &dialect).await? {
            // The page and the total in one read transaction, the count beside them.
            let ((entries, total_count), filter_count) = futures_util::future::try_join(
                self.readers.read("reading a page", move |conn| {
                    page_and(conn, &page, sort, |tx| read_count(tx, &total))
                }),
                self.count_in_halves(halves),
            )
            .await?;
            let counts = Counts {
                filter_count: filter_count.min(total_count),
                total_count,
            };
            return Ok(page_from_lookahead(entries, query, counts));
        }
        let filtered = self.filtered_count(query, now, &dialect);
        let (entries, counts) = self
            .readers
            .read("reading a page", move |conn| {
                page_and(conn, &page, sort, |tx| {
                    counts(tx, &total, filtered.as_ref())
                })
            })
            .await?;
        Ok(page_from_lookahead(entries, query, counts))
    }

    async fn chain(&self, after: AuditId, limit: u32) -> Result<Vec<Link>> {
        let sql = schema::chain_sql(&self.names);
        self.readers
            .read("reading the chain", move |conn| {
                read_links(conn, &sql, after, limit)
            })
            .await
    }

    async fn check_chain(
        &self,
        keyring: &Keyring,
        checkpoints: &Checkpoints,
        after: AuditId,
        limit: u32,
    ) -> Result<ChainCheck> {
        let sql = schema::check_sql(&self.names);
        let keyring = keyring.clone();
        let checkpoints = checkpoints.clone();
        self.readers
            .read("checking the chain", move |conn| {
                check_rows(conn, &sql, &keyring, &checkpoints, after, limit)
            })
            .await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let names = self.names.clone();
        self.readers
            .read("reading checkpoints", move |conn| {
                purge::read_checkpoints(conn, &names, None)
            })
            .await
    }

    /// Deletes in chunks run by the writer thread, one immediate transaction each, so appends
    /// queued meanwhile wait for one chunk at most.
    async fn purge(&self, request: &PurgeRequest) -> Result<PurgeReport> {
        if request.dry_run {
            let statement = {
                let (sql, values) =
                    purge_count_statement(&self.names.entries, request, Utc::now(), &*self.dialect)
                        .build(SqliteQueryBuilder);
                Statement {
                    sql,
                    params: params(&values),
                }
            };
            let purged = self
                .readers
                .read("counting entries to purge", move |conn| {
                    read_count(conn, &statement)
                })
                .await?;
            return Ok(PurgeReport {
                purged,
                chunks: 0,
                dry_run: true,
            });
        }
        let mut report = PurgeReport::default();
        let mut after = 0;
        loop {
            // Where the next chunk starts is found on a reader, without the write lock.
            let (names, search, find) = (
                self.names.clone(),
                self.dialect.search.is_some(),
                request.clone(),
            );
            let start = self
                .readers
                .read("finding the next entries to purge", move |conn| {
                    purge::find_start(conn, &names, search, &find, after)
                })
                .await?;
            let Some(start) = start else {
                return Ok(report);
            };
            let (reply, answer) = oneshot::channel();
            let job = PurgeJob {
                request: request.clone(),
                start,
                reply,
            };
            self.writer
                .send(Job::Purge(job))
                .await
                .map_err(|_| Error::Closed)?;
            let done = answer
                .await
                .map_err(|_| SqliteError::WriterGone.during("purging"))??;
            report.purged += done.deleted;
            report.chunks += 1;
            match done.next {
                Some(next) => after = next,
                None => return Ok(report),
            }
        }
    }

    async fn seals(&self, ids: &[AuditId]) -> Result<Vec<(AuditId, Option<Seal>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT \"id\", \"seal_key\", \"seal_mac\" FROM \"{}\" WHERE \"id\" IN ({placeholders})",
            self.names.entries
        );
        let ids = ids.to_vec();
        self.readers
            .read("reading seals", move |conn| {
                let mut statement = conn.prepare(&sql).during("reading seals")?;
                let rows = statement
                    .query_map(params_from_iter(&ids), |row| {
                        let key_id: Option<String> = row.get(1)?;
                        let mac: Option<Vec<u8>> = row.get(2)?;
                        Ok((row.get::<_, AuditId>(0)?, key_id, mac))
                    })
                    .during("reading seals")?;
                let mut seals = Vec::new();
                for row in rows {
                    let (id, key_id, mac) = row.during("reading seals")?;
                    let seal = Seal::from_columns(key_id, mac.as_deref());
                    seals.push((id, seal));
                }
                Ok(seals)
            })
            .await
    }

    async fn statistics(&self, request: &StatsRequest) -> Result<Statistics> {
        let now = Utc::now();
        let window = request.query().effective_range(now);
        let bounds = format!(
            "SELECT (SELECT max(\"id\") FROM \"{0}\"), (SELECT min(\"date\") FROM \"{0}\"), \
             (SELECT max(\"date\") FROM \"{0}\")",
            self.names.entries
        );
        let (last_id, first_date, last_date): (Option<i64>, Option<i64>, Option<i64>) = self
            .readers
            .read("finding the stored dates", move |conn| {
                conn.query_row(&bounds, [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .during("finding the stored dates")
            })
            .await?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (slices, drop_window) = match (last_id, first_date, last_date) {
            (Some(last_id), Some(first_date), Some(last_date))
                if last_id > self.slice_statistics_above =>
            {
                let stored = stats::Stored {
                    last_id,
                    first_date,
                    last_date,
                };
                stats::plan(window, stored, self.scan_readers.size().min(cores).max(1))
            }
            _ => (vec![stats::Slice::Whole], false),
        };
        let query = if drop_window {
            request.query().without_window()
        } else {
            request.query().clone()
        };
        // Like a count: a wildcard selecting many entries scans rather than going through the
        // search index.
        let dialect = self.dialect_for(&query).await?.count;
        let statements = self.statistics_slices(request, &query, now, &slices, &dialect);
        let parts = statements.into_iter().map(|slice| {
            self.scan_readers
                .read("computing statistics", move |conn| slice.run(conn))
        });
        let partials = futures_util::future::try_join_all(parts).await?;
        stats::assemble(request, window, partials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The large-page read walks the listed ids and looks each row up; it never scans the
    /// table, whatever the number of ids.
    #[tokio::test]
    async fn rows_of_listed_ids_are_looked_up_by_id() {
        let store = SqliteStore::in_memory()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let events = (0..10).map(|i| AuditEvent::new("POST /auth").user(format!("u{i}")));
        store
            .append(events.collect())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (sql, values) =
            entries_by_listed_ids(&store.names.entries, &[7, 2, 9, 40]).build(SqliteQueryBuilder);
        let statement = Statement {
            sql: sql.clone(),
            params: params(&values),
        };
        let (plan, users) = store
            .readers
            .read("testing", move |conn| {
                let mut explain = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .during("explaining")?;
                let plan = explain
                    .query_map(params_from_iter(&statement.params), |r| {
                        r.get::<_, String>(3)
                    })
                    .during("explaining")?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .during("explaining")?;
                let users = read_entries(conn, &statement)?
                    .iter()
                    .map(|e| e.user().to_owned())
                    .collect::<Vec<_>>();
                Ok((plan, users))
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            users,
            ["u6", "u1", "u8"],
            "the listed order, missing ids left out"
        );
        assert!(
            plan.iter().any(|step| step.starts_with("SCAN listed"))
                && plan
                    .iter()
                    .any(|step| step.starts_with("SEARCH entry USING INTEGER PRIMARY KEY")),
            "{plan:?}"
        );
    }

    #[tokio::test]
    async fn wildcards_that_select_many_entries_scan_and_rare_ones_use_the_index() {
        let store = match SqliteStore::in_memory().await {
            Ok(store) => store,
            Err(error) => panic!("{error}"),
        };
        let events = (0..300)
            .map(|i| AuditEvent::new("POST /auth").user(format!("common-{i}")))
            .chain((0..3).map(|i| AuditEvent::new("POST /auth").user(format!("seldom-{i}"))))
            .collect();
        if let Err(error) = store.append(events).await {
            panic!("{error}");
        }
        let filter = |value: &str| match AuditQuery::new().filter("user", value) {
            Ok(query) => query,
            Err(error) => panic!("{error}"),
        };
        let find = match AuditQuery::new().find("common") {
            Ok(query) => query,
            Err(error) => panic!("{error}"),
        };
        let mut broad = Vec::new();
        for query in [filter("*common*"), filter("*seldom*"), find] {
            match store.dialect_for(&query).await {
                Ok(dialects) => {
                    broad.push((dialects.page.broad.clone(), dialects.count.broad.clone()))
                }
                Err(error) => panic!("{error}"),
            }
        }
        // Common free text is scanned for a page in id or date order, never for a count.
        let common = || vec!["common".to_owned()];
        assert_eq!(
            broad,
            vec![
                (common(), common()),
                (Vec::new(), Vec::new()),
                (common(), Vec::new())
            ]
        );
        // And either way the answers are the same.
        for (value, expected) in [("*common*", 300), ("*seldom*", 3)] {
            match store.count(&filter(value)).await {
                Ok(counts) => assert_eq!(counts.filter_count, expected, "{value}"),
                Err(error) => panic!("{error}"),
            }
        }
    }

    /// Every count and every page it may rank made in halves, in memory and in a file (where
    /// the counting connections map it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_made_in_halves_equal_the_reference() {
        static FILES: AtomicU64 = AtomicU64::new(0);
        let directory =
            std::env::temp_dir().join(format!("audit-sqlite-halves-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap_or_else(|e| panic!("{e}"));
        for in_file in [false, true] {
            let directory = directory.clone();
            audit_core::testkit::run(move || {
                let directory = directory.clone();
                async move {
                    let builder = if in_file {
                        let n = FILES.fetch_add(1, Ordering::Relaxed);
                        SqliteStore::builder().path(directory.join(format!("{n}.db")))
                    } else {
                        SqliteStore::builder().in_memory()
                    };
                    let mut store = builder.open().await.unwrap_or_else(|e| panic!("{e}"));
                    store.split_counts_above = 0;
                    Arc::new(store) as Arc<dyn AuditStore>
                }
            })
            .await;
        }
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statistics_computed_in_slices_equal_the_reference() {
        let (seed, count) = audit_core::testkit::random_settings();
        let report = audit_core::testkit::check_statistics(
            || async {
                let mut store = SqliteStore::builder()
                    .in_memory()
                    .read_connections(3)
                    .open()
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
                store.slice_statistics_above = 0;
                Arc::new(store) as Arc<dyn AuditStore>
            },
            seed,
            count / 10,
        )
        .await;
        report.assert_passed();
    }
}
