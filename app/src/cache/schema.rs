//! The cache's schema, as numbered migrations (kept in SQLite's `user_version`). Add a new step at the end; never
//! edit one that has shipped.

use rusqlite_migration::{M, Migrations};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        r#"
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        -- A challenge the person takes part in (or just left), as the server last sent it.
        CREATE TABLE challenges (
            id         TEXT PRIMARY KEY,
            version    INTEGER NOT NULL,
            joined     INTEGER NOT NULL,
            snapshot   TEXT NOT NULL,   -- ChallengeSnapshot as JSON
            updated_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE wallet (
            id              INTEGER PRIMARY KEY CHECK (id = 1),
            balance         INTEGER NOT NULL,
            refundable_cash INTEGER NOT NULL,
            updated_at      INTEGER NOT NULL
        ) STRICT;

        -- Numbered 1, 2, 3… per wallet by the server.
        CREATE TABLE wallet_entries (
            seq   INTEGER PRIMARY KEY,
            entry TEXT NOT NULL         -- WalletEntry as JSON
        ) STRICT;

        -- Numbered per person by the server. `announced`: shown once as a desktop notification.
        CREATE TABLE notifications (
            seq          INTEGER PRIMARY KEY,
            id           TEXT NOT NULL UNIQUE,
            notification TEXT NOT NULL, -- Notification as JSON
            announced    INTEGER NOT NULL DEFAULT 0
        ) STRICT;

        -- Actions taken on this device, saved before their first send. `id` (a UUIDv7) is the server's idempotency
        -- key; `seq` the device's order.
        CREATE TABLE outbox (
            id           TEXT PRIMARY KEY,
            seq          INTEGER NOT NULL UNIQUE,
            kind         TEXT NOT NULL,
            body         TEXT NOT NULL,
            challenge_id TEXT,
            amount       INTEGER,       -- points this moves for the person when known (a join's stake: negative)
            photo_hash   TEXT,
            status       TEXT NOT NULL CHECK (status IN ('PENDING', 'APPLIED', 'REJECTED')),
            code         TEXT,
            message      TEXT,
            attempts     INTEGER NOT NULL DEFAULT 0,
            last_error   TEXT,
            created_at   INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX outbox_by_status ON outbox (status, seq);

        -- Proof photos waiting to be uploaded, by content hash (lowercase hex SHA-256).
        CREATE TABLE photos (
            hash       TEXT PRIMARY KEY,
            bytes      BLOB NOT NULL,
            uploaded   INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
        ) STRICT;
        "#,
    )])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
