//! Binding sea-query's values and the stored row to tokio-postgres, done here rather than
//! through sea-query-postgres so that the driver's version is not pinned by sea-query's.
//!
//! Every parameter is sent with an explicit type (`query_typed`), so a statement is parsed,
//! planned with its actual values and run in one round trip, and no prepared statement piles up
//! on the server for each of the many query shapes a client can ask for.

use std::error::Error as StdError;

use audit_core::sql::RowValue;
use bytes::{BufMut, BytesMut};
use sea_query::Value;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

use crate::error::PostgresError;

type BoxError = Box<dyn StdError + Sync + Send>;

/// One bound parameter of a statement built by sea-query.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Bool(Option<bool>),
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl Param {
    /// The type the parameter is declared with.
    pub(crate) fn ty(&self) -> Type {
        match self {
            Param::Bool(_) => Type::BOOL,
            Param::Int(_) => Type::INT8,
            Param::Float(_) => Type::FLOAT8,
            Param::Text(_) => Type::TEXT,
            Param::Bytes(_) => Type::BYTEA,
        }
    }
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if *ty != self.ty() {
            return Err(format!("a {} parameter was declared as {ty}", self.ty()).into());
        }
        match self {
            Param::Bool(v) => v.to_sql(ty, out),
            Param::Int(v) => v.to_sql(ty, out),
            Param::Float(v) => v.to_sql(ty, out),
            Param::Text(v) => v.to_sql(ty, out),
            Param::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::BOOL,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::BYTEA,
        ]
        .contains(ty)
    }

    to_sql_checked!();
}

/// Converts one sea-query value; unsigned values beyond `i64` are clamped, which only LIMIT and
/// OFFSET can produce and where anything that large is past every result anyway.
fn convert(value: &Value) -> Result<Param, PostgresError> {
    Ok(match value {
        Value::Bool(v) => Param::Bool(*v),
        Value::TinyInt(v) => Param::Int(v.map(i64::from)),
        Value::SmallInt(v) => Param::Int(v.map(i64::from)),
        Value::Int(v) => Param::Int(v.map(i64::from)),
        Value::BigInt(v) => Param::Int(*v),
        Value::TinyUnsigned(v) => Param::Int(v.map(i64::from)),
        Value::SmallUnsigned(v) => Param::Int(v.map(i64::from)),
        Value::Unsigned(v) => Param::Int(v.map(i64::from)),
        Value::BigUnsigned(v) => Param::Int(v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))),
        Value::Float(v) => Param::Float(v.map(f64::from)),
        Value::Double(v) => Param::Float(*v),
        Value::String(v) => Param::Text(v.clone()),
        Value::Char(v) => Param::Text(v.map(String::from)),
        Value::Bytes(v) => Param::Bytes(v.clone()),
        other => {
            return Err(PostgresError::Bind(format!(
                "the query holds a value this store cannot bind: {other:?}"
            )));
        }
    })
}

/// The parameters of a statement built by sea-query.
pub(crate) fn params(values: &sea_query::Values) -> Result<Vec<Param>, PostgresError> {
    values.0.iter().map(convert).collect()
}

/// The parameters with their types, as `query_typed` takes them.
pub(crate) fn typed(params: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), p.ty()))
        .collect()
}

/// The `jsonb` binary format: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

/// One value of a stored row, written by binary COPY without copying text.
pub(crate) struct Cell<'a>(pub(crate) &'a RowValue<'a>);

impl std::fmt::Debug for Cell<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (self.0, ty) {
            (RowValue::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (RowValue::OptionalInt(v), &Type::INT8) => v.to_sql(ty, out),
            (RowValue::Bool(v), &Type::BOOL) => v.to_sql(ty, out),
            (RowValue::Text(v), &Type::TEXT) => v.to_sql(ty, out),
            (RowValue::OptionalText(None), &Type::TEXT | &Type::JSONB) => Ok(IsNull::Yes),
            (RowValue::OptionalText(Some(v)), &Type::TEXT) => v.to_sql(ty, out),
            (RowValue::OptionalText(Some(v)), &Type::JSONB) => {
                out.put_u8(JSONB_VERSION);
                out.put_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            (value, ty) => Err(format!("cannot write {value:?} into a {ty} column").into()),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::BOOL, Type::TEXT, Type::JSONB].contains(ty)
    }

    to_sql_checked!();
}

/// JSON read back as its text, from a `jsonb` (or `json`) column.
#[derive(Debug)]
pub(crate) struct JsonText(pub(crate) String);

impl<'a> FromSql<'a> for JsonText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let text = if *ty == Type::JSONB {
            match raw.split_first() {
                Some((&JSONB_VERSION, rest)) => rest,
                _ => return Err("unknown jsonb format version".into()),
            }
        } else {
            raw
        };
        Ok(JsonText(std::str::from_utf8(text)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        [Type::JSONB, Type::JSON].contains(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_types() {
        let values = sea_query::Values(vec![
            Value::Bool(Some(true)),
            Value::BigInt(Some(-5)),
            Value::BigUnsigned(Some(u64::MAX)),
            Value::String(Some("x".into())),
        ]);
        let params = params(&values).unwrap_or_default();
        let types: Vec<Type> = params.iter().map(Param::ty).collect();
        assert_eq!(types, [Type::BOOL, Type::INT8, Type::INT8, Type::TEXT]);
        assert!(matches!(params[2], Param::Int(Some(i64::MAX))));
    }

    #[test]
    fn a_parameter_refuses_another_declared_type() {
        let mut out = BytesMut::new();
        assert!(Param::Int(Some(1)).to_sql(&Type::TEXT, &mut out).is_err());
        assert!(
            Cell(&RowValue::Int(1))
                .to_sql(&Type::TEXT, &mut out)
                .is_err()
        );
    }

    #[test]
    fn jsonb_is_written_and_read_with_its_version_byte() {
        let value = RowValue::OptionalText(Some("{\"k\":\"v\"}".into()));
        let mut out = BytesMut::new();
        assert!(Cell(&value).to_sql(&Type::JSONB, &mut out).is_ok());
        assert_eq!(out[0], JSONB_VERSION);
        let back = JsonText::from_sql(&Type::JSONB, &out).map(|j| j.0).ok();
        assert_eq!(back.as_deref(), Some("{\"k\":\"v\"}"));
    }
}
