//! Challenges, participations and proofs.

use uuid::Uuid;

use super::bulk::{self, Col};
use super::{StoreResult, Tx, param, param_list, rows_for_ids, rows_per_statement, value_rows};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: Uuid,
    pub creator_id: Uuid,
    pub creator_nickname: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub proof_type: String,
    pub start_date: String,
    pub end_date: String,
    pub timezone: String,
    pub proof_weekdays: i64,
    pub proof_days: i64,
    pub stake: i64,
    pub capacity: i64,
    pub min_participants: i64,
    pub success_threshold: i64,
    pub fee_bps: i64,
    pub status: String,
    pub participant_count: i64,
    pub version: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub settled_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

const CHALLENGE_COLUMNS: &str = "c.id, c.creator_id, u.nickname AS creator_nickname, c.title, c.description, \
    c.category, c.proof_type, c.start_date, c.end_date, c.timezone, c.proof_weekdays, c.proof_days, c.stake, \
    c.capacity, c.min_participants, c.success_threshold, c.fee_bps, c.status, c.participant_count, c.version, \
    c.starts_at, c.ends_at, c.created_at, c.updated_at, c.settled_at, c.deleted_at";

pub async fn insert(tx: &mut Tx, c: &ChallengeRow) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO challenges (id, creator_id, title, description, category, proof_type, start_date, end_date, \
             timezone, proof_weekdays, proof_days, stake, capacity, min_participants, success_threshold, fee_bps, \
             status, participant_count, version, starts_at, ends_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, 1, $18, $19, $20, $20)")
        .bind(c.id)
        .bind(c.creator_id)
        .bind(&c.title)
        .bind(&c.description)
        .bind(&c.category)
        .bind(&c.proof_type)
        .bind(&c.start_date)
        .bind(&c.end_date)
        .bind(&c.timezone)
        .bind(c.proof_weekdays)
        .bind(c.proof_days)
        .bind(c.stake)
        .bind(c.capacity)
        .bind(c.min_participants)
        .bind(c.success_threshold)
        .bind(c.fee_bps)
        .bind(&c.status)
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.created_at)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn get(tx: &mut Tx, id: Uuid) -> StoreResult<Option<ChallengeRow>> {
    let sql =
        format!("SELECT {CHALLENGE_COLUMNS} FROM challenges c JOIN users u ON u.id = c.creator_id WHERE c.id = $1");
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ChallengeRow>(&sql).bind(id).fetch_optional(&mut *conn).await?))
}

/// Locks the challenge's row (PostgreSQL) for the rest of the transaction. Every transaction that changes a
/// challenge's participants or status takes this lock first, then ledger accounts, so lock order is fixed.
pub async fn lock(tx: &mut Tx, id: Uuid) -> StoreResult<bool> {
    let sql = if tx.is_postgres() {
        "SELECT id FROM challenges WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id FROM challenges WHERE id = $1"
    };
    let found: Option<Uuid> = on_conn!(tx, conn => sqlx::query_scalar(sql).bind(id).fetch_optional(&mut *conn).await?);
    Ok(found.is_some())
}

/// Writes the editable fields back.
pub async fn update(tx: &mut Tx, c: &ChallengeRow) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "UPDATE challenges SET title = $2, description = $3, category = $4, proof_type = $5, start_date = $6, \
             end_date = $7, timezone = $8, proof_weekdays = $9, proof_days = $10, capacity = $11, \
             min_participants = $12, success_threshold = $13, starts_at = $14, ends_at = $15, updated_at = $16, \
             version = version + 1 WHERE id = $1")
        .bind(c.id)
        .bind(&c.title)
        .bind(&c.description)
        .bind(&c.category)
        .bind(&c.proof_type)
        .bind(&c.start_date)
        .bind(&c.end_date)
        .bind(&c.timezone)
        .bind(c.proof_weekdays)
        .bind(c.proof_days)
        .bind(c.capacity)
        .bind(c.min_participants)
        .bind(c.success_threshold)
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.updated_at)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Takes a seat if one is free and the challenge is recruiting; the last seat moves it to READY in the same
/// statement. `None` when there was no seat to take. The condition in the UPDATE is what makes overbooking
/// impossible, with any number of concurrent joins and server instances.
pub async fn take_seat(tx: &mut Tx, id: Uuid, now_ms: i64) -> StoreResult<Option<(i64, String)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "UPDATE challenges SET participant_count = participant_count + 1, \
             status = CASE WHEN participant_count + 1 >= capacity THEN 'READY' ELSE status END, \
             version = version + 1, updated_at = $2 \
             WHERE id = $1 AND status = 'RECRUITING' AND participant_count < capacity AND deleted_at IS NULL \
             RETURNING participant_count, status")
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&mut *conn)
        .await?))
}

