//! All SQL lives here, and this is the one place that knows SQLite from PostgreSQL.
//!
//! Most statements are written once in the SQL both engines accept (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`), and [`on_conn!`] runs the same statement on whichever connection the transaction holds. Where the
//! engines differ (row locks, upserts with engine-specific syntax) a function branches on [`Tx::is_postgres`].
//!
//! Correctness never rests on in-process locks: writes are transactions, uniqueness is a constraint, and scarce
//! things are taken with conditional updates, so the same code is right with several server instances on PostgreSQL.
//! On SQLite every write transaction starts with `BEGIN IMMEDIATE` on a single writer connection, so writers queue
//! in the pool instead of failing with `SQLITE_BUSY` when a deferred transaction tries to upgrade.

mod bulk;
pub mod challenges;
pub mod idempotency;
pub mod ledger;
pub mod login_failures;
pub mod moderation;
pub mod notifications;
pub mod outbox;
pub mod payments;
pub mod settings;
pub mod signup_attempts;
pub mod sync;
pub mod tokens;
pub mod uploads;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::config::DatabaseConfig;

/// Runs one expression against the transaction's connection, compiled once per engine.
///
/// `on_conn!(tx, c => sqlx::query("…").bind(x).execute(&mut *c).await)`
#[macro_export]
macro_rules! on_conn {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

impl StoreError {
    /// The violated unique constraint's description, when that is what went wrong. PostgreSQL names the
    /// constraint; SQLite names the columns (`UNIQUE constraint failed: users.email`). Callers match on a column
    /// or index name that appears in both.
    pub fn unique_violation(&self) -> Option<String> {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Some(e.constraint().map(str::to_owned).unwrap_or_else(|| e.message().to_owned()))
            }
            _ => None,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database the server talks to, chosen once at start.
#[derive(Clone, Debug)]
pub enum Db {
    /// One writer connection (SQLite allows one writer at a time anyway) and a pool of readers.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        /// Runs the WAL checkpoints in the background.
        checkpoint: SqlitePool,
        writes: WriteCount,
    },
    Postgres {
        pool: PgPool,
        writes: WriteCount,
    },
}

/// How many write transactions a [`Db`] (and its clones) has begun. A write transaction is never free (on SQLite it
/// holds the one writer; on either engine it ends in a commit), so background steps that find nothing to do must not
/// open one; this count is how tests and operators see that they do not.
#[derive(Clone, Debug, Default)]
pub struct WriteCount(Arc<AtomicU64>);

/// A database transaction on either engine.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Rolls back now. Dropping a transaction also rolls it back, but only once its connection is next used or
    /// checked back into the pool, which may come after the caller has answered; until then its row locks hold.
    pub async fn rollback(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Opens (creating and migrating when needed) the configured database.
    pub async fn connect(config: &DatabaseConfig, max_connections: u32) -> StoreResult<Db> {
        match config {
            DatabaseConfig::Sqlite { path } => Self::connect_sqlite(path, max_connections).await,
            DatabaseConfig::Postgres { url } => Self::connect_postgres(url, max_connections).await,
        }
    }

    async fn connect_sqlite(path: &Path, max_connections: u32) -> StoreResult<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
        }
        // synchronous=FULL: a confirmed payment must survive a power cut; WAL keeps readers off the writer's back.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // The writer's page cache holds what one large transaction (a settlement chunk: thousands of rows and their
        // indexes) touches, so it is not spilled to the WAL half-way; savepoints keep their undo pages in memory
        // rather than in a temporary file.
        //
        // Checkpoints (copying the WAL back into the database file, with its fsyncs) are taken off the writer: a
        // connection of their own runs them in the background (see [`checkpoints`]), so a commit no longer pays
        // for one whenever the WAL passes 4 MB. The writer still checkpoints should the WAL reach 64 MB, in case
        // the background falls behind.
        let writer = options
            .clone()
            .pragma("cache_size", "-16384")
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "16384");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(writer)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&write).await?;
        let read =
            SqlitePoolOptions::new().max_connections(max_connections.max(2)).connect_with(options.clone()).await?;
        let checkpoint = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
        tokio::spawn(checkpoints(checkpoint.clone()));
        Ok(Db::Sqlite { write, read, checkpoint, writes: WriteCount::default() })
    }

    async fn connect_postgres(url: &str, max_connections: u32) -> StoreResult<Db> {
        // No JIT: the server's statements run in milliseconds, and compiling one whose estimated cost crosses
        // `jit_above_cost` (settlement's multi-row writes and reads do) takes tens of milliseconds. Measured:
        // settlement batches went from 479 to 419 ms.
        let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        // Several instances may start at once; sqlx's migrator takes an advisory lock so only one migrates.
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Db::Postgres { pool, writes: WriteCount::default() })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    /// A transaction that will write. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`).
    pub async fn begin_write(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite { write, writes, .. } => {
                writes.0.fetch_add(1, Ordering::Relaxed);
                Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
            }
            Db::Postgres { pool, writes } => {
                writes.0.fetch_add(1, Ordering::Relaxed);
                Tx::Postgres(pool.begin().await?)
            }
        })
    }

    /// Write transactions begun so far through this handle and its clones (see [`WriteCount`]).
    pub fn write_transactions_begun(&self) -> u64 {
        match self {
            Db::Sqlite { writes, .. } | Db::Postgres { writes, .. } => writes.0.load(Ordering::Relaxed),
        }
    }

    /// A transaction that only reads: a consistent snapshot, never blocking the writer.
    pub async fn begin_read(&self) -> StoreResult<Tx> {
        Ok(match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Db::Postgres { pool, .. } => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Answers when the database is reachable (readiness probe).
    pub async fn ping(&self) -> StoreResult<()> {
        match self {
            Db::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await?.rows_affected(),
            Db::Postgres { pool, .. } => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
        };
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { write, read, checkpoint, .. } => {
                checkpoint.close().await;
                read.close().await;
                write.close().await;
            }
            Db::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// How often the background checkpoint runs. A passive checkpoint copies what it can without waiting for readers
/// or the writer; with nothing new in the WAL it costs next to nothing.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Keeps the SQLite WAL short from a connection of its own, until the pool is closed.
async fn checkpoints(pool: SqlitePool) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                break;
            }
            tracing::debug!(error = %e, "background checkpoint failed; the next one will try again");
        }
    }
}

