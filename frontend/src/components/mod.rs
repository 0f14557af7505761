//! Pieces the screens share: the frame with tabs and bell, cards, form fields, the money confirmation, protected
//! photos, icons, the app's outbox banner and the loading/empty/error states.

pub mod card;
pub mod confirm;
pub mod field;
pub mod icons;
pub mod outbox;
pub mod photo;
pub mod reason;
pub mod shell;
pub mod states;
