//! The column registry: the single source of truth for every column's name, type, limits and
//! its names in each HTTP dialect.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The value type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnKind {
    /// A 64-bit integer (the entry id).
    Integer,
    /// A UTC timestamp with microsecond precision.
    Timestamp,
    /// A boolean (the outcome).
    Bool,
    /// Text; a missing value is the empty string.
    Text,
    /// A non-negative duration in microseconds; may be missing.
    Duration,
    /// A map of the host's own text fields.
    Map,
}

macro_rules! columns {
    ($( $variant:ident => $name:literal, $kind:ident, $limit:expr, $pi:expr, $vault:expr, $doc:literal; )*) => {
        /// Every column of an audit entry (DESIGN §2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Column {
            $( #[doc = $doc] $variant, )*
        }

        impl Column {
            /// All columns, in registry order.
            pub const ALL: &'static [Column] = &[$(Column::$variant),*];

            /// The canonical name (used in the Rust API, SQL schemas and the canonical CSV).
            pub const fn name(self) -> &'static str {
                match self { $(Column::$variant => $name,)* }
            }

            /// The value type.
            pub const fn kind(self) -> ColumnKind {
                match self { $(Column::$variant => ColumnKind::$kind,)* }
            }

            /// The maximum length in characters of a text column; longer values are truncated
            /// on a character boundary when the event is built.
            pub const fn max_chars(self) -> Option<usize> {
                match self { $(Column::$variant => $limit,)* }
            }

            /// The column's name in the privacyIDEA dialect, if it appears there.
            pub const fn privacyidea_name(self) -> Option<&'static str> {
                match self { $(Column::$variant => $pi,)* }
            }

            /// The column's name in the MetaDefender Vault dialect, if it appears there.
            pub const fn vault_name(self) -> Option<&'static str> {
                match self { $(Column::$variant => $vault,)* }
            }
        }
    };
}

columns! {
    Id => "id", Integer, None, Some("number"), Some("audit_id"),
        "The id assigned by the store; strictly increasing in append order.";
    Date => "date", Timestamp, None, Some("date"), Some("date"),
        "When the event happened (UTC, microseconds).";
    Event => "event", Text, Some(200), Some("action"), Some("event"),
        "What happened, for example `POST /validate/check`; required.";
    Success => "success", Bool, None, Some("success"), Some("status"),
        "The outcome.";
    Description => "description", Text, Some(2000), Some("info"), Some("description"),
        "Free-form detail about the event.";
    User => "user", Text, Some(256), Some("user"), Some("user"),
        "The user the event concerns.";
    Realm => "realm", Text, Some(256), Some("realm"), None,
        "The user's realm.";
    Resolver => "resolver", Text, Some(256), Some("resolver"), None,
        "The user's resolver.";
    Role => "role", Text, Some(64), None, Some("role"),
        "The role of the acting user.";
    Administrator => "administrator", Text, Some(256), Some("administrator"), None,
        "The administrator who acted.";
    Location => "location", Text, Some(128), Some("client"), Some("location"),
        "The client address.";
    Serial => "serial", Text, Some(128), Some("serial"), None,
        "The serial of the token involved.";
    TokenType => "token_type", Text, Some(64), Some("token_type"), None,
        "The type of the token involved.";
    Authentication => "authentication", Text, Some(64), Some("authentication"), None,
        "The authentication result (`ACCEPT`, `REJECT`, `CHALLENGE`, ...).";
    ActionDetail => "action_detail", Text, Some(512), Some("action_detail"), None,
        "Detail of the action.";
    Policies => "policies", Text, Some(1024), Some("policies"), None,
        "The policies that applied.";
    UserAgent => "user_agent", Text, Some(512), Some("user_agent"), None,
        "The client's user agent.";
    UserAgentVersion => "user_agent_version", Text, Some(64), Some("user_agent_version"), None,
        "The version of the client's user agent.";
    ContainerSerial => "container_serial", Text, Some(128), Some("container_serial"), None,
        "The serial of the token container involved.";
    ContainerType => "container_type", Text, Some(64), Some("container_type"), None,
        "The type of the token container involved.";
    LogLevel => "log_level", Text, Some(32), Some("log_level"), None,
        "The log level of the entry.";
    ClearanceLevel => "clearance_level", Text, Some(32), Some("clearance_level"), None,
        "The clearance level of the entry.";
    ThreadId => "thread_id", Text, Some(64), Some("thread_id"), None,
        "The thread that handled the request.";
    Server => "server", Text, Some(256), Some("privacyidea_server"), None,
        "The server node that handled the request.";
    StartDate => "start_date", Timestamp, None, Some("startdate"), None,
        "When handling of the request started; may be missing.";
    Duration => "duration", Duration, None, Some("duration"), None,
        "How long the request took; may be missing.";
    Extra => "extra", Map, None, None, None,
        "The host's own fields, a map of text to text.";
}

