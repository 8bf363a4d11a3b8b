//! Purge chunks, run by the writer thread between write groups: each chunk is one immediate
//! transaction, so appends wait at most for one chunk.

use audit_core::integrity::{Checkpoint, Keyring, Mac};
use audit_core::retention::{ChunkRead, PurgeRequest, ScannedRow, plan_chunk};
use audit_core::sql::{purge_scan_statement, purge_start_statement};
use audit_core::{AuditId, Column, Error};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};
use sea_query::SqliteQueryBuilder;
use tokio::sync::oneshot;

use crate::bind::params;
use crate::dialect::SqliteDialect;
use crate::error::Context;
use crate::schema::{Names, search_text};

/// One chunk to purge, after id `after`, and where to send what it did.
pub(crate) struct PurgeJob {
    pub(crate) request: PurgeRequest,
    pub(crate) after: AuditId,
    pub(crate) reply: oneshot::Sender<Result<ChunkDone, Error>>,
}

/// What one chunk did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkDone {
    pub(crate) deleted: u64,
    /// Where the next chunk starts, `None` when the purge is complete.
    pub(crate) next: Option<AuditId>,
}

/// A scanned row with the text the search index holds for it, when it is doomed.
struct Scanned {
    row: ScannedRow,
    search_text: Option<String>,
}

fn mac_of(bytes: Option<Vec<u8>>) -> Option<Mac> {
    bytes.and_then(|b| Mac::try_from(b.as_slice()).ok())
}

