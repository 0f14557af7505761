-- The inbox is listed by each person's notification number (notifications_user_seq), which is given under the
-- person's lock in the order the notifications are written, so the index by (person, time, id) has no reader left.
-- It was one of the two indexes every notification scatters across the people it is for: settling 5,000
-- participants touched about one page of it per person.
DROP INDEX notifications_user;

-- Lot moves are read by transfer (what a spend took, what a reversal restores); by lot only by the invariant check,
-- which sums them all in one pass. The index by lot was another page per person for every settlement: each
-- winner's stake return restores a move on that person's oldest lots.
DROP INDEX ledger_lot_moves_lot;
