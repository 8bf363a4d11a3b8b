//! A small pool of read-only connections, used from blocking tasks so readers never wait for
//! the writer (WAL) and never block the async runtime.

use std::sync::{Arc, Mutex};

use audit_core::Error;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::SqliteError;

#[derive(Debug)]
pub(crate) struct ReadPool {
    connections: Mutex<Vec<Connection>>,
    available: Semaphore,
    size: usize,
}

impl ReadPool {
    pub(crate) fn new(connections: Vec<Connection>) -> Arc<Self> {
        let permits = connections.len();
        Arc::new(ReadPool {
            connections: Mutex::new(connections),
            available: Semaphore::new(permits),
            size: permits,
        })
    }

    /// How many connections the pool holds.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// How many connections are free right now.
    pub(crate) fn idle(&self) -> usize {
        self.available.available_permits()
    }

    fn take(&self) -> Option<Connection> {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
    }

    fn give_back(&self, conn: Connection) {
        self.connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }

    /// Runs `work` on a pooled connection in a blocking task.
    pub(crate) async fn read<T, F>(
        self: &Arc<Self>,
        action: &'static str,
        work: F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let permit = self
            .available
            .acquire()
            .await
            .map_err(|_| SqliteError::WriterGone.during(action))?;
        let conn = self
            .take()
            .ok_or_else(|| SqliteError::WriterGone.during(action))?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let outcome = work(&conn);
            pool.give_back(conn);
            outcome
        })
        .await;
        match joined {
            Ok(outcome) => {
                drop(permit);
                outcome
            }
            Err(error) => {
                // The connection went down with the task; keep permits equal to connections.
                permit.forget();
                Err(SqliteError::from(error).during(action))
            }
        }
    }
}
