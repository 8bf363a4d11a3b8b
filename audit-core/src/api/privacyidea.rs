//! privacyIDEA's audit API: `GET /audit/`, `GET /audit/<name>.csv` and
//! `GET /audit/statistics`.

mod statistics;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::api::request::{
    ApiBody, ApiRequest, ApiResponse, BadRequest, parse_query, whole_number,
};
use crate::column::Column;
use crate::csv::{CsvColumn, CsvLayout, csv_stream, format_duration_micros};
use crate::event::{AuditEntry, AuditId};
use crate::integrity::{Checkpoints, GENESIS, Keyring, Seal, check_seal};
use crate::query::{AuditQuery, Condition, Direction, Field, Sort, TimeLimit};
use crate::scope::Scope;
use crate::store::AuditStore;

/// The entry keys of privacyIDEA 3.14, in the order of its CSV export.
pub const ENTRY_KEYS: [&str; 27] = [
    "number",
    "date",
    "sig_check",
    "missing_line",
    "action",
    "authentication",
    "success",
    "serial",
    "token_type",
    "container_serial",
    "container_type",
    "user",
    "realm",
    "resolver",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "policies",
    "client",
    "user_agent",
    "user_agent_version",
    "log_level",
    "clearance_level",
    "startdate",
    "duration",
    "thread_id",
];

/// `auditcolumns` as privacyIDEA 3.14 lists them.
pub const AUDIT_COLUMNS: [&str; 27] = [
    "number",
    "action",
    "success",
    "authentication",
    "serial",
    "date",
    "startdate",
    "duration",
    "token_type",
    "user",
    "realm",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "client",
    "user_agent",
    "user_agent_version",
    "log_level",
    "policies",
    "clearance_level",
    "sig_check",
    "missing_line",
    "resolver",
    "thread_id",
    "container_serial",
    "container_type",
];

/// privacyIDEA's error code for a bad parameter.
pub const PARAMETER_ERROR: u32 = 905;
/// privacyIDEA's error code for failed authentication.
pub const AUTHENTICATION_ERROR: u32 = 4033;
/// privacyIDEA's error code for a policy denial.
pub const POLICY_ERROR: u32 = 303;

const CONTROL_KEYS: [&str; 6] = [
    "page",
    "page_size",
    "sortorder",
    "sortname",
    "timelimit",
    "find",
];

/// The column a privacyIDEA filter or sort key names (`loglevel` is accepted for `log_level`).
fn column_for_key(key: &str) -> Option<Column> {
    match key {
        "loglevel" => Some(Column::LogLevel),
        "sig_check" | "missing_line" => None,
        _ => Column::from_privacyidea_name(key),
    }
}

/// Whether the privacyIDEA key `key` is shown to the caller (keys without a column, such as
/// `sig_check`, always are).
fn shows(scope: &Scope, key: &str) -> bool {
    column_for_key(key).is_none_or(|column| scope.shows(column))
}

fn valid_keys() -> String {
    let mut keys: Vec<&str> = CONTROL_KEYS.to_vec();
    keys.extend(
        Column::ALL
            .iter()
            .filter(|c| c.is_filterable())
            .filter_map(|c| c.privacyidea_name()),
    );
    keys.push("loglevel");
    keys.join(", ")
}

