//! Purge chunks, run by the writer thread between write groups: each chunk is one immediate
//! transaction, so appends wait at most for one chunk.

use std::collections::BTreeMap;

use audit_core::integrity::{
    Break, ChainChecker, Checkpoint, Checkpoints, GENESIS, Keyring, Mac, StoredEntry,
};
use audit_core::retention::{ChunkRead, PurgeRequest, ScannedRow, plan_chunk};
use audit_core::sql::{extra_for_check, purge_scan_statement, purge_start_statement};
use audit_core::{AuditId, Column, Error};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};
use sea_query::SqliteQueryBuilder;
use tokio::sync::oneshot;

use crate::bind::params;
use crate::dialect::SqliteDialect;
use crate::error::Context;
use crate::schema::{Names, search_text};

/// One chunk to purge, from the first due id `start`, and where to send what it did.
pub(crate) struct PurgeJob {
    pub(crate) request: PurgeRequest,
    pub(crate) start: AuditId,
    pub(crate) reply: oneshot::Sender<Result<ChunkDone, Error>>,
}

/// What one chunk did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkDone {
    pub(crate) deleted: u64,
    /// The last id the chunk read, `None` when it reached the purge's bound.
    pub(crate) next: Option<AuditId>,
}

/// A scanned row, owned: checked against the chain after the scan, when the checkpoints
/// around the chunk are known.
struct Scanned {
    row: ScannedRow,
    date: i64,
    success: bool,
    texts: Vec<String>,
    start_date: Option<i64>,
    duration: Option<i64>,
    extra: Option<BTreeMap<String, String>>,
    key_id: Option<String>,
    mac: Option<Vec<u8>>,
}

fn mac_of(bytes: Option<&[u8]>) -> Option<Mac> {
    bytes.and_then(|b| Mac::try_from(b).ok())
}

/// The first due id above `after` (and below the request's bound), read without the write
/// lock: a sparse policy may scan far for it.
pub(crate) fn find_start(
    conn: &Connection,
    names: &Names,
    search: bool,
    request: &PurgeRequest,
    after: AuditId,
) -> Result<Option<AuditId>, Error> {
    let dialect = dialect(names, search);
    let (sql, values) = purge_start_statement(&names.entries, request, after, Utc::now(), &dialect)
        .build(SqliteQueryBuilder);
    conn.prepare_cached(&sql)
        .during("finding the next entries to purge")?
        .query_row(params_from_iter(params(&values)), |r| r.get(0))
        .optional()
        .during("finding the next entries to purge")
}

