//! Purge chunks: each one transaction under the purge advisory lock (so purges from several
//! instances never interleave), touching the counter row last so appends wait only for the
//! commit of one chunk.

use audit_core::integrity::{ChainChecker, Checkpoint, Checkpoints, GENESIS, Keyring, Mac};
use audit_core::retention::{ChunkRead, PurgeRequest, ScannedRow, plan_chunk};
use audit_core::sql::{purge_scan_statement, purge_start_statement};
use audit_core::{AuditId, Column, Error};
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::Type;
use tokio_postgres::{IsolationLevel, Row};

use crate::bind::typed;
use crate::dialect::PostgresDialect;
use crate::error::Context;
use crate::schema::Names;
use crate::{build, unreadable};

/// What one chunk did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkDone {
    pub(crate) deleted: u64,
    /// Where the next chunk starts, `None` when the purge is complete.
    pub(crate) next: Option<AuditId>,
}

fn mac_of(bytes: Option<&[u8]>) -> Option<Mac> {
    bytes.and_then(|b| Mac::try_from(b).ok())
}

/// Runs the chunk after id `after` in its own transaction.
pub(crate) async fn purge_chunk(
    client: &mut deadpool_postgres::Object,
    names: &Names,
    dialect: &PostgresDialect,
    keyring: Option<&Keyring>,
    request: &PurgeRequest,
    after: AuditId,
) -> Result<ChunkDone, Error> {
    let now = Utc::now();
    let find = build(&purge_start_statement(
        &names.table,
        request,
        after,
        now,
        dialect,
    ))?;
    // Read committed whatever the server's default: each statement sees what the purges before
    // this one (serialized by the lock) committed.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .during("starting a purge chunk")?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&names.purge_lock_key()],
    )
    .await
    .during("waiting for other purges")?;
    let start = tx
        .query_typed(&find.sql, &typed(&find.params))
        .await
        .during("finding the next entries to purge")?;
    let Some(start) = start.first() else {
        tx.commit().await.during("ending the purge")?;
        return Ok(ChunkDone {
            deleted: 0,
            next: None,
        });
    };
    let start: AuditId = start.try_get(0).map_err(unreadable)?;
    // The newest entry is never purged, whatever bound the request names.
    let newest: Option<AuditId> = tx
        .query_one(&format!("SELECT max(\"id\") FROM {}", names.entries), &[])
        .await
        .during("reading the newest entry")?
        .try_get(0)
        .map_err(unreadable)?;
    let below = newest.unwrap_or(0);
    let scan = build(&purge_scan_statement(
        &names.table,
        request,
        start,
        below,
        now,
        dialect,
    ))?;
    let scanned = tx
        .query_typed(&scan.sql, &typed(&scan.params))
        .await
        .during("reading entries to purge")?;
    let at = 3 + Column::TEXT.len();
    let rows: Vec<ScannedRow> = scanned
        .iter()
        .map(|row| {
            // The verdict is a bound integer literal: its width follows the binding.
            let doomed = match row.try_get::<_, i64>(at + 5) {
                Ok(verdict) => verdict != 0,
                Err(_) => row.try_get::<_, i32>(at + 5).map_err(unreadable)? != 0,
            };
            Ok(ScannedRow {
                id: row.try_get(0).map_err(unreadable)?,
                mac: mac_of(row.try_get(at + 4).map_err(unreadable)?),
                doomed,
            })
        })
        .collect::<Result<_, Error>>()?;
    let before = tx
        .query_opt(
            &format!(
                "SELECT \"id\", \"seal_mac\" FROM {} WHERE \"id\" < $1 ORDER BY \"id\" DESC LIMIT 1",
                names.entries
            ),
            &[&start],
        )
        .await
        .during("reading the entry before a purge chunk")?
        .map(|row| -> Result<(AuditId, Option<Mac>), Error> {
            Ok((
                row.try_get(0).map_err(unreadable)?,
                mac_of(row.try_get(1).map_err(unreadable)?),
            ))
        })
        .transpose()?;
    let low = before.map_or(0, |(id, _)| id);
    let high = rows.last().map_or(start, |r| r.id);
    let checkpoints = read_checkpoints(&tx, names, Some((low, high.saturating_add(1)))).await?;
    let first_break = match keyring {
        Some(keyring) => {
            let trusted = Checkpoints::authentic(keyring, checkpoints.clone());
            let mut checker = match before {
                Some((id, mac)) => {
                    ChainChecker::resume(keyring, &trusted, id, mac.unwrap_or(GENESIS))
                }
                None => ChainChecker::new(keyring, &trusted, 0),
            };
            crate::feed_rows(&scanned, &mut checker)?;
            checker.finish(None).first_break
        }
        None => None,
    };
    let plan = plan_chunk(
        ChunkRead {
            before,
            rows: &rows,
            checkpoints: &checkpoints,
            first_break,
        },
        keyring.map(|k| (k, now)),
    )?;

    let firsts: Vec<AuditId> = plan.delete.iter().map(|(first, _)| *first).collect();
    let lasts: Vec<AuditId> = plan.delete.iter().map(|(_, last)| *last).collect();
    let deleted = tx
        .execute_typed(
            &format!(
                "DELETE FROM {} AS e USING unnest($1::int8[], $2::int8[]) AS r(\"first\", \"last\") \
                 WHERE e.\"id\" BETWEEN r.\"first\" AND r.\"last\"",
                names.entries
            ),
            &[(&firsts, Type::INT8_ARRAY), (&lasts, Type::INT8_ARRAY)],
        )
        .await
        .during("deleting purged entries")?;
    if deleted != plan.deleted {
        // Dropping the transaction rolls the chunk back.
        return Err(Error::Integrity(format!(
            "the purge planned to delete {} entries and found {deleted}: rows changed under it",
            plan.deleted
        )));
    }
    if !plan.replaced.is_empty() {
        tx.execute_typed(
            &format!(
                "DELETE FROM {} WHERE \"first\" = ANY($1)",
                names.checkpoints
            ),
            &[(&plan.replaced, Type::INT8_ARRAY)],
        )
        .await
        .during("replacing checkpoints")?;
    }
    for c in &plan.added {
        let purged = i64::try_from(c.purged).unwrap_or(i64::MAX);
        tx.execute(
            &format!(
                "INSERT INTO {} (\"first\", \"last\", \"before\", \"last_mac\", \"purged\", \
                 \"purged_at\", \"key_id\", \"signature\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                names.checkpoints
            ),
            &[
                &c.first,
                &c.last,
                &&c.before[..],
                &&c.last_mac[..],
                &purged,
                &c.purged_at.timestamp_micros(),
                &c.key_id,
                &&c.signature[..],
            ],
        )
        .await
        .during("writing a checkpoint")?;
    }
    let deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
    tx.execute(
        &format!(
            "UPDATE {} SET \"entries\" = \"entries\" - $1",
            names.counters
        ),
        &[&deleted],
    )
    .await
    .during("counting the entries")?;
    tx.commit().await.during("committing a purge chunk")?;
    let complete = rows.len() < request.chunk_rows.max(1) as usize;
    Ok(ChunkDone {
        deleted: plan.deleted,
        next: (!complete).then_some(high),
    })
}

