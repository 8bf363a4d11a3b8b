//! Column filters: exact, wildcard and negated matches on any column or `extra.<key>`.

use std::fmt;
use std::str::FromStr;

use crate::column::{Column, ColumnKind};
use crate::error::Error;
use crate::query::pattern::Pattern;
use crate::query::time::{TimeRange, parse_date_filter};

/// The longest filter or search value accepted, in bytes.
pub const MAX_FILTER_VALUE_BYTES: usize = 4096;

/// What a filter looks at: a column, or one key of the host's `extra` fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A column of the registry.
    Column(Column),
    /// `extra.<key>`: one of the host's own fields (missing is the empty string).
    Extra(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Column(c) => f.write_str(c.name()),
            Field::Extra(key) => write!(f, "extra.{key}"),
        }
    }
}

impl FromStr for Field {
    type Err = Error;

    /// Parses a canonical column name or `extra.<key>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(key) = s.strip_prefix("extra.") {
            if key.is_empty() {
                return Err(Error::invalid_query(
                    s,
                    "the extra key is empty",
                    "extra.<key>",
                ));
            }
            return Ok(Field::Extra(key.to_owned()));
        }
        match Column::from_name(s) {
            Some(c) if c.is_filterable() => Ok(Field::Column(c)),
            _ => Err(Error::invalid_query(
                if s.is_empty() { "filter" } else { s },
                format!("{s:?} is not a filterable column"),
                format!(
                    "one of {} or extra.<key>",
                    Column::ALL
                        .iter()
                        .filter(|c| c.is_filterable())
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// How a text value is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    /// Equal, case-sensitive.
    Exact(String),
    /// A case-insensitive `*` pattern.
    Pattern(Pattern),
}

/// One condition on one field. All conditions of a query must hold (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// A text column or `extra.<key>`; `negated` inverts it, and a missing value (the empty
    /// string) satisfies a negated condition unless the negated value is itself empty.
    Text {
        /// The column or extra key.
        field: Field,
        /// How the value is compared.
        matcher: TextMatch,
        /// Whether the condition is inverted (`!`).
        negated: bool,
    },
    /// The outcome equals this value.
    Success(bool),
    /// The id equals (or, negated, differs from) this value.
    Id {
        /// The id.
        id: i64,
        /// Whether the condition is inverted.
        negated: bool,
    },
    /// A timestamp column lies within (or, negated, outside) the range. A missing start date is
    /// outside every range.
    Time {
        /// [`Column::Date`] or [`Column::StartDate`].
        column: Column,
        /// The range.
        range: TimeRange,
        /// Whether the condition is inverted.
        negated: bool,
    },
    /// At least one of the conditions holds (or, negated, none does); an empty list holds for
    /// no entry. Scopes use it for "these realms, or entries this administrator wrote".
    Any {
        /// The alternatives.
        conditions: Vec<Condition>,
        /// Whether the condition is inverted.
        negated: bool,
    },
}

impl Condition {
    /// Holds when at least one of `conditions` holds.
    pub fn any(conditions: Vec<Condition>) -> Self {
        Condition::Any {
            conditions,
            negated: false,
        }
    }

    /// Holds when every one of `conditions` holds (an empty list holds for every entry):
    /// `Any` over the negations, negated.
    pub fn all(conditions: Vec<Condition>) -> Self {
        Condition::Any {
            conditions: conditions.into_iter().map(Condition::negate).collect(),
            negated: true,
        }
    }

    /// An exact, case-sensitive match on a text field.
    pub fn equals(field: Field, value: impl Into<String>) -> Self {
        Condition::Text {
            field,
            matcher: TextMatch::Exact(value.into()),
            negated: false,
        }
    }

    /// A case-insensitive `*` pattern on a text field.
    pub fn like(field: Field, pattern: &str) -> Self {
        Condition::Text {
            field,
            matcher: TextMatch::Pattern(Pattern::new(pattern)),
            negated: false,
        }
    }

    /// The same condition, inverted.
    #[must_use]
    pub fn negate(self) -> Self {
        match self {
            Condition::Text {
                field,
                matcher,
                negated,
            } => Condition::Text {
                field,
                matcher,
                negated: !negated,
            },
            Condition::Success(value) => Condition::Success(!value),
            Condition::Id { id, negated } => Condition::Id {
                id,
                negated: !negated,
            },
            Condition::Time {
                column,
                range,
                negated,
            } => Condition::Time {
                column,
                range,
                negated: !negated,
            },
            Condition::Any {
                conditions,
                negated,
            } => Condition::Any {
                conditions,
                negated: !negated,
            },
        }
    }

    /// Parses a filter as a client writes it, `field` being a canonical name or `extra.<key>`.
    ///
    /// A leading `!` negates; in text a `*` makes a case-insensitive pattern; an empty value or
    /// one made only of `*` (after the `!`) is no filter and gives `Ok(None)`. `success` takes
    /// `1`, `0`, `true` or `false`; `id` a whole number; `date` and `start_date` a prefix such as
    /// `2026-05-01*` or a full timestamp.
    pub fn parse(field: &str, value: &str) -> Result<Option<Condition>, Error> {
        let field: Field = field.parse()?;
        Condition::parse_for(field, value)
    }

    /// Like [`Condition::parse`] for an already resolved field.
    pub fn parse_for(field: Field, value: &str) -> Result<Option<Condition>, Error> {
        let name = field.to_string();
        check_value(&name, value)?;
        let (negated, body) = match value.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        if body.chars().all(|c| c == '*') {
            return Ok(None);
        }
        let condition = match &field {
            Field::Extra(_) => text_condition(field, body),
            Field::Column(column) => match column.kind() {
                ColumnKind::Text => text_condition(field, body),
                ColumnKind::Bool => Condition::Success(parse_bool(&name, body)?),
                ColumnKind::Integer => Condition::Id {
                    id: body.parse().map_err(|_| {
                        Error::invalid_query(
                            &name,
                            format!("{body:?} is not a whole number"),
                            "a whole number such as 42",
                        )
                    })?,
                    negated: false,
                },
                ColumnKind::Timestamp => Condition::Time {
                    column: *column,
                    range: parse_date_filter(&name, body)?,
                    negated: false,
                },
                ColumnKind::Duration | ColumnKind::Map => {
                    return Err(Error::invalid_query(
                        &name,
                        "this column cannot be filtered",
                        "a filterable column",
                    ));
                }
            },
        };
        Ok(Some(if negated {
            condition.negate()
        } else {
            condition
        }))
    }
}

fn text_condition(field: Field, body: &str) -> Condition {
    if body.contains('*') {
        Condition::like(field, body)
    } else {
        Condition::equals(field, body)
    }
}

/// Parses `1`, `0`, `true` or `false` (case-insensitive).
pub fn parse_bool(parameter: &str, value: &str) -> Result<bool, Error> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(Error::invalid_query(
            parameter,
            format!("{value:?} is not a boolean"),
            "1, 0, true or false",
        )),
    }
}

