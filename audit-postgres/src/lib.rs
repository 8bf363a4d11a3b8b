#![doc = include_str!("../README.md")]

mod bind;
mod dialect;
mod error;
mod export;
mod purge;
mod schema;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use audit_core::integrity::{
    Chain, ChainCheck, ChainChecker, Checkpoint, Checkpoints, GENESIS, Keyring, Link, Mac, Seal,
    StoredEntry,
};
use audit_core::query::TimeRange;
use audit_core::retention::{PurgeReport, PurgeRequest};
use audit_core::sql::{
    StoredRow, count_statement, decode_entry, encode_event, export_statement, extra_for_check,
    page_statement, purge_count_statement, validate_identifier, where_clause,
};
use audit_core::stats::{Statistics, StatsRequest};
use audit_core::store::{lookahead, page_from_lookahead};
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditPage, AuditQuery, AuditStore, Column, Counts, Error,
    Result,
};
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sea_query::PostgresQueryBuilder;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{IsolationLevel, NoTls, Row};

pub use crate::schema::SearchIndex;

use crate::bind::{Cell, JsonText, Param, params, typed};
use crate::dialect::PostgresDialect;
use crate::error::{BACKEND, Context};
use crate::schema::Names;

/// Configures and opens a [`PostgresStore`].
///
/// Its `Debug` output never shows a password.
#[derive(Debug, Clone)]
pub struct PostgresStoreBuilder {
    config: Option<Result<tokio_postgres::Config, String>>,
    schema: String,
    table: String,
    max_connections: usize,
    connect_timeout: Duration,
    wait_timeout: Duration,
    search_index: bool,
    application_name: Option<String>,
    keyring: Option<Keyring>,
    statistics_slice_above: AuditId,
}

impl Default for PostgresStoreBuilder {
    fn default() -> Self {
        PostgresStoreBuilder {
            config: None,
            schema: "public".into(),
            table: "audit_entries".into(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(30),
            search_index: true,
            application_name: None,
            keyring: None,
            statistics_slice_above: stats::SLICE_ABOVE_IDS,
        }
    }
}

impl PostgresStoreBuilder {
    /// The server to use, as a URL (`postgres://user:password@host:5432/database`) or as
    /// `key=value` settings (`host=/run/postgresql user=audit dbname=audit`). TLS is not
    /// supported: use a local socket, loopback, or a trusted network.
    #[must_use]
    pub fn url(mut self, url: &str) -> Self {
        self.config = Some(
            url.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("the connection settings cannot be read: {e}")),
        );
        self
    }

    /// The server to use, as a driver configuration.
    #[must_use]
    pub fn config(mut self, config: tokio_postgres::Config) -> Self {
        self.config = Some(Ok(config));
        self
    }

    /// The schema that holds the store's tables (default `public`), created when missing:
    /// ASCII letters, digits and `_`, case kept.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The entries table (default `audit_entries`); the store also creates `<table>_counters`,
    /// `<table>_meta`, the sequence `<table>_id_seq` and indexes named `<table>_*`.
    #[must_use]
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The most connections the pool opens (default 8, at least 1).
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long opening a connection may take (default 10 s), unless the connection settings
    /// set `connect_timeout` themselves.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an operation waits for a free pooled connection (default 30 s) before it fails
    /// with a retryable error.
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Seals every appended entry into an integrity chain with the keyring's current key (see
    /// [`audit_core::integrity`]). Instances sharing the table extend one chain: the tail's MAC
    /// lives in the counter row, read and advanced under the row lock every append takes.
    #[must_use]
    pub fn integrity(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Whether free text and `*` wildcards use a `pg_trgm` GIN index (default on). Off, the
    /// index is dropped, appends are several times faster and searches scan; the answers are
    /// the same.
    #[must_use]
    pub fn search_index(mut self, enabled: bool) -> Self {
        self.search_index = enabled;
        self
    }

    /// Statistics over more ids than this (default 100,000) are computed in two halves on two
    /// connections at once, which PostgreSQL's grouping sets cannot do by themselves.
    #[must_use]
    pub fn statistics_slice_above(mut self, ids: i64) -> Self {
        self.statistics_slice_above = ids.max(0);
        self
    }

    /// The `application_name` the store's connections report (default `audit-postgres`),
    /// unless the connection settings set one.
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    fn connection_config(&self) -> Result<tokio_postgres::Config> {
        let expected = "a URL such as postgres://user@host:5432/database, or key=value settings";
        let mut config = match &self.config {
            Some(Ok(config)) => config.clone(),
            Some(Err(problem)) => return Err(Error::invalid_query("url", problem, expected)),
            None => {
                return Err(Error::invalid_query("url", "no server was given", expected));
            }
        };
        // The shared translation names the entries table unqualified; the search path finds it
        // in the store's schema (before pg_catalog, so no system table can shadow it).
        let search_path = format!("-c search_path=\"{}\",pg_catalog", self.schema);
        let options = match config.get_options() {
            Some(options) if !options.trim().is_empty() => format!("{options} {search_path}"),
            _ => search_path,
        };
        config.options(options);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name(
                self.application_name
                    .as_deref()
                    .unwrap_or(schema::APPLICATION),
            );
        }
        Ok(config)
    }

