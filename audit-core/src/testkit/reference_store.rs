//! The reference model as an [`AuditStore`], for expected CSV and export output and for tests of
//! the kit itself.

use std::sync::RwLock;

use async_trait::async_trait;
use chrono::Utc;

use crate::error::Result;
use crate::event::{AuditEntry, AuditEvent, AuditId};
use crate::query::{AuditQuery, Counts};
use crate::stats::{Statistics, StatsRequest};
use crate::store::AuditStore;
use crate::testkit::reference::Reference;

/// A store that answers every query with the naive [`Reference`] model. Slow by design.
#[derive(Debug, Default)]
pub struct ReferenceStore {
    model: RwLock<Reference>,
}

impl ReferenceStore {
    /// A store holding what `model` holds.
    pub fn new(model: Reference) -> Self {
        ReferenceStore {
            model: RwLock::new(model),
        }
    }

    fn model(&self) -> std::sync::RwLockReadGuard<'_, Reference> {
        self.model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl AuditStore for ReferenceStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> Result<Vec<AuditId>> {
        let mut model = self
            .model
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries = model.entries().to_vec();
        let first = entries.last().map_or(1, |e| e.id() + 1);
        let ids: Vec<AuditId> = (first..).take(batch.len()).collect();
        entries.extend(
            ids.iter()
                .zip(batch)
                .map(|(id, event)| AuditEntry::new(*id, event)),
        );
        *model = Reference::new(entries);
        Ok(ids)
    }

    async fn fetch(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let model = self.model();
        let expected = model.answer(query, Utc::now());
        Ok(expected
            .ids
            .iter()
            .filter_map(|id| model.entries().iter().find(|e| e.id() == *id).cloned())
            .collect())
    }

    async fn count(&self, query: &AuditQuery) -> Result<Counts> {
        let expected = self.model().answer(&query.with_count(0), Utc::now());
        Ok(Counts {
            filter_count: expected.filter_count,
            total_count: expected.total_count,
        })
    }

    async fn statistics(&self, request: &StatsRequest) -> Result<Statistics> {
        Ok(self.model().statistics(request, Utc::now()))
    }
}
