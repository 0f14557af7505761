//! Credentials and tokens: password hashing, JWT access tokens, opaque refresh tokens, the signing secret.

pub mod password;
pub mod secret;
pub mod tokens;
