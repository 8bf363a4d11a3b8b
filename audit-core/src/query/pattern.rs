//! `*` wildcard patterns, matched case-insensitively on folded text.

use crate::text::fold;

/// A case-insensitive wildcard pattern: `*` matches any run of characters (including none) and
/// every other character, `%`, `_` and `\` included, matches itself.
///
/// Both the pattern and the text it is matched against are folded with [`fold`], so
/// `*ÄRGER*` matches `Ärger` and `ärger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    original: String,
    segments: Vec<String>,
}

impl Pattern {
    /// Compiles `pattern`; it should contain at least one `*` (without one it matches only the
    /// folded text itself).
    pub fn new(pattern: &str) -> Self {
        let folded = fold(pattern);
        Pattern {
            original: pattern.to_owned(),
            segments: folded.split('*').map(str::to_owned).collect(),
        }
    }

    /// The pattern as it was written.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The folded literal runs between the `*`s; the first and last are empty when the pattern
    /// starts or ends with `*`. A translation to SQL `LIKE` escapes each run and joins them with
    /// `%`.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the pattern matches every value (it is made only of `*`).
    pub fn matches_everything(&self) -> bool {
        self.segments.len() > 1 && self.segments.iter().all(String::is_empty)
    }

    /// Matches text that is already folded with [`fold`].
    pub fn matches_folded(&self, folded: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return folded.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return folded == first;
        };
        let Some(mut remaining) = folded.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(body) = remaining.strip_suffix(last.as_str()) else {
            return false;
        };
        remaining = body;
        for segment in middle.iter().filter(|s| !s.is_empty()) {
            match remaining.find(segment.as_str()) {
                Some(at) => remaining = &remaining[at + segment.len()..],
                None => return false,
            }
        }
        true
    }

    /// Matches text that is not folded yet.
    pub fn matches(&self, text: &str) -> bool {
        self.matches_folded(&fold(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_and_other_characters_are_literal() {
        let p = Pattern::new("a%*_b");
        assert!(p.matches("a%_b"));
        assert!(p.matches("a%xyz_b"));
        assert!(!p.matches("ax_b"));
        assert!(Pattern::new("*/auth*").matches("POST /auth"));
        assert!(!Pattern::new("ab*ba").matches("aba"));
        assert!(Pattern::new("ab*ba").matches("abba"));
    }

    #[test]
    fn wildcard_is_case_insensitive_for_non_ascii() {
        assert!(Pattern::new("*ÄRGER*").matches("großer ärger"));
        assert!(Pattern::new("ärg*").matches("ÄRGERLICH"));
    }

    #[test]
    fn only_stars_matches_everything() {
        assert!(Pattern::new("**").matches_everything());
        assert!(!Pattern::new("a*").matches_everything());
        assert!(Pattern::new("*").matches(""));
    }
}
