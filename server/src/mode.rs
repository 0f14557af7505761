//! Which world a database belongs to. Dev mode seeds demo accounts with a published password, mints points from the
//! reserve and lets anyone move the clock; a production database holds people's money. So each database records the
//! mode it was created in (at its first start, or for databases older than the record, by the migration that
//! introduced it) and every start checks it: a dev server never writes its demo data into a real database, and a
//! production server never serves one with known passwords and minted points.

use crate::store::{self, Db, StoreError};

/// The `server_settings` key holding the mode (the migration `0017_database_mode` writes the same key).
pub const MODE_KEY: &str = "database_mode";

/// The two modes a server runs in, and a database is made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Dev,
    Production,
}

impl Mode {
    pub fn of(dev: bool) -> Mode {
        if dev { Mode::Dev } else { Mode::Production }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Production => "production",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        match s {
            "dev" => Some(Mode::Dev),
            "production" => Some(Mode::Production),
            _ => None,
        }
    }
}

/// Why a server may not open a database.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error(
        "this database was created by a production server and dev mode never opens one (it seeds demo accounts, \
         mints points and moves the clock); dev mode keeps its own data in ./data-dev unless NENE_DATA_DIR or \
         DATABASE_URL points elsewhere"
    )]
    ProductionDatabase,
    #[error(
        "this database was created in dev mode (demo accounts with a published password, minted points) and is \
         never served in production; point NENE_DATA_DIR or DATABASE_URL at the production database"
    )]
    DevDatabase,
    #[error("this database records an unknown mode `{0}` under the setting {MODE_KEY}")]
    Unknown(String),
    #[error("could not read the database's mode: {0}")]
    Store(#[from] StoreError),
}

/// Records `wanted` as the database's mode when it has none yet (a new database), then checks that the mode on
/// record is `wanted`. Servers starting together on a new PostgreSQL database agree on one record: the first
/// insert wins and the others read it.
pub async fn check(db: &Db, wanted: Mode) -> Result<(), ModeError> {
    let mut tx = db.begin_read().await?;
    let mut recorded = store::settings::get(&mut tx, MODE_KEY).await?;
    drop(tx);
    if recorded.is_none() {
        let mut tx = db.begin_write().await?;
        store::settings::put_if_absent(&mut tx, MODE_KEY, wanted.as_str()).await?;
        recorded = store::settings::get(&mut tx, MODE_KEY).await?;
        tx.commit().await?;
        if recorded.as_deref() == Some(wanted.as_str()) {
            tracing::info!(mode = wanted.as_str(), "new database: its mode is recorded");
        }
    }
    let recorded = recorded.unwrap_or_default();
    match (Mode::parse(&recorded), wanted) {
        (Some(on_record), wanted) if on_record == wanted => Ok(()),
        (Some(Mode::Production), Mode::Dev) => Err(ModeError::ProductionDatabase),
        (Some(Mode::Dev), Mode::Production) => Err(ModeError::DevDatabase),
        _ => Err(ModeError::Unknown(recorded)),
    }
}
