#![doc = include_str!("../README.md")]

mod matching;
mod order;

use std::collections::BTreeSet;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use audit_core::query::Page;
use audit_core::{
    AuditEntry, AuditEvent, AuditId, AuditPage, AuditQuery, AuditStore, Column, Counts, Cursor,
    Result,
};
use chrono::Utc;

use crate::matching::{Filter, Row};
use crate::order::{DateWalk, compare_rows, cursor_allows};

/// An indexed, in-memory audit store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Row `i` holds the entry with id `i + 1`.
    rows: Vec<Row>,
    /// `(date in microseconds, id)` of every row, for date-ordered walks.
    by_date: BTreeSet<(i64, AuditId)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many entries the store holds.
    pub fn len(&self) -> usize {
        self.read().rows.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A panic while holding the lock cannot leave a half-appended batch (rows are pushed after
    // all work that can fail), so a poisoned lock is still consistent.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    fn fetch(&self, query: &AuditQuery, filter: &Filter<'_>) -> Vec<AuditEntry> {
        let count = query.page_spec().count() as usize;
        let (skip, cursor) = match query.page_spec() {
            Page::Offset { start, .. } => (usize::try_from(*start).unwrap_or(usize::MAX), None),
            Page::After { cursor, .. } => (0, Some(cursor)),
        };
        if count == 0 {
            return Vec::new();
        }
        let sort = query.sort_order();
        let picked: Vec<&Row> = match sort.column() {
            Column::Date => {
                let walk =
                    DateWalk::new(&self.by_date, filter.date_range(), cursor, sort.direction());
                walk.ids()
                    .map(|id| &self.rows[id_index(id)])
                    .filter(|row| filter.matches(row))
                    .skip(skip)
                    .take(count)
                    .collect()
            }
            Column::Id => {
                let in_order: Box<dyn Iterator<Item = &Row>> = match sort.direction() {
                    audit_core::Direction::Asc => Box::new(self.rows.iter()),
                    audit_core::Direction::Desc => Box::new(self.rows.iter().rev()),
                };
                in_order
                    .filter(|row| cursor.is_none_or(|c| cursor_allows(c, row)))
                    .filter(|row| filter.matches(row))
                    .skip(skip)
                    .take(count)
                    .collect()
            }
            column => {
                let mut matching: Vec<&Row> = self
                    .rows
                    .iter()
                    .filter(|row| cursor.is_none_or(|c| cursor_allows(c, row)))
                    .filter(|row| filter.matches(row))
                    .collect();
                let direction = sort.direction();
                let end = skip.saturating_add(count).min(matching.len());
                let by_order = |a: &&Row, b: &&Row| compare_rows(a, b, column, direction);
                if end == 0 {
                    return Vec::new();
                }
                if end < matching.len() {
                    matching.select_nth_unstable_by(end - 1, by_order);
                    matching.truncate(end);
                }
                matching.sort_unstable_by(by_order);
                matching.into_iter().skip(skip).collect()
            }
        };
        picked.into_iter().map(|row| row.entry.clone()).collect()
    }

    fn count(&self, filter: &Filter<'_>) -> Counts {
        let total = self.rows.len() as u64;
        let filtered = if filter.is_empty() {
            total
        } else {
            self.rows.iter().filter(|row| filter.matches(row)).count() as u64
        };
        Counts {
            filter_count: filtered,
            total_count: total,
        }
    }
}

fn id_index(id: AuditId) -> usize {
    usize::try_from(id - 1).unwrap_or(0)
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        // Fold text before taking the lock, so readers wait only for the pushes.
        let prepared: Vec<Row> = batch.into_iter().map(|event| Row::new(0, event)).collect();
        let mut inner = self.write();
        let first = inner.rows.len() as AuditId + 1;
        let mut ids = Vec::with_capacity(prepared.len());
        inner.rows.reserve(prepared.len());
        for (offset, mut row) in prepared.into_iter().enumerate() {
            let id = first + offset as AuditId;
            row.set_id(id);
            inner
                .by_date
                .insert((row.entry.date().timestamp_micros(), id));
            inner.rows.push(row);
            ids.push(id);
        }
        Ok(ids)
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let filter = Filter::new(query, Utc::now());
        Ok(self.read().fetch(query, &filter))
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let filter = Filter::new(query, Utc::now());
        Ok(self.read().count(&filter))
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage> {
        let filter = Filter::new(query, Utc::now());
        let wanted = query.page_spec().count() as usize;
        let ahead = query.with_count(query.page_spec().count().saturating_add(1));
        let inner = self.read();
        let mut entries = inner.fetch(&ahead, &filter);
        let counts = inner.count(&filter);
        drop(inner);
        let next_cursor = if entries.len() > wanted {
            entries.truncate(wanted);
            entries
                .last()
                .map(|e| Cursor::after_entry(e, query.sort_order()))
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            filter_count: counts.filter_count,
            total_count: counts.total_count,
            next_cursor,
        })
    }
}
