-- Proof moderation without a conflict of interest. Reports and appeals wait in a queue for an administrator who has
-- no stake in the challenge; every decision is kept (actor NULL: the system, when the grace time ran out); a rejected
-- day may be proved again, the new proof replacing the rejected one; the owner may appeal a rejection once.

-- One proof per participant and day still, but only among the proofs not replaced: a rejected proof proved again
-- stays as it was, with `replaced_at`, and only a rejected proof can be replaced. SQLite cannot drop the table's
-- UNIQUE constraint, so the table is rebuilt; the reports that point at it are set aside meanwhile.
CREATE TABLE proof_reports_kept AS SELECT proof_id, reporter_id, reason, created_at FROM proof_reports;
DROP TABLE proof_reports;

CREATE TABLE proofs_new (
    id               BLOB PRIMARY KEY NOT NULL,
    challenge_id     BLOB NOT NULL REFERENCES challenges (id),
    participation_id BLOB NOT NULL REFERENCES participations (id),
    user_id          BLOB NOT NULL REFERENCES users (id),
    day              TEXT NOT NULL,               -- the proof day, in the challenge's time zone
    text             TEXT,
    photo_hash       TEXT,
    photo_mime       TEXT,
    thumb_hash       TEXT,
    status           TEXT NOT NULL DEFAULT 'ACCEPTED' CHECK (status IN ('ACCEPTED', 'REJECTED')),
    reject_reason    TEXT,
    rejected_by      BLOB,
    created_at       INTEGER NOT NULL,
    replaced_at      INTEGER,                     -- proved again after this rejection
    CONSTRAINT proofs_replaced_rejected CHECK (replaced_at IS NULL OR status = 'REJECTED')
);
INSERT INTO proofs_new (id, challenge_id, participation_id, user_id, day, text, photo_hash, photo_mime, thumb_hash,
                        status, reject_reason, rejected_by, created_at)
    SELECT id, challenge_id, participation_id, user_id, day, text, photo_hash, photo_mime, thumb_hash,
           status, reject_reason, rejected_by, created_at FROM proofs;
DROP TABLE proofs;
ALTER TABLE proofs_new RENAME TO proofs;
CREATE UNIQUE INDEX proofs_day ON proofs (participation_id, day) WHERE replaced_at IS NULL;
CREATE INDEX proofs_participation ON proofs (participation_id, day);
CREATE INDEX proofs_challenge ON proofs (challenge_id, day, created_at);

-- A report is open until a decision on its proof closes it.
CREATE TABLE proof_reports (
    proof_id    BLOB NOT NULL REFERENCES proofs (id),
    reporter_id BLOB NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    PRIMARY KEY (proof_id, reporter_id)
);
INSERT INTO proof_reports (proof_id, reporter_id, reason, created_at, resolved_at)
    SELECT r.proof_id, r.reporter_id, r.reason, r.created_at,
           CASE WHEN f.status = 'ACCEPTED' AND c.status = 'IN_PROGRESS' THEN NULL ELSE r.created_at END
    FROM proof_reports_kept r JOIN proofs f ON f.id = r.proof_id JOIN challenges c ON c.id = f.challenge_id;
DROP TABLE proof_reports_kept;

-- One appeal per proof, by its owner, against a rejection.
CREATE TABLE proof_appeals (
    proof_id   BLOB PRIMARY KEY NOT NULL REFERENCES proofs (id),
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    outcome    TEXT CHECK (outcome IN ('GRANTED', 'DECLINED', 'WITHDRAWN')), -- NULL while it waits
    decided_at INTEGER
);

-- The proofs waiting for an administrator: reported ones (REPORT) and appealed rejections (APPEAL). A challenge's
-- settlement waits while it has rows here, up to the grace time after its end.
CREATE TABLE moderation_queue (
    proof_id     BLOB PRIMARY KEY NOT NULL REFERENCES proofs (id),
    challenge_id BLOB NOT NULL REFERENCES challenges (id),
    kind         TEXT NOT NULL CHECK (kind IN ('REPORT', 'APPEAL')),
    opened_at    INTEGER NOT NULL
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
    id           BLOB PRIMARY KEY NOT NULL,
    proof_id     BLOB NOT NULL REFERENCES proofs (id),
    challenge_id BLOB NOT NULL REFERENCES challenges (id),
    actor_id     BLOB REFERENCES users (id),
    action       TEXT NOT NULL CHECK (action IN ('REJECT', 'DISMISS')),
    on_appeal    INTEGER NOT NULL CHECK (on_appeal IN (0, 1)),
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX moderation_decisions_order ON moderation_decisions (created_at, id);
CREATE INDEX moderation_decisions_challenge ON moderation_decisions (challenge_id, created_at, id);
CREATE INDEX moderation_decisions_proof ON moderation_decisions (proof_id, created_at);
