//! Proof moderation: reports, appeals, the queue of proofs waiting for an administrator, and the decisions kept for
//! good.

use uuid::Uuid;

use super::{StoreResult, Tx, rows_for_ids};
use crate::on_conn;

/// The day's proof that is not replaced (at most one, by the `proofs_day` index): (id, status).
pub async fn live_proof(tx: &mut Tx, participation: Uuid, day: &str) -> StoreResult<Option<(Uuid, String)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT id, status FROM proofs WHERE participation_id = $1 AND day = $2 AND replaced_at IS NULL")
        .bind(participation)
        .bind(day)
        .fetch_optional(&mut *conn)
        .await?))
}

/// Marks a rejected proof as replaced by a new proof of its day; false when it is not (or no longer) a rejected,
/// unreplaced proof.
pub async fn replace_rejected(tx: &mut Tx, proof: Uuid, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE proofs SET replaced_at = $2 WHERE id = $1 AND status = 'REJECTED' AND replaced_at IS NULL")
        .bind(proof)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Rejects an accepted proof, with the end of its appeal window (`None`: no appeal is left to make); false when it
/// was not accepted.
pub async fn reject_proof(
    tx: &mut Tx,
    proof: Uuid,
    reason: &str,
    by: Option<Uuid>,
    appeal_until: Option<i64>,
) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE proofs SET status = 'REJECTED', reject_reason = $2, rejected_by = $3, appeal_until = $4 \
             WHERE id = $1 AND status = 'ACCEPTED'")
        .bind(proof)
        .bind(reason)
        .bind(by)
        .bind(appeal_until)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Makes a rejected, unreplaced proof count again; false when it was not one.
pub async fn restore_proof(tx: &mut Tx, proof: Uuid) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE proofs SET status = 'ACCEPTED', reject_reason = NULL, rejected_by = NULL \
             WHERE id = $1 AND status = 'REJECTED' AND replaced_at IS NULL")
        .bind(proof)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Records a report; false when this person already reported the proof.
pub async fn add_report(tx: &mut Tx, proof: Uuid, reporter: Uuid, reason: &str, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "INSERT INTO proof_reports (proof_id, reporter_id, reason, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (proof_id, reporter_id) DO NOTHING")
        .bind(proof)
        .bind(reporter)
        .bind(reason)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Closes the proof's open reports; answers how many.
pub async fn resolve_reports(tx: &mut Tx, proof: Uuid, now_ms: i64) -> StoreResult<u64> {
    Ok(on_conn!(tx, conn => sqlx::query(
            "UPDATE proof_reports SET resolved_at = $2 WHERE proof_id = $1 AND resolved_at IS NULL")
        .bind(proof)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// Records the owner's appeal; false when the proof was appealed before.
pub async fn add_appeal(tx: &mut Tx, proof: Uuid, reason: &str, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "INSERT INTO proof_appeals (proof_id, reason, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (proof_id) DO NOTHING")
        .bind(proof)
        .bind(reason)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Closes a waiting appeal with `outcome` (GRANTED, DECLINED, WITHDRAWN); false when none was waiting.
pub async fn close_appeal(tx: &mut Tx, proof: Uuid, outcome: &str, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE proof_appeals SET outcome = $2, decided_at = $3 WHERE proof_id = $1 AND outcome IS NULL")
        .bind(proof)
        .bind(outcome)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Proof `f` is a rejection with an appeal window whose owner has neither appealed nor proved the day again.
const UNAPPEALED_REJECTION: &str = "f.appeal_until IS NOT NULL AND f.status = 'REJECTED' AND f.replaced_at IS NULL \
    AND NOT EXISTS (SELECT 1 FROM proof_appeals a WHERE a.proof_id = f.id)";

/// The SQL condition that proof `f` is a rejection its owner may still appeal at the domain time `now` (a bound
/// parameter such as `$1`). Such a proof holds its challenge's settlement like an open case, until its window
/// closes.
pub(crate) fn open_window(now: &str) -> String {
    format!("f.appeal_until > {now} AND {UNAPPEALED_REJECTION}")
}

/// The unappealed rejections of the challenges among `ids` with their windows: (challenge, window end). Rejections
/// are few, so whether a window is still open is judged by the caller against its clock.
pub async fn appeal_windows(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64)>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT f.challenge_id, f.appeal_until FROM proofs f WHERE f.challenge_id IN ({list}) \
             AND {UNAPPEALED_REJECTION}"
        )
    })
    .await
}

/// Puts a proof in the queue as `kind` (REPORT or APPEAL), unless it is there already.
pub async fn open_case(tx: &mut Tx, proof: Uuid, challenge: Uuid, kind: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO moderation_queue (proof_id, challenge_id, kind, opened_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (proof_id) DO NOTHING")
        .bind(proof)
        .bind(challenge)
        .bind(kind)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Takes a proof out of the queue; answers the kind of case it was in, if any.
pub async fn close_case(tx: &mut Tx, proof: Uuid) -> StoreResult<Option<String>> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar("DELETE FROM moderation_queue WHERE proof_id = $1 RETURNING kind")
        .bind(proof)
        .fetch_optional(&mut *conn)
        .await?))
}

