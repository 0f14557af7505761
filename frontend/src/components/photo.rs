//! Proof photos are shown only to participants, so they cannot be plain `<img src>` links (the access token is not
//! a cookie): the bytes come through the [`Backend`](crate::backend::Backend) and are shown from a `blob:` URL that
//! is released when the image leaves the screen.

use crate::session::use_backend;
use leptos::prelude::*;

/// A `blob:` URL for `bytes` of type `mime`.
pub fn object_url(bytes: &[u8], mime: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

pub fn revoke(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

#[component]
pub fn ProtectedImage(url: String, #[prop(into)] alt: Signal<String>, class: &'static str) -> impl IntoView {
    let backend = use_backend();
    let src = LocalResource::new(move || {
        let (backend, url) = (backend.clone(), url.clone());
        async move { backend.image(&url).await.ok().and_then(|(bytes, mime)| object_url(&bytes, &mime)) }
    });
    on_cleanup(move || {
        if let Some(Some(url)) = src.get_untracked() {
            revoke(&url);
        }
    });
    move || match src.get() {
        Some(Some(url)) => view! { <img class=class src=url alt=move || alt.get() loading="lazy"/> }.into_any(),
        Some(None) => view! { <span class=format!("{class} img-missing") aria-hidden="true"></span> }.into_any(),
        None => view! { <span class=format!("{class} img-loading") aria-hidden="true"></span> }.into_any(),
    }
}