/// Refuses values a client should never send: over [`MAX_FILTER_VALUE_BYTES`] or containing NUL.
pub fn check_value(parameter: &str, value: &str) -> Result<(), Error> {
    if value.len() > MAX_FILTER_VALUE_BYTES {
        return Err(Error::invalid_query(
            parameter,
            format!("the value is {} bytes long", value.len()),
            format!("at most {MAX_FILTER_VALUE_BYTES} bytes"),
        ));
    }
    if value.contains('\0') {
        return Err(Error::invalid_query(
            parameter,
            "the value contains a NUL character",
            "text without NUL characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_and_wildcards_parse() {
        let c = Condition::parse("authentication", "!CHAL*").ok().flatten();
        assert!(matches!(
            c,
            Some(Condition::Text {
                negated: true,
                matcher: TextMatch::Pattern(_),
                ..
            })
        ));
        let c = Condition::parse("user", "alice").ok().flatten();
        assert_eq!(
            c,
            Some(Condition::equals(Field::Column(Column::User), "alice"))
        );
    }

    #[test]
    fn empty_and_all_star_values_are_no_filter() {
        for v in ["", "*", "***", "!", "!**"] {
            assert_eq!(Condition::parse("user", v).ok(), Some(None), "{v}");
        }
    }

    #[test]
    fn typed_columns_validate_their_values() {
        assert_eq!(
            Condition::parse("success", "true").ok().flatten(),
            Some(Condition::Success(true))
        );
        assert_eq!(
            Condition::parse("success", "!1").ok().flatten(),
            Some(Condition::Success(false))
        );
        assert!(Condition::parse("success", "yes").is_err());
        assert!(Condition::parse("id", "12a").is_err());
        assert!(Condition::parse("duration", "5").is_err());
        assert!(Condition::parse("nope", "5").is_err());
        assert!(Condition::parse("extra.", "5").is_err());
        assert!(Condition::parse("user", "a\0b").is_err());
        assert!(Condition::parse("user", &"x".repeat(5000)).is_err());
    }
}
