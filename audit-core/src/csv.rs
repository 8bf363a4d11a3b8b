//! CSV rendering (DESIGN §5): RFC 4180, UTF-8, a header row, UTC ISO-8601 dates, spreadsheet
//! formula cells neutralised, streamed chunk by chunk.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;

use crate::column::{Column, ColumnKind};
use crate::error::{Error, Result};
use crate::event::AuditEntry;
use crate::query::AuditQuery;
use crate::store::{AuditStore, BoxStream, EXPORT_CHUNK_SIZE, export};

/// How one CSV cell is taken from an entry.
#[derive(Clone)]
pub enum CsvValue {
    /// A column in its canonical rendering (booleans `1`/`0`, durations in seconds).
    Column(Column),
    /// One of the host's `extra` fields.
    Extra(String),
    /// Any rendering of the caller's; `text` says whether the formula guard applies.
    Custom {
        /// Renders the cell.
        render: Arc<dyn Fn(&AuditEntry) -> String + Send + Sync>,
        /// Whether the cell is text (and so guarded against formulas).
        text: bool,
    },
}

impl std::fmt::Debug for CsvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CsvValue::Column(c) => write!(f, "Column({c})"),
            CsvValue::Extra(k) => write!(f, "Extra({k})"),
            CsvValue::Custom { text, .. } => write!(f, "Custom(text: {text})"),
        }
    }
}

/// One column of a CSV file: its header and how its cells are rendered.
#[derive(Debug, Clone)]
pub struct CsvColumn {
    /// The header cell.
    pub header: Cow<'static, str>,
    /// How cells are rendered.
    pub value: CsvValue,
}

impl CsvColumn {
    /// A registry column under a header of the caller's choice.
    pub fn new(header: impl Into<Cow<'static, str>>, column: Column) -> Self {
        CsvColumn {
            header: header.into(),
            value: CsvValue::Column(column),
        }
    }

    /// A custom rendering.
    pub fn custom(
        header: impl Into<Cow<'static, str>>,
        text: bool,
        render: impl Fn(&AuditEntry) -> String + Send + Sync + 'static,
    ) -> Self {
        CsvColumn {
            header: header.into(),
            value: CsvValue::Custom {
                render: Arc::new(render),
                text,
            },
        }
    }
}

/// The columns of a CSV file, in order.
#[derive(Debug, Clone)]
pub struct CsvLayout {
    columns: Vec<CsvColumn>,
}

impl CsvLayout {
    /// A layout of the given columns.
    pub fn new(columns: Vec<CsvColumn>) -> Self {
        CsvLayout { columns }
    }

    /// Every column under its canonical name, with `extra` as a JSON object.
    pub fn canonical() -> Self {
        CsvLayout::new(
            Column::ALL
                .iter()
                .map(|c| CsvColumn::new(c.name(), *c))
                .collect(),
        )
    }

    /// The given columns under their canonical names.
    pub fn of(columns: &[Column]) -> Self {
        CsvLayout::new(
            columns
                .iter()
                .map(|c| CsvColumn::new(c.name(), *c))
                .collect(),
        )
    }

    /// The columns.
    pub fn columns(&self) -> &[CsvColumn] {
        &self.columns
    }
}

/// Renders a timestamp as CSV and the dialects do: ISO-8601 UTC with microseconds and `Z`.
pub fn format_timestamp(date: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(27);
    push_timestamp(&mut out, date);
    out
}

/// Appends `date` as [`format_timestamp`] renders it.
pub fn push_timestamp(out: &mut String, date: DateTime<Utc>) {
    use chrono::{Datelike as _, Timelike as _};
    // Writing the digits directly is several times faster than a format string, which
    // matters when a million rows are exported.
    fn digits(out: &mut [u8], value: u32) {
        let mut rest = value;
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut text[0..4], u32::try_from(date.year()).unwrap_or(0));
    digits(&mut text[5..7], date.month());
    digits(&mut text[8..10], date.day());
    digits(&mut text[11..13], date.hour());
    digits(&mut text[14..16], date.minute());
    digits(&mut text[17..19], date.second());
    digits(
        &mut text[20..26],
        date.timestamp_subsec_micros().min(999_999),
    );
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

/// Renders a duration in microseconds as seconds with six decimals.
pub fn format_duration_micros(micros: i64) -> String {
    let mut out = String::with_capacity(16);
    push_duration_micros(&mut out, micros);
    out
}

/// Appends a duration as [`format_duration_micros`] renders it.
fn push_duration_micros(out: &mut String, micros: i64) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{}.{:06}",
        micros / 1_000_000,
        (micros % 1_000_000).abs()
    );
}

/// Prefixes text a spreadsheet would take as a formula (first character `=`, `+`, `-`, `@`,
/// tab or carriage return) with a single quote, as OWASP recommends.
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

