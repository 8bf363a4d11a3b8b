//! CSV rendering: RFC 4180 quoting, formula guard, UTC dates, and the stream giving the same
//! bytes as the writer.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::sync::Arc;
use std::time::Duration;

use audit_core::csv::{CsvColumn, CsvLayout, csv_stream, write_csv};
use audit_core::{AuditEvent, AuditQuery, AuditStore, Column};
use audit_memory::MemoryStore;
use chrono::DateTime;
use futures_util::StreamExt as _;

async fn store_with_awkward_values() -> Arc<dyn AuditStore> {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    let date = DateTime::from_timestamp(1_777_777_777, 123_456_000).unwrap();
    store
        .append(vec![
            AuditEvent::new("POST /auth")
                .date(date)
                .user("quote\"comma,newline\nuser")
                .description("=cmd|' /C calc'!A0")
                .duration(Duration::from_micros(1_250_000))
                .extra("ticket", "T-1"),
            AuditEvent::new("-5")
                .date(date)
                .success(false)
                .user("@admin")
                .location("+49 30"),
            AuditEvent::new("plain")
                .date(date)
                .description("\tindented")
                .user("ärger"),
        ])
        .await
        .unwrap();
    store
}

fn by_id() -> AuditQuery {
    AuditQuery::new()
        .sort(Column::Id, audit_core::Direction::Asc)
        .unwrap()
}

#[tokio::test]
async fn csv_quotes_per_rfc_4180_and_guards_formulas() {
    let store = store_with_awkward_values().await;
    let layout = CsvLayout::of(&[
        Column::Id,
        Column::Date,
        Column::Event,
        Column::Success,
        Column::User,
        Column::Description,
        Column::Location,
        Column::Duration,
        Column::Extra,
    ]);
    let mut out = Vec::new();
    let rows = write_csv(store, by_id(), &layout, &mut out).await.unwrap();
    assert_eq!(rows, 3);
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "id",
            "date",
            "event",
            "success",
            "user",
            "description",
            "location",
            "duration",
            "extra"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&records[0][0], "1");
    assert_eq!(&records[0][1], "2026-05-03T03:09:37.123456Z");
    assert_eq!(&records[0][4], "quote\"comma,newline\nuser");
    assert_eq!(&records[0][5], "'=cmd|' /C calc'!A0");
    assert_eq!(&records[0][7], "1.250000");
    assert_eq!(&records[0][8], "{\"ticket\":\"T-1\"}");
    assert_eq!(&records[1][2], "'-5");
    assert_eq!(&records[1][3], "0");
    assert_eq!(&records[1][4], "'@admin");
    assert_eq!(&records[1][6], "'+49 30");
    assert_eq!(&records[2][5], "'\tindented");
    assert_eq!(&records[2][4], "ärger");
    assert!(
        out.windows(2).any(|w| w == b"\r\n"),
        "records end with CRLF"
    );
}

#[tokio::test]
async fn the_stream_gives_the_same_bytes_as_the_writer() {
    let store = store_with_awkward_values().await;
    let layout = CsvLayout::canonical();
    let mut written = Vec::new();
    write_csv(store.clone(), by_id(), &layout, &mut written)
        .await
        .unwrap();
    let mut streamed = Vec::new();
    let mut chunks = csv_stream(store, by_id(), layout);
    while let Some(chunk) = chunks.next().await {
        streamed.extend(chunk.unwrap());
    }
    assert_eq!(streamed, written);
}

#[tokio::test]
async fn custom_columns_render_as_the_caller_says() {
    let store = store_with_awkward_values().await;
    let layout = CsvLayout::new(vec![
        CsvColumn::new("number", Column::Id),
        CsvColumn::custom("status", false, |e| {
            if e.success() {
                "Success".into()
            } else {
                "Failure".into()
            }
        }),
        CsvColumn::custom("who", true, |e| e.user().to_owned()),
    ]);
    let mut out = Vec::new();
    write_csv(store, by_id(), &layout, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("number,status,who\r\n"));
    assert!(text.contains("2,Failure,'@admin\r\n"), "{text}");
}

#[tokio::test]
async fn extra_fields_are_guarded_and_raw_custom_cells_are_not() {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    store
        .append(vec![
            AuditEvent::new("POST /auth")
                .extra("ticket", "=HYPERLINK(\"x\")")
                .extra("note", "plain"),
        ])
        .await
        .unwrap();
    let layout = CsvLayout::new(vec![
        CsvColumn {
            header: "ticket".into(),
            value: audit_core::csv::CsvValue::Extra("ticket".into()),
        },
        CsvColumn {
            header: "note".into(),
            value: audit_core::csv::CsvValue::Extra("note".into()),
        },
        CsvColumn::custom("formula", false, |_| "=1+1".into()),
        CsvColumn::custom("guarded", true, |_| "=1+1".into()),
        CsvColumn::new("extra", Column::Extra),
    ]);
    let mut out = Vec::new();
    write_csv(store, by_id(), &layout, &mut out).await.unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let record = reader.records().next().unwrap().unwrap();
    assert_eq!(&record[0], "'=HYPERLINK(\"x\")");
    assert_eq!(&record[1], "plain");
    assert_eq!(
        &record[2], "=1+1",
        "a cell the caller marks as not text is kept as is"
    );
    assert_eq!(&record[3], "'=1+1");
    assert_eq!(
        &record[4],
        r#"{"note":"plain","ticket":"=HYPERLINK(\"x\")"}"#
    );
}

#[tokio::test]
async fn an_empty_result_is_just_the_header() {
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    let mut out = Vec::new();
    let rows = write_csv(
        store,
        AuditQuery::new(),
        &CsvLayout::of(&[Column::Id, Column::User]),
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(out, b"id,user\r\n");
}
