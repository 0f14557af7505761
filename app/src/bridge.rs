//! The web UI's way into the app. Inside the app the UI's `Backend` hands each API call to the `api_call` command
//! instead of `fetch`; this answers it the way the server would, from the offline cache where the cache knows the
//! answer, through the outbox for actions that move money or prove a day, and by forwarding to the server otherwise.
//! The page never sees a token: sign-in answers carry empty token strings; the app keeps the real ones.
//!
//! The contract (kept with `frontend/src/backend/tauri.rs`): a call is `{method, path, query, body, idempotency_key,
//! text, photo, photo_name}` with `path` below `/api/v1`; an answer is `{status, content_type, body}` with the body's
//! bytes. Offline, calls the cache cannot answer get 503 `UNAVAILABLE`.
//!
//! Join, leave and proof are queued as intents and sent at once. When the server's verdict comes back in time the
//! answer is the server's (the challenge, the proof, or the refusal with its code); when it does not (offline, or
//! "try later") the answer is **202 Accepted** with [`Queued`]: the action is saved and will be sent later; the UI
//! shows it as pending (also listed by the `pending_intents` command) until a later sync settles it.

use std::collections::HashMap;
use std::sync::Mutex;

use nene_shared::auth::{LoginRequest, SignupRequest, TokenPair};
use nene_shared::challenges::{Challenge, ChallengeId, Proof};
use nene_shared::notifications::UnreadCount;
use nene_shared::page::{Page, PageQuery};
use nene_shared::sync::IntentKind;
use nene_shared::users::Me;
use nene_shared::{ErrorBody, ErrorCode};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cache::{IntentState, OutboxIntent};
use crate::engine::Engine;
use crate::error::{AppError, AppResult};

/// HTTP methods the UI uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CallMethod {
    Get,
    Post,
    Patch,
    Delete,
}

/// One API call from the UI.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireCall {
    pub method: CallMethod,
    /// Below `/api/v1`, e.g. `/wallet`.
    pub path: String,
    #[serde(default)]
    pub query: Vec<(String, String)>,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// A proof's note.
    #[serde(default)]
    pub text: Option<String>,
    /// A proof's photo bytes.
    #[serde(default)]
    pub photo: Option<Vec<u8>>,
    #[serde(default)]
    pub photo_name: Option<String>,
}

/// The answer, as the server would have given it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The 202 body of an action saved but not yet confirmed by the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Queued {
    pub pending: OutboxIntent,
    /// The challenge as last seen, when the app has it.
    pub challenge: Option<Challenge>,
}

/// Answers the UI's calls. Cheap to share; holds the challenges the UI browsed (online) so a join queued for one of
/// them offline can still be shown.
pub struct Bridge {
    engine: Engine,
    browsed: Mutex<HashMap<ChallengeId, Challenge>>,
}

impl Bridge {
    pub fn new(engine: Engine) -> Bridge {
        Bridge { engine, browsed: Mutex::new(HashMap::new()) }
    }

