-- Accounts and sign-in. Times are milliseconds since the Unix epoch (BIGINT), as in the SQLite schema, ids are UUIDs.

CREATE TABLE users (
    id           UUID PRIMARY KEY NOT NULL,
    email        TEXT NOT NULL UNIQUE,          -- trimmed, lower-cased
    nickname     TEXT NOT NULL,
    nickname_key TEXT NOT NULL UNIQUE,          -- lower-cased nickname: uniqueness ignores letter case
    bio          TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL DEFAULT 'USER' CHECK (role IN ('USER', 'ADMIN')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- A user signs in with a password, with one or more OAuth identities, or both.
CREATE TABLE password_credentials (
    user_id       UUID PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE oauth_identities (
    provider   TEXT NOT NULL CHECK (provider IN ('KAKAO', 'NAVER', 'GOOGLE')),
    subject    TEXT NOT NULL,                   -- the provider's stable user id
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oauth_identities_user ON oauth_identities (user_id);

-- Refresh tokens are stored only as SHA-256 hashes. A family is one sign-in on one device; every rotation adds a
-- token to it, and presenting a spent token revokes the whole family.
CREATE TABLE refresh_tokens (
    id         UUID PRIMARY KEY NOT NULL,
    family_id  UUID NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Access tokens revoked before their expiry (logout). Rows past expires_at can be deleted.
CREATE TABLE revoked_access_tokens (
    jti        UUID PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Failed sign-ins, for the per-account and per-address limits. Kept in the database so that every server instance
-- counts the same failures.
CREATE TABLE login_failures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account    TEXT NOT NULL,
    ip         TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX login_failures_account ON login_failures (account, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

-- Small server-wide settings (the dev clock's offset).
CREATE TABLE server_settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
