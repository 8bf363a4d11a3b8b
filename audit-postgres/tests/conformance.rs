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

/// Statistics computed in two slices of ids at once equal the reference model's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_in_slices_equal_the_reference() {
    check_sliced(false).await;
}

/// The same after the table was analyzed: keys with few distinct values (event,
/// administrator, realm, the buckets) then share one grouping set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_in_slices_with_combined_keys_equal_the_reference() {
    check_sliced(true).await;
}

async fn check_sliced(analyze: bool) {
    let (seed, _) = audit_core::testkit::random_settings();
    audit_core::testkit::check_statistics(
        || async move { crate::support::fresh_sliced_store(analyze).await },
        seed,
        300,
    )
    .await
    .assert_passed();
}
