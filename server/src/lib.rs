//! The NeNe Challenge server: the authority for accounts, money, challenges and notifications.
//!
//! `main.rs` only parses the command line; [`app::Application`] builds and serves the whole thing from a
//! [`config::Config`], which is also how the end-to-end tests start it.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod challenges;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cursor;
pub mod dev;
pub mod error;
pub mod files;
pub mod http;
pub mod inbox;
pub mod integrations;
pub mod jobs;
pub mod ledger;
pub mod mode;
pub mod notify;
pub mod payments;
pub mod photos;
pub mod push;
pub mod sandbox;
pub mod store;
pub mod supervisor;
pub mod sync;
pub mod telemetry;
pub mod uploads;
pub mod wallet;

pub use app::{AppState, Application};
pub use config::Config;
