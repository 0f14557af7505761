-- Challenges, participation, daily proofs, settlement runs, the notification inbox and leases for jobs that run
-- once across every server instance.

CREATE TABLE challenges (
    id                BLOB PRIMARY KEY NOT NULL,
    creator_id        BLOB NOT NULL REFERENCES users (id),
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    category          TEXT NOT NULL,
    proof_type        TEXT NOT NULL CHECK (proof_type IN ('PHOTO', 'TEXT', 'BOTH')),
    start_date        TEXT NOT NULL,              -- YYYY-MM-DD in the challenge's time zone
    end_date          TEXT NOT NULL,
    timezone          TEXT NOT NULL,
    proof_weekdays    INTEGER NOT NULL,           -- bit 0 = Monday … bit 6 = Sunday
    proof_days        INTEGER NOT NULL,
    stake             INTEGER NOT NULL CHECK (stake > 0),
    capacity          INTEGER NOT NULL,
    min_participants  INTEGER NOT NULL,
    success_threshold INTEGER NOT NULL,
    fee_bps           INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL CHECK (status IN ('RECRUITING', 'READY', 'IN_PROGRESS', 'ENDED', 'CANCELLED')),
    participant_count INTEGER NOT NULL DEFAULT 0,
    version           INTEGER NOT NULL DEFAULT 1, -- grows with every change: the app's sync cursor
    starts_at         INTEGER NOT NULL,           -- 00:00 of the start day, UTC milliseconds
    ends_at           INTEGER NOT NULL,           -- 00:00 of the day after the end day
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    started_at        INTEGER,
    settled_at        INTEGER,
    cancelled_at      INTEGER,
    deleted_at        INTEGER,
    CHECK (participant_count >= 0 AND participant_count <= capacity)
);
CREATE INDEX challenges_list ON challenges (created_at, id);
CREATE INDEX challenges_due ON challenges (status, starts_at, ends_at);

-- One row per join; a leave keeps the row (left_at). Only one active participation per person and challenge.
CREATE TABLE participations (
    id           BLOB PRIMARY KEY NOT NULL,
    challenge_id BLOB NOT NULL REFERENCES challenges (id),
    user_id      BLOB NOT NULL REFERENCES users (id),
    stake        INTEGER NOT NULL,
    joined_at    INTEGER NOT NULL,
    left_at      INTEGER,
    outcome      TEXT CHECK (outcome IN ('SUCCESS', 'FAIL')),
    prize        INTEGER,                         -- the prize share on top of a winner's own stake
    settled_at   INTEGER
);
CREATE UNIQUE INDEX participations_active ON participations (challenge_id, user_id) WHERE left_at IS NULL;
CREATE INDEX participations_user ON participations (user_id, joined_at);
CREATE INDEX participations_challenge ON participations (challenge_id, joined_at, id);

CREATE TABLE proofs (
    id               BLOB PRIMARY KEY NOT NULL,
    challenge_id     BLOB NOT NULL REFERENCES challenges (id),
    participation_id BLOB NOT NULL REFERENCES participations (id),
    user_id          BLOB NOT NULL REFERENCES users (id),
    day              TEXT NOT NULL,               -- the proof day, in the challenge's time zone
    text             TEXT,
    photo_hash       TEXT,
    photo_mime       TEXT,
    thumb_hash       TEXT,
    status           TEXT NOT NULL DEFAULT 'ACCEPTED' CHECK (status IN ('ACCEPTED', 'REJECTED')),
    reject_reason    TEXT,
    rejected_by      BLOB,
    created_at       INTEGER NOT NULL,
    UNIQUE (participation_id, day)
);
CREATE INDEX proofs_challenge ON proofs (challenge_id, day, created_at);

CREATE TABLE proof_reports (
    proof_id    BLOB NOT NULL REFERENCES proofs (id),
    reporter_id BLOB NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (proof_id, reporter_id)
);

-- Every settlement run, finished or not.
CREATE TABLE settlement_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge_id BLOB NOT NULL REFERENCES challenges (id),
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    settled      INTEGER NOT NULL DEFAULT 0,      -- participants paid in this run
    winners      INTEGER,
    error        TEXT
);
CREATE INDEX settlement_runs_challenge ON settlement_runs (challenge_id, started_at);

-- The inbox. Deliveries to devices come with the notifications' own tables.
CREATE TABLE notifications (
    id         BLOB PRIMARY KEY NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    data       TEXT NOT NULL,                     -- JSON object of strings
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, created_at, id);

-- A named lease: at most one holder until it expires, across every server instance.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
