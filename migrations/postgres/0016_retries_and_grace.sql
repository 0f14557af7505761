-- A refresh token spent moments ago may be presented again by a second tab of the same browser (both send the one
-- cookie). Within a short grace window that answer is a fresh sibling in the same family, counted here so a spent
-- token cannot mint siblings without end.
ALTER TABLE refresh_tokens ADD COLUMN grace_uses INTEGER NOT NULL DEFAULT 0;

-- The Idempotency-Key a refund was asked with: a retry with the same key (after a lost answer, a server error, a
-- restart) finds its refund here and answers from it instead of paying back a second time.
ALTER TABLE payment_refunds ADD COLUMN request_key TEXT;
CREATE UNIQUE INDEX payment_refunds_request_key ON payment_refunds (order_id, request_key)
    WHERE request_key IS NOT NULL;

-- A challenge whose scheduled transition keeps failing backs off, so the challenges behind it are not starved.
ALTER TABLE challenges ADD COLUMN schedule_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE challenges ADD COLUMN next_attempt_at BIGINT;
