//! What SQLite does its own way in the shared SQL translation.

use audit_core::sql::SqlDialect;
use sea_query::Expr;

pub(crate) struct SqliteDialect {
    pub(crate) entries: String,
    pub(crate) search: Option<String>,
}

/// An FTS5 query that keeps rows containing every trigram of `needle`. Each trigram is quoted
/// as an FTS5 string (inner quotes doubled), so no character of the needle is syntax.
fn trigram_query(needle: &str) -> String {
    let chars: Vec<char> = needle.chars().collect();
    let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    trigrams.sort();
    trigrams.dedup();
    trigrams
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl SqlDialect for SqliteDialect {
    fn json_field(&self, column: &str, key: &str) -> Expr {
        let column = if column == "extra_folded" {
            "extra_folded"
        } else {
            "extra"
        };
        Expr::cust_with_values(
            format!(
                "(SELECT value FROM json_each(\"{}\".\"{column}\") WHERE key = ?)",
                self.entries
            ),
            [key.to_owned()],
        )
    }

    fn text_prefilter(&self, needle: &str) -> Option<Expr> {
        let search = self.search.as_ref()?;
        Some(Expr::cust_with_values(
            format!("\"id\" IN (SELECT rowid FROM \"{search}\" WHERE \"{search}\" MATCH ?)"),
            [trigram_query(needle)],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigram_queries_quote_every_trigram() {
        assert_eq!(trigram_query("abcd"), "\"abc\" AND \"bcd\"");
        assert_eq!(trigram_query("a\"b"), "\"a\"\"b\"");
    }
}
