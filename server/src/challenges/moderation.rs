//! Proof moderation without a conflict of interest (domain.md, "Proof").
//!
//! Everyone in a challenge has a stake in its pot: whoever makes a rival's day not count takes a larger share. So
//! anyone in the challenge (the creator too) may only *report* a proof; the decision belongs to an administrator
//! who takes no part in that challenge. Reports and appeals wait in a queue; a reported proof counts until it is
//! decided. The owner is told of every decision and may appeal a rejection once; a rejected day may also simply be
//! proved again while its window is open, the new proof replacing the rejected one.
//!
//! A rejection is appealed within a window (`NENE_APPEAL_WINDOW_HOURS` from the decision, never past the grace time
//! after the end): a proof rejected on the last day, or after the end while other cases are decided, must still
//! leave its owner the chance to appeal. So a rejection inside its window holds settlement like an open case; once
//! the window closes unappealed, the rejection stands (nothing was decided, so nothing is recorded), and a late
//! appeal is refused with `APPEAL_WINDOW_CLOSED`.
//!
//! Settlement waits for a challenge's open cases, but not for ever: once the grace time after the end has run out,
//! the system decides what is still open in favour of the person who proved (reports dismissed, appealed proofs
//! restored), records each decision with its reason, and settlement goes on. The wait is decided by the database
//! under the challenge's lock, so it holds with several server instances.
//!
//! Every transaction here takes the challenge's lock first, then reads the proof again: the lock is what orders a
//! decision against a new proof of the same day, a report, and the settlement's plan.

use std::collections::{BTreeMap, HashMap};

use axum::http::StatusCode;
use chrono::Utc;
use nene_shared::challenges::{
    ChallengeStatus, Proof, ProofId, ProofStatus, SettlementWaitReason, SettlementWaiting, UserSummary, limits,
};
use nene_shared::moderation::{
    CaseKind, DecisionAction, DecisionId, DecisionQuery, ModerationCase, ModerationDecision, ProofReport,
};
use nene_shared::page::{Page, PageQuery};
use nene_shared::users::Role;
use nene_shared::{ErrorCode, FieldCode, UserId};
use uuid::Uuid;

use super::status_of;
use crate::app::AppState;
use crate::auth::tokens::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::notify;
use crate::store::challenges::{ChallengeRow, ProofRow};
use crate::store::moderation::NewDecision;
use crate::store::{self, StoreResult, Tx, from_millis};

/// The domain clock's now, the moderation grace time and the appeal window, read once per operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grace {
    /// The domain clock, which challenge days and ends follow.
    pub now_ms: i64,
    pub grace_ms: i64,
    /// How long the owner of a rejected proof has to appeal.
    pub appeal_window_ms: i64,
}

impl Grace {
    pub(crate) fn of(state: &AppState) -> Grace {
        Grace {
            now_ms: state.clock.now().timestamp_millis(),
            grace_ms: i64::try_from(state.config.moderation_grace.as_millis()).unwrap_or(i64::MAX),
            appeal_window_ms: i64::try_from(state.config.appeal_window.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// When the system decides what is still open: the grace time after the end.
    pub(crate) fn deadline(&self, row: &ChallengeRow) -> i64 {
        row.ends_at.saturating_add(self.grace_ms)
    }

    /// Until when a proof of `row` rejected now may be appealed: the appeal window, but never past the deadline,
    /// which bounds every wait of settlement.
    fn appeal_until(&self, row: &ChallengeRow) -> i64 {
        self.now_ms.saturating_add(self.appeal_window_ms).min(self.deadline(row))
    }

    fn ran_out(&self, row: &ChallengeRow) -> bool {
        self.now_ms >= self.deadline(row)
    }

    /// Challenges that ended before this have waited the whole grace time.
    pub(crate) fn cutoff(&self) -> i64 {
        self.now_ms.saturating_sub(self.grace_ms)
    }
}

const REJECTED: &str = "REJECTED";

/// Why the system dismissed reports nobody decided in time.
pub const SYSTEM_DISMISSED_REPORTS: &str = "검토 기한이 지나 신고를 기각했어요. 판단이 없을 때는 인증한 사람의 편이에요. \
     (The review time ran out: the reports are dismissed; doubt favours the person who proved.)";

/// Why the system restored an appealed proof nobody decided in time.
pub const SYSTEM_GRANTED_APPEAL: &str = "검토 기한이 지나 이의 신청을 받아들였어요. 판단이 없을 때는 인증한 사람의 편이에요. \
     (The review time ran out: the appeal is granted; doubt favours the person who proved.)";

fn reason_of(reason: &str) -> ApiResult<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(ApiError::validation(BTreeMap::from([("reason".to_owned(), FieldCode::Required)])));
    }
    if r.chars().count() > limits::REASON_MAX {
        return Err(ApiError::validation(BTreeMap::from([("reason".to_owned(), FieldCode::TooLong)])));
    }
    Ok(r.to_owned())
}

fn no_such_proof() -> ApiError {
    ApiError::not_found("No such proof.")
}

fn conflict_of_interest() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::ConflictOfInterest,
        "You take part in this challenge, so you may report its proofs but not decide on them.",
    )
}

