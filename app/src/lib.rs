//! The NeNe Challenge app ("my money, your money"): the offline cache and the sync engine, usable without any UI,
//! and (with the `shell` feature) the Tauri 2 desktop/mobile shell around the web UI.
//!
//! The screens read only from the [`Cache`]; the [`Engine`] is the only writer. Actions taken offline (join,
//! leave, proof) are queued as intents, shown as pending, and sent when the server can be reached; the server
//! applies each at most once and answers each.

pub mod api;
mod backoff;
pub mod bridge;
pub mod cache;
pub mod engine;
pub mod error;
mod passthrough;
mod session;
#[cfg(feature = "shell")]
pub mod shell;
pub mod tokens;

pub use cache::{Cache, CachedChallenge, IntentState, OutboxIntent, PullApplied, WalletView};
pub use engine::{Engine, PushSummary, SyncSummary, TokenPolicy};
pub use error::{AppError, AppResult};
pub use passthrough::RawAnswer;
