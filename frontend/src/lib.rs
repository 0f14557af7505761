//! NeNe Challenge's web UI: Leptos with client-side rendering, compiled to WebAssembly and served by the server at
//! `/`. The same UI runs inside the Tauri app, where only the [`backend`] underneath changes.
//!
//! Screens ([`pages`]) talk to the server only through [`backend::Backend`]; their words come from [`i18n`]
//! (Korean first, English as a switch); money is shown through [`money`]; the pictures are drawn in [`charts`].

pub mod app;
pub mod backend;
pub mod charts;
pub mod components;
pub mod dates;
pub mod i18n;
pub mod money;
pub mod pages;
pub mod session;
pub mod timers;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the app when the wasm module is loaded.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook_lite();
    leptos::mount::mount_to_body(app::App);
}

/// Panics go to the browser console (the default is a bare `unreachable` trap), so a failure can be read there.
fn console_error_panic_hook_lite() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
}