fn moderation_closed(message: &str) -> ApiError {
    ApiError::conflict(ErrorCode::ModerationClosed, message)
}

fn appeal_window_closed() -> ApiError {
    ApiError::conflict(ErrorCode::AppealWindowClosed, "The time to appeal this rejection has passed.")
}

/// Reads the proof, locks its challenge, and reads the proof again under that lock.
async fn locked(tx: &mut Tx, id: ProofId) -> ApiResult<(ChallengeRow, ProofRow)> {
    let first = store::challenges::proof(tx, id.as_uuid()).await?.ok_or_else(no_such_proof)?;
    store::challenges::lock(tx, first.challenge_id).await?;
    let challenge = super::load(tx, first.challenge_id).await?;
    let proof = store::challenges::proof(tx, id.as_uuid()).await?.ok_or_else(no_such_proof)?;
    Ok((challenge, proof))
}

/// Whether `who` has a stake in the challenge: its creator or one of its participants.
async fn has_stake(tx: &mut Tx, challenge: &ChallengeRow, who: Uuid) -> StoreResult<bool> {
    Ok(challenge.creator_id == who || store::challenges::active_participation(tx, challenge.id, who).await?.is_some())
}

/// Only an administrator without a stake in the challenge decides on its proofs.
async fn may_decide(tx: &mut Tx, challenge: &ChallengeRow, who: &AccessClaims) -> ApiResult<()> {
    if has_stake(tx, challenge, who.sub).await? {
        return Err(conflict_of_interest());
    }
    if who.role != Role::Admin.as_str() {
        return Err(ApiError::forbidden("Only an administrator decides on reported proofs."));
    }
    Ok(())
}

/// Decisions and appeals are taken until settlement begins, within the grace time after the end.
async fn still_decidable(tx: &mut Tx, challenge: &ChallengeRow, grace: &Grace) -> ApiResult<()> {
    if status_of(challenge) != ChallengeStatus::InProgress
        || store::challenges::outcomes_recorded(tx, challenge.id).await? > 0
    {
        return Err(moderation_closed("This challenge is being settled or is over."));
    }
    if grace.ran_out(challenge) {
        return Err(moderation_closed(
            "The review time of this challenge ran out; open cases are decided for the proof.",
        ));
    }
    Ok(())
}

/// Ends a write made under the challenge's lock: commits and answers the proof as it now is, or rolls back at once
/// on a refusal, so the lock is not held past the answer.
async fn finish(mut tx: Tx, done: ApiResult<Uuid>) -> ApiResult<Proof> {
    let saved = match done {
        Ok(proof) => store::challenges::proof(&mut tx, proof).await,
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rollback after a refused moderation request failed");
            }
            return Err(e);
        }
    };
    let saved = saved?.ok_or_else(|| ApiError::internal(&"proof vanished"))?;
    tx.commit().await?;
    Ok(super::proofs::view(&saved))
}

/// Anyone in the challenge, its creator included, reports another's proof (once), until the last proof window
/// closes. The proof keeps counting; it waits in the queue for an administrator.
pub async fn report(state: &AppState, who: &AccessClaims, id: ProofId, reason: &str) -> ApiResult<Proof> {
    let reason = reason_of(reason)?;
    let grace = Grace::of(state);
    let mut tx = state.db.begin_write().await?;
    let done = report_in(&mut tx, who, id, &reason, &grace).await;
    finish(tx, done).await
}

