//! Text normalisation shared by every backend: truncation, NUL replacement and case folding.

/// Replaces NUL characters (which no SQL backend stores) with U+FFFD and truncates `value` to at
/// most `max_chars` characters, cutting on a character boundary.
pub fn normalize(value: &str, max_chars: usize) -> Box<str> {
    normalized(value, max_chars).into()
}

/// Like [`normalize`], borrowing `value` when it is already normal.
pub fn normalized(value: &str, max_chars: usize) -> std::borrow::Cow<'_, str> {
    let cut = if value.len() <= max_chars {
        value.len()
    } else {
        value
            .char_indices()
            .nth(max_chars)
            .map_or(value.len(), |(at, _)| at)
    };
    let kept = &value[..cut];
    if kept.contains('\0') {
        std::borrow::Cow::Owned(kept.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(kept)
    }
}

/// Folds case the way every backend must for wildcard filters and free-text search: each
/// character is lower-cased on its own with full Unicode rules (`ÄRGER` folds to `ärger`).
///
/// Folding character by character (unlike [`str::to_lowercase`], which lower-cases a final
/// `Σ` to `ς`) keeps folding compatible with substrings: the fold of a part of a text is a part
/// of the fold of the text, which free-text search relies on.
pub fn fold(value: &str) -> String {
    if value.is_ascii() {
        value.to_ascii_lowercase()
    } else {
        value.chars().flat_map(char::to_lowercase).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_cuts_on_a_boundary() {
        assert_eq!(&*normalize("äöü", 2), "äö");
        assert_eq!(&*normalize("abc", 3), "abc");
        assert_eq!(&*normalize("", 3), "");
    }

    #[test]
    fn nul_is_replaced() {
        assert_eq!(&*normalize("a\0b", 10), "a\u{FFFD}b");
    }

    #[test]
    fn folding_is_unicode_aware() {
        assert_eq!(fold("ÄRGER"), "ärger");
        assert_eq!(fold("Straße"), "straße");
        assert_eq!(fold("plain"), "plain");
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
    }
}
