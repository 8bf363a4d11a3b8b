//! A small pool of read-only connections, used from blocking tasks so readers never wait for
//! the writer (WAL) and never block the async runtime.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};

use audit_core::Error;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::SqliteError;

#[derive(Debug)]
pub(crate) struct ReadPool {
    connections: Mutex<Vec<Connection>>,
    /// One permit per connection in `connections`: taken before a connection, returned with it.
    available: Arc<Semaphore>,
    size: usize,
}

impl ReadPool {
    pub(crate) fn new(connections: Vec<Connection>) -> Arc<Self> {
        let permits = connections.len();
        Arc::new(ReadPool {
            connections: Mutex::new(connections),
            available: Arc::new(Semaphore::new(permits)),
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

    /// Runs `work` on a pooled connection in a blocking task. The connection and its permit go
    /// back together when `work` is done, even if the caller stopped waiting for it first.
    pub(crate) async fn read<T, F>(
        self: &Arc<Self>,
        action: &'static str,
        work: F,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let permit = Arc::clone(&self.available)
            .acquire_owned()
            .await
            .map_err(|_| SqliteError::WriterGone.during(action))?;
        let conn = self
            .take()
            .ok_or_else(|| SqliteError::WriterGone.during(action))?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            match catch_unwind(AssertUnwindSafe(|| work(&conn))) {
                Ok(outcome) => {
                    pool.give_back(conn);
                    drop(permit);
                    outcome
                }
                Err(panic) => {
                    // The connection goes down with the task; keep permits equal to connections.
                    permit.forget();
                    drop(conn);
                    resume_unwind(panic)
                }
            }
        })
        .await;
        joined.map_err(|error| SqliteError::from(error).during(action))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

    use std::time::Duration;

    use super::*;

    fn pool_of_one() -> Arc<ReadPool> {
        ReadPool::new(vec![Connection::open_in_memory().unwrap()])
    }

    #[tokio::test]
    async fn a_read_the_caller_gave_up_on_keeps_its_connection_until_done() {
        let pool = pool_of_one();
        let slow = pool.read("sleeping", |_| {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        });
        // The caller stops waiting while the read still runs.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err()
        );
        let next = pool
            .read("counting", |conn| {
                conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .map_err(|e| Error::backend("sqlite", "test", false, e))
            })
            .await;
        assert_eq!(
            next.unwrap(),
            1,
            "the next read must wait for the connection"
        );
        assert_eq!(pool.idle(), 1);
    }

    #[tokio::test]
    async fn a_read_that_panics_gives_an_error_and_retires_its_connection() {
        let pool = ReadPool::new(vec![
            Connection::open_in_memory().unwrap(),
            Connection::open_in_memory().unwrap(),
        ]);
        let failed = pool
            .read("panicking", |_| -> Result<(), Error> {
                panic!("a bug in a read")
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(pool.idle(), 1, "one permit per connection left");
        assert!(pool.read("reading", |_| Ok(())).await.is_ok());
    }
}
