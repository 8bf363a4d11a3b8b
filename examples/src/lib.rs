//! Example audit servers: the privacyIDEA and MetaDefender Vault audit APIs served from the
//! audit library. Everything but the routing glue lives here, so the axum server
//! (`audit-server`) and any other framework share it.

pub mod accounts;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod server;
pub mod startup;
pub mod viewer;

use std::sync::Arc;
use std::time::Instant;

use audit_core::api::{
    AUTHENTICATION_ERROR, ApiRequest, ApiResponse, PARAMETER_ERROR, PrivacyIdea, Vault, parse_query,
};
use audit_core::{AuditEvent, AuditStore, AuditWriter, WriterConfig};
use serde_json::json;

use crate::accounts::Accounts;

/// The application: the store, its writer, the two dialects and the accounts.
#[derive(Debug)]
pub struct App {
    store: Arc<dyn AuditStore>,
    writer: AuditWriter,
    privacyidea: PrivacyIdea,
    vault: Vault,
    accounts: Accounts,
    self_audit: bool,
}

/// Who made a request, for self-audit.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The client address.
    pub address: String,
    /// The client's user agent.
    pub user_agent: String,
}

impl App {
    /// An application over `store`; must be created inside a Tokio runtime (it starts the
    /// writer).
    pub fn new(store: Arc<dyn AuditStore>, accounts: Accounts, self_audit: bool) -> Self {
        App {
            writer: AuditWriter::spawn(store.clone(), WriterConfig::default()),
            privacyidea: PrivacyIdea::new(store.clone()),
            vault: Vault::new(store.clone()),
            store,
            accounts,
            self_audit,
        }
    }

    /// Shows `sig_check` and `missing_line` checked with these keys.
    #[must_use]
    pub fn integrity(mut self, keyring: audit_core::integrity::Keyring) -> Self {
        self.privacyidea = self.privacyidea.integrity(keyring);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AuditStore> {
        &self.store
    }

    /// Writes every queued self-audit entry; call before exiting.
    pub async fn shutdown(&self) -> audit_core::Result<()> {
        self.writer.shutdown().await
    }

    async fn record(
        &self,
        request: &ApiRequest,
        caller: &Caller,
        admin: &str,
        status: u16,
        started: Instant,
    ) {
        if !self.self_audit {
            return;
        }
        let event = AuditEvent::new(format!("{} {}", request.method, request.path))
            .administrator(admin)
            .role(if admin.is_empty() { "" } else { "admin" })
            .location(&caller.address)
            .user_agent(&caller.user_agent)
            .success(status < 400)
            .description(format!("HTTP {status}"))
            .duration(started.elapsed());
        // A full queue makes this wait (back-pressure); the receipt is not awaited so the
        // response does not wait for the disk.
        let _receipt = self.writer.append(event).await;
    }

    fn token<'r>(request: &'r ApiRequest, header: &str) -> Option<&'r str> {
        request
            .header_bytes(header)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// `POST /auth`: a form or JSON body with `username` and `password`.
    pub async fn login(&self, request: &ApiRequest, body: &[u8], caller: &Caller) -> ApiResponse {
        let started = Instant::now();
        let (username, password) = credentials(body);
        let role = self
            .accounts
            .named(&username)
            .map_or("admin", |a| a.role.name());
        let response = match self.accounts.login(&username, &password) {
            Some(token) => self
                .privacyidea
                .success(json!({"token": token, "role": role, "username": username})),
            None => self.privacyidea.error(
                401,
                AUTHENTICATION_ERROR,
                "Authentication failure. Wrong credentials.",
            ),
        };
        self.record(request, caller, &username, response.status, started)
            .await;
        response
    }

