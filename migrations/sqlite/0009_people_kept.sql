-- People are never removed and never renumbered, as on PostgreSQL (where notifications check their person once per
-- statement and rely on it): every person has a wallet, and the ledger keeps its accounts for good. SQLite keeps the
-- notifications' foreign key; these make the rule the same on both engines.
CREATE TRIGGER users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'DELETE on users is not allowed: people and their notifications keep their keys'); END;
CREATE TRIGGER users_keep_id BEFORE UPDATE OF id ON users
BEGIN SELECT RAISE(ABORT, 'UPDATE of id on users is not allowed: people and their notifications keep their keys'); END;
CREATE TRIGGER notifications_keep_person BEFORE UPDATE OF user_id ON notifications
BEGIN SELECT RAISE(ABORT, 'UPDATE of user_id on notifications is not allowed: people and their notifications keep their keys'); END;
