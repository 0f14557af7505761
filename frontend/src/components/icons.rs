//! Line icons for the navigation and the bell, drawn inline (24×24, stroked with the text colour).

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    Home,
    Explore,
    Create,
    Wallet,
    Profile,
    Bell,
    Back,
}

impl Icon {
    fn paths(self) -> &'static [&'static str] {
        match self {
            Icon::Home => &["M3 11.5 12 4l9 7.5", "M5.5 9.5V20h13V9.5", "M10 20v-5.5h4V20"],
            Icon::Explore => &["M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13z", "M15.5 15.5 20 20"],
            Icon::Create => &["M12 3.5a8.5 8.5 0 1 0 0 17 8.5 8.5 0 0 0 0-17z", "M12 8v8", "M8 12h8"],
            Icon::Wallet => &[
                "M4 7.5h14.5a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 4 18V7.5z",
                "M4 7.5 15.5 4v3.5",
                "M16 13.5h1",
            ],
            Icon::Profile => &["M12 4a4 4 0 1 0 0 8 4 4 0 0 0 0-8z", "M4.5 20c1-3.8 4-5.5 7.5-5.5s6.5 1.7 7.5 5.5"],
            Icon::Bell => &["M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15z", "M10 20.5a2.2 2.2 0 0 0 4 0"],
            Icon::Back => &["M15 5l-7 7 7 7"],
        }
    }
}

#[component]
pub fn IconSvg(icon: Icon) -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8"
            stroke-linecap="round" stroke-linejoin="round">
            {icon.paths().iter().map(|d| view! { <path d=*d/> }).collect_view()}
        </svg>
    }
}
