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

pub use crate::scope::Scope;
