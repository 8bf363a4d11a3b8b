//! Who may see what (DESIGN §6): the restrictions of one caller, applied inside the store query
//! so that entries, counts, CSV and statistics all see the same rows.
//!
//! ```
//! use audit_core::{AuditQuery, Column, Scope};
//!
//! # fn main() -> audit_core::Result<()> {
//! // A helpdesk administrator: two realms, plus whatever they did themselves; 30 days back.
//! let helpdesk = Scope::realms(["corp", "sales"])
//!     .with_own_entries("helpdesk1")
//!     .max_age("30d".parse()?)
//!     .hide(Column::Location);
//! let query = helpdesk.restrict(AuditQuery::new().filter("realm", "*")?);
//! assert_eq!(query.conditions().len(), 1);
//! assert!(!helpdesk.shows(Column::Location));
//!
//! // A self-service user sees only their own entries and may not download CSV.
//! let alice = Scope::user("alice", "corp");
//! assert!(!alice.may_download());
//! # Ok(())
//! # }
//! ```

use crate::column::Column;
use crate::query::{AuditQuery, Condition, Field, TimeLimit};

/// The identity a self-service user is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SelfService {
    user: String,
    realm: String,
    resolver: Option<String>,
}

/// What one caller may see. [`Scope::restrict`] adds the restrictions to a query as conditions
/// that every entry must meet, so nothing a client sends can widen them: its own filters only
/// narrow the result further. The query's total count then counts the entries in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    realms: Option<Vec<String>>,
    own_entries: Option<String>,
    user: Option<SelfService>,
    max_age: Option<TimeLimit>,
    hidden: Vec<Column>,
    download: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Scope::everything()
    }
}

impl Scope {
    /// Every entry and column, CSV download allowed.
    pub fn everything() -> Self {
        Scope {
            realms: None,
            own_entries: None,
            user: None,
            max_age: None,
            hidden: Vec::new(),
            download: true,
        }
    }

    /// An administrator who may read the entries of these realms (exact names) only; no realm
    /// at all means no entry (see [`Scope::with_own_entries`]).
    pub fn realms<I, S>(realms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scope {
            realms: Some(realms.into_iter().map(Into::into).collect()),
            ..Scope::everything()
        }
    }

    /// A self-service user: only the entries of `user` in `realm`, without CSV download.
    pub fn user(user: impl Into<String>, realm: impl Into<String>) -> Self {
        Scope {
            user: Some(SelfService {
                user: user.into(),
                realm: realm.into(),
                resolver: None,
            }),
            download: false,
            ..Scope::everything()
        }
    }

    /// Also the entries whose `administrator` is `administrator`, in any realm (for a scope
    /// made by [`Scope::realms`]; a scope that sees every realm sees them already).
    #[must_use]
    pub fn with_own_entries(mut self, administrator: impl Into<String>) -> Self {
        self.own_entries = Some(administrator.into());
        self
    }

    /// Holds a self-service user to this resolver too.
    #[must_use]
    pub fn with_resolver(mut self, resolver: impl Into<String>) -> Self {
        if let Some(user) = &mut self.user {
            user.resolver = Some(resolver.into());
        }
        self
    }

    /// Entries older than `limit` are out of scope, whatever window the client asks for.
    #[must_use]
    pub fn max_age(mut self, limit: TimeLimit) -> Self {
        self.max_age = Some(match self.max_age {
            Some(current) if current.length() <= limit.length() => current,
            _ => limit,
        });
        self
    }

    /// Hides `column`: it is left out of entries, column lists and CSV, and the dialects refuse
    /// to filter, sort or search by it.
    #[must_use]
    pub fn hide(mut self, column: Column) -> Self {
        if !self.hidden.contains(&column) {
            self.hidden.push(column);
        }
        self
    }

    /// Sets whether the caller may download CSV.
    #[must_use]
    pub fn download(mut self, allowed: bool) -> Self {
        self.download = allowed;
        self
    }

    /// Whether `column` is shown.
    pub fn shows(&self, column: Column) -> bool {
        !self.hidden.contains(&column)
    }

    /// The hidden columns.
    pub fn hidden(&self) -> &[Column] {
        &self.hidden
    }

    /// Whether the caller may download CSV.
    pub fn may_download(&self) -> bool {
        self.download
    }

    /// `query` held to this scope ([`AuditQuery::restrict`]): the realm and identity
    /// restrictions as conditions, the maximum age as a cap on the time limit, and free text
    /// kept off hidden columns.
    pub fn restrict(&self, query: AuditQuery) -> AuditQuery {
        let text = |column: Column, value: &str| Condition::equals(Field::Column(column), value);
        let mut conditions = Vec::new();
        if let Some(realms) = &self.realms {
            let mut allowed: Vec<Condition> =
                realms.iter().map(|r| text(Column::Realm, r)).collect();
            if let Some(administrator) = &self.own_entries {
                allowed.push(text(Column::Administrator, administrator));
            }
            conditions.push(Condition::any(allowed));
        }
        if let Some(user) = &self.user {
            conditions.push(text(Column::User, &user.user));
            conditions.push(text(Column::Realm, &user.realm));
            if let Some(resolver) = &user.resolver {
                conditions.push(text(Column::Resolver, resolver));
            }
        }
        let mut query = query;
        if !conditions.is_empty() || self.max_age.is_some() {
            query = query.restrict(conditions, self.max_age);
        }
        if !self.hidden.is_empty() {
            query = query.search_without(&self.hidden);
        }
        query
    }
}