async fn report_in(tx: &mut Tx, who: &AccessClaims, id: ProofId, reason: &str, grace: &Grace) -> ApiResult<Uuid> {
    let now = Utc::now().timestamp_millis();
    let (challenge, proof) = locked(tx, id).await?;
    if store::challenges::active_participation(tx, challenge.id, who.sub).await?.is_none() {
        return Err(super::proofs::not_a_participant());
    }
    if proof.user_id == who.sub {
        return Err(ApiError::forbidden("You cannot report your own proof."));
    }
    // Reports stop with the last window, so a report made to hold the payout back cannot come after the end.
    if status_of(&challenge) != ChallengeStatus::InProgress || grace.now_ms >= challenge.ends_at {
        return Err(moderation_closed("Reports close with the challenge's last proof day."));
    }
    if proof.status != ProofStatus::Accepted.as_str() || proof.replaced_at.is_some() {
        return Err(ApiError::conflict(ErrorCode::ProofNotReportable, "Only a proof that counts can be reported."));
    }
    if !store::moderation::add_report(tx, proof.id, who.sub, reason, now).await? {
        return Err(ApiError::conflict(ErrorCode::AlreadyReported, "You already reported this proof."));
    }
    store::moderation::open_case(tx, proof.id, challenge.id, CaseKind::Report.as_str(), now).await?;
    store::challenges::bump_version(tx, challenge.id).await?;
    Ok(proof.id)
}

/// An administrator without a stake rejects a proof (reported or not), or upholds a rejection that was appealed.
pub async fn reject(state: &AppState, who: &AccessClaims, id: ProofId, reason: &str) -> ApiResult<Proof> {
    decide_by_admin(state, who, id, reason, DecisionAction::Reject).await
}

/// An administrator without a stake dismisses what is open against a proof: its reports (the proof counts, as it
/// did), or the rejection it appealed (the proof counts again).
pub async fn dismiss(state: &AppState, who: &AccessClaims, id: ProofId, reason: &str) -> ApiResult<Proof> {
    decide_by_admin(state, who, id, reason, DecisionAction::Dismiss).await
}

async fn decide_by_admin(
    state: &AppState,
    who: &AccessClaims,
    id: ProofId,
    reason: &str,
    action: DecisionAction,
) -> ApiResult<Proof> {
    let reason = reason_of(reason)?;
    let grace = Grace::of(state);
    let mut tx = state.db.begin_write().await?;
    let done = async {
        let now = Utc::now().timestamp_millis();
        let (challenge, proof) = locked(&mut tx, id).await?;
        may_decide(&mut tx, &challenge, who).await?;
        still_decidable(&mut tx, &challenge, &grace).await?;
        decide(&mut tx, &challenge, &proof, action, Some(who.sub), &reason, &grace, now).await?;
        Ok(proof.id)
    }
    .await;
    finish(tx, done).await
}

