//! Randomized cases: seeded queries (filters × free text × time × sort × paging) whose answers
//! must equal the reference model's.

use chrono::{DateTime, TimeDelta, Utc};

use crate::column::{Column, ColumnKind};
use crate::error::Result;
use crate::event::AuditEntry;
use crate::query::{AuditQuery, Condition, Cursor, Direction, MAX_PAGE_SIZE};
use crate::testkit::dataset::base_date;
use crate::testkit::reference::Reference;
use crate::testkit::rng::Rng;

/// Changes the case of some characters, so folding is exercised.
fn scramble_case(rng: &mut Rng, text: &str) -> String {
    text.chars()
        .map(|c| match rng.below(3) {
            0 => c.to_uppercase().collect::<String>(),
            1 => c.to_lowercase().collect::<String>(),
            _ => c.to_string(),
        })
        .collect()
}

/// A piece of `text` on character boundaries.
fn piece(rng: &mut Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let start = rng.index(chars.len());
    let len = 1 + rng.index((chars.len() - start).min(8));
    chars[start..start + len].iter().collect()
}

fn text_filter_value(rng: &mut Rng, value: &str) -> String {
    let mut out = match rng.below(6) {
        0 => value.to_owned(),
        1 => format!("{}*", piece(rng, value)),
        2 => format!("*{}", piece(rng, value)),
        3 => {
            let part = piece(rng, value);
            format!("*{}*", scramble_case(rng, &part))
        }
        4 => format!("{}*{}", piece(rng, value), piece(rng, value)),
        _ => scramble_case(rng, value),
    };
    if rng.chance(20) {
        out.insert(0, '!');
    }
    out
}

fn random_filter(rng: &mut Rng, sample: &AuditEntry) -> (String, String) {
    let filterable: Vec<Column> = Column::ALL
        .iter()
        .copied()
        .filter(|c| c.is_filterable())
        .collect();
    if rng.chance(8) {
        let key = if rng.chance(80) { "ticket" } else { "source" };
        let value = sample
            .extra()
            .get(key)
            .cloned()
            .unwrap_or_else(|| "T-1".into());
        return (format!("extra.{key}"), text_filter_value(rng, &value));
    }
    let column = *rng.pick(&filterable);
    let value = match column.kind() {
        ColumnKind::Text => text_filter_value(rng, sample.text(column)),
        ColumnKind::Bool => rng.pick(&["1", "0", "true", "false", "!1"]).to_string(),
        ColumnKind::Integer => format!("{}{}", if rng.chance(20) { "!" } else { "" }, sample.id()),
        _ => {
            let instant = if column == Column::StartDate {
                sample.start_date()
            } else {
                Some(sample.date())
            };
            let text = instant
                .unwrap_or_else(base_date)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            let cut = *rng.pick(&[4usize, 7, 10, 13, 16, 19]);
            format!("{}{}*", if rng.chance(15) { "!" } else { "" }, &text[..cut])
        }
    };
    (column.name().to_owned(), value)
}

fn random_instant(rng: &mut Rng) -> DateTime<Utc> {
    base_date() + TimeDelta::seconds(i64::try_from(rng.below(62 * 86_400)).unwrap_or(0))
        - TimeDelta::days(1)
}

/// Builds one random query; `Err` only if the kit itself built an invalid query.
pub(crate) fn random_query(
    rng: &mut Rng,
    reference: &Reference,
    now: DateTime<Utc>,
) -> Result<AuditQuery> {
    let entries = reference.entries();
    let mut query = AuditQuery::new();
    for _ in 0..rng.below(4) {
        let sample = rng.pick(entries);
        let (field, value) = random_filter(rng, sample);
        query = query.filter(&field, &value)?;
    }
    if rng.chance(10) {
        // Alternatives, as a scope adds them.
        let mut alternatives = Vec::new();
        for _ in 0..=rng.below(3) {
            let sample = rng.pick(entries);
            let (field, value) = random_filter(rng, sample);
            alternatives.extend(Condition::parse(&field, &value)?);
        }
        query = query.condition(Condition::any(alternatives));
    }
    if rng.chance(20) {
        let sample = rng.pick(entries);
        let column = *rng.pick(Column::TEXT);
        let part = piece(rng, sample.text(column));
        let needle = scramble_case(rng, &part);
        query = query.find(&needle)?;
    }
    if rng.chance(8) {
        // A scope: realms plus one administrator's entries; totals count the scope.
        let realms: Vec<String> = (0..=rng.below(2))
            .map(|_| rng.pick(entries).text(Column::Realm).to_owned())
            .collect();
        let administrator = rng.pick(entries).text(Column::Administrator).to_owned();
        query = crate::scope::Scope::realms(realms)
            .with_own_entries(administrator)
            .restrict(query);
    }
    if rng.chance(15) {
        query = query.from(random_instant(rng));
    }
    if rng.chance(15) {
        query = query.to(random_instant(rng));
    }
    let sortable: Vec<Column> = Column::ALL
        .iter()
        .copied()
        .filter(|c| c.is_sortable())
        .collect();
    let direction = if rng.chance(50) {
        Direction::Asc
    } else {
        Direction::Desc
    };
    query = query.sort(*rng.pick(&sortable), direction)?;
    let count = u32::try_from(rng.below(60))
        .unwrap_or(10)
        .min(MAX_PAGE_SIZE);
    if rng.chance(40) {
        let matching = reference.matching(&query, now);
        if let Some(anchor) = (!matching.is_empty()).then(|| matching[rng.index(matching.len())]) {
            let cursor = Cursor::after_entry(anchor, query.sort_order());
            return query.after(cursor, count);
        }
    }
    let start = if rng.chance(70) {
        rng.below(40)
    } else {
        rng.below(2_600)
    };
    query.offset(start, count)
}
