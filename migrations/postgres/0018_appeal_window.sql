-- A rejection is appealed within a window: until `appeal_until` (the domain clock, never past the moderation grace
-- time after the challenge's end) its owner may appeal, and the challenge's settlement waits for that chance. NULL
-- for a proof never rejected by an administrator, and for rejections made before windows existed (those may be
-- appealed until settlement, as they could when they were made).
ALTER TABLE proofs ADD COLUMN appeal_until BIGINT;
CREATE INDEX proofs_appeal_window ON proofs (challenge_id, appeal_until) WHERE appeal_until IS NOT NULL;

-- When the scheduler first found the challenge's due settlement held back for moderation. Set once, with a version
-- bump, so the app's next sync pull shows why the challenge is waiting (time passing changes nothing else).
ALTER TABLE challenges ADD COLUMN settlement_held_at BIGINT;
