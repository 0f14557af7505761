//! The one error type handlers return, mapped once to an HTTP status and the JSON body of api.md. Internal details
//! (SQL, I/O) go to the log with the request id, never to the client.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nene_shared::{ErrorBody, ErrorCode, FieldCode};

use crate::ledger::LedgerError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub fields: Option<BTreeMap<String, FieldCode>>,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), fields: None, retry_after: None }
    }

    /// 400 with the fields that were refused and why.
    pub fn validation(fields: BTreeMap<String, FieldCode>) -> Self {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed,
            format!("Please check: {}", names.join(", ")),
        );
        e.fields = Some(fields);
        e
    }

    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, message);
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// The effect of an offline intent that another push of the same intent decided first: nothing was done. The
    /// push answers from the intent's record instead, so this never reaches a client as such.
    pub fn intent_decided() -> Self {
        ApiError::conflict(ErrorCode::IdempotencyRequestInProgress, "This action was settled by another send.")
    }

    /// A failure that is ours, not the caller's. The cause is logged; the client learns only that it happened.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "Something went wrong on our side.")
    }

    pub fn with_field(mut self, field: &str, code: FieldCode) -> Self {
        self.fields.get_or_insert_with(BTreeMap::new).insert(field.to_owned(), code);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(&e)
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::InsufficientPoints { available, needed } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InsufficientPoints,
                format!("Not enough points: {} needed, {} available.", needed.display(), available.display()),
            ),
            LedgerError::WalletLimit { max } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::WalletLimitExceeded,
                format!("A wallet can hold at most {}.", max.display()),
            ),
            LedgerError::RefundExceedsUnspent { remaining } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::RefundExceedsUnspent,
                format!("Only {} of this charge is unspent.", remaining.display()),
            ),
            other => ApiError::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code, message: self.message, fields: self.fields };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
