//! Calls the cache cannot answer (browsing challenges, the proof feed, photos, payments), sent to the server as they
//! are with the session's access token, and answered as the server answered them, error bodies included.

use nene_shared::ErrorBody;
use reqwest::{Method, StatusCode};

use crate::api::{ApiFailure, RawBody};
use crate::engine::Engine;
use crate::error::{AppError, AppResult};

/// A server answer as it came: status, content type, body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Engine {
    /// Sends one call below `/api/v1` (`path` like `/challenges`, `query` its parameters). Signed in, it carries
    /// the access token (renewed on `TOKEN_EXPIRED` like every call); signed out, it goes without one.
    pub async fn forward(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        idempotency_key: Option<String>,
        json: Option<serde_json::Value>,
    ) -> AppResult<RawAnswer> {
        let headers: Vec<(&'static str, String)> =
            idempotency_key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
        let send = move |api: crate::api::Api, access: Option<String>| {
            let method = method.clone();
            let path = path.to_owned();
            let query = query.to_vec();
            let headers = headers.clone();
            let body = json.clone().map(RawBody::Json);
            async move {
                let (status, content_type, body) =
                    api.raw(method, &path, &query, access.as_deref(), &headers, body).await?;
                // A refused token is handed to the session logic (which renews it and sends again); every other
                // answer goes back as it is.
                if status == StatusCode::UNAUTHORIZED
                    && access.is_some()
                    && let Ok(error) = serde_json::from_slice::<ErrorBody>(&body)
                {
                    return Err(ApiFailure::Status { status, body: error });
                }
                Ok(RawAnswer { status: status.as_u16(), content_type, body })
            }
        };
        if self.signed_in().await?.is_none() {
            return send(self.api()?, None).await.map_err(AppError::from);
        }
        self.authed(move |api, access| send(api, Some(access))).await
    }
}
