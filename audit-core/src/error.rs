//! The one public error type of the library.

use std::error::Error as StdError;
use std::sync::Arc;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cause kept behind an error, shareable so that an error can be cloned to several waiters.
pub type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong, by meaning rather than by backend.
///
/// Backends keep their own private error types and map them into these variants, keeping the
/// original error as `source`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query parameter is invalid; `parameter` names it and `expected` says what would be valid.
    #[error("invalid parameter `{parameter}`: {problem}; expected {expected}")]
    InvalidQuery {
        /// The parameter (or column) the client got wrong.
        parameter: String,
        /// What is wrong with the value that was given.
        problem: String,
        /// What a valid value looks like.
        expected: String,
    },
    /// An event cannot be stored as given; `field` names the offending field.
    #[error("invalid event field `{field}`: {problem}")]
    InvalidEvent {
        /// The field of the event.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The backend does not implement this operation.
    #[error("unsupported by this store: {0}")]
    Unsupported(String),
    /// Stored data failed an integrity check.
    #[error("integrity violation: {0}")]
    Integrity(String),
    /// The storage holds something this store cannot use: a damaged file, another
    /// application's data, or a schema newer than this version understands. Nothing was changed.
    #[error("incompatible storage: {0}")]
    Incompatible(String),
    /// The store or writer has been shut down and takes no more work.
    #[error("the audit writer has shut down")]
    Closed,
    /// The storage backend failed.
    #[error("{backend} backend failed: {message}")]
    Backend {
        /// Which backend (for example `sqlite`).
        backend: &'static str,
        /// What the backend was doing when it failed.
        message: String,
        /// Whether the same operation may succeed if retried (lost connection, busy database).
        retryable: bool,
        /// The backend's own error.
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// Builds an [`Error::InvalidQuery`].
    pub fn invalid_query(
        parameter: impl Into<String>,
        problem: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self::InvalidQuery {
            parameter: parameter.into(),
            problem: problem.into(),
            expected: expected.into(),
        }
    }

    /// Builds an [`Error::Backend`] that keeps `source` as its cause.
    pub fn backend(
        backend: &'static str,
        message: impl Into<String>,
        retryable: bool,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Backend {
            backend,
            message: message.into(),
            retryable,
            source: Some(Arc::new(source)),
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Backend {
                retryable: true,
                ..
            }
        )
    }

    /// Whether the error was caused by the caller's input (as opposed to the store).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidQuery { .. } | Self::InvalidEvent { .. })
    }
}
