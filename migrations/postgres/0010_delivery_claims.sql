-- A delivery is claimed (its lease and attempt count, neither indexed) before each send. With room left on the
-- row's page the claim is a HOT update: the new version goes on the same page and none of the four indexes is
-- written. Pages written from now on.
ALTER TABLE notification_deliveries SET (fillfactor = 50);
