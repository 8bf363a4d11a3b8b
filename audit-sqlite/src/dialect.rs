//! What SQLite does its own way in the shared SQL translation.

use audit_core::Column;
use audit_core::sql::SqlDialect;
use sea_query::Expr;

#[derive(Clone)]
pub(crate) struct SqliteDialect {
    pub(crate) entries: String,
    pub(crate) search: Option<String>,
    /// Needles whose lookup in the search index would select so many entries that scanning
    /// is faster: no lookup is made for them.
    pub(crate) broad: Vec<String>,
    /// When set, `(after, up_to]`: search-index lookups keep only the entries with ids in this
    /// range, for a statement restricted to it (see [`crate::count`]).
    pub(crate) ids: Option<(i64, i64)>,
}

/// A wildcard's lookup selecting more than this share of the entries (1 in 15) is left out.
/// Measured at 1,000,000 rows, whole listings (page and both counts) through the index against
/// by scanning the column: `action=*validate*` (700,000 matches) 366 ms against 129 ms,
/// `info=*otp*` (79,000) 272 ms against 136 ms, `serial=TOTP0278*` (53,000) 83 ms against
/// 116 ms; a rare term stays at a few milliseconds through the index. Counting free text keeps
/// its lookup: scanning every text column costs more than the index even for common words
/// (`find=token`, 621,000 matches: 289 ms against 348 ms). A page of common free text in id or
/// date order scans (5 ms against 77 ms): the scan stops at the page's last entry.
pub(crate) const BROAD_SHARE: u64 = 15;

/// The needles among `needles` whose lookup selects more than one entry in [`BROAD_SHARE`]
/// of `total`: each is counted up to that bound, so a broad needle costs a bounded read.
pub(crate) fn broad_needles(
    conn: &rusqlite::Connection,
    search: &str,
    needles: &[String],
    total: u64,
) -> rusqlite::Result<Vec<String>> {
    let bound = i64::try_from(total / BROAD_SHARE).unwrap_or(i64::MAX);
    let mut probe = conn.prepare_cached(&format!(
        "SELECT count(*) FROM (SELECT 1 FROM \"{search}\" WHERE \"{search}\" MATCH ?1 LIMIT ?2)"
    ))?;
    let mut broad = Vec::new();
    for needle in needles {
        let found: i64 = probe
            .query_row(rusqlite::params![trigram_query(needle), bound + 1], |r| {
                r.get(0)
            })?;
        if found > bound {
            broad.push(needle.clone());
        }
    }
    Ok(broad)
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

impl SqliteDialect {
    /// For a statement over the ids `(after, up_to]` with free text `needle`: the search table
    /// to join on `rowid = id`, and the condition on it (the lookup and the id range); `None`
    /// when the needle is not looked up in the index. Driving the statement from the index
    /// saves the set of matching ids an `IN` lookup collects first: at 1,000,000 entries,
    /// counting half of `find=token` took 120 ms joined against 146 ms.
    pub(crate) fn search_join(
        &self,
        needle: &str,
        (after, up_to): (i64, i64),
    ) -> Option<(String, Expr)> {
        let search = self.search.as_ref()?;
        if needle.chars().count() < 3 || self.broad.iter().any(|b| b == needle) {
            return None;
        }
        Some((
            search.clone(),
            Expr::cust_with_values(
                format!(
                    "\"{search}\" MATCH ? AND \"{search}\".rowid > ? AND \"{search}\".rowid <= ?"
                ),
                [
                    sea_query::Value::from(trigram_query(needle)),
                    after.into(),
                    up_to.into(),
                ],
            ),
        ))
    }
}

/// Every id block from the oldest entry's to the newest's, for the user index (see
/// [`crate::schema::ID_BLOCK_BITS`]). It reads the ids in the statement's own snapshot, so it
/// holds every row the statement sees.
fn every_id_block(entries: &str) -> String {
    let bits = crate::schema::ID_BLOCK_BITS;
    format!(
        "{} IN (WITH RECURSIVE \"blocks\"(\"block\") AS (\
         SELECT (SELECT min(\"id\") FROM \"{entries}\") >> {bits} \
         UNION ALL SELECT \"block\" + 1 FROM \"blocks\" \
         WHERE \"block\" < (SELECT max(\"id\") FROM \"{entries}\") >> {bits}) \
         SELECT \"block\" FROM \"blocks\")",
        crate::schema::id_block()
    )
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

    /// The user index leads with the id block: an exact user filter seeks it in every block.
    fn equality_lookup(&self, column: Column) -> Option<Expr> {
        (column == Column::User).then(|| Expr::cust(every_id_block(&self.entries)))
    }

    fn text_prefilter(&self, needle: &str) -> Option<Expr> {
        let search = self.search.as_ref()?;
        if self.broad.iter().any(|b| b == needle) {
            return None;
        }
        let lookup = format!("SELECT rowid FROM \"{search}\" WHERE \"{search}\" MATCH ?");
        Some(match self.ids {
            None => Expr::cust_with_values(
                format!("\"id\" IN ({lookup})"),
                [sea_query::Value::from(trigram_query(needle))],
            ),
            Some((after, up_to)) => Expr::cust_with_values(
                format!("\"id\" IN ({lookup} AND rowid > ? AND rowid <= ?)"),
                [
                    sea_query::Value::from(trigram_query(needle)),
                    after.into(),
                    up_to.into(),
                ],
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `query`'s count and page on a new database, one line per step.
    fn plan_of(query: &audit_core::AuditQuery) -> Vec<String> {
        let names = crate::schema::Names::new("audit_");
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::schema::prepare(&mut conn, None, &names).unwrap();
        let dialect = SqliteDialect {
            entries: names.entries.clone(),
            search: None,
            broad: Vec::new(),
            ids: None,
        };
        let now = chrono::Utc::now();
        let statements = [
            audit_core::sql::count_statement(&names.entries, query, now, &dialect),
            audit_core::sql::page_statement_by_ids(&names.entries, query, now, &dialect),
        ];
        let mut lines = Vec::new();
        for statement in statements {
            let (sql, values) = statement.build(sea_query::SqliteQueryBuilder);
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let details = explain
                .query_map(
                    rusqlite::params_from_iter(crate::bind::params(&values)),
                    |r| r.get::<_, String>(3),
                )
                .unwrap();
            lines.extend(details.map(Result::unwrap));
        }
        lines
    }

    #[test]
    fn an_exact_user_filter_seeks_the_user_index_in_every_block() {
        let query = audit_core::AuditQuery::new()
            .filter("user", "alice")
            .unwrap();
        let plans = plan_of(&query);
        let seeks = plans
            .iter()
            .filter(|line| {
                line.contains("INDEX audit_entries_block_user_date (<expr>=? AND user=?")
            })
            .count();
        assert_eq!(seeks, 2, "{plans:#?}");
        // Another exact filter has an index of its own.
        let plans = plan_of(&audit_core::AuditQuery::new().filter("event", "x").unwrap());
        assert!(
            plans.iter().any(|l| l.contains("audit_entries_event_date")),
            "{plans:#?}"
        );
    }

    #[test]
    fn trigram_queries_quote_every_trigram() {
        assert_eq!(trigram_query("abcd"), "\"abc\" AND \"bcd\"");
        assert_eq!(trigram_query("a\"b"), "\"a\"\"b\"");
    }
}
