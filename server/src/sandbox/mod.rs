//! Stand-ins for outside services that speak their documented protocols, so dev mode runs without provider accounts
//! and tests exercise the production clients over real HTTP, faults included.

pub mod fcm;
pub mod toss;
