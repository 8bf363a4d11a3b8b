//! What every SQL backend's statistics start from: the filtered selection, with bound values,
//! and the bucket of each entry's date.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Expr, Query, SelectStatement};

use crate::query::AuditQuery;
use crate::sql::translate::{SqlDialect, where_clause};
use crate::stats::Bucket;

/// The start of an entry's bucket in microseconds, as [`Bucket::floor_micros`] computes it.
/// The width and offset are constants of the bucket, never input, so they are written into
/// the statement: the same expression then appears in `SELECT` and `GROUP BY`.
pub fn bucket_start(bucket: Bucket) -> Expr {
    let width = bucket.micros();
    let offset = bucket.offset_micros();
    Expr::cust(format!(
        "(\"date\" - (((\"date\" + {offset}) % {width} + {width}) % {width}))"
    ))
}

/// `SELECT … FROM table WHERE <the query's filter at now>` with nothing selected yet.
pub fn filtered_selection(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select.from(Alias::new(table));
    if let Some(filter) = where_clause(query, now, dialect) {
        select.and_where(filter);
    }
    select
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::SqliteQueryBuilder;

    struct Plain;

    impl SqlDialect for Plain {
        fn json_field(&self, column: &str, key: &str) -> Expr {
            Expr::cust_with_values(format!("json_extract(\"{column}\", ?)"), [key.to_owned()])
        }
    }

    #[test]
    fn the_selection_binds_the_filter_and_buckets_by_constants() {
        let query = AuditQuery::new()
            .filter("user", "x'; DROP")
            .unwrap_or_default();
        let mut select = filtered_selection("t", &query, Utc::now(), &Plain);
        select.expr(bucket_start(Bucket::Week));
        let (sql, values) = select.build(SqliteQueryBuilder);
        assert!(!sql.contains("DROP"), "{sql}");
        assert_eq!(values.0.len(), 1);
        let expression = "(\"date\" - (((\"date\" + 259200000000) % 604800000000 + 604800000000) % 604800000000))";
        assert!(sql.contains(expression), "{sql}");
    }
}
