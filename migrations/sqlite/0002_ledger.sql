-- The points ledger: double-entry, immutable, with FIFO lots.
-- Every movement is one transfer between two accounts and two entries (one negative, one positive). Entries and
-- transfers are never updated or deleted; a mistake is corrected by a new transfer.

CREATE TABLE ledger_accounts (
    id          TEXT PRIMARY KEY NOT NULL,   -- wallet:<user id>, payments:toss, escrow:challenge:<id>, platform:reserve, shop:revenue
    kind        TEXT NOT NULL CHECK (kind IN ('WALLET', 'SYSTEM')),
    user_id     BLOB UNIQUE REFERENCES users (id),
    balance     INTEGER NOT NULL DEFAULT 0,
    entry_count INTEGER NOT NULL DEFAULT 0,  -- the last entry's seq; entries are numbered under the account's lock
    created_at  INTEGER NOT NULL,
    CHECK (kind <> 'WALLET' OR balance >= 0)
);

CREATE TABLE ledger_transfers (
    id           BLOB PRIMARY KEY NOT NULL,
    key          TEXT NOT NULL UNIQUE,       -- the caller's transfer id: the same key is applied at most once
    kind         TEXT NOT NULL,
    from_account TEXT NOT NULL REFERENCES ledger_accounts (id),
    to_account   TEXT NOT NULL REFERENCES ledger_accounts (id),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    reference    TEXT NOT NULL,
    reverses     BLOB UNIQUE REFERENCES ledger_transfers (id),  -- a spend is given back at most once
    created_at   INTEGER NOT NULL,
    CHECK (from_account <> to_account)
);

CREATE TABLE ledger_entries (
    account_id    TEXT NOT NULL REFERENCES ledger_accounts (id),
    seq           INTEGER NOT NULL,          -- 1, 2, 3… per account: the app's sync cursor relies on it
    transfer_id   BLOB NOT NULL REFERENCES ledger_transfers (id),
    amount        INTEGER NOT NULL,          -- signed: negative leaves the account
    balance_after INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq)
);
CREATE INDEX ledger_entries_transfer ON ledger_entries (transfer_id);

-- Each credit to a wallet is a lot; spends consume the oldest lots first (id order).
CREATE TABLE ledger_lots (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       TEXT NOT NULL REFERENCES ledger_accounts (id),
    source           TEXT NOT NULL CHECK (source IN ('CHARGE', 'REWARD')),
    payment_order_id TEXT,                   -- the card payment a CHARGE lot came from
    transfer_id      BLOB NOT NULL REFERENCES ledger_transfers (id),
    original         INTEGER NOT NULL CHECK (original > 0),
    remaining        INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= original),
    created_at       INTEGER NOT NULL
);
CREATE INDEX ledger_lots_wallet ON ledger_lots (account_id, id);
CREATE UNIQUE INDEX ledger_lots_order ON ledger_lots (payment_order_id);

-- What each transfer did to each lot: +original when created, -n when a spend consumed n, +n when a reversal
-- restored them, -n for a cash refund. A lot's remaining amount is always the sum of its moves.
CREATE TABLE ledger_lot_moves (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_id BLOB NOT NULL REFERENCES ledger_transfers (id),
    lot_id      INTEGER NOT NULL REFERENCES ledger_lots (id),
    delta       INTEGER NOT NULL CHECK (delta <> 0)
);
CREATE INDEX ledger_lot_moves_transfer ON ledger_lot_moves (transfer_id);
CREATE INDEX ledger_lot_moves_lot ON ledger_lot_moves (lot_id);

INSERT INTO ledger_accounts (id, kind, created_at) VALUES
    ('payments:toss', 'SYSTEM', 0),
    ('platform:reserve', 'SYSTEM', 0),
    ('shop:revenue', 'SYSTEM', 0);

-- Idempotency-Key on money-moving POSTs, scoped to the user: the first answer is kept and given again.
CREATE TABLE idempotency_keys (
    user_id      BLOB NOT NULL REFERENCES users (id),
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,              -- method, path and body hash: the same key with another body is refused
    status_code  INTEGER,                    -- NULL while the first request is still running
    response     TEXT,
    locked_until INTEGER NOT NULL,           -- a crashed first request stops blocking retries after this
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
