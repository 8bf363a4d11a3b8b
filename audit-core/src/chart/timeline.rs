//! Successes and failures over time, as stacked columns on a time axis.

use chrono::{DateTime, Utc};

use super::scene::{AXIS, Anchor, FAILURE, GRID, MARGIN, SMALL, SUCCESS, Scene};
use super::stacked::OUTCOME_LEGEND;
use super::{ChartSize, axis, text};

/// The bucket size of a timeline, which also decides how its time axis is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeAxis {
    /// One column a minute; labelled with the time of day.
    Minute,
    /// One column an hour; labelled with the time of day.
    Hour,
    /// One column a day; labelled with the date.
    Day,
    /// One column a week; labelled with the date of the week's first bucket.
    Week,
}

impl TimeAxis {
    /// The bucket length in seconds.
    fn seconds(self) -> i64 {
        match self {
            TimeAxis::Minute => 60,
            TimeAxis::Hour => 3_600,
            TimeAxis::Day => 86_400,
            TimeAxis::Week => 7 * 86_400,
        }
    }
}

/// The counts of one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePoint {
    /// Where the bucket starts.
    pub start: DateTime<Utc>,
    /// Entries in the bucket that succeeded.
    pub successes: u64,
    /// Entries in the bucket that failed.
    pub failures: u64,
}

impl TimelinePoint {
    /// The bucket starting at `start`.
    pub fn new(start: DateTime<Utc>, successes: u64, failures: u64) -> Self {
        Self {
            start,
            successes,
            failures,
        }
    }
}

/// Successes and failures per time bucket, as stacked columns with a legend.
///
/// Points may come in any order; buckets without a point are drawn empty, so a caller may leave
/// out empty buckets. When there are more buckets than the width can show as columns of a few
/// pixels, neighbouring buckets are added up into one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineChart {
    /// The heading, for example "Entries per day".
    pub title: String,
    /// The caption of the value axis, for example "entries".
    pub y_label: String,
    /// The bucket size.
    pub axis: TimeAxis,
    /// The buckets.
    pub points: Vec<TimelinePoint>,
    /// The picture size.
    pub size: ChartSize,
}

/// Columns are at least this wide; more buckets than fit are added up.
const MIN_COLUMN: f32 = 3.0;
/// A lone column is no wider than this.
const MAX_COLUMN: f32 = 60.0;
/// Monday, 5 January 1970, 00:00 UTC: time labels fall on whole multiples of their step from
/// here, so they land on full hours, midnights and Mondays.
const LABEL_EPOCH: i64 = 4 * 86_400;
/// Label steps in seconds, from a minute to a year of weeks.
const LABEL_STEPS: [i64; 19] = [
    60, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
    1_209_600, 2_419_200, 4_838_400, 7_862_400, 15_724_800, 31_449_600,
];

impl TimelineChart {
    /// A chart of the default size.
    pub fn new(
        title: impl Into<String>,
        y_label: impl Into<String>,
        axis: TimeAxis,
        points: Vec<TimelinePoint>,
    ) -> Self {
        Self {
            title: title.into(),
            y_label: y_label.into(),
            axis,
            points,
            size: ChartSize::default(),
        }
    }

