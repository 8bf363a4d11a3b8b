//! Property tests: every parser of client input returns a value or a typed error for any input,
//! and never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use audit_core::query::{
    Condition, Cursor, Direction, Pattern, Sort, TimeLimit, parse_date_filter, parse_timestamp,
};
use audit_core::text::{fold, normalize};
use audit_core::{AuditEvent, Column, Error};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

fn column_names() -> impl Strategy<Value = String> {
    let mut names: Vec<String> = Column::ALL.iter().map(|c| c.name().to_owned()).collect();
    names.push("extra.ticket".into());
    names.push("extra.".into());
    proptest::sample::select(names)
}

fn client_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[!*]{0,2}[0-9T:.Z+ -]{0,30}[*]?",
        "[!]?[a-zA-ZäÄ%_\\\\*]{0,12}",
        "[0-9]{0,12}[smhdwy]?",
    ]
}

fn is_typed(error: &Error) -> bool {
    matches!(error, Error::InvalidQuery { parameter, .. } if !parameter.is_empty())
}

/// A plain dynamic-programming glob, to check the segment matcher against.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for p in pattern {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = if *p == '*' {
                row[j] || (j > 0 && next[j - 1])
            } else {
                j > 0 && row[j - 1] && text[j - 1] == *p
            };
        }
        row = next;
    }
    row[text.len()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn condition_parsing_never_panics(field in prop_oneof![column_names(), ".{0,20}"], value in client_text()) {
        if let Err(error) = Condition::parse(&field, &value) {
            prop_assert!(is_typed(&error), "{error:?}");
        }
    }

    #[test]
    fn time_limit_parsing_never_panics(text in client_text()) {
        if let Err(error) = text.parse::<TimeLimit>() {
            prop_assert!(is_typed(&error));
        }
    }

    #[test]
    fn date_filter_parsing_never_panics(text in client_text()) {
        if let Err(error) = parse_date_filter("date", &text) {
            prop_assert!(is_typed(&error));
        }
        let _ = parse_timestamp(&text);
    }

    #[test]
    fn sort_parsing_never_panics(column in prop_oneof![column_names(), ".{0,10}"], direction in ".{0,6}") {
        if let Err(error) = Sort::parse(&column, &direction) {
            prop_assert!(is_typed(&error));
        }
        let _ = direction.parse::<Direction>();
    }

    #[test]
    fn cursor_decoding_never_panics(text in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        for candidate in [text.clone(), URL_SAFE_NO_PAD.encode(&bytes), URL_SAFE_NO_PAD.encode(format!("1.{text}"))] {
            if let Err(error) = Cursor::decode(&candidate) {
                prop_assert!(is_typed(&error));
            }
        }
    }

    #[test]
    fn cursor_shaped_input_never_panics(column in column_names(), tag in "[inobt]", payload in ".{0,12}", id in any::<i64>()) {
        let plain = format!("1.{column}.desc.{id}.{tag}.{payload}");
        let _ = Cursor::decode(&URL_SAFE_NO_PAD.encode(plain));
    }

    #[test]
    fn wildcard_matching_agrees_with_a_plain_glob(pattern in "[ab*ä]{0,8}", text in "[abÄä]{0,10}") {
        let folded_pattern: Vec<char> = fold(&pattern).chars().collect();
        let folded_text: Vec<char> = fold(&text).chars().collect();
        prop_assert_eq!(Pattern::new(&pattern).matches(&text), glob(&folded_pattern, &folded_text));
    }

    #[test]
    fn normalising_truncates_on_a_boundary(text in ".{0,60}", limit in 0usize..70) {
        let cut = normalize(&text, limit);
        prop_assert!(cut.chars().count() <= limit);
        prop_assert!(!cut.contains('\0'));
        let plain: String = text.chars().take(limit).collect();
        prop_assert_eq!(cut.chars().count(), plain.chars().count());
    }

    #[test]
    fn events_accept_any_text(text in ".{0,300}", key in ".{0,80}") {
        let event = AuditEvent::new(&text).user(&text).description(&text).extra(&key, &text);
        for column in Column::TEXT {
            let limit = column.max_chars().unwrap_or(usize::MAX);
            prop_assert!(event.text(*column).chars().count() <= limit);
        }
    }
}