/// Takes `n` seats in each challenge of `seats` at once, as `n` calls of [`take_seat`] would: the count, READY on
/// the last seat, the version. A challenge without `n` free seats or not recruiting is left unchanged, so the caller
/// compares the returned number of challenges changed with what it asked for.
pub async fn take_seats(tx: &mut Tx, seats: &[(Uuid, i64)], now_ms: i64) -> StoreResult<u64> {
    let cols = [
        Col::Uuid(seats.iter().map(|s| s.0).collect()),
        Col::Int(seats.iter().map(|s| s.1).collect()),
        Col::Int(vec![now_ms; seats.len()]),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, n, now) AS ({rows}) UPDATE challenges \
             SET participant_count = challenges.participant_count + v.n, \
             status = CASE WHEN challenges.participant_count + v.n >= challenges.capacity THEN 'READY' \
             ELSE challenges.status END, \
             version = challenges.version + v.n, updated_at = v.now FROM v \
             WHERE challenges.id = v.id AND challenges.status = 'RECRUITING' \
             AND challenges.participant_count + v.n <= challenges.capacity AND challenges.deleted_at IS NULL"
        )
    })
    .await
}

/// Frees a seat before the start; a READY challenge goes back to RECRUITING.
pub async fn free_seat(tx: &mut Tx, id: Uuid, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE challenges SET participant_count = participant_count - 1, \
             status = CASE WHEN status = 'READY' THEN 'RECRUITING' ELSE status END, \
             version = version + 1, updated_at = $2 \
             WHERE id = $1 AND status IN ('RECRUITING', 'READY') AND participant_count > 0")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Moves a challenge from one status to another; false when it was not in `from` any more.
pub async fn transition(tx: &mut Tx, id: Uuid, from: &[&str], to: &str, now_ms: i64) -> StoreResult<bool> {
    let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 4)).collect();
    let stamp = match to {
        "IN_PROGRESS" => ", started_at = $3",
        "ENDED" => ", settled_at = $3",
        "CANCELLED" => ", cancelled_at = $3",
        _ => "",
    };
    let sql = format!(
        "UPDATE challenges SET status = $2, version = version + 1, updated_at = $3{stamp}, \
         schedule_failures = 0, next_attempt_at = NULL \
         WHERE id = $1 AND status IN ({})",
        placeholders.join(", ")
    );
    let n = on_conn!(tx, conn => {
        let mut q = sqlx::query(&sql).bind(id).bind(to).bind(now_ms);
        for f in from {
            q = q.bind(*f);
        }
        q.execute(&mut *conn).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Marks a change that the app's cached copy must pick up (a proof, a rejection).
pub async fn bump_version(tx: &mut Tx, id: Uuid) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("UPDATE challenges SET version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Challenges `user` takes part in (or created), with their versions.
pub async fn versions_of(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<(Uuid, i64)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT c.id, c.version FROM challenges c WHERE c.deleted_at IS NULL AND (c.creator_id = $1 OR EXISTS \
             (SELECT 1 FROM participations p WHERE p.challenge_id = c.id AND p.user_id = $1 AND p.left_at IS NULL)) \
             ORDER BY c.id")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?))
}

pub async fn mark_deleted(tx: &mut Tx, id: Uuid, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "UPDATE challenges SET deleted_at = $2, status = 'CANCELLED', cancelled_at = $2, participant_count = 0, \
             version = version + 1, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

pub struct ListFilter<'a> {
    pub status: Option<&'a str>,
    pub category: Option<&'a str>,
    pub q: Option<String>,
    pub min_stake: Option<i64>,
    pub max_stake: Option<i64>,
    pub member: Option<Uuid>,
    pub before: Option<(i64, Uuid)>,
    pub limit: i64,
}

/// Newest first, never deleted ones.
pub async fn list(tx: &mut Tx, f: &ListFilter<'_>) -> StoreResult<Vec<ChallengeRow>> {
    let (before_at, before_id) = f.before.unzip();
    let like = f.q.as_ref().map(|q| format!("%{}%", q.to_lowercase().replace(['%', '_'], "")));
    let sql = format!(
        "SELECT {CHALLENGE_COLUMNS} FROM challenges c JOIN users u ON u.id = c.creator_id \
         WHERE c.deleted_at IS NULL \
         AND ($1 IS NULL OR c.status = $1) AND ($2 IS NULL OR c.category = $2) \
         AND ($3 IS NULL OR LOWER(c.title) LIKE $3 OR LOWER(c.description) LIKE $3) \
         AND ($4 IS NULL OR c.stake >= $4) AND ($5 IS NULL OR c.stake <= $5) \
         AND ($6 IS NULL OR EXISTS (SELECT 1 FROM participations p WHERE p.challenge_id = c.id AND p.user_id = $6 \
              AND p.left_at IS NULL)) \
         AND ($7 IS NULL OR c.created_at < $7 OR (c.created_at = $7 AND c.id < $8)) \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $9"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ChallengeRow>(&sql)
        .bind(f.status)
        .bind(f.category)
        .bind(like)
        .bind(f.min_stake)
        .bind(f.max_stake)
        .bind(f.member)
        .bind(before_at)
        .bind(before_id)
        .bind(f.limit)
        .fetch_all(&mut *conn)
        .await?))
}

/// Challenges whose start or end has come (by the domain clock): those that never failed first, oldest first, then
/// those that did, fewest failures first. One whose transition failed is left out until its retry time has come,
/// so challenges that keep failing cannot take every place in the batch. PostgreSQL skips rows another instance is
/// working on. An ended challenge whose proofs are still under review, or that has rejections its owners may still
/// appeal, is not due until they are decided and the windows closed, or until it ended before `review_cutoff_ms` (the
/// moderation grace time ago): the database decides, so every instance agrees.
pub async fn due(tx: &mut Tx, now_ms: i64, review_cutoff_ms: i64, limit: i64) -> StoreResult<Vec<Uuid>> {
    let skip = if tx.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT id FROM challenges WHERE deleted_at IS NULL AND \
         ((status IN ('RECRUITING', 'READY') AND starts_at <= $1) OR (status = 'IN_PROGRESS' AND ends_at <= $1 \
         AND (ends_at <= $3 OR (NOT EXISTS (SELECT 1 FROM moderation_queue q WHERE q.challenge_id = challenges.id) \
         AND NOT EXISTS (SELECT 1 FROM proofs f WHERE f.challenge_id = challenges.id AND {window}))))) \
         AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
         ORDER BY schedule_failures, starts_at LIMIT $2{skip}",
        window = super::moderation::open_window("$1")
    );
    Ok(on_conn!(tx, conn => sqlx::query_scalar(&sql)
        .bind(now_ms)
        .bind(limit)
        .bind(review_cutoff_ms)
        .fetch_all(&mut *conn)
        .await?))
}

/// Ended challenges whose settlement is held back for moderation (open cases, or rejections still inside their
/// appeal window, with grace time left) that were not marked so yet; at most `limit`.
pub async fn held_back_unmarked(tx: &mut Tx, now_ms: i64, review_cutoff_ms: i64, limit: i64) -> StoreResult<Vec<Uuid>> {
    let sql = format!(
        "SELECT id FROM challenges WHERE deleted_at IS NULL AND status = 'IN_PROGRESS' AND settlement_held_at IS NULL \
         AND ends_at <= $1 AND ends_at > $2 \
         AND (EXISTS (SELECT 1 FROM moderation_queue q WHERE q.challenge_id = challenges.id) \
         OR EXISTS (SELECT 1 FROM proofs f WHERE f.challenge_id = challenges.id AND {window})) \
         ORDER BY ends_at, id LIMIT $3",
        window = super::moderation::open_window("$1")
    );
    Ok(on_conn!(tx, conn => sqlx::query_scalar(&sql)
        .bind(now_ms)
        .bind(review_cutoff_ms)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

/// Marks a challenge's settlement as held back, once, bumping its version so the app's next pull shows the wait;
/// false when it was marked before.
pub async fn mark_held_back(tx: &mut Tx, id: Uuid, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE challenges SET settlement_held_at = $2, version = version + 1 \
             WHERE id = $1 AND settlement_held_at IS NULL AND status = 'IN_PROGRESS'")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// How many scheduled transitions of this challenge failed in a row (0 for one that does not exist).
pub async fn schedule_failures(tx: &mut Tx, id: Uuid) -> StoreResult<i64> {
    let n: Option<i64> = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT CAST(schedule_failures AS BIGINT) FROM challenges WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?);
    Ok(n.unwrap_or(0))
}

/// Records one more failed transition and when to try again (domain clock). A successful transition clears both.
pub async fn defer_schedule(tx: &mut Tx, id: Uuid, next_attempt_at: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "UPDATE challenges SET schedule_failures = schedule_failures + 1, next_attempt_at = $2 WHERE id = $1")
        .bind(id)
        .bind(next_attempt_at)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Every challenge in progress (for the daily reminder).
pub async fn in_progress(tx: &mut Tx) -> StoreResult<Vec<ChallengeRow>> {
    let sql = format!(
        "SELECT {CHALLENGE_COLUMNS} FROM challenges c JOIN users u ON u.id = c.creator_id \
         WHERE c.status = 'IN_PROGRESS' AND c.deleted_at IS NULL ORDER BY c.id"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ChallengeRow>(&sql).fetch_all(&mut *conn).await?))
}

// ---- participations --------------------------------------------------------------------------------------------

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ParticipationRow {
    pub id: Uuid,
    pub challenge_id: Uuid,
    pub user_id: Uuid,
    pub nickname: String,
    pub stake: i64,
    pub joined_at: i64,
    pub outcome: Option<String>,
    pub prize: Option<i64>,
    pub settled_at: Option<i64>,
    pub accepted_days: i64,
    pub rejected_days: i64,
}

const PARTICIPATION_COLUMNS: &str = "p.id, p.challenge_id, p.user_id, u.nickname, p.stake, p.joined_at, p.outcome, \
    p.prize, p.settled_at, \
    (SELECT COUNT(*) FROM proofs f WHERE f.participation_id = p.id AND f.status = 'ACCEPTED') AS accepted_days, \
    (SELECT COUNT(*) FROM proofs f WHERE f.participation_id = p.id AND f.status = 'REJECTED' \
     AND f.replaced_at IS NULL) AS rejected_days";

pub async fn insert_participation(
    tx: &mut Tx,
    id: Uuid,
    challenge: Uuid,
    user: Uuid,
    stake: i64,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO participations (id, challenge_id, user_id, stake, joined_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(challenge)
        .bind(user)
        .bind(stake)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn active_participation(tx: &mut Tx, challenge: Uuid, user: Uuid) -> StoreResult<Option<ParticipationRow>> {
    let sql = format!(
        "SELECT {PARTICIPATION_COLUMNS} FROM participations p JOIN users u ON u.id = p.user_id \
         WHERE p.challenge_id = $1 AND p.user_id = $2 AND p.left_at IS NULL"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ParticipationRow>(&sql)
        .bind(challenge)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?))
}

/// The pairs among `pairs` (challenge, user) that are active participations: the already-joined check of a whole
/// batch of joins in one read.
pub async fn active_pairs(tx: &mut Tx, pairs: &[(Uuid, Uuid)]) -> StoreResult<Vec<(Uuid, Uuid)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    const SELECT: &str = "SELECT p.challenge_id, p.user_id FROM participations p JOIN v \
        ON p.challenge_id = v.challenge_id AND p.user_id = v.user_id WHERE p.left_at IS NULL";
    match tx {
        // Two arrays: one statement text whatever the batch's size (see `rows_for_ids`).
        Tx::Postgres(c) => {
            let (challenges, users): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
            let sql =
                format!("WITH v (challenge_id, user_id) AS (SELECT * FROM unnest($1::uuid[], $2::uuid[])) {SELECT}");
            Ok(sqlx::query_as(&sql).bind(challenges).bind(users).fetch_all(&mut **c).await?)
        }
        Tx::Sqlite(c) => {
            let mut out = Vec::new();
            for part in pairs.chunks(rows_per_statement(2)) {
                let sql = format!(
                    "WITH v (challenge_id, user_id) AS (VALUES {}) {SELECT}",
                    value_rows(false, part.len(), 2, 1)
                );
                let mut q = sqlx::query_as::<_, (Uuid, Uuid)>(&sql);
                for (challenge, user) in part {
                    q = q.bind(*challenge).bind(*user);
                }
                out.extend(q.fetch_all(&mut **c).await?);
            }
            Ok(out)
        }
    }
}

/// A participation to insert with [`insert_participations`].
#[derive(Clone, Copy, Debug)]
pub struct NewParticipation {
    pub id: Uuid,
    pub challenge: Uuid,
    pub user: Uuid,
    pub stake: i64,
}

/// [`insert_participation`] for many, in the order given.
pub async fn insert_participations(tx: &mut Tx, rows: &[NewParticipation], now_ms: i64) -> StoreResult<()> {
    let cols = [
        Col::Uuid(rows.iter().map(|p| p.id).collect()),
        Col::Uuid(rows.iter().map(|p| p.challenge).collect()),
        Col::Uuid(rows.iter().map(|p| p.user).collect()),
        Col::Int(rows.iter().map(|p| p.stake).collect()),
        Col::Int(vec![now_ms; rows.len()]),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!("INSERT INTO participations (id, challenge_id, user_id, stake, joined_at) {rows}")
    })
    .await?;
    Ok(())
}

/// The people taking part in `challenge` with no proof that counts for `day` yet, in join order (the daily reminder;
/// a day whose proof was rejected may be proved again, so its owner is reminded too).
pub async fn without_proof_on(tx: &mut Tx, challenge: Uuid, day: &str) -> StoreResult<Vec<Uuid>> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT p.user_id FROM participations p WHERE p.challenge_id = $1 AND p.left_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM proofs f WHERE f.participation_id = p.id AND f.day = $2 \
             AND f.status = 'ACCEPTED') \
             ORDER BY p.joined_at, p.id")
        .bind(challenge)
        .bind(day)
        .fetch_all(&mut *conn)
        .await?))
}

