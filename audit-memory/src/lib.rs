#![doc = include_str!("../README.md")]

mod date_index;
mod dictionary;
mod filter;
mod order;
mod reclaim;
mod stats;
mod table;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use audit_core::integrity::{Checkpoint, Keyring, Link, Seal};
use audit_core::query::Page;
use audit_core::retention::{ChunkRead, PurgeReport, PurgeRequest, ScannedRow, plan_chunk};
use audit_core::stats::{Statistics, StatsRequest};
use audit_core::store::{lookahead, page_from_lookahead};
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditPage, AuditQuery, AuditStore, Column, Counts, Direction,
    Result,
};
use chrono::{DateTime, Utc};

use crate::filter::Filter;
use crate::order::{beyond_cursor, compare_rows, date_walk};
use crate::reclaim::Reclaimer;
use crate::table::Table;

/// An indexed, in-memory audit store.
#[derive(Debug)]
pub struct MemoryStore {
    table: RwLock<Table>,
    /// Seals every appended entry when set.
    keyring: Option<Keyring>,
    /// Frees appended batches off the caller's thread.
    reclaimer: Reclaimer,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore {
            table: RwLock::new(Table::new()),
            keyring: None,
            reclaimer: Reclaimer::start(),
        }
    }

    /// An empty store that seals every entry into an integrity chain with the keyring's
    /// current key (see [`audit_core::integrity`]).
    pub fn with_integrity(keyring: Keyring) -> Self {
        MemoryStore {
            table: RwLock::new(Table::new()),
            keyring: Some(keyring),
            reclaimer: Reclaimer::start(),
        }
    }

    /// How many entries the store holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // Appends change the table only after everything that can fail, so a lock poisoned by a
    // panic elsewhere still guards a consistent table.
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The rows of the query's page, in order.
fn page_rows(table: &Table, query: &AuditQuery, filter: &Filter) -> Vec<usize> {
    let count = query.page_spec().count() as usize;
    let (skip, cursor) = match query.page_spec() {
        Page::Offset { start, .. } => (usize::try_from(*start).unwrap_or(usize::MAX), None),
        Page::After { cursor, .. } => (0, Some(cursor)),
    };
    if count == 0 {
        return Vec::new();
    }
    let sort = query.sort_order();
    let direction = sort.direction();
    match sort.column() {
        Column::Date => date_walk(&table.by_date, filter.date_range(), cursor, direction)
            .filter_map(|id| table.row_of(id))
            .filter(|row| filter.matches(table, *row))
            .skip(skip)
            .take(count)
            .collect(),
        Column::Id => {
            let rows: Box<dyn Iterator<Item = usize>> = match direction {
                Direction::Asc => Box::new(0..table.len()),
                Direction::Desc => Box::new((0..table.len()).rev()),
            };
            rows.filter(|row| cursor.is_none_or(|c| beyond_cursor(table, c, *row)))
                .filter(|row| filter.matches(table, *row))
                .skip(skip)
                .take(count)
                .collect()
        }
        column => {
            let mut rows: Vec<usize> = (0..table.len())
                .filter(|row| cursor.is_none_or(|c| beyond_cursor(table, c, *row)))
                .filter(|row| filter.matches(table, *row))
                .collect();
            let end = skip.saturating_add(count).min(rows.len());
            if end == 0 {
                return Vec::new();
            }
            let by_order = |a: &usize, b: &usize| compare_rows(table, *a, *b, column, direction);
            if end < rows.len() {
                rows.select_nth_unstable_by(end - 1, by_order);
                rows.truncate(end);
            }
            rows.sort_unstable_by(by_order);
            rows.split_off(skip.min(rows.len()))
        }
    }
}

