-- Card payments through TossPayments, and the outbox of work that must happen after a commit.

CREATE TABLE payment_orders (
    id              TEXT PRIMARY KEY NOT NULL,    -- Toss's orderId
    user_id         BLOB NOT NULL REFERENCES users (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    order_name      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('READY', 'PAID', 'CREDITED', 'FAILED', 'UNKNOWN',
                                                   'PARTIALLY_REFUNDED', 'REFUNDED', 'CANCELLED')),
    payment_key     TEXT,
    method          TEXT,
    failure_code    TEXT,
    failure_message TEXT,
    refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    confirm_attempt INTEGER NOT NULL DEFAULT 0,   -- each confirm attempt has its own Toss Idempotency-Key
    check_attempts  INTEGER NOT NULL DEFAULT 0,   -- reconciler look-ups of an UNKNOWN order so far
    next_check_at   INTEGER,                      -- when the reconciler asks Toss about an UNKNOWN order next
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    approved_at     INTEGER,
    credited_at     INTEGER
);
CREATE INDEX payment_orders_user ON payment_orders (user_id, created_at);
CREATE INDEX payment_orders_unknown ON payment_orders (status, next_check_at);

-- Each cash refund of a charge: the ledger transfer that took the points back (same id as its key) and the state
-- of the matching cancel at Toss.
CREATE TABLE payment_refunds (
    id         TEXT PRIMARY KEY NOT NULL,         -- refund:<orderId>:<n>, also the ledger transfer key
    order_id   TEXT NOT NULL REFERENCES payment_orders (id),
    amount     INTEGER NOT NULL CHECK (amount > 0),
    reason     TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX payment_refunds_order ON payment_refunds (order_id);

-- Work written in the same transaction as the change that causes it, done afterwards by a worker with retries.
-- A row is claimed by setting locked_until (a lease): a worker that dies loses its claim when the lease runs out.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,             -- domain clock
    locked_until    INTEGER,                      -- real time
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, kind, next_attempt_at);
