-- The inbox is listed by each person's notification number (notifications_user_seq), which is given under the
-- person's lock in the order the notifications are written, so the index by (person, time, id) has no reader left.
-- It was one of the two indexes every notification scatters across the people it is for: settling 5,000
-- participants touched about one page of it per person.
DROP INDEX notifications_user;
