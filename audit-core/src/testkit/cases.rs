//! The named read cases: each pins one rule of DESIGN §3 against the reference model.

use chrono::TimeDelta;

use crate::column::Column;
use crate::error::Result;
use crate::query::{AuditQuery, Condition, Cursor, Direction, Field};
use crate::testkit::dataset::base_date;
use crate::testkit::reference::Reference;

/// One named query, and optionally the filter count the dataset's construction guarantees (a
/// check on the reference model itself).
pub(crate) struct ReadCase {
    pub(crate) name: String,
    pub(crate) query: Result<AuditQuery>,
    pub(crate) pinned_count: Option<u64>,
}

/// A named walk over a whole result, page by page.
pub(crate) struct WalkCase {
    pub(crate) name: String,
    pub(crate) query: Result<AuditQuery>,
    pub(crate) page_size: u32,
    pub(crate) by_cursor: bool,
}

fn case(name: &str, query: Result<AuditQuery>) -> ReadCase {
    ReadCase {
        name: name.to_owned(),
        query,
        pinned_count: None,
    }
}

fn pinned_case(name: &str, query: Result<AuditQuery>, count: usize) -> ReadCase {
    ReadCase {
        name: name.to_owned(),
        query,
        pinned_count: Some(count as u64),
    }
}

fn q() -> AuditQuery {
    AuditQuery::new()
}

fn filtered(field: &str, value: &str) -> Result<AuditQuery> {
    q().filter(field, value)?.offset(0, 100)
}

/// Alice's own entries in realm corp, as a self-service user sees them.
fn helpdesk_free_user() -> AuditQuery {
    crate::scope::Scope::user("alice", "corp").restrict(q())
}

