//! Proof moderation: reports and appeals wait in a queue for an administrator who has no stake in the challenge,
//! and every decision (an administrator's, or the system's once the grace time after the end ran out) is kept with
//! its reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::challenges::{ChallengeId, Proof, ProofId, UserSummary};

crate::id_type!(
    /// One moderation decision.
    DecisionId
);

/// Why a proof is in the moderation queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseKind {
    /// Participants reported it; it counts until decided.
    Report,
    /// It was rejected and its owner appealed; it does not count until decided.
    Appeal,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Report => "REPORT",
            CaseKind::Appeal => "APPEAL",
        }
    }

    pub fn parse(s: &str) -> Option<CaseKind> {
        [CaseKind::Report, CaseKind::Appeal].into_iter().find(|k| k.as_str() == s)
    }
}

/// What a decision did to a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionAction {
    /// The proof does not count (on an appeal: the rejection stands).
    Reject,
    /// The proof counts (its reports are dismissed; on an appeal: it is restored).
    Dismiss,
}

impl DecisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionAction::Reject => "REJECT",
            DecisionAction::Dismiss => "DISMISS",
        }
    }

    pub fn parse(s: &str) -> Option<DecisionAction> {
        [DecisionAction::Reject, DecisionAction::Dismiss].into_iter().find(|k| k.as_str() == s)
    }
}

/// One participant's report of a proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofReport {
    pub reporter: UserSummary,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    /// Not yet closed by a decision.
    pub open: bool,
}

/// A proof waiting for an administrator, with everything needed to decide.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationCase {
    /// The proof with its photo and thumbnail addresses, text, status and appeal.
    pub proof: Proof,
    pub challenge_title: String,
    pub kind: CaseKind,
    pub opened_at: DateTime<Utc>,
    /// Every report of the proof, oldest first.
    pub reports: Vec<ProofReport>,
    /// After this the system decides: open reports are dismissed and an appealed proof is restored.
    pub decide_by: DateTime<Utc>,
    /// False when the caller takes part in the proof's challenge (a stake in its pot): they may look, not decide.
    pub can_decide: bool,
}

/// A decision on a proof, as kept for good.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModerationDecision {
    pub id: DecisionId,
    pub proof_id: ProofId,
    pub challenge_id: ChallengeId,
    /// The administrator; `None` when the system decided after the grace time.
    pub actor: Option<UserSummary>,
    pub action: DecisionAction,
    /// Whether it decided an appeal (rather than reports, or a proof nobody reported).
    pub on_appeal: bool,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// `GET /admin/moderation/decisions` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct DecisionQuery {
    pub challenge_id: Option<ChallengeId>,
    pub proof_id: Option<ProofId>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}