/// Active participants in join order (the order the settlement remainder follows).
pub async fn participants(tx: &mut Tx, challenge: Uuid) -> StoreResult<Vec<ParticipationRow>> {
    let sql = format!(
        "SELECT {PARTICIPATION_COLUMNS} FROM participations p JOIN users u ON u.id = p.user_id \
         WHERE p.challenge_id = $1 AND p.left_at IS NULL ORDER BY p.joined_at, p.id"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ParticipationRow>(&sql)
        .bind(challenge)
        .fetch_all(&mut *conn)
        .await?))
}

pub async fn leave(tx: &mut Tx, participation: Uuid, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query("UPDATE participations SET left_at = $2 WHERE id = $1 AND left_at IS NULL")
        .bind(participation)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Records a participant's result; the plan is deterministic, so writing it again writes the same values.
pub async fn set_outcome(tx: &mut Tx, participation: Uuid, outcome: &str, prize: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("UPDATE participations SET outcome = $2, prize = $3 WHERE id = $1")
        .bind(participation)
        .bind(outcome)
        .bind(prize)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Marks a participant paid; false when a previous run already did.
pub async fn mark_settled(tx: &mut Tx, participation: Uuid, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "UPDATE participations SET settled_at = $2 WHERE id = $1 AND settled_at IS NULL")
        .bind(participation)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// A participant still to be paid, as settlement needs them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PendingRow {
    pub id: Uuid,
    pub challenge_id: Uuid,
    pub user_id: Uuid,
    pub stake: i64,
    pub outcome: Option<String>,
    pub prize: Option<i64>,
}

/// Up to `limit` active participants not yet settled, in join order. Unlike [`participants`] it counts no proofs,
/// so each settlement chunk reads only the rows it pays.
pub async fn pending(tx: &mut Tx, challenge: Uuid, limit: i64) -> StoreResult<Vec<PendingRow>> {
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, PendingRow>(
            "SELECT id, challenge_id, user_id, stake, outcome, prize FROM participations \
             WHERE challenge_id = $1 AND left_at IS NULL AND settled_at IS NULL ORDER BY joined_at, id LIMIT $2")
        .bind(challenge)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

/// How many active participants already have an outcome (settlement plans once, when this is 0).
pub async fn outcomes_recorded(tx: &mut Tx, challenge: Uuid) -> StoreResult<i64> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM participations WHERE challenge_id = $1 AND left_at IS NULL AND outcome IS NOT NULL")
        .bind(challenge)
        .fetch_one(&mut *conn)
        .await?))
}

