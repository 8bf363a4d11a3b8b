//! Statistics in one pass over the selected rows: counts per dictionary code for the ranked
//! columns, and per bucket for the timeline.

use audit_core::query::TimeRange;
use audit_core::stats::{Ranking, Statistics, StatsRequest, ValueCount};
use audit_core::{AuditId, Result};
use rustc_hash::FxHashMap;

use crate::filter::Filter;
use crate::order::date_walk;
use crate::table::Table;

/// Entries and successes.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    successes: u64,
}

impl Tally {
    fn add(&mut self, success: bool) {
        self.count += 1;
        self.successes += u64::from(success);
    }
}

pub(crate) fn statistics(
    table: &Table,
    request: &StatsRequest,
    filter: &Filter,
    window: TimeRange,
) -> Result<Statistics> {
    let ranked: Vec<usize> = request
        .ranked()
        .iter()
        .filter_map(|column| column.text_index())
        .collect();
    let mut per_code: Vec<Vec<Tally>> = ranked
        .iter()
        .map(|i| vec![Tally::default(); table.dictionary(*i).len()])
        .collect();
    let bucket = request.bucket_width();
    let mut timeline: FxHashMap<i64, Tally> = FxHashMap::default();
    // Rows come mostly in date order, so consecutive rows usually share a bucket.
    let mut current: Option<(i64, Tally)> = None;
    let mut visit = |row: usize| {
        let success = table.success[row];
        let start = bucket.floor_micros(table.dates[row]);
        match &mut current {
            Some((at, tally)) if *at == start => tally.add(success),
            _ => {
                if let Some((at, tally)) = current.take() {
                    let slot = timeline.entry(at).or_default();
                    slot.count += tally.count;
                    slot.successes += tally.successes;
                }
                let mut tally = Tally::default();
                tally.add(success);
                current = Some((start, tally));
            }
        }
        for (counts, text_index) in per_code.iter_mut().zip(&ranked) {
            let code = table.codes[*text_index][row] as usize;
            if let Some(tally) = counts.get_mut(code) {
                tally.add(success);
            }
        }
    };
    if window.is_unbounded() {
        (0..table.len())
            .filter(|row| filter.matches(table, *row))
            .for_each(&mut visit);
    } else {
        date_walk(&table.by_date, window, None, audit_core::Direction::Asc)
            .filter_map(|id: AuditId| table.row_of(id))
            .filter(|row| filter.matches(table, *row))
            .for_each(&mut visit);
    }
    if let Some((at, tally)) = current {
        let slot = timeline.entry(at).or_default();
        slot.count += tally.count;
        slot.successes += tally.successes;
    }
    let rankings = request
        .ranked()
        .iter()
        .zip(ranked.iter().zip(per_code))
        .map(|(column, (text_index, counts))| {
            let dictionary = table.dictionary(*text_index);
            let values = counts
                .into_iter()
                .enumerate()
                // Code 0 is the empty value, which is never ranked.
                .skip(1)
                .filter(|(_, tally)| tally.count > 0)
                .map(|(code, tally)| {
                    let code = u32::try_from(code).unwrap_or(u32::MAX);
                    ValueCount::new(dictionary.value(code), tally.count, tally.successes)
                })
                .collect();
            Ranking::from_counts(*column, values, request.top_count())
        })
        .collect();
    Statistics::assemble(
        request,
        window,
        timeline
            .into_iter()
            .map(|(start, tally)| (start, tally.count, tally.successes)),
        rankings,
    )
}
