//! Write-path cases: id assignment, round trips, the writer, time limits and exports.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt as _;

use crate::csv::{CsvLayout, write_csv};
use crate::error::Error;
use crate::event::{AuditEntry, AuditEvent};
use crate::query::{AuditQuery, TimeLimit};
use crate::store::{AuditStore, export};
use crate::testkit::reference::Reference;
use crate::testkit::reference_store::ReferenceStore;
use crate::testkit::{Report, check_query, everything_by_id, load};
use crate::writer::{AuditWriter, WriterConfig};

type Outcome = Result<(), String>;

fn record(report: &mut Report, name: &str, outcome: Outcome) {
    match outcome {
        Ok(()) => report.pass(),
        Err(detail) => report.fail(name, detail),
    }
}

async fn exported(
    store: Arc<dyn AuditStore>,
    query: AuditQuery,
    chunk: u32,
) -> Result<Vec<AuditEntry>, String> {
    let mut out = Vec::new();
    let mut chunks = export(store, query, chunk);
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.map_err(|e| format!("export failed: {e}"))?);
    }
    Ok(out)
}

/// Cases that read the store loaded with the dataset.
pub(crate) async fn check_on_loaded(store: &Arc<dyn AuditStore>, reference: &Reference) -> Report {
    let mut report = Report::default();
    record(
        &mut report,
        "entries_round_trip_every_column",
        round_trip(store, reference).await,
    );
    record(
        &mut report,
        "export_walks_a_filtered_result_in_order",
        export_filtered(store, reference).await,
    );
    record(
        &mut report,
        "export_in_large_chunks_keeps_the_order",
        export_large_chunks(store, reference).await,
    );
    record(
        &mut report,
        "csv_export_equals_the_reference_rendering",
        csv_equals(store, reference).await,
    );
    report
}

async fn round_trip(store: &Arc<dyn AuditStore>, reference: &Reference) -> Outcome {
    let stored = exported(store.clone(), everything_by_id(), 700).await?;
    if stored.len() != reference.entries().len() {
        return Err(format!(
            "{} entries read back, {} appended",
            stored.len(),
            reference.entries().len()
        ));
    }
    for (got, want) in stored.iter().zip(reference.entries()) {
        if got != want {
            return Err(format!(
                "entry {} reads back as {got:?}, appended {want:?}",
                want.id()
            ));
        }
    }
    Ok(())
}

async fn export_filtered(store: &Arc<dyn AuditStore>, reference: &Reference) -> Outcome {
    let query = AuditQuery::new()
        .filter("event", "POST*")
        .and_then(|q| q.sort(crate::Column::User, crate::Direction::Desc))
        .map_err(|e| e.to_string())?;
    export_in_order(store, reference, query, 33).await
}

/// An export in chunks of thousands of entries, sorted with ties: the order a backend reads
/// large pages in must still be the query's.
async fn export_large_chunks(store: &Arc<dyn AuditStore>, reference: &Reference) -> Outcome {
    let query = AuditQuery::new()
        .sort(crate::Column::Realm, crate::Direction::Desc)
        .map_err(|e| e.to_string())?;
    export_in_order(store, reference, query, 2_100).await
}

/// Exports `query` in chunks of `chunk` and compares the ids with the reference's order.
async fn export_in_order(
    store: &Arc<dyn AuditStore>,
    reference: &Reference,
    query: AuditQuery,
    chunk: u32,
) -> Outcome {
    let got: Vec<i64> = exported(store.clone(), query.clone(), chunk)
        .await?
        .iter()
        .map(AuditEntry::id)
        .collect();
    let want: Vec<i64> = reference
        .matching(&query, Utc::now())
        .iter()
        .map(|e| e.id())
        .collect();
    if got != want {
        return Err(format!(
            "export gave {} ids, expected {} (first difference at {:?})",
            got.len(),
            want.len(),
            got.iter().zip(&want).position(|(g, w)| g != w)
        ));
    }
    Ok(())
}

async fn csv_equals(store: &Arc<dyn AuditStore>, reference: &Reference) -> Outcome {
    let query = AuditQuery::new()
        .filter("success", "0")
        .map_err(|e| e.to_string())?;
    let layout = CsvLayout::canonical();
    let mut got = Vec::new();
    let rows = write_csv(store.clone(), query.clone(), &layout, &mut got)
        .await
        .map_err(|e| e.to_string())?;
    let model: Arc<dyn AuditStore> = Arc::new(ReferenceStore::new(reference.clone()));
    let mut want = Vec::new();
    write_csv(model, query, &layout, &mut want)
        .await
        .map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!(
            "CSV of {rows} rows differs from the reference rendering"
        ));
    }
    Ok(())
}

/// Cases that each need a fresh store.
pub(crate) async fn check_on_fresh<F, Fut>(factory: &F) -> Report
where
    F: Fn() -> Fut + Sync,
    Fut: Future<Output = Arc<dyn AuditStore>> + Send,
{
    let mut report = Report::default();
    record(
        &mut report,
        "empty_batch_appends_nothing",
        empty_batch(factory().await).await,
    );
    record(
        &mut report,
        "ids_increase_across_batches",
        ids_increase(factory().await).await,
    );
    record(
        &mut report,
        "time_limit_is_relative_to_now",
        time_limits(factory().await).await,
    );
    record(
        &mut report,
        "writer_batches_concurrent_appends",
        writer_concurrent(factory().await).await,
    );
    record(
        &mut report,
        "writer_flush_and_shutdown_write_everything",
        writer_shutdown(factory().await).await,
    );
    report
}

