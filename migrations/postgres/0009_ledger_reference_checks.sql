-- The ledger's reference checks (0007), written so that their cost follows the rows written, not the ledger's size.
--
-- Each check was one query with its NOT EXISTS tests joined by OR. The planner may answer such a test with a hashed
-- subplan: it reads the whole referenced table into a hash table once per statement, then looks each new row up in
-- it. Next to a batch of a few thousand rows that looks cheaper than as many index look-ups, and stays chosen until
-- the table no longer fits in work_mem: a settlement batch of 5,000 participants read all of ledger_transfers four
-- times (reversals, entries, lots and lot moves refer to transfers), 30 ms each at 300,000 transfers, and more every
-- day.
--
-- Now each reference is its own anti-join, run as a nested loop over the new rows with a primary-key look-up each
-- (hash and merge joins are switched off inside these functions only). Accounts, which a batch names over and over,
-- and transfers, which have two entries each, are looked up once per distinct id. The guarantee is the same: every
-- new row's references exist, checked once per statement, failing with the foreign key's error code.

CREATE OR REPLACE FUNCTION ledger_transfers_references() RETURNS TRIGGER LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT from_account AS id FROM new_rows UNION SELECT to_account FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.id))
       OR EXISTS (SELECT 1 FROM new_rows n
                  WHERE n.reverses IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.reverses)) THEN
        PERFORM ledger_refuse_missing('a ledger transfer');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ledger_account_and_transfer_references() RETURNS TRIGGER LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT account_id FROM new_rows) n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = n.account_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT transfer_id FROM new_rows) n
                  WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.transfer_id)) THEN
        PERFORM ledger_refuse_missing('a row of ' || TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ledger_lot_moves_references() RETURNS TRIGGER LANGUAGE plpgsql
    SET enable_hashjoin = off SET enable_mergejoin = off AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n
               WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = n.transfer_id))
       OR EXISTS (SELECT 1 FROM (SELECT DISTINCT lot_id FROM new_rows) n
                  WHERE NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.id = n.lot_id)) THEN
        PERFORM ledger_refuse_missing('a ledger lot move');
    END IF;
    RETURN NULL;
END $$;
