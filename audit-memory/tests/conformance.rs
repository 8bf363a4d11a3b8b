//! The shared conformance kit against the memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::AuditStore;
use audit_memory::MemoryStore;

audit_core::conformance_tests!(|| async { Arc::new(MemoryStore::new()) as Arc<dyn AuditStore> });

audit_core::retention_tests!(|| async {
    Arc::new(MemoryStore::with_integrity(
        audit_core::testkit::retention_keyring(),
    )) as Arc<dyn AuditStore>
});
