//! Waiting in async code without blocking the page: a promise resolved by `setTimeout`.

use js_sys::Promise;
use wasm_bindgen_futures::JsFuture;

/// Resolves after about `ms` milliseconds (at once if there is no window).
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        } else {
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