/// Applies a decision inside the caller's transaction (the challenge locked, the proof read under the lock): the
/// proof's status, its reports and appeal, the queue, the record, and the owner's notification. A first rejection
/// opens the owner's appeal window.
#[allow(clippy::too_many_arguments)]
async fn decide(
    tx: &mut Tx,
    challenge: &ChallengeRow,
    proof: &ProofRow,
    action: DecisionAction,
    actor: Option<Uuid>,
    reason: &str,
    grace: &Grace,
    now: i64,
) -> ApiResult<()> {
    // A replaced proof is rejected and has no case open, so both actions refuse it below.
    let case = proof.case_kind.as_deref().and_then(CaseKind::parse);
    let rejected = proof.status == REJECTED;
    let day = &proof.day;
    let title = &challenge.title;
    let (kind, heading, body) = match (action, case) {
        (DecisionAction::Reject, Some(CaseKind::Appeal)) => {
            store::moderation::close_appeal(tx, proof.id, "DECLINED", now).await?;
            (notify::Kind::ProofRejected, "이의 신청 결과", format!("'{title}' {day} 인증의 반려가 유지돼요: {reason}"))
        }
        (DecisionAction::Reject, _) if rejected => {
            return Err(ApiError::conflict(ErrorCode::ProofNotRejectable, "This proof was already rejected."));
        }
        (DecisionAction::Reject, _) => {
            // A proof restored on appeal and rejected again has had its one appeal: no window opens.
            let appeal_until = proof.appeal_created_at.is_none().then(|| grace.appeal_until(challenge));
            if !store::moderation::reject_proof(tx, proof.id, reason, actor, appeal_until).await? {
                return Err(ApiError::internal(&"proof changed under the challenge's lock"));
            }
            store::moderation::resolve_reports(tx, proof.id, now).await?;
            let body = match appeal_until {
                Some(until) => {
                    let until = from_millis(until).with_timezone(&super::calendar_of(challenge).tz);
                    let until = until.format("%m월 %d일 %H:%M");
                    format!("'{title}' {day} 인증이 반려됐어요: {reason} {until}까지 한 번 이의를 신청할 수 있어요.")
                }
                None => format!("'{title}' {day} 인증이 반려됐어요: {reason}"),
            };
            (notify::Kind::ProofRejected, "인증 반려", body)
        }
        (DecisionAction::Dismiss, Some(CaseKind::Appeal)) => {
            if !store::moderation::restore_proof(tx, proof.id).await? {
                return Err(ApiError::internal(&"appealed proof changed under the challenge's lock"));
            }
            store::moderation::close_appeal(tx, proof.id, "GRANTED", now).await?;
            (
                notify::Kind::ProofReviewed,
                "이의 신청 결과",
                format!("이의 신청이 받아들여져 '{title}' {day} 인증이 다시 인정돼요: {reason}"),
            )
        }
        (DecisionAction::Dismiss, Some(CaseKind::Report)) => {
            store::moderation::resolve_reports(tx, proof.id, now).await?;
            (
                notify::Kind::ProofReviewed,
                "신고 검토 결과",
                format!("'{title}' {day} 인증에 대한 신고를 검토했어요. 인증은 그대로 인정돼요: {reason}"),
            )
        }
        (DecisionAction::Dismiss, None) => {
            return Err(ApiError::conflict(ErrorCode::NoOpenCase, "Nothing is open against this proof."));
        }
    };
    store::moderation::close_case(tx, proof.id).await?;
    let decision = NewDecision {
        id: Uuid::now_v7(),
        proof: proof.id,
        challenge: challenge.id,
        actor,
        action: action.as_str(),
        on_appeal: case == Some(CaseKind::Appeal),
        reason,
        now_ms: now,
    };
    store::moderation::insert_decision(tx, &decision).await?;
    store::challenges::bump_version(tx, challenge.id).await?;
    notify::record(
        tx,
        proof.user_id,
        kind,
        heading,
        &body,
        &[
            ("challenge_id", challenge.id.to_string()),
            ("proof_id", proof.id.to_string()),
            ("decision_id", decision.id.to_string()),
        ],
        now,
    )
    .await?;
    Ok(())
}

/// The owner appeals a rejection, once: the proof goes back to the queue, marked as an appeal.
pub async fn appeal(state: &AppState, who: &AccessClaims, id: ProofId, reason: &str) -> ApiResult<Proof> {
    let reason = reason_of(reason)?;
    let grace = Grace::of(state);
    let mut tx = state.db.begin_write().await?;
    let done = appeal_in(&mut tx, who, id, &reason, &grace).await;
    finish(tx, done).await
}

async fn appeal_in(tx: &mut Tx, who: &AccessClaims, id: ProofId, reason: &str, grace: &Grace) -> ApiResult<Uuid> {
    let now = Utc::now().timestamp_millis();
    let (challenge, proof) = locked(tx, id).await?;
    if proof.user_id != who.sub {
        return Err(ApiError::forbidden("Only the proof's owner can appeal its rejection."));
    }
    if proof.appeal_created_at.is_some() {
        return Err(ApiError::conflict(ErrorCode::AppealAlreadyMade, "A proof can be appealed only once."));
    }
    if proof.status != REJECTED || proof.replaced_at.is_some() {
        return Err(ApiError::conflict(ErrorCode::ProofNotAppealable, "Only a rejected proof can be appealed."));
    }
    // A rejection made before windows existed has none, and may be appealed until the review closes.
    if proof.appeal_until.is_some_and(|until| grace.now_ms >= until) {
        return Err(appeal_window_closed());
    }
    still_decidable(tx, &challenge, grace).await?;
    if !store::moderation::add_appeal(tx, proof.id, reason, now).await? {
        return Err(ApiError::conflict(ErrorCode::AppealAlreadyMade, "A proof can be appealed only once."));
    }
    store::moderation::open_case(tx, proof.id, challenge.id, CaseKind::Appeal.as_str(), now).await?;
    store::challenges::bump_version(tx, challenge.id).await?;
    Ok(proof.id)
}

