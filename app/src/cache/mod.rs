//! The offline cache: one SQLite file in the app's data folder holding what the person last saw (challenges, wallet,
//! notifications), the pull cursor, and the outbox of actions not yet confirmed by the server.
//!
//! The UI only reads it (the `pub` methods); only the sync engine writes it (the `pub(crate)` ones), so what the
//! screens show is always either the server's last word or a queued action marked as pending.

mod challenges;
mod meta;
mod notifications;
mod outbox;
mod photos;
mod pull;
mod schema;
mod wallet;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use challenges::CachedChallenge;
pub(crate) use outbox::NewIntent;
pub use outbox::{IntentState, OutboxIntent};
pub use pull::PullApplied;
pub use wallet::WalletView;

/// The cache file's name in the data folder.
pub const FILE_NAME: &str = "cache.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("the offline cache failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the offline cache cannot be brought up to date: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("the offline cache holds a row this version cannot read: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the offline cache folder cannot be used: {0}")]
    Io(#[from] std::io::Error),
    #[error("the offline cache was left locked by a crashed thread")]
    Poisoned,
}

pub type CacheResult<T> = Result<T, CacheError>;

/// A handle on the cache file. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Cache {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cache")
    }
}

impl Cache {
    /// Opens (creating and migrating when needed) the cache in `data_dir`.
    pub fn open(data_dir: &Path) -> CacheResult<Cache> {
        std::fs::create_dir_all(data_dir)?;
        let mut conn = Connection::open(data_dir.join(FILE_NAME))?;
        // WAL keeps reads from waiting on the engine's writes; FULL sync because an intent saved before its first
        // send must survive a power cut, or it could be lost after the person saw it queued.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrations().to_latest(&mut conn)?;
        let cache = Cache { conn: Arc::new(Mutex::new(conn)) };
        cache.write(|tx| meta::ensure_device_id(tx))?;
        Ok(cache)
    }

    fn lock(&self) -> CacheResult<MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| CacheError::Poisoned)
    }

    /// Runs `f` on the connection (reads).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> CacheResult<T>) -> CacheResult<T> {
        let conn = self.lock()?;
        f(&conn)
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`), committed when it succeeds.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> CacheResult<T>) -> CacheResult<T> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// This install's id, made when the cache was created; the server orders a device's intents by it.
    pub fn device_id(&self) -> CacheResult<String> {
        self.read(|c| meta::get(c, meta::DEVICE_ID)).map(|v| v.unwrap_or_default())
    }

    /// The server address chosen on the settings screen, if any.
    pub fn server_url_setting(&self) -> CacheResult<Option<String>> {
        self.read(|c| meta::get(c, meta::SERVER_URL))
    }

    pub(crate) fn set_server_url_setting(&self, url: Option<&str>) -> CacheResult<()> {
        self.write(|tx| match url {
            Some(u) => meta::set(tx, meta::SERVER_URL, u),
            None => meta::delete(tx, meta::SERVER_URL),
        })
    }

    /// The signed-in person as the server last described them.
    pub fn me(&self) -> CacheResult<Option<nene_shared::users::Me>> {
        self.read(|c| meta::get_json(c, meta::ME))
    }

    /// Records who is signed in. When it is someone else than before, the previous person's data (and their
    /// unsent actions) are dropped first, so one person never sees another's.
    pub(crate) fn set_me(&self, me: &nene_shared::users::Me) -> CacheResult<()> {
        self.write(|tx| {
            let before: Option<nene_shared::users::Me> = meta::get_json(tx, meta::ME)?;
            if before.as_ref().is_some_and(|b| b.id != me.id) {
                wipe_person(tx)?;
            }
            meta::set_json(tx, meta::ME, me)
        })
    }

    /// Forgets the signed-in person and everything of theirs (sign-out).
    pub(crate) fn forget_person(&self) -> CacheResult<()> {
        self.write(|tx| {
            wipe_person(tx)?;
            meta::delete(tx, meta::ME)
        })
    }

    /// The opaque pull cursor, saved with the rows it covers.
    pub fn cursor(&self) -> CacheResult<Option<String>> {
        self.read(|c| meta::get(c, meta::CURSOR))
    }
}

fn wipe_person(tx: &Transaction<'_>) -> CacheResult<()> {
    tx.execute_batch(
        "DELETE FROM challenges; DELETE FROM wallet; DELETE FROM wallet_entries; DELETE FROM notifications;
         DELETE FROM outbox; DELETE FROM photos;",
    )?;
    meta::delete(tx, meta::CURSOR)
}

/// Milliseconds since the Unix epoch, as the cache stores times.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
