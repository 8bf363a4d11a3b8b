//! The raw tokio-postgres side of the PostgreSQL benchmarks: `audit-postgres`'s rows written by
//! hand with binary COPY into a table the store created, with nothing but the engine's and the
//! driver's own cost.
//!
//! The table, its indexes and the trigram search index are created by `audit-postgres` itself
//! (open a store, see [`crate::postgres_store`]), so the baseline writes into exactly the same
//! structure. The row layout mirrors `audit-postgres` 0.1 (`schema.rs`: `copy_sql` and
//! `column_type`; `bind.rs`: how a [`RowValue`] is written) with the default table name
//! `audit_entries`; the column list comes from the same registry ([`stored_columns`]), so only
//! the statement shape and the column types are copied.
//!
//! What the baseline leaves out is what the store adds around the COPY: the pool, the counter
//! row update and the id reservation from the sequence (one more statement per batch), and the
//! encoding of the events, which the baseline does before it starts the clock.

use std::error::Error as StdError;

use audit_core::AuditEvent;
use audit_core::sql::{RowValue, encode_event, stored_columns};
use bytes::BytesMut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

/// The entries table, as `audit-postgres` names it by default.
pub const ENTRIES: &str = "audit_entries";

type BoxError = Box<dyn StdError + Sync + Send>;

/// The type each stored column is written with (`column_type` in `audit-postgres`'s
/// `schema.rs`).
pub fn column_type(name: &str) -> Type {
    match name {
        "date" | "start_date" | "duration" => Type::INT8,
        "success" => Type::BOOL,
        "extra" | "extra_folded" => Type::JSONB,
        _ => Type::TEXT,
    }
}

/// The qualified, quoted entries table in `schema`.
pub fn entries_table(schema: &str) -> String {
    format!("\"{schema}\".\"{ENTRIES}\"")
}

/// The COPY of a batch into the entries table of `schema`, the id first and then every stored
/// column, with the type of each (`copy_sql` in `schema.rs`).
pub fn copy_sql(schema: &str) -> (String, Vec<Type>) {
    let columns = stored_columns();
    let mut quoted = vec!["\"id\"".to_owned()];
    quoted.extend(columns.iter().map(|c| format!("\"{c}\"")));
    let mut types = vec![Type::INT8];
    types.extend(columns.iter().map(|c| column_type(c)));
    (
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            entries_table(schema),
            quoted.join(", ")
        ),
        types,
    )
}

/// The store's id reservation for a batch of `$1` entries in `schema` (`reserve_sql` in
/// `schema.rs`): the counter row updated, then the range taken from the sequence; returns the
/// last id. The `postgres_probe` binary runs it to write into a table the store also appends
/// to.
pub fn reserve_sql(schema: &str) -> String {
    format!(
        "WITH counted AS (UPDATE \"{schema}\".\"{ENTRIES}_counters\" SET \"entries\" = \"entries\" + $1 RETURNING 1) \
         SELECT setval('\"{schema}\".\"{ENTRIES}_id_seq\"', nextval('\"{schema}\".\"{ENTRIES}_id_seq\"') + $1 - 1) FROM counted"
    )
}

/// What a raw append's transaction holds besides the COPY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transaction {
    /// Reserve the ids with [`reserve_sql`] inside the transaction, as the store does, instead
    /// of continuing the connection's own count.
    pub reserve: bool,
    /// `SET LOCAL synchronous_commit = off`: the commit does not wait for the WAL flush.
    pub asynchronous_commit: bool,
}

/// The `jsonb` binary format version byte that precedes the JSON text.
const JSONB_VERSION: u8 = 1;

/// One encoded value, written in the binary format of its column as `audit-postgres` writes
/// it: text without copying, `jsonb` as its version byte and the JSON text.
#[derive(Debug)]
pub struct CopyValue<'a>(pub &'a RowValue<'a>);

impl ToSql for CopyValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (self.0, ty) {
            (RowValue::Int(v), &Type::INT8) => v.to_sql(ty, out),
            (RowValue::OptionalInt(v), &Type::INT8) => v.to_sql(ty, out),
            (RowValue::Bool(v), &Type::BOOL) => v.to_sql(ty, out),
            (RowValue::Text(v), &Type::TEXT) => v.to_sql(ty, out),
            (RowValue::OptionalText(None), &Type::TEXT | &Type::JSONB) => Ok(IsNull::Yes),
            (RowValue::OptionalText(Some(v)), &Type::TEXT) => v.to_sql(ty, out),
            (RowValue::OptionalText(Some(v)), &Type::JSONB) => {
                out.extend_from_slice(&[JSONB_VERSION]);
                out.extend_from_slice(v.as_bytes());
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

/// The values of every event of a batch, in the order of [`stored_columns`].
pub fn encode_batch(events: &[AuditEvent]) -> Vec<Vec<RowValue<'_>>> {
    events.iter().map(encode_event).collect()
}

/// Connects to `url` and drives the connection on the current tokio runtime.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error then has nobody to go to,
        // and the client's next call reports it.
        let _ = connection.await;
    });
    Ok(client)
}

/// A connection writing `audit-postgres` rows by hand into the entries table of one schema.
pub struct RawCopy {
    client: Client,
    copy: Statement,
    reserve: Statement,
    types: Vec<Type>,
    next_id: i64,
}

