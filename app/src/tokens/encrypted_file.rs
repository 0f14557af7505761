//! The refresh token in an encrypted file, for platforms (or machines) without an OS keyring.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use super::TokenError;

const KEY_FILE: &str = "token.key";
const TOKEN_FILE: &str = "refresh_token.enc";
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// The refresh token encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from a random per-install key
/// file; both files are created readable and writable by their owner only (0600 on Unix).
///
/// What this protects against: the token appearing in plain text anywhere — a copy of the token file alone (a bug
/// report attachment, a sync or backup tool that picks single files, a `grep` for tokens) is useless without the key
/// file; other OS users cannot read either file; and a token file that was altered or copied from another install
/// fails authentication and is treated as "signed out" instead of being sent.
///
/// What it does not protect against: anyone who can read the whole data folder as the same OS user (malware running
/// as that user, root, a full backup or image of the folder) has the key next to the token and can decrypt it. It is
/// not a substitute for an OS keyring, which is why the keyring is used wherever one exists. The server limits the
/// damage of a stolen copy: refresh tokens rotate on every use, and a spent one presented again revokes the whole
/// sign-in.
pub(super) struct EncryptedFile {
    cipher: Aes256Gcm,
    path: PathBuf,
    aad: Vec<u8>,
}

impl EncryptedFile {
    pub(super) fn open(data_dir: &Path, service: &str, account: &str) -> Result<EncryptedFile, TokenError> {
        fs::create_dir_all(data_dir)?;
        let secret = install_key(&data_dir.join(KEY_FILE))?;
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, &secret);
        let mut key = [0u8; 32];
        hk.expand(b"nene-app refresh token file v1", &mut key).map_err(|_| TokenError::Corrupt)?;
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| TokenError::Corrupt)?;
        Ok(EncryptedFile {
            cipher,
            path: data_dir.join(TOKEN_FILE),
            aad: format!("{service}/refresh-token:{account}").into_bytes(),
        })
    }

    pub(super) fn load(&self) -> Result<Option<String>, TokenError> {
        let data = match fs::read(&self.path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (version, rest) = data.split_first().ok_or(TokenError::Corrupt)?;
        if *version != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(TokenError::Corrupt);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &self.aad })
            .map_err(|_| TokenError::Corrupt)?;
        String::from_utf8(plain).map(Some).map_err(|_| TokenError::Corrupt)
    }

    pub(super) fn save(&self, token: &str) -> Result<(), TokenError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: token.as_bytes(), aad: &self.aad })
            .map_err(|_| TokenError::Corrupt)?;
        let mut data = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        data.push(FORMAT_V1);
        data.extend_from_slice(&nonce);
        data.extend_from_slice(&sealed);
        // Written beside and renamed over, so a crash never leaves half a token.
        let tmp = self.path.with_extension("tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = owner_only().open(&tmp)?;
        file.write_all(&data)?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    pub(super) fn clear(&self) -> Result<(), TokenError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Options that create a new file readable and writable by its owner only.
fn owner_only() -> fs::OpenOptions {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The install's random key, made on first use.
fn install_key(path: &Path) -> Result<[u8; 32], TokenError> {
    match fs::read(path) {
        Ok(bytes) => return bytes.try_into().map_err(|_| TokenError::Corrupt),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    match owner_only().open(path) {
        Ok(mut file) => {
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::read(path)?.try_into().map_err(|_| TokenError::Corrupt)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenStore;

    fn store(dir: &Path) -> TokenStore {
        TokenStore::encrypted_file(dir, "device-1").expect("store opens")
    }

    #[test]
    fn the_file_round_trips_and_never_holds_the_token_in_plain_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = store(dir.path());
        assert_eq!(s.load().expect("load"), None);
        s.save("refresh-abc-123").expect("save");
        assert_eq!(s.load().expect("load").as_deref(), Some("refresh-abc-123"));
        let raw = fs::read(dir.path().join(TOKEN_FILE)).expect("file");
        assert!(!raw.windows(b"refresh-abc-123".len()).any(|w| w == b"refresh-abc-123"));
        // A new process (same install) reads it back.
        assert_eq!(store(dir.path()).load().expect("load").as_deref(), Some("refresh-abc-123"));
        s.clear().expect("clear");
        assert_eq!(s.load().expect("load"), None);
        s.clear().expect("clearing twice is fine");
    }

    #[cfg(unix)]
    #[test]
    fn both_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        store(dir.path()).save("t").expect("save");
        for name in [KEY_FILE, TOKEN_FILE] {
            let mode = fs::metadata(dir.path().join(name)).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }

    #[test]
    fn a_changed_file_or_another_installs_key_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        store(dir.path()).save("secret-token").expect("save");
        let path = dir.path().join(TOKEN_FILE);
        let mut raw = fs::read(&path).expect("file");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        fs::write(&path, &raw).expect("write");
        assert!(matches!(store(dir.path()).load(), Err(TokenError::Corrupt)));

        // The token file of one install is useless under another install's key.
        let other = tempfile::tempdir().expect("temp dir");
        store(dir.path()).save("secret-token").expect("save");
        fs::copy(&path, other.path().join(TOKEN_FILE)).expect("copy");
        assert!(matches!(store(other.path()).load(), Err(TokenError::Corrupt)));
        // Nor for another account of the same install.
        let s = TokenStore::encrypted_file(dir.path(), "device-2").expect("store");
        assert!(matches!(s.load(), Err(TokenError::Corrupt)));
    }
}