/// Every named read case over the dataset.
pub(crate) fn read_cases(reference: &Reference) -> Vec<ReadCase> {
    let day = |d: i64| base_date() + TimeDelta::days(d);
    let tenth = reference.entries().get(9);
    let tenth_date = tenth.map(|e| e.date()).unwrap_or_default();
    let tenth_date_text = tenth_date.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let tenth_id = tenth.map_or(0, |e| e.id());
    let long_user = "u".repeat(256);
    let mut cases = vec![
        // Exact filters: equal, case-sensitive, every character literal.
        case(
            "exact_filter_matches_equal_value",
            filtered("user", "alice"),
        ),
        // A text condition built by hand on a column that is not text reads it as empty,
        // alone and under negation inside a group.
        case(
            "text_condition_on_a_non_text_column_reads_it_as_empty",
            q().condition(Condition::all(vec![
                Condition::equals(Field::Column(Column::Duration), ""),
                Condition::equals(Field::Column(Column::StartDate), "x").negate(),
            ]))
            .offset(0, 100),
        ),
        case(
            "text_condition_on_a_non_text_column_matches_no_other_value",
            q().condition(Condition::equals(Field::Column(Column::Duration), "5"))
                .offset(0, 100),
        ),
        pinned_case(
            "exact_filter_is_case_sensitive",
            filtered("user", "MIXED.CASE"),
            2,
        ),
        pinned_case(
            "exact_filter_other_case_variant",
            filtered("user", "Mixed.Case"),
            1,
        ),
        case(
            "exact_filter_on_event",
            filtered("event", "POST /validate/check"),
        ),
        case("exact_filter_on_realm", filtered("realm", "corp")),
        case("exact_filter_on_location", filtered("location", "::1")),
        pinned_case(
            "exact_filter_percent_is_literal",
            filtered("description", "100% sure"),
            2,
        ),
        pinned_case(
            "exact_filter_underscore_is_literal",
            filtered("description", "under_score"),
            1,
        ),
        case(
            "exact_filter_backslash_is_literal",
            filtered("user", "back\\slash"),
        ),
        case("exact_filter_non_ascii", filtered("user", "jürgen")),
        case("exact_filter_cjk", filtered("user", "用户")),
        case("exact_filter_on_extra", filtered("extra.ticket", "T-3")),
        case(
            "exact_filter_on_missing_extra_key",
            filtered("extra.nope", "x"),
        ),
        pinned_case(
            "exact_filter_matches_truncated_value",
            filtered("user", &long_user),
            1,
        ),
        pinned_case(
            "exact_filter_with_untruncated_value_matches_nothing",
            filtered("user", &"u".repeat(300)),
            0,
        ),
        pinned_case(
            "nul_is_stored_as_replacement_character",
            filtered("serial", "NUL\u{FFFD}SERIAL"),
            1,
        ),
        case(
            "exact_filter_on_value_with_quote_comma_newline",
            filtered("user", "quote\"comma,newline\nuser"),
        ),
        // Wildcards: case-insensitive with Unicode folding, only `*` is special.
        case("wildcard_prefix", filtered("user", "al*")),
        case("wildcard_suffix", filtered("event", "*/check")),
        case("wildcard_contains", filtered("event", "*validate*")),
        case("wildcard_middle", filtered("event", "POST*check")),
        case("wildcard_several_stars", filtered("event", "*o*t*e*")),
        case(
            "wildcard_is_case_insensitive_for_ascii",
            filtered("user", "ALI*"),
        ),
        pinned_case(
            "wildcard_is_case_insensitive_for_non_ascii",
            filtered("description", "*ÄRGER*"),
            6,
        ),
        pinned_case(
            "wildcard_lower_needle_finds_upper_text",
            filtered("description", "*ärger*"),
            6,
        ),
        pinned_case(
            "wildcard_mixed_case_needle",
            filtered("description", "*äRgEr*"),
            6,
        ),
        pinned_case(
            "wildcard_final_sigma_folds_like_sigma",
            filtered("description", "*οδοσ*"),
            1,
        ),
        pinned_case(
            "wildcard_dotted_capital_i_folds",
            filtered("description", "*i\u{307}stanbul*"),
            1,
        ),
        pinned_case(
            "wildcard_dotted_capital_i_in_needle",
            filtered("description", "İSTAN*"),
            1,
        ),
        pinned_case("wildcard_eszett", filtered("description", "STRASSE*"), 0),
        pinned_case(
            "wildcard_percent_is_literal",
            filtered("description", "*100%*"),
            2,
        ),
        pinned_case(
            "wildcard_underscore_is_literal",
            filtered("description", "under_*"),
            1,
        ),
        case("wildcard_backslash_is_literal", filtered("user", "*\\*")),
        pinned_case(
            "wildcard_star_in_value_matches_itself",
            filtered("description", "*star*name*"),
            1,
        ),
        case(
            "wildcard_percent_only_value",
            filtered("action_detail", "%*"),
        ),
        case(
            "wildcard_underscore_only_value",
            filtered("action_detail", "_*"),
        ),
        case("wildcard_on_extra", filtered("extra.ticket", "t-1*")),
        case(
            "wildcard_on_extra_non_ascii",
            filtered("extra.source", "*ärger*"),
        ),
        case("wildcard_on_location", filtered("location", "10.0.*")),
        pinned_case(
            "wildcard_on_long_truncated_value",
            filtered("description", "*xü"),
            0,
        ),
        pinned_case(
            "wildcard_matches_truncated_end",
            filtered("description", "xxx*x"),
            1,
        ),
        case("wildcard_without_match", filtered("user", "*zzzz*")),
        // Negation: a missing value satisfies a negated filter.
        case("negated_exact", filtered("user", "!alice")),
        case(
            "negated_exact_includes_missing_values",
            filtered("administrator", "!admin"),
        ),
        case(
            "negated_authentication",
            filtered("authentication", "!CHALLENGE"),
        ),
        case("negated_wildcard", filtered("event", "!*/auth*")),
        case(
            "negated_wildcard_is_case_insensitive",
            filtered("user", "!AL*"),
        ),
        case(
            "negated_extra_includes_missing_key",
            filtered("extra.ticket", "!T-1"),
        ),
        case("negated_success", filtered("success", "!1")),
        case("negated_id", filtered("id", &format!("!{tenth_id}"))),
        case("negated_date_prefix", filtered("date", "!2026-03-05*")),
        case(
            "negated_start_date_includes_missing",
            filtered("start_date", "!2026-03*"),
        ),
        // No filter.
        case("empty_value_is_no_filter", filtered("user", "")),
        case("star_only_value_is_no_filter", filtered("user", "***")),
        case(
            "negated_star_only_value_is_no_filter",
            filtered("user", "!*"),
        ),
        // Typed columns.
        case("success_true", filtered("success", "1")),
        case("success_false", filtered("success", "false")),
        case("id_exact", filtered("id", &tenth_id.to_string())),
        case("date_prefix_day", filtered("date", "2026-03-05*")),
        case("date_prefix_month", filtered("date", "2026-04*")),
        case("date_prefix_hour", filtered("date", "2026-03-10T14*")),
        pinned_case("date_prefix_other_year", filtered("date", "2025*"), 0),
        case("date_exact_timestamp", filtered("date", &tenth_date_text)),
        case("start_date_prefix", filtered("start_date", "2026-03-20*")),
        // Time ranges: from inclusive, to exclusive.
        case("range_from_only", Ok(q().from(day(30)))),
        case("range_to_only", Ok(q().to(day(3)))),
        case("range_from_and_to", Ok(q().from(day(10)).to(day(12)))),
        case(
            "range_from_is_inclusive",
            q().from(tenth_date)
                .to(tenth_date + TimeDelta::microseconds(1))
                .offset(0, 100),
        ),
        case(
            "range_to_is_exclusive",
            Ok(q().from(tenth_date - TimeDelta::seconds(1)).to(tenth_date)),
        ),
        pinned_case(
            "range_empty_when_from_equals_to",
            Ok(q().from(day(5)).to(day(5))),
            0,
        ),
        pinned_case(
            "range_empty_when_inverted",
            Ok(q().from(day(9)).to(day(5))),
            0,
        ),
        case(
            "range_with_date_prefix",
            q().from(day(4)).filter("date", "2026-03-05*"),
        ),
        // Free text: case-insensitive substring over every text column; nothing is special.
        case("find_plain", q().find("validate")),
        pinned_case("find_folds_non_ascii", q().find("ÄRGER"), 6),
        case("find_percent_is_literal", q().find("100%")),
        pinned_case("find_underscore_is_literal", q().find("under_"), 1),
        pinned_case("find_star_is_literal", q().find("star*"), 1),
        case("find_backslash_is_literal", q().find("\\")),
        case("find_matches_any_column", q().find("db8::")),
        case("find_one_character", q().find("z")),
        case("find_two_characters", q().find("öl")),
        pinned_case("find_nothing", q().find("no such text anywhere"), 0),
        case(
            "find_with_filter",
            q().find("token").and_then(|q| q.filter("success", "0")),
        ),
        case("find_does_not_search_extra", q().find("t-all")),
        case("find_across_a_line_break", q().find("one\r\nline")),
        // Combinations: every condition must hold.
        case(
            "two_filters_combine_with_and",
            q().filter("realm", "corp")
                .and_then(|q| q.filter("success", "1")),
        ),
        case(
            "three_filters_with_negation",
            q().filter("event", "POST*")
                .and_then(|q| q.filter("authentication", "!ACC*"))
                .and_then(|q| q.filter("date", "2026-03*")),
        ),
        case(
            "same_field_twice",
            q().filter("user", "a*")
                .and_then(|q| q.filter("user", "!alice")),
        ),
        case(
            "typed_condition",
            Ok(q()
                .condition(Condition::equals(Field::Column(Column::Server), "pi-node2"))
                .from(day(20))),
        ),
        // Paging.
        case("offset_first_page", q().offset(0, 15)),
        case("offset_middle_page", q().offset(1_000, 25)),
        case("offset_last_partial_page", q().offset(2_390, 25)),
        pinned_case("offset_beyond_the_end", q().offset(5_000, 25), 2_400),
        case("count_zero_gives_counts_only", q().offset(0, 0)),
        case("page_number_three", q().page(3, 15)),
        case(
            "page_with_filter",
            q().filter("success", "0").and_then(|q| q.page(2, 20)),
        ),
        case("large_page", q().offset(0, 10_000)),
    ];
    for column in Column::ALL.iter().copied().filter(|c| c.is_sortable()) {
        for direction in [Direction::Asc, Direction::Desc] {
            let name = format!("sort_by_{}_{}", column.name(), direction.as_str());
            cases.push(case(
                &name,
                q().sort(column, direction).and_then(|q| q.offset(0, 60)),
            ));
        }
    }
    cases.push(case(
        "sort_deep_page_with_ties",
        q().sort(Column::Success, Direction::Asc)
            .and_then(|q| q.offset(1_500, 40)),
    ));
    cases.push(case(
        "sort_filtered_by_text",
        q().filter("realm", "!corp")
            .and_then(|q| q.sort(Column::User, Direction::Desc))
            .and_then(|q| q.offset(10, 50)),
    ));
    // Alternatives, as scopes use them: these realms, or what this administrator wrote.
    let realm = |r: &str| Condition::equals(Field::Column(Column::Realm), r);
    let scope = Condition::any(vec![
        realm("corp"),
        realm("engineering"),
        Condition::equals(Field::Column(Column::Administrator), "admin"),
    ]);
    cases.push(case(
        "any_of_realms_or_administrator",
        q().condition(scope.clone()).offset(0, 100),
    ));
    cases.push(case(
        "any_of_narrowed_by_a_client_filter",
        q().condition(scope.clone())
            .filter("realm", "!corp")
            .and_then(|q| q.filter("user", "*Ü*"))
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "any_of_with_wildcards_and_free_text",
        q().condition(Condition::any(vec![
            Condition::like(Field::Column(Column::Description), "*ärger*"),
            Condition::like(Field::Extra("ticket".into()), "T-1*"),
        ]))
        .find("a")
        .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "any_of_trigram_alternatives_keeps_both",
        q().condition(Condition::any(vec![
            Condition::like(Field::Column(Column::Description), "*ärger*"),
            Condition::like(Field::Column(Column::Description), "*100%*"),
        ]))
        .offset(0, 100),
    ));
    cases.push(case(
        "any_of_nothing_matches_nothing",
        q().condition(Condition::any(Vec::new())).offset(0, 10),
    ));
    cases.push(case(
        "free_text_skips_hidden_columns",
        q().find("ärger")
            .map(|q| q.search_without(&[Column::Description]))
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "free_text_over_no_column_matches_nothing",
        q().find("a")
            .map(|q| q.search_without(Column::TEXT))
            .and_then(|q| q.offset(0, 100)),
    ));
    // Scopes: the page, the filter count and the total count all stay inside the scope.
    let helpdesk = crate::scope::Scope::realms(["corp", "engineering"]).with_own_entries("admin");
    cases.push(case(
        "scope_realms_and_own_entries",
        q().filter("user", "*a*")
            .map(|q| helpdesk.restrict(q))
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "scope_client_filter_cannot_widen",
        q().filter("realm", "external")
            .map(|q| helpdesk.restrict(q))
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "scope_self_service_user",
        helpdesk_free_user().offset(0, 100),
    ));
    cases.push(case(
        "scope_maximum_age",
        "250d"
            .parse()
            .map(|age| crate::scope::Scope::everything().max_age(age).restrict(q()))
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "scope_hidden_column_is_not_searched",
        q().find("ärger")
            .map(|q| {
                crate::scope::Scope::everything()
                    .hide(Column::Description)
                    .restrict(q)
            })
            .and_then(|q| q.offset(0, 100)),
    ));
    cases.push(case(
        "negated_any_of",
        q().condition(scope.negate()).offset(0, 100),
    ));
    // Pages of thousands of entries, as exports read them: a backend may read those
    // differently (in parts, at once) and must still keep the order, ties included.
    cases.push(case(
        "large_page_sorted_by_user_with_ties",
        q().sort(Column::User, Direction::Desc)
            .and_then(|q| q.offset(37, 2_300)),
    ));
    cases.push(case(
        "large_page_after_a_cursor",
        q().sort(Column::Realm, Direction::Asc).and_then(|q| {
            match reference.matching(&q, chrono::Utc::now()).get(49) {
                Some(fiftieth) => {
                    let cursor = Cursor::after_entry(fiftieth, q.sort_order());
                    q.after(cursor, 2_200)
                }
                None => q.offset(0, 2_200),
            }
        }),
    ));
    cases
}

