//! Words on screen: one catalogue per language ([`ko`] first, [`en`] as the switch), both filling the same
//! [`Texts`], so a missing word is a compile error rather than a blank. Nothing on screen is written inline.
//!
//! The chosen language is kept in `localStorage` and set on `<html lang>`; every text is read through the
//! [`use_texts`] signal, so switching re-renders the words in place.

mod en;
mod ko;
mod texts;

use leptos::prelude::*;
pub use texts::Texts;

const STORAGE_KEY: &str = "nene.lang";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Ko,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ko, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ko => &ko::KO,
            Lang::En => &en::EN,
        }
    }
}

/// The language in use, shared through context.
#[derive(Clone, Copy)]
pub struct I18n {
    pub lang: RwSignal<Lang>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Reads the saved language (Korean when none) and keeps `<html lang>` and the saved choice in step with it.
pub fn provide_i18n() -> I18n {
    let saved = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten()).and_then(|c| Lang::from_code(&c));
    let i18n = I18n { lang: RwSignal::new(saved.unwrap_or(Lang::Ko)) };
    Effect::new(move |_| {
        let lang = i18n.lang.get();
        if let Some(s) = storage() {
            let _ = s.set_item(STORAGE_KEY, lang.code());
        }
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute("lang", lang.code());
        }
    });
    provide_context(i18n);
    i18n
}

pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// The current catalogue, as a signal: read it inside a reactive closure (`move || t.get().home_title`).
pub fn use_texts() -> Signal<&'static Texts> {
    let i18n = use_i18n();
    Signal::derive(move || i18n.lang.get().texts())
}

/// Fills `{name}` placeholders of a catalogue template.
pub fn fill(template: &str, args: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled() {
        assert_eq!(fill("{k}명 중 {n}명", &[("k", "8".into()), ("n", "10".into())]), "8명 중 10명");
    }

    #[test]
    fn languages_round_trip_their_codes() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
    }
}