async fn count_all(store: &dyn AuditStore) -> Result<u64, String> {
    store
        .count(&AuditQuery::new())
        .await
        .map(|c| c.total_count)
        .map_err(|e| format!("count failed: {e}"))
}

async fn empty_batch(store: Arc<dyn AuditStore>) -> Outcome {
    let ids = store
        .append(Vec::new())
        .await
        .map_err(|e| format!("empty append failed: {e}"))?;
    if !ids.is_empty() {
        return Err(format!("an empty batch was given ids {ids:?}"));
    }
    match count_all(&*store).await? {
        0 => Ok(()),
        n => Err(format!("an empty batch left {n} entries")),
    }
}

async fn ids_increase(store: Arc<dyn AuditStore>) -> Outcome {
    let mut last = 0;
    for size in [3usize, 1, 10] {
        let batch: Vec<AuditEvent> = (0..size)
            .map(|i| AuditEvent::new(format!("e{i}")))
            .collect();
        let ids = store
            .append(batch)
            .await
            .map_err(|e| format!("append failed: {e}"))?;
        for id in ids {
            if id <= last {
                return Err(format!("id {id} follows {last}"));
            }
            last = id;
        }
    }
    Ok(())
}

async fn time_limits(store: Arc<dyn AuditStore>) -> Outcome {
    let now = Utc::now();
    let ages = [
        TimeDelta::seconds(-3_600),
        TimeDelta::seconds(10),
        TimeDelta::minutes(3),
        TimeDelta::minutes(90),
        TimeDelta::hours(30),
        TimeDelta::days(10),
        TimeDelta::days(400),
    ];
    let events: Vec<AuditEvent> = ages
        .iter()
        .map(|age| AuditEvent::new(format!("aged {age}")).date(now - *age))
        .collect();
    let reference = load(&*store, events).await.map_err(|f| f.detail)?;
    for limit in ["1m", "30s", "1h", "2h", "1d", "2w", "1y", "5y"] {
        let limit: TimeLimit = limit.parse().map_err(|e: Error| e.to_string())?;
        let query = AuditQuery::new().time_limit(limit);
        check_query(&*store, &reference, &query)
            .await
            .map_err(|e| format!("timelimit {limit}: {e}"))?;
        let bounded = query.to(now - TimeDelta::seconds(60));
        check_query(&*store, &reference, &bounded)
            .await
            .map_err(|e| format!("timelimit {limit} with to: {e}"))?;
    }
    Ok(())
}

async fn writer_concurrent(store: Arc<dyn AuditStore>) -> Outcome {
    let config = WriterConfig {
        max_batch: 64,
        max_delay: Duration::from_millis(5),
        queue_capacity: 100,
        ..WriterConfig::default()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    let mut tasks = Vec::new();
    for task in 0..8 {
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            let mut receipts = Vec::new();
            for n in 0..250 {
                let event = AuditEvent::new("writer").description(format!("{task}/{n}"));
                receipts.push(writer.append(event).await?);
            }
            let mut ids = Vec::new();
            for receipt in receipts {
                ids.push(receipt.written().await?);
            }
            Ok::<_, Error>(ids)
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        let ids = task
            .await
            .map_err(|e| format!("writer task failed: {e}"))?
            .map_err(|e| format!("append through the writer failed: {e}"))?;
        all.extend(ids);
    }
    writer
        .shutdown()
        .await
        .map_err(|e| format!("shutdown failed: {e}"))?;
    if all.len() != 2_000 {
        return Err(format!("{} distinct ids for 2000 events", all.len()));
    }
    let stored = exported(store.clone(), everything_by_id(), 1_000).await?;
    let stored_ids: HashSet<i64> = stored.iter().map(AuditEntry::id).collect();
    if stored_ids != all || stored.len() != 2_000 {
        return Err(format!(
            "{} entries stored; receipts named {}",
            stored.len(),
            all.len()
        ));
    }
    let distinct: HashSet<&str> = stored.iter().map(|e| e.description()).collect();
    if distinct.len() != 2_000 {
        return Err(format!("{} distinct events stored of 2000", distinct.len()));
    }
    Ok(())
}

async fn writer_shutdown(store: Arc<dyn AuditStore>) -> Outcome {
    let config = WriterConfig {
        max_batch: 1_000,
        max_delay: Duration::from_secs(3_600),
        ..WriterConfig::default()
    };
    let writer = AuditWriter::spawn(store.clone(), config);
    for n in 0..10 {
        let _receipt = writer
            .append(AuditEvent::new(format!("queued {n}")))
            .await
            .map_err(|e| e.to_string())?;
    }
    writer
        .flush()
        .await
        .map_err(|e| format!("flush failed: {e}"))?;
    if count_all(&*store).await? != 10 {
        return Err("flush did not write the queued events".into());
    }
    let other = writer.clone();
    for n in 0..25 {
        let _receipt = other
            .append(AuditEvent::new(format!("late {n}")))
            .await
            .map_err(|e| e.to_string())?;
    }
    writer
        .shutdown()
        .await
        .map_err(|e| format!("shutdown failed: {e}"))?;
    if count_all(&*store).await? != 35 {
        return Err("shutdown did not write everything queued".into());
    }
    match other.append(AuditEvent::new("after shutdown")).await {
        Err(Error::Closed) => Ok(()),
        other => Err(format!(
            "append after shutdown gave {other:?}, expected Closed"
        )),
    }
}
