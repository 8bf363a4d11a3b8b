//! Exports streamed from one statement: the server sends rows while they are decoded here,
//! and the whole export reads one snapshot.

use std::pin::Pin;

use audit_core::store::BoxStream;
use audit_core::{AuditEntry, Result};
use deadpool_postgres::{Object, Pool};
use futures_util::StreamExt as _;
use tokio_postgres::{CancelToken, NoTls, RowStream};

use crate::error::Context;
use crate::{Statement, read_entry};

/// Streams the rows of `statement` in chunks of `chunk` decoded entries.
pub(crate) fn stream(
    pool: Pool,
    statement: Result<Statement>,
    chunk: usize,
) -> BoxStream<Result<Vec<AuditEntry>>> {
    let start = State::Start { pool, statement };
    Box::pin(futures_util::stream::unfold(
        start,
        move |state| async move {
            let mut reading = match state {
                State::Done => return None,
                State::Reading(reading) => *reading,
                State::Start { pool, statement } => match Reading::start(pool, statement).await {
                    Ok(reading) => reading,
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
                        reading.finished = true;
                        return (!entries.is_empty()).then_some((Ok(entries), State::Done));
                    }
                }
            }
            Some((Ok(entries), State::Reading(Box::new(reading))))
        },
    ))
}

enum State {
    Start {
        pool: Pool,
        statement: Result<Statement>,
    },
    Reading(Box<Reading>),
    Done,
}

/// A statement whose rows are being received, on a connection of the pool.
struct Reading {
    rows: Pin<Box<RowStream>>,
    cancel: CancelToken,
    /// Whether every row arrived; if not when dropped, the statement is cancelled.
    finished: bool,
    /// Held until the rows are read: the connection serves nothing else meanwhile.
    client: Option<Object>,
}

impl Reading {
    async fn start(pool: Pool, statement: Result<Statement>) -> Result<Reading> {
        let statement = statement?;
        let client = pool.get().await.during("connecting")?;
        let rows = client
            .query_typed_raw(&statement.sql, crate::bind::typed(&statement.params))
            .await
            .during("reading entries")?;
        Ok(Reading {
            rows: Box::pin(rows),
            cancel: client.cancel_token(),
            finished: false,
            client: Some(client),
        })
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        // The consumer left early (or a row could not be read). The connection leaves the pool
        // and closes: it would have to receive the rest of the rows before serving anyone, and
        // the cancel below must not reach a statement of whoever used it next. The cancel
        // stops the server sending the rest.
        if self.finished {
            return;
        }
        drop(self.client.take().map(Object::take));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let cancel = self.cancel.clone();
            runtime.spawn(async move {
                let _ = cancel.cancel_query(NoTls).await;
            });
        }
    }
}
