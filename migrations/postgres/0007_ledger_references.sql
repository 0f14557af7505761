-- The ledger's references, checked once per statement instead of once per row, and the ledger's immutability
-- enforced by the database.
--
-- A foreign key checks every new row with a query of its own: here about 4 µs per key per row, and a settlement
-- batch of 5,000 participants writes some 40,000 ledger keys (two on each transfer and entry, two on each lot and
-- lot move), two thirds of what inserting those rows costs. The ledger's rows are never deleted and their keys never
-- change (the guards below refuse both, and TRUNCATE), so a key that pointed at a row when it was written points at
-- it for good: checking each statement's new rows once, with one set-based query over them, gives the guarantee the
-- foreign keys gave. The check fails with the foreign key's error code (23503), at the same moment (the end of the
-- statement), so a refused write still changes nothing.

ALTER TABLE ledger_transfers
    DROP CONSTRAINT ledger_transfers_from_account_fkey,
    DROP CONSTRAINT ledger_transfers_to_account_fkey,
    DROP CONSTRAINT ledger_transfers_reverses_fkey;
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_account_id_fkey,
    DROP CONSTRAINT ledger_entries_transfer_id_fkey;
ALTER TABLE ledger_lots
    DROP CONSTRAINT ledger_lots_account_id_fkey,
    DROP CONSTRAINT ledger_lots_transfer_id_fkey;
ALTER TABLE ledger_lot_moves
    DROP CONSTRAINT ledger_lot_moves_transfer_id_fkey,
    DROP CONSTRAINT ledger_lot_moves_lot_id_fkey;

CREATE FUNCTION ledger_refuse_missing(what TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        MESSAGE = what || ' refers to a ledger row that does not exist';
END $$;

CREATE FUNCTION ledger_transfers_references() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.from_account)
                  OR NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.to_account)
                  OR (n.reverses IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.reverses))) THEN
        PERFORM ledger_refuse_missing('a ledger transfer');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_transfers_references AFTER INSERT ON ledger_transfers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_references();

-- Entries and lots both refer to an account and a transfer.
CREATE FUNCTION ledger_account_and_transfer_references() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.account_id)
                  OR NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.transfer_id)) THEN
        PERFORM ledger_refuse_missing('a row of ' || TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_references AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_account_and_transfer_references();
CREATE TRIGGER ledger_lots_references AFTER INSERT ON ledger_lots
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_account_and_transfer_references();

CREATE FUNCTION ledger_lot_moves_references() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.transfer_id)
                  OR NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.id = n.lot_id)) THEN
        PERFORM ledger_refuse_missing('a ledger lot move');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_lot_moves_references AFTER INSERT ON ledger_lot_moves
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ledger_lot_moves_references();

-- The guards: what the references rely on, and what "immutable" means for the ledger.
CREATE FUNCTION ledger_refuse_change() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'restrict_violation',
        MESSAGE = TG_OP || ' on ' || TG_TABLE_NAME || ' is not allowed: the ledger is append-only';
END $$;

-- Transfers, entries and lot moves never change.
CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_lot_moves_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_lot_moves
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
-- Accounts (their balance) and lots (what remains of them) change, but are never removed and keep their keys.
CREATE TRIGGER ledger_accounts_kept BEFORE DELETE OR TRUNCATE OR UPDATE OF id ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_lots_kept BEFORE DELETE OR TRUNCATE OR UPDATE OF id, account_id, transfer_id ON ledger_lots
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
