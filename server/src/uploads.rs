//! Photo uploads: who may store a new photo (a daily quota per person, a floor of free disk), the references that
//! keep a stored file alive, and the collector that deletes the files nothing refers to any more.
//!
//! The file store is content-addressed, so one file may serve several proofs and several people's uploads. Each
//! use is a reference (file, owner, holder): a proof's references last as long as the proof; an upload no proof has
//! taken yet (the app uploads a photo first and sends the proof that uses it afterwards) is held by its person and
//! expires [`UPLOAD_KEPT_MS`] after it was last uploaded; a request storing a proof's photo holds its files on its
//! own until the proof takes them or the request gives up, so two requests of one person never release each
//! other's files. A file is deleted only with its last reference.
//!
//! What keeps a referenced file on disk, with many requests and several server instances at once: a reference is
//! committed, under the file's row lock, *before* the file is written; and a file is deleted only in a transaction
//! that holds that lock, has seen no reference, and forgets the row. A writer either commits first (the collector
//! then sees its reference) or after the collector (and then writes the file afresh).
//!
//! Expiry runs on real time, not the domain clock: keeping files is an operational matter, like token lifetimes,
//! and dev mode moves the domain clock by days to play a challenge through, which must not take away a photo the
//! app uploaded a minute ago. The quota's day is the UTC day, for the same reason.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use nene_shared::{ErrorCode, FieldCode, UserId};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::files::sha256_hex;
use crate::photos::{CheckedPhoto, PhotoError};
use crate::store::{self, StoreResult, Tx};

/// How long an upload no proof has taken is kept: a day after it was last uploaded.
pub const UPLOAD_KEPT_MS: i64 = 24 * 3600 * 1000;
/// Expired references dropped per statement.
const EXPIRY_BATCH: i64 = 500;
/// Stored files looked at per slice of the collector's sweep, and how often a slice is looked at: the sweep is the
/// fallback for files whose last reference went some other way than expiring (a proof deleted, a release that
/// failed), so it may be slow; a million files are looked through in about eight hours.
const SWEEP_SLICE: i64 = 1_000;
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Where a proof's photo comes from.
pub enum PhotoSource {
    /// Bytes sent with the proof itself: a new upload, which the quota and the disk floor apply to.
    New(Bytes),
    /// A photo the person uploaded before (the app's offline path), by content hash.
    Uploaded(String),
}

/// A proof's photo, checked and stored, held by the request that stored it until a proof takes it ([`take`]) or
/// the request gives up ([`release`]).
#[derive(Debug)]
pub struct StoredPhoto {
    owner: UserId,
    /// This request: the holder of its references.
    holder: Uuid,
    pub photo_hash: String,
    pub thumb_hash: String,
    pub mime: &'static str,
}

impl StoredPhoto {
    /// The photo and thumbnail, in name order (the order every transaction locks files in).
    fn hashes(&self) -> Vec<&str> {
        let mut hashes = vec![self.photo_hash.as_str(), self.thumb_hash.as_str()];
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    }
}

fn photo_missing() -> ApiError {
    let mut e = ApiError::validation(BTreeMap::from([("photo_hash".to_owned(), FieldCode::Invalid)]));
    e.message = "That photo is not uploaded (or no longer kept); upload it again.".into();
    e
}

fn invalid_photo(e: &PhotoError) -> ApiError {
    if e.is_internal() {
        return ApiError::internal(e);
    }
    let field = if matches!(e, PhotoError::TooLarge { .. }) { FieldCode::TooLong } else { FieldCode::Invalid };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidPhoto, format!("The photo cannot be used: {e}."))
        .with_field("photo", field)
}

fn storage_full() -> ApiError {
    let mut e = ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::StorageFull,
        "Photos cannot be stored right now; proofs with text and everything else still work. Try again later.",
    );
    e.retry_after = Some(3600);
    e
}

/// Seconds from `now` to the next UTC midnight, when a spent quota is renewed.
fn until_tomorrow(now: DateTime<Utc>) -> u64 {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive()).and_hms_opt(0, 0, 0).unwrap_or_default();
    u64::try_from((tomorrow.and_utc() - now).num_seconds()).unwrap_or(1).max(1)
}

/// Lets a new photo in, or says why not: the disk floor first (it costs nothing), then the day's quota, which
/// counts every new photo, those that turn out not to decode included (their decoding cost as much).
async fn admit(state: &AppState, user: UserId) -> ApiResult<()> {
    let floor_mb = state.config.min_free_disk_mb;
    if floor_mb > 0 {
        let free = state.files.available_bytes().await.map_err(|e| ApiError::internal(&e))?;
        if let Some(free) = free.filter(|&free| free < floor_mb.saturating_mul(1024 * 1024)) {
            tracing::warn!(
                free_mb = free / (1024 * 1024),
                floor_mb,
                "photo refused: the photo store's disk is short of space"
            );
            return Err(storage_full());
        }
    }
    let now = Utc::now();
    let max = i64::from(state.config.uploads_per_day);
    let mut tx = state.db.begin_write().await?;
    let counted = store::uploads::count_upload(&mut tx, user.as_uuid(), &now.date_naive().to_string(), max).await?;
    tx.commit().await?;
    if !counted {
        return Err(ApiError::too_many(
            format!("You can upload {max} photos a day; more tomorrow (UTC)."),
            until_tomorrow(now),
        ));
    }
    Ok(())
}

