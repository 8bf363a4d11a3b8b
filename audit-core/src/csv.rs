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
    use chrono::{Datelike as _, Timelike as _};
    use std::fmt::Write as _;
    // Formatting the digits directly is several times faster than a chrono format string,
    // which matters when a million rows are exported.
    let mut out = String::with_capacity(27);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        date.year(),
        date.month(),
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        date.timestamp_subsec_micros().min(999_999)
    );
    out
}

/// Renders a duration in microseconds as seconds with six decimals.
pub fn format_duration_micros(micros: i64) -> String {
    format!("{}.{:06}", micros / 1_000_000, (micros % 1_000_000).abs())
}

/// Prefixes text a spreadsheet would take as a formula (first character `=`, `+`, `-`, `@`,
/// tab or carriage return) with a single quote, as OWASP recommends.
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

fn cell<'a>(entry: &'a AuditEntry, value: &CsvValue) -> Cow<'a, str> {
    match value {
        CsvValue::Column(column) => match column.kind() {
            ColumnKind::Integer => Cow::Owned(entry.id().to_string()),
            ColumnKind::Bool => Cow::Borrowed(if entry.success() { "1" } else { "0" }),
            ColumnKind::Text => guard_formula(entry.text(*column)),
            ColumnKind::Timestamp if *column == Column::StartDate => {
                Cow::Owned(entry.start_date().map(format_timestamp).unwrap_or_default())
            }
            ColumnKind::Timestamp => Cow::Owned(format_timestamp(entry.date())),
            ColumnKind::Duration => Cow::Owned(
                entry
                    .as_event()
                    .duration_in_micros()
                    .map(format_duration_micros)
                    .unwrap_or_default(),
            ),
            ColumnKind::Map if entry.extra().is_empty() => Cow::Borrowed(""),
            ColumnKind::Map => Cow::Owned(
                guard_formula(&serde_json::to_string(entry.extra()).unwrap_or_default())
                    .into_owned(),
            ),
        },
        CsvValue::Extra(key) => guard_formula(entry.as_event().extra_value(key)),
        CsvValue::Custom { render, text: true } => {
            Cow::Owned(guard_formula(&render(entry)).into_owned())
        }
        CsvValue::Custom {
            render,
            text: false,
        } => Cow::Owned(render(entry)),
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
    for entry in entries {
        for column in &layout.columns {
            out.write_field(cell(entry, &column.value).as_bytes())
                .map_err(csv_error)?;
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