    /// Opens the store: connects, creates or migrates the schema (serialized across instances),
    /// and creates or drops the search index as configured.
    pub async fn open(self) -> Result<PostgresStore> {
        validate_identifier("schema", &self.schema)?;
        validate_identifier("table", &self.table)?;
        let config = self.connection_config()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is noticed without a round trip and replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(self.connect_timeout))
            .wait_timeout(Some(self.wait_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| Error::backend(BACKEND, "building the connection pool", false, e))?;
        let names = Names::new(&self.schema, &self.table);
        let mut client = pool.get().await.during("connecting")?;
        let search = schema::prepare(&mut client, &names, self.search_index).await?;
        drop(client);
        let (copy, copy_types) = match self.keyring {
            Some(_) => schema::sealed_copy_sql(&names),
            None => schema::copy_sql(&names),
        };
        let reserve = match self.keyring {
            Some(_) => schema::reserve_sealed_sql(&names),
            None => schema::reserve_sql(&names),
        };
        Ok(PostgresStore {
            statistics_slice_above: self.statistics_slice_above,
            keyring: self.keyring,
            pool,
            export_slots: Arc::new(tokio::sync::Semaphore::new(self.max_connections / 2)),
            dialect: PostgresDialect::new(search == SearchIndex::Trigram),
            search,
            statements: Statements {
                copy,
                copy_types,
                reserve,
                total: schema::total_sql(&names),
                advance_chain: schema::advance_chain_sql(&names),
                chain: schema::chain_sql(&names),
                check: schema::check_sql(&names),
            },
            names,
        })
    }
}

/// SQL text fixed at open.
#[derive(Debug)]
struct Statements {
    copy: String,
    copy_types: Vec<Type>,
    reserve: String,
    total: String,
    advance_chain: String,
    chain: String,
    check: String,
}

/// An [`AuditStore`] in a PostgreSQL database: the scale path.
pub struct PostgresStore {
    pool: Pool,
    /// Exports that may stream at once, each holding a connection (see `export_stream`).
    export_slots: Arc<tokio::sync::Semaphore>,
    statistics_slice_above: AuditId,
    keyring: Option<Keyring>,
    names: Names,
    dialect: PostgresDialect,
    search: SearchIndex,
    statements: Statements,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("entries", &self.names.entries)
            .field("search_index", &self.search)
            .finish_non_exhaustive()
    }
}

/// A statement and its bound values.
struct Statement {
    sql: String,
    params: Vec<Param>,
}

fn build(statement: &sea_query::SelectStatement) -> Result<Statement> {
    let (sql, values) = statement.build(PostgresQueryBuilder);
    let params = params(&values).map_err(|e| e.during("building a query"))?;
    Ok(Statement { sql, params })
}

