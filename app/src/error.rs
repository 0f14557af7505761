//! The app's errors: one enum for what the UI may be told (offline, refused by the server, signed out, bad input),
//! with the cache's and the token store's own errors inside.

use nene_shared::ErrorCode;

use crate::cache::CacheError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No answer from the server (offline, refused connection, timeout) or a server-side failure (5xx, 429):
    /// whatever was being sent stays queued and is tried again later.
    #[error("the server cannot be reached right now: {0}")]
    Offline(String),
    /// The server answered with an error body.
    #[error("{message}")]
    Server { status: u16, code: ErrorCode, message: String },
    /// There is no session (never signed in, or the server ended it): the person must sign in again.
    #[error("please sign in")]
    NotSignedIn,
    /// The caller asked for something that cannot be done (an empty proof, a bad server address).
    #[error("{0}")]
    Invalid(String),
    /// The server answered something this version of the app cannot read.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
}

impl AppError {
    /// The stable code a UI words its message by.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Offline(_) => ErrorCode::Unavailable,
            AppError::Server { code, .. } => *code,
            AppError::NotSignedIn => ErrorCode::Unauthenticated,
            AppError::Invalid(_) => ErrorCode::ValidationFailed,
            AppError::Protocol(_) | AppError::Cache(_) | AppError::Tokens(_) => ErrorCode::Internal,
        }
    }

    /// Whether trying the same thing later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AppError::Offline(_))
    }
}

pub type AppResult<T> = Result<T, AppError>;
