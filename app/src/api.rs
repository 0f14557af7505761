//! The server's HTTP API as the app uses it: sign-in and token rotation, sync pull/push, photo upload. Each call
//! answers the decoded body or an [`ApiFailure`] that keeps "no answer" apart from "the server said no", because the
//! sync engine treats them differently (retry later vs. record the refusal).

use std::time::Duration;

use nene_shared::ErrorBody;
use nene_shared::auth::{ClientKind, LoginRequest, LogoutRequest, RefreshRequest, SignupRequest, TokenPair};
use nene_shared::sync::{PhotoUploaded, PullResponse, PushRequest, PushResponse};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Why a call gave no usable answer.
#[derive(Debug)]
pub enum ApiFailure {
    /// No answer at all: offline, connection refused or cut, timeout.
    Network(String),
    /// An error status with the API's error body (or one made up from the status when the body is not that shape).
    Status { status: StatusCode, body: ErrorBody },
    /// A success status whose body could not be read.
    Decode(String),
}

impl ApiFailure {
    /// Worth sending again later: no answer, a server-side failure, or being told to slow down.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiFailure::Network(_) => true,
            ApiFailure::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
            }
            ApiFailure::Decode(_) => false,
        }
    }
}

impl From<ApiFailure> for AppError {
    fn from(f: ApiFailure) -> AppError {
        let retryable = f.is_retryable();
        match f {
            ApiFailure::Network(e) => AppError::Offline(e),
            ApiFailure::Status { status, body } if retryable => {
                AppError::Offline(format!("{status}: {}", body.message))
            }
            ApiFailure::Status { status, body } => {
                AppError::Server { status: status.as_u16(), code: body.code, message: body.message }
            }
            ApiFailure::Decode(e) => AppError::Protocol(e),
        }
    }
}

/// An HTTP client for one server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client for the server at `base` (e.g. `https://nene.example`), or an error when that is not an http(s) URL.
    pub fn new(base: &str) -> Result<Api, AppError> {
        let base = normalise_base(base)?;
        // reqwest is built without a default crypto provider; the workspace uses aws-lc-rs everywhere.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("nene-app/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::Invalid(format!("cannot make an HTTP client: {e}")))?;
        Ok(Api { http, base })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}/api/v1{path}", self.base))
    }

    pub async fn signup(&self, req: &SignupRequest) -> Result<TokenPair, ApiFailure> {
        send(self.request(Method::POST, "/auth/signup").json(req)).await
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<TokenPair, ApiFailure> {
        send(self.request(Method::POST, "/auth/login").json(req)).await
    }

    /// Trades a refresh token for a new pair; the old refresh token is spent.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, ApiFailure> {
        let body = RefreshRequest { refresh_token: Some(refresh_token.to_owned()), client: Some(ClientKind::App) };
        send(self.request(Method::POST, "/auth/refresh").json(&body)).await
    }

    pub async fn logout(&self, access: &str, refresh_token: Option<String>) -> Result<(), ApiFailure> {
        let body = LogoutRequest { refresh_token };
        send_empty(self.request(Method::POST, "/auth/logout").bearer_auth(access).json(&body)).await
    }

    pub async fn pull(&self, access: &str, cursor: Option<&str>) -> Result<PullResponse, ApiFailure> {
        let mut req = self.request(Method::GET, "/sync/pull").bearer_auth(access);
        if let Some(c) = cursor {
            req = req.query(&[("cursor", c)]);
        }
        send(req).await
    }

    pub async fn push(&self, access: &str, body: &PushRequest) -> Result<PushResponse, ApiFailure> {
        send(self.request(Method::POST, "/sync/push").bearer_auth(access).json(body)).await
    }

    pub async fn upload_photo(&self, access: &str, bytes: Vec<u8>) -> Result<PhotoUploaded, ApiFailure> {
        let req = self
            .request(Method::POST, "/sync/photos")
            .bearer_auth(access)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes);
        send(req).await
    }

    /// Any other call, answered as the server answered it: (status, content type, body bytes). For the UI's
    /// pass-through of calls the cache cannot answer.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        access: Option<&str>,
        headers: &[(&str, String)],
        body: Option<RawBody>,
    ) -> Result<(StatusCode, Option<String>, Vec<u8>), ApiFailure> {
        let mut req = self.request(method, path);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(a) = access {
            req = req.bearer_auth(a);
        }
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        if let Some(RawBody::Json(v)) = body {
            req = req.json(&v);
        }
        let resp = req.send().await.map_err(network)?;
        let status = resp.status();
        let content_type =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = resp.bytes().await.map_err(network)?;
        Ok((status, content_type, bytes.to_vec()))
    }
}