impl std::fmt::Debug for RawCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCopy")
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl RawCopy {
    /// Connects to `url`, prepares the COPY into the entries table of `schema` and continues
    /// the ids after the largest one stored.
    pub async fn open(url: &str, schema: &str) -> Result<Self, tokio_postgres::Error> {
        let client = connect(url).await?;
        let (sql, types) = copy_sql(schema);
        let copy = client.prepare(&sql).await?;
        let reserve = client
            .prepare_typed(&reserve_sql(schema), &[Type::INT8])
            .await?;
        let last: i64 = client
            .query_one(
                &format!(
                    "SELECT coalesce(max(\"id\"), 0) FROM {}",
                    entries_table(schema)
                ),
                &[],
            )
            .await?
            .try_get(0)?;
        Ok(RawCopy {
            client,
            copy,
            reserve,
            types,
            next_id: last + 1,
        })
    }

    /// The id the next row gets.
    pub fn next_id(&self) -> i64 {
        self.next_id
    }

    /// The connection, for checks outside the timed part.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Reserves `n` ids the way the store does, in a transaction of its own, so that the next
    /// [`write_batch`](Self::write_batch) of `n` rows uses them.
    pub async fn reserve(&mut self, n: usize) -> Result<(), tokio_postgres::Error> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let last: i64 = self
            .client
            .query_one(&self.reserve, &[&n])
            .await?
            .try_get(0)?;
        self.next_id = last - n + 1;
        Ok(())
    }

    /// Writes `rows` (values in the order of [`stored_columns`]) with consecutive ids in one
    /// transaction: `BEGIN`, the binary COPY, `COMMIT`.
    pub async fn write_batch(
        &mut self,
        rows: &[Vec<RowValue<'_>>],
    ) -> Result<(), tokio_postgres::Error> {
        self.write_batch_in(rows, Transaction::default()).await
    }

    /// Writes `rows` in one transaction of the given shape.
    pub async fn write_batch_in(
        &mut self,
        rows: &[Vec<RowValue<'_>>],
        shape: Transaction,
    ) -> Result<(), tokio_postgres::Error> {
        let tx = self.client.transaction().await?;
        if shape.asynchronous_commit {
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await?;
        }
        let mut id = self.next_id;
        if shape.reserve {
            let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            let last: i64 = tx.query_one(&self.reserve, &[&n]).await?.try_get(0)?;
            id = last - n + 1;
        }
        let sink = tx.copy_in(&self.copy).await?;
        let writer = BinaryCopyInWriter::new(sink, &self.types);
        let mut writer = std::pin::pin!(writer);
        for values in rows {
            let cells: Vec<CopyValue<'_>> = values.iter().map(CopyValue).collect();
            let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(cells.len() + 1);
            row.push(&id);
            row.extend(cells.iter().map(|c| c as &(dyn ToSql + Sync)));
            writer.as_mut().write(&row).await?;
            id += 1;
        }
        writer.finish().await?;
        tx.commit().await?;
        self.next_id = id;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_SEED, EventGenerator, POSTGRES_URL_ENV, postgres_store};
    use audit_core::{AuditQuery, AuditStore, Column, Direction};

    #[test]
    fn copy_types_follow_the_stored_columns() {
        let (sql, types) = copy_sql("s");
        assert_eq!(types.len(), stored_columns().len() + 1);
        assert!(
            sql.starts_with(
                "COPY \"s\".\"audit_entries\" (\"id\", \"date\", \"success\", \"event\""
            )
        );
        assert_eq!(types[..3], [Type::INT8, Type::INT8, Type::BOOL]);
        assert_eq!(types.last(), Some(&Type::JSONB));
    }

    #[test]
    fn jsonb_is_written_with_its_version_byte() {
        let value = RowValue::OptionalText(Some("{\"k\":\"v\"}".into()));
        let mut out = BytesMut::new();
        assert!(matches!(
            CopyValue(&value).to_sql(&Type::JSONB, &mut out),
            Ok(IsNull::No)
        ));
        assert_eq!(&out[..], b"\x01{\"k\":\"v\"}");
        assert!(
            CopyValue(&RowValue::Int(1))
                .to_sql(&Type::TEXT, &mut out)
                .is_err()
        );
    }

    /// Needs a server: runs when `AUDIT_BENCH_POSTGRES_URL` is set, in a schema of its own.
    #[test]
    fn raw_rows_read_back_like_the_store_writes_them() {
        let Ok(url) = std::env::var(POSTGRES_URL_ENV) else {
            eprintln!("{POSTGRES_URL_ENV} is not set: skipped");
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let schema = "audit_bench_raw_test";
            let store = postgres_store(schema, true).await.unwrap();
            let generator = EventGenerator::new(DEFAULT_SEED, 3_000);
            let mut raw = RawCopy::open(&url, schema).await.unwrap();
            assert_eq!(raw.next_id(), 1);
            for start in [0, 1_000, 2_000] {
                let events: Vec<_> = generator.range(start..start + 1_000).collect();
                raw.write_batch(&encode_batch(&events)).await.unwrap();
            }
            let query = AuditQuery::new()
                .sort(Column::Id, Direction::Asc)
                .and_then(|q| q.offset(0, 5_000))
                .unwrap();
            let entries = store.fetch(&query).await.unwrap();
            let expected: Vec<_> = generator.range(0..3_000).collect();
            assert_eq!(entries.len(), expected.len());
            for (i, (entry, event)) in entries.iter().zip(&expected).enumerate() {
                assert_eq!(entry.id(), i as i64 + 1);
                assert_eq!(entry.as_event(), event);
            }
            // The trigram index holds the raw rows: free text finds the rare term.
            let find = AuditQuery::new()
                .find(crate::RARE_TERM)
                .and_then(|q| q.offset(0, 5_000))
                .unwrap();
            let found = store.fetch(&find).await.unwrap().len();
            let rare = expected
                .iter()
                .filter(|e| e.text(Column::Description).contains(crate::RARE_TERM))
                .count();
            assert_eq!(found, rare);
            store.close();
            raw.client()
                .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await
                .unwrap();
        });
    }
}