/// The open cases of a challenge: (proof, kind), oldest first.
pub async fn open_cases(tx: &mut Tx, challenge: Uuid) -> StoreResult<Vec<(Uuid, String)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT proof_id, kind FROM moderation_queue WHERE challenge_id = $1 ORDER BY opened_at, proof_id")
        .bind(challenge)
        .fetch_all(&mut *conn)
        .await?))
}

/// Per challenge among `ids` with open cases: (challenge, reported proofs, appealed proofs).
pub async fn open_counts(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64, i64)>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT challenge_id, CAST(SUM(CASE WHEN kind = 'REPORT' THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN kind = 'APPEAL' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM moderation_queue WHERE challenge_id IN ({list}) GROUP BY challenge_id"
        )
    })
    .await
}

/// One row of the queue with what the screen needs of its challenge.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CaseRow {
    pub proof_id: Uuid,
    pub challenge_id: Uuid,
    pub kind: String,
    pub opened_at: i64,
    pub challenge_title: String,
    pub creator_id: Uuid,
    pub ends_at: i64,
}

/// The queue, oldest case first, after the cursor `(opened_at, proof)`.
pub async fn queue(tx: &mut Tx, after: Option<(i64, Uuid)>, limit: i64) -> StoreResult<Vec<CaseRow>> {
    let (after_at, after_id) = after.unzip();
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, CaseRow>(
            "SELECT q.proof_id, q.challenge_id, q.kind, q.opened_at, c.title AS challenge_title, c.creator_id, c.ends_at \
             FROM moderation_queue q JOIN challenges c ON c.id = q.challenge_id \
             WHERE ($1 IS NULL OR q.opened_at > $1 OR (q.opened_at = $1 AND q.proof_id > $2)) \
             ORDER BY q.opened_at, q.proof_id LIMIT $3")
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReportRow {
    pub proof_id: Uuid,
    pub reporter_id: Uuid,
    pub nickname: String,
    pub reason: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// The reports of many proofs, each proof's oldest first.
pub async fn reports_of(tx: &mut Tx, proofs: &[Uuid]) -> StoreResult<Vec<ReportRow>> {
    rows_for_ids(tx, proofs, |list| {
        format!(
            "SELECT r.proof_id, r.reporter_id, u.nickname, r.reason, r.created_at, r.resolved_at \
             FROM proof_reports r JOIN users u ON u.id = r.reporter_id WHERE r.proof_id IN ({list}) \
             ORDER BY r.proof_id, r.created_at, r.reporter_id"
        )
    })
    .await
}

/// A decision to keep.
pub struct NewDecision<'a> {
    pub id: Uuid,
    pub proof: Uuid,
    pub challenge: Uuid,
    /// `None`: the system.
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub on_appeal: bool,
    pub reason: &'a str,
    pub now_ms: i64,
}

pub async fn insert_decision(tx: &mut Tx, d: &NewDecision<'_>) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO moderation_decisions (id, proof_id, challenge_id, actor_id, action, on_appeal, reason, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(d.id)
        .bind(d.proof)
        .bind(d.challenge)
        .bind(d.actor)
        .bind(d.action)
        .bind(d.on_appeal)
        .bind(d.reason)
        .bind(d.now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DecisionRow {
    pub id: Uuid,
    pub proof_id: Uuid,
    pub challenge_id: Uuid,
    pub actor_id: Option<Uuid>,
    pub actor_nickname: Option<String>,
    pub action: String,
    pub on_appeal: bool,
    pub reason: String,
    pub created_at: i64,
}

/// Decisions, newest first, optionally of one challenge or one proof, before the cursor `(created_at, id)`.
pub async fn decisions(
    tx: &mut Tx,
    challenge: Option<Uuid>,
    proof: Option<Uuid>,
    before: Option<(i64, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<DecisionRow>> {
    let (before_at, before_id) = before.unzip();
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, DecisionRow>(
            "SELECT d.id, d.proof_id, d.challenge_id, d.actor_id, u.nickname AS actor_nickname, d.action, \
             d.on_appeal, d.reason, d.created_at FROM moderation_decisions d LEFT JOIN users u ON u.id = d.actor_id \
             WHERE ($1 IS NULL OR d.challenge_id = $1) AND ($2 IS NULL OR d.proof_id = $2) \
             AND ($3 IS NULL OR d.created_at < $3 OR (d.created_at = $3 AND d.id < $4)) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $5")
        .bind(challenge)
        .bind(proof)
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}
