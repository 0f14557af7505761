-- The ledger's immutability, enforced by the database as on PostgreSQL: transfers, entries and lot moves never
-- change; accounts and lots change (balance, what remains) but are never removed and keep their keys. Nothing in
-- the server does any of this; these make sure nothing else does either. The foreign keys stay: on SQLite a key
-- check is an index look-up inside the same library call.
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'UPDATE on ledger_transfers is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
BEGIN SELECT RAISE(ABORT, 'DELETE on ledger_transfers is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'UPDATE on ledger_entries is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'DELETE on ledger_entries is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_lot_moves_no_update BEFORE UPDATE ON ledger_lot_moves
BEGIN SELECT RAISE(ABORT, 'UPDATE on ledger_lot_moves is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_lot_moves_no_delete BEFORE DELETE ON ledger_lot_moves
BEGIN SELECT RAISE(ABORT, 'DELETE on ledger_lot_moves is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
BEGIN SELECT RAISE(ABORT, 'DELETE on ledger_accounts is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_accounts_keep_id BEFORE UPDATE OF id ON ledger_accounts
BEGIN SELECT RAISE(ABORT, 'UPDATE of id on ledger_accounts is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_lots_no_delete BEFORE DELETE ON ledger_lots
BEGIN SELECT RAISE(ABORT, 'DELETE on ledger_lots is not allowed: the ledger is append-only'); END;
CREATE TRIGGER ledger_lots_keep_keys BEFORE UPDATE OF id, account_id, transfer_id ON ledger_lots
BEGIN SELECT RAISE(ABORT, 'UPDATE of a key on ledger_lots is not allowed: the ledger is append-only'); END;
