//! WAL checkpoints on a thread of their own: copying the log into the database file (and
//! syncing it) no longer falls on whichever commit crosses the auto-checkpoint threshold, so an
//! append does not wait for it.
//!
//! A passive checkpoint never blocks the writer or readers. The writer keeps SQLite's automatic
//! checkpoint, which then finds little left to copy and lets the log restart, so the log stays
//! bounded even while this thread never catches up with a busy writer.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is copied into the file.
const INTERVAL: Duration = Duration::from_millis(200);

/// The checkpoint thread; stopped (and joined) with [`WalCheckpointer::stop`].
pub(crate) struct WalCheckpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl WalCheckpointer {
    /// Starts checkpointing through `conn`, a read-write connection of its own.
    pub(crate) fn spawn(conn: Connection, name: &str) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("audit-sqlite-checkpoint-{name}"))
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    // A checkpoint that fails (the file busy, say) is retried next time; the
                    // writer's automatic checkpoint remains the backstop.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })?;
        Ok(WalCheckpointer { stop, thread })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}
