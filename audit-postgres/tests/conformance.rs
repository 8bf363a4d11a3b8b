//! The shared conformance kit against a real PostgreSQL server (DESIGN §7), with and without
//! the trigram search index; every store in a schema of its own.

mod support;

mod with_search_index {
    audit_core::conformance_tests!(|| async { crate::support::fresh_store(true).await });
}

mod without_search_index {
    audit_core::conformance_tests!(|| async { crate::support::fresh_store(false).await });
}

mod retention_with_search_index {
    audit_core::retention_tests!(|| async { crate::support::fresh_sealed_store(true).await });
}

mod retention_without_search_index {
    audit_core::retention_tests!(|| async { crate::support::fresh_sealed_store(false).await });
}