/// The `i`-th parameter (from 1) of a statement whose parameters all come from these helpers. PostgreSQL numbers
/// them (`$i`); SQLite gets anonymous `?`, bound in order of appearance: with thousands of parameters, numbered
/// names make every bind look its name up in a list, which costs more than the statement itself.
pub(crate) fn param(postgres: bool, i: usize) -> String {
    if postgres { format!("${i}") } else { "?".to_owned() }
}

/// `$first, …` (n parameters) for an IN list; see [`param`].
pub(crate) fn param_list(postgres: bool, n: usize, first: usize) -> String {
    (first..first + n).map(|i| param(postgres, i)).collect::<Vec<_>>().join(", ")
}

/// `($1, $2), ($3, $4)…`: the parameters of a multi-row statement with `rows` rows of `cols` values, numbered from
/// `first`; see [`param`]. Set-based writes (settlement) send one statement per kind of row instead of one per row.
pub(crate) fn value_rows(postgres: bool, rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 7);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        out.push_str(&param_list(postgres, cols, first + r * cols));
        out.push(')');
    }
    out
}

/// The rows of a query whose only parameters are an IN list of `ids`: `sql` gets what goes inside `IN (…)` and
/// returns the statement, and the rows come back in order.
///
/// On PostgreSQL the list is one array parameter (`IN (SELECT unnest($1))`), so the statement's text is the same
/// whatever the number of ids and is prepared once per connection; a list of placeholders would make every length a
/// statement of its own, which under varying batch sizes keeps the connection's statement cache preparing. SQLite
/// prepares in-process at little cost and gets the placeholders, one chunk of ids per statement.
pub(crate) async fn rows_for_ids<K, T>(tx: &mut Tx, ids: &[K], sql: impl Fn(&str) -> String) -> StoreResult<Vec<T>>
where
    K: Sync
        + Clone
        + for<'q> sqlx::Encode<'q, Sqlite>
        + sqlx::Type<Sqlite>
        + for<'q> sqlx::Encode<'q, Postgres>
        + sqlx::Type<Postgres>
        + sqlx::postgres::PgHasArrayType,
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Postgres(c) => {
            let sql = sql("SELECT unnest($1)");
            Ok(sqlx::query_as::<_, T>(&sql).bind(ids.to_vec()).fetch_all(&mut **c).await?)
        }
        Tx::Sqlite(c) => {
            let mut out = Vec::new();
            for part in ids.chunks(rows_per_statement(1)) {
                let sql = sql(&param_list(false, part.len(), 1));
                let mut q = sqlx::query_as::<_, T>(&sql);
                for id in part {
                    q = q.bind(id);
                }
                out.extend(q.fetch_all(&mut **c).await?);
            }
            Ok(out)
        }
    }
}

/// How many rows of `cols` values one statement may carry. Both engines cap the parameters of a statement (SQLite at
/// 32,766, PostgreSQL at 65,535); staying well below keeps every statement valid on both.
pub(crate) fn rows_per_statement(cols: usize) -> usize {
    (20_000 / cols.max(1)).max(1)
}

/// Times are stored as milliseconds since the Unix epoch in both engines, so comparisons and ordering behave the
/// same everywhere.
pub fn to_millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