/// Makes way for a new proof of a day whose proof `old` was rejected: `old` is marked replaced, and an appeal of it
/// that still waits is withdrawn (the day is proved anew; there is nothing left to decide). False when `old` is not
/// a rejected proof any more. Runs under the challenge's lock, inside the new proof's transaction.
pub(crate) async fn make_way(tx: &mut Tx, old: Uuid, now: i64) -> StoreResult<bool> {
    if !store::moderation::replace_rejected(tx, old, now).await? {
        return Ok(false);
    }
    if store::moderation::close_appeal(tx, old, "WITHDRAWN", now).await? {
        store::moderation::close_case(tx, old).await?;
    }
    Ok(true)
}

/// Whether settlement may plan a challenge now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Nothing is open (any longer): plan.
    Open,
    /// Proofs are under review and the grace time lasts: wait.
    Wait,
}

/// Runs before a challenge's settlement is planned, inside its transaction and under the challenge's lock. With
/// cases open, or rejections still inside their appeal window, and grace time left it says to wait; once the grace
/// time has run out it decides the open cases for the person who proved (reports dismissed, appealed proofs
/// restored), each decision recorded with its reason, and says go. A rejection nobody appealed stands.
pub(crate) async fn before_settlement(tx: &mut Tx, row: &ChallengeRow, grace: &Grace, now: i64) -> ApiResult<Gate> {
    let cases = store::moderation::open_cases(tx, row.id).await?;
    if grace.ran_out(row) {
        decide_for_the_proofs(tx, row, &cases, grace, now).await?;
        return Ok(Gate::Open);
    }
    if !cases.is_empty() || !open_windows(tx, &[row.id], grace).await?.is_empty() {
        return Ok(Gate::Wait);
    }
    Ok(Gate::Open)
}

/// Rejections still inside their appeal window, per challenge among `ids` that has any: how many, and when the
/// last window closes.
async fn open_windows(tx: &mut Tx, ids: &[Uuid], grace: &Grace) -> StoreResult<HashMap<Uuid, OpenWindows>> {
    let mut out: HashMap<Uuid, OpenWindows> = HashMap::new();
    for (challenge, until) in store::moderation::appeal_windows(tx, ids).await? {
        if until > grace.now_ms {
            let w = out.entry(challenge).or_insert(OpenWindows { count: 0, last: until });
            w.count += 1;
            w.last = w.last.max(until);
        }
    }
    Ok(out)
}

/// A challenge's rejections that may still be appealed.
#[derive(Clone, Copy, Debug)]
struct OpenWindows {
    count: i64,
    /// When the last of their windows closes (domain clock).
    last: i64,
}

/// The system's decisions once the grace time has run out: every open case decided for the person who proved.
async fn decide_for_the_proofs(
    tx: &mut Tx,
    row: &ChallengeRow,
    cases: &[(Uuid, String)],
    grace: &Grace,
    now: i64,
) -> ApiResult<()> {
    if cases.is_empty() {
        return Ok(());
    }
    for (proof_id, kind) in cases {
        let proof = store::challenges::proof(tx, *proof_id).await?.ok_or_else(no_such_proof)?;
        let reason = if kind == CaseKind::Appeal.as_str() { SYSTEM_GRANTED_APPEAL } else { SYSTEM_DISMISSED_REPORTS };
        decide(tx, row, &proof, DecisionAction::Dismiss, None, reason, grace, now).await?;
    }
    tracing::info!(challenge = %row.id, cases = cases.len(), "review time ran out: open cases decided for the proofs");
    Ok(())
}