/// The body of a pass-through call.
#[derive(Clone, Debug)]
pub enum RawBody {
    Json(serde_json::Value),
}

/// Keeps `scheme://host[:port]`, without a trailing slash or an `/api/v1` suffix someone may have pasted.
///
/// Plain `http://` is refused except to this machine (a server started with `cargo xtask dev`): passwords and tokens
/// travel on this connection, and on any other network whoever sits between the app and the server could read
/// them, or pose as the server.
pub(crate) fn normalise_base(base: &str) -> Result<String, AppError> {
    let trimmed = base.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v1").unwrap_or(trimmed);
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| AppError::Invalid(format!("'{base}' is not a server address: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(AppError::Invalid(format!("'{base}' is not an http(s) server address")));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(AppError::Invalid(format!(
            "'{base}' is not encrypted: use an https:// address (plain http:// is only for a server on this \
             computer, such as http://127.0.0.1:8080)"
        )));
    }
    Ok(trimmed.to_owned())
}

/// This machine: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    // The URL parser has already turned any spelling of an IP address into its canonical form.
    match host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// "No answer", with the underlying causes (refused, reset, timed out) spelled out for logs and the UI.
fn network(e: reqwest::Error) -> ApiFailure {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiFailure::Network(text)
}

async fn error_of(resp: reqwest::Response) -> ApiFailure {
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
        code: code_for_status(status),
        message: status.canonical_reason().unwrap_or("error").to_owned(),
        fields: None,
    });
    ApiFailure::Status { status, body }
}

/// A code for an error answer without the API's body (a proxy's 502, say).
fn code_for_status(status: StatusCode) -> nene_shared::ErrorCode {
    use nene_shared::ErrorCode;
    match status.as_u16() {
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::TooManyRequests,
        502..=504 => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    }
}

async fn send<T: DeserializeOwned>(req: RequestBuilder) -> Result<T, ApiFailure> {
    let resp = req.send().await.map_err(network)?;
    if !resp.status().is_success() {
        return Err(error_of(resp).await);
    }
    // A body cut off mid-way is a lost answer, not a malformed one.
    let bytes = resp.bytes().await.map_err(network)?;
    serde_json::from_slice(&bytes).map_err(|e| ApiFailure::Decode(e.to_string()))
}

async fn send_empty(req: RequestBuilder) -> Result<(), ApiFailure> {
    let resp = req.send().await.map_err(network)?;
    if !resp.status().is_success() {
        return Err(error_of(resp).await);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_normalised() {
        assert_eq!(normalise_base("http://127.0.0.1:8080/").ok().as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(normalise_base(" https://nene.example/api/v1 ").ok().as_deref(), Some("https://nene.example"));
        assert!(normalise_base("ftp://nene.example").is_err());
        assert!(normalise_base("not a url").is_err());
    }

    #[test]
    fn plain_http_is_only_for_this_computer() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://localhost:3000",
            "http://LOCALHOST",
            "http://[::1]:8080",
        ] {
            assert_eq!(normalise_base(ok).ok().as_deref(), Some(ok), "{ok}");
        }
        assert!(normalise_base("https://10.0.0.5:8443").is_ok());
        for refused in [
            "http://example.com",
            "http://10.0.2.2:8080",
            "http://192.168.0.10:8080",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            match normalise_base(refused) {
                Err(AppError::Invalid(message)) => assert!(message.contains("https://"), "{message}"),
                other => panic!("{refused} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn failures_that_may_pass_later_are_retryable() {
        let status = |s: u16| ApiFailure::Status {
            status: StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody { code: nene_shared::ErrorCode::Internal, message: String::new(), fields: None },
        };
        assert!(ApiFailure::Network("refused".into()).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(409).is_retryable());
        assert!(!status(422).is_retryable());
    }
}