/// Records many participants' results in one statement per batch; see [`set_outcome`].
pub async fn set_outcomes(tx: &mut Tx, rows: &[(Uuid, &str, i64)]) -> StoreResult<()> {
    let cols = outcome_columns(rows);
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, outcome, prize) AS ({rows}) UPDATE participations SET outcome = v.outcome, \
             prize = v.prize FROM v WHERE participations.id = v.id"
        )
    })
    .await?;
    Ok(())
}

/// (participation, outcome, prize) as the columns of a bulk write.
fn outcome_columns<'a>(rows: &[(Uuid, &'a str, i64)]) -> Vec<Col<'a>> {
    vec![
        Col::Uuid(rows.iter().map(|r| r.0).collect()),
        Col::Text(rows.iter().map(|r| r.1).collect()),
        Col::Int(rows.iter().map(|r| r.2).collect()),
    ]
}

/// [`set_outcomes`] and [`mark_settled_many`] in one write, for participants planned and paid in the same
/// transaction; returns how many changed (a participant already paid is left alone, so the caller can compare).
pub async fn set_outcomes_settled(tx: &mut Tx, rows: &[(Uuid, &str, i64)], now_ms: i64) -> StoreResult<u64> {
    let mut cols = outcome_columns(rows);
    cols.push(Col::Int(vec![now_ms; rows.len()]));
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, outcome, prize, now) AS ({rows}) UPDATE participations SET outcome = v.outcome, \
             prize = v.prize, settled_at = v.now FROM v \
             WHERE participations.id = v.id AND participations.settled_at IS NULL"
        )
    })
    .await
}

