//! Writes a scene as a standalone SVG document.

use std::fmt::Write;

use super::scene::{Anchor, BACKGROUND, Scene, Shape};
use super::text::FONT_FAMILY;

/// The scene as SVG 1.1 text; every text is escaped, so the document is well-formed whatever
/// the labels contain.
pub(crate) fn write(scene: &Scene) -> String {
    let mut out = String::with_capacity(256 + scene.shapes.len() * 96);
    let (width, height) = (scene.width, scene.height);
    let title = escape(&scene.title);
    // `write!` into a String cannot fail.
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{title}" font-family="{}">"#,
        escape(FONT_FAMILY)
    );
    let _ = write!(out, "<title>{title}</title>");
    let _ = write!(
        out,
        r#"<rect width="{width}" height="{height}" fill="{}"/>"#,
        BACKGROUND.hex()
    );
    for shape in &scene.shapes {
        match shape {
            Shape::Rect {
                x,
                y,
                width,
                height,
                fill,
            } => {
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
                    number(*x),
                    number(*y),
                    number(*width),
                    number(*height),
                    fill.hex()
                );
            }
            Shape::Text {
                x,
                y,
                size,
                anchor,
                fill,
                bold,
                text,
            } => {
                let anchor = match anchor {
                    Anchor::Start => "",
                    Anchor::Middle => r#" text-anchor="middle""#,
                    Anchor::End => r#" text-anchor="end""#,
                };
                let weight = if *bold { r#" font-weight="600""# } else { "" };
                let _ = write!(
                    out,
                    r#"<text x="{}" y="{}" font-size="{}" fill="{}"{anchor}{weight}>{}</text>"#,
                    number(*x),
                    number(*y),
                    number(*size),
                    fill.hex(),
                    escape(text)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// A coordinate with at most one decimal.
fn number(value: f32) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == 0.0 {
        "0".to_owned()
    } else if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// Escapes text for element content and attribute values alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape(r#"<a href='x'>&"#),
            "&lt;a href=&#39;x&#39;&gt;&amp;"
        );
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(number(12.0), "12");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(-0.04), "0");
    }
}
