//! Column-oriented storage: one vector per column, text as dictionary codes, and a date index.

use std::collections::BTreeMap;

use audit_core::{AuditEntry, AuditEvent, AuditId, Column};
use chrono::DateTime;
use rustc_hash::FxHashMap;

use audit_core::integrity::{
    Break, Chain, ChainChecker, Checkpoint, Checkpoints, GENESIS, Keyring, Mac, Seal, StoredEntry,
};

use crate::date_index::DateIndex;
use crate::dictionary::Dictionary;

const TEXT_COLUMNS: usize = Column::TEXT.len();

/// Every entry, column by column, in id order. Scans touch only the columns a query tests.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Each row's id, ascending; without purges row `i` holds id `i + 1`.
    pub(crate) ids: Vec<AuditId>,
    /// The id the next entry gets.
    next_id: AuditId,
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
    /// What purges left, by first id.
    pub(crate) checkpoints: Vec<Checkpoint>,
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            codes: (0..TEXT_COLUMNS).map(|_| Vec::new()).collect(),
            dictionaries: (0..TEXT_COLUMNS).map(|_| Dictionary::default()).collect(),
            next_id: 1,
            ..Table::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.dates.len()
    }

    /// The row holding `id`.
    pub(crate) fn row_of(&self, id: AuditId) -> Option<usize> {
        let first = *self.ids.first()?;
        let dense = self.ids.len() as AuditId == self.next_id - first;
        if dense {
            let row = usize::try_from(id.checked_sub(first)?).ok()?;
            (row < self.ids.len()).then_some(row)
        } else {
            self.ids.binary_search(&id).ok()
        }
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
        let first = self.next_id;
        let first_row = self.len();
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
            self.ids.push(id);
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
        self.next_id = first + additional as AuditId;
        if let Some(keyring) = keyring {
            self.seal(batch, first, first_row, keyring);
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

    /// Seals the rows of `batch`, which start at id `first` in row `first_row`, continuing the
    /// chain.
    fn seal(&mut self, batch: &[AuditEvent], first: AuditId, first_row: usize, keyring: &Keyring) {
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
        self.seals.resize(first_row, None);
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
        AuditEntry::new(self.ids[row], event)
    }

    /// The first broken link among `rows`, checked from the entry `before` them (a purge signs
    /// only what it has checked).
    pub(crate) fn first_break(
        &self,
        keyring: &Keyring,
        before: Option<(AuditId, Option<Mac>)>,
        rows: std::ops::Range<usize>,
    ) -> Option<Break> {
        let checkpoints = Checkpoints::authentic(keyring, self.checkpoints.clone());
        let mut checker = match before {
            Some((id, mac)) => {
                ChainChecker::resume(keyring, &checkpoints, id, mac.unwrap_or(GENESIS))
            }
            None => ChainChecker::new(keyring, &checkpoints, 0),
        };
        for row in rows {
            let texts: Vec<&str> = (0..TEXT_COLUMNS).map(|i| self.text(i, row)).collect();
            let entry = StoredEntry {
                id: self.ids[row],
                date: self.dates[row],
                success: self.success[row],
                texts: &texts,
                start_date: self.starts[row],
                duration: self.durations[row],
                extra: self.extras.get(&row),
            };
            let seal = self.seal_of(row);
            let seal = seal.as_ref().map(|s| (s.key_id.as_str(), &s.mac[..]));
            if !checker.feed(&entry, seal) {
                break;
            }
        }
        checker.finish(None).first_break
    }

    /// Removes the rows whose ids lie in the (inclusive, ascending, disjoint) ranges.
    pub(crate) fn remove(&mut self, ranges: &[(AuditId, AuditId)]) {
        let gone = |id: &AuditId| {
            let at = ranges.partition_point(|(_, last)| last < id);
            ranges.get(at).is_some_and(|(first, _)| first <= id)
        };
        let keep: Vec<bool> = self.ids.iter().map(|id| !gone(id)).collect();
        let removed: Vec<AuditId> = self.ids.iter().copied().filter(|id| gone(id)).collect();
        fn compact<T>(values: &mut Vec<T>, keep: &[bool]) {
            let mut flags = keep.iter();
            values.retain(|_| flags.next().copied().unwrap_or(true));
        }
        compact(&mut self.ids, &keep);
        compact(&mut self.dates, &keep);
        compact(&mut self.success, &keep);
        compact(&mut self.starts, &keep);
        compact(&mut self.durations, &keep);
        for codes in &mut self.codes {
            compact(codes, &keep);
        }
        if !self.seals.is_empty() {
            self.seals.resize(keep.len(), None);
            compact(&mut self.seals, &keep);
        }
        let mut new_row = Vec::with_capacity(keep.len());
        let mut next = 0usize;
        for kept in &keep {
            new_row.push(next);
            next += usize::from(*kept);
        }
        self.extras = std::mem::take(&mut self.extras)
            .into_iter()
            .filter(|(row, _)| keep.get(*row).copied().unwrap_or(false))
            .map(|(row, extra)| (new_row[row], extra))
            .collect();
        self.by_date.remove_ids(&removed);
    }
}