/// Marks participants paid; returns how many were not yet (a previous run's are left alone).
pub async fn mark_settled_many(tx: &mut Tx, participations: &[Uuid], now_ms: i64) -> StoreResult<u64> {
    let cols = [Col::Uuid(participations.to_vec()), Col::Int(vec![now_ms; participations.len()])];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, now) AS ({rows}) UPDATE participations SET settled_at = v.now FROM v \
             WHERE participations.id = v.id AND participations.settled_at IS NULL"
        )
    })
    .await
}

/// A challenge's settlement totals over its active participants: (participants, winners, failed stakes, prizes).
pub async fn settlement_totals(tx: &mut Tx, challenge: Uuid) -> StoreResult<(i64, i64, i64, i64)> {
    let (n, winners, pool, prizes): (i64, Option<i64>, Option<i64>, Option<i64>) = on_conn!(tx, conn => sqlx::query_as(
            "SELECT COUNT(*), \
             CAST(SUM(CASE WHEN outcome = 'SUCCESS' THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome = 'FAIL' THEN stake ELSE 0 END) AS BIGINT), \
             CAST(SUM(COALESCE(prize, 0)) AS BIGINT) \
             FROM participations WHERE challenge_id = $1 AND left_at IS NULL")
        .bind(challenge)
        .fetch_one(&mut *conn)
        .await?);
    Ok((n, winners.unwrap_or(0), pool.unwrap_or(0), prizes.unwrap_or(0)))
}

