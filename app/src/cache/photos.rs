//! Proof photos waiting to be uploaded, keyed by content hash. A photo is uploaded once: after the server has
//! acknowledged its hash it is never sent again, and its bytes go once no pending action needs them.

use rusqlite::{Connection, params};

use super::{Cache, CacheResult, now_ms};

/// A photo to upload.
pub(crate) struct PendingPhoto {
    pub hash: String,
    pub bytes: Vec<u8>,
}

impl Cache {
    /// Photos that pending actions need and the server has not acknowledged yet.
    pub(crate) fn photos_to_upload(&self) -> CacheResult<Vec<PendingPhoto>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT p.hash, p.bytes FROM photos p
                 WHERE p.uploaded = 0
                   AND EXISTS (SELECT 1 FROM outbox o WHERE o.photo_hash = p.hash AND o.status = 'PENDING')
                 ORDER BY p.created_at",
            )?;
            let rows = stmt.query_map([], |r| Ok(PendingPhoto { hash: r.get(0)?, bytes: r.get(1)? }))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    pub(crate) fn mark_photo_uploaded(&self, hash: &str) -> CacheResult<()> {
        self.write(|tx| {
            tx.execute("UPDATE photos SET uploaded = 1 WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }

    /// Whether a photo is still waiting (not acknowledged by the server).
    pub fn photo_waiting(&self, hash: &str) -> CacheResult<bool> {
        self.read(|c| {
            Ok(c.query_row("SELECT EXISTS (SELECT 1 FROM photos WHERE hash = ?1 AND uploaded = 0)", [hash], |r| {
                r.get(0)
            })?)
        })
    }
}

pub(super) fn put(c: &Connection, hash: &str, bytes: &[u8]) -> CacheResult<()> {
    c.execute(
        "INSERT INTO photos (hash, bytes, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING",
        params![hash, bytes, now_ms()],
    )?;
    Ok(())
}

/// Drops photos no pending action needs any more.
pub(super) fn prune(c: &Connection) -> CacheResult<()> {
    c.execute(
        "DELETE FROM photos WHERE NOT EXISTS
             (SELECT 1 FROM outbox o WHERE o.photo_hash = photos.hash AND o.status = 'PENDING')",
        [],
    )?;
    Ok(())
}
