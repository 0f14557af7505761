//! Types shared by the NeNe Challenge server, the web UI and the app.
//!
//! Every HTTP body and every app command speaks in these types, so the three sides cannot drift apart. The crate
//! builds for `wasm32-unknown-unknown` as well as natively: it depends on no async runtime, database or HTTP stack.
//! Server-only derives (OpenAPI schemas) sit behind the `openapi` feature.

pub mod auth;
pub mod challenges;
pub mod dev;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod moderation;
pub mod money;
pub mod notifications;
pub mod ops;
pub mod page;
pub mod payments;
pub mod sync;
pub mod users;
pub mod validate;

pub use error::{ErrorBody, ErrorCode, FieldCode};
pub use ids::UserId;
pub use money::Points;
