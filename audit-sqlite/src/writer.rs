//! The one writer thread: it owns the write connection and commits queued batches in groups, one
//! transaction (and one sync to disk) per group, each batch in its own savepoint. Purge chunks
//! queue with the batches and run between groups.

use audit_core::integrity::{Chain, GENESIS, Keyring, Mac};
use audit_core::sql::encode_event;
use audit_core::{AuditEvent, AuditId, Error};
use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use tokio::sync::{mpsc, oneshot};

use crate::bind::row_value;
use crate::error::Context;
use crate::purge::{PurgeJob, purge_chunk};
use crate::schema::{Names, insert_sealed_sql, insert_sql, search_text};
use crate::wal_checkpoint::WalCheckpointer;

/// The most rows one group commit takes before it commits.
const GROUP_ROWS: usize = 20_000;

/// One batch to write and where to send its ids.
pub(crate) struct WriteRequest {
    pub(crate) batch: Vec<AuditEvent>,
    pub(crate) reply: oneshot::Sender<Result<Vec<AuditId>, Error>>,
}

/// What the writer thread does next.
pub(crate) enum Job {
    Write(WriteRequest),
    Purge(PurgeJob),
}

/// Starts the writer thread; it stops when every sender is dropped, after writing what is
/// queued and closing its connection, and then fires the returned signal.
pub(crate) fn spawn(
    conn: Connection,
    names: Names,
    search: bool,
    keyring: Option<Keyring>,
    checkpointer: Option<WalCheckpointer>,
) -> std::io::Result<(mpsc::Sender<Job>, oneshot::Receiver<()>)> {
    let (sender, receiver) = mpsc::channel(256);
    let (done, stopped) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("audit-sqlite-writer-{}", names.entries))
        .spawn(move || {
            let writer = Writer {
                names,
                search,
                keyring,
            };
            let mut conn = conn;
            run(&mut conn, &writer, receiver);
            // Stopped before the write connection closes, whose close checkpoints the rest.
            if let Some(checkpointer) = checkpointer {
                checkpointer.stop();
            }
            drop(conn);
            let _ = done.send(());
        })?;
    Ok((sender, stopped))
}

/// What the writer thread writes with.
struct Writer {
    names: Names,
    search: bool,
    keyring: Option<Keyring>,
}

/// The tail while a transaction writes: the next id and, when the store seals, the chain
/// continuing from the newest entry's MAC.
#[derive(Clone)]
struct Tail {
    next_id: AuditId,
    chain: Option<Chain>,
}

