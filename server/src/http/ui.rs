//! The web UI at `/`: the files `cargo xtask ui` writes (`index.html`, content-hashed scripts, wasm and styles),
//! served from the folder `NENE_UI_DIR` names, with a single-page-app fallback: any other GET outside the API's own
//! prefixes answers `index.html`, and the UI's router takes it from there.
//!
//! Caching: files whose names carry a content hash (`app-<16 hex>.js`) never change, so browsers keep them for a
//! year; `index.html` (which names the current hashes) is revalidated on every load, so a new build shows at once.
//! Paths under `/api/`, `/dev/` and the operational routes keep answering the API's JSON 404.

use std::path::{Component, Path, PathBuf};

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

/// Prefixes that belong to the API and the operations; the UI never answers for them.
const API_PREFIXES: &[&str] = &["/api", "/dev", "/health", "/ready", "/metrics"];

/// Browsers may keep content-hashed files for a year without asking again.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page that names the current assets: always revalidated.
const NO_CACHE: &str = "no-cache";

/// What the page may load. Scripts and wasm come from this server only (TossPayments' widget script is the one
/// outside script, loaded in production to take card payments); photos are shown through `blob:` URLs made from
/// authenticated downloads.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
    script-src 'self' 'wasm-unsafe-eval' https://*.tosspayments.com; \
    connect-src 'self' https://*.tosspayments.com; \
    frame-src https://*.tosspayments.com; \
    img-src 'self' blob: data: https://*.tosspayments.com; \
    style-src 'self' 'unsafe-inline' https://*.tosspayments.com; \
    object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// The router's fallback: UI files and the SPA page for GETs outside the API, the API's JSON 404 otherwise.
pub async fn fallback(State(state): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_api_path(path) {
        return ApiError::not_found("Nothing exists at this address.").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::not_found("Nothing exists at this address.").into_response();
    }
    let Some(dir) = state.config.ui_dir.as_deref() else {
        return ApiError::not_found("No web UI is served here: build it with `cargo xtask ui`, or set NENE_UI_DIR.")
            .into_response();
    };
    serve(dir, path).await
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

async fn serve(dir: &Path, path: &str) -> Response {
    let Some(relative) = safe_relative(path) else {
        return ApiError::not_found("Nothing exists at this address.").into_response();
    };
    if !relative.as_os_str().is_empty() && relative.file_name().is_some_and(|n| n != "index.html") {
        let file = dir.join(&relative);
        if let Ok(bytes) = tokio::fs::read(&file).await {
            let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let cache = if is_content_hashed(name) { IMMUTABLE } else { NO_CACHE };
            return file_response(content_type(name), cache, bytes);
        }
        // A missing file with an extension is a stale or mistyped asset: answering the page instead would hand the
        // browser HTML where it expects a script.
        if relative.extension().is_some() {
            return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, NO_CACHE)], "Not found").into_response();
        }
    }
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(bytes) => {
            let mut response = file_response("text/html; charset=utf-8", NO_CACHE, bytes);
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
            response
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "the web UI folder has no readable index.html");
            ApiError::not_found("The web UI is not built: run `cargo xtask ui`.").into_response()
        }
    }
}

fn file_response(mime: &'static str, cache: &'static str, bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], bytes)
        .into_response()
}

/// The request path as a path below the UI folder, or `None` when it tries to leave it (`..`, absolute parts).
fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path.trim_start_matches('/'))?;
    let relative = PathBuf::from(decoded);
    relative.components().all(|c| matches!(c, Component::Normal(_))).then_some(relative)
}

/// `%41` → `A`; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `app-0123456789abcdef.js`, `app-0123456789abcdef_bg.wasm`, `style-0123456789abcdef.css`: the build's hash follows
/// the last `-` of the name.
fn is_content_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefixes_are_whole_segments() {
        assert!(is_api_path("/api/v1/nothing"));
        assert!(is_api_path("/dev"));
        assert!(is_api_path("/health"));
        assert!(is_api_path("/metrics/x"));
        assert!(!is_api_path("/"));
        assert!(!is_api_path("/wallet"));
        assert!(!is_api_path("/healthy-habits"));
        assert!(!is_api_path("/apis"));
    }

    #[test]
    fn paths_cannot_leave_the_folder() {
        assert_eq!(safe_relative("/app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/../secret"), None);
        assert_eq!(safe_relative("/a/%2e%2e/%2e%2e/secret"), None);
        assert_eq!(safe_relative("/%zz"), None);
    }

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_content_hashed("app-0123456789abcdef.js"));
        assert!(is_content_hashed("app-0123456789abcdef_bg.wasm"));
        assert!(is_content_hashed("style-89abcdef01234567.css"));
        assert!(!is_content_hashed("index.html"));
        assert!(!is_content_hashed("app.js"));
        assert!(!is_content_hashed("my-file.css"));
    }
}
