//! privacyIDEA's `GET /audit/statistics` over a memory store: the keys, the lists, the images
//! and the answers to bad parameters.
#![cfg(feature = "api")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;

use audit_core::api::{ApiRequest, PrivacyIdea, Scope};
use audit_core::{AuditEvent, AuditStore};
use audit_memory::MemoryStore;
use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use serde_json::Value;

async fn dialect() -> PrivacyIdea {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    let now = Utc::now();
    let mut events = Vec::new();
    for i in 0..60i64 {
        let event = if i % 3 == 0 {
            "GET /token/"
        } else {
            "POST /validate/check"
        };
        events.push(
            AuditEvent::new(event)
                .date(now - TimeDelta::hours(i))
                .user(if i % 4 == 0 { "jürgen" } else { "alice" })
                .serial(format!("TOTP{}", i % 2))
                .administrator(if i % 3 == 0 { "admin" } else { "" })
                .success(i % 5 != 0),
        );
    }
    // Outside the default window of 7 days.
    events.push(
        AuditEvent::new("POST /validate/check")
            .date(now - TimeDelta::days(30))
            .user("old"),
    );
    store.append(events).await.unwrap();
    PrivacyIdea::new(store)
}

async fn get(dialect: &PrivacyIdea, path: &str) -> (u16, Value) {
    let response = dialect
        .handle(&ApiRequest::get(path), &Scope::everything())
        .await
        .expect("served");
    let body = serde_json::from_slice(response.bytes().expect("one piece")).unwrap();
    (response.status, body)
}

fn decode_image(uri: &Value, prefix: &str) -> Vec<u8> {
    let uri = uri.as_str().expect("a data URI");
    let data = uri
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{uri:.40} lacks {prefix}"));
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap()
}

#[tokio::test]
async fn statistics_have_privacyideas_keys_lists_and_png_plots() {
    let dialect = dialect().await;
    let (status, body) = get(&dialect, "/audit/statistics").await;
    assert_eq!(status, 200, "{body}");
    let value = &body["result"]["value"];
    for key in [
        "serial_plot",
        "action_plot",
        "validate_user_plot",
        "validate_serial_plot",
        "validate_failed_user_plot",
        "validate_failed_serial_plot",
        "admin_plot",
        "timeline_plot",
    ] {
        let png = decode_image(&value[key], "data:image/png;base64,");
        assert!(png.starts_with(b"\x89PNG"), "{key}");
    }
    assert_eq!(
        value["action"][0],
        serde_json::json!({"key": "POST /validate/check", "count": 40, "success": 32, "fail": 8})
    );
    assert_eq!(value["admin"][0]["key"], "admin");
    assert_eq!(value["admin"][0]["count"], 20);
    // Failed validate checks: i % 5 == 0 among i % 3 != 0 in 0..60, users by i % 4.
    let failed_users: u64 = value["validate_failed_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    assert_eq!(failed_users, 8);
    assert_eq!(
        value["total"], 60,
        "the entry 30 days old is outside the window"
    );
    let start = value["time_start"].as_str().unwrap();
    let end = value["time_end"].as_str().unwrap();
    assert!(start.ends_with('Z') && end.ends_with('Z'), "{start} {end}");
    assert_eq!(
        value["timeline"].as_array().unwrap().len(),
        8,
        "7 days of daily buckets"
    );
}

#[tokio::test]
async fn statistics_take_filters_top_window_and_svg() {
    let dialect = dialect().await;
    let (status, body) = get(
        &dialect,
        "/audit/statistics?user=alice&top=1&days=2&bucket=hour&format=svg",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let value = &body["result"]["value"];
    assert_eq!(value["serial"].as_array().unwrap().len(), 1);
    assert_eq!(
        value["total"], 36,
        "alice's entries of the last 48 hours (i = 0..48, i % 4 != 0)"
    );
    let svg = decode_image(&value["serial_plot"], "data:image/svg+xml;base64,");
    let svg = String::from_utf8(svg).unwrap();
    assert!(svg.contains("Most used serials"), "{svg:.200}");
    assert_eq!(value["timeline"].as_array().unwrap().len(), 49);

    let (_, body) = get(
        &dialect,
        "/audit/statistics?start=2000-01-01&end=2000-01-02",
    )
    .await;
    let value = &body["result"]["value"];
    assert_eq!(value["total"], 0);
    assert_eq!(value["time_start"], "2000-01-01T00:00:00Z");
    assert!(value["serial"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_statistics_parameters_are_400_with_what_is_valid() {
    let dialect = dialect().await;
    for (query, expected) in [
        ("days=0", "expected 1 to"),
        ("days=x", "days"),
        ("top=100000", "expected 1 to 1000"),
        ("start=yesterday", "ISO 8601"),
        ("start=2026-02-01&end=2026-01-01", "not after start"),
        ("bucket=fortnight", "minute, hour, day, week"),
        ("format=gif", "png or svg"),
        ("days=365&bucket=minute", "wider bucket"),
        ("days=1&days=2", "more than once"),
        ("nonsense=1", "valid are"),
    ] {
        let (status, body) = get(&dialect, &format!("/audit/statistics?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["result"]["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{query}: {message}");
    }
}
