//! The browser's transport: `fetch` to the API on the page's own origin.
//!
//! Tokens, as the architecture notes ask: the access token lives only in this object's memory (gone on reload);
//! the refresh token is an HttpOnly, SameSite=Strict cookie the server sets on `/api/v1/auth`, which scripts cannot
//! read and `fetch` sends by itself (`credentials: same-origin`). Every sign-in and refresh says `client: WEB`, so
//! no answer's body carries the refresh token. When the access token has expired (401 `TOKEN_EXPIRED`) the call
//! refreshes once (`POST /auth/refresh`, no token in the body) and is sent again. Refreshes within this page are
//! serialised, so two calls expiring at once cost one rotation; other tabs sharing the cookie may still refresh at
//! the same moment, which the server's short grace for a just-spent token absorbs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gloo_net::http::{Request, RequestBuilder};
use nene_shared::ErrorCode;
use nene_shared::auth::TokenPair;
use web_sys::RequestCredentials;

use super::{Answer, ApiError, Body, Call, Method, error_from, query};

#[derive(Clone)]
pub struct HttpTransport {
    /// `/api/v1`: same origin, so no CORS and the cookie travels.
    base: String,
    token: Arc<Mutex<Option<String>>>,
    /// Grows with every change of the token, so a call that saw an old one knows a refresh already happened.
    generation: Arc<AtomicU64>,
    refreshing: Arc<futures::lock::Mutex<()>>,
}

impl HttpTransport {
    pub fn new(base: &str) -> HttpTransport {
        HttpTransport {
            base: base.trim_end_matches('/').to_owned(),
            token: Arc::new(Mutex::new(None)),
            generation: Arc::new(AtomicU64::new(0)),
            refreshing: Arc::new(futures::lock::Mutex::new(())),
        }
    }

    pub fn set_access_token(&self, token: Option<String>) {
        if let Ok(mut slot) = self.token.lock() {
            *slot = token;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn snapshot(&self) -> (Option<String>, u64) {
        let token = self.token.lock().ok().and_then(|t| t.clone());
        (token, self.generation.load(Ordering::SeqCst))
    }

    pub async fn send(&self, call: &Call) -> Result<Answer, ApiError> {
        let (token, generation) = self.snapshot();
        let answer = self.fetch(call, token.as_deref()).await?;
        let expired = answer.status == 401 && !call.is_auth() && error_from(&answer).code() == ErrorCode::TokenExpired;
        if expired && self.refresh(generation).await {
            let (token, _) = self.snapshot();
            return self.fetch(call, token.as_deref()).await;
        }
        Ok(answer)
    }

    /// Trades the refresh cookie for a new access token, unless another call already did since `seen`. Answers
    /// whether there is a fresh token to retry with.
    async fn refresh(&self, seen: u64) -> bool {
        let _one_at_a_time = self.refreshing.lock().await;
        if self.generation.load(Ordering::SeqCst) != seen {
            return self.snapshot().0.is_some();
        }
        let answer = self.fetch(&super::refresh_call(), None).await;
        let pair =
            answer.ok().filter(|a| a.status == 200).and_then(|a| serde_json::from_slice::<TokenPair>(&a.bytes).ok());
        let fresh = pair.is_some();
        self.set_access_token(pair.map(|p| p.access_token));
        fresh
    }

    async fn fetch(&self, call: &Call, token: Option<&str>) -> Result<Answer, ApiError> {
        let url = format!("{}{}{}", self.base, call.path, query::to_string(&call.query));
        let mut builder = match call.method {
            Method::Get => Request::get(&url),
            Method::Post => Request::post(&url),
            Method::Patch => Request::patch(&url),
            Method::Delete => Request::delete(&url),
        }
        .credentials(RequestCredentials::SameOrigin)
        .header("Accept", "application/json");
        if let Some(token) = token {
            builder = builder.header("Authorization", &format!("Bearer {token}"));
        }
        if let Some(key) = &call.idempotency_key {
            builder = builder.header("Idempotency-Key", key);
        }
        let request = with_body(builder, &call.body).map_err(|e| ApiError::Network(e.to_string()))?;
        let response = request.send().await.map_err(|e| ApiError::Network(e.to_string()))?;
        let status = response.status();
        let content_type = response.headers().get("content-type");
        let bytes = response.binary().await.map_err(|e| ApiError::Network(e.to_string()))?;
        Ok(Answer { status, content_type, bytes })
    }
}

fn js_error(e: wasm_bindgen::JsValue) -> gloo_net::Error {
    gloo_net::Error::GlooError(format!("{e:?}"))
}

fn with_body(builder: RequestBuilder, body: &Body) -> Result<Request, gloo_net::Error> {
    match body {
        Body::Empty => builder.build(),
        Body::Json(value) => builder.json(value),
        Body::Proof { text, photo } => {
            let form = web_sys::FormData::new().map_err(js_error)?;
            if let Some(text) = text {
                form.append_with_str("text", text).map_err(js_error)?;
            }
            if let Some(photo) = photo {
                form.append_with_blob_and_filename("photo", photo, &photo.name()).map_err(js_error)?;
            }
            // The browser writes the multipart boundary into Content-Type itself.
            builder.body(form)
        }
    }
}
