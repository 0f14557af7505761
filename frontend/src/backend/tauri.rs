//! The seam for the Tauri app: the same [`Call`]s, handed to the app's Rust side through
//! `window.__TAURI__.core.invoke("api_call", { call })` instead of `fetch`. The app answers from its offline cache or
//! forwards to the server with the tokens it keeps in the OS keyring; the page never sees a token.
//!
//! The contract the app's command must keep (the app issue implements it; nothing here can exercise it yet):
//!
//! - argument `call`: `{ method: "GET"|"POST"|"PATCH"|"DELETE", path: "/wallet", query: [[k, v], …],
//!   body: null | <JSON value>, idempotency_key: null | string, text: null | string, photo: null | [bytes…],
//!   photo_name: null | string }` — `text`/`photo` only for a proof (multipart on the wire).
//! - answer: `{ status: number, content_type: null | string, body: [bytes…] }` — exactly what the server answered
//!   (or the cache's equivalent), so error bodies keep the API's shape.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

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
        let invoke = invoke_function().ok_or_else(|| ApiError::Network("the app bridge is gone".into()))?;
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
        let args = serde_json::json!({ "call": wire });
        let args = js_sys::JSON::parse(&args.to_string()).map_err(|e| ApiError::Decode(format!("{e:?}")))?;
        let promise = invoke
            .call2(&JsValue::NULL, &JsValue::from_str(COMMAND), &args)
            .map_err(|e| ApiError::Network(format!("{e:?}")))?;
        let promise: Promise = promise.dyn_into().map_err(|_| ApiError::Decode("invoke gave no promise".into()))?;
        let value = JsFuture::from(promise).await.map_err(|e| ApiError::Network(format!("{e:?}")))?;
        let json = js_sys::JSON::stringify(&value).map_err(|e| ApiError::Decode(format!("{e:?}")))?;
        let answer: WireAnswer =
            serde_json::from_str(&String::from(json)).map_err(|e| ApiError::Decode(e.to_string()))?;
        Ok(Answer { status: answer.status, content_type: answer.content_type, bytes: answer.body })
    }
}

/// `window.__TAURI__.core.invoke`, when it exists.
fn invoke_function() -> Option<Function> {
    let window = web_sys::window()?;
    let tauri = Reflect::get(&window, &JsValue::from_str("__TAURI__")).ok().filter(|v| v.is_object())?;
    let core = Reflect::get(&tauri, &JsValue::from_str("core")).ok().filter(|v| v.is_object())?;
    Reflect::get(&core, &JsValue::from_str("invoke")).ok()?.dyn_into::<Function>().ok()
}
