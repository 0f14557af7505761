-- Proof moderation without a conflict of interest. Reports and appeals wait in a queue for an administrator who has
-- no stake in the challenge; every decision is kept (actor NULL: the system, when the grace time ran out); a rejected
-- day may be proved again, the new proof replacing the rejected one; the owner may appeal a rejection once.

-- One proof per participant and day still, but only among the proofs not replaced: a rejected proof proved again
-- stays as it was, with `replaced_at`, and only a rejected proof can be replaced.
ALTER TABLE proofs DROP CONSTRAINT proofs_participation_id_day_key;
ALTER TABLE proofs ADD COLUMN replaced_at BIGINT;                 -- proved again after this rejection
ALTER TABLE proofs ADD CONSTRAINT proofs_replaced_rejected CHECK (replaced_at IS NULL OR status = 'REJECTED');
CREATE UNIQUE INDEX proofs_day ON proofs (participation_id, day) WHERE replaced_at IS NULL;
CREATE INDEX proofs_participation ON proofs (participation_id, day);

-- A report is open until a decision on its proof closes it.
ALTER TABLE proof_reports ADD COLUMN resolved_at BIGINT;
UPDATE proof_reports r SET resolved_at = r.created_at FROM proofs f JOIN challenges c ON c.id = f.challenge_id
    WHERE f.id = r.proof_id AND NOT (f.status = 'ACCEPTED' AND c.status = 'IN_PROGRESS');

-- One appeal per proof, by its owner, against a rejection.
CREATE TABLE proof_appeals (
    proof_id   UUID PRIMARY KEY NOT NULL REFERENCES proofs (id),
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    outcome    TEXT CHECK (outcome IN ('GRANTED', 'DECLINED', 'WITHDRAWN')), -- NULL while it waits
    decided_at BIGINT
);

-- The proofs waiting for an administrator: reported ones (REPORT) and appealed rejections (APPEAL). A challenge's
-- settlement waits while it has rows here, up to the grace time after its end.
CREATE TABLE moderation_queue (
    proof_id     UUID PRIMARY KEY NOT NULL REFERENCES proofs (id),
    challenge_id UUID NOT NULL REFERENCES challenges (id),
    kind         TEXT NOT NULL CHECK (kind IN ('REPORT', 'APPEAL')),
    opened_at    BIGINT NOT NULL
);
CREATE INDEX moderation_queue_order ON moderation_queue (opened_at, proof_id);
CREATE INDEX moderation_queue_challenge ON moderation_queue (challenge_id);
INSERT INTO moderation_queue (proof_id, challenge_id, kind, opened_at)
    SELECT r.proof_id, f.challenge_id, 'REPORT', MIN(r.created_at)
    FROM proof_reports r JOIN proofs f ON f.id = r.proof_id
    WHERE r.resolved_at IS NULL GROUP BY r.proof_id, f.challenge_id;

-- Every decision on a proof: REJECT (it does not count) or DISMISS (it counts: reports dismissed, or an appeal
-- granted), by an administrator or by the system (actor NULL), always with its reason.
CREATE TABLE moderation_decisions (
    id           UUID PRIMARY KEY NOT NULL,
    proof_id     UUID NOT NULL REFERENCES proofs (id),
    challenge_id UUID NOT NULL REFERENCES challenges (id),
    actor_id     UUID REFERENCES users (id),
    action       TEXT NOT NULL CHECK (action IN ('REJECT', 'DISMISS')),
    on_appeal    BOOLEAN NOT NULL,
    reason       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX moderation_decisions_order ON moderation_decisions (created_at, id);
CREATE INDEX moderation_decisions_challenge ON moderation_decisions (challenge_id, created_at, id);
CREATE INDEX moderation_decisions_proof ON moderation_decisions (proof_id, created_at);
