//! The error body every failed API call returns: a stable machine-readable `code`, a `message` for people, and
//! per-field codes when specific inputs are wrong. Clients branch on `code`, never on `message`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What every non-2xx answer carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, FieldCode>>,
}

/// Stable error codes. New codes may appear; clients treat an unknown one as [`ErrorCode::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    // 400
    MalformedJson,
    MalformedBody,
    ValidationFailed,
    // 401
    Unauthenticated,
    InvalidCredentials,
    TokenInvalid,
    TokenExpired,
    TokenRevoked,
    RefreshTokenInvalid,
    RefreshTokenReused,
    // 403
    Forbidden,
    /// The caller has a stake in the challenge (a participant, administrators included), so may not decide on its
    /// proofs; a report goes to an administrator who has none.
    ConflictOfInterest,
    // 404
    NotFound,
    // 405
    MethodNotAllowed,
    // 409
    EmailTaken,
    NicknameTaken,
    IdempotencyRequestInProgress,
    OrderNotConfirmable,
    OrderNotRefundable,
    ChallengeFull,
    AlreadyJoined,
    ChallengeNotRecruiting,
    NotAParticipant,
    CreatorCannotLeave,
    ChallengeNotEditable,
    ProofAlreadySubmitted,
    AlreadyReported,
    ProofNotRejectable,
    ProofNotReportable,
    ProofNotAppealable,
    /// A proof is appealed at most once.
    AppealAlreadyMade,
    /// A rejection is appealed within its window (the proof's `appeal_until`); this one's has passed.
    AppealWindowClosed,
    /// Dismissing needs an open report or appeal.
    NoOpenCase,
    /// Settlement has begun, or the grace time after the end ran out and the system decided.
    ModerationClosed,
    // 413
    PayloadTooLarge,
    // 415
    UnsupportedMediaType,
    // 422
    IdempotencyKeyReused,
    /// An offline intent was sent again under the same id with another body or kind.
    IntentBodyChanged,
    AmountMismatch,
    InsufficientPoints,
    WalletLimitExceeded,
    RefundExceedsUnspent,
    PaymentFailed,
    NotAProofDay,
    ChallengeNotInProgress,
    InvalidPhoto,
    ProofContentMissing,
    NotSupported,
    // 502
    PaymentProviderError,
    // 429
    TooManyRequests,
    // 400 (amounts)
    AmountOutOfRange,
    // 500 / 503
    Internal,
    Unavailable,
    PaymentsDisabled,
    PushDisabled,
    // 507
    /// New photos are refused while the server's storage is short of free space (everything else still works).
    StorageFull,
    /// A code this client version does not know yet.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire form, e.g. `EMAIL_TAKEN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "MALFORMED_JSON",
            Self::MalformedBody => "MALFORMED_BODY",
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::RefreshTokenInvalid => "REFRESH_TOKEN_INVALID",
            Self::RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            Self::Forbidden => "FORBIDDEN",
            Self::ConflictOfInterest => "CONFLICT_OF_INTEREST",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PaymentsDisabled => "PAYMENTS_DISABLED",
            Self::PushDisabled => "PUSH_DISABLED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::NicknameTaken => "NICKNAME_TAKEN",
            Self::IdempotencyRequestInProgress => "IDEMPOTENCY_REQUEST_IN_PROGRESS",
            Self::OrderNotConfirmable => "ORDER_NOT_CONFIRMABLE",
            Self::OrderNotRefundable => "ORDER_NOT_REFUNDABLE",
            Self::ChallengeFull => "CHALLENGE_FULL",
            Self::AlreadyJoined => "ALREADY_JOINED",
            Self::ChallengeNotRecruiting => "CHALLENGE_NOT_RECRUITING",
            Self::NotAParticipant => "NOT_A_PARTICIPANT",
            Self::CreatorCannotLeave => "CREATOR_CANNOT_LEAVE",
            Self::ChallengeNotEditable => "CHALLENGE_NOT_EDITABLE",
            Self::ProofAlreadySubmitted => "PROOF_ALREADY_SUBMITTED",
            Self::AlreadyReported => "ALREADY_REPORTED",
            Self::ProofNotRejectable => "PROOF_NOT_REJECTABLE",
            Self::ProofNotReportable => "PROOF_NOT_REPORTABLE",
            Self::ProofNotAppealable => "PROOF_NOT_APPEALABLE",
            Self::AppealAlreadyMade => "APPEAL_ALREADY_MADE",
            Self::AppealWindowClosed => "APPEAL_WINDOW_CLOSED",
            Self::NoOpenCase => "NO_OPEN_CASE",
            Self::ModerationClosed => "MODERATION_CLOSED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::IntentBodyChanged => "INTENT_BODY_CHANGED",
            Self::AmountMismatch => "AMOUNT_MISMATCH",
            Self::InsufficientPoints => "INSUFFICIENT_POINTS",
            Self::WalletLimitExceeded => "WALLET_LIMIT_EXCEEDED",
            Self::RefundExceedsUnspent => "REFUND_EXCEEDS_UNSPENT",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::NotAProofDay => "NOT_A_PROOF_DAY",
            Self::ChallengeNotInProgress => "CHALLENGE_NOT_IN_PROGRESS",
            Self::InvalidPhoto => "INVALID_PHOTO",
            Self::ProofContentMissing => "PROOF_CONTENT_MISSING",
            Self::NotSupported => "NOT_SUPPORTED",
            Self::PaymentProviderError => "PAYMENT_PROVIDER_ERROR",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::AmountOutOfRange => "AMOUNT_OUT_OF_RANGE",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
            Self::StorageFull => "STORAGE_FULL",
            Self::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one input field was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FieldCode {
    Required,
    InvalidType,
    Invalid,
    InvalidEmail,
    TooShort,
    TooLong,
    Taken,
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_the_wire_form() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::EmailTaken,
            ErrorCode::IdempotencyKeyReused,
            ErrorCode::IntentBodyChanged,
            ErrorCode::RefreshTokenReused,
            ErrorCode::ConflictOfInterest,
            ErrorCode::AppealAlreadyMade,
            ErrorCode::AppealWindowClosed,
            ErrorCode::NoOpenCase,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn unknown_codes_do_not_break_old_clients() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"code":"SOMETHING_NEW","message":"m","fields":{"x":"NEW_RULE"}}"#).unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
        assert_eq!(body.fields.unwrap()["x"], FieldCode::Unknown);
    }
}
