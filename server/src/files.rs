//! Where proof photos are kept: a content-addressed blob store. A blob's name is the lowercase hex SHA-256 of its
//! content, so storing the same photo again (a client retrying an upload) finds the blob already there instead of
//! keeping a second copy, and a name can never point at different content.
//!
//! [`FileStore`] is an enum rather than a trait: its only backend today is a folder under the data dir
//! ([`LocalFiles`]), and an enum keeps plain `async fn`s (no boxed futures, no `async-trait`), is `Clone`, and is
//! chosen once at start the same way [`crate::store::Db`] picks its engine. An S3-compatible bucket would be one more
//! variant with the same operations.
//!
//! Whether a blob may be deleted is not this module's business: [`crate::uploads`] records who refers to each one
//! and deletes a blob only with its last reference.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The name is not 64 lowercase hex characters. Names come from URLs, so this is refused before any path is
    /// built from it: nothing else can reach the file system.
    #[error("not a file name: names are 64 lowercase hex characters")]
    BadName,
    #[error("file store {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl FileError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        FileError::Io { path: path.display().to_string(), source }
    }
}

/// The lowercase hex SHA-256 of `bytes`: a blob's name.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_name(hash: &str) -> Result<(), FileError> {
    let ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok { Ok(()) } else { Err(FileError::BadName) }
}

/// The blob store the server was configured with.
#[derive(Clone, Debug)]
pub enum FileStore {
    Local(LocalFiles),
}

impl FileStore {
    /// Stores `bytes` and returns their name. Storing content that is already there changes nothing.
    pub async fn put(&self, bytes: &[u8]) -> Result<String, FileError> {
        match self {
            FileStore::Local(files) => files.put(bytes).await,
        }
    }

    /// The content stored under `hash`, or `None` when there is none.
    pub async fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, FileError> {
        match self {
            FileStore::Local(files) => files.get(hash).await,
        }
    }

    pub async fn exists(&self, hash: &str) -> Result<bool, FileError> {
        match self {
            FileStore::Local(files) => files.exists(hash).await,
        }
    }

    /// Deletes the content stored under `hash`; deleting what is not there is not an error.
    pub async fn delete(&self, hash: &str) -> Result<(), FileError> {
        match self {
            FileStore::Local(files) => files.delete(hash).await,
        }
    }

    /// Bytes still free for new content, when the store can tell.
    pub async fn available_bytes(&self) -> Result<Option<u64>, FileError> {
        match self {
            FileStore::Local(files) => files.available_bytes().await,
        }
    }
}

/// Blobs in a folder, at `root/aa/bb/<hash>` where `aa` and `bb` are the name's first two byte pairs: the fan-out
/// keeps any one directory small (65,536 leaf folders) however many photos there are.
#[derive(Clone, Debug)]
pub struct LocalFiles {
    root: PathBuf,
}

impl LocalFiles {
    /// Folders are created on the first write, so this touches nothing.
    pub fn new(root: PathBuf) -> Self {
        LocalFiles { root }
    }

    fn path_of(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[0..2]).join(&hash[2..4]).join(hash)
    }

    pub async fn put(&self, bytes: &[u8]) -> Result<String, FileError> {
        let hash = sha256_hex(bytes);
        let path = self.path_of(&hash);
        // Same name, same content: a retry finds its photo already stored and writes nothing.
        if tokio::fs::try_exists(&path).await.map_err(|e| FileError::io(&path, e))? {
            return Ok(hash);
        }
        // Writing, fsyncing and renaming are all blocking calls; one trip to the blocking pool for the lot costs a
        // copy of the bytes but far fewer thread hand-offs than `tokio::fs` doing each step separately.
        let bytes = bytes.to_vec();
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&target, &bytes))
            .await
            .map_err(|e| FileError::io(&path, std::io::Error::other(e)))??;
        tracing::debug!(hash = %hash, "stored a new file");
        Ok(hash)
    }

    pub async fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, FileError> {
        check_name(hash)?;
        let path = self.path_of(hash);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FileError::io(&path, e)),
        }
    }

    pub async fn exists(&self, hash: &str) -> Result<bool, FileError> {
        check_name(hash)?;
        let path = self.path_of(hash);
        tokio::fs::try_exists(&path).await.map_err(|e| FileError::io(&path, e))
    }

    pub async fn delete(&self, hash: &str) -> Result<(), FileError> {
        check_name(hash)?;
        let path = self.path_of(hash);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {
                tracing::debug!(hash = %hash, "deleted a file");
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FileError::io(&path, e)),
        }
    }

    /// Free bytes on the file system that holds (or will hold) the store: the folder itself, or before the first
    /// write its nearest existing parent. Space reserved for the superuser does not count, as the server does not
    /// run as one.
    pub async fn available_bytes(&self) -> Result<Option<u64>, FileError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || free_space(&root))
            .await
            .map_err(|e| FileError::io(&self.root, std::io::Error::other(e)))?
    }
}