fn dialect(names: &Names, search: bool) -> SqliteDialect {
    SqliteDialect {
        entries: names.entries.clone(),
        search: search.then(|| names.search.clone()),
        broad: Vec::new(),
        ids: None,
    }
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
    let request = &job.request;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during("starting a purge chunk")?;
    // The newest entry is never purged, whatever bound the request names.
    let newest: Option<AuditId> = tx
        .query_row(
            &format!("SELECT max(\"id\") FROM \"{}\"", names.entries),
            [],
            |r| r.get(0),
        )
        .during("reading the newest entry")?;
    let below = newest.unwrap_or(0).min(request.below);
    let scanned = scan(
        &tx,
        names,
        &dialect(names, search),
        request,
        job.start,
        below,
        now,
    )?;
    let before: Option<(AuditId, Option<Vec<u8>>)> = tx
        .prepare_cached(&format!(
            "SELECT \"id\", \"seal_mac\" FROM \"{}\" WHERE \"id\" < ?1 ORDER BY \"id\" DESC LIMIT 1",
            names.entries
        ))
        .during("reading the entry before a purge chunk")?
        .query_row([job.start], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .during("reading the entry before a purge chunk")?;
    let before = before.map(|(id, mac)| (id, mac_of(mac.as_deref())));
    let low = before.map_or(0, |(id, _)| id);
    let high = scanned.last().map_or(job.start, |s| s.row.id);
    let checkpoints = read_checkpoints(&tx, names, Some((low, high.saturating_add(1))))?;
    let first_break = keyring.and_then(|keyring| {
        let trusted = Checkpoints::authentic(keyring, checkpoints.clone());
        first_break(keyring, &trusted, before, &scanned)
    });
    let rows: Vec<ScannedRow> = scanned.iter().map(|s| s.row).collect();
    let plan = plan_chunk(
        ChunkRead {
            before,
            rows: &rows,
            checkpoints: &checkpoints,
            first_break,
        },
        keyring.map(|k| (k, now)),
    )?;

    if search {
        // The index is contentless: forgetting a row takes the text it was indexed with.
        let mut forget = tx
            .prepare_cached(&format!(
                "INSERT INTO \"{0}\" (\"{0}\", rowid, \"text\") VALUES ('delete', ?1, ?2)",
                names.search
            ))
            .during("preparing the search index delete")?;
        for doomed in scanned.iter().filter(|s| s.row.doomed) {
            let text = search_text(doomed.texts.iter().map(String::as_str));
            forget
                .execute(rusqlite::params![doomed.row.id, text])
                .during("removing an entry from the search index")?;
        }
    }
    let mut deleted = 0u64;
    {
        let mut delete = tx
            .prepare_cached(&format!(
                "DELETE FROM \"{}\" WHERE \"id\" BETWEEN ?1 AND ?2",
                names.entries
            ))
            .during("preparing the purge")?;
        for (first, last) in &plan.delete {
            deleted += delete
                .execute([first, last])
                .during("deleting purged entries")? as u64;
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
    if deleted != plan.deleted {
        // Dropping the transaction rolls the chunk back.
        return Err(Error::Integrity(format!(
            "the purge planned to delete {} entries and found {deleted}: rows changed under it",
            plan.deleted
        )));
    }
    tx.execute(
        &format!(
            "UPDATE \"{}\" SET \"value\" = \"value\" - ?1 WHERE \"name\" = 'entries'",
            names.counters
        ),
        [i64::try_from(deleted).unwrap_or(i64::MAX)],
    )
    .during("counting the entries")?;
    tx.commit().during("committing a purge chunk")?;
    let complete = rows.len() < request.chunk_rows.max(1) as usize;
    Ok(ChunkDone {
        deleted,
        next: (!complete).then_some(high),
    })
}

/// The first broken link among the scanned rows, checked from the stored row before them.
fn first_break(
    keyring: &Keyring,
    checkpoints: &Checkpoints,
    before: Option<(AuditId, Option<Mac>)>,
    scanned: &[Scanned],
) -> Option<Break> {
    let mut checker = match before {
        Some((id, mac)) => ChainChecker::resume(keyring, checkpoints, id, mac.unwrap_or(GENESIS)),
        None => ChainChecker::new(keyring, checkpoints, 0),
    };
    for row in scanned {
        let texts: Vec<&str> = row.texts.iter().map(String::as_str).collect();
        let entry = StoredEntry {
            id: row.row.id,
            date: row.date,
            success: row.success,
            texts: &texts,
            start_date: row.start_date,
            duration: row.duration,
            extra: row.extra.as_ref(),
        };
        let seal = row.key_id.as_deref().zip(row.mac.as_deref());
        if !checker.feed(&entry, seal) {
            break;
        }
    }
    checker.finish(None).first_break
}

fn scan(
    conn: &Connection,
    names: &Names,
    dialect: &SqliteDialect,
    request: &PurgeRequest,
    start: AuditId,
    below: AuditId,
    now: DateTime<Utc>,
) -> Result<Vec<Scanned>, Error> {
    let (sql, values) = purge_scan_statement(&names.entries, request, start, below, now, dialect)
        .build(SqliteQueryBuilder);
    let mut statement = conn
        .prepare_cached(&sql)
        .during("reading entries to purge")?;
    let mut rows = statement
        .query(params_from_iter(params(&values)))
        .during("reading entries to purge")?;
    let columns = Column::TEXT.len();
    let at = 3 + columns;
    let mut scanned = Vec::new();
    while let Some(row) = rows.next().during("reading entries to purge")? {
        // A cell that is not text cannot match its MAC; it is checked as empty.
        let text = |i: usize| -> String {
            row.get_ref(i)
                .ok()
                .and_then(|v| v.as_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let extra = match row.get_ref(at + 2).during("reading entries to purge")? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(extra_for_check(&text(at + 2))),
        };
        let mac: Option<Vec<u8>> = row
            .get_ref(at + 4)
            .ok()
            .and_then(|v| v.as_blob().ok())
            .map(<[u8]>::to_vec);
        scanned.push(Scanned {
            row: ScannedRow {
                id: row.get(0).during("reading entries to purge")?,
                mac: mac_of(mac.as_deref()),
                doomed: row
                    .get::<_, i64>(at + 5)
                    .during("reading entries to purge")?
                    != 0,
            },
            date: row.get(1).during("reading entries to purge")?,
            success: row.get(2).during("reading entries to purge")?,
            texts: (0..columns).map(|i| text(3 + i)).collect(),
            start_date: row.get(at).during("reading entries to purge")?,
            duration: row.get(at + 1).during("reading entries to purge")?,
            extra,
            key_id: row
                .get_ref(at + 3)
                .ok()
                .and_then(|v| v.as_str().ok())
                .map(str::to_owned),
            mac,
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
