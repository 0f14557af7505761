//! Clients for the outside services the server depends on. Each speaks its provider's documented protocol and sorts
//! every failure into the outcomes its caller has to treat differently (refused, maybe done, surely not done).

pub mod fcm;
pub mod toss;

/// Installs the process's TLS crypto provider (aws-lc-rs) for every outgoing HTTPS client. reqwest is built
/// without a default provider so that the whole process shares one crypto stack; calling this again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
