-- Sync for the app: notifications numbered 1, 2, 3… per user under the user's row lock (a pull cursor never skips
-- one), and the record of offline intents applied at most once.

ALTER TABLE users ADD COLUMN notification_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN seq INTEGER;
UPDATE notifications SET seq = (
    SELECT COUNT(*) FROM notifications n2
    WHERE n2.user_id = notifications.user_id
      AND (n2.created_at < notifications.created_at OR (n2.created_at = notifications.created_at AND n2.id <= notifications.id))
);
UPDATE users SET notification_seq = (SELECT COUNT(*) FROM notifications n WHERE n.user_id = users.id);
CREATE UNIQUE INDEX notifications_user_seq ON notifications (user_id, seq);

CREATE TABLE sync_intents (
    user_id    BLOB NOT NULL REFERENCES users (id),
    intent_id  TEXT NOT NULL,                 -- made by the app; its idempotency key
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('PENDING', 'APPLIED', 'REJECTED')),
    code       TEXT,
    message    TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, intent_id)
);
