//! Top-N bars split into successes and failures.

use super::ChartSize;
use super::bar::{Row, horizontal};
use super::scene::{FAILURE, SUCCESS, Scene};

/// The legend of every success/failure chart.
pub(crate) const OUTCOME_LEGEND: [(super::scene::Color, &str); 2] =
    [(SUCCESS, "success"), (FAILURE, "failure")];

/// One stacked bar: a key with its successes and failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackedBar {
    /// The key, for example a user name or an event name.
    pub label: String,
    /// Entries of the key that succeeded (drawn green, first).
    pub successes: u64,
    /// Entries of the key that failed (drawn red, after the successes).
    pub failures: u64,
}

impl StackedBar {
    /// A bar for `label`.
    pub fn new(label: impl Into<String>, successes: u64, failures: u64) -> Self {
        Self {
            label: label.into(),
            successes,
            failures,
        }
    }
}

/// A horizontal bar chart of the top keys, each bar split into successes and failures, with a
/// legend; drawn in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackedBarChart {
    /// The heading, for example "Outcome by event".
    pub title: String,
    /// The caption of the value axis, for example "entries".
    pub x_label: String,
    /// The bars, top to bottom.
    pub rows: Vec<StackedBar>,
    /// The picture size.
    pub size: ChartSize,
}

impl StackedBarChart {
    /// A chart of the default size.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        rows: Vec<StackedBar>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            rows,
            size: ChartSize::default(),
        }
    }

    pub(crate) fn scene(&self) -> Scene {
        let rows = self.rows.iter().map(|row| Row {
            label: &row.label,
            segments: [(row.successes, SUCCESS), (row.failures, FAILURE)],
        });
        horizontal(self.size, &self.title, &self.x_label, &OUTCOME_LEGEND, rows)
    }
}
