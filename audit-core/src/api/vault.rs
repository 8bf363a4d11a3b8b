//! MetaDefender Vault's audit API: `GET /vault_rest/audit/{start}/{count}` and
//! `GET /vault_rest/audit/export`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::api::Scope;
use crate::api::request::{
    ApiBody, ApiRequest, ApiResponse, BadRequest, check_text, header_text, whole_number,
};
use crate::column::Column;
use crate::csv::{CsvColumn, CsvLayout, csv_stream};
use crate::event::AuditEntry;
use crate::query::{AuditQuery, Direction, Sort};
use crate::store::AuditStore;

/// The item keys of a Vault audit entry, in the order of the CSV export.
pub const ITEM_KEYS: [&str; 8] = [
    "audit_id",
    "date",
    "description",
    "event",
    "location",
    "status",
    "user",
    "role",
];

const SORT_COLUMNS: [&str; 8] = [
    "audit_id",
    "date",
    "description",
    "event",
    "location",
    "status",
    "user",
    "role",
];

/// Vault's timestamp form: UTC, seven fractional digits, no offset.
fn timestamp(date: DateTime<Utc>) -> String {
    format!("{}0", date.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

fn status(entry: &AuditEntry) -> &'static str {
    if entry.success() {
        "Success"
    } else {
        "Failure"
    }
}

/// The Vault dialect over one store.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Arc<dyn AuditStore>,
    max_count: u32,
}

impl Vault {
    /// The dialect over `store`, with a maximum `count` of 1,000.
    pub fn new(store: Arc<dyn AuditStore>) -> Self {
        Vault {
            store,
            max_count: 1_000,
        }
    }

    /// Sets the largest `count` a client may ask for.
    #[must_use]
    pub fn max_count(mut self, max: u32) -> Self {
        self.max_count = max.clamp(1, crate::query::MAX_PAGE_SIZE);
        self
    }

    /// An error answer: `{"error": message}` with `status` (400, 401, 403, ...).
    pub fn error(&self, status: u16, message: &str) -> ApiResponse {
        ApiResponse::json(status, &json!({ "error": message }))
    }

    /// Answers the two Vault audit routes; `None` for any other path.
    pub async fn handle(&self, request: &ApiRequest, scope: &Scope) -> Option<ApiResponse> {
        let rest = request.path.strip_prefix("/vault_rest/audit/")?;
        if !request.method.eq_ignore_ascii_case("GET") {
            return Some(self.error(405, "only GET is served here"));
        }
        if rest == "export" {
            return Some(self.export(request, scope));
        }
        let (start, count) = rest.split_once('/')?;
        Some(self.list(start, count, request, scope).await)
    }

    /// `GET /vault_rest/audit/{start}/{count}`.
    pub async fn list(
        &self,
        start: &str,
        count: &str,
        request: &ApiRequest,
        scope: &Scope,
    ) -> ApiResponse {
        let page = (|| {
            let start = whole_number("start", start)?;
            let count = whole_number("count", count)?;
            if count > u64::from(self.max_count) {
                return Err(BadRequest::new(
                    "count",
                    format!(
                        "count: {count} is more than allowed; expected 0 to {}",
                        self.max_count
                    ),
                ));
            }
            let query = self.query(request, scope)?;
            Ok(query.offset(start, u32::try_from(count).unwrap_or(self.max_count))?)
        })();
        let query = match page {
            Ok(query) => query,
            Err(bad) => return self.error(400, &bad.message),
        };
        match self.store.query(&query).await {
            Ok(page) => {
                let items: Vec<Value> = page.entries.iter().map(|e| item_json(e, scope)).collect();
                ApiResponse::json(
                    200,
                    &json!({"filter_count": page.filter_count, "items": items, "total_count": page.total_count}),
                )
            }
            Err(error) if error.is_client_error() => self.error(400, &error.to_string()),
            Err(error) => self.error(500, &format!("the audit store failed: {error}")),
        }
    }

    /// `GET /vault_rest/audit/export`: every matching entry as CSV, streamed.
    pub fn export(&self, request: &ApiRequest, scope: &Scope) -> ApiResponse {
        if !scope.may_download() {
            return self.error(403, "this caller may not download the audit log");
        }
        let query = match self.query(request, scope) {
            Ok(query) => query,
            Err(bad) => return self.error(400, &bad.message),
        };
        let layout = CsvLayout::new(
            ITEM_KEYS
                .iter()
                .filter(|key| shows(scope, key))
                .map(|key| csv_column(key))
                .collect(),
        );
        ApiResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/csv; charset=utf-8".into()),
                (
                    "content-disposition".into(),
                    "attachment; filename=audit.csv".into(),
                ),
            ],
            body: ApiBody::Stream(csv_stream(self.store.clone(), query, layout)),
        }
    }

    fn query(&self, request: &ApiRequest, scope: &Scope) -> Result<AuditQuery, BadRequest> {
        let column = match header_text(request, "sort_column")? {
            None => Column::Date,
            Some(name) => SORT_COLUMNS
                .iter()
                .find(|c| c.eq_ignore_ascii_case(&name))
                .and_then(|c| Column::from_vault_name(c))
                .filter(|c| scope.shows(*c))
                .ok_or_else(|| {
                    BadRequest::new(
                        "sort_column",
                        format!(
                            "sort_column: {name:?} is not a column; expected one of {}",
                            SORT_COLUMNS.join(", ")
                        ),
                    )
                })?,
        };
        let direction = match header_text(request, "sort_direction")? {
            None => Direction::Desc,
            Some(text) => text.parse().map_err(|_| {
                BadRequest::new(
                    "sort_direction",
                    format!("sort_direction: {text:?} is not a direction; expected asc or desc"),
                )
            })?,
        };
        let find = match header_text(request, "findB64")? {
            Some(encoded) => {
                let bytes = STANDARD.decode(encoded.trim()).map_err(|_| {
                    BadRequest::new("findB64", "findB64: the value is not valid base64")
                })?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    BadRequest::new("findB64", "findB64: the decoded value is not valid UTF-8")
                })?;
                check_text("findB64", &text)?;
                Some(text)
            }
            None => header_text(request, "find")?,
        };
        let mut query = AuditQuery::new().sorted(Sort::new(column, direction)?);
        if let Some(find) = find {
            query = query.find(&find)?;
        }
        Ok(scope.restrict(query))
    }
}

/// Whether the Vault key `key` is shown to the caller.
fn shows(scope: &Scope, key: &str) -> bool {
    Column::from_vault_name(key).is_none_or(|column| scope.shows(column))
}

fn item_json(entry: &AuditEntry, scope: &Scope) -> Value {
    let mut map = Map::new();
    for key in ITEM_KEYS {
        if !shows(scope, key) {
            continue;
        }
        let value = match key {
            "audit_id" => json!(entry.id()),
            "date" => json!(timestamp(entry.date())),
            "status" => json!(status(entry)),
            other => json!(Column::from_vault_name(other).map_or("", |c| entry.text(c))),
        };
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

fn csv_column(key: &'static str) -> CsvColumn {
    match key {
        "audit_id" => CsvColumn::new(key, Column::Id),
        "date" => CsvColumn::custom(key, false, |e| timestamp(e.date())),
        "status" => CsvColumn::custom(key, false, |e| status(e).to_owned()),
        other => match Column::from_vault_name(other) {
            Some(column) => CsvColumn::new(key, column),
            None => CsvColumn::custom(key, false, |_| String::new()),
        },
    }
}
