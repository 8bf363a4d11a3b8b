//! Exports streamed from one statement: the server sends rows while they are decoded here,
//! and the whole export reads one snapshot.

use std::pin::Pin;

use audit_core::store::BoxStream;
use audit_core::{AuditEntry, Result};
use deadpool_postgres::{Object, Pool};
use futures_util::StreamExt as _;
use tokio::sync::OwnedSemaphorePermit;
use tokio_postgres::{CancelToken, NoTls, RowStream};

use crate::error::Context;
use crate::{Statement, read_entry};

/// Streams the rows of `statement` in chunks of `chunk` (at least 1) decoded entries, holding
/// `slot` (one of the store's export slots) until the stream ends or is dropped.
pub(crate) fn stream(
    pool: Pool,
    statement: Result<Statement>,
    chunk: usize,
    slot: OwnedSemaphorePermit,
) -> BoxStream<Result<Vec<AuditEntry>>> {
    let start = State::Start {
        pool,
        statement,
        slot,
    };
    Box::pin(futures_util::stream::unfold(
        start,
        move |state| async move {
            let mut reading = match state {
                State::Done => return None,
                State::Reading(reading) => reading,
                State::Start {
                    pool,
                    statement,
                    slot,
                } => match Reading::start(pool, statement, slot).await {
                    Ok(reading) => Box::new(reading),
                    Err(error) => return Some((Err(error), State::Done)),
                },
            };
            let mut entries = Vec::with_capacity(chunk);
            while entries.len() < chunk {
                match reading.rows.next().await {
                    Some(Ok(row)) => match read_entry(&row) {
                        Ok(entry) => entries.push(entry),
                        Err(error) => return Some((Err(error), State::Done)),
                    },
                    Some(Err(error)) => {
                        return Some((Err(error).during("reading entries"), State::Done));
                    }
                    None => {
                        reading.held.finished = true;
                        return (!entries.is_empty()).then_some((Ok(entries), State::Done));
                    }
                }
            }
            Some((Ok(entries), State::Reading(reading)))
        },
    ))
}

enum State {
    Start {
        pool: Pool,
        statement: Result<Statement>,
        slot: OwnedSemaphorePermit,
    },
    Reading(Box<Reading>),
    Done,
}

/// A statement whose rows are being received.
struct Reading {
    rows: Pin<Box<RowStream>>,
    held: Held,
}

impl Reading {
    async fn start(
        pool: Pool,
        statement: Result<Statement>,
        slot: OwnedSemaphorePermit,
    ) -> Result<Reading> {
        let statement = statement?;
        let client = pool.get().await.during("connecting")?;
        // Guarded before the statement is sent: dropped while it is under way, the connection
        // must not go back to the pool busy.
        let mut held = Held {
            cancel: client.cancel_token(),
            client: Some(client),
            finished: false,
            _slot: slot,
        };
        // Always there: only `drop` takes it.
        let Some(client) = held.client.as_ref() else {
            return Err(audit_core::Error::Unsupported(
                "an export whose connection is gone".into(),
            ));
        };
        match client
            .query_typed_raw(&statement.sql, crate::bind::typed(&statement.params))
            .await
        {
            Ok(rows) => Ok(Reading {
                rows: Box::pin(rows),
                held,
            }),
            Err(error) => {
                // The server answered with an error: the connection is idle again.
                held.finished = true;
                Err(error).during("reading entries")
            }
        }
    }
}

/// The connection an export reads on, and its export slot.
struct Held {
    /// Until the last row arrived, the connection serves nothing else.
    client: Option<Object>,
    cancel: CancelToken,
    /// Whether the statement is over; if not when dropped, it is cancelled.
    finished: bool,
    _slot: OwnedSemaphorePermit,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The consumer left early, or a row could not be read. The connection leaves the pool
        // and closes: it would have to receive the rest of the rows before serving anyone, and
        // the cancel below must not reach a statement of whoever used it next. The cancel stops
        // the server's work at once (closing alone stops it at the server's next write); it is
        // sent only where a Tokio runtime runs.
        drop(self.client.take().map(Object::take));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cancel = self.cancel.clone();
            runtime.spawn(async move {
                let _ = cancel.cancel_query(NoTls).await;
            });
        }
    }
}
