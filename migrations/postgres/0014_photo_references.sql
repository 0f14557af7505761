-- Who refers to each stored photo and thumbnail. The file store is content-addressed, so one file may serve several
-- proofs and uploads; a file is deleted only with its last reference. An upload not yet taken by a proof holds an
-- upload reference that expires (a day after it was last uploaded); the collector deletes expired references and
-- then the files nothing refers to.

CREATE TABLE stored_files (
    hash       TEXT PRIMARY KEY NOT NULL,         -- lowercase hex SHA-256 of the content: the file's name
    created_at BIGINT NOT NULL
);

CREATE TABLE file_refs (
    hash       TEXT NOT NULL REFERENCES stored_files (hash),
    owner_id   UUID NOT NULL REFERENCES users (id),
    proof_id   UUID REFERENCES proofs (id) ON DELETE CASCADE, -- NULL: an upload no proof has taken yet
    expires_at BIGINT,                            -- upload references only (real time, UTC milliseconds)
    created_at BIGINT NOT NULL,
    CHECK ((proof_id IS NULL) = (expires_at IS NOT NULL))
);
CREATE UNIQUE INDEX file_refs_upload ON file_refs (owner_id, hash) WHERE proof_id IS NULL;
CREATE UNIQUE INDEX file_refs_proof ON file_refs (proof_id, hash) WHERE proof_id IS NOT NULL;
CREATE INDEX file_refs_hash ON file_refs (hash);
CREATE INDEX file_refs_expiry ON file_refs (expires_at) WHERE proof_id IS NULL;

-- Photos each person uploaded per UTC day, for the daily quota.
CREATE TABLE photo_uploads (
    user_id  UUID NOT NULL REFERENCES users (id),
    day      TEXT NOT NULL,                       -- YYYY-MM-DD, UTC
    uploaded BIGINT NOT NULL CHECK (uploaded > 0),
    PRIMARY KEY (user_id, day)
);
CREATE INDEX photo_uploads_day ON photo_uploads (day);

-- The photos and thumbnails of the proofs already made.
INSERT INTO stored_files (hash, created_at)
SELECT hash, MIN(created_at) FROM (
    SELECT photo_hash AS hash, created_at FROM proofs WHERE photo_hash IS NOT NULL
    UNION ALL
    SELECT thumb_hash AS hash, created_at FROM proofs WHERE thumb_hash IS NOT NULL
) f GROUP BY hash;
INSERT INTO file_refs (hash, owner_id, proof_id, created_at)
SELECT photo_hash, user_id, id, created_at FROM proofs WHERE photo_hash IS NOT NULL
UNION
SELECT thumb_hash, user_id, id, created_at FROM proofs WHERE thumb_hash IS NOT NULL;
