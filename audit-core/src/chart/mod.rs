//! Charts of audit statistics as SVG, PNG or a PNG `data:` URI, in pure Rust.
//!
//! Three kinds of chart take plain data: a [`BarChart`] of top keys, a [`StackedBarChart`] of
//! top keys split into successes and failures, and a [`TimelineChart`] of successes and
//! failures over time. Each renders to SVG text ([`BarChart::to_svg`]), PNG bytes
//! ([`BarChart::to_png`]) or a PNG `data:` URI for an `<img>` tag ([`BarChart::to_data_uri`]);
//! [`Chart`] holds any of them.
//!
//! ```
//! use audit_core::chart::{Bar, BarChart, Chart, ChartSize};
//!
//! let chart = BarChart::new(
//!     "Top users",
//!     "entries",
//!     vec![Bar::new("alice", 1_234), Bar::new("Jürgen", 987)],
//! );
//! let svg = chart.to_svg();
//! assert!(svg.contains("Jürgen"));
//!
//! let small = Chart::from(chart).with_size(ChartSize::new(400, 240));
//! let png = small.to_png()?;
//! assert!(png.starts_with(b"\x89PNG"));
//! assert!(small.to_data_uri()?.starts_with("data:image/png;base64,"));
//! # Ok::<(), audit_core::chart::ChartError>(())
//! ```
//!
//! Rendering never fails on the data: no entries (or only zeros) draw a "no entries" chart,
//! long labels end in "…", labels are escaped, huge counts scale, and only the first
//! [`MAX_BARS`] bars (fewer if the chart is low) and one column per few pixels of buckets are
//! drawn. Text is drawn with an embedded font (Open Sans, Apache-2.0), never a system font;
//! characters it lacks (CJK, for example) are drawn as boxes in the PNG, while SVG viewers use
//! their own fonts for them.
//!
//! The layout is written by hand into one list of shapes, which is written out as SVG or drawn
//! with `tiny-skia` (glyph outlines from `ttf-parser`) and encoded with `png`, so the SVG and
//! the PNG show the same picture.

mod axis;
mod bar;
mod png;
mod scene;
mod stacked;
mod svg;
mod text;
mod timeline;

use base64::Engine as _;

pub use bar::{Bar, BarChart, MAX_BARS};
pub use stacked::{StackedBar, StackedBarChart};
pub use timeline::{TimeAxis, TimelineChart, TimelinePoint};

/// The text a chart without data shows.
pub const NO_ENTRIES: &str = scene::NO_ENTRIES;

/// Why a chart could not be rendered as PNG. (SVG rendering cannot fail.)
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ChartError {
    /// The embedded font cannot be read: the build is broken.
    #[error("the embedded chart font cannot be read")]
    Font,
    /// No canvas of this size could be allocated.
    #[error("cannot allocate a {width}×{height} pixel canvas")]
    Canvas {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// PNG encoding failed.
    #[error("PNG encoding failed")]
    Encode(#[source] crate::Source),
}

impl ChartError {
    fn encode(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Encode(std::sync::Arc::new(error))
    }
}

/// The pixel size of a chart: 800×400 by default, and always within
/// [`ChartSize::MIN`]..=[`ChartSize::MAX`] on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChartSize {
    width: u32,
    height: u32,
}

impl ChartSize {
    /// The smallest size a chart is drawn at (width, height); smaller requests are enlarged.
    pub const MIN: (u32, u32) = (240, 160);
    /// The largest size a chart is drawn at (width, height); larger requests are reduced.
    pub const MAX: (u32, u32) = (4096, 4096);

    /// A size of `width`×`height` pixels, each side clamped to [`Self::MIN`]..=[`Self::MAX`].
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width: width.clamp(Self::MIN.0, Self::MAX.0),
            height: height.clamp(Self::MIN.1, Self::MAX.1),
        }
    }

    /// Width in pixels.
    pub fn width(self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(self) -> u32 {
        self.height
    }
}

impl Default for ChartSize {
    fn default() -> Self {
        Self::new(800, 400)
    }
}

/// A chart of any kind, for code that renders several charts alike.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chart {
    /// A bar chart of top keys.
    Bar(BarChart),
    /// A bar chart of top keys split into successes and failures.
    Stacked(StackedBarChart),
    /// Successes and failures over time.
    Timeline(TimelineChart),
}

impl Chart {
    /// The chart's title.
    pub fn title(&self) -> &str {
        match self {
            Chart::Bar(chart) => &chart.title,
            Chart::Stacked(chart) => &chart.title,
            Chart::Timeline(chart) => &chart.title,
        }
    }

    /// The chart's size.
    pub fn size(&self) -> ChartSize {
        match self {
            Chart::Bar(chart) => chart.size,
            Chart::Stacked(chart) => chart.size,
            Chart::Timeline(chart) => chart.size,
        }
    }

    /// The same chart at another size.
    pub fn with_size(mut self, size: ChartSize) -> Self {
        match &mut self {
            Chart::Bar(chart) => chart.size = size,
            Chart::Stacked(chart) => chart.size = size,
            Chart::Timeline(chart) => chart.size = size,
        }
        self
    }

    fn scene(&self) -> scene::Scene {
        match self {
            Chart::Bar(chart) => chart.scene(),
            Chart::Stacked(chart) => chart.scene(),
            Chart::Timeline(chart) => chart.scene(),
        }
    }
}

/// The rendering methods, alike for every kind of chart.
macro_rules! render_methods {
    ($($chart:ty),*) => {$(
        impl $chart {
            /// The chart as a standalone SVG document.
            pub fn to_svg(&self) -> String {
                svg::write(&self.scene())
            }

            /// The chart as PNG bytes (8-bit RGB).
            pub fn to_png(&self) -> Result<Vec<u8>, ChartError> {
                png::write(&self.scene())
            }

            /// The chart as a `data:image/png;base64,…` URI, for the `src` of an `<img>`.
            pub fn to_data_uri(&self) -> Result<String, ChartError> {
                let png = self.to_png()?;
                let mut uri = String::from("data:image/png;base64,");
                base64::engine::general_purpose::STANDARD.encode_string(png, &mut uri);
                Ok(uri)
            }
        }
    )*};
}

render_methods!(Chart, BarChart, StackedBarChart, TimelineChart);

macro_rules! sized {
    ($($chart:ty),*) => {$(
        impl $chart {
            /// The same chart at another size.
            pub fn with_size(mut self, size: ChartSize) -> Self {
                self.size = size;
                self
            }
        }
    )*};
}

sized!(BarChart, StackedBarChart, TimelineChart);

impl From<BarChart> for Chart {
    fn from(chart: BarChart) -> Self {
        Chart::Bar(chart)
    }
}

impl From<StackedBarChart> for Chart {
    fn from(chart: StackedBarChart) -> Self {
        Chart::Stacked(chart)
    }
}

impl From<TimelineChart> for Chart {
    fn from(chart: TimelineChart) -> Self {
        Chart::Timeline(chart)
    }
}
