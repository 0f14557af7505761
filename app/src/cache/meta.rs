//! Single values the cache keeps by name: the device id, the pull cursor, the signed-in person, the server address
//! chosen in settings, the next intent number.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::CacheResult;

pub const DEVICE_ID: &str = "device_id";
pub const CURSOR: &str = "pull_cursor";
pub const ME: &str = "me";
pub const SERVER_URL: &str = "server_url";
/// The last intent number handed out on this device; kept across sign-ins so numbers never repeat.
pub const LAST_INTENT_SEQ: &str = "last_intent_seq";

pub fn get(c: &Connection, key: &str) -> CacheResult<Option<String>> {
    Ok(c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

pub fn set(c: &Connection, key: &str, value: &str) -> CacheResult<()> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

pub fn delete(c: &Connection, key: &str) -> CacheResult<()> {
    c.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

pub fn get_json<T: DeserializeOwned>(c: &Connection, key: &str) -> CacheResult<Option<T>> {
    match get(c, key)? {
        Some(v) => Ok(Some(serde_json::from_str(&v)?)),
        None => Ok(None),
    }
}

pub fn set_json<T: Serialize>(c: &Connection, key: &str, value: &T) -> CacheResult<()> {
    set(c, key, &serde_json::to_string(value)?)
}

/// Makes the device id on first open.
pub fn ensure_device_id(c: &Connection) -> CacheResult<()> {
    c.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
        params![DEVICE_ID, uuid::Uuid::new_v4().to_string()],
    )?;
    Ok(())
}

/// The next intent number: one more than any handed out before.
pub fn next_intent_seq(c: &Connection) -> CacheResult<i64> {
    let last: i64 = get(c, LAST_INTENT_SEQ)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let next = last + 1;
    set(c, LAST_INTENT_SEQ, &next.to_string())?;
    Ok(next)
}
