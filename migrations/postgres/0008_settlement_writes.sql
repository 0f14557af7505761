-- The inbox is listed by each person's notification number (notifications_user_seq), which is given under the
-- person's lock in the order the notifications are written, so the index by (person, time, id) has no reader left.
-- It was one of the two indexes every notification scatters across the people it is for: settling 5,000
-- participants touched about one page of it per person.
DROP INDEX notifications_user;

-- Lot moves are read by transfer (what a spend took, what a reversal restores); by lot only by the invariant check,
-- which sums them all in one pass. The index by lot was another page per person for every settlement: each
-- winner's stake return restores a move on that person's oldest lots.
DROP INDEX ledger_lot_moves_lot;

-- A participation is written once when someone joins and updated once when the challenge is settled (outcome,
-- prize, paid). None of those columns is indexed, so with room left on the row's page the update is a HOT update:
-- the new version goes on the same page and none of the four indexes is written again. Without room each settled
-- participant was a new heap tuple plus four index entries. Half a page left free is room for nearly every row of a
-- page to be updated once (a row is about 90 bytes, its settled version about 115). Pages written from now on.
ALTER TABLE participations SET (fillfactor = 50);
