//! Users, their password credentials and roles.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub nickname: String,
    pub bio: String,
    pub role: String,
    pub created_at: i64,
}

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub nickname: &'a str,
    pub nickname_key: &'a str,
    pub password_hash: &'a str,
    pub now_ms: i64,
}

const USER_COLUMNS: &str = "id, email, nickname, bio, role, created_at";

pub async fn insert(tx: &mut Tx, u: &NewUser<'_>) -> StoreResult<()> {
    on_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO users (id, email, nickname, nickname_key, bio, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, '', 'USER', $5, $5)",
        )
        .bind(u.id)
        .bind(u.email)
        .bind(u.nickname)
        .bind(u.nickname_key)
        .bind(u.now_ms)
        .execute(&mut *c)
        .await?;
        sqlx::query("INSERT INTO password_credentials (user_id, password_hash, updated_at) VALUES ($1, $2, $3)")
            .bind(u.id)
            .bind(u.password_hash)
            .bind(u.now_ms)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn email_exists(tx: &mut Tx, email: &str) -> StoreResult<bool> {
    let n: i64 = on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&mut *c)
        .await?);
    Ok(n > 0)
}

/// Whether another user (not `except`) already has this nickname, ignoring letter case.
pub async fn nickname_taken(tx: &mut Tx, nickname_key: &str, except: Option<Uuid>) -> StoreResult<bool> {
    let n: i64 = on_conn!(tx, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE nickname_key = $1 AND ($2 IS NULL OR id <> $2)")
        .bind(nickname_key)
        .bind(except)
        .fetch_one(&mut *c)
        .await?);
    Ok(n > 0)
}

pub async fn find_by_id(tx: &mut Tx, id: Uuid) -> StoreResult<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_optional(&mut *c).await?))
}

/// The user and password hash for a sign-in, when the account exists and has a password.
pub async fn find_credentials(tx: &mut Tx, email: &str) -> StoreResult<Option<(UserRow, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let sql = "SELECT u.id, u.email, u.nickname, u.bio, u.role, u.created_at, p.password_hash \
               FROM users u JOIN password_credentials p ON p.user_id = u.id WHERE u.email = $1";
    let row = on_conn!(tx, c => sqlx::query_as::<_, Row>(sql).bind(email).fetch_optional(&mut *c).await?);
    Ok(row.map(|r| (r.user, r.password_hash)))
}

pub struct ProfileChange<'a> {
    pub nickname: Option<(&'a str, &'a str)>,
    pub bio: Option<&'a str>,
    pub now_ms: i64,
}

/// Applies the given changes; fields left `None` keep their value.
pub async fn update_profile(tx: &mut Tx, id: Uuid, change: &ProfileChange<'_>) -> StoreResult<()> {
    let (nickname, nickname_key) = change.nickname.unzip();
    on_conn!(tx, c => sqlx::query(
            "UPDATE users SET nickname = COALESCE($2, nickname), nickname_key = COALESCE($3, nickname_key), \
             bio = COALESCE($4, bio), updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(nickname)
        .bind(nickname_key)
        .bind(change.bio)
        .bind(change.now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Sets a user's role by email. Returns false when no such user exists.
pub async fn set_role(tx: &mut Tx, email: &str, role: &str, now_ms: i64) -> StoreResult<bool> {
    let done = on_conn!(tx, c => sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE email = $1")
        .bind(email)
        .bind(role)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(done == 1)
}