/// `holder`'s references to `hashes` for `owner`, kept a day, committed before any of the files is written.
async fn hold(state: &AppState, owner: UserId, holder: Uuid, hashes: &[&str]) -> ApiResult<()> {
    let mut sorted: Vec<&str> = hashes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    for hash in sorted {
        store::uploads::lock_file(&mut tx, hash, now).await?;
        store::uploads::hold(&mut tx, hash, holder, owner.as_uuid(), now + UPLOAD_KEPT_MS, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Writes files whose references are held. Storing content already there writes nothing.
async fn write(state: &AppState, files: &[(&str, &[u8])]) -> ApiResult<()> {
    for (hash, bytes) in files {
        let name = state.files.put(bytes).await.map_err(|e| ApiError::internal(&e))?;
        if name != *hash {
            return Err(ApiError::internal(&format!("file {hash} was stored as {name}")));
        }
    }
    Ok(())
}

/// `/sync/photos`: checks a photo and keeps it, by content hash, for a proof the person sends later (the person
/// holds it a day). A retry of a photo the person already holds answers at once: no quota, no decoding, and the
/// upload is kept a day from now.
pub async fn upload(state: &AppState, user: UserId, bytes: Bytes) -> ApiResult<String> {
    let hash = sha256_hex(&bytes);
    let mut tx = state.db.begin_read().await?;
    let held = store::uploads::refers(&mut tx, user.as_uuid(), &hash).await?;
    drop(tx);
    if held && state.files.exists(&hash).await.map_err(|e| ApiError::internal(&e))? {
        hold(state, user, user.as_uuid(), &[&hash]).await?;
        return Ok(hash);
    }
    admit(state, user).await?;
    state.decoders.check(bytes.clone()).await.map_err(|e| invalid_photo(&e))?;
    hold(state, user, user.as_uuid(), &[&hash]).await?;
    write(state, &[(&hash, &bytes)]).await?;
    Ok(hash)
}

/// Checks and stores a proof's photo and its thumbnail, held by this request. New bytes pass the disk floor and
/// the quota first; an uploaded photo must be one the person holds (their upload, or a proof of theirs), and is
/// checked again for its thumbnail but not counted again.
pub async fn store_proof_photo(state: &AppState, user: UserId, source: PhotoSource) -> ApiResult<StoredPhoto> {
    let bytes = match source {
        PhotoSource::New(bytes) => {
            admit(state, user).await?;
            bytes
        }
        PhotoSource::Uploaded(hash) => {
            let mut tx = state.db.begin_read().await?;
            let held = store::uploads::refers(&mut tx, user.as_uuid(), &hash).await?;
            drop(tx);
            if !held {
                return Err(photo_missing());
            }
            Bytes::from(state.files.get(&hash).await.map_err(|_| photo_missing())?.ok_or_else(photo_missing)?)
        }
    };
    let checked: CheckedPhoto = state.decoders.check(bytes.clone()).await.map_err(|e| invalid_photo(&e))?;
    let photo = StoredPhoto {
        owner: user,
        holder: Uuid::now_v7(),
        photo_hash: sha256_hex(&bytes),
        thumb_hash: sha256_hex(&checked.thumbnail_jpeg),
        mime: checked.format.mime(),
    };
    hold(state, user, photo.holder, &photo.hashes()).await?;
    let files: [(&str, &[u8]); 2] = [(&photo.photo_hash, &bytes), (&photo.thumb_hash, &checked.thumbnail_jpeg)];
    if let Err(e) = write(state, &files).await {
        release(state, photo).await;
        return Err(e);
    }
    Ok(photo)
}

/// Inside the proof's transaction: the proof's references take the place of the request's, and of the person's
/// own upload of the same files (the proof has taken it).
pub async fn take(tx: &mut Tx, photo: &StoredPhoto, proof: Uuid) -> StoreResult<()> {
    let now = Utc::now().timestamp_millis();
    let owner = photo.owner.as_uuid();
    for hash in photo.hashes() {
        store::uploads::lock_file(tx, hash, now).await?;
        store::uploads::refer_proof(tx, hash, owner, proof, now).await?;
        store::uploads::drop_held(tx, photo.holder, hash).await?;
        store::uploads::drop_held(tx, owner, hash).await?;
    }
    Ok(())
}

/// The proof was not made: this request's references go, and with them any file nothing else refers to. Best
/// effort: should it fail, the references expire and the collector finds the files.
pub async fn release(state: &AppState, photo: StoredPhoto) {
    let released = async {
        let mut tx = state.db.begin_write().await?;
        for hash in photo.hashes() {
            store::uploads::drop_held(&mut tx, photo.holder, hash).await?;
            delete_if_unreferenced(state, &mut tx, hash).await?;
        }
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    if let Err(e) = released.await {
        tracing::warn!(error = %e, "could not release a proof's photo; its hold expires on its own");
    }
}

/// Deletes the file and forgets it if nothing refers to it, under the file's lock; the caller commits afterwards.
async fn delete_if_unreferenced(state: &AppState, tx: &mut Tx, hash: &str) -> ApiResult<bool> {
    if store::uploads::lock_existing(tx, hash).await? != Some(false) {
        return Ok(false);
    }
    state.files.delete(hash).await.map_err(|e| ApiError::internal(&e))?;
    store::uploads::forget_file(tx, hash).await?;
    Ok(true)
}

/// Deletes one file if nothing refers to it, in a transaction of its own. A failure is logged and left for the
/// next sweep.
async fn collect_one(state: &AppState, hash: &str) -> bool {
    let collected = async {
        let mut tx = state.db.begin_write().await?;
        let deleted = delete_if_unreferenced(state, &mut tx, hash).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(deleted)
    };
    match collected.await {
        Ok(deleted) => deleted,
        Err(e) => {
            tracing::warn!(hash = %hash, error = %e, "could not collect a file; the next sweep tries again");
            false
        }
    }
}

/// The collector's place in its sweep over every stored file, kept between passes.
#[derive(Debug, Default)]
pub struct Collector {
    sweep: Mutex<Sweep>,
}

#[derive(Debug, Default)]
struct Sweep {
    /// The last file name looked at; empty to start from the beginning.
    after: String,
    /// When the last slice was looked at; `None` before the first.
    last: Option<std::time::Instant>,
}

/// One pass of the collector on real time (the background worker's step).
pub async fn collect_step(state: &AppState, collector: &Collector) -> StoreResult<usize> {
    collect_at(state, collector, Utc::now()).await
}

/// One pass of the collector as of `now`: drops the references expired by then (uploads no proof took, holds of
/// requests that never finished) and deletes the files they leave unreferenced; forgets the quota counts of days
/// gone; and, at most every [`SWEEP_EVERY`], sweeps the next slice of stored files for any other file nothing
/// refers to (one whose proof was deleted, or whose release failed). Answers the references dropped and files
/// deleted; nothing is written when nothing is due.
pub async fn collect_at(state: &AppState, collector: &Collector, now: DateTime<Utc>) -> StoreResult<usize> {
    let now_ms = now.timestamp_millis();
    let mut done = 0;

    let mut tx = state.db.begin_read().await?;
    let expired = store::uploads::any_expired(&mut tx, now_ms).await?;
    let today = now.date_naive().to_string();
    let old_counts = store::uploads::counts_before(&mut tx, &today).await?;
    drop(tx);
    if expired {
        let mut tx = state.db.begin_write().await?;
        let hashes = store::uploads::drop_expired(&mut tx, now_ms, EXPIRY_BATCH).await?;
        tx.commit().await?;
        done += hashes.len();
        let mut hashes = hashes;
        hashes.sort_unstable();
        hashes.dedup();
        for hash in &hashes {
            done += usize::from(collect_one(state, hash).await);
        }
    }
    if old_counts {
        let mut tx = state.db.begin_write().await?;
        store::uploads::forget_counts_before(&mut tx, &today).await?;
        tx.commit().await?;
    }

    let mut sweep = collector.sweep.lock().await;
    if sweep.last.is_some_and(|last| last.elapsed() < SWEEP_EVERY) {
        return Ok(done);
    }
    let mut tx = state.db.begin_read().await?;
    let slice = store::uploads::files_after(&mut tx, &sweep.after, SWEEP_SLICE).await?;
    drop(tx);
    sweep.after = if slice.len() < SWEEP_SLICE as usize {
        String::new()
    } else {
        slice.last().map(|(hash, _)| hash.clone()).unwrap_or_default()
    };
    sweep.last = Some(std::time::Instant::now());
    drop(sweep);
    for (hash, _) in slice.iter().filter(|(_, referenced)| !referenced) {
        done += usize::from(collect_one(state, hash).await);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_quota_comes_back_at_utc_midnight() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(until_tomorrow(at("2026-12-01T23:59:00Z")), 60);
        assert_eq!(until_tomorrow(at("2026-12-01T00:00:00Z")), 86_400);
        assert_eq!(until_tomorrow(at("2026-12-31T12:00:00Z")), 43_200);
    }
}