// ---- proofs ----------------------------------------------------------------------------------------------------

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProofRow {
    pub id: Uuid,
    pub challenge_id: Uuid,
    pub participation_id: Uuid,
    pub user_id: Uuid,
    pub nickname: String,
    pub day: String,
    pub text: Option<String>,
    pub photo_hash: Option<String>,
    pub photo_mime: Option<String>,
    pub thumb_hash: Option<String>,
    pub status: String,
    pub reject_reason: Option<String>,
    pub created_at: i64,
    pub report_count: i64,
    /// Proved again after this rejection.
    pub replaced_at: Option<i64>,
    pub appeal_reason: Option<String>,
    pub appeal_created_at: Option<i64>,
    /// `None` while an appeal waits (or when there is none).
    pub appeal_outcome: Option<String>,
    /// The open moderation case: REPORT or APPEAL.
    pub case_kind: Option<String>,
    /// Until when (domain clock) the owner may appeal this rejection.
    pub appeal_until: Option<i64>,
}

const PROOF_COLUMNS: &str = "f.id, f.challenge_id, f.participation_id, f.user_id, u.nickname, f.day, f.text, \
    f.photo_hash, f.photo_mime, f.thumb_hash, f.status, f.reject_reason, f.created_at, \
    (SELECT COUNT(*) FROM proof_reports r WHERE r.proof_id = f.id) AS report_count, f.replaced_at, \
    a.reason AS appeal_reason, a.created_at AS appeal_created_at, a.outcome AS appeal_outcome, q.kind AS case_kind, \
    f.appeal_until";

/// What [`PROOF_COLUMNS`] reads from.
const PROOF_FROM: &str = "proofs f JOIN users u ON u.id = f.user_id \
    LEFT JOIN proof_appeals a ON a.proof_id = f.id LEFT JOIN moderation_queue q ON q.proof_id = f.id";

pub struct NewProof<'a> {
    pub id: Uuid,
    pub challenge_id: Uuid,
    pub participation_id: Uuid,
    pub user_id: Uuid,
    pub day: &'a str,
    pub text: Option<&'a str>,
    pub photo_hash: Option<&'a str>,
    pub photo_mime: Option<&'a str>,
    pub thumb_hash: Option<&'a str>,
    pub now_ms: i64,
}

pub async fn insert_proof(tx: &mut Tx, p: &NewProof<'_>) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO proofs (id, challenge_id, participation_id, user_id, day, text, photo_hash, photo_mime, \
             thumb_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(p.id)
        .bind(p.challenge_id)
        .bind(p.participation_id)
        .bind(p.user_id)
        .bind(p.day)
        .bind(p.text)
        .bind(p.photo_hash)
        .bind(p.photo_mime)
        .bind(p.thumb_hash)
        .bind(p.now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn proof(tx: &mut Tx, id: Uuid) -> StoreResult<Option<ProofRow>> {
    let sql = format!("SELECT {PROOF_COLUMNS} FROM {PROOF_FROM} WHERE f.id = $1");
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ProofRow>(&sql).bind(id).fetch_optional(&mut *conn).await?))
}

/// Many proofs by id, in no particular order.
pub async fn proofs_by_ids(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<ProofRow>> {
    rows_for_ids(tx, ids, |list| format!("SELECT {PROOF_COLUMNS} FROM {PROOF_FROM} WHERE f.id IN ({list})")).await
}

/// Whether the day has an accepted proof (a rejected one leaves the day still to prove).
pub async fn proof_exists(tx: &mut Tx, participation: Uuid, day: &str) -> StoreResult<bool> {
    let n: i64 = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM proofs WHERE participation_id = $1 AND day = $2 AND status = 'ACCEPTED'")
        .bind(participation)
        .bind(day)
        .fetch_one(&mut *conn)
        .await?);
    Ok(n > 0)
}

/// A challenge's proofs, newest first, optionally of one day.
pub async fn proofs(
    tx: &mut Tx,
    challenge: Uuid,
    day: Option<&str>,
    before: Option<(i64, Uuid)>,
    limit: i64,
) -> StoreResult<Vec<ProofRow>> {
    let (before_at, before_id) = before.unzip();
    let sql = format!(
        "SELECT {PROOF_COLUMNS} FROM {PROOF_FROM} WHERE f.challenge_id = $1 \
         AND ($2 IS NULL OR f.day = $2) AND ($3 IS NULL OR f.created_at < $3 OR (f.created_at = $3 AND f.id < $4)) \
         ORDER BY f.created_at DESC, f.id DESC LIMIT $5"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ProofRow>(&sql)
        .bind(challenge)
        .bind(day)
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

/// One active participant's figures for the live progress: counts and accepted days, aggregated in the database.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProgressRow {
    pub user_id: Uuid,
    pub nickname: String,
    pub accepted_days: i64,
    pub rejected_days: i64,
    /// The accepted days (`YYYY-MM-DD`), comma-separated in no particular order; `None` when there are none.
    pub days: Option<String>,
}

/// Every active participant's progress in join order, in one statement (a rejected proof that a later proof of its
/// day replaced is no rejected day). Each participant's proofs are reached
/// through the `(participation_id, day)` index and folded into one row, and only then are names joined, so the
/// cost grows with participants + proofs (never their product), whatever plan the statistics of the moment suggest.
pub async fn progress_rows(tx: &mut Tx, challenge: Uuid) -> StoreResult<Vec<ProgressRow>> {
    let days = if tx.is_postgres() { "string_agg" } else { "group_concat" };
    let sql = format!(
        "SELECT a.user_id, u.nickname, a.accepted_days, a.rejected_days, a.days FROM ( \
           SELECT p.id, p.user_id, p.joined_at, \
             COALESCE(SUM(CASE WHEN f.status = 'ACCEPTED' THEN 1 ELSE 0 END), 0) AS accepted_days, \
             COALESCE(SUM(CASE WHEN f.status = 'REJECTED' AND f.replaced_at IS NULL THEN 1 ELSE 0 END), 0) \
               AS rejected_days, \
             {days}(CASE WHEN f.status = 'ACCEPTED' THEN f.day END, ',') AS days \
           FROM participations p LEFT JOIN proofs f ON f.participation_id = p.id \
           WHERE p.challenge_id = $1 AND p.left_at IS NULL GROUP BY p.id) a \
         JOIN users u ON u.id = a.user_id ORDER BY a.joined_at, a.id"
    );
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, ProgressRow>(&sql).bind(challenge).fetch_all(&mut *conn).await?))
}

