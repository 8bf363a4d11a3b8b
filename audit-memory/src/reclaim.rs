//! Freeing appended batches off the caller's thread: once a batch is interned its events are
//! garbage, and freeing a thousand events' strings took about a third of an append. A thread of
//! the store's own frees them while the caller goes on; when it falls behind (its queue is
//! full) the caller frees the batch itself, so memory stays bounded.

use std::sync::Mutex;
use std::sync::mpsc::{self, SyncSender, TrySendError};

use audit_core::AuditEvent;

/// Batches waiting to be freed, at most.
const QUEUE: usize = 8;

/// Hands batches to the freeing thread.
#[derive(Debug)]
pub(crate) struct Reclaimer {
    // A `SyncSender` is `Send` but not `Sync`; the store is shared between threads.
    queue: Option<Mutex<SyncSender<Vec<AuditEvent>>>>,
}

impl Reclaimer {
    /// Starts the freeing thread; without one (it could not be started) batches are freed in
    /// place.
    pub(crate) fn start() -> Self {
        let (sender, receiver) = mpsc::sync_channel::<Vec<AuditEvent>>(QUEUE);
        let started = std::thread::Builder::new()
            .name("audit-memory-reclaim".into())
            .spawn(move || {
                // Ends when the store, and with it the sender, is dropped.
                for batch in receiver {
                    drop(batch);
                }
            });
        Reclaimer {
            queue: started.ok().map(|_| Mutex::new(sender)),
        }
    }

    /// Frees `batch`, on the freeing thread when it keeps up.
    pub(crate) fn free(&self, batch: Vec<AuditEvent>) {
        let Some(queue) = &self.queue else {
            return;
        };
        let sent = match queue.lock() {
            Ok(sender) => sender.try_send(batch),
            Err(_) => return,
        };
        if let Err(TrySendError::Full(batch) | TrySendError::Disconnected(batch)) = sent {
            drop(batch);
        }
    }
}
