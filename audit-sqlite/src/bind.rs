//! Binding sea-query's values to rusqlite: done here rather than through sea-query-rusqlite,
//! which pins an older rusqlite.

use audit_core::sql::RowValue;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use sea_query::Value;

/// One bound parameter.
pub(crate) struct Param(SqlValue);

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::from(&self.0)))
    }
}

/// The parameters of a statement built by sea-query.
pub(crate) fn params(values: &sea_query::Values) -> Vec<Param> {
    values.0.iter().map(|v| Param(convert(v))).collect()
}

fn convert(value: &Value) -> SqlValue {
    match value {
        Value::Bool(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::TinyInt(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::SmallInt(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::Int(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::BigInt(Some(v)) => SqlValue::Integer(*v),
        Value::TinyUnsigned(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::SmallUnsigned(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::Unsigned(Some(v)) => SqlValue::Integer(i64::from(*v)),
        Value::BigUnsigned(Some(v)) => SqlValue::Integer(i64::try_from(*v).unwrap_or(i64::MAX)),
        Value::Float(Some(v)) => SqlValue::Real(f64::from(*v)),
        Value::Double(Some(v)) => SqlValue::Real(*v),
        Value::String(Some(v)) => SqlValue::Text(v.clone()),
        Value::Char(Some(v)) => SqlValue::Text(v.to_string()),
        Value::Bytes(Some(v)) => SqlValue::Blob(v.clone()),
        _ => SqlValue::Null,
    }
}

/// One value of a stored row, bound without copying text.
pub(crate) fn row_value<'a>(value: &'a RowValue<'a>) -> ToSqlOutput<'a> {
    match value {
        RowValue::Int(v) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
        RowValue::OptionalInt(Some(v)) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
        RowValue::OptionalInt(None) | RowValue::OptionalText(None) => {
            ToSqlOutput::Owned(SqlValue::Null)
        }
        RowValue::Bool(v) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*v))),
        RowValue::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        RowValue::OptionalText(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
    }
}
