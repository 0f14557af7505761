//! The frame around every signed-in screen: a top bar with the inbox bell (and its unread badge), and the five tabs
//! 홈 / 탐색 / 만들기 / 지갑 / 내 정보 — a bar at the bottom on a phone, a side bar on a wide window (the stylesheet
//! decides which).

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::components::icons::{Icon, IconSvg};
use crate::components::outbox::OutboxBanner;
use crate::i18n::{Texts, use_texts};
use crate::session::{use_backend, use_inbox_refresh, use_session};

/// How often the bell asks for the unread count while the page is open.
const UNREAD_POLL: Duration = Duration::from_secs(30);

struct Tab {
    href: &'static str,
    icon: Icon,
    label: fn(&Texts) -> &'static str,
    testid: &'static str,
}

const TABS: [Tab; 5] = [
    Tab { href: "/", icon: Icon::Home, label: |t| t.tab_home, testid: "tab-home" },
    Tab { href: "/explore", icon: Icon::Explore, label: |t| t.tab_explore, testid: "tab-explore" },
    Tab { href: "/create", icon: Icon::Create, label: |t| t.tab_create, testid: "tab-create" },
    Tab { href: "/wallet", icon: Icon::Wallet, label: |t| t.tab_wallet, testid: "tab-wallet" },
    Tab { href: "/me", icon: Icon::Profile, label: |t| t.tab_profile, testid: "tab-profile" },
];

fn is_active(href: &str, path: &str) -> bool {
    if href == "/" {
        path == "/" || path.starts_with("/challenges/")
    } else {
        path == href || path.starts_with(&format!("{href}/"))
    }
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let session = use_session();
    let signed_in = Memo::new(move |_| session.me.with(|m| m.is_some()));
    view! {
        <div class="app" class:signed-in=move || signed_in.get()>
            <Show when=move || signed_in.get()>
                <TopBar/>
                <Tabs/>
            </Show>
            <main class="content" id="main">
                <Show when=move || signed_in.get()>
                    <OutboxBanner/>
                </Show>
                {children()}
            </main>
        </div>
    }
}

#[component]
fn TopBar() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let location = use_location();
    let refresh = use_inbox_refresh();
    let tick = RwSignal::new(0u32);
    let _ = set_interval_with_handle(move || tick.update(|n| *n = n.wrapping_add(1)), UNREAD_POLL);
    let unread = LocalResource::new(move || {
        tick.track();
        refresh.0.track();
        location.pathname.track();
        let backend = backend.clone();
        // No inbox on this server (yet) or a passing error: no badge rather than a wrong one.
        async move { backend.unread_count().await.map(|u| u.count).unwrap_or(0) }
    });
    let count = move || unread.get().unwrap_or(0);
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"N"</span>
                <span class="brand-name">{move || t.get().app_name}</span>
            </a>
            <a class="bell" href="/inbox" data-testid="bell"
                aria-label=move || format!("{} ({})", t.get().inbox_title, count())>
                <IconSvg icon=Icon::Bell/>
                {move || (count() > 0).then(|| view! {
                    <span class="bell-badge" data-testid="unread-badge">
                        {if count() > 99 { "99+".to_owned() } else { count().to_string() }}
                    </span>
                })}
            </a>
        </header>
    }
}

#[component]
fn Tabs() -> impl IntoView {
    let t = use_texts();
    let location = use_location();
    view! {
        <nav class="tabs" aria-label=move || t.get().nav_label>
            {TABS
                .iter()
                .map(|tab| {
                    let href = tab.href;
                    let label = tab.label;
                    let active = move || is_active(href, &location.pathname.get());
                    view! {
                        <a class="tab" class:active=active href=href data-testid=tab.testid
                            aria-current=move || active().then_some("page")>
                            <IconSvg icon=tab.icon/>
                            <span>{move || label(t.get())}</span>
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_light_up_for_their_screens() {
        assert!(is_active("/", "/"));
        assert!(is_active("/", "/challenges/123"));
        assert!(!is_active("/", "/wallet"));
        assert!(is_active("/wallet", "/wallet/charge/success"));
        assert!(!is_active("/wallet", "/walletx"));
    }
}