/// Renders one cell: text borrowed from the entry where no formula guard applies, anything
/// else written into `scratch` (cleared first).
fn cell<'a>(entry: &'a AuditEntry, value: &CsvValue, scratch: &'a mut String) -> &'a str {
    use std::fmt::Write as _;
    scratch.clear();
    match value {
        CsvValue::Column(column) => match column.kind() {
            ColumnKind::Integer => {
                let _ = write!(scratch, "{}", entry.id());
            }
            ColumnKind::Bool => return if entry.success() { "1" } else { "0" },
            ColumnKind::Text => return guarded(entry.text(*column), scratch),
            ColumnKind::Timestamp if *column == Column::StartDate => {
                if let Some(start) = entry.start_date() {
                    push_timestamp(scratch, start);
                }
            }
            ColumnKind::Timestamp => push_timestamp(scratch, entry.date()),
            ColumnKind::Duration => {
                if let Some(micros) = entry.as_event().duration_in_micros() {
                    push_duration_micros(scratch, micros);
                }
            }
            ColumnKind::Map if entry.extra().is_empty() => {}
            ColumnKind::Map => {
                *scratch = guarded_owned(serde_json::to_string(entry.extra()).unwrap_or_default());
            }
        },
        CsvValue::Extra(key) => return guarded(entry.as_event().extra_value(key), scratch),
        CsvValue::Custom { render, text: true } => *scratch = guarded_owned(render(entry)),
        CsvValue::Custom {
            render,
            text: false,
        } => *scratch = render(entry),
    }
    scratch
}

/// `text` with the formula guard applied, without a copy unless the guard changes it.
fn guarded_owned(text: String) -> String {
    match guard_formula(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(quoted) => quoted,
    }
}

/// `text` with the formula guard applied, borrowed unless the guard changes it.
fn guarded<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    match guard_formula(text) {
        Cow::Borrowed(text) => text,
        Cow::Owned(quoted) => {
            *scratch = quoted;
            scratch
        }
    }
}

fn csv_error(error: ::csv::Error) -> Error {
    let retryable = false;
    Error::backend("csv", "writing CSV failed", retryable, error)
}

/// Writes rows of entries to a CSV writer.
fn write_rows<W: Write>(
    out: &mut ::csv::Writer<W>,
    layout: &CsvLayout,
    entries: &[AuditEntry],
) -> Result<()> {
    let mut scratch = String::with_capacity(64);
    for entry in entries {
        for column in &layout.columns {
            let text = cell(entry, &column.value, &mut scratch);
            out.write_field(text.as_bytes()).map_err(csv_error)?;
        }
        out.write_record(None::<&[u8]>).map_err(csv_error)?;
    }
    Ok(())
}

fn header<W: Write>(out: &mut ::csv::Writer<W>, layout: &CsvLayout) -> Result<()> {
    out.write_record(layout.columns.iter().map(|c| c.header.as_bytes()))
        .map_err(csv_error)
}

fn new_writer<W: Write>(sink: W) -> ::csv::Writer<W> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(sink)
}

/// Writes every entry matching `query` (its page is ignored) as CSV to `sink`, chunk by chunk;
/// returns the number of rows written.
pub async fn write_csv<W: Write>(
    store: Arc<dyn AuditStore>,
    query: AuditQuery,
    layout: &CsvLayout,
    sink: W,
) -> Result<u64> {
    let mut out = new_writer(sink);
    header(&mut out, layout)?;
    let mut rows = 0u64;
    let mut chunks = export(store, query, EXPORT_CHUNK_SIZE);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        rows += chunk.len() as u64;
        write_rows(&mut out, layout, &chunk)?;
    }
    out.flush()
        .map_err(|e| Error::backend("csv", "flushing CSV failed", false, e))?;
    Ok(rows)
}

/// Streams every entry matching `query` as CSV: the header, then one byte chunk per fetched
/// chunk of entries. Memory stays constant at any size; suits HTTP response bodies.
pub fn csv_stream(
    store: Arc<dyn AuditStore>,
    query: AuditQuery,
    layout: CsvLayout,
) -> BoxStream<Result<Vec<u8>>> {
    let mut head = new_writer(Vec::new());
    let head_bytes = header(&mut head, &layout).and_then(|()| {
        head.into_inner()
            .map_err(|e| Error::backend("csv", "writing CSV failed", false, e.into_error()))
    });
    let layout = Arc::new(layout);
    let body = export(store, query, EXPORT_CHUNK_SIZE).map(move |chunk| {
        let chunk = chunk?;
        let mut out = new_writer(Vec::with_capacity(chunk.len() * 256));
        write_rows(&mut out, &layout, &chunk)?;
        out.into_inner()
            .map_err(|e| Error::backend("csv", "writing CSV failed", false, e.into_error()))
    });
    Box::pin(futures_util::stream::once(async move { head_bytes }).chain(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_quoted() {
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard_formula(risky), format!("'{risky}"));
        }
        assert_eq!(guard_formula("plain"), "plain");
        assert_eq!(guard_formula(""), "");
    }

    #[test]
    fn timestamps_render_in_utc_with_microseconds() {
        let date = DateTime::from_timestamp(1_777_777_777, 5_000).unwrap_or_default();
        assert_eq!(format_timestamp(date), "2026-05-03T03:09:37.000005Z");
        assert_eq!(
            format_timestamp(date),
            date.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
        );
    }

    #[test]
    fn durations_render_as_seconds() {
        assert_eq!(format_duration_micros(1_500_000), "1.500000");
        assert_eq!(format_duration_micros(42), "0.000042");
    }
}