    pub async fn handle(&self, call: WireCall) -> WireAnswer {
        match self.route(&call).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!(path = %call.path, error = %e, "bridge call failed");
                error_answer(&e)
            }
        }
    }

    /// After signing in: fetch what the server has, and count the inbox so far as seen (it is history, not news).
    pub async fn settle_after_sign_in(&self) {
        if let Err(e) = self.engine.sync().await {
            tracing::info!(error = %e, "first sync after signing in failed; the background loop will retry");
        }
        let _ = self.engine.take_new_notifications();
    }

    async fn route(&self, call: &WireCall) -> AppResult<WireAnswer> {
        let path = call.path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let cache = self.engine.cache();
        match (call.method, segments.as_slice()) {
            (CallMethod::Post, ["auth", "login"]) => {
                let req: LoginRequest = body_of(call)?;
                let me = self.engine.sign_in(&req.email, &req.password).await?;
                self.settle_after_sign_in().await;
                json(200, &session_of(me))
            }
            (CallMethod::Post, ["auth", "signup"]) => {
                let req: SignupRequest = body_of(call)?;
                let me = self.engine.sign_up(&req.email, &req.password, &req.nickname).await?;
                self.settle_after_sign_in().await;
                json(201, &session_of(me))
            }
            (CallMethod::Post, ["auth", "refresh"]) => match self.engine.signed_in().await? {
                Some(me) => json(200, &session_of(me)),
                None => Ok(error(401, ErrorCode::RefreshTokenInvalid, "Please sign in.")),
            },
            (CallMethod::Post, ["auth", "logout"]) => {
                self.engine.sign_out().await?;
                Ok(WireAnswer { status: 204, content_type: None, body: Vec::new() })
            }
            (CallMethod::Get, ["me"]) => match (self.engine.signed_in().await?, cache.me()?) {
                (Some(_), Some(me)) => self.forward_or(call, |_| json(200, &me)).await,
                _ => self.forward(call).await,
            },
            (CallMethod::Get, ["wallet"]) => match cache.wallet()? {
                Some(view) => json(200, &view.wallet),
                None => self.forward(call).await,
            },
            (CallMethod::Get, ["wallet", "entries"]) if cache.wallet()?.is_some() => {
                let page = PageQuery {
                    cursor: query_value(call, "cursor").map(str::to_owned),
                    limit: query_value(call, "limit").and_then(|l| l.parse().ok()),
                };
                let limit = page.limit();
                let before = page.cursor.as_deref().and_then(|c| c.parse().ok());
                let items = cache.wallet_entries(before, limit)?;
                let next_cursor =
                    if items.len() == limit as usize { items.last().map(|e| e.seq.to_string()) } else { None };
                json(200, &Page { items, next_cursor })
            }
            (CallMethod::Get, ["challenges"]) if query_value(call, "mine") == Some("true") => {
                let items: Vec<Challenge> = cache.challenges()?.into_iter().map(|c| c.snapshot.challenge).collect();
                json(200, &Page { items, next_cursor: None })
            }
            (CallMethod::Get, ["challenges", id]) => match cache.challenge(parse_id(id)?)? {
                Some(c) => json(200, &c.snapshot.challenge),
                None => self.forward(call).await,
            },
            (CallMethod::Get, ["challenges", id, "progress"]) => match cache.challenge(parse_id(id)?)? {
                Some(c) => json(200, &c.snapshot.progress),
                None => self.forward(call).await,
            },
            (CallMethod::Post, ["challenges", id, "join"]) => {
                let id = parse_id(id)?;
                self.settle(self.engine.join(id)?, id).await
            }
            (CallMethod::Post, ["challenges", id, "leave"]) => {
                let id = parse_id(id)?;
                self.settle(self.engine.leave(id)?, id).await
            }
            (CallMethod::Post, ["challenges", id, "proofs"]) => {
                let id = parse_id(id)?;
                self.settle(self.engine.proof(id, call.text.clone(), call.photo.clone())?, id).await
            }
            (CallMethod::Get, ["notifications", "unread-count"]) => {
                self.forward_or(call, |_| json(200, &UnreadCount { count: cache.unread_count()? })).await
            }
            (CallMethod::Get, ["notifications"]) => {
                self.forward_or(call, |_| {
                    let page = PageQuery {
                        cursor: query_value(call, "cursor").map(str::to_owned),
                        limit: query_value(call, "limit").and_then(|l| l.parse().ok()),
                    };
                    let before = page.cursor.as_deref().and_then(|c| c.parse().ok());
                    let items = cache.notifications(before, page.limit())?;
                    let next_cursor = if items.len() == page.limit() as usize {
                        items.last().map(|n| n.seq.to_string())
                    } else {
                        None
                    };
                    let items: Vec<_> = items.into_iter().map(|n| n.notification).collect();
                    json(200, &Page { items, next_cursor })
                })
                .await
            }
            _ => self.forward(call).await,
        }
    }

    /// Sends what was just queued (with anything queued before it) and answers with the server's verdict, or 202
    /// when there is none yet.
    async fn settle(&self, intent: OutboxIntent, challenge: ChallengeId) -> AppResult<WireAnswer> {
        match self.engine.sync().await {
            Ok(_) => {}
            Err(AppError::NotSignedIn) => return Err(AppError::NotSignedIn),
            Err(e) => tracing::info!(error = %e, "queued; the background loop will send it"),
        }
        let now = self.engine.cache().intent(&intent.id)?.unwrap_or(intent);
        match now.state {
            IntentState::Rejected => {
                let code = now.code.unwrap_or(ErrorCode::Unknown);
                Ok(error(status_for(code), code, now.message.as_deref().unwrap_or("The server refused this.")))
            }
            IntentState::Applied if now.kind == IntentKind::Proof => match self.my_latest_proof(challenge).await {
                Some(proof) => json(201, &proof),
                None => self.queued(now, challenge),
            },
            IntentState::Applied => match self.engine.cache().challenge(challenge)? {
                Some(c) => json(200, &c.snapshot.challenge),
                None => self.queued(now, challenge),
            },
            IntentState::Pending => self.queued(now, challenge),
        }
    }

    fn queued(&self, pending: OutboxIntent, challenge: ChallengeId) -> AppResult<WireAnswer> {
        let known = self.engine.cache().challenge(challenge)?.map(|c| c.snapshot.challenge);
        let browsed = self.browsed.lock().ok().and_then(|b| b.get(&challenge).cloned());
        json(202, &Queued { pending, challenge: known.or(browsed) })
    }

    /// The person's newest proof in a challenge, from the server's feed.
    async fn my_latest_proof(&self, challenge: ChallengeId) -> Option<Proof> {
        let me = self.engine.cache().me().ok().flatten()?;
        let query = vec![("limit".to_owned(), "20".to_owned())];
        let answer = self
            .engine
            .forward(Method::GET, &format!("/challenges/{challenge}/proofs"), &query, None, None)
            .await
            .ok()?;
        let page: Page<Proof> = serde_json::from_slice(&answer.body).ok()?;
        page.items.into_iter().find(|p| p.user.id == me.id)
    }

    /// Forwards to the server; offline, answers from the cache with `offline`.
    async fn forward_or(
        &self,
        call: &WireCall,
        offline: impl FnOnce(&AppError) -> AppResult<WireAnswer>,
    ) -> AppResult<WireAnswer> {
        match self.forward(call).await {
            Err(e) if e.is_retryable() => offline(&e),
            other => other,
        }
    }

    async fn forward(&self, call: &WireCall) -> AppResult<WireAnswer> {
        let method = match call.method {
            CallMethod::Get => Method::GET,
            CallMethod::Post => Method::POST,
            CallMethod::Patch => Method::PATCH,
            CallMethod::Delete => Method::DELETE,
        };
        let answer = self
            .engine
            .forward(method, &call.path, &call.query, call.idempotency_key.clone(), call.body.clone())
            .await?;
        if answer.status == 200 && call.method == CallMethod::Get {
            self.remember(&call.path, &answer.body);
        }
        Ok(WireAnswer { status: answer.status, content_type: answer.content_type, body: answer.body })
    }

    /// Keeps challenges the UI browsed, for answering a join queued offline.
    fn remember(&self, path: &str, body: &[u8]) {
        let found: Vec<Challenge> = match path.trim_matches('/').split('/').collect::<Vec<_>>().as_slice() {
            ["challenges"] => serde_json::from_slice::<Page<Challenge>>(body).map(|p| p.items).unwrap_or_default(),
            ["challenges", _] => serde_json::from_slice::<Challenge>(body).map(|c| vec![c]).unwrap_or_default(),
            _ => return,
        };
        if let Ok(mut browsed) = self.browsed.lock() {
            // A bounded memory: the latest few hundred are plenty for "the one I just looked at".
            if browsed.len() > 500 {
                browsed.clear();
            }
            for c in found {
                browsed.insert(c.id, c);
            }
        }
    }
}

