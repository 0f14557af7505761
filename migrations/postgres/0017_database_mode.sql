-- The mode (dev or production) a database was created in, kept in server_settings under `database_mode` and checked
-- at every start: dev mode seeds demo accounts with a published password, mints points and moves the clock, so the
-- two never share a database. New databases are recorded by their first start. A database from before this record
-- is classified here by what it holds: one that dev mode has seeded (its settings, or its welcome points) is dev,
-- any other that already has people is production, and an empty one is left to its next start.
INSERT INTO server_settings (key, value)
SELECT 'database_mode',
       CASE
           WHEN EXISTS (SELECT 1 FROM server_settings WHERE key IN ('dev_seeded_challenges', 'dev_clock_offset_ms'))
             OR EXISTS (SELECT 1 FROM ledger_transfers WHERE key LIKE 'welcome:%')
           THEN 'dev'
           ELSE 'production'
       END
WHERE EXISTS (SELECT 1 FROM users)
ON CONFLICT (key) DO NOTHING;