/// The stored checkpoints, all or those touching the ids `low..=high`.
pub(crate) async fn read_checkpoints(
    client: &impl GenericClient,
    names: &Names,
    span: Option<(AuditId, AuditId)>,
) -> Result<Vec<Checkpoint>, Error> {
    let (low, high) = span.unwrap_or((AuditId::MIN, AuditId::MAX));
    let rows = client
        .query(
            &format!(
                "SELECT \"first\", \"last\", \"before\", \"last_mac\", \"purged\", \"purged_at\", \
                 \"key_id\", \"signature\" FROM {} WHERE \"last\" >= $1 AND \"first\" <= $2 \
                 ORDER BY \"first\"",
                names.checkpoints
            ),
            &[&low, &high],
        )
        .await
        .during("reading checkpoints")?;
    rows.iter().map(checkpoint).collect()
}

fn checkpoint(row: &Row) -> Result<Checkpoint, Error> {
    // A MAC of the wrong length fails the signature check like any other change.
    let mac = |i: usize| -> Result<Mac, Error> {
        let bytes: Vec<u8> = row.try_get(i).map_err(unreadable)?;
        Ok(Mac::try_from(bytes.as_slice()).unwrap_or([0; 32]))
    };
    let purged: i64 = row.try_get(4).map_err(unreadable)?;
    let purged_at: i64 = row.try_get(5).map_err(unreadable)?;
    Ok(Checkpoint {
        first: row.try_get(0).map_err(unreadable)?,
        last: row.try_get(1).map_err(unreadable)?,
        before: mac(2)?,
        last_mac: mac(3)?,
        purged: purged.max(0).unsigned_abs(),
        purged_at: DateTime::from_timestamp_micros(purged_at).unwrap_or_default(),
        key_id: row.try_get(6).map_err(unreadable)?,
        signature: mac(7)?,
    })
}