/// [`before_settlement`] for the challenges of a batch settled together: two reads find those with open cases or
/// open appeal windows. `Wait` when any of them must wait.
pub(crate) async fn before_settlement_of_many(
    tx: &mut Tx,
    rows: &[&ChallengeRow],
    grace: &Grace,
    now: i64,
) -> ApiResult<Gate> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut concerned: Vec<Uuid> = store::moderation::open_counts(tx, &ids).await?.into_iter().map(|c| c.0).collect();
    concerned.extend(open_windows(tx, &ids, grace).await?.into_keys());
    for row in rows.iter().filter(|r| concerned.contains(&r.id)) {
        if before_settlement(tx, row, grace, now).await? == Gate::Wait {
            return Ok(Gate::Wait);
        }
    }
    Ok(Gate::Open)
}

/// Why each of `rows` that has ended unsettled is waiting, if it is: its open cases, its rejections still inside
/// their appeal window, and the time the system will decide. Reads only for challenges past their end.
pub(crate) async fn waiting(
    tx: &mut Tx,
    rows: &[&ChallengeRow],
    grace: &Grace,
) -> StoreResult<HashMap<Uuid, SettlementWaiting>> {
    let ended: Vec<&ChallengeRow> = rows
        .iter()
        .copied()
        .filter(|r| status_of(r) == ChallengeStatus::InProgress && grace.now_ms >= r.ends_at)
        .collect();
    if ended.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = ended.iter().map(|r| r.id).collect();
    let cases: HashMap<Uuid, (i64, i64)> =
        store::moderation::open_counts(tx, &ids).await?.into_iter().map(|(id, r, a)| (id, (r, a))).collect();
    let windows = open_windows(tx, &ids, grace).await?;
    let mut out = HashMap::new();
    for row in ended {
        let (open_reports, open_appeals) = cases.get(&row.id).copied().unwrap_or((0, 0));
        let window = windows.get(&row.id);
        if open_reports + open_appeals == 0 && window.is_none() {
            continue;
        }
        let deadline = grace.deadline(row);
        out.insert(
            row.id,
            SettlementWaiting {
                reason: SettlementWaitReason::Moderation,
                open_reports,
                open_appeals,
                until: from_millis(deadline),
                possible_appeals: window.map_or(0, |w| w.count),
                appeals_until: window.map(|w| from_millis(w.last.min(deadline))),
            },
        );
    }
    Ok(out)
}

/// The queue, oldest case first: each proof with its photo and text addresses, its reports and their reasons, and
/// whether the caller may decide it (not when they take part in its challenge).
pub async fn queue(state: &AppState, who: &AccessClaims, q: &PageQuery) -> ApiResult<Page<ModerationCase>> {
    let after = crate::cursor::parse::<Uuid>(q.cursor.as_deref())?;
    let limit = i64::from(q.limit());
    let grace = Grace::of(state);
    let mut tx = state.db.begin_read().await?;
    let mut rows = store::moderation::queue(&mut tx, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.proof_id).collect();
    let mut proofs: HashMap<Uuid, ProofRow> =
        store::challenges::proofs_by_ids(&mut tx, &ids).await?.into_iter().map(|p| (p.id, p)).collect();
    let mut reports: HashMap<Uuid, Vec<ProofReport>> = HashMap::new();
    for r in store::moderation::reports_of(&mut tx, &ids).await? {
        reports.entry(r.proof_id).or_default().push(ProofReport {
            reporter: UserSummary { id: UserId::from_uuid(r.reporter_id), nickname: r.nickname },
            reason: r.reason,
            created_at: from_millis(r.created_at),
            open: r.resolved_at.is_none(),
        });
    }
    let mut stakes: HashMap<Uuid, bool> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(proof) = proofs.remove(&row.proof_id) else { continue };
        let stake = match stakes.get(&row.challenge_id) {
            Some(s) => *s,
            None => {
                let s = row.creator_id == who.sub
                    || store::challenges::active_participation(&mut tx, row.challenge_id, who.sub).await?.is_some();
                stakes.insert(row.challenge_id, s);
                s
            }
        };
        items.push(ModerationCase {
            proof: super::proofs::view(&proof),
            challenge_title: row.challenge_title.clone(),
            kind: CaseKind::parse(&row.kind).unwrap_or(CaseKind::Report),
            opened_at: from_millis(row.opened_at),
            reports: reports.remove(&row.proof_id).unwrap_or_default(),
            decide_by: from_millis(row.ends_at.saturating_add(grace.grace_ms)),
            can_decide: !stake,
        });
    }
    let next_cursor = if more { rows.last().map(|r| crate::cursor::after(r.opened_at, r.proof_id)) } else { None };
    Ok(Page { items, next_cursor })
}