    pub(crate) fn scene(&self) -> Scene {
        let (w, h) = (self.size.width(), self.size.height());
        let (width, height) = (w as f32, h as f32);
        let buckets = Buckets::new(&self.points, self.axis, width - 2.0 * MARGIN - 50.0);
        let Some(buckets) = buckets else {
            return Scene::no_entries(w, h, &self.title);
        };
        let mut scene = Scene::new(w, h, &self.title, &OUTCOME_LEGEND);
        let plot_top = 60.0;
        let plot_bottom = height - 42.0;
        let plot_height = plot_bottom - plot_top;

        let max = buckets.sums.iter().map(|(s, f)| s.saturating_add(*f)).max();
        let max = max.unwrap_or(0) as f64;
        let (axis_end, step) = axis::ticks(max, ((plot_height / 40.0) as usize).clamp(3, 8));
        let ticks = ((axis_end / step).round() as usize).min(20);
        let tick_labels: Vec<String> = (0..=ticks)
            .map(|i| axis::compact(i as f64 * step))
            .collect();
        let tick_width = tick_labels
            .iter()
            .map(|label| text::room(label, SMALL.size))
            .fold(0.0, f32::max);
        let plot_left = (MARGIN + tick_width + 8.0).round();
        let plot_width = (width - MARGIN - plot_left).max(20.0);
        let y_of = |value: u64| plot_bottom - (value as f64 / axis_end) as f32 * plot_height;

        for (i, label) in tick_labels.iter().enumerate() {
            let y = plot_bottom - (i as f64 * step / axis_end) as f32 * plot_height;
            if i > 0 {
                scene.hline(plot_left, y, plot_width, GRID);
            }
            let baseline = y + SMALL.size * 0.35;
            scene.text(plot_left - 8.0, baseline, SMALL, Anchor::End, label);
        }
        let caption = text::fit(&self.y_label, SMALL.size, width / 2.0);
        scene.text(MARGIN, plot_top - 14.0, SMALL, Anchor::Start, caption);

        let pitch = plot_width / buckets.sums.len() as f32;
        let column = if pitch >= 5.0 { pitch * 0.78 } else { pitch };
        let column = column.min(MAX_COLUMN);
        for (i, (successes, failures)) in buckets.sums.iter().enumerate() {
            let left = plot_left + pitch * i as f32 + (pitch - column) / 2.0;
            let (x, right) = (
                left.round(),
                (left + column).round().max(left.round() + 1.0),
            );
            let mut bottom = plot_bottom;
            let mut sum = 0_u64;
            for (value, color) in [(*successes, SUCCESS), (*failures, FAILURE)] {
                if value == 0 {
                    continue;
                }
                sum = sum.saturating_add(value);
                // Every non-zero part gets at least one pixel.
                let top = y_of(sum).round().min(bottom - 1.0);
                scene.rect(x, top, right - x, bottom - top, color);
                bottom = top;
            }
        }
        scene.hline(plot_left, plot_bottom, plot_width, AXIS);
        buckets.label_axis(&mut scene, plot_left, plot_width, plot_bottom);
        scene
    }
}

/// The points added up into the columns that are drawn.
struct Buckets {
    /// The start of the first column, in seconds since the epoch.
    first: i64,
    /// The length of one column, in seconds.
    seconds: i64,
    /// Successes and failures per column, in time order.
    sums: Vec<(u64, u64)>,
}

