//! Property tests: whatever a client sends to either dialect, the answer is a 2xx or 4xx with a
//! well-formed body; never a 5xx, never a panic.
#![cfg(feature = "api")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::api::{ApiRequest, PrivacyIdea, Scope, Vault};
use audit_core::{AuditEvent, AuditStore};
use audit_memory::MemoryStore;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn store(runtime: &tokio::runtime::Runtime) -> Arc<dyn AuditStore> {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    runtime.block_on(async {
        let events = (0..50)
            .map(|i| {
                AuditEvent::new(format!("POST /e{}", i % 3))
                    .user(format!("u{}", i % 5))
                    .success(i % 4 != 0)
            })
            .collect();
        store.append(events).await.unwrap();
    });
    store
}

fn query_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("page".to_owned()),
        Just("page_size".to_owned()),
        Just("sortorder".to_owned()),
        Just("sortname".to_owned()),
        Just("timelimit".to_owned()),
        Just("user".to_owned()),
        Just("action".to_owned()),
        Just("success".to_owned()),
        Just("date".to_owned()),
        Just("number".to_owned()),
        Just("loglevel".to_owned()),
        "[a-z_%]{0,8}",
    ];
    let value = prop_oneof!["[-!*%0-9a-zA-Z+ ]{0,12}", "%[0-9A-Fa-f]{2}", ".{0,6}"];
    proptest::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn statistics_query_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("days".to_owned()),
        Just("start".to_owned()),
        Just("end".to_owned()),
        Just("top".to_owned()),
        Just("bucket".to_owned()),
        Just("format".to_owned()),
        Just("user".to_owned()),
        Just("success".to_owned()),
        "[a-z_%]{0,8}",
    ];
    let value = prop_oneof![
        "[-!*%0-9a-zA-Z+ ]{0,12}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
        Just("minute".to_owned()),
        Just("svg".to_owned()),
        "[0-9]{1,20}",
    ];
    proptest::collection::vec((key, value), 0..5).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn privacyidea_statistics_answer_every_query_without_a_server_error(query in statistics_query_text()) {
        let runtime = runtime();
        let dialect = PrivacyIdea::new(store(&runtime));
        let path = format!("/audit/statistics?{query}");
        let response = runtime.block_on(dialect.handle(&ApiRequest::get(&path), &Scope::everything()));
        let response = response.expect("the statistics path is served");
        prop_assert!(response.status < 500, "{path} gave {}", response.status);
        let body = response.bytes().expect("statistics answer in one piece");
        prop_assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn privacyidea_answers_every_query_without_a_server_error(query in query_text(), file in "[a-zA-Z0-9%./\"-]{0,12}") {
        let runtime = runtime();
        let dialect = PrivacyIdea::new(store(&runtime));
        for path in [format!("/audit/?{query}"), format!("/audit/{file}.csv?{query}")] {
            let response = runtime.block_on(dialect.handle(&ApiRequest::get(&path), &Scope::everything()));
            if let Some(response) = response {
                prop_assert!(response.status < 500, "{path} gave {}", response.status);
                if let Some(body) = response.bytes() {
                    prop_assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
                }
            }
        }
    }

    #[test]
    fn vault_answers_every_request_without_a_server_error(
        start in "[-0-9a-z]{0,6}",
        count in "[-0-9a-z]{0,6}",
        column in ".{0,8}",
        direction in ".{0,5}",
        find in ".{0,8}",
        encoded in "[A-Za-z0-9+/=*]{0,8}",
    ) {
        let runtime = runtime();
        let dialect = Vault::new(store(&runtime));
        let request = ApiRequest::get(&format!("/vault_rest/audit/{start}/{count}"))
            .header("sort_column", &column)
            .header("sort_direction", &direction)
            .header("find", &find)
            .header("findB64", &encoded);
        if let Some(response) = runtime.block_on(dialect.handle(&request, &Scope::everything())) {
            prop_assert!(response.status < 500, "gave {}", response.status);
        }
    }
}

#[test]
fn oversized_and_invalid_headers_are_400() {
    let runtime = runtime();
    let dialect = Vault::new(store(&runtime));
    let long = "x".repeat(5_000);
    for (name, value) in [
        ("find", long.as_str()),
        ("sort_column", long.as_str()),
        ("findB64", "/w=="),
    ] {
        let request = ApiRequest::get("/vault_rest/audit/0/10").header(name, value);
        let response = runtime
            .block_on(dialect.handle(&request, &Scope::everything()))
            .unwrap();
        assert_eq!(response.status, 400, "{name}");
    }
    let mut request = ApiRequest::get("/vault_rest/audit/0/10");
    request.headers.push(("find".into(), vec![0xFF, 0xFE]));
    assert_eq!(
        runtime
            .block_on(dialect.handle(&request, &Scope::everything()))
            .unwrap()
            .status,
        400
    );
}