/// The most keys an event's `extra` map keeps; further keys (in key order) are dropped.
pub const EXTRA_MAX_KEYS: usize = 64;
/// The maximum length in characters of a key of the `extra` map.
pub const EXTRA_KEY_MAX_CHARS: usize = 64;
/// The maximum length in characters of a value of the `extra` map.
pub const EXTRA_VALUE_MAX_CHARS: usize = 1024;

impl Column {
    /// The text columns, in registry order: these are searched by free text.
    pub const TEXT: &'static [Column] = &[
        Column::Event,
        Column::Description,
        Column::User,
        Column::Realm,
        Column::Resolver,
        Column::Role,
        Column::Administrator,
        Column::Location,
        Column::Serial,
        Column::TokenType,
        Column::Authentication,
        Column::ActionDetail,
        Column::Policies,
        Column::UserAgent,
        Column::UserAgentVersion,
        Column::ContainerSerial,
        Column::ContainerType,
        Column::LogLevel,
        Column::ClearanceLevel,
        Column::ThreadId,
        Column::Server,
    ];

    /// Whether results can be sorted by this column.
    pub const fn is_sortable(self) -> bool {
        !matches!(self.kind(), ColumnKind::Map)
    }

    /// Whether free-text search looks into this column.
    pub const fn is_searchable(self) -> bool {
        matches!(self.kind(), ColumnKind::Text)
    }

    /// Whether a column filter can be applied to this column.
    pub const fn is_filterable(self) -> bool {
        !matches!(self.kind(), ColumnKind::Map | ColumnKind::Duration)
    }

    /// The position of a text column in [`Column::TEXT`]; constant time, as it is on every
    /// hot path (appends, filters, rendering).
    pub const fn text_index(self) -> Option<usize> {
        Some(match self {
            Column::Event => 0,
            Column::Description => 1,
            Column::User => 2,
            Column::Realm => 3,
            Column::Resolver => 4,
            Column::Role => 5,
            Column::Administrator => 6,
            Column::Location => 7,
            Column::Serial => 8,
            Column::TokenType => 9,
            Column::Authentication => 10,
            Column::ActionDetail => 11,
            Column::Policies => 12,
            Column::UserAgent => 13,
            Column::UserAgentVersion => 14,
            Column::ContainerSerial => 15,
            Column::ContainerType => 16,
            Column::LogLevel => 17,
            Column::ClearanceLevel => 18,
            Column::ThreadId => 19,
            Column::Server => 20,
            _ => return None,
        })
    }

    /// Looks a column up by its canonical name.
    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Looks a column up by its privacyIDEA name.
    pub fn from_privacyidea_name(name: &str) -> Option<Column> {
        Column::ALL
            .iter()
            .copied()
            .find(|c| c.privacyidea_name() == Some(name))
    }

    /// Looks a column up by its Vault name.
    pub fn from_vault_name(name: &str) -> Option<Column> {
        Column::ALL
            .iter()
            .copied()
            .find(|c| c.vault_name() == Some(name))
    }

    /// The canonical names of the sortable columns, for error messages.
    pub fn sortable_names() -> String {
        Column::ALL
            .iter()
            .filter(|c| c.is_sortable())
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Column {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Column::from_name(s).ok_or_else(|| {
            let valid: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
            Error::invalid_query(
                "column",
                format!("unknown column {s:?}"),
                format!("one of {}", valid.join(", ")),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_in_every_dialect() {
        for (i, a) in Column::ALL.iter().enumerate() {
            for b in &Column::ALL[i + 1..] {
                assert_ne!(a.name(), b.name());
                if a.privacyidea_name().is_some() {
                    assert_ne!(a.privacyidea_name(), b.privacyidea_name());
                }
                if a.vault_name().is_some() {
                    assert_ne!(a.vault_name(), b.vault_name());
                }
            }
        }
    }

    #[test]
    fn text_list_holds_exactly_the_text_columns_with_limits() {
        let text: Vec<Column> = Column::ALL
            .iter()
            .copied()
            .filter(|c| c.kind() == ColumnKind::Text)
            .collect();
        assert_eq!(text, Column::TEXT);
        for (i, column) in Column::TEXT.iter().enumerate() {
            assert_eq!(column.text_index(), Some(i));
        }
        assert_eq!(Column::Date.text_index(), None);
        assert!(Column::TEXT.iter().all(|c| c.max_chars().is_some()));
    }

    #[test]
    fn lookup_by_each_name_round_trips() {
        for c in Column::ALL {
            assert_eq!(Column::from_name(c.name()), Some(*c));
            if let Some(n) = c.privacyidea_name() {
                assert_eq!(Column::from_privacyidea_name(n), Some(*c));
            }
        }
        assert!("nope".parse::<Column>().is_err());
    }
}