/// Runs one chunk in its own immediate transaction.
pub(crate) fn purge_chunk(
    conn: &mut Connection,
    names: &Names,
    search: bool,
    keyring: Option<&Keyring>,
    job: &PurgeJob,
) -> Result<ChunkDone, Error> {
    let now = Utc::now();
    let dialect = SqliteDialect {
        entries: names.entries.clone(),
        search: search.then(|| names.search.clone()),
    };
    let request = &job.request;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during("starting a purge chunk")?;
    let (sql, values) = purge_start_statement(&names.entries, request, job.after, now, &dialect)
        .build(SqliteQueryBuilder);
    let start: Option<AuditId> = tx
        .prepare_cached(&sql)
        .during("finding the next entries to purge")?
        .query_row(params_from_iter(params(&values)), |r| r.get(0))
        .optional()
        .during("finding the next entries to purge")?;
    let Some(start) = start else {
        tx.commit().during("ending the purge")?;
        return Ok(ChunkDone {
            deleted: 0,
            next: None,
        });
    };
    let scanned = scan(&tx, names, &dialect, request, start, now, search)?;
    let before: Option<(AuditId, Option<Vec<u8>>)> = tx
        .prepare_cached(&format!(
            "SELECT \"id\", \"seal_mac\" FROM \"{}\" WHERE \"id\" < ?1 ORDER BY \"id\" DESC LIMIT 1",
            names.entries
        ))
        .during("reading the entry before a purge chunk")?
        .query_row([start], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .during("reading the entry before a purge chunk")?;
    let before = before.map(|(id, mac)| (id, mac_of(mac)));
    let low = before.map_or(0, |(id, _)| id);
    let high = scanned.last().map_or(start, |s| s.row.id);
    let checkpoints = read_checkpoints(&tx, names, Some((low, high.saturating_add(1))))?;
    let rows: Vec<ScannedRow> = scanned.iter().map(|s| s.row).collect();
    let plan = plan_chunk(
        ChunkRead {
            before,
            rows: &rows,
            checkpoints: &checkpoints,
        },
        keyring.map(|k| (k, now)),
    );

    if search {
        // The index is contentless: forgetting a row takes the text it was indexed with.
        let mut forget = tx
            .prepare_cached(&format!(
                "INSERT INTO \"{0}\" (\"{0}\", rowid, \"text\") VALUES ('delete', ?1, ?2)",
                names.search
            ))
            .during("preparing the search index delete")?;
        for doomed in &scanned {
            if let Some(text) = &doomed.search_text {
                forget
                    .execute(rusqlite::params![doomed.row.id, text])
                    .during("removing an entry from the search index")?;
            }
        }
    }
    {
        let mut delete = tx
            .prepare_cached(&format!(
                "DELETE FROM \"{}\" WHERE \"id\" BETWEEN ?1 AND ?2",
                names.entries
            ))
            .during("preparing the purge")?;
        for (first, last) in &plan.delete {
            delete
                .execute([first, last])
                .during("deleting purged entries")?;
        }
        let mut drop_checkpoint = tx
            .prepare_cached(&format!(
                "DELETE FROM \"{}\" WHERE \"first\" = ?1",
                names.checkpoints
            ))
            .during("preparing the purge")?;
        for first in &plan.replaced {
            drop_checkpoint
                .execute([first])
                .during("replacing a checkpoint")?;
        }
        let mut add_checkpoint = tx
            .prepare_cached(&format!(
                "INSERT INTO \"{}\" (\"first\", \"last\", \"before\", \"last_mac\", \"purged\", \
                 \"purged_at\", \"key_id\", \"signature\") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                names.checkpoints
            ))
            .during("preparing the purge")?;
        for c in &plan.added {
            add_checkpoint
                .execute(rusqlite::params![
                    c.first,
                    c.last,
                    &c.before[..],
                    &c.last_mac[..],
                    i64::try_from(c.purged).unwrap_or(i64::MAX),
                    c.purged_at.timestamp_micros(),
                    c.key_id,
                    &c.signature[..],
                ])
                .during("writing a checkpoint")?;
        }
    }
    tx.execute(
        &format!(
            "UPDATE \"{}\" SET \"value\" = \"value\" - ?1 WHERE \"name\" = 'entries'",
            names.counters
        ),
        [i64::try_from(plan.deleted).unwrap_or(i64::MAX)],
    )
    .during("counting the entries")?;
    tx.commit().during("committing a purge chunk")?;
    let complete = rows.len() < request.chunk_rows.max(1) as usize;
    Ok(ChunkDone {
        deleted: plan.deleted,
        next: (!complete).then_some(high),
    })
}

fn scan(
    conn: &Connection,
    names: &Names,
    dialect: &SqliteDialect,
    request: &PurgeRequest,
    start: AuditId,
    now: DateTime<Utc>,
    search: bool,
) -> Result<Vec<Scanned>, Error> {
    let (sql, values) = purge_scan_statement(&names.entries, request, start, now, dialect)
        .build(SqliteQueryBuilder);
    let mut statement = conn
        .prepare_cached(&sql)
        .during("reading entries to purge")?;
    let mut rows = statement
        .query(params_from_iter(params(&values)))
        .during("reading entries to purge")?;
    let mut scanned = Vec::new();
    while let Some(row) = rows.next().during("reading entries to purge")? {
        let doomed = row.get::<_, i64>(2).during("reading entries to purge")? != 0;
        let search_text = if search && doomed {
            let texts = (0..Column::TEXT.len())
                .map(|i| row.get::<_, String>(3 + i))
                .collect::<Result<Vec<String>, _>>()
                .during("reading entries to purge")?;
            Some(search_text(texts.iter().map(String::as_str)))
        } else {
            None
        };
        scanned.push(Scanned {
            row: ScannedRow {
                id: row.get(0).during("reading entries to purge")?,
                mac: mac_of(row.get(1).during("reading entries to purge")?),
                doomed,
            },
            search_text,
        });
    }
    Ok(scanned)
}

/// The stored checkpoints, all or those touching the ids `low..=high`.
pub(crate) fn read_checkpoints(
    conn: &Connection,
    names: &Names,
    span: Option<(AuditId, AuditId)>,
) -> Result<Vec<Checkpoint>, Error> {
    let (low, high) = span.unwrap_or((AuditId::MIN, AuditId::MAX));
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT \"first\", \"last\", \"before\", \"last_mac\", \"purged\", \"purged_at\", \
             \"key_id\", \"signature\" FROM \"{}\" WHERE \"last\" >= ?1 AND \"first\" <= ?2 \
             ORDER BY \"first\"",
            names.checkpoints
        ))
        .during("reading checkpoints")?;
    let mut rows = statement.query([low, high]).during("reading checkpoints")?;
    let mut checkpoints = Vec::new();
    while let Some(row) = rows.next().during("reading checkpoints")? {
        let mac = |i: usize| -> Result<Mac, Error> {
            let bytes: Vec<u8> = row.get(i).during("reading checkpoints")?;
            // A MAC of the wrong length fails the signature check like any other change.
            Ok(Mac::try_from(bytes.as_slice()).unwrap_or([0; 32]))
        };
        let purged: i64 = row.get(4).during("reading checkpoints")?;
        let purged_at: i64 = row.get(5).during("reading checkpoints")?;
        checkpoints.push(Checkpoint {
            first: row.get(0).during("reading checkpoints")?,
            last: row.get(1).during("reading checkpoints")?,
            before: mac(2)?,
            last_mac: mac(3)?,
            purged: purged.max(0).unsigned_abs(),
            purged_at: DateTime::from_timestamp_micros(purged_at).unwrap_or_default(),
            key_id: row.get(6).during("reading checkpoints")?,
            signature: mac(7)?,
        });
    }
    Ok(checkpoints)
}
