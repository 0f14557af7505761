//! The seam for the Tauri app: the same [`Call`]s, handed to the app's Rust side through
//! `window.__TAURI__.core.invoke("api_call", { call })` instead of `fetch`. The app answers from its offline cache or
//! forwards to the server with the tokens it keeps in the OS keyring; the page never sees a token.
//!
//! The contract the app's command keeps (`app/src/bridge.rs`; exercised by the app's desktop test):
//!
//! - argument `call`: `{ method: "GET"|"POST"|"PATCH"|"DELETE", path: "/wallet", query: [[k, v], …],
//!   body: null | <JSON value>, idempotency_key: null | string, text: null | string, photo: null | [bytes…],
//!   photo_name: null | string }` — `text`/`photo` only for a proof (multipart on the wire).
//! - answer: `{ status: number, content_type: null | string, body: [bytes…] }` — exactly what the server answered
//!   (or the cache's equivalent), so error bodies keep the API's shape. A join, leave or proof the app saved but could
//!   not deliver yet answers **202** (`{pending, challenge}`): the UI shows it as waiting ([`super::Sent::Queued`]).
//!
//! Besides `api_call`, [`TauriTransport::invoke`] reaches the app's own commands (its outbox, its settings).

use js_sys::{Function, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use nene_shared::ErrorBody;

use super::{Answer, ApiError, Body, Call, Method};

const COMMAND: &str = "api_call";

#[derive(Clone)]
pub struct TauriTransport;

#[derive(Serialize)]
struct WireCall<'a> {
    method: Method,
    path: &'a str,
    query: &'a [(String, String)],
    body: Option<&'a serde_json::Value>,
    idempotency_key: Option<&'a str>,
    text: Option<&'a str>,
    photo: Option<Vec<u8>>,
    photo_name: Option<String>,
}

#[derive(Deserialize)]
struct WireAnswer {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl TauriTransport {
    /// Present when the page runs inside the Tauri app (`app.withGlobalTauri` exposes the bridge).
    pub fn detect() -> Option<TauriTransport> {
        invoke_function().map(|_| TauriTransport)
    }

    pub async fn send(&self, call: &Call) -> Result<Answer, ApiError> {
        let (body, text, photo) = match &call.body {
            Body::Empty => (None, None, None),
            Body::Json(value) => (Some(value), None, None),
            Body::Proof { text, photo } => (None, text.as_deref(), photo.as_ref()),
        };
        let (photo, photo_name) = match photo {
            Some(file) => {
                let buffer =
                    JsFuture::from(file.array_buffer()).await.map_err(|e| ApiError::Network(format!("{e:?}")))?;
                (Some(Uint8Array::new(&buffer).to_vec()), Some(file.name()))
            }
            None => (None, None),
        };
        let wire = WireCall {
            method: call.method,
            path: &call.path,
            query: &call.query,
            body,
            idempotency_key: call.idempotency_key.as_deref(),
            text,
            photo,
            photo_name,
        };
        let value = self.invoke(COMMAND, serde_json::json!({ "call": wire })).await?;
        let answer: WireAnswer = serde_json::from_value(value).map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(Answer { status: answer.status, content_type: answer.content_type, bytes: answer.body })
    }
}

impl TauriTransport {
    /// Calls one of the app's commands with `args` (camelCase keys, as Tauri expects) and answers its JSON result.
    /// A refused command answers `{code, message}` with the API's codes, read here as a server refusal.
    pub async fn invoke(&self, command: &str, args: serde_json::Value) -> Result<serde_json::Value, ApiError> {
        let invoke = invoke_function().ok_or_else(|| ApiError::Network("the app bridge is gone".into()))?;
        let args = js_sys::JSON::parse(&args.to_string()).map_err(|e| ApiError::Decode(format!("{e:?}")))?;
        let promise = invoke
            .call2(&JsValue::NULL, &JsValue::from_str(command), &args)
            .map_err(|e| ApiError::Network(format!("{e:?}")))?;
        let promise: Promise = promise.dyn_into().map_err(|_| ApiError::Decode("invoke gave no promise".into()))?;
        match JsFuture::from(promise).await {
            Ok(value) => from_js(&value),
            Err(refusal) => {
                let value = from_js(&refusal)?;
                match serde_json::from_value::<ErrorBody>(value.clone()) {
                    Ok(body) => Err(ApiError::Server { status: 400, body }),
                    Err(_) => Err(ApiError::Network(value.to_string())),
                }
            }
        }
    }
}

/// A JavaScript value as JSON (`undefined` as null).
fn from_js(value: &JsValue) -> Result<serde_json::Value, ApiError> {
    if value.is_undefined() || value.is_null() {
        return Ok(serde_json::Value::Null);
    }
    let json = js_sys::JSON::stringify(value).map_err(|e| ApiError::Decode(format!("{e:?}")))?;
    serde_json::from_str(&String::from(json)).map_err(|e| ApiError::Decode(e.to_string()))
}

/// `window.__TAURI__.core.invoke`, when it exists.
fn invoke_function() -> Option<Function> {
    let window = web_sys::window()?;
    let tauri = Reflect::get(&window, &JsValue::from_str("__TAURI__")).ok().filter(|v| v.is_object())?;
    let core = Reflect::get(&tauri, &JsValue::from_str("core")).ok().filter(|v| v.is_object())?;
    Reflect::get(&core, &JsValue::from_str("invoke")).ok()?.dyn_into::<Function>().ok()
}