/// Walks over whole results: cursor and offset pages must together give exactly the full
/// order, with no entry twice and none missing.
pub(crate) fn walk_cases() -> Vec<WalkCase> {
    let walk = |name: &str, query: Result<AuditQuery>, page_size: u32, by_cursor: bool| WalkCase {
        name: name.to_owned(),
        query,
        page_size,
        by_cursor,
    };
    vec![
        walk("cursor_walk_date_desc", Ok(q()), 97, true),
        walk(
            "cursor_walk_date_asc",
            q().sort(Column::Date, Direction::Asc),
            250,
            true,
        ),
        walk(
            "cursor_walk_id_asc",
            q().sort(Column::Id, Direction::Asc),
            333,
            true,
        ),
        walk(
            "cursor_walk_user_with_ties",
            q().sort(Column::User, Direction::Asc),
            61,
            true,
        ),
        walk(
            "cursor_walk_success_two_values",
            q().sort(Column::Success, Direction::Desc),
            200,
            true,
        ),
        walk(
            "cursor_walk_duration_with_missing",
            q().sort(Column::Duration, Direction::Asc),
            150,
            true,
        ),
        walk(
            "cursor_walk_start_date_desc",
            q().sort(Column::StartDate, Direction::Desc),
            150,
            true,
        ),
        walk(
            "cursor_walk_filtered",
            q().filter("event", "*validate*")
                .and_then(|q| q.sort(Column::Realm, Direction::Asc)),
            45,
            true,
        ),
        walk(
            "cursor_walk_page_of_one",
            q().filter("user", "MIXED.CASE"),
            1,
            true,
        ),
        walk("offset_walk_date_desc", Ok(q()), 400, false),
        walk(
            "offset_walk_description_asc",
            q().sort(Column::Description, Direction::Asc),
            300,
            false,
        ),
    ]
}
