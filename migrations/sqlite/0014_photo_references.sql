-- Who refers to each stored photo and thumbnail. The file store is content-addressed, so one file may serve several
-- proofs and uploads; a file is deleted only with its last reference. An upload not yet taken by a proof holds an
-- upload reference that expires (a day after it was last uploaded); the collector deletes expired references and
-- then the files nothing refers to.

CREATE TABLE stored_files (
    hash       TEXT PRIMARY KEY NOT NULL,         -- lowercase hex SHA-256 of the content: the file's name
    created_at INTEGER NOT NULL
);

-- A reference is held by a proof (for as long as the proof), by a person (their upload, until it expires), or by
-- one request still storing a proof's photo (until its proof is made or it gives up; it expires too, should the
-- server stop in between). A holder refers to a file once.
CREATE TABLE file_refs (
    hash       TEXT NOT NULL REFERENCES stored_files (hash),
    holder     BLOB NOT NULL,                         -- the proof, the person, or the request
    owner_id   BLOB NOT NULL REFERENCES users (id),
    proof_id   BLOB REFERENCES proofs (id) ON DELETE CASCADE, -- set for a proof's reference (= holder)
    expires_at INTEGER,                              -- uploads and requests only (real time, UTC milliseconds)
    created_at INTEGER NOT NULL,
    PRIMARY KEY (holder, hash),
    CHECK ((proof_id IS NULL) = (expires_at IS NOT NULL)),
    CHECK (proof_id IS NULL OR proof_id = holder)
);
CREATE INDEX file_refs_hash ON file_refs (hash);
CREATE INDEX file_refs_owner ON file_refs (owner_id, hash);
CREATE INDEX file_refs_expiry ON file_refs (expires_at) WHERE proof_id IS NULL;

-- Photos each person uploaded per UTC day, for the daily quota.
CREATE TABLE photo_uploads (
    user_id  BLOB NOT NULL REFERENCES users (id),
    day      TEXT NOT NULL,                       -- YYYY-MM-DD, UTC
    uploaded INTEGER NOT NULL CHECK (uploaded > 0),
    PRIMARY KEY (user_id, day)
);
CREATE INDEX photo_uploads_day ON photo_uploads (day);

-- The photos and thumbnails of the proofs already made.
INSERT INTO stored_files (hash, created_at)
SELECT hash, MIN(created_at) FROM (
    SELECT photo_hash AS hash, created_at FROM proofs WHERE photo_hash IS NOT NULL
    UNION ALL
    SELECT thumb_hash AS hash, created_at FROM proofs WHERE thumb_hash IS NOT NULL
) GROUP BY hash;
INSERT INTO file_refs (hash, holder, owner_id, proof_id, created_at)
SELECT photo_hash, id, user_id, id, created_at FROM proofs WHERE photo_hash IS NOT NULL
UNION
SELECT thumb_hash, id, user_id, id, created_at FROM proofs WHERE thumb_hash IS NOT NULL;
