#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "charts")]
pub mod chart;
pub mod column;
pub mod csv;
mod error;
pub mod event;
pub mod integrity;
pub mod query;
pub mod retention;
pub mod scope;
#[cfg(feature = "sql")]
pub mod sql;
pub mod stats;
pub mod store;
pub mod text;
pub mod writer;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use column::{Column, ColumnKind};
pub use csv::{CsvColumn, CsvLayout, csv_stream, write_csv};
pub use error::{Error, Result, Source};
pub use event::{AuditEntry, AuditEvent, AuditId, SortValue};
pub use query::{
    AuditPage, AuditQuery, Condition, Counts, Cursor, Direction, Field, Page, Pattern, Sort,
    TimeLimit, TimeRange,
};
pub use scope::Scope;
pub use stats::{Bucket, Statistics, StatsRequest};
pub use store::{AuditStore, export};
pub use writer::{AuditWriter, Receipt, WriterConfig};

// The workspace README's examples are compiled and run as tests too.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