fn counts(table: &Table, query: &AuditQuery, filter: &Filter, now: DateTime<Utc>) -> Counts {
    let matching = |filter: &Filter| {
        (0..table.len())
            .filter(|row| filter.matches(table, *row))
            .count() as u64
    };
    // A scoped query counts the entries in scope, not the whole table.
    let total = if query.is_scoped() {
        matching(&Filter::compile(&query.scope_query(), now, table))
    } else {
        table.len() as u64
    };
    let filtered = if filter.is_empty() {
        total
    } else {
        matching(filter)
    };
    Counts {
        filter_count: filtered,
        total_count: total,
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        let ids = self.write().append(&batch, self.keyring.as_ref());
        // The batch is freed after the lock is released (so readers do not wait for it), on
        // the store's freeing thread when it keeps up.
        self.reclaimer.free(batch);
        Ok(ids)
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let table = self.read();
        let filter = Filter::compile(query, Utc::now(), &table);
        Ok(page_rows(&table, query, &filter)
            .into_iter()
            .map(|row| table.entry(row))
            .collect())
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let now = Utc::now();
        let table = self.read();
        let filter = Filter::compile(query, now, &table);
        Ok(counts(&table, query, &filter, now))
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let now = Utc::now();
        let table = self.read();
        let filter = Filter::compile(query, now, &table);
        let rows = page_rows(&table, &lookahead(query), &filter);
        let counts = counts(&table, query, &filter, now);
        let entries = rows.into_iter().map(|row| table.entry(row)).collect();
        drop(table);
        Ok(page_from_lookahead(entries, query, counts))
    }

    async fn chain(&self, after: AuditId, limit: u32) -> Result<Vec<Link>> {
        let table = self.read();
        let start = table.ids.partition_point(|id| *id <= after);
        let end = start.saturating_add(limit as usize).min(table.len());
        Ok((start..end)
            .map(|row| Link {
                entry: table.entry(row),
                seal: table.seal_of(row),
            })
            .collect())
    }

    async fn seals(&self, ids: &[AuditId]) -> Result<Vec<(AuditId, Option<Seal>)>> {
        let table = self.read();
        Ok(ids
            .iter()
            .filter_map(|id| Some((*id, table.seal_of(table.row_of(*id)?))))
            .collect())
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        Ok(self.read().checkpoints.clone())
    }

    /// Purges under one write lock: the table is compacted once, whatever the chunk size.
    async fn purge(&self, request: &PurgeRequest) -> Result<PurgeReport> {
        let mut table = self.write();
        let filter = Filter::compile(&request.selection, Utc::now(), &table);
        // The newest entry is never purged, whatever bound the request names.
        let end = table
            .ids
            .partition_point(|id| *id < request.below)
            .min(table.len().saturating_sub(1));
        let doomed = |row: usize| filter.matches(&table, row);
        let Some(start) = (0..end).find(|row| doomed(*row)) else {
            return Ok(PurgeReport {
                dry_run: request.dry_run,
                ..PurgeReport::default()
            });
        };
        let rows: Vec<ScannedRow> = (start..end)
            .map(|row| ScannedRow {
                id: table.ids[row],
                mac: table.seals.get(row).copied().flatten().map(|(_, mac)| mac),
                doomed: doomed(row),
            })
            .collect();
        if request.dry_run {
            return Ok(PurgeReport {
                purged: rows.iter().filter(|r| r.doomed).count() as u64,
                chunks: 0,
                dry_run: true,
            });
        }
        let before = start.checked_sub(1).map(|row| {
            let mac = table.seals.get(row).copied().flatten().map(|(_, mac)| mac);
            (table.ids[row], mac)
        });
        let sealing = self.keyring.as_ref().map(|k| (k, Utc::now()));
        let first_break = self.keyring.as_ref().and_then(|keyring| {
            let last = rows
                .iter()
                .rev()
                .find(|r| r.doomed)
                .map_or(start, |r| table.row_of(r.id).unwrap_or(start));
            table.first_break(keyring, before, start..last + 1)
        });
        let plan = plan_chunk(
            ChunkRead {
                before,
                rows: &rows,
                checkpoints: &table.checkpoints,
                first_break,
            },
            sealing,
        )?;
        table.remove(&plan.delete);
        table
            .checkpoints
            .retain(|c| !plan.replaced.contains(&c.first));
        table.checkpoints.extend(plan.added);
        table.checkpoints.sort_by_key(|c| c.first);
        Ok(PurgeReport {
            purged: plan.deleted,
            chunks: 1,
            dry_run: false,
        })
    }

    async fn statistics(&self, request: &StatsRequest) -> Result<Statistics> {
        let now = Utc::now();
        let table = self.read();
        let filter = Filter::compile(request.query(), now, &table);
        let window = request.query().effective_range(now);
        stats::statistics(&table, request, &filter, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_core::integrity::{BreakKind, IntegrityKey, verify};

    fn keyring() -> Keyring {
        match IntegrityKey::new("k1", vec![3; 32]) {
            Ok(key) => Keyring::new(key),
            Err(error) => panic!("{error}"),
        }
    }

    async fn sealed_store() -> MemoryStore {
        let store = MemoryStore::with_integrity(keyring());
        let events = (0..100)
            .map(|i| AuditEvent::new("POST /auth").user(format!("u{}", i % 7)))
            .collect();
        if let Err(error) = store.append(events).await {
            panic!("{error}");
        }
        store
    }

    async fn first_break(store: &MemoryStore) -> Option<(AuditId, BreakKind)> {
        match verify(store, &keyring()).await {
            Ok(v) => v.first_break.map(|b| (b.id, b.kind)),
            Err(error) => panic!("{error}"),
        }
    }

    #[tokio::test]
    async fn tampering_is_found_at_the_entry_it_touched() {
        let store = sealed_store().await;
        assert_eq!(first_break(&store).await, None);

        let user = Column::User.text_index().unwrap_or(0);
        let original = store.read().codes[user][41];
        store.write().codes[user][41] = original + 1;
        assert_eq!(first_break(&store).await, Some((42, BreakKind::Altered)));
        store.write().codes[user][41] = original;

        let (a, b) = {
            let table = store.read();
            (table.dates[20], table.dates[30])
        };
        store.write().dates[20] = b;
        store.write().dates[30] = a;
        assert_eq!(first_break(&store).await, Some((21, BreakKind::Altered)));
        store.write().dates[20] = a;
        store.write().dates[30] = b;

        store.write().seals[60] = Some((0, [9; 32]));
        assert_eq!(first_break(&store).await, Some((61, BreakKind::Altered)));
    }

    #[tokio::test]
    async fn a_purge_verifies_but_a_deletion_after_it_does_not() {
        use audit_core::retention::{Retention, purge};
        let store = MemoryStore::with_integrity(keyring());
        let now = Utc::now();
        let events = (0..100)
            .map(|i| {
                AuditEvent::new("POST /auth")
                    .user(format!("u{i}"))
                    .date(now - chrono::TimeDelta::days(100 - i))
            })
            .collect();
        if let Err(error) = store.append(events).await {
            panic!("{error}");
        }
        let policy = Retention::max_age(chrono::TimeDelta::days(50) + chrono::TimeDelta::hours(1))
            .unwrap_or_else(|e| panic!("{e}"));
        let report = match purge(&store, &policy, now, false).await {
            Ok(report) => report,
            Err(error) => panic!("{error}"),
        };
        assert_eq!(report.purged, 50);
        assert_eq!(first_break(&store).await, None);

        // A checkpoint changed by hand no longer counts: the gap it covered is unexplained.
        let original = store.read().checkpoints.clone();
        store.write().checkpoints[0].last_mac = [0; 32];
        assert_eq!(
            first_break(&store).await,
            Some((51, BreakKind::Missing { previous: 0 }))
        );
        store.write().checkpoints = original;

        // An entry deleted without a purge breaks the chain at the entry after it.
        store.write().remove(&[(70, 70)]);
        assert_eq!(
            first_break(&store).await,
            Some((71, BreakKind::Missing { previous: 69 }))
        );
    }
}
