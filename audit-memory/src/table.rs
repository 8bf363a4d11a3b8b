//! Column-oriented storage: one vector per column, text as dictionary codes, and a date index.

use std::collections::BTreeMap;

use audit_core::{AuditEntry, AuditEvent, AuditId, Column};
use chrono::DateTime;
use rustc_hash::FxHashMap;

use audit_core::integrity::{Chain, GENESIS, Keyring, Mac, Seal};

use crate::date_index::DateIndex;
use crate::dictionary::Dictionary;

const TEXT_COLUMNS: usize = Column::TEXT.len();

/// Every entry, column by column; row `i` holds the entry with id `i + 1`. Scans touch only the
/// columns a query tests.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) dates: Vec<i64>,
    pub(crate) success: Vec<bool>,
    pub(crate) starts: Vec<Option<i64>>,
    pub(crate) durations: Vec<Option<i64>>,
    /// Per text column (in [`Column::TEXT`] order), each row's dictionary code.
    pub(crate) codes: Vec<Vec<u32>>,
    /// The host's fields, for the few rows that have any.
    pub(crate) extras: FxHashMap<usize, BTreeMap<String, String>>,
    dictionaries: Vec<Dictionary>,
    /// `(date, id)` of every row, for date-ordered walks.
    pub(crate) by_date: DateIndex,
    /// Per row, the integrity seal: an index into `key_ids` and the MAC (empty when the store
    /// does not seal).
    pub(crate) seals: Vec<Option<(u16, Mac)>>,
    key_ids: Vec<String>,
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            codes: (0..TEXT_COLUMNS).map(|_| Vec::new()).collect(),
            dictionaries: (0..TEXT_COLUMNS).map(|_| Dictionary::default()).collect(),
            ..Table::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.dates.len()
    }

    pub(crate) fn dictionary(&self, text_index: usize) -> &Dictionary {
        &self.dictionaries[text_index]
    }

    /// The text of column `text_index` in `row`.
    pub(crate) fn text(&self, text_index: usize, row: usize) -> &str {
        self.dictionaries[text_index].value(self.codes[text_index][row])
    }

    /// Appends every event; nothing here can fail, so a batch is all or nothing.
    pub(crate) fn append(
        &mut self,
        batch: &[AuditEvent],
        keyring: Option<&Keyring>,
    ) -> Vec<AuditId> {
        let first = self.len() as AuditId + 1;
        let additional = batch.len();
        self.dates.reserve(additional);
        self.success.reserve(additional);
        self.starts.reserve(additional);
        self.durations.reserve(additional);
        self.encode_texts(batch);
        let mut ids = Vec::with_capacity(additional);
        let mut keys = Vec::with_capacity(additional);
        for (offset, event) in batch.iter().enumerate() {
            let id = first + offset as AuditId;
            let row = self.len();
            let date = event.timestamp().timestamp_micros();
            self.dates.push(date);
            self.success.push(event.is_success());
            self.starts
                .push(event.started_at().map(|d| d.timestamp_micros()));
            self.durations.push(event.duration_in_micros());
            if !event.extra_fields().is_empty() {
                self.extras.insert(row, event.extra_fields().clone());
            }
            keys.push((date, id));
            ids.push(id);
        }
        self.by_date.insert_batch(keys);
        if let Some(keyring) = keyring {
            self.seal(batch, first, keyring);
        }
        ids
    }

    /// Interns every text column of `batch` into the dictionaries, column by column so each
    /// dictionary stays in cache while it is used.
    fn encode_texts(&mut self, batch: &[AuditEvent]) {
        for ((dictionary, codes), column) in self
            .dictionaries
            .iter_mut()
            .zip(&mut self.codes)
            .zip(Column::TEXT)
        {
            codes.extend(
                batch
                    .iter()
                    .map(|event| dictionary.intern(event.text(*column))),
            );
        }
    }

    /// Seals the rows of `batch`, which start at id `first`, continuing the chain.
    fn seal(&mut self, batch: &[AuditEvent], first: AuditId, keyring: &Keyring) {
        let last = self.seals.last().and_then(|s| s.map(|(_, mac)| mac));
        let mut chain = Chain::after(keyring.clone(), last.unwrap_or(GENESIS));
        let key_id = keyring.current().id();
        let key = match self.key_ids.iter().position(|k| k == key_id) {
            Some(index) => index,
            None => {
                self.key_ids.push(key_id.to_owned());
                self.key_ids.len() - 1
            }
        };
        let key = u16::try_from(key).unwrap_or(u16::MAX);
        self.seals
            .resize(usize::try_from(first - 1).unwrap_or(0), None);
        for (offset, event) in batch.iter().enumerate() {
            let seal = chain.seal(first + offset as AuditId, event);
            self.seals.push(Some((key, seal.mac)));
        }
    }

    /// The seal of `row`, if it has one.
    pub(crate) fn seal_of(&self, row: usize) -> Option<Seal> {
        let (key, mac) = self.seals.get(row).copied().flatten()?;
        Some(Seal {
            key_id: self.key_ids.get(usize::from(key))?.clone(),
            mac,
        })
    }

    /// Rebuilds the entry of `row`.
    pub(crate) fn entry(&self, row: usize) -> AuditEntry {
        let date = DateTime::from_timestamp_micros(self.dates[row]).unwrap_or_default();
        let event = AuditEvent::restore(
            date,
            self.success[row],
            (0..TEXT_COLUMNS).map(|i| self.text(i, row)),
            self.starts[row].and_then(DateTime::from_timestamp_micros),
            self.durations[row],
            self.extras.get(&row).cloned().unwrap_or_default(),
        );
        AuditEntry::new(row as AuditId + 1, event)
    }
}