#[cfg(unix)]
fn free_space(root: &Path) -> Result<Option<u64>, FileError> {
    let Some(existing) = root.ancestors().find(|p| p.exists()) else { return Ok(None) };
    let stats = rustix::fs::statvfs(existing).map_err(|e| FileError::io(existing, e.into()))?;
    Ok(Some(stats.f_bavail.saturating_mul(stats.f_frsize)))
}

/// Elsewhere the space is not known, and the free-space floor does not apply.
#[cfg(not(unix))]
fn free_space(_root: &Path) -> Result<Option<u64>, FileError> {
    Ok(None)
}

/// Writes `bytes` to `path` so that `path` is either absent or complete, never half-written: the content goes to a
/// temporary file in the same folder (a rename is only atomic within one file system), is fsynced, and is then
/// renamed into place. Two uploads of the same photo at once each write their own temporary file, and whichever
/// rename lands last replaces identical content.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let dir = path.parent().ok_or_else(|| FileError::io(path, std::io::Error::other("no parent folder")))?;
    std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
    // A leading dot and a suffix keep temporary names from ever passing `check_name`, so a leftover from a crash is
    // never served.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        if let Err(cleanup) = std::fs::remove_file(&tmp)
            && cleanup.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %tmp.display(), error = %cleanup, "could not remove a temporary file");
        }
        return Err(FileError::io(path, e));
    }
    // The rename itself lives in the folder: fsync the folder too, or a power cut could lose a photo whose upload
    // was already acknowledged.
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| FileError::io(dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &tempfile::TempDir) -> FileStore {
        FileStore::Local(LocalFiles::new(dir.path().join("files")))
    }

    /// Every regular file under `dir`, however deep.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() { pending.push(path) } else { found.push(path) }
            }
        }
        found
    }

    #[test]
    fn sha256_hex_is_lowercase_hex_of_the_content() {
        // The well-known digest of "abc".
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b"").len(), 64);
    }

    #[tokio::test]
    async fn put_then_get_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(&dir);
        let bytes = b"a photo, or something like one".to_vec();
        let hash = files.put(&bytes).await.unwrap();
        assert_eq!(hash, sha256_hex(&bytes));
        assert!(files.exists(&hash).await.unwrap());
        assert_eq!(files.get(&hash).await.unwrap(), Some(bytes));
    }

    #[tokio::test]
    async fn the_same_content_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(&dir);
        let first = files.put(b"twice").await.unwrap();
        let second = files.put(b"twice").await.unwrap();
        assert_eq!(first, second);
        let on_disk = files_under(dir.path());
        assert_eq!(on_disk.len(), 1, "{on_disk:?}");
        // Different content gets a different name and a second file.
        let other = files.put(b"once").await.unwrap();
        assert_ne!(other, first);
        assert_eq!(files_under(dir.path()).len(), 2);
    }

    #[tokio::test]
    async fn files_land_in_a_two_level_fan_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("files");
        let files = FileStore::Local(LocalFiles::new(root.clone()));
        let hash = files.put(b"where does it go").await.unwrap();
        let expected = root.join(&hash[0..2]).join(&hash[2..4]).join(&hash);
        assert_eq!(std::fs::read(&expected).unwrap(), b"where does it go");
        assert_eq!(files_under(dir.path()), vec![expected]);
    }

    #[tokio::test]
    async fn delete_removes_only_that_content_and_forgives_absence() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(&dir);
        let gone = files.put(b"to delete").await.unwrap();
        let kept = files.put(b"to keep").await.unwrap();
        files.delete(&gone).await.unwrap();
        assert!(!files.exists(&gone).await.unwrap());
        assert!(files.exists(&kept).await.unwrap());
        files.delete(&gone).await.unwrap();
        assert!(matches!(files.delete("../etc/passwd").await, Err(FileError::BadName)));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn free_space_is_known_before_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let free = store(&dir).available_bytes().await.unwrap().unwrap();
        assert!(free > 0);
    }

    #[tokio::test]
    async fn unknown_names_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(&dir);
        let unknown = sha256_hex(b"never stored");
        assert_eq!(files.get(&unknown).await.unwrap(), None);
        assert!(!files.exists(&unknown).await.unwrap());
    }

    #[tokio::test]
    async fn names_that_are_not_hashes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(&dir);
        let hash = files.put(b"real").await.unwrap();
        let bad = [
            "../etc/passwd".to_owned(),
            hash.to_uppercase(),
            hash[..63].to_owned(),
            format!("{hash}0"),
            String::new(),
            format!("../{}", &hash[3..]),
            // 64 characters, but not all hex.
            format!("{}g", &hash[..63]),
        ];
        for name in &bad {
            assert!(matches!(files.get(name).await, Err(FileError::BadName)), "get {name:?}");
            assert!(matches!(files.exists(name).await, Err(FileError::BadName)), "exists {name:?}");
        }
    }
}
