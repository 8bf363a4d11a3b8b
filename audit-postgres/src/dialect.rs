//! What PostgreSQL does its own way in the shared SQL translation.

use audit_core::Column;
use audit_core::sql::{SqlDialect, folded_column_name, like_contains};
use sea_query::Expr;

/// The folded text of every text column of a row, separated by spaces: what the trigram index
/// holds and what its lookups test.
///
/// The index is on this expression rather than on a stored column, so the text is not kept
/// twice in the table; a lookup must spell the expression exactly like the index does for the
/// planner to use the index, so both come from here. Every part is immutable (`coalesce`, `||`),
/// as an index expression must be. The separator only lets a needle match across two columns
/// in the lookup, which the exact check that follows removes.
pub(crate) fn search_expression() -> String {
    let parts: Vec<String> = Column::TEXT
        .iter()
        .map(|c| format!("coalesce(\"{}\", \"{}\")", folded_column_name(*c), c.name()))
        .collect();
    format!("({})", parts.join(" || ' ' || "))
}

#[derive(Debug, Clone)]
pub(crate) struct PostgresDialect {
    /// Whether the trigram index exists, so that a lookup through it narrows the rows.
    pub(crate) trigram: bool,
    pub(crate) search: String,
}

impl PostgresDialect {
    pub(crate) fn new(trigram: bool) -> Self {
        PostgresDialect {
            trigram,
            search: search_expression(),
        }
    }
}

impl SqlDialect for PostgresDialect {
    fn json_field(&self, column: &str, key: &str) -> Expr {
        // Only the two JSON columns of the row layout; nothing given by a client is spliced.
        let column = if column == "extra_folded" {
            "extra_folded"
        } else {
            "extra"
        };
        // `->>` gives NULL for a missing object or key; code-point collation like every text
        // column, so exact and pattern matches compare bytes whatever the database's locale.
        Expr::cust_with_values(
            format!("((\"{column}\" ->> $1::text) COLLATE \"C\")"),
            [key.to_owned()],
        )
    }

    fn text_prefilter(&self, needle: &str) -> Option<Expr> {
        if !self.trigram {
            return None;
        }
        // LIKE's default escape character is the backslash `like_contains` escapes with; no
        // ESCAPE clause, so the lookup reads the same whatever `standard_conforming_strings` is.
        Some(Expr::cust_with_values(
            format!("{} LIKE $1", self.search),
            [like_contains(needle)],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_core::AuditQuery;
    use audit_core::sql::page_statement;
    use sea_query::{PostgresQueryBuilder, Value};

    #[test]
    fn the_search_expression_covers_every_text_column_folded() {
        let expression = search_expression();
        for column in Column::TEXT {
            assert!(
                expression.contains(&format!(
                    "coalesce(\"{}_folded\", \"{}\")",
                    column.name(),
                    column.name()
                )),
                "{column}"
            );
        }
    }

    #[test]
    fn lookups_and_extra_keys_are_bound() {
        let query = AuditQuery::new()
            .find("drop' table")
            .and_then(|q| q.filter("extra.k'); --", "*x*"))
            .unwrap_or_default();
        let (sql, values) = page_statement(
            "audit_entries",
            &query,
            chrono::Utc::now(),
            &PostgresDialect::new(true),
        )
        .build(PostgresQueryBuilder);
        assert!(!sql.contains("drop"), "{sql}");
        assert!(!sql.contains("k')"), "{sql}");
        assert!(
            sql.contains(&format!("{} LIKE $1", search_expression())),
            "{sql}"
        );
        assert!(
            values
                .0
                .contains(&Value::String(Some("%drop' table%".into())))
        );
        assert!(values.0.contains(&Value::String(Some("k'); --".into()))));
    }

    #[test]
    fn no_lookup_without_the_index() {
        assert!(PostgresDialect::new(false).text_prefilter("abc").is_none());
    }
}
