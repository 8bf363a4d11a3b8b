//! Top-N bar charts, and the horizontal bar layout the stacked chart shares.

use super::scene::{AXIS, Anchor, BAR, CAPTION, Color, GRID, LABEL, MARGIN, SMALL, Scene};
use super::{ChartSize, axis, text};

/// At most this many bars are drawn (fewer where the chart is too low for them); the rest are
/// left out and a note says how many were.
pub const MAX_BARS: usize = 50;

/// One bar: what it counts and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// The key, for example a user name or an event name.
    pub label: String,
    /// The count.
    pub value: u64,
}

impl Bar {
    /// A bar for `label` with `value`.
    pub fn new(label: impl Into<String>, value: u64) -> Self {
        Self {
            label: label.into(),
            value,
        }
    }
}

/// A horizontal bar chart of the top keys, drawn in the order given (largest first, usually).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarChart {
    /// The heading, for example "Top users".
    pub title: String,
    /// The caption of the value axis, for example "entries".
    pub x_label: String,
    /// The bars, top to bottom.
    pub bars: Vec<Bar>,
    /// The picture size.
    pub size: ChartSize,
}

impl BarChart {
    /// A chart of the default size.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, bars: Vec<Bar>) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            bars,
            size: ChartSize::default(),
        }
    }

    pub(crate) fn scene(&self) -> Scene {
        let rows = self.bars.iter().map(|bar| Row {
            label: &bar.label,
            segments: [(bar.value, BAR), (0, BAR)],
        });
        horizontal(self.size, &self.title, &self.x_label, &[], rows)
    }
}

/// One bar of the horizontal layout: a label and up to two segments laid end to end.
pub(crate) struct Row<'a> {
    pub(crate) label: &'a str,
    pub(crate) segments: [(u64, Color); 2],
}

impl Row<'_> {
    fn total(&self) -> u64 {
        self.segments[0].0.saturating_add(self.segments[1].0)
    }
}

/// Labels get at most this share of the width (and never more than 240 pixels).
const LABEL_SHARE: f32 = 0.32;
/// A bar's band is never lower than this, so that labels never overlap.
const MIN_BAND: f32 = 20.0;

/// Lays out horizontal bars: labels on the left, bars with their totals at their ends, a value
/// axis with gridlines below.
pub(crate) fn horizontal<'a>(
    size: ChartSize,
    title: &str,
    x_label: &str,
    legend: &[(Color, &str)],
    rows: impl Iterator<Item = Row<'a>>,
) -> Scene {
    let (width, height) = (size.width() as f32, size.height() as f32);
    let plot_top = 48.0;
    let plot_bottom = height - 46.0;
    let capacity = (((plot_bottom - plot_top) / MIN_BAND) as usize).clamp(1, MAX_BARS);

    let mut shown: Vec<Row<'a>> = Vec::new();
    let mut count = 0_usize;
    let mut any_entries = false;
    for row in rows {
        count += 1;
        any_entries |= row.total() > 0;
        if shown.len() < capacity {
            shown.push(row);
        }
    }
    if !any_entries {
        return Scene::no_entries(size.width(), size.height(), title);
    }
    let mut scene = Scene::new(size.width(), size.height(), title, legend);

    let labels: Vec<String> = shown
        .iter()
        .map(|row| text::fit(row.label, LABEL.size, (width * LABEL_SHARE).min(240.0)))
        .collect();
    let label_width = labels
        .iter()
        .map(|label| text::room(label, LABEL.size))
        .fold(0.0, f32::max);
    // Totals in full unless that would take too much room; then compact.
    let mut values: Vec<String> = shown.iter().map(|row| axis::grouped(row.total())).collect();
    let mut value_width = values
        .iter()
        .map(|value| text::room(value, SMALL.size))
        .fold(0.0, f32::max);
    if value_width > width * 0.18 {
        values = shown
            .iter()
            .map(|row| axis::compact(row.total() as f64))
            .collect();
        value_width = values
            .iter()
            .map(|value| text::room(value, SMALL.size))
            .fold(0.0, f32::max);
    }
    let plot_left = (MARGIN + label_width + 10.0).round();
    let plot_right = width - MARGIN - value_width - 8.0;
    let plot_width = (plot_right - plot_left).max(20.0);

    let max = shown.iter().map(Row::total).max().unwrap_or(0) as f64;
    let (axis_end, step) = axis::ticks(max, ((plot_width / 80.0) as usize).clamp(2, 10));
    let x_of = |value: f64| plot_left + (value / axis_end) as f32 * plot_width;
    let ticks = ((axis_end / step).round() as usize).min(20);
    for i in 0..=ticks {
        let value = i as f64 * step;
        let x = x_of(value);
        if i > 0 {
            scene.vline(x, plot_top, plot_bottom - plot_top, GRID);
        }
        let label = axis::compact(value);
        scene.text(x, plot_bottom + 16.0, SMALL, Anchor::Middle, label);
    }

    let band = (plot_bottom - plot_top) / shown.len() as f32;
    let thickness = (band * 0.68).min(34.0).round();
    for (i, row) in shown.iter().enumerate() {
        let middle = plot_top + band * (i as f32 + 0.5);
        let top = (middle - thickness / 2.0).round();
        let mut sum = 0_u64;
        let mut end = plot_left + 1.0;
        for (value, color) in row.segments {
            if value == 0 {
                continue;
            }
            sum = sum.saturating_add(value);
            // Every non-zero segment gets at least one pixel.
            let next = x_of(sum as f64).round().max(end + 1.0);
            scene.rect(end, top, next - end, thickness, color);
            end = next;
        }
        let baseline = middle + LABEL.size * 0.35;
        scene.text(plot_left - 8.0, baseline, LABEL, Anchor::End, &labels[i]);
        scene.text(end + 6.0, baseline, SMALL, Anchor::Start, &values[i]);
    }
    scene.vline(plot_left, plot_top, plot_bottom - plot_top, AXIS);

    let mut caption_room = plot_width;
    if count > shown.len() {
        let note = format!("first {} of {}", shown.len(), axis::grouped(count as u64));
        let note_right = MARGIN + text::room(&note, SMALL.size);
        caption_room -= 2.0 * (note_right + 12.0 - plot_left).max(0.0);
        scene.text(MARGIN, height - 12.0, SMALL, Anchor::Start, note);
    }
    let caption = text::fit(x_label, CAPTION.size, caption_room.max(0.0));
    let middle = plot_left + plot_width / 2.0;
    scene.text(middle, height - 12.0, CAPTION, Anchor::Middle, caption);
    scene
}