/// Decisions, newest first: administrators' and the system's, each with its reason.
pub async fn decisions(state: &AppState, q: &DecisionQuery) -> ApiResult<Page<ModerationDecision>> {
    let before = crate::cursor::parse::<Uuid>(q.cursor.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(PageQuery::DEFAULT_LIMIT).clamp(1, PageQuery::MAX_LIMIT));
    let mut tx = state.db.begin_read().await?;
    let rows = store::moderation::decisions(
        &mut tx,
        q.challenge_id.map(|c| c.as_uuid()),
        q.proof_id.map(|p| p.as_uuid()),
        before,
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<ModerationDecision> = rows
        .iter()
        .take(limit as usize)
        .map(|d| ModerationDecision {
            id: DecisionId::from_uuid(d.id),
            proof_id: ProofId::from_uuid(d.proof_id),
            challenge_id: nene_shared::challenges::ChallengeId::from_uuid(d.challenge_id),
            actor: d.actor_id.map(|id| UserSummary {
                id: UserId::from_uuid(id),
                nickname: d.actor_nickname.clone().unwrap_or_default(),
            }),
            action: DecisionAction::parse(&d.action).unwrap_or(DecisionAction::Dismiss),
            on_appeal: d.on_appeal,
            reason: d.reason.clone(),
            created_at: from_millis(d.created_at),
        })
        .collect();
    let next_cursor =
        if more { rows.get(limit as usize - 1).map(|d| crate::cursor::after(d.created_at, d.id)) } else { None };
    Ok(Page { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ends_at: i64) -> ChallengeRow {
        ChallengeRow {
            id: Uuid::now_v7(),
            creator_id: Uuid::now_v7(),
            creator_nickname: String::new(),
            title: String::new(),
            description: String::new(),
            category: "OTHER".into(),
            proof_type: "TEXT".into(),
            start_date: "2026-01-01".into(),
            end_date: "2026-01-07".into(),
            timezone: "Asia/Seoul".into(),
            proof_weekdays: 127,
            proof_days: 7,
            stake: 1_000,
            capacity: 2,
            min_participants: 2,
            success_threshold: 80,
            fee_bps: 0,
            status: "IN_PROGRESS".into(),
            participant_count: 2,
            version: 1,
            starts_at: 0,
            ends_at,
            created_at: 0,
            updated_at: 0,
            settled_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn the_grace_time_runs_from_the_end() {
        let hour = 3_600_000;
        let g = Grace { now_ms: 10 * hour, grace_ms: 48 * hour, appeal_window_ms: 24 * hour };
        assert_eq!(g.deadline(&row(5 * hour)), 53 * hour);
        assert!(!g.ran_out(&row(5 * hour)));
        assert!(Grace { now_ms: 53 * hour, ..g }.ran_out(&row(5 * hour)));
        assert_eq!(g.cutoff(), -38 * hour);
        // A grace time too long to add saturates rather than wrapping into the past.
        assert_eq!(Grace { now_ms: 0, grace_ms: i64::MAX, ..g }.deadline(&row(hour)), i64::MAX);
    }

    #[test]
    fn the_appeal_window_never_runs_past_the_grace_time() {
        let hour = 3_600_000;
        let g = Grace { now_ms: 10 * hour, grace_ms: 48 * hour, appeal_window_ms: 24 * hour };
        // Rejected well before the end: the whole window.
        assert_eq!(g.appeal_until(&row(100 * hour)), 34 * hour);
        // Rejected after the end, the grace time nearly over: the window closes with it.
        assert_eq!(g.appeal_until(&row(-30 * hour)), 18 * hour);
        assert_eq!(Grace { appeal_window_ms: i64::MAX, ..g }.appeal_until(&row(hour)), 49 * hour);
    }

    #[test]
    fn reasons_are_required_and_bounded() {
        assert!(reason_of("  ").is_err());
        assert!(reason_of(&"가".repeat(limits::REASON_MAX + 1)).is_err());
        assert_eq!(reason_of("  다른 날 사진  ").unwrap(), "다른 날 사진");
    }
}
