//! Peak-memory probe for the CSV export of the memory backend.
//!
//! ```text
//! export_memory [ROWS] [fill|export]
//! ```
//!
//! Builds a [`MemoryStore`] holding `ROWS` generated events (default 1,000,000), then, with
//! `export`, writes all of them as CSV to `io::sink()`. Run it twice under GNU time and compare
//! the "Maximum resident set size" lines; the difference is what the export adds on top of the
//! filled store (DESIGN §5 promises constant memory at any size):
//!
//! ```text
//! cargo build -p audit-benches --release --bins
//! /usr/bin/time -v target/release/export_memory 1000000 fill   2>&1 | grep -E 'phase|Maximum resident'
//! /usr/bin/time -v target/release/export_memory 1000000 export 2>&1 | grep -E 'phase|Maximum resident'
//! ```
//!
//! Both runs build the store in exactly the same way and keep it alive to the end, so the
//! only difference between them is the export. The probe also prints phase markers to stderr
//! with the current (`VmRSS`) and peak (`VmHWM`) resident set of the process, read from
//! `/proc/self/status` (Linux). Before exporting it resets the peak (`5` into
//! `/proc/self/clear_refs`) when the kernel allows, so the `export done` marker's `peak` minus
//! the `export start` marker's `rss` is the export's own growth, even if filling the store
//! briefly peaked higher than the export does.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use audit_benches::{DEFAULT_ROWS, filled};
use audit_core::{AuditQuery, AuditStore, CsvLayout, write_csv};
use audit_memory::MemoryStore;

/// What the probe does after filling the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fill,
    Export,
}

const USAGE: &str = "usage: export_memory [ROWS] [fill|export]";

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let rows = match args.next() {
        Some(value) => value
            .replace('_', "")
            .parse::<usize>()
            .map_err(|e| format!("ROWS {value:?}: {e}; {USAGE}"))?,
        None => DEFAULT_ROWS,
    };
    let mode = match args.next().as_deref() {
        None | Some("fill") => Mode::Fill,
        Some("export") => Mode::Export,
        Some(other) => return Err(format!("unknown mode {other:?}; {USAGE}").into()),
    };

    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    marker("start");
    let memory = Arc::new(MemoryStore::new());
    let store: Arc<dyn AuditStore> = memory.clone();
    let started = Instant::now();
    rt.block_on(filled(&*store, rows))?;
    marker(&format!(
        "filled rows={} secs={:.2}",
        memory.len(),
        started.elapsed().as_secs_f64()
    ));

    if mode == Mode::Export {
        let reset = reset_peak();
        marker(&format!("export start peak_reset={reset}"));
        let started = Instant::now();
        let layout = CsvLayout::canonical();
        let written = rt.block_on(write_csv(
            Arc::clone(&store),
            AuditQuery::new(),
            &layout,
            std::io::sink(),
        ))?;
        let secs = started.elapsed().as_secs_f64();
        marker(&format!(
            "export done rows={written} secs={secs:.2} rows_per_sec={:.0}",
            written as f64 / secs.max(f64::EPSILON)
        ));
    }
    // The store stays alive until here in both modes, so the two runs differ only by the export.
    drop(store);
    drop(memory);
    Ok(())
}

/// Prints a phase marker with the current and peak resident set size.
fn marker(phase: &str) {
    let (rss, peak) = memory_status();
    eprintln!("phase: {phase} rss_kib={rss} peak_kib={peak}");
}

/// `VmRSS` and `VmHWM` of this process in KiB, or `?` where `/proc` cannot tell.
fn memory_status() -> (String, String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("?")
            .to_owned()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) of this process; false when not permitted.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
