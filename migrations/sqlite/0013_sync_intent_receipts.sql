-- Offline intents keep what was first received: the hash of the intent's kind and body (a re-push of the same id
-- with another body is refused) and the server's time of first receipt (a proof's day is judged by it, however late
-- it is applied). Both stay NULL on intents recorded before; a PENDING one of those may already have had its effect
-- committed, which the server allows for when it decides it.
ALTER TABLE sync_intents ADD COLUMN body_hash TEXT;
ALTER TABLE sync_intents ADD COLUMN received_at INTEGER;
