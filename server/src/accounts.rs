//! Accounts: sign-up with its per-address limit, sign-in with its failure limits, token rotation with reuse
//! detection, logout, profiles.
//!
//! Token lifetimes and the sign-in limits run on real time (`Utc::now()`), never on the dev-mode domain clock.

use std::collections::BTreeMap;

use chrono::Utc;
use nene_shared::auth::{LoginRequest, SignupRequest, TokenPair};
use nene_shared::users::{Me, PublicProfile, Role, UpdateProfileRequest};
use nene_shared::validate::{Bio, Email, Nickname, Password};
use nene_shared::{ErrorCode, FieldCode, UserId};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::tokens::{self, AccessClaims};
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use crate::store::tokens::NewRefresh;
use crate::store::users::{NewUser, ProfileChange, UserRow};
use crate::store::{self, Db, Tx, from_millis};

/// Collects per-field refusals so one answer names every wrong field at once.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<String, FieldCode>);

impl FieldErrors {
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, FieldCode>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(code) => {
                self.0.insert(field.to_owned(), code);
                None
            }
        }
    }

    pub fn into_result(self) -> ApiResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::validation(self.0)) }
    }
}

fn role_of(row: &UserRow) -> Role {
    Role::parse(&row.role).unwrap_or(Role::User)
}

pub fn me_of(row: &UserRow) -> Me {
    Me {
        id: UserId::from_uuid(row.id),
        email: row.email.clone(),
        nickname: row.nickname.clone(),
        bio: row.bio.clone(),
        role: role_of(row),
        created_at: from_millis(row.created_at),
    }
}

fn email_taken() -> ApiError {
    ApiError::conflict(ErrorCode::EmailTaken, "An account with this email already exists.")
        .with_field("email", FieldCode::Taken)
}

fn nickname_taken() -> ApiError {
    ApiError::conflict(ErrorCode::NicknameTaken, "This nickname is already taken.")
        .with_field("nickname", FieldCode::Taken)
}

/// Maps a unique-constraint race (two sign-ups at once on PostgreSQL) to the same answer as the pre-check.
fn map_unique(e: store::StoreError) -> ApiError {
    match e.unique_violation() {
        Some(what) if what.contains("email") => email_taken(),
        Some(what) if what.contains("nickname") => nickname_taken(),
        _ => e.into(),
    }
}

pub async fn signup(state: &AppState, req: SignupRequest) -> ApiResult<TokenPair> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", Email::parse(&req.email));
    let pw = errors.check("password", Password::parse(&req.password));
    let nickname = errors.check("nickname", Nickname::parse(&req.nickname));
    errors.into_result()?;
    let (Some(email), Some(pw), Some(nickname)) = (email, pw, nickname) else {
        return Err(ApiError::internal(&"validated fields missing"));
    };

    let hash = state.passwords.hash(pw.expose().to_owned()).await.map_err(|e| ApiError::internal(&e))?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let mut tx = state.db.begin_write().await?;
    if store::users::email_exists(&mut tx, email.as_str()).await? {
        return Err(email_taken());
    }
    if store::users::nickname_taken(&mut tx, &nickname.key(), None).await? {
        return Err(nickname_taken());
    }
    let new = NewUser {
        id,
        email: email.as_str(),
        nickname: nickname.as_str(),
        nickname_key: &nickname.key(),
        password_hash: &hash,
        now_ms: now.timestamp_millis(),
    };
    store::users::insert(&mut tx, &new).await.map_err(map_unique)?;
    ledger::open_wallet(&mut tx, UserId::from_uuid(id), now.timestamp_millis()).await?;
    let user = store::users::find_by_id(&mut tx, id).await?.ok_or_else(|| ApiError::internal(&"user vanished"))?;
    let pair = issue_pair(state, &mut tx, &user, Uuid::now_v7()).await?;
    tx.commit().await.map_err(map_unique)?;
    tracing::info!(user_id = %id, "signed up");
    Ok(pair)
}

/// Issues an access token and a refresh token in `family`, storing the refresh token's hash.
async fn issue_pair(state: &AppState, tx: &mut Tx, user: &UserRow, family: Uuid) -> ApiResult<TokenPair> {
    let now = Utc::now();
    let ttl = state.config.access_token_ttl.as_secs() as i64;
    let (access_token, _) =
        state.jwt.issue(user.id, role_of(user).as_str(), now.timestamp(), ttl).map_err(|e| ApiError::internal(&e))?;
    let refresh_token = tokens::new_refresh_token();
    let refresh_ttl = state.config.refresh_token_ttl.as_millis() as i64;
    store::tokens::insert_refresh(
        tx,
        &NewRefresh {
            id: Uuid::now_v7(),
            family_id: family,
            user_id: user.id,
            token_hash: &tokens::hash_refresh_token(&refresh_token),
            now_ms: now.timestamp_millis(),
            expires_at: now.timestamp_millis() + refresh_ttl,
        },
    )
    .await?;
    Ok(TokenPair { access_token, refresh_token: Some(refresh_token), expires_in: ttl, user: me_of(user) })
}