fn run(conn: &mut Connection, writer: &Writer, mut receiver: mpsc::Receiver<Job>) {
    let mut held = None;
    loop {
        let Some(job) = held.take().or_else(|| receiver.blocking_recv()) else {
            break;
        };
        let first = match job {
            Job::Write(request) => request,
            Job::Purge(job) => {
                let outcome = purge_chunk(
                    conn,
                    &writer.names,
                    writer.search,
                    writer.keyring.as_ref(),
                    &job,
                );
                let _ = job.reply.send(outcome);
                continue;
            }
        };
        let mut rows = first.batch.len();
        let mut group = vec![first];
        while rows < GROUP_ROWS {
            match receiver.try_recv() {
                Ok(Job::Write(next)) => {
                    rows += next.batch.len();
                    group.push(next);
                }
                // A purge chunk waits for the group in front of it.
                Ok(purge) => {
                    held = Some(purge);
                    break;
                }
                Err(_) => break,
            }
        }
        match write_group(conn, writer, &group) {
            Ok(outcomes) => {
                for (request, outcome) in group.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(error) => {
                for request in group {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Reads the tail inside the write transaction, which holds SQLite's write lock, so writers in
/// other processes cannot interleave: the newest id (or the highest ever assigned) and its MAC.
/// Ids are assigned here rather than by SQLite: the MAC covers them, and one read per group
/// is cheaper than SQLite's search for the next id on every insert.
fn read_tail(conn: &Connection, names: &Names, keyring: Option<&Keyring>) -> Result<Tail, Error> {
    use rusqlite::OptionalExtension;
    let last: Option<(AuditId, Option<Vec<u8>>)> = conn
        .query_row(
            &format!(
                "SELECT \"id\", \"seal_mac\" FROM \"{}\" ORDER BY \"id\" DESC LIMIT 1",
                names.entries
            ),
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .during("reading the chain's tail")?;
    let sequence: Option<AuditId> = conn
        .query_row(
            "SELECT \"seq\" FROM sqlite_sequence WHERE \"name\" = ?1",
            [&names.entries],
            |row| row.get(0),
        )
        .optional()
        .during("reading the chain's tail")?;
    let (last_id, mac) = match last {
        Some((id, Some(mac))) if keyring.is_some() => (
            id,
            Mac::try_from(mac.as_slice()).map_err(|_| {
                Error::Integrity(format!(
                    "entry {id}: the stored MAC is not {} bytes",
                    mac.len()
                ))
            })?,
        ),
        Some((id, _)) => (id, GENESIS),
        None => (0, GENESIS),
    };
    Ok(Tail {
        next_id: last_id.max(sequence.unwrap_or(0)) + 1,
        chain: keyring.map(|keyring| Chain::after(keyring.clone(), mac)),
    })
}

fn write_group(
    conn: &mut Connection,
    writer: &Writer,
    group: &[WriteRequest],
) -> Result<Vec<Result<Vec<AuditId>, Error>>, Error> {
    let (names, search) = (&writer.names, writer.search);
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during("starting the write transaction")?;
    let mut tail = read_tail(&tx, names, writer.keyring.as_ref())?;
    let mut outcomes = Vec::with_capacity(group.len());
    let mut written = 0i64;
    if let [only] = group {
        // One batch: the transaction is its atomic unit. A savepoint would make SQLite journal
        // every page it touches a second time (measured: ~5 ms of ~33 ms per 1,000 rows).
        let ids = insert_batch(&tx, names, search, &only.batch, &mut tail)?;
        written += ids.len() as i64;
        outcomes.push(Ok(ids));
    }
    for request in group.iter().filter(|_| group.len() > 1) {
        let savepoint = tx.savepoint().during("starting a batch")?;
        let before = tail.clone();
        match insert_batch(&savepoint, names, search, &request.batch, &mut tail) {
            Ok(ids) => {
                savepoint.commit().during("finishing a batch")?;
                written += ids.len() as i64;
                outcomes.push(Ok(ids));
            }
            // Dropping the savepoint rolls the batch back (and the chain's tail with it); the
            // other batches go on.
            Err(error) => {
                tail = before;
                outcomes.push(Err(error));
            }
        }
    }
    tx.execute(
        &format!(
            "UPDATE \"{}\" SET \"value\" = \"value\" + ?1 WHERE \"name\" = 'entries'",
            names.counters
        ),
        [written],
    )
    .during("counting the entries")?;
    tx.commit().during("committing the batch")?;
    Ok(outcomes)
}

fn insert_batch(
    conn: &Connection,
    names: &Names,
    search: bool,
    batch: &[AuditEvent],
    tail: &mut Tail,
) -> Result<Vec<AuditId>, Error> {
    let sql = if tail.chain.is_some() {
        insert_sealed_sql(names)
    } else {
        insert_sql(names)
    };
    let mut insert = conn.prepare_cached(&sql).during("preparing the insert")?;
    let mut index = if search {
        Some(
            conn.prepare_cached(&format!(
                "INSERT INTO \"{}\" (rowid, \"text\") VALUES (?1, ?2)",
                names.search
            ))
            .during("preparing the search index insert")?,
        )
    } else {
        None
    };
    let mut ids = Vec::with_capacity(batch.len());
    for event in batch {
        let values = encode_event(event);
        let id = tail.next_id;
        tail.next_id += 1;
        let seal = tail.chain.as_mut().map(|chain| chain.seal(id, event));
        let row = std::iter::once(ToSqlOutput::Owned(Value::Integer(id)))
            .chain(values.iter().map(row_value))
            .chain(seal.into_iter().flat_map(|seal| {
                [
                    ToSqlOutput::Owned(Value::Text(seal.key_id)),
                    ToSqlOutput::Owned(Value::Blob(seal.mac.to_vec())),
                ]
            }));
        insert
            .execute(params_from_iter(row))
            .during("inserting an entry")?;
        if let Some(index) = index.as_mut() {
            let text = search_text(event.texts());
            index
                .execute(rusqlite::params![id, text])
                .during("indexing an entry")?;
        }
        ids.push(id);
    }
    Ok(ids)
}