// ---- settlement runs and leases ----------------------------------------------------------------------------------

pub async fn start_run(tx: &mut Tx, challenge: Uuid, now_ms: i64) -> StoreResult<i64> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar(
            "INSERT INTO settlement_runs (challenge_id, started_at) VALUES ($1, $2) RETURNING id")
        .bind(challenge)
        .bind(now_ms)
        .fetch_one(&mut *conn)
        .await?))
}

pub async fn add_to_run(tx: &mut Tx, run: i64, settled: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("UPDATE settlement_runs SET settled = settled + $2 WHERE id = $1")
        .bind(run)
        .bind(settled)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn finish_run(
    tx: &mut Tx,
    run: i64,
    winners: Option<i64>,
    error: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "UPDATE settlement_runs SET finished_at = $2, winners = $3, error = $4 WHERE id = $1")
        .bind(run)
        .bind(now_ms)
        .bind(winners)
        .bind(error)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// (run id, settled count, finished?) of a challenge's runs, oldest first.
pub async fn runs(tx: &mut Tx, challenge: Uuid) -> StoreResult<Vec<(i64, i64, Option<i64>)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT id, settled, finished_at FROM settlement_runs WHERE challenge_id = $1 ORDER BY id")
        .bind(challenge)
        .fetch_all(&mut *conn)
        .await?))
}

/// Takes or renews the named lease for `holder` until `expires_at`; false when someone else holds it.
pub async fn acquire_lease(tx: &mut Tx, name: &str, holder: &str, now_ms: i64, expires_at: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, expires_at = $3 \
             WHERE leases.holder = $2 OR leases.expires_at < $4")
        .bind(name)
        .bind(holder)
        .bind(expires_at)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn release_lease(tx: &mut Tx, name: &str, holder: &str) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

// ---- many challenges at once (settlement of a due batch) -------------------------------------------------------

/// Per challenge among `ids` that has active participants: (challenge, not yet settled, with an outcome).
pub async fn settlement_counts(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64, i64)>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT challenge_id, CAST(SUM(CASE WHEN settled_at IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) \
             FROM participations WHERE left_at IS NULL AND challenge_id IN ({list}) GROUP BY challenge_id"
        )
    })
    .await
}

/// [`acquire_lease`] for many names in one statement; returns the names now held by `holder`.
pub async fn acquire_leases(
    tx: &mut Tx,
    names: &[String],
    holder: &str,
    now_ms: i64,
    expires_at: i64,
) -> StoreResult<Vec<String>> {
    let pg = tx.is_postgres();
    let mut out = Vec::with_capacity(names.len());
    for part in names.chunks(rows_per_statement(3)) {
        // The `now` parameter comes after the rows, so SQLite's anonymous parameters bind in order.
        let sql = format!(
            "INSERT INTO leases (name, holder, expires_at) VALUES {} \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < {} RETURNING name",
            value_rows(pg, part.len(), 3, 1),
            param(pg, part.len() * 3 + 1)
        );
        let held: Vec<String> = on_conn!(tx, conn => {
            let mut q = sqlx::query_scalar(&sql);
            for name in part {
                q = q.bind(name).bind(holder).bind(expires_at);
            }
            q.bind(now_ms).fetch_all(&mut *conn).await?
        });
        out.extend(held);
    }
    Ok(out)
}

/// Releases many of `holder`'s leases in one statement.
pub async fn release_leases(tx: &mut Tx, names: &[String], holder: &str) -> StoreResult<()> {
    let pg = tx.is_postgres();
    for part in names.chunks(rows_per_statement(1)) {
        let sql = format!(
            "DELETE FROM leases WHERE holder = {} AND name IN ({})",
            param(pg, 1),
            param_list(pg, part.len(), 2)
        );
        on_conn!(tx, conn => {
            let mut q = sqlx::query(&sql).bind(holder);
            for name in part {
                q = q.bind(name);
            }
            q.execute(&mut *conn).await?.rows_affected()
        });
    }
    Ok(())
}

