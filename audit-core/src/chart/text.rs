//! The embedded font: cleaning, measuring and shortening text, and placing its glyphs.
//!
//! Every width the layout uses comes from the same font the PNG is drawn with, so labels that
//! were measured to fit do fit. SVG viewers use their own fonts (the embedded one first, if they
//! have it), which may differ by a few percent.

use std::borrow::Cow;
use std::sync::OnceLock;

use ttf_parser::{Face, GlyphId};

/// Open Sans Regular: small (217 KiB), Apache-2.0, covers Latin-1, Latin Extended, Greek and
/// Cyrillic, and has a classic `kern` table, so kerning needs no shaping engine. Characters
/// outside it (CJK, for example) are drawn as the font's box glyph with the box's width.
static FONT: &[u8] = include_bytes!("../../assets/OpenSans-Regular.ttf");

/// The font families an SVG asks for: the embedded font first, then common UI fonts.
pub(crate) const FONT_FAMILY: &str =
    "'Open Sans', 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', sans-serif";

/// Room kept for text, as a multiple of its measured width: an SVG viewer without the
/// embedded font substitutes its own, and DejaVu Sans, for one, is about 10% wider.
pub(crate) const SLACK: f32 = 1.15;

/// The ellipsis that ends a shortened label.
pub(crate) const ELLIPSIS: char = '…';

/// Labels are cut to this many characters before they are measured, so that a megabyte label
/// costs no more than a short one.
const MAX_CHARS: usize = 256;

/// Width of one character, in ems, when the font cannot be read (never with a sound build).
const FALLBACK_ADVANCE: f32 = 0.6;

/// The parsed embedded font, or `None` if it cannot be parsed.
pub(crate) fn face() -> Option<&'static Face<'static>> {
    static FACE: OnceLock<Option<Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| Face::parse(FONT, 0).ok()).as_ref()
}

/// Replaces what XML cannot carry or a label should not contain: control characters (line
/// breaks and tabs become spaces) and the non-characters U+FFFE and U+FFFF.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c if bad(c) => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

/// A glyph of a laid-out line: which glyph, and its pen position in pixels from the line start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlacedGlyph {
    pub(crate) id: GlyphId,
    pub(crate) x: f32,
}

/// Lays out `text` on one line at `size` pixels: the glyphs and the total advance width.
pub(crate) fn layout(face: &Face<'_>, text: &str, size: f32) -> (Vec<PlacedGlyph>, f32) {
    let scale = size / f32::from(face.units_per_em().max(1));
    let mut glyphs = Vec::with_capacity(text.len());
    let mut pen = 0.0_f32;
    let mut previous: Option<GlyphId> = None;
    for c in text.chars() {
        // GlyphId(0) is `.notdef`, the box a font draws for a character it lacks.
        let id = face.glyph_index(c).unwrap_or(GlyphId(0));
        if let Some(left) = previous {
            pen += f32::from(kerning(face, left, id)) * scale;
        }
        glyphs.push(PlacedGlyph { id, x: pen });
        pen += f32::from(face.glyph_hor_advance(id).unwrap_or(0)) * scale;
        previous = Some(id);
    }
    (glyphs, pen)
}

/// The kerning between two glyphs from the classic `kern` table, in font units.
fn kerning(face: &Face<'_>, left: GlyphId, right: GlyphId) -> i16 {
    face.tables().kern.map_or(0, |kern| {
        kern.subtables
            .into_iter()
            .filter(|t| t.horizontal && !t.variable && !t.has_cross_stream && !t.has_state_machine)
            .find_map(|t| t.glyphs_kerning(left, right))
            .unwrap_or(0)
    })
}

/// The width of `text` at `size` pixels.
pub(crate) fn width(text: &str, size: f32) -> f32 {
    match face() {
        Some(face) => layout(face, text, size).1,
        None => text.chars().count() as f32 * size * FALLBACK_ADVANCE,
    }
}

/// The room to keep for `text` at `size` pixels: its width plus slack for other fonts.
pub(crate) fn room(text: &str, size: f32) -> f32 {
    width(text, size) * SLACK
}

/// Cleans `text` and shortens it with an ellipsis, character by character, until it is at most
/// `max_width` pixels wide at `size` pixels.
pub(crate) fn fit(text: &str, size: f32, max_width: f32) -> String {
    let cleaned = clean(text);
    let mut cut_short = false;
    let text = match cleaned.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => {
            cut_short = true;
            &cleaned[..at]
        }
        None => &cleaned[..],
    };
    if !cut_short && width(text, size) <= max_width {
        return text.to_owned();
    }
    let budget = max_width - width(&ELLIPSIS.to_string(), size);
    // A first cut adds up character widths without kerning; the check after it makes sure that
    // kerning did not widen what was kept.
    let mut used = 0.0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        let mut buffer = [0; 4];
        used += width(c.encode_utf8(&mut buffer), size);
        if used > budget {
            break;
        }
        end = at + c.len_utf8();
    }
    let mut kept = text[..end].trim_end().to_owned();
    loop {
        let shortened = format!("{kept}{ELLIPSIS}");
        if kept.is_empty() || width(&shortened, size) <= max_width {
            return shortened;
        }
        kept.pop();
        kept.truncate(kept.trim_end().len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_parses_and_covers_latin_extended() {
        let face = face().expect("the embedded font parses");
        for c in "Jürgen Ærø Łódź Ș …".chars() {
            assert!(face.glyph_index(c).is_some(), "{c} is missing");
        }
    }

    #[test]
    fn control_characters_and_non_characters_are_replaced() {
        assert_eq!(clean("a\nb\tc\0d\u{FFFF}"), "a b c\u{FFFD}d\u{FFFD}");
        assert!(matches!(clean("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn short_text_is_kept_and_long_text_ends_with_an_ellipsis_within_the_width() {
        assert_eq!(fit("user17", 12.0, 200.0), "user17");
        let long = "POST /validate/check?".repeat(20);
        let fitted = fit(&long, 12.0, 150.0);
        assert!(fitted.ends_with(ELLIPSIS), "{fitted}");
        assert!(width(&fitted, 12.0) <= 150.0);
        assert!(long.starts_with(fitted.trim_end_matches(ELLIPSIS)));
    }

    #[test]
    fn shortening_never_splits_a_character() {
        let fitted = fit(&"用户Ærø".repeat(50), 12.0, 100.0);
        assert!(fitted.ends_with(ELLIPSIS));
        assert!(fitted.starts_with("用户"));
    }

    #[test]
    fn missing_glyphs_still_take_room() {
        assert!(width("用户", 12.0) > 10.0);
    }

    #[test]
    fn kerning_narrows_a_pair() {
        assert!(width("AV", 100.0) < width("A", 100.0) + width("V", 100.0));
    }
}
