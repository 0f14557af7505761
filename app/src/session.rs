//! Signing in and staying signed in: the access token lives in memory only; the refresh token lives in the token
//! store and is rotated (`POST /auth/refresh`) whenever the server answers 401 `TOKEN_EXPIRED`, or when the app
//! starts without an access token. Rotations are serialised: two at once would present one refresh token twice,
//! which the server treats as theft and answers by revoking the whole sign-in.

use std::future::Future;

use nene_shared::ErrorCode;
use nene_shared::auth::{ClientKind, LoginRequest, SignupRequest, TokenPair};
use nene_shared::users::Me;
use reqwest::StatusCode;

use crate::api::{Api, ApiFailure};
use crate::engine::Engine;
use crate::error::{AppError, AppResult};
use crate::tokens::{TokenError, TokenStore};

impl Engine {
    /// Signs in with email and password.
    pub async fn sign_in(&self, email: &str, password: &str) -> AppResult<Me> {
        let req = LoginRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            client: Some(ClientKind::App),
        };
        let pair = self.api()?.login(&req).await?;
        self.adopt_session(pair).await
    }

    /// Creates an account and signs it in.
    pub async fn sign_up(&self, email: &str, password: &str, nickname: &str) -> AppResult<Me> {
        let req = SignupRequest {
            email: email.trim().to_owned(),
            password: password.to_owned(),
            nickname: nickname.trim().to_owned(),
            client: Some(ClientKind::App),
        };
        let pair = self.api()?.signup(&req).await?;
        self.adopt_session(pair).await
    }

    /// Takes over a session the server handed out some other way (an OAuth redirect, say). When it is another
    /// person than the cache's, their cached data and unsent actions are dropped first.
    pub async fn adopt_session(&self, pair: TokenPair) -> AppResult<Me> {
        let refresh = refresh_of(&pair)?;
        let mut access = self.inner.access.lock().await;
        self.inner.cache.set_me(&pair.user)?;
        self.store_tokens(move |t| t.save(&refresh)).await?;
        *access = Some(pair.access_token);
        Ok(pair.user)
    }

    /// Signs out: tells the server (when it can be reached), forgets the tokens and the person's cached data.
    /// Unsent actions are dropped with it.
    pub async fn sign_out(&self) -> AppResult<()> {
        let mut access = self.inner.access.lock().await;
        let refresh = self.store_tokens(|t| t.load()).await.ok().flatten();
        if let (Some(token), Ok(api)) = (access.clone(), self.api())
            && let Err(e) = api.logout(&token, refresh).await
        {
            tracing::info!(error = ?e, "signing out on the server failed; forgetting the session here anyway");
        }
        *access = None;
        self.store_tokens(|t| t.clear()).await?;
        self.inner.cache.forget_person()?;
        Ok(())
    }

    /// The signed-in person as last seen, when there is a session to use.
    pub async fn signed_in(&self) -> AppResult<Option<Me>> {
        let has_access = self.inner.access.lock().await.is_some();
        let has_refresh = has_access || self.store_tokens(|t| t.load()).await.ok().flatten().is_some();
        if !has_refresh {
            return Ok(None);
        }
        Ok(self.inner.cache.me()?)
    }

    /// Runs `call` with a valid access token; on 401 `TOKEN_EXPIRED` (or an unreadable token) rotates the refresh
    /// token once and runs it again. A session the server has ended (revoked, refresh refused) is forgotten here
    /// and answers [`AppError::NotSignedIn`].
    pub(crate) async fn authed<T, F, Fut>(&self, call: F) -> AppResult<T>
    where
        F: Fn(Api, String) -> Fut,
        Fut: Future<Output = Result<T, ApiFailure>>,
    {
        let api = self.api()?;
        let access = self.access_token().await?;
        match call(api.clone(), access.clone()).await {
            Err(ApiFailure::Status { status: StatusCode::UNAUTHORIZED, body })
                if matches!(body.code, ErrorCode::TokenExpired | ErrorCode::TokenInvalid) =>
            {
                let renewed = self.refresh(Some(&access)).await?;
                match call(api, renewed).await {
                    Err(ApiFailure::Status { status: StatusCode::UNAUTHORIZED, .. }) => {
                        self.end_session().await?;
                        Err(AppError::NotSignedIn)
                    }
                    other => other.map_err(AppError::from),
                }
            }
            Err(ApiFailure::Status { status: StatusCode::UNAUTHORIZED, .. }) => {
                self.end_session().await?;
                Err(AppError::NotSignedIn)
            }
            other => other.map_err(AppError::from),
        }
    }

    /// The access token in memory, or a fresh one from the stored refresh token.
    async fn access_token(&self) -> AppResult<String> {
        if let Some(token) = self.inner.access.lock().await.clone() {
            return Ok(token);
        }
        self.refresh(None).await
    }

    /// Rotates the refresh token. `stale` is the access token that was refused: when another task has already
    /// replaced it, that newer token is used instead of rotating again.
    async fn refresh(&self, stale: Option<&str>) -> AppResult<String> {
        let mut access = self.inner.access.lock().await;
        if let Some(current) = access.as_deref()
            && Some(current) != stale
        {
            return Ok(current.to_owned());
        }
        let stored = match self.store_tokens(|t| t.load()).await {
            Ok(t) => t,
            // A token file that cannot be decrypted is as good as none.
            Err(AppError::Tokens(TokenError::Corrupt)) => None,
            Err(e) => return Err(e),
        };
        let Some(refresh) = stored else {
            *access = None;
            return Err(AppError::NotSignedIn);
        };
        match self.api()?.refresh(&refresh).await {
            Ok(pair) => {
                // Saved before anything uses the new access token: the old refresh token is spent now.
                let next = refresh_of(&pair)?;
                self.store_tokens(move |t| t.save(&next)).await?;
                self.inner.cache.set_me(&pair.user)?;
                *access = Some(pair.access_token.clone());
                Ok(pair.access_token)
            }
            Err(ApiFailure::Status { status: StatusCode::UNAUTHORIZED, .. }) => {
                *access = None;
                self.store_tokens(|t| t.clear()).await?;
                Err(AppError::NotSignedIn)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The server no longer accepts this session: forget its tokens (the cached data stays for when the same
    /// person signs in again).
    async fn end_session(&self) -> AppResult<()> {
        *self.inner.access.lock().await = None;
        self.store_tokens(|t| t.clear()).await
    }

    /// Runs a token store call on a blocking thread (a keyring may go over D-Bus).
    pub(crate) async fn store_tokens<T: Send + 'static>(
        &self,
        f: impl FnOnce(&TokenStore) -> Result<T, TokenError> + Send + 'static,
    ) -> AppResult<T> {
        let store = self.inner.tokens.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| AppError::Tokens(TokenError::Keyring(format!("the token store's thread failed: {e}"))))?
            .map_err(AppError::from)
    }
}

/// The refresh token of an APP answer. The server puts it in the body for the app; an answer without one (a
/// browser's answer) cannot keep the app signed in.
fn refresh_of(pair: &TokenPair) -> AppResult<String> {
    pair.refresh_token.clone().ok_or_else(|| AppError::Protocol("the sign-in answer carries no refresh token".into()))
}