/// A row whose columns do not have the types this store wrote.
fn unreadable(error: tokio_postgres::Error) -> Error {
    Error::Incompatible(format!(
        "a stored row does not have the layout this store wrote: {error}"
    ))
}

fn read_entry(row: &Row) -> Result<AuditEntry> {
    let texts = Column::TEXT.len();
    let mut stored: StoredRow<&str> = StoredRow {
        id: row.try_get(0).map_err(unreadable)?,
        date: row.try_get(1).map_err(unreadable)?,
        success: row.try_get(2).map_err(unreadable)?,
        texts: Vec::with_capacity(texts),
        start_date: row.try_get(3 + texts).map_err(unreadable)?,
        duration: row.try_get(4 + texts).map_err(unreadable)?,
        extra: None,
    };
    // Text is borrowed from the row, not copied into a String per cell.
    for i in 0..texts {
        stored.texts.push(row.try_get(3 + i).map_err(unreadable)?);
    }
    let extra = row
        .try_get::<_, Option<JsonText>>(5 + texts)
        .map_err(unreadable)?;
    stored.extra = extra.as_ref().map(|json| json.0.as_str());
    decode_entry(stored)
}

fn read_count(row: &Row) -> Result<u64> {
    let count: i64 = row.try_get(0).map_err(unreadable)?;
    Ok(count.max(0).unsigned_abs())
}

impl PostgresStore {
    /// How many distinct values each key of `request` likely has (ranked columns from the
    /// planner's statistics, `None` before the table was first analyzed; then the buckets of
    /// the window), for [`stats::grouping`].
    async fn distinct_estimates(
        &self,
        client: &deadpool_postgres::Client,
        request: &StatsRequest,
        window: TimeRange,
    ) -> Result<Vec<Option<f64>>> {
        let rows = client
            .query(
                "SELECT s.attname::text, s.n_distinct::float8, c.reltuples::float8 \
                 FROM pg_stats s JOIN pg_class c ON c.oid = to_regclass($3) \
                 WHERE s.schemaname::text = $1 AND s.tablename::text = $2",
                &[&self.names.schema, &self.names.table, &self.names.entries],
            )
            .await
            .during("estimating the statistics' groups")?;
        let mut estimates = Vec::with_capacity(request.ranked().len() + 1);
        for column in request.ranked() {
            let mut estimate = None;
            for row in &rows {
                let name: String = row.try_get(0).map_err(unreadable)?;
                if name == column.name() {
                    estimate = stats::distinct_values(
                        row.try_get(1).map_err(unreadable)?,
                        row.try_get(2).map_err(unreadable)?,
                    );
                }
            }
            estimates.push(estimate);
        }
        let buckets = match (window.from, window.to) {
            (Some(from), Some(to)) => {
                let span = (to - from).num_microseconds().unwrap_or(i64::MAX);
                Some((span / request.bucket_width().micros()).saturating_add(2) as f64)
            }
            _ => None,
        };
        estimates.push(buckets);
        Ok(estimates)
    }
    /// A builder with the defaults: schema `public`, table `audit_entries`, 8 connections,
    /// search index on.
    pub fn builder() -> PostgresStoreBuilder {
        PostgresStoreBuilder::default()
    }

    /// Opens the store at `url` with the defaults.
    pub async fn open(url: &str) -> Result<Self> {
        PostgresStore::builder().url(url).open().await
    }

    /// Whether searches use the trigram index, and if not, why.
    pub fn search_index(&self) -> &SearchIndex {
        &self.search
    }

    /// The qualified, quoted name of the entries table, for a host's own maintenance (for
    /// example partitioning or retention jobs).
    pub fn table_name(&self) -> &str {
        &self.names.entries
    }

    /// Closes the pool: idle connections are closed at once, busy ones when they are returned,
    /// and every later operation fails with [`Error::Closed`].
    pub fn close(&self) {
        self.pool.close();
    }

    fn page(&self, query: &AuditQuery, now: DateTime<Utc>) -> Result<Statement> {
        build(&page_statement(
            &self.names.table,
            query,
            now,
            &self.dialect,
        ))
    }