/// [`start_run`] for many challenges; returns (challenge, run id).
pub async fn start_runs(tx: &mut Tx, challenges: &[Uuid], now_ms: i64) -> StoreResult<Vec<(Uuid, i64)>> {
    let cols = [Col::Uuid(challenges.to_vec()), Col::Int(vec![now_ms; challenges.len()])];
    bulk::fetch(tx, &cols, |rows| {
        format!("INSERT INTO settlement_runs (challenge_id, started_at) {rows} RETURNING challenge_id, id")
    })
    .await
}

/// Closes many runs: (run, participants settled by it, winners), with no error.
pub async fn finish_runs(tx: &mut Tx, runs: &[(i64, i64, Option<i64>)], now_ms: i64) -> StoreResult<()> {
    let cols = [
        Col::Int(runs.iter().map(|r| r.0).collect()),
        Col::Int(runs.iter().map(|r| r.1).collect()),
        Col::OptInt(runs.iter().map(|r| r.2).collect()),
        Col::Int(vec![now_ms; runs.len()]),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, settled, winners, now) AS ({rows}) UPDATE settlement_runs SET \
             settled = settlement_runs.settled + v.settled, winners = v.winners, error = NULL, finished_at = v.now \
             FROM v WHERE settlement_runs.id = v.id"
        )
    })
    .await?;
    Ok(())
}

/// Reads many challenges without locking them, in ascending id order.
pub async fn get_many(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<ChallengeRow>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges c JOIN users u ON u.id = c.creator_id \
             WHERE c.id IN ({list}) ORDER BY c.id"
        )
    })
    .await
}

/// Locks (PostgreSQL: in ascending id order, as [`lock`] would one by one) and reads many challenges.
pub async fn lock_many(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<ChallengeRow>> {
    let lock = if tx.is_postgres() { " FOR UPDATE OF c" } else { "" };
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges c JOIN users u ON u.id = c.creator_id \
             WHERE c.id IN ({list}) ORDER BY c.id{lock}"
        )
    })
    .await
}

/// [`pending`] of many challenges, without a limit, grouped by challenge, each in join order.
pub async fn pending_of_many(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<PendingRow>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT id, challenge_id, user_id, stake, outcome, prize FROM participations \
             WHERE challenge_id IN ({list}) AND left_at IS NULL AND settled_at IS NULL \
             ORDER BY challenge_id, joined_at, id"
        )
    })
    .await
}

/// [`settlement_totals`] of many challenges: (challenge, participants, winners, failed stakes, prizes).
pub async fn settlement_totals_of_many(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, i64, i64, i64, i64)>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT challenge_id, COUNT(*), \
             CAST(SUM(CASE WHEN outcome = 'SUCCESS' THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN outcome = 'FAIL' THEN stake ELSE 0 END) AS BIGINT), \
             CAST(SUM(COALESCE(prize, 0)) AS BIGINT) \
             FROM participations WHERE left_at IS NULL AND challenge_id IN ({list}) GROUP BY challenge_id"
        )
    })
    .await
}

/// Ends many IN_PROGRESS challenges, as [`transition`] would one by one; returns how many it ended.
pub async fn end_many(tx: &mut Tx, ids: &[Uuid], now_ms: i64) -> StoreResult<u64> {
    let pg = tx.is_postgres();
    let mut n = 0;
    for part in ids.chunks(rows_per_statement(1)) {
        let sql = format!(
            "UPDATE challenges SET status = 'ENDED', version = version + 1, updated_at = {}, settled_at = {} \
             WHERE status = 'IN_PROGRESS' AND id IN ({})",
            param(pg, 1),
            param(pg, 2),
            param_list(pg, part.len(), 3)
        );
        n += on_conn!(tx, conn => {
            let mut q = sqlx::query(&sql).bind(now_ms).bind(now_ms);
            for id in part {
                q = q.bind(*id);
            }
            q.execute(&mut *conn).await?.rows_affected()
        });
    }
    Ok(n)
}

/// What settlement plans from: an active participant with their accepted proof days.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub challenge_id: Uuid,
    pub user_id: Uuid,
    pub stake: i64,
    pub settled_at: Option<i64>,
    pub accepted_days: i64,
}

/// The active participants of many challenges with their accepted days, grouped by challenge, each in join order
/// (lighter than [`participants`]: no nickname, no rejected days).
pub async fn plan_rows_of_many(tx: &mut Tx, ids: &[Uuid]) -> StoreResult<Vec<PlanRow>> {
    rows_for_ids(tx, ids, |list| {
        format!(
            "SELECT p.id, p.challenge_id, p.user_id, p.stake, p.settled_at, \
             (SELECT COUNT(*) FROM proofs f WHERE f.participation_id = p.id AND f.status = 'ACCEPTED') \
             AS accepted_days FROM participations p \
             WHERE p.challenge_id IN ({list}) AND p.left_at IS NULL ORDER BY p.challenge_id, p.joined_at, p.id"
        )
    })
    .await
}
