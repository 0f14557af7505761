//! The refresh token in the OS keyring (through the `keyring` crate), on the platforms where keyring 3 has a real
//! store. Elsewhere (Android) an [`Entry`] can never exist, so the encrypted file is used.

use super::TokenError;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd"
))]
mod imp {
    use super::TokenError;

    pub struct Entry(keyring::Entry);

    impl Entry {
        /// The entry for `account` when a keyring answers here. A working keyring answers `NoEntry` for an entry
        /// that does not exist yet; any other failure (no D-Bus session, no Secret Service, a locked store) means
        /// there is no usable keyring.
        pub fn find(service: &str, account: &str) -> Option<Entry> {
            let entry = keyring::Entry::new(service, &format!("refresh-token:{account}")).ok()?;
            match entry.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) => Some(Entry(entry)),
                Err(e) => {
                    tracing::info!(error = %e, "no usable OS keyring; the refresh token goes to an encrypted file");
                    None
                }
            }
        }

        pub fn load(&self) -> Result<Option<String>, TokenError> {
            match self.0.get_password() {
                Ok(token) => Ok(Some(token)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(TokenError::Keyring(e.to_string())),
            }
        }

        pub fn save(&self, token: &str) -> Result<(), TokenError> {
            self.0.set_password(token).map_err(|e| TokenError::Keyring(e.to_string()))
        }

        pub fn clear(&self) -> Result<(), TokenError> {
            match self.0.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(TokenError::Keyring(e.to_string())),
            }
        }
    }
}

#[cfg(not(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "windows",
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd"
)))]
mod imp {
    use super::TokenError;

    /// No keyring on this platform: this type has no values.
    pub enum Entry {}

    impl Entry {
        pub fn find(_service: &str, _account: &str) -> Option<Entry> {
            None
        }

        pub fn load(&self) -> Result<Option<String>, TokenError> {
            match *self {}
        }

        pub fn save(&self, _token: &str) -> Result<(), TokenError> {
            match *self {}
        }

        pub fn clear(&self) -> Result<(), TokenError> {
            match *self {}
        }
    }
}

pub use imp::Entry;