pub async fn login(state: &AppState, req: LoginRequest, ip: &str) -> ApiResult<TokenPair> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", Email::parse(&req.email));
    if req.password.is_empty() {
        errors.check::<()>("password", Err(FieldCode::Required));
    }
    errors.into_result()?;
    let Some(email) = email else { return Err(ApiError::internal(&"validated email missing")) };
    let account = email.as_str();

    let now = Utc::now().timestamp_millis();
    let window_ms = state.config.login_failure_window.as_millis() as i64;
    let since = now - window_ms;
    let limits = (state.config.login_failures_per_account, state.config.login_failures_per_ip);

    // Refuse before checking the password, so a locked account gives nothing away and costs no hashing. A read
    // first, so a flood against a locked account never waits for the writer.
    let mut tx = state.db.begin_read().await?;
    login_refusal(&mut tx, account, ip, since, now, limits).await?;
    drop(tx);
    // Then the attempt is counted before its check, under a lock on the account and the address: of a burst of
    // parallel attempts, each sees the ones before it, so no more run the check than the limits allow.
    let mut tx = state.db.begin_write().await?;
    store::login_failures::lock(&mut tx, account, ip).await?;
    login_refusal(&mut tx, account, ip, since, now, limits).await?;
    let attempt = store::login_failures::begin_attempt(&mut tx, account, ip, now, since).await?;
    let found = store::users::find_credentials(&mut tx, account).await?;
    tx.commit().await?;

    let (user, hash) = found.map(|(u, h)| (Some(u), Some(h))).unwrap_or((None, None));
    let ok = state.passwords.verify(req.password, hash).await.map_err(|e| ApiError::internal(&e))?;
    let mut tx = state.db.begin_write().await?;
    match (ok, user) {
        (true, Some(user)) => {
            store::login_failures::succeeded(&mut tx, attempt, account).await?;
            let pair = issue_pair(state, &mut tx, &user, Uuid::now_v7()).await?;
            tx.commit().await?;
            Ok(pair)
        }
        _ => {
            store::login_failures::failed(&mut tx, attempt).await?;
            tx.commit().await?;
            Err(ApiError::unauthenticated(ErrorCode::InvalidCredentials, "The email or password is not correct."))
        }
    }
}

/// 429 when the account or the address has used up its failures in the window.
async fn login_refusal(
    tx: &mut Tx,
    account: &str,
    ip: &str,
    since: i64,
    now: i64,
    (per_account, per_ip): (u32, u32),
) -> ApiResult<()> {
    let by_account = store::login_failures::count_for_account(tx, account, since).await?;
    let by_ip = store::login_failures::count_for_ip(tx, ip, since).await?;
    if by_account < i64::from(per_account) && by_ip < i64::from(per_ip) {
        return Ok(());
    }
    let oldest = store::login_failures::oldest_since(tx, account, ip, since).await?.unwrap_or(now);
    // The oldest failure leaves the window as far after now as it came after the window's start.
    let retry_after = ((oldest - since) / 1000).max(1) as u64;
    Err(ApiError::too_many("Too many failed sign-ins. Please try again later.", retry_after))
}

/// Counts a sign-up attempt from `ip`, or refuses it (429) when the address has made its hourly share. Counted
/// before the password is hashed, under a lock on the address, so a parallel burst cannot pass together.
pub async fn count_signup(state: &AppState, ip: &str) -> ApiResult<()> {
    const WINDOW_MS: i64 = 3_600_000;
    let now = Utc::now().timestamp_millis();
    let since = now - WINDOW_MS;
    let mut tx = state.db.begin_write().await?;
    store::signup_attempts::lock(&mut tx, ip).await?;
    let made = store::signup_attempts::count_since(&mut tx, ip, since).await?;
    if made >= i64::from(state.config.signups_per_ip_per_hour) {
        let oldest = store::signup_attempts::oldest_since(&mut tx, ip, since).await?.unwrap_or(now);
        let retry_after = ((oldest - since) / 1000).max(1) as u64;
        return Err(ApiError::too_many("Too many sign-ups from this address. Please try again later.", retry_after));
    }
    store::signup_attempts::record(&mut tx, ip, now, since).await?;
    tx.commit().await?;
    Ok(())
}
/// The most fresh siblings one spent token may yield within its grace window: enough for every tab of a browser
/// waking at once, few enough that a leaked token cannot be farmed.
pub const MAX_GRACE_SIBLINGS: i64 = 8;

