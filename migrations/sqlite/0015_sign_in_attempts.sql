-- A sign-in is counted as a failure before its password is checked, so that parallel attempts cannot all pass the
-- check before any of them is recorded. `pending` marks an attempt whose check is still running: a successful
-- sign-in removes its own attempt and the account's earlier settled failures, never another attempt in flight.
ALTER TABLE login_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;

-- Sign-up attempts per network address, for the per-address hourly limit. Kept in the database so that every
-- server instance counts the same attempts.
CREATE TABLE signup_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ip         TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX signup_attempts_ip ON signup_attempts (ip, at);
CREATE INDEX signup_attempts_at ON signup_attempts (at);
