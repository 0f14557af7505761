//! Where the app keeps its refresh token between runs: the OS keyring where there is one (macOS/iOS Keychain,
//! Windows Credential Manager, the Secret Service on Linux desktops), else an encrypted file in the app's data folder
//! (Android, and Linux machines without a Secret Service such as CI). The access token is never stored: it lives in
//! memory and is renewed from the refresh token.

mod encrypted_file;
mod os_keyring;

use std::path::Path;
use std::sync::Arc;

use encrypted_file::EncryptedFile;

/// The keyring service name (and part of the file store's associated data), so this app's entries are easy to find.
const SERVICE: &str = "app.nene.challenge";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token file cannot be used: {0}")]
    Io(#[from] std::io::Error),
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    #[error("the stored token cannot be decrypted (changed or made by another install)")]
    Corrupt,
}

/// The refresh token's home. Cheap to clone. Its methods block (a keyring call may go over D-Bus): call them from a
/// blocking thread in async code.
#[derive(Clone)]
pub struct TokenStore(Arc<Backend>);

enum Backend {
    Keyring(os_keyring::Entry),
    // Boxed: the cipher's key schedule is a kilobyte, the keyring entry a pointer or two.
    File(Box<EncryptedFile>),
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenStore({})", self.kind())
    }
}

impl TokenStore {
    /// The OS keyring when it answers, else the encrypted file in `data_dir`. `account` tells installs apart (the
    /// device id), so two copies of the app on one machine never share a token. `NENE_APP_TOKEN_STORE=file` forces
    /// the file.
    pub fn open(data_dir: &Path, account: &str) -> Result<TokenStore, TokenError> {
        let forced_file = std::env::var("NENE_APP_TOKEN_STORE").is_ok_and(|v| v == "file");
        if !forced_file && let Some(entry) = os_keyring::Entry::find(SERVICE, account) {
            return Ok(TokenStore(Arc::new(Backend::Keyring(entry))));
        }
        Self::encrypted_file(data_dir, account)
    }

    /// Always the encrypted file (tests, and platforms without a keyring).
    pub fn encrypted_file(data_dir: &Path, account: &str) -> Result<TokenStore, TokenError> {
        Ok(TokenStore(Arc::new(Backend::File(Box::new(EncryptedFile::open(data_dir, SERVICE, account)?)))))
    }

    /// `keyring` or `encrypted-file`, for the settings screen and logs.
    pub fn kind(&self) -> &'static str {
        match &*self.0 {
            Backend::Keyring(_) => "keyring",
            Backend::File(_) => "encrypted-file",
        }
    }

    pub fn load(&self) -> Result<Option<String>, TokenError> {
        match &*self.0 {
            Backend::Keyring(entry) => entry.load(),
            Backend::File(file) => file.load(),
        }
    }

    pub fn save(&self, token: &str) -> Result<(), TokenError> {
        match &*self.0 {
            Backend::Keyring(entry) => entry.save(token),
            Backend::File(file) => file.save(token),
        }
    }

    pub fn clear(&self) -> Result<(), TokenError> {
        match &*self.0 {
            Backend::Keyring(entry) => entry.clear(),
            Backend::File(file) => file.clear(),
        }
    }
}
