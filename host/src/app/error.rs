//! What an operation of the application layer can answer instead of its
//! result: a kind a face can act on (who may not, what is not there, what is
//! wrong with the request, what the state refuses, which system failed) and
//! a message a person can act on. No HTTP here: the REST API and the admin
//! UI turn a kind into a status (`crate::web`), the CLI prints the message.

use crate::pipeline::EngineError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token, or one that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Not there, or not the caller's to see.
    #[error("{0}")]
    NotFound(String),
    /// What the caller sent cannot be taken as it is.
    #[error("{0}")]
    Invalid(String),
    /// The request is valid but the object's state refuses it.
    #[error("{0}")]
    Conflict(String),
    /// A source system could not be reached or refused.
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::Invalid(message.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::NotFound(m) => AppError::NotFound(m),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Sql(e) => {
                tracing::error!("database error: {e}");
                AppError::Internal(
                    "the database did not answer as expected; the server log has the details"
                        .into(),
                )
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::config::InvalidSchedule> for AppError {
    fn from(e: crate::config::InvalidSchedule) -> AppError {
        AppError::Invalid(e.0)
    }
}

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> AppError {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Refused(m) => AppError::Conflict(m),
            // Everything else keeps the operation from starting: the
            // caller's set-up is what to fix.
            other => AppError::Invalid(other.to_string()),
        }
    }
}
