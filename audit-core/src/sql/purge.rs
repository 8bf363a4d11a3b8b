//! The statements a purge runs, shared by the SQL backends: find where the next chunk starts,
//! read the chunk with each row's verdict, and count for a dry run.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};

use crate::event::AuditId;
use crate::retention::PurgeRequest;
use crate::sql::translate::{SqlDialect, select_columns, where_clause};

fn id() -> Expr {
    Expr::col(Alias::new("id"))
}

/// The first id above `after` (and below the request's bound) that the purge deletes.
pub fn purge_start_statement(
    table: &str,
    request: &PurgeRequest,
    after: AuditId,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select
        .column(Alias::new("id"))
        .from(Alias::new(table))
        .and_where(id().gt(after))
        .and_where(id().lt(request.below));
    if let Some(filter) = where_clause(&request.selection, now, dialect) {
        select.and_where(filter);
    }
    select.order_by(Alias::new("id"), Order::Asc).limit(1);
    select
}

/// Up to `request.chunk_rows` stored rows from `start` (and below `below`, at most the
/// request's bound) in id order, as the chain check reads them: the columns of
/// [`StoredRow`](crate::sql::StoredRow), then `seal_key`, `seal_mac`, and whether the purge
/// deletes the row (`doomed`, 1 or 0).
pub fn purge_scan_statement(
    table: &str,
    request: &PurgeRequest,
    start: AuditId,
    below: AuditId,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let verdict = match where_clause(&request.selection, now, dialect) {
        Some(filter) => Expr::case(filter, 1).finally(0).into(),
        None => Expr::val(1),
    };
    let mut select = Query::select();
    select
        .columns(select_columns())
        .columns([Alias::new("seal_key"), Alias::new("seal_mac")])
        .expr_as(verdict, Alias::new("doomed"))
        .from(Alias::new(table))
        .and_where(id().gte(start))
        .and_where(id().lt(Ord::min(below, request.below)))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(u64::from(Ord::max(request.chunk_rows, 1)));
    select
}

/// How many entries the purge would delete.
pub fn purge_count_statement(
    table: &str,
    request: &PurgeRequest,
    now: DateTime<Utc>,
    dialect: &dyn SqlDialect,
) -> SelectStatement {
    let mut select = Query::select();
    select
        .expr(Expr::col(sea_query::Asterisk).count())
        .from(Alias::new(table))
        .and_where(id().lt(request.below));
    if let Some(filter) = where_clause(&request.selection, now, dialect) {
        select.and_where(filter);
    }
    select
}
