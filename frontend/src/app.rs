//! The application: the backend chosen for this environment, the session, the language, and the routes. Screens
//! that need a signed-in person sit behind [`Guard`], which waits for the start-up session check and sends everyone
//! else to the sign-in page (and back afterwards).

use leptos::prelude::*;
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::backend::Backend;
use crate::backend::query::encode;
use crate::components::shell::Shell;
use crate::components::states::Loading;
use crate::i18n::provide_i18n;
use crate::pages;
use crate::session::{provide_session, use_session};

#[component]
pub fn App() -> impl IntoView {
    provide_i18n();
    provide_session(Backend::from_environment());
    view! {
        <Router>
            <Shell>
                <Routes fallback=|| view! { <pages::not_found::NotFound/> }>
                    <Route path=path!("/signin") view=pages::auth::SignIn/>
                    <Route path=path!("/signup") view=pages::auth::SignUp/>
                    <Route path=path!("/") view=|| view! { <Guard><pages::home::Home/></Guard> }/>
                    <Route path=path!("/explore") view=|| view! { <Guard><pages::explore::Explore/></Guard> }/>
                    <Route path=path!("/create") view=|| view! { <Guard><pages::create::Create/></Guard> }/>
                    <Route path=path!("/challenges/:id") view=|| view! { <Guard><pages::detail::Detail/></Guard> }/>
                    <Route path=path!("/challenges/:id/proof")
                        view=|| view! { <Guard><pages::proof::SubmitProof/></Guard> }/>
                    <Route path=path!("/challenges/:id/progress")
                        view=|| view! { <Guard><pages::progress::MyProgress/></Guard> }/>
                    <Route path=path!("/wallet") view=|| view! { <Guard><pages::wallet::WalletPage/></Guard> }/>
                    <Route path=path!("/wallet/charge/success")
                        view=|| view! { <Guard><pages::charge::ChargeSuccess/></Guard> }/>
                    <Route path=path!("/wallet/charge/fail")
                        view=|| view! { <Guard><pages::charge::ChargeFail/></Guard> }/>
                    <Route path=path!("/inbox") view=|| view! { <Guard><pages::inbox::Inbox/></Guard> }/>
                    <Route path=path!("/me") view=|| view! { <Guard><pages::profile::Profile/></Guard> }/>
                    <Route path=path!("/admin/moderation")
                        view=|| view! { <Guard><pages::moderation::Moderation/></Guard> }/>
                </Routes>
            </Shell>
        </Router>
    }
}

/// Shows `children` to a signed-in person; waits while the session is being checked; otherwise sends to sign-in
/// with the way back in `next`.
#[component]
fn Guard(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let signed_in = Memo::new(move |_| session.me.with(|m| m.is_some()));
    move || {
        if !session.ready.get() {
            return view! { <Loading/> }.into_any();
        }
        if !signed_in.get() {
            let here = format!("{}{}", location.pathname.get_untracked(), location.search.get_untracked());
            return view! { <Redirect path=format!("/signin?next={}", encode(&here))/> }.into_any();
        }
        children().into_any()
    }
}
