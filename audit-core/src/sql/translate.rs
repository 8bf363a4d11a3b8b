//! Translation of an [`AuditQuery`] into sea-query statements with bound values.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, Order, Query, SelectStatement, Value};

use crate::column::{Column, ColumnKind};
use crate::event::SortValue;
use crate::query::{AuditQuery, Condition, Cursor, Direction, Field, Page, TextMatch};
use crate::sql::row::folded_column_name;

/// What a SQL engine does its own way.
pub trait SqlDialect: Send + Sync {
    /// The text value of `key` in the JSON object held by `column` (`extra` or `extra_folded`),
    /// or NULL when the object or the key is missing. `key` must be bound, never spliced.
    fn json_field(&self, column: &str, key: &str) -> Expr;

    /// An optional index lookup that keeps at least every row with a text column containing
    /// `needle` (already folded, at least three characters long). The exact check follows it,
    /// so the lookup may keep more rows than that.
    fn text_prefilter(&self, needle: &str) -> Option<Expr> {
        let _ = needle;
        None
    }

    /// An optional condition, true for every stored row, that lets the engine reach the rows
    /// where text `column` equals a value through an index (one that does not lead with the
    /// column). It is joined to the equality with AND.
    fn equality_lookup(&self, column: Column) -> Option<Expr> {
        let _ = column;
        None
    }
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

/// Escapes `\`, `%` and `_` for a `LIKE ... ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `LIKE` pattern (escape `\`) for a wildcard whose folded literal runs are `segments`.
pub fn like_pattern(segments: &[String]) -> String {
    segments
        .iter()
        .map(|s| escape_like(s))
        .collect::<Vec<_>>()
        .join("%")
}

/// The `LIKE` pattern (escape `\`) for text containing the folded `needle`.
pub fn like_contains(needle: &str) -> String {
    format!("%{}%", escape_like(needle))
}

fn like(expr: Expr, pattern: String) -> Expr {
    expr.like(LikeExpr::new(pattern).escape('\\'))
}

/// The folded form of a text column: its shadow where folding changed it, else the value.
fn folded_text(column: Column) -> Expr {
    Func::coalesce([col(&folded_column_name(column)), col(column.name())]).into()
}

fn text_value(field: &Field, folded: bool, dialect: &dyn SqlDialect) -> Expr {
    match field {
        Field::Column(column) if folded => folded_text(*column),
        Field::Column(column) => col(column.name()),
        Field::Extra(key) if folded => Func::coalesce([
            dialect.json_field("extra_folded", key),
            dialect.json_field("extra", key),
            Expr::val(""),
        ])
        .into(),
        Field::Extra(key) => {
            Func::coalesce([dialect.json_field("extra", key), Expr::val("")]).into()
        }
    }
}

fn micros(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

fn condition(
    condition: &Condition,
    dialect: &dyn SqlDialect,
    prefilters: &mut Vec<String>,
) -> Expr {
    match condition {
        Condition::Text {
            field: Field::Column(column),
            matcher,
            negated,
        } if column.text_index().is_none() => {
            // A column that is not text reads as the empty string, as in the reference model.
            let hit = match matcher {
                TextMatch::Exact(value) => value.is_empty(),
                TextMatch::Pattern(pattern) => pattern.matches(""),
            };
            Expr::cust(if hit != *negated {
                "(1 = 1)"
            } else {
                "(1 = 0)"
            })
        }
        Condition::Text {
            field,
            matcher,
            negated,
        } => {
            let test = match matcher {
                TextMatch::Exact(value) => {
                    let equal = text_value(field, false, dialect).eq(value.as_str());
                    let lookup = match field {
                        Field::Column(column) if !negated => dialect.equality_lookup(*column),
                        _ => None,
                    };
                    match lookup {
                        Some(lookup) => lookup.and(equal),
                        None => equal,
                    }
                }
                TextMatch::Pattern(pattern) => {
                    if !negated && matches!(field, Field::Column(_)) {
                        if let Some(longest) =
                            pattern.segments().iter().max_by_key(|s| s.chars().count())
                        {
                            if longest.chars().count() >= 3 {
                                prefilters.push(longest.clone());
                            }
                        }
                    }
                    like(
                        text_value(field, true, dialect),
                        like_pattern(pattern.segments()),
                    )
                }
            };
            if *negated { test.not() } else { test }
        }
        Condition::Success(value) => col(Column::Success.name()).eq(*value),
        Condition::Id { id, negated } => {
            let id_col = col(Column::Id.name());
            if *negated {
                id_col.ne(*id)
            } else {
                id_col.eq(*id)
            }
        }
        Condition::Time {
            column,
            range,
            negated,
        } => {
            let target = col(column.name());
            let mut test = target.clone().is_not_null();
            if let Some(from) = range.from {
                test = test.and(target.clone().gte(micros(from)));
            }
            if let Some(to) = range.to {
                test = test.and(target.lt(micros(to)));
            }
            if *negated { test.not() } else { test }
        }
        Condition::Any {
            conditions,
            negated,
        } => {
            // An index lookup inside one alternative would drop the rows of the others.
            let mut inner_prefilters = Vec::new();
            let test = conditions
                .iter()
                .map(|c| self::condition(c, dialect, &mut inner_prefilters))
                .reduce(ExprTrait::or)
                .unwrap_or_else(|| Expr::cust("(1 = 0)"));
            if *negated { test.not() } else { test }
        }
    }
}

/// The needles [`where_clause`] hands to [`SqlDialect::text_prefilter`] for `query`: the free
/// text, and the longest literal run of each top-level wildcard filter on a text column, when
/// they are at least three characters long. A backend may look at how many entries each would
/// select before it builds the statement (and leave out a lookup that selects too many).
pub fn prefilter_needles(query: &AuditQuery) -> Vec<String> {
    let mut needles: Vec<String> = query
        .conditions()
        .iter()
        .filter_map(|condition| match condition {
            Condition::Text {
                field: Field::Column(column),
                matcher: TextMatch::Pattern(pattern),
                negated: false,
            } if column.text_index().is_some() => pattern
                .segments()
                .iter()
                .max_by_key(|s| s.chars().count())
                .filter(|s| s.chars().count() >= 3)
                .cloned(),
            _ => None,
        })
        .collect();
    if let Some(needle) = query.find_text() {
        if needle.chars().count() >= 3 {
            needles.push(needle.to_owned());
        }
    }
    needles
}

/// The WHERE condition of `query` run at `now`, or `None` when it selects everything.
pub fn where_clause(
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> Option<Expr> {
    let mut parts: Vec<Expr> = Vec::new();
    let mut prefilters: Vec<String> = Vec::new();
    let range = query.effective_range(now);
    if let Some(from) = range.from {
        parts.push(col(Column::Date.name()).gte(micros(from)));
    }
    if let Some(to) = range.to {
        parts.push(col(Column::Date.name()).lt(micros(to)));
    }
    for c in query.conditions() {
        parts.push(condition(c, dialect, &mut prefilters));
    }
    if let Some(needle) = query.find_text() {
        if needle.chars().count() >= 3 {
            prefilters.push(needle.to_owned());
        }
        let pattern = like_contains(needle);
        let any = Column::TEXT
            .iter()
            .filter(|c| query.searches(**c))
            .map(|c| like(folded_text(*c), pattern.clone()))
            .reduce(ExprTrait::or)
            .unwrap_or_else(|| Expr::cust("(1 = 0)"));
        parts.push(any);
    }
    // Index lookups go first so the engine can start from them.
    let mut lookups: Vec<Expr> = prefilters
        .iter()
        .filter_map(|n| dialect.text_prefilter(n))
        .collect();
    lookups.extend(parts);
    lookups.into_iter().reduce(ExprTrait::and)
}

/// The expression a column sorts by: missing optional values sort first, as `i64::MIN`.
fn sort_expr(column: Column) -> Expr {
    match column.kind() {
        ColumnKind::Duration => Func::coalesce([col(column.name()), Expr::val(i64::MIN)]).into(),
        ColumnKind::Timestamp if column == Column::StartDate => {
            Func::coalesce([col(column.name()), Expr::val(i64::MIN)]).into()
        }
        _ => col(column.name()),
    }
}

fn key_value(key: &SortValue) -> Value {
    match key {
        SortValue::Integer(v) => Value::BigInt(Some(*v)),
        SortValue::OptionalInteger(v) => Value::BigInt(Some(v.unwrap_or(i64::MIN))),
        SortValue::Bool(v) => Value::Bool(Some(*v)),
        SortValue::Text(v) => Value::String(Some(v.clone())),
    }
}

/// Entries strictly beyond `cursor` in its order, as a row-value comparison
/// `(key, id) > (?, ?)` that engines answer from an index on the sort column.
fn keyset(cursor: &Cursor) -> Expr {
    let column = cursor.sort().column();
    let position = Expr::tuple([sort_expr(column), col(Column::Id.name())]);
    let bound = Expr::tuple([Expr::val(key_value(cursor.key())), Expr::val(cursor.id())]);
    match cursor.sort().direction() {
        Direction::Asc => position.gt(bound),
        Direction::Desc => position.lt(bound),
    }
}

/// The columns a page reads, in the order of [`StoredRow`](crate::sql::StoredRow).
pub fn select_columns() -> Vec<Alias> {
    let mut names = vec![Alias::new("id"), Alias::new("date"), Alias::new("success")];
    names.extend(Column::TEXT.iter().map(|c| Alias::new(c.name())));
    names.extend([
        Alias::new("start_date"),
        Alias::new("duration"),
        Alias::new("extra"),
    ]);
    names
}

/// The statement reading one page of `query` from `table`: the columns of
/// [`StoredRow`](crate::sql::StoredRow) in its order.
pub fn page_statement(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select.columns(select_columns()).from(Alias::new(table));
    select_page(&mut select, query, now, dialect);
    select
}

/// [`page_statement`] with a late row lookup: an inner statement finds the ids of the page,
/// reading and sorting only what the filter and the sort need, and the outer one reads those
/// rows by id, in no particular order: put them in order with
/// [`Sort::arrange`](crate::query::Sort::arrange). Engines that sort or skip whole rows (SQLite
/// builds its sorter from every selected column, and steps over an `OFFSET` row by row) then
/// move a sort key and an id per entry instead of the entry.
pub fn page_statement_by_ids(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(select_columns())
        .from(Alias::new(table))
        .and_where(
            col(Column::Id.name()).in_subquery(page_ids_statement(table, query, now, dialect)),
        );
    select
}

/// Every entry of `table` that matches `query` (its page is ignored), in the query's order:
/// the columns of [`StoredRow`](crate::sql::StoredRow), for a backend that streams an export
/// from one statement (see [`AuditStore::export_stream`](crate::AuditStore::export_stream)).
pub fn export_statement(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = crate::sql::filtered_selection(table, query, now, dialect);
    select.columns(select_columns());
    order_page(&mut select, query);
    select
}

/// The ids of one page of `query`, in the page's order: the inner statement of
/// [`page_statement_by_ids`]. Read the rows with [`entries_statement`].
pub fn page_ids_statement(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut ids = Query::select();
    ids.column(Alias::new("id")).from(Alias::new(table));
    select_page(&mut ids, query, now, dialect);
    ids
}

/// The id and the sort key of every entry `query` selects, in no order and without its page:
/// for an engine that counts the entries and keeps a page's worth of the first ones itself, in
/// one pass. The key is an integer, or text for text columns.
pub fn sort_key_statement(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = crate::sql::filtered_selection(table, query, now, dialect);
    select
        .column(Alias::new("id"))
        .expr(sort_expr(query.sort_order().column()));
    select
}

/// The entries of `table` with these ids, in no order; the columns of
/// [`StoredRow`](crate::sql::StoredRow) in its order, as [`page_statement`].
pub fn entries_statement(table: &str, ids: &[i64]) -> SelectStatement {
    let mut select = Query::select();
    select
        .columns(select_columns())
        .from(Alias::new(table))
        .and_where(col(Column::Id.name()).is_in(ids.iter().copied()));
    select
}

/// The sort of `query` and then the id, which makes the order total.
fn order_page(select: &mut SelectStatement, query: &AuditQuery) {
    let sort = query.sort_order();
    let order = match sort.direction() {
        Direction::Asc => Order::Asc,
        Direction::Desc => Order::Desc,
    };
    if sort.column() != Column::Id {
        select.order_by_expr(sort_expr(sort.column()), order.clone());
    }
    select.order_by(Alias::new("id"), order);
}

/// The filter, order, limit and offset of one page of `query`.
fn select_page(
    select: &mut SelectStatement,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) {
    if let Some(filter) = where_clause(query, now, dialect) {
        select.and_where(filter);
    }
    let (start, count) = match query.page_spec() {
        Page::Offset { start, count } => (*start, *count),
        Page::After { cursor, count } => {
            select.and_where(keyset(cursor));
            (0, *count)
        }
    };
    order_page(select, query);
    select.limit(u64::from(count));
    if start > 0 {
        // Engines take a signed 64-bit offset; anything beyond it is past every result anyway.
        select.offset(Ord::min(start, i64::MAX.unsigned_abs()));
    }
}

/// The statement counting the entries of `table` that match `query` at `now`.
pub fn count_statement(
    table: &str,
    query: &AuditQuery,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr(Expr::col(sea_query::Asterisk).count())
        .from(Alias::new(table));
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
            Expr::cust_with_values(
                format!("json_extract(\"{column}\", ?)"),
                [format!("$.\"{key}\"")],
            )
        }
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let query = AuditQuery::new()
            .filter("user", "x' OR 1=1 --")
            .and_then(|q| q.filter("description", "*50%_off*"))
            .and_then(|q| q.find("drop table"))
            .unwrap_or_default();
        let (sql, values) =
            page_statement("audit_entries", &query, Utc::now(), &Plain).build(SqliteQueryBuilder);
        assert!(!sql.contains("OR 1=1"), "{sql}");
        assert!(!sql.contains("drop table"), "{sql}");
        assert!(
            values
                .0
                .contains(&Value::String(Some("x' OR 1=1 --".into())))
        );
        assert!(
            values
                .0
                .contains(&Value::String(Some("%50\\%\\_off%".into())))
        );
    }

    #[test]
    fn like_patterns_escape_sql_wildcards() {
        assert_eq!(
            like_pattern(&["".into(), "a%b_c\\".into(), "".into()]),
            "%a\\%b\\_c\\\\%"
        );
        assert_eq!(like_contains("ärger"), "%ärger%");
    }
}