/// The privacyIDEA dialect over one store.
#[derive(Debug, Clone)]
pub struct PrivacyIdea {
    store: Arc<dyn AuditStore>,
    max_page_size: u32,
    version: String,
    keyring: Option<Keyring>,
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl PrivacyIdea {
    /// The dialect over `store`, with a maximum page size of 1,000.
    pub fn new(store: Arc<dyn AuditStore>) -> Self {
        PrivacyIdea {
            store,
            max_page_size: 1_000,
            keyring: None,
            version: format!("audit {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Sets the largest `page_size` a client may ask for.
    #[must_use]
    pub fn max_page_size(mut self, max: u32) -> Self {
        self.max_page_size = max.clamp(1, crate::query::MAX_PAGE_SIZE);
        self
    }

    /// Fills `sig_check` and `missing_line` from the store's integrity chain, checked with
    /// these keys (without it both are empty).
    #[must_use]
    pub fn integrity(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// `sig_check` and `missing_line` for each entry of a page: one read of the seals of the
    /// page's entries and of their predecessors.
    async fn chain_checks(&self, entries: &[AuditEntry]) -> Vec<(&'static str, &'static str)> {
        let Some(keyring) = &self.keyring else {
            return vec![("", ""); entries.len()];
        };
        let mut ids: Vec<AuditId> = entries
            .iter()
            .flat_map(|e| [e.id(), e.id() - 1])
            .filter(|id| *id >= 1)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let seals: HashMap<AuditId, Option<Seal>> = match self.store.seals(&ids).await {
            Ok(seals) => seals.into_iter().collect(),
            Err(_) => return vec![("FAIL", "FAIL"); entries.len()],
        };
        let ok = |good: bool| if good { "OK" } else { "FAIL" };
        // Only an entry right after a purged stretch needs the checkpoints, which say what its
        // missing predecessor was sealed with.
        let after_gap = entries
            .iter()
            .any(|e| e.id() > 1 && !seals.contains_key(&(e.id() - 1)));
        let checkpoints = match after_gap {
            true => match self.store.checkpoints().await {
                Ok(stored) => Checkpoints::authentic(keyring, stored),
                Err(_) => Checkpoints::none(),
            },
            false => Checkpoints::none(),
        };
        entries
            .iter()
            .map(|entry| {
                let previous = if entry.id() == 1 {
                    Some(GENESIS)
                } else {
                    seals
                        .get(&(entry.id() - 1))
                        .map(|seal| seal.as_ref().map_or(GENESIS, |s| s.mac))
                        .or_else(|| checkpoints.mac_at_end(entry.id() - 1))
                };
                let signed = match (seals.get(&entry.id()), previous) {
                    (Some(Some(seal)), Some(previous)) => {
                        check_seal(keyring, entry, seal, &previous)
                    }
                    _ => false,
                };
                (ok(signed), ok(previous.is_some()))
            })
            .collect()
    }

    fn envelope(&self, result: Value) -> Value {
        json!({"id": 1, "jsonrpc": "2.0", "result": result, "time": now_seconds(), "version": self.version})
    }

    /// A privacyIDEA success envelope around `value`.
    pub fn success(&self, value: Value) -> ApiResponse {
        ApiResponse::json(200, &self.envelope(json!({"status": true, "value": value})))
    }

    /// A privacyIDEA error envelope with `status` (400, 401, 403, ...), `code` and `message`.
    pub fn error(&self, status: u16, code: u32, message: &str) -> ApiResponse {
        let body =
            self.envelope(json!({"status": false, "error": {"code": code, "message": message}}));
        ApiResponse::json(status, &body)
    }

    fn bad_request(&self, bad: &BadRequest) -> ApiResponse {
        self.error(
            400,
            PARAMETER_ERROR,
            &format!("ERR{PARAMETER_ERROR}: {}", bad.message),
        )
    }

    /// Answers `GET /audit/`, `GET /audit/<name>.csv` and `GET /audit/statistics`; `None` for
    /// any other path.
    pub async fn handle(&self, request: &ApiRequest, scope: &Scope) -> Option<ApiResponse> {
        let rest = request.path.strip_prefix("/audit")?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        if !request.method.eq_ignore_ascii_case("GET") {
            return Some(self.error(405, PARAMETER_ERROR, "only GET is served here"));
        }
        if rest.is_empty() {
            return Some(self.list(request, scope).await);
        }
        if rest == "statistics" || rest == "statistics/" {
            return Some(self.statistics(request, scope).await);
        }
        let name = rest.strip_suffix(".csv")?;
        let name = match crate::api::request::decode_path_segment(name) {
            Ok(name) => name,
            Err(bad) => return Some(self.bad_request(&bad)),
        };
        Some(self.csv(&name, request, scope))
    }

    /// `GET /audit/`: one page of entries in privacyIDEA's envelope.
    pub async fn list(&self, request: &ApiRequest, scope: &Scope) -> ApiResponse {
        let parsed = match self.parse(request, scope, true) {
            Ok(parsed) => parsed,
            Err(bad) => return self.bad_request(&bad),
        };
        let page = match self.store.query(&parsed.query).await {
            Ok(page) => page,
            Err(error) if error.is_client_error() => return self.bad_request(&error.into()),
            Err(error) => return self.error(500, 500, &format!("the audit store failed: {error}")),
        };
        let count = page.filter_count;
        let pages = count.div_ceil(u64::from(parsed.page_size.max(1)));
        let checks = self.chain_checks(&page.entries).await;
        let data: Vec<Value> = page
            .entries
            .iter()
            .zip(checks)
            .map(|(e, check)| entry_json(e, scope, check))
            .collect();
        self.success(json!({
            "auditcolumns": AUDIT_COLUMNS.iter().filter(|key| shows(scope, key)).collect::<Vec<_>>(),
            "auditdata": data,
            "count": count,
            "current": parsed.page,
            "next": (parsed.page < pages).then_some(parsed.page + 1),
            "prev": (parsed.page > 1).then_some(parsed.page - 1),
        }))
    }

    /// `GET /audit/<name>.csv`: every matching entry, streamed, with privacyIDEA's 27 keys as
    /// the header row.
    pub fn csv(&self, name: &str, request: &ApiRequest, scope: &Scope) -> ApiResponse {
        if !scope.may_download() {
            return self.error(
                403,
                POLICY_ERROR,
                &format!("ERR{POLICY_ERROR}: You are not allowed to download the audit log."),
            );
        }
        let parsed = match self.parse(request, scope, false) {
            Ok(parsed) => parsed,
            Err(bad) => return self.bad_request(&bad),
        };
        let layout = CsvLayout::new(
            ENTRY_KEYS
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
                    format!("attachment; filename={}.csv", sanitize_file_name(name)),
                ),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: ApiBody::Stream(csv_stream(self.store.clone(), parsed.query, layout)),
        }
    }

    fn parse(
        &self,
        request: &ApiRequest,
        scope: &Scope,
        paged: bool,
    ) -> Result<Parsed, BadRequest> {
        let pairs = parse_query(request.query.as_deref())?;
        self.parse_pairs(&pairs, scope, paged)
    }

    /// The query (scope applied) and page that the filter, sort and page parameters describe.
    fn parse_pairs(
        &self,
        pairs: &[(String, String)],
        scope: &Scope,
        paged: bool,
    ) -> Result<Parsed, BadRequest> {
        let mut page = 1u64;
        let mut page_size = 15u32;
        let mut direction = Direction::Desc;
        let mut sort_column = Column::Id;
        let mut query = AuditQuery::new();
        let mut seen_control: Vec<&str> = Vec::new();
        for (key, value) in pairs {
            if let Some(control) = CONTROL_KEYS.iter().find(|k| *k == key) {
                if seen_control.contains(control) {
                    return Err(BadRequest::new(key, format!("{key}: given more than once")));
                }
                seen_control.push(control);
            }
            match key.as_str() {
                "page" => {
                    page = whole_number(key, value)?;
                    if page == 0 {
                        return Err(BadRequest::new(key, "page: pages count from 1"));
                    }
                }
                "page_size" => {
                    let size = whole_number(key, value)?;
                    if size == 0 || size > u64::from(self.max_page_size) {
                        return Err(BadRequest::new(
                            key,
                            format!(
                                "page_size: {size} is not allowed; expected 1 to {}",
                                self.max_page_size
                            ),
                        ));
                    }
                    page_size = u32::try_from(size).unwrap_or(self.max_page_size);
                }
                "sortorder" => {
                    direction = value.parse().map_err(|_| {
                        BadRequest::new(
                            key,
                            format!(
                                "sortorder: {value:?} is not a direction; expected asc or desc"
                            ),
                        )
                    })?;
                }
                "sortname" => {
                    sort_column = column_for_key(value).filter(|c| c.is_sortable() && scope.shows(*c)).ok_or_else(|| {
                        BadRequest::new(key, format!("sortname: {value:?} is not a sortable column; expected one of {}", sortable_keys()))
                    })?;
                }
                "timelimit" => {
                    if !value.is_empty() {
                        let limit: TimeLimit = value.parse()?;
                        query = query.time_limit(limit);
                    }
                }
                // An extension: free text over every column the caller may see (the scope
                // takes hidden columns out of the search).
                "find" => {
                    if !value.is_empty() {
                        query = query.find(value)?;
                    }
                }
                _ => match column_for_key(key) {
                    Some(column) if column.is_filterable() && scope.shows(column) => {
                        if let Some(condition) = Condition::parse_for(Field::Column(column), value)?
                        {
                            query = query.condition(condition);
                        }
                    }
                    _ if value.chars().all(|c| c == '*') => {}
                    _ => {
                        return Err(BadRequest::new(
                            key,
                            format!(
                                "{key:?} is not a parameter of this endpoint; valid are {}",
                                valid_keys()
                            ),
                        ));
                    }
                },
            }
        }
        let sort = Sort::new(sort_column, direction)?;
        query = scope.restrict(query.sorted(sort));
        if paged {
            query = query.page(page, page_size)?;
        }
        Ok(Parsed {
            query,
            page,
            page_size,
        })
    }
}

fn sortable_keys() -> String {
    Column::ALL
        .iter()
        .filter(|c| c.is_sortable())
        .filter_map(|c| c.privacyidea_name())
        .collect::<Vec<_>>()
        .join(", ")
}

struct Parsed {
    query: AuditQuery,
    page: u64,
    page_size: u32,
}

/// privacyIDEA's timestamp form: ISO-8601 without an offset, microseconds (UTC).
fn timestamp(date: DateTime<Utc>) -> String {
    date.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn duration_seconds(entry: &AuditEntry) -> Value {
    entry
        .as_event()
        .duration_in_micros()
        .map_or(Value::Null, |micros| json!(micros as f64 / 1_000_000.0))
}

fn entry_json(entry: &AuditEntry, scope: &Scope, check: (&str, &str)) -> Value {
    let mut map = Map::new();
    for key in ENTRY_KEYS {
        if !shows(scope, key) {
            continue;
        }
        let value = match key {
            "number" => json!(entry.id()),
            "date" => json!(timestamp(entry.date())),
            "sig_check" => json!(check.0),
            "missing_line" => json!(check.1),
            "success" => json!(u8::from(entry.success())),
            "startdate" => entry
                .start_date()
                .map_or(Value::Null, |d| json!(timestamp(d))),
            "duration" => duration_seconds(entry),
            other => json!(column_for_key(other).map_or("", |c| entry.text(c))),
        };
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

fn csv_column(key: &'static str) -> CsvColumn {
    match key {
        "number" => CsvColumn::new(key, Column::Id),
        "date" => CsvColumn::custom(key, false, |e| timestamp(e.date())),
        "sig_check" | "missing_line" => CsvColumn::custom(key, false, |_| String::new()),
        "startdate" => CsvColumn::custom(key, false, |e| {
            e.start_date().map(timestamp).unwrap_or_default()
        }),
        "duration" => CsvColumn::custom(key, false, |e| {
            e.as_event()
                .duration_in_micros()
                .map(format_duration_micros)
                .unwrap_or_default()
        }),
        other => match column_for_key(other) {
            Some(column) => CsvColumn::new(key, column),
            None => CsvColumn::custom(key, false, |_| String::new()),
        },
    }
}

/// Keeps a download name to letters, digits, `-`, `_` and `.` (no path, quote or control
/// character), at most 64 characters; an empty result becomes `audit`.
pub fn sanitize_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches('.').to_owned();
    if cleaned.is_empty() {
        "audit".into()
    } else {
        cleaned
    }
}
