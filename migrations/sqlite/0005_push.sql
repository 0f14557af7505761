-- Push notifications: device tokens, one delivery per notification and device (a durable queue ordered by the next
-- attempt), muted kinds, and the record of daily reminders already sent.

CREATE TABLE devices (
    token      TEXT PRIMARY KEY NOT NULL,      -- the FCM registration token; a token belongs to one user at a time
    user_id    BLOB NOT NULL REFERENCES users (id),
    platform   TEXT NOT NULL CHECK (platform IN ('WEB', 'ANDROID', 'IOS')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE notification_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id BLOB NOT NULL REFERENCES notifications (id),
    user_id         BLOB NOT NULL REFERENCES users (id),
    device_token    TEXT NOT NULL,             -- kept after the device is removed, for the record
    status          TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED', 'DROPPED')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,          -- domain clock
    locked_until    INTEGER,                   -- real time: a claim's lease
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    UNIQUE (notification_id, device_token)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (status, next_attempt_at);
CREATE INDEX notification_deliveries_notification ON notification_deliveries (notification_id);

CREATE TABLE notification_mutes (
    user_id BLOB NOT NULL REFERENCES users (id),
    kind    TEXT NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE reminder_runs (
    challenge_id BLOB NOT NULL REFERENCES challenges (id),
    day          TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (challenge_id, day)
);
