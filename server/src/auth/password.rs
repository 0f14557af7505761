//! Password hashing with argon2id (the crate's defaults follow OWASP's minimum: 19 MiB, 2 passes). Hashing is
//! CPU-bound for tens of milliseconds, so it runs on the blocking pool, never on the async workers, and at most
//! one hash per core runs at once: a burst of sign-ins waits its turn instead of taking every blocking thread
//! (512 by default, each with 19 MiB).

use std::sync::atomic::{AtomicU64, Ordering};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the hashing queue is closed")]
    Closed,
}

/// Hashes and checks passwords, a bounded number at a time.
#[derive(Debug)]
pub struct Passwords {
    permits: Semaphore,
    concurrency: usize,
    verifications: AtomicU64,
}

impl Passwords {
    /// At most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Passwords { permits: Semaphore::new(concurrency), concurrency, verifications: AtomicU64::new(0) }
    }

    /// One hash per core of this machine.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Password checks run so far (each one a full argon2 hash): what the sign-in limits are meant to bound.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let _permit = self.permits.acquire().await.map_err(|_| PasswordError::Closed)?;
        metrics::counter!("password_hashes_total", "kind" => "hash").increment(1);
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| PasswordError::Hash(e.to_string()))
        })
        .await?
    }

    /// Checks a password against a stored hash. With no stored hash (unknown account) it still spends the time of
    /// a real check, so response times do not reveal which emails have accounts.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, PasswordError> {
        let _permit = self.permits.acquire().await.map_err(|_| PasswordError::Closed)?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("password_hashes_total", "kind" => "verify").increment(1);
        tokio::task::spawn_blocking(move || {
            let argon = Argon2::default();
            match stored {
                Some(stored) => {
                    let parsed = PasswordHash::new(&stored).map_err(|e| PasswordError::Hash(e.to_string()))?;
                    Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok())
                }
                None => {
                    let salt = SaltString::generate(&mut OsRng);
                    let _ = argon.hash_password(password.as_bytes(), &salt);
                    Ok(false)
                }
            }
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password() {
        let p = Passwords::new(2);
        let h = p.hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse".into(), Some(h.clone())).await.unwrap());
        assert!(!p.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!p.verify("anything".into(), None).await.unwrap());
        assert_eq!(p.verifications(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_allowed() {
        let p = Arc::new(Passwords::new(1));
        // Holding the only permit, nothing else may hash: a check waits until it is given back.
        let held = p.permits.acquire().await.unwrap();
        let waiting = tokio::spawn({
            let p = Arc::clone(&p);
            async move { p.verify("x".into(), None).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(p.verifications(), 0);
        drop(held);
        assert!(!waiting.await.unwrap().unwrap());
    }
}
