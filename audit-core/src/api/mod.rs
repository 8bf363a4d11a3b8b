//! The HTTP dialects (feature `api`), free of any web framework: a host hands in the request's
//! method, path, raw query and headers, and sends back the status, headers and body it gets.
//!
//! * [`PrivacyIdea`]: `GET /audit/` and `GET /audit/<name>.csv`, privacyIDEA's parameters and
//!   envelope.
//! * [`Vault`]: `GET /vault_rest/audit/{start}/{count}` and `GET /vault_rest/audit/export`,
//!   MetaDefender Vault's headers and response.
//!
//! Client mistakes are answered with 400 and a message naming the parameter and what is valid;
//! nothing a client sends makes a dialect panic. Authentication stays with the host, which
//! passes the caller's [`Scope`].

mod privacyidea;
mod request;
mod vault;

pub use privacyidea::{
    AUDIT_COLUMNS, AUTHENTICATION_ERROR, ENTRY_KEYS, PARAMETER_ERROR, POLICY_ERROR, PrivacyIdea,
    sanitize_file_name,
};
pub use request::{ApiBody, ApiRequest, ApiResponse, BadRequest, MAX_VALUE_BYTES, parse_query};
pub use vault::{ITEM_KEYS, Vault};

use crate::query::AuditQuery;

/// What a caller may see. For now every caller sees every entry and column; restrictions are
/// applied inside the store query (never as a post-filter), so entries and counts agree.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Scope {}

impl Scope {
    /// A scope that sees everything.
    pub fn everything() -> Self {
        Scope {}
    }

    /// Adds the scope's restrictions to `query`; they cannot be widened by the query.
    pub fn restrict(&self, query: AuditQuery) -> AuditQuery {
        query
    }

    /// Whether the dialect key `key` is shown.
    pub fn shows(&self, key: &str) -> bool {
        let _ = key;
        true
    }

    /// The keys of `keys` that are shown.
    pub fn visible(&self, keys: &[&'static str]) -> Vec<&'static str> {
        keys.iter().copied().filter(|k| self.shows(k)).collect()
    }
}