    /// The count statement, or `None` when the query is unfiltered and the counter answers.
    fn filtered_count(&self, query: &AuditQuery, now: DateTime<Utc>) -> Result<Option<Statement>> {
        if where_clause(query, now, &self.dialect).is_none() {
            return Ok(None);
        }
        build(&count_statement(
            &self.names.table,
            query,
            now,
            &self.dialect,
        ))
        .map(Some)
    }

    /// The statement counting a scoped query's entries in scope, `None` for an unscoped query
    /// (the counter answers).
    fn scoped_total(&self, query: &AuditQuery, now: DateTime<Utc>) -> Result<Option<Statement>> {
        if !query.is_scoped() {
            return Ok(None);
        }
        build(&count_statement(
            &self.names.table,
            &query.scope_query(),
            now,
            &self.dialect,
        ))
        .map(Some)
    }

    /// Both counts, read in the snapshot of `client`'s transaction.
    async fn counts(
        &self,
        client: &tokio_postgres::Transaction<'_>,
        scoped_total: Option<&Statement>,
        filtered: Option<&Statement>,
    ) -> Result<Counts> {
        let total = async {
            match scoped_total {
                // A scoped query counts the entries in scope, not the whole table.
                Some(statement) => client
                    .query_typed(&statement.sql, &typed(&statement.params))
                    .await
                    .during("counting entries")?
                    .into_iter()
                    .next()
                    .ok_or_else(|| Error::Incompatible("a count returned no row".into())),
                None => client
                    .query_one(&self.statements.total, &[])
                    .await
                    .during("counting entries"),
            }
        };
        let filter = async {
            match filtered {
                Some(statement) => client
                    .query_typed(&statement.sql, &typed(&statement.params))
                    .await
                    .during("counting entries")
                    .map(Some),
                None => Ok(None),
            }
        };
        // Sent together: the driver pipelines them on the one connection.
        let (total, filter) = futures_util::future::try_join(total, filter).await?;
        let total_count = read_count(&total)?;
        let filter_count = match filter {
            Some(rows) => match rows.first() {
                Some(row) => read_count(row)?,
                None => 0,
            },
            None => total_count,
        };
        Ok(Counts {
            filter_count,
            total_count,
        })
    }

    /// Reserves ids and writes the batch by binary COPY in one transaction.
    async fn write_batch(&self, batch: &[AuditEvent]) -> Result<Vec<AuditId>> {
        let size = i64::try_from(batch.len()).map_err(|_| Error::InvalidEvent {
            field: "batch".into(),
            problem: "more events than ids".into(),
        })?;
        let mut client = self.pool.get().await.during("connecting")?;
        let copy = client
            .prepare_cached(&self.statements.copy)
            .await
            .during("preparing the append")?;
        let tx = client.transaction().await.during("starting an append")?;
        let reserved = tx
            .query_typed_opt(&self.statements.reserve, &[(&size, Type::INT8)])
            .await
            .during("reserving ids")?;
        let Some(reserved) = reserved else {
            return Err(Error::Incompatible(format!(
                "the counter row of {} is missing",
                self.names.entries
            )));
        };
        let last: i64 = reserved.try_get(0).map_err(unreadable)?;
        let first = last - size + 1;
        let mut chain = match &self.keyring {
            Some(keyring) => {
                let tail: Option<Vec<u8>> = reserved.try_get(1).map_err(unreadable)?;
                let mac = match tail {
                    Some(bytes) => Mac::try_from(bytes.as_slice()).map_err(|_| {
                        Error::Integrity("the chain's tail MAC is not 32 bytes".into())
                    })?,
                    None => GENESIS,
                };
                Some(Chain::after(keyring.clone(), mac))
            }
            None => None,
        };
        let sink = tx.copy_in(&copy).await.during("starting the COPY")?;
        let writer = BinaryCopyInWriter::new(sink, &self.statements.copy_types);
        let mut writer = std::pin::pin!(writer);
        for (id, event) in (first..).zip(batch) {
            let values = encode_event(event);
            let cells: Vec<Cell<'_>> = values.iter().map(Cell).collect();
            let seal = chain.as_mut().map(|chain| chain.seal(id, event));
            let (key_id, mac) = match &seal {
                Some(seal) => (Some(seal.key_id.as_str()), Some(&seal.mac[..])),
                None => (None, None),
            };
            let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(cells.len() + 3);
            row.push(&id);
            row.extend(cells.iter().map(|c| c as &(dyn ToSql + Sync)));
            if seal.is_some() {
                row.push(&key_id);
                row.push(&mac);
            }
            writer
                .as_mut()
                .write(&row)
                .await
                .during("writing the batch")?;
        }
        writer.finish().await.during("finishing the COPY")?;
        if let Some(chain) = &chain {
            let tail = chain.last().to_vec();
            tx.execute(&self.statements.advance_chain, &[&tail])
                .await
                .during("advancing the chain")?;
        }
        tx.commit().await.during("committing the batch")?;
        Ok((first..=last).collect())
    }
}

