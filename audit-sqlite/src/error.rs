//! The backend's own errors, mapped into the library's semantic error.

use audit_core::Error;
use rusqlite::ErrorCode;

/// What went wrong inside this backend.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("the writer thread has stopped")]
    WriterGone,
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl SqliteError {
    fn retryable(&self) -> bool {
        match self {
            SqliteError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => {
                matches!(
                    failure.code,
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                )
            }
            _ => false,
        }
    }

    /// Maps into the library's error, naming what the store was doing.
    pub(crate) fn during(self, action: &str) -> Error {
        if let SqliteError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) = &self {
            if matches!(
                failure.code,
                ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt
            ) {
                return Error::Incompatible(format!(
                    "{action}: the file is not an intact SQLite database ({self})"
                ));
            }
        }
        let retryable = self.retryable();
        Error::backend("sqlite", action, retryable, self)
    }
}

/// Shorthand for mapping rusqlite results.
pub(crate) trait Context<T> {
    fn during(self, action: &str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn during(self, action: &str) -> Result<T, Error> {
        self.map_err(|e| SqliteError::from(e).during(action))
    }
}
