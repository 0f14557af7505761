//! Who is signed in, shared through context, and the one [`Backend`] every screen talks through.
//!
//! `ready` turns true once the start-up check is done (a refresh cookie from an earlier visit may sign the person
//! in without typing anything); until then screens show a loading state instead of bouncing to the sign-in page.

use leptos::prelude::*;
use nene_shared::users::Me;

use crate::backend::Backend;

#[derive(Clone, Copy)]
pub struct Session {
    pub me: RwSignal<Option<Me>>,
    pub ready: RwSignal<bool>,
}

/// Bumped to make the inbox bell ask for the unread count again (after reading a notification, say).
#[derive(Clone, Copy)]
pub struct InboxRefresh(pub RwSignal<u32>);

impl InboxRefresh {
    pub fn bump(self) {
        self.0.update(|n| *n = n.wrapping_add(1));
    }
}

/// Puts the backend, the session and the inbox refresher in context and starts the start-up check.
pub fn provide_session(backend: Backend) -> Session {
    let session = Session { me: RwSignal::new(None), ready: RwSignal::new(false) };
    backend.on_session_change(move |me| session.me.set(me));
    provide_context(backend.clone());
    provide_context(session);
    provide_context(InboxRefresh(RwSignal::new(0)));
    leptos::task::spawn_local(async move {
        // An error here (server unreachable) leaves the person signed out; the sign-in page says why if it recurs.
        let _ = backend.restore_session().await;
        session.ready.set(true);
    });
    session
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

pub fn use_backend() -> Backend {
    expect_context::<Backend>()
}

pub fn use_inbox_refresh() -> InboxRefresh {
    expect_context::<InboxRefresh>()
}