impl Buckets {
    /// Adds up `points` into at most one column per [`MIN_COLUMN`] pixels of `width`; `None`
    /// when there is nothing to draw.
    fn new(points: &[TimelinePoint], axis: TimeAxis, width: f32) -> Option<Self> {
        if points.iter().all(|p| p.successes == 0 && p.failures == 0) {
            return None;
        }
        let mut starts: Vec<i64> = points.iter().map(|p| p.start.timestamp()).collect();
        starts.sort_unstable();
        let (first, last) = (*starts.first()?, *starts.last()?);
        // Buckets are as long as the axis says, or shorter if the points are closer together.
        let gap = starts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|gap| *gap > 0)
            .min();
        let bucket = gap
            .map_or(axis.seconds(), |gap| gap.min(axis.seconds()))
            .max(1);
        let slots = (last - first) / bucket + 1;
        let per_column = (MIN_COLUMN as f64 * slots as f64 / f64::from(width.max(1.0)))
            .ceil()
            .max(1.0) as i64;
        let columns = (slots + per_column - 1) / per_column;
        let mut sums = vec![(0_u64, 0_u64); usize::try_from(columns).ok()?];
        for point in points {
            let slot = (point.start.timestamp() - first) / bucket;
            let column = usize::try_from(slot / per_column).ok()?;
            let sum = sums.get_mut(column)?;
            sum.0 = sum.0.saturating_add(point.successes);
            sum.1 = sum.1.saturating_add(point.failures);
        }
        Some(Self {
            first,
            seconds: bucket * per_column,
            sums,
        })
    }

    /// Writes readable time labels under the axis: as many as fit without touching, on round
    /// times, the date (or year) under the first one and wherever it changes.
    fn label_axis(&self, scene: &mut Scene, plot_left: f32, plot_width: f32, plot_bottom: f32) {
        let span = self.seconds.saturating_mul(self.sums.len() as i64);
        let pixels_per_second = f64::from(plot_width) / span as f64;
        let x_of = |time: i64| plot_left + ((time - self.first) as f64 * pixels_per_second) as f32;
        let room = text::room("30 Sep", SMALL.size) + 16.0;
        let mut step = LABEL_STEPS
            .into_iter()
            .find(|step| {
                *step >= self.seconds && *step as f64 * pixels_per_second >= f64::from(room)
            })
            .unwrap_or(LABEL_STEPS[LABEL_STEPS.len() - 1]);
        while (step as f64 * pixels_per_second) < f64::from(room) && step < i64::MAX / 4 {
            step *= 2;
        }
        let daily = step >= 86_400;
        let mut offset = (LABEL_EPOCH - self.first).rem_euclid(step);
        if step % self.seconds == 0 {
            // Buckets that do not start on round times (local days, say) get their labels
            // under the bucket holding the round time rather than between two buckets.
            offset -= offset % self.seconds;
        }
        let mut time = self.first + offset;
        let mut previous: Option<(String, f32)> = None;
        let mut drawn = 0;
        while time < self.first.saturating_add(span) && drawn < 200 {
            let Some(at) = DateTime::<Utc>::from_timestamp(time, 0) else {
                break;
            };
            // A label that names a column sits under its middle; others mark their instant.
            let x = if (time - self.first) % self.seconds == 0 {
                x_of(time) + (self.seconds as f64 * pixels_per_second / 2.0) as f32
            } else {
                x_of(time)
            };
            let (label, context) = if daily {
                (at.format("%-d %b").to_string(), at.format("%Y").to_string())
            } else {
                (
                    at.format("%H:%M").to_string(),
                    at.format("%-d %b").to_string(),
                )
            };
            let half = text::room(&label, SMALL.size).max(text::room(&context, SMALL.size)) / 2.0;
            let right_end = scene.width as f32 - MARGIN;
            let x = x.clamp(MARGIN + half, (right_end - half).max(MARGIN + half));
            let clear = previous
                .as_ref()
                .is_none_or(|(_, end)| x - half > end + 6.0);
            if clear {
                scene.vline(x, plot_bottom + 1.0, 4.0, AXIS);
                scene.text(x, plot_bottom + 17.0, SMALL, Anchor::Middle, &label);
                if previous.as_ref().is_none_or(|(shown, _)| *shown != context) {
                    scene.text(x, plot_bottom + 31.0, SMALL, Anchor::Middle, &context);
                }
                previous = Some((context, x + half));
                drawn += 1;
            }
            time = time.saturating_add(step);
        }
        if drawn == 0 {
            // Too short a span for a round time: name the first column instead.
            if let Some(at) = DateTime::<Utc>::from_timestamp(self.first, 0) {
                let label = at.format(if daily { "%-d %b %Y" } else { "%-d %b %H:%M" });
                let column = (self.seconds as f64 * pixels_per_second / 2.0) as f32;
                let half = text::width(&label.to_string(), SMALL.size) / 2.0;
                let x = (plot_left + column).max(MARGIN + half);
                let baseline = plot_bottom + 17.0;
                scene.text(x, baseline, SMALL, Anchor::Middle, label.to_string());
            }
        }
    }
}
