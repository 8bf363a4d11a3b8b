//! The shared conformance kit against the memory store.

use std::sync::Arc;

use audit_core::AuditStore;
use audit_memory::MemoryStore;

audit_core::conformance_tests!(|| async { Arc::new(MemoryStore::new()) as Arc<dyn AuditStore> });