/// A session answer for the page: the person, without tokens (the app keeps those).
fn session_of(user: Me) -> TokenPair {
    TokenPair { access_token: String::new(), refresh_token: None, expires_in: 0, user }
}

fn query_value<'a>(call: &'a WireCall, name: &str) -> Option<&'a str> {
    call.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn parse_id(s: &str) -> AppResult<ChallengeId> {
    s.parse().map_err(|_| AppError::Server {
        status: 404,
        code: ErrorCode::NotFound,
        message: "There is no such challenge.".into(),
    })
}

fn body_of<T: DeserializeOwned>(call: &WireCall) -> AppResult<T> {
    let body = call.body.clone().unwrap_or(serde_json::Value::Null);
    serde_json::from_value(body).map_err(|e| AppError::Server {
        status: 400,
        code: ErrorCode::MalformedBody,
        message: format!("The request body is not valid: {e}"),
    })
}

fn json<T: Serialize>(status: u16, value: &T) -> AppResult<WireAnswer> {
    let body = serde_json::to_vec(value).map_err(|e| AppError::Protocol(e.to_string()))?;
    Ok(WireAnswer { status, content_type: Some("application/json".into()), body })
}

fn error(status: u16, code: ErrorCode, message: &str) -> WireAnswer {
    let body = ErrorBody { code, message: message.to_owned(), fields: None };
    WireAnswer {
        status,
        content_type: Some("application/json".into()),
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn error_answer(e: &AppError) -> WireAnswer {
    match e {
        AppError::Server { status, code, message } => error(*status, *code, message),
        AppError::Offline(_) => error(503, ErrorCode::Unavailable, "The server cannot be reached right now."),
        AppError::NotSignedIn => error(401, ErrorCode::Unauthenticated, "Please sign in."),
        AppError::Invalid(m) => error(400, ErrorCode::ValidationFailed, m),
        other => error(500, ErrorCode::Internal, &other.to_string()),
    }
}

/// The status the server gives a refusal with this code (the push answer carries only the code).
fn status_for(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::NotFound => 404,
        ErrorCode::Forbidden => 403,
        ErrorCode::ValidationFailed | ErrorCode::MalformedBody | ErrorCode::MalformedJson => 400,
        ErrorCode::ChallengeFull
        | ErrorCode::AlreadyJoined
        | ErrorCode::ChallengeNotRecruiting
        | ErrorCode::NotAParticipant
        | ErrorCode::CreatorCannotLeave
        | ErrorCode::ChallengeNotEditable
        | ErrorCode::ProofAlreadySubmitted => 409,
        _ => 422,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_read_the_ui_wire_form() {
        let call: WireCall = serde_json::from_str(
            r#"{"method":"POST","path":"/challenges/0190b2c1-0000-7000-8000-000000000000/proofs","query":[],
                "body":null,"idempotency_key":null,"text":"ran","photo":[255,216],"photo_name":"a.jpg"}"#,
        )
        .expect("wire call");
        assert_eq!(call.method, CallMethod::Post);
        assert_eq!(call.photo.as_deref(), Some(&[255u8, 216][..]));
    }

    #[test]
    fn errors_keep_the_api_shape() {
        let answer = error_answer(&AppError::Offline("refused".into()));
        assert_eq!(answer.status, 503);
        let body: ErrorBody = serde_json::from_slice(&answer.body).expect("error body");
        assert_eq!(body.code, ErrorCode::Unavailable);
        assert_eq!(status_for(ErrorCode::ChallengeFull), 409);
        assert_eq!(status_for(ErrorCode::InsufficientPoints), 422);
    }
}
