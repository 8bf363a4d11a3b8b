//! The drawing every chart is laid out into: rectangles and text on a white page, in pixels.
//!
//! The SVG and the PNG writer both draw the same scene, so the two outputs cannot drift apart.

use super::text;

/// An opaque colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Color(pub(crate) u8, pub(crate) u8, pub(crate) u8);

impl Color {
    /// `#rrggbb`.
    pub(crate) fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The page.
pub(crate) const BACKGROUND: Color = Color(0xff, 0xff, 0xff);
/// Titles and bar values.
pub(crate) const INK: Color = Color(0x1f, 0x23, 0x28);
/// Axis labels, captions and notes.
pub(crate) const MUTED: Color = Color(0x57, 0x60, 0x6a);
/// Gridlines: visible, never louder than the data.
pub(crate) const GRID: Color = Color(0xe6, 0xe8, 0xeb);
/// The zero line of a value axis.
pub(crate) const AXIS: Color = Color(0x8c, 0x95, 0x9f);
/// Plain bars.
pub(crate) const BAR: Color = Color(0x3b, 0x6e, 0xa8);
/// Successes: Okabe–Ito bluish green, which colour-blind readers tell apart from the failure
/// vermilion (it differs in lightness and hue, not only along the red–green axis).
pub(crate) const SUCCESS: Color = Color(0x00, 0x9e, 0x73);
/// Failures: Okabe–Ito vermilion.
pub(crate) const FAILURE: Color = Color(0xd5, 0x5e, 0x00);

/// The outside margin, in pixels.
pub(crate) const MARGIN: f32 = 16.0;

/// How a text looks: its size in pixels and its colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Style {
    pub(crate) size: f32,
    pub(crate) fill: Color,
}

/// The chart title.
const TITLE: Style = Style {
    size: 16.0,
    fill: INK,
};
/// Bar labels: the keys.
pub(crate) const LABEL: Style = Style {
    size: 12.0,
    fill: INK,
};
/// Axis captions and legend entries.
pub(crate) const CAPTION: Style = Style {
    size: 12.0,
    fill: MUTED,
};
/// Tick labels, values at bar ends and notes.
pub(crate) const SMALL: Style = Style {
    size: 11.0,
    fill: MUTED,
};
/// Baseline of the title.
const TITLE_BASELINE: f32 = 27.0;
/// The message of a chart without data.
pub(crate) const NO_ENTRIES: &str = "no entries";

/// How a text is placed relative to its `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// One thing to draw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// A filled rectangle.
    Rect {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        fill: Color,
    },
    /// One line of text; `y` is its baseline. The text is already cleaned and fitted.
    Text {
        x: f32,
        y: f32,
        size: f32,
        anchor: Anchor,
        fill: Color,
        bold: bool,
        text: String,
    },
}

/// A whole chart, ready to be written as SVG or PNG.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scene {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The accessible name of the chart (the SVG `<title>`).
    pub(crate) title: String,
    pub(crate) shapes: Vec<Shape>,
}

impl Scene {
    /// An empty page with `title` (shortened to fit beside a legend of `legend` entries) in its
    /// top left corner and the legend in its top right corner.
    pub(crate) fn new(width: u32, height: u32, title: &str, legend: &[(Color, &str)]) -> Self {
        let mut scene = Scene {
            width,
            height,
            title: text::clean(title).into_owned(),
            shapes: Vec::new(),
        };
        let legend_left = scene.legend(legend);
        let title_room = (legend_left - 2.0 * MARGIN) / text::SLACK;
        let title = text::fit(title, TITLE.size, title_room);
        scene.text(MARGIN, TITLE_BASELINE, TITLE, Anchor::Start, title);
        if let Some(Shape::Text { bold, .. }) = scene.shapes.last_mut() {
            *bold = true;
        }
        scene
    }

    /// Draws a legend right-aligned on the title line; returns its left edge.
    fn legend(&mut self, entries: &[(Color, &str)]) -> f32 {
        const SWATCH: f32 = 10.0;
        let mut right = self.width as f32 - MARGIN;
        for (color, label) in entries.iter().rev() {
            self.text(right, TITLE_BASELINE - 1.0, CAPTION, Anchor::End, label);
            let swatch = right - text::room(label, CAPTION.size) - 3.0 - SWATCH;
            self.rect(swatch, TITLE_BASELINE - 10.0, SWATCH, SWATCH, *color);
            right = swatch - 14.0;
        }
        right
    }

    /// Adds a filled rectangle; rectangles of no area are left out.
    pub(crate) fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, fill: Color) {
        if width > 0.0 && height > 0.0 && x.is_finite() && y.is_finite() {
            self.shapes.push(Shape::Rect {
                x,
                y,
                width,
                height,
                fill,
            });
        }
    }

    /// Adds a line of text (cleaned here; fitting is the caller's job).
    pub(crate) fn text(
        &mut self,
        x: f32,
        y: f32,
        style: Style,
        anchor: Anchor,
        text: impl AsRef<str>,
    ) {
        let text = text::clean(text.as_ref()).into_owned();
        if !text.is_empty() {
            self.shapes.push(Shape::Text {
                x,
                y,
                size: style.size,
                anchor,
                fill: style.fill,
                bold: false,
                text,
            });
        }
    }

    /// A horizontal gridline one pixel high, on whole pixels so that it stays crisp.
    pub(crate) fn hline(&mut self, x: f32, y: f32, width: f32, color: Color) {
        self.rect(x.round(), y.round(), width.round(), 1.0, color);
    }

    /// A vertical gridline one pixel wide, on whole pixels so that it stays crisp.
    pub(crate) fn vline(&mut self, x: f32, y: f32, height: f32, color: Color) {
        self.rect(x.round(), y.round(), 1.0, height.round(), color);
    }

    /// A chart without data: the title, and "no entries" in the middle of the page.
    pub(crate) fn no_entries(width: u32, height: u32, title: &str) -> Self {
        let mut scene = Self::new(width, height, title, &[]);
        let x = width as f32 / 2.0;
        let y = (height as f32 + TITLE_BASELINE) / 2.0 + 5.0;
        let style = Style {
            size: 14.0,
            fill: MUTED,
        };
        scene.text(x, y, style, Anchor::Middle, NO_ENTRIES);
        scene
    }
}
