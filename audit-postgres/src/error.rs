//! The backend's own errors, mapped into the library's semantic error.

use audit_core::Error;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// The name this backend gives in [`Error::Backend`].
pub(crate) const BACKEND: &str = "postgres";

/// What went wrong inside this backend.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostgresError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error("{0}")]
    Bind(String),
}

/// SQLSTATE classes and codes after which the same operation may well succeed: the connection
/// or the server went away (and the pool reconnects), or the transaction lost a race.
fn retryable_state(state: &SqlState) -> bool {
    let code = state.code();
    // Class 08: connection exception; 57P01..57P05: the server is shutting down or the backend
    // was terminated (pg_terminate_backend); 53: insufficient resources (too many connections).
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "57P05")
        || *state == SqlState::T_R_SERIALIZATION_FAILURE
        || *state == SqlState::T_R_DEADLOCK_DETECTED
        || *state == SqlState::LOCK_NOT_AVAILABLE
}

/// SQLSTATE codes that mean the schema is not what this store created.
fn schema_state(state: &SqlState) -> bool {
    *state == SqlState::UNDEFINED_TABLE
        || *state == SqlState::UNDEFINED_COLUMN
        || *state == SqlState::UNDEFINED_OBJECT
        || *state == SqlState::INVALID_SCHEMA_NAME
        || *state == SqlState::DATATYPE_MISMATCH
}

fn postgres_retryable(error: &tokio_postgres::Error) -> bool {
    match error.code() {
        Some(state) => retryable_state(state),
        // No SQLSTATE: the connection failed (I/O, closed, timeout) rather than a statement.
        None => true,
    }
}

impl PostgresError {
    fn retryable(&self) -> bool {
        match self {
            PostgresError::Postgres(error) => postgres_retryable(error),
            PostgresError::Pool(PoolError::Backend(error)) => postgres_retryable(error),
            PostgresError::Pool(PoolError::Timeout(_)) => true,
            PostgresError::Pool(_) | PostgresError::Bind(_) => false,
        }
    }

    fn state(&self) -> Option<&SqlState> {
        match self {
            PostgresError::Postgres(error) | PostgresError::Pool(PoolError::Backend(error)) => {
                error.code()
            }
            _ => None,
        }
    }

    /// Maps into the library's error, naming what the store was doing.
    pub(crate) fn during(self, action: &str) -> Error {
        if matches!(self, PostgresError::Pool(PoolError::Closed)) {
            return Error::Closed;
        }
        if self.state().is_some_and(schema_state) {
            return Error::Incompatible(format!(
                "{action}: the schema is not the one this store created ({self})"
            ));
        }
        let retryable = self.retryable();
        Error::backend(BACKEND, action, retryable, self)
    }
}

/// Shorthand for mapping the driver's and the pool's results.
pub(crate) trait Context<T> {
    fn during(self, action: &str) -> Result<T, Error>;
}

impl<T, E: Into<PostgresError>> Context<T> for Result<T, E> {
    fn during(self, action: &str) -> Result<T, Error> {
        self.map_err(|e| e.into().during(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_backends_and_lost_races_are_retryable() {
        assert!(retryable_state(&SqlState::ADMIN_SHUTDOWN));
        assert!(retryable_state(&SqlState::CONNECTION_FAILURE));
        assert!(retryable_state(&SqlState::T_R_SERIALIZATION_FAILURE));
        assert!(retryable_state(&SqlState::TOO_MANY_CONNECTIONS));
        assert!(!retryable_state(&SqlState::UNIQUE_VIOLATION));
        assert!(!retryable_state(&SqlState::SYNTAX_ERROR));
    }

    #[test]
    fn a_missing_table_is_an_incompatible_schema() {
        assert!(schema_state(&SqlState::UNDEFINED_TABLE));
        assert!(!schema_state(&SqlState::ADMIN_SHUTDOWN));
    }

    #[test]
    fn a_closed_pool_is_closed() {
        assert!(matches!(
            PostgresError::Pool(PoolError::Closed).during("reading"),
            Error::Closed
        ));
    }
}