/// Rotates a refresh token. A token that was already spent means it leaked (or a client bug replayed it): the whole
/// family is revoked, so whoever holds its newer tokens is signed out too. The one exception is a token spent within
/// the last `refresh_reuse_grace`: two tabs of one browser share one cookie, and when both refresh at once the
/// second presents the token the first just spent. It gets a fresh sibling pair in the same family (tokens are kept
/// only as hashes, so the first answer cannot be repeated), at most [`MAX_GRACE_SIBLINGS`] times.
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<TokenPair> {
    let invalid = || ApiError::unauthenticated(ErrorCode::RefreshTokenInvalid, "Please sign in again.");
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let Some(row) = store::tokens::find_refresh(&mut tx, &tokens::hash_refresh_token(token)).await? else {
        return Err(invalid());
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    let spent_now = row.used_at.is_none() && store::tokens::spend_refresh(&mut tx, row.id, now).await?;
    if !spent_now {
        let grace_ms = i64::try_from(state.config.refresh_reuse_grace.as_millis()).unwrap_or(i64::MAX);
        let sibling = grace_ms > 0
            && store::tokens::take_grace_sibling(&mut tx, row.id, now.saturating_sub(grace_ms), MAX_GRACE_SIBLINGS)
                .await?;
        if !sibling {
            store::tokens::revoke_family(&mut tx, row.family_id, now).await?;
            tx.commit().await?;
            tracing::warn!(user_id = %row.user_id, family = %row.family_id, "spent refresh token presented again; family revoked");
            return Err(ApiError::unauthenticated(
                ErrorCode::RefreshTokenReused,
                "This sign-in was ended for your safety. Please sign in again.",
            ));
        }
        tracing::debug!(user_id = %row.user_id, family = %row.family_id, "refresh within the grace window; sibling issued");
    }
    let Some(user) = store::users::find_by_id(&mut tx, row.user_id).await? else {
        return Err(invalid());
    };
    let pair = issue_pair(state, &mut tx, &user, row.family_id).await?;
    tx.commit().await?;
    Ok(pair)
}

/// Ends a sign-in: the access token used for the call stops working at once, and the refresh token's family (when
/// given and the caller's own) is revoked.
pub async fn logout(state: &AppState, claims: &AccessClaims, refresh: Option<&str>) -> ApiResult<()> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    store::tokens::revoke_access(&mut tx, claims.jti, claims.exp * 1000, now).await?;
    if let Some(token) = refresh
        && let Some(row) = store::tokens::find_refresh(&mut tx, &tokens::hash_refresh_token(token)).await?
        && row.user_id == claims.sub
    {
        store::tokens::revoke_family(&mut tx, row.family_id, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn me(db: &Db, user: Uuid) -> ApiResult<Me> {
    let mut tx = db.begin_read().await?;
    let row = store::users::find_by_id(&mut tx, user).await?;
    row.map(|r| me_of(&r)).ok_or_else(|| ApiError::not_found("No such user."))
}

pub async fn public_profile(db: &Db, user: Uuid) -> ApiResult<PublicProfile> {
    let mut tx = db.begin_read().await?;
    let row = store::users::find_by_id(&mut tx, user).await?;
    row.map(|r| PublicProfile {
        id: UserId::from_uuid(r.id),
        nickname: r.nickname,
        bio: r.bio,
        created_at: from_millis(r.created_at),
    })
    .ok_or_else(|| ApiError::not_found("No such user."))
}

/// Changes a profile. `actor` must be the profile's owner or an admin (moderation).
pub async fn update_profile(db: &Db, actor: &AccessClaims, target: Uuid, req: UpdateProfileRequest) -> ApiResult<Me> {
    if actor.sub != target && actor.role != Role::Admin.as_str() {
        return Err(ApiError::forbidden("You can only change your own profile."));
    }
    let mut errors = FieldErrors::default();
    let nickname = req.nickname.as_deref().and_then(|n| errors.check("nickname", Nickname::parse(n)));
    let bio = req.bio.as_deref().and_then(|b| errors.check("bio", Bio::parse(b)));
    errors.into_result()?;

    let mut tx = db.begin_write().await?;
    if store::users::find_by_id(&mut tx, target).await?.is_none() {
        return Err(ApiError::not_found("No such user."));
    }
    let key = nickname.as_ref().map(Nickname::key);
    if let Some(key) = &key
        && store::users::nickname_taken(&mut tx, key, Some(target)).await?
    {
        return Err(nickname_taken());
    }
    let change = ProfileChange {
        nickname: nickname.as_ref().zip(key.as_deref()).map(|(n, k)| (n.as_str(), k)),
        bio: bio.as_ref().map(Bio::as_str),
        now_ms: Utc::now().timestamp_millis(),
    };
    store::users::update_profile(&mut tx, target, &change).await.map_err(map_unique)?;
    let row = store::users::find_by_id(&mut tx, target).await?.ok_or_else(|| ApiError::not_found("No such user."))?;
    tx.commit().await.map_err(map_unique)?;
    Ok(me_of(&row))
}

/// Makes an existing account an admin (the `admin grant` command).
pub async fn grant_admin(db: &Db, email: &str) -> Result<bool, store::StoreError> {
    let email = Email::parse(email).map(|e| e.as_str().to_owned()).unwrap_or_else(|_| email.to_owned());
    let mut tx = db.begin_write().await?;
    let done = store::users::set_role(&mut tx, &email, Role::Admin.as_str(), Utc::now().timestamp_millis()).await?;
    tx.commit().await?;
    Ok(done)
}