/// Checks the chain over rows of the check statement.
fn check_rows(
    rows: &[Row],
    keyring: &Keyring,
    checkpoints: &Checkpoints,
    after: AuditId,
) -> Result<ChainCheck> {
    let mut checker = ChainChecker::new(keyring, checkpoints, after);
    let last_id = feed_rows(rows, &mut checker)?.filter(|id| *id != after);
    Ok(checker.finish(last_id))
}

/// Feeds rows laid out as the check statement reads them (the stored row, then the seal) to
/// `checker` until the chain breaks, with values borrowed from the rows: no entry is rebuilt.
/// Returns the last id fed.
fn feed_rows(rows: &[Row], checker: &mut ChainChecker<'_>) -> Result<Option<AuditId>> {
    let texts_count = Column::TEXT.len();
    let at = 3 + texts_count;
    let mut last_id = None;
    for row in rows {
        let texts = (0..texts_count)
            .map(|i| row.try_get::<_, &str>(3 + i))
            .collect::<std::result::Result<Vec<&str>, _>>()
            .map_err(unreadable)?;
        let extra_json: Option<JsonText> = row.try_get(at + 2).map_err(unreadable)?;
        let extra = extra_json.map(|json| extra_for_check(&json.0));
        let id: AuditId = row.try_get(0).map_err(unreadable)?;
        let entry = StoredEntry {
            id,
            date: row.try_get(1).map_err(unreadable)?,
            success: row.try_get(2).map_err(unreadable)?,
            texts: &texts,
            start_date: row.try_get(at).map_err(unreadable)?,
            duration: row.try_get(at + 1).map_err(unreadable)?,
            extra: extra.as_ref(),
        };
        let key_id: Option<&str> = row.try_get(at + 3).map_err(unreadable)?;
        let mac: Option<&[u8]> = row.try_get(at + 4).map_err(unreadable)?;
        last_id = Some(id);
        if !checker.feed(&entry, key_id.zip(mac)) {
            break;
        }
    }
    Ok(last_id)
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.write_batch(&batch).await
    }

    /// Streams the export from one statement: the server sends rows while they are decoded,
    /// which pages fetched one after the other cannot overlap, and the whole export reads one
    /// snapshot. The stream holds a connection of the pool (and its snapshot) until its last
    /// row is taken, so at most half of the pool's connections stream exports at once; when
    /// none of those is free, `None` lets the export read page after page. A consumer that
    /// leaves early cancels the statement.
    fn export_stream(
        &self,
        query: &AuditQuery,
        chunk_size: u32,
    ) -> Option<audit_core::store::BoxStream<Result<Vec<AuditEntry>>>> {
        let slot = Arc::clone(&self.export_slots).try_acquire_owned().ok()?;
        let statement = build(&export_statement(
            &self.names.table,
            query,
            Utc::now(),
            &self.dialect,
        ));
        let chunk = chunk_size.clamp(1, audit_core::query::MAX_PAGE_SIZE);
        Some(export::stream(
            self.pool.clone(),
            statement,
            chunk as usize,
            slot,
        ))
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let page = self.page(query, Utc::now())?;
        let client = self.pool.get().await.during("connecting")?;
        let rows = client
            .query_typed(&page.sql, &typed(&page.params))
            .await
            .during("reading entries")?;
        rows.iter().map(read_entry).collect()
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let now = Utc::now();
        let filtered = self.filtered_count(query, now)?;
        let scoped_total = self.scoped_total(query, now)?;
        let mut client = self.pool.get().await.during("connecting")?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .during("starting a read")?;
        let counts = self
            .counts(&tx, scoped_total.as_ref(), filtered.as_ref())
            .await?;
        tx.commit().await.during("ending a read")?;
        Ok(counts)
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let now = Utc::now();
        let page = self.page(&lookahead(query), now)?;
        let filtered = self.filtered_count(query, now)?;
        let scoped_total = self.scoped_total(query, now)?;
        let mut client = self.pool.get().await.during("connecting")?;
        // One snapshot: the page and both counts agree even while appends commit.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .during("starting a read")?;
        let rows = async {
            tx.query_typed(&page.sql, &typed(&page.params))
                .await
                .during("reading a page")
        };
        let (rows, counts) = futures_util::future::try_join(
            rows,
            self.counts(&tx, scoped_total.as_ref(), filtered.as_ref()),
        )
        .await?;
        tx.commit().await.during("ending a read")?;
        let entries = rows.iter().map(read_entry).collect::<Result<Vec<_>>>()?;
        Ok(page_from_lookahead(entries, query, counts))
    }

    async fn chain(&self, after: AuditId, limit: u32) -> Result<Vec<Link>> {
        let client = self.pool.get().await.during("connecting")?;
        let limit = i64::from(limit);
        let rows = client
            .query_typed(
                &self.statements.chain,
                &[(&after, Type::INT8), (&limit, Type::INT8)],
            )
            .await
            .during("reading the chain")?;
        let at = 6 + Column::TEXT.len();
        rows.iter()
            .map(|row| {
                let entry = read_entry(row)?;
                let key_id: Option<String> = row.try_get(at).map_err(unreadable)?;
                let mac: Option<Vec<u8>> = row.try_get(at + 1).map_err(unreadable)?;
                // A seal that cannot be read is reported by verification as a broken link.
                let seal = Seal::from_columns(key_id, mac.as_deref());
                Ok(Link { entry, seal })
            })
            .collect()
    }

    async fn check_chain(
        &self,
        keyring: &Keyring,
        checkpoints: &Checkpoints,
        after: AuditId,
        limit: u32,
    ) -> Result<ChainCheck> {
        let client = self.pool.get().await.during("connecting")?;
        let wanted = i64::from(limit) + i64::from(after > 0);
        let rows = client
            .query_typed(
                &self.statements.check,
                &[(&after, Type::INT8), (&wanted, Type::INT8)],
            )
            .await
            .during("checking the chain")?;
        drop(client);
        // The MACs are computed on a blocking thread, so the chunk verification reads next
        // (and the server) keep the other core.
        let (keyring, checkpoints) = (keyring.clone(), checkpoints.clone());
        tokio::task::spawn_blocking(move || check_rows(&rows, &keyring, &checkpoints, after))
            .await
            .map_err(|e| Error::backend(BACKEND, "checking the chain", false, e))?
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let client = self.pool.get().await.during("connecting")?;
        purge::read_checkpoints(&client, &self.names, None).await
    }

    /// Deletes in chunks, one transaction each under an advisory lock that serializes purges
    /// across instances; appends wait at most for one chunk's commit.
    async fn purge(&self, request: &PurgeRequest) -> Result<PurgeReport> {
        if request.dry_run {
            let statement = build(&purge_count_statement(
                &self.names.table,
                request,
                Utc::now(),
                &self.dialect,
            ))?;
            let client = self.pool.get().await.during("connecting")?;
            let rows = client
                .query_typed(&statement.sql, &typed(&statement.params))
                .await
                .during("counting entries to purge")?;
            let purged = match rows.first() {
                Some(row) => read_count(row)?,
                None => 0,
            };
            return Ok(PurgeReport {
                purged,
                chunks: 0,
                dry_run: true,
            });
        }
        let mut report = PurgeReport::default();
        let mut after = 0;
        loop {
            let mut client = self.pool.get().await.during("connecting")?;
            let done = purge::purge_chunk(
                &mut client,
                &self.names,
                &self.dialect,
                self.keyring.as_ref(),
                request,
                after,
            )
            .await?;
            report.purged += done.deleted;
            // The last round only finds that nothing is left.
            report.chunks += u64::from(done.deleted > 0);
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
        let client = self.pool.get().await.during("connecting")?;
        let ids = ids.to_vec();
        let rows = client
            .query_typed(
                &format!(
                    "SELECT \"id\", \"seal_key\", \"seal_mac\" FROM {} WHERE \"id\" = ANY($1)",
                    self.names.entries
                ),
                &[(&ids, Type::INT8_ARRAY)],
            )
            .await
            .during("reading seals")?;
        rows.iter()
            .map(|row| {
                let id: AuditId = row.try_get(0).map_err(unreadable)?;
                let key_id: Option<String> = row.try_get(1).map_err(unreadable)?;
                let mac: Option<Vec<u8>> = row.try_get(2).map_err(unreadable)?;
                let seal = Seal::from_columns(key_id, mac.as_deref());
                Ok((id, seal))
            })
            .collect()
    }

    async fn statistics(&self, request: &StatsRequest) -> Result<Statistics> {
        let now = Utc::now();
        let window = request.query().effective_range(now);
        let client = self.pool.get().await.during("connecting")?;
        let bounds = client
            .query_one(
                &format!(
                    "SELECT min(\"id\"), max(\"id\") FROM {}",
                    self.names.entries
                ),
                &[],
            )
            .await
            .during("computing statistics")?;
        let (first, last): (Option<AuditId>, Option<AuditId>) = (
            bounds.try_get(0).map_err(unreadable)?,
            bounds.try_get(1).map_err(unreadable)?,
        );
        if let (Some(first), Some(last)) = (first, last) {
            if last - first >= self.statistics_slice_above {
                // Grouping sets run on one core; two halves run on two connections at once
                // and are added up (each half in its own snapshot).
                let estimates = self.distinct_estimates(&client, request, window).await?;
                drop(client);
                let sets = stats::grouping(&estimates);
                let sets = &sets;
                let middle = first + (last - first) / 2;
                let slices = [(first, middle), (middle + 1, last)];
                let reads = slices.map(|slice| async move {
                    let statement = build(&stats::slice_statement(
                        &self.names.table,
                        request,
                        now,
                        &self.dialect,
                        slice,
                        sets,
                    ))?;
                    let mut client = self.pool.get().await.during("connecting")?;
                    let tx = client.transaction().await.during("computing statistics")?;
                    // Room to hash every grouping set: with the planner's statistics and the
                    // default 4 MB it sorts the rows for one set instead (1,000,000 rows:
                    // about 480 ms a half instead of 270).
                    tx.batch_execute(&format!("SET LOCAL work_mem = '{}kB'", stats::WORK_MEM_KB))
                        .await
                        .during("computing statistics")?;
                    let rows = tx
                        .query_typed(&statement.sql, &typed(&statement.params))
                        .await
                        .during("computing statistics")?;
                    tx.commit().await.during("computing statistics")?;
                    Ok::<_, Error>(rows)
                });
                let [low, high] = reads;
                let (low, high) = futures_util::future::try_join(low, high).await?;
                return stats::merge(&[low, high], request, window);
            }
        }
        let statement = build(&stats::statement(
            &self.names.table,
            request,
            now,
            &self.dialect,
        ))?;
        let rows = client
            .query_typed(&statement.sql, &typed(&statement.params))
            .await
            .during("computing statistics")?;
        stats::read(&rows, request, window)
    }
}
