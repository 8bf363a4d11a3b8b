//! Criterion benchmarks of the charts of one privacyIDEA statistics response, over a memory
//! store filled with 1,000,000 generated events (`AUDIT_BENCH_ROWS` for fewer):
//!
//! | group | benchmark | what is timed |
//! |---|---|---|
//! | `charts` | `render_response_png` | the 8 charts of `GET /audit/statistics` (3 top lists, 2 outcome charts, 2 failure lists, the timeline) as PNG data URIs, from statistics computed beforehand |
//! | | `render_response_svg` | the same 8 charts as SVG |
//! | | `privacyidea_statistics_endpoint` | the whole `GET /audit/statistics?start=…&end=…` answer: three statistics requests and the 8 PNG charts |

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use audit_benches::{END, SPAN_DAYS, filled, rows_from_env};
use audit_core::api::{ApiRequest, PrivacyIdea, Scope};
use audit_core::chart::Chart;
use audit_core::{AuditQuery, AuditStore, Bucket, Column, Statistics, StatsRequest};
use audit_memory::MemoryStore;
use criterion::{Criterion, criterion_group, criterion_main};

/// The three statistics the endpoint computes: everything, validate checks, failed checks.
async fn response_statistics(store: &dyn AuditStore) -> [Statistics; 3] {
    let window = AuditQuery::new()
        .from(END - chrono::TimeDelta::days(SPAN_DAYS))
        .to(END);
    let validate = window
        .clone()
        .filter("event", "*/validate/check")
        .unwrap_or_default();
    let failed = validate.clone().filter("success", "0").unwrap_or_default();
    let request = |query: AuditQuery, columns: &[Column]| {
        columns
            .iter()
            .try_fold(StatsRequest::new(query).bucket(Bucket::Day), |r, c| {
                r.rank(*c)
            })
            .unwrap_or_else(|e| panic!("invalid request: {e}"))
    };
    let mut answers = Vec::new();
    for request in [
        request(
            window,
            &[Column::Serial, Column::Event, Column::Administrator],
        ),
        request(validate, &[Column::User, Column::Serial]),
        request(failed, &[Column::User, Column::Serial]),
    ] {
        answers.push(
            store
                .statistics(&request)
                .await
                .unwrap_or_else(|e| panic!("statistics failed: {e}")),
        );
    }
    match <[Statistics; 3]>::try_from(answers) {
        Ok(answers) => answers,
        Err(_) => unreachable!("three requests give three answers"),
    }
}

fn response_charts([everything, validate, failed]: &[Statistics; 3]) -> Vec<Chart> {
    vec![
        everything
            .top_chart(Column::Serial, "Most used serials")
            .into(),
        everything
            .top_chart(Column::Event, "Most frequent actions")
            .into(),
        everything
            .top_chart(Column::Administrator, "Most active administrators")
            .into(),
        validate
            .outcome_chart(Column::User, "Authentications per user")
            .into(),
        validate
            .outcome_chart(Column::Serial, "Authentications per serial")
            .into(),
        failed
            .top_chart(Column::User, "Failed authentications per user")
            .into(),
        failed
            .top_chart(Column::Serial, "Failed authentications per serial")
            .into(),
        everything.timeline_chart("Entries per day").into(),
    ]
}

fn chart_benches(c: &mut Criterion) {
    let rows = rows_from_env().unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"));
    let store: Arc<dyn AuditStore> = Arc::new(MemoryStore::new());
    rt.block_on(filled(&*store, rows))
        .unwrap_or_else(|e| panic!("cannot fill the store: {e}"));
    let statistics = rt.block_on(response_statistics(&*store));
    let charts = response_charts(&statistics);
    let dialect = PrivacyIdea::new(store);
    let path = format!(
        "/audit/statistics?start={}&end={}",
        (END - chrono::TimeDelta::days(SPAN_DAYS)).format("%Y-%m-%dT%H:%M:%SZ"),
        END.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let request = ApiRequest::get(&path);
    let answer = rt.block_on(dialect.handle(&request, &Scope::everything()));
    assert_eq!(answer.map(|a| a.status), Some(200), "{path}");

    let mut group = c.benchmark_group("charts");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("render_response_png", |b| {
        b.iter(|| {
            for chart in &charts {
                black_box(chart.to_data_uri().unwrap_or_else(|e| panic!("{e}")));
            }
        });
    });
    group.bench_function("render_response_svg", |b| {
        b.iter(|| {
            for chart in &charts {
                black_box(chart.to_svg());
            }
        });
    });
    let (dialect, request) = (&dialect, &request);
    group.bench_function("privacyidea_statistics_endpoint", move |b| {
        b.to_async(&rt).iter(move || async move {
            black_box(dialect.handle(request, &Scope::everything()).await)
        });
    });
    group.finish();
}

criterion_group!(benches, chart_benches);
criterion_main!(benches);
