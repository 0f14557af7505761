//! Challenges the person takes part in (and ones they just left), each as the server's last snapshot: the challenge
//! and its live progress. A snapshot is replaced only by one of the same or a newer version.

use nene_shared::challenges::ChallengeId;
use nene_shared::sync::ChallengeSnapshot;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Cache, CacheResult, now_ms};

/// A cached challenge with when the cache last heard of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedChallenge {
    #[serde(flatten)]
    pub snapshot: ChallengeSnapshot,
    /// When this snapshot arrived (ms since the epoch): how fresh the screen is.
    pub synced_at: i64,
}

impl Cache {
    /// The challenges the person takes part in, soonest start first.
    pub fn challenges(&self) -> CacheResult<Vec<CachedChallenge>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT snapshot, updated_at FROM challenges WHERE joined = 1 ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (json, synced_at) = row?;
                out.push(CachedChallenge { snapshot: serde_json::from_str(&json)?, synced_at });
            }
            out.sort_by(|a, b| {
                (a.snapshot.challenge.start_date, a.snapshot.challenge.id)
                    .cmp(&(b.snapshot.challenge.start_date, b.snapshot.challenge.id))
            });
            Ok(out)
        })
    }

    /// One cached challenge with its progress (also one the person has left).
    pub fn challenge(&self, id: ChallengeId) -> CacheResult<Option<CachedChallenge>> {
        self.read(|c| {
            let row = c
                .query_row("SELECT snapshot, updated_at FROM challenges WHERE id = ?1", [id.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?;
            match row {
                Some((json, synced_at)) => {
                    Ok(Some(CachedChallenge { snapshot: serde_json::from_str(&json)?, synced_at }))
                }
                None => Ok(None),
            }
        })
    }
}

/// Stores a snapshot unless the cache already has a newer version. Answers whether it was stored.
pub(super) fn upsert(c: &Connection, snapshot: &ChallengeSnapshot) -> CacheResult<bool> {
    let ch = &snapshot.challenge;
    let changed = c.execute(
        "INSERT INTO challenges (id, version, joined, snapshot, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, joined = excluded.joined,
             snapshot = excluded.snapshot, updated_at = excluded.updated_at
         WHERE excluded.version >= challenges.version",
        params![ch.id.to_string(), ch.version, ch.joined, serde_json::to_string(snapshot)?, now_ms()],
    )?;
    Ok(changed > 0)
}

/// The stake of a cached challenge, for showing what a queued join will move.
pub(super) fn stake_of(c: &Connection, id: ChallengeId) -> CacheResult<Option<i64>> {
    let json: Option<String> =
        c.query_row("SELECT snapshot FROM challenges WHERE id = ?1", [id.to_string()], |r| r.get(0)).optional()?;
    match json {
        Some(j) => Ok(Some(serde_json::from_str::<ChallengeSnapshot>(&j)?.challenge.stake.get())),
        None => Ok(None),
    }
}