    /// `GET /audit/...`: privacyIDEA clients send the token as `Authorization` or
    /// `PI-Authorization`.
    pub async fn privacyidea(&self, request: &ApiRequest, caller: &Caller) -> ApiResponse {
        let started = Instant::now();
        let token = Self::token(request, "PI-Authorization")
            .or_else(|| Self::token(request, "Authorization"));
        let (admin, response) = match token {
            None => (
                String::new(),
                self.privacyidea.error(
                    401,
                    AUTHENTICATION_ERROR,
                    "Authentication failure. Missing Authorization header.",
                ),
            ),
            Some(token) => match self.accounts.account_of(token) {
                None => (
                    String::new(),
                    self.privacyidea.error(
                        401,
                        AUTHENTICATION_ERROR,
                        "Authentication failure. Wrong credentials.",
                    ),
                ),
                Some(account) => {
                    let response = self.privacyidea.handle(request, &account.scope).await;
                    (
                        account.name.clone(),
                        response.unwrap_or_else(|| {
                            self.privacyidea
                                .error(404, PARAMETER_ERROR, "no such audit resource")
                        }),
                    )
                }
            },
        };
        self.record(request, caller, &admin, response.status, started)
            .await;
        response
    }

    /// `GET /vault_rest/audit/...`: Vault clients send `Authorization: Bearer <token>`; a
    /// missing token is 401, a wrong one 403.
    pub async fn vault(&self, request: &ApiRequest, caller: &Caller) -> ApiResponse {
        let started = Instant::now();
        let bearer = Self::token(request, "Authorization")
            .and_then(|v| v.strip_prefix("Bearer ").map(str::trim));
        let (admin, response) = match bearer {
            None => (
                String::new(),
                self.vault.error(
                    401,
                    "missing credentials: send Authorization: Bearer <API key>",
                ),
            ),
            Some(token) => match self.accounts.account_of(token) {
                None => (
                    String::new(),
                    self.vault.error(403, "the API key is incorrect"),
                ),
                Some(account) => {
                    let response = self.vault.handle(request, &account.scope).await;
                    (
                        account.name.clone(),
                        response.unwrap_or_else(|| self.vault.error(404, "no such audit resource")),
                    )
                }
            },
        };
        self.record(request, caller, &admin, response.status, started)
            .await;
        response
    }

    /// `POST /events`: a JSON array or NDJSON of events, appended as one atomic batch.
    pub async fn ingest(&self, request: &ApiRequest, body: &[u8], caller: &Caller) -> ApiResponse {
        let started = Instant::now();
        let token = Self::token(request, "PI-Authorization")
            .or_else(|| Self::token(request, "Authorization"))
            .map(|t| t.strip_prefix("Bearer ").unwrap_or(t).trim());
        // Only administrators may write entries: an unknown token is 401, a self-service
        // user's token 403.
        let account = token.and_then(|t| self.accounts.account_of(t));
        let admin = account
            .filter(|a| a.role == crate::accounts::Role::Admin)
            .map(|a| a.name.clone());
        let response = match (&token, account, &admin) {
            (None, _, _) => ApiResponse::json(401, &json!({"error": "missing credentials"})),
            (Some(_), None, _) => ApiResponse::json(401, &json!({"error": "wrong credentials"})),
            (Some(_), Some(_), None) => ApiResponse::json(
                403,
                &json!({"error": "only administrators may write audit entries"}),
            ),
            (Some(_), Some(_), Some(_)) => match ingest::parse_events(body) {
                Err(invalid) => ApiResponse::json(
                    400,
                    &json!({"error": invalid.to_string(), "index": invalid.index, "field": invalid.field}),
                ),
                Ok(events) => match self.store.append(events).await {
                    Ok(ids) => ApiResponse::json(200, &json!({ "ids": ids })),
                    Err(error) => ApiResponse::json(
                        503,
                        &json!({"error": format!("the events were not stored: {error}")}),
                    ),
                },
            },
        };
        self.record(
            request,
            caller,
            admin.as_deref().unwrap_or(""),
            response.status,
            started,
        )
        .await;
        response
    }
}

/// `username` and `password` from a JSON object or a form body.
fn credentials(body: &[u8]) -> (String, String) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |name: &str| {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        return (field("username"), field("password"));
    }
    let form = std::str::from_utf8(body)
        .ok()
        .and_then(|text| parse_query(Some(text)).ok())
        .unwrap_or_default();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (field("username"), field("password"))
}
