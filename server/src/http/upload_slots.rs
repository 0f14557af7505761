//! A bound on photo uploads being received at once. An upload's body (up to 10 MB) is held in memory from its first
//! byte until its photo is checked, and decoding is bounded separately ([`crate::photos::Decoders`]); without this
//! bound, every connection the server accepts could hold a body meanwhile. A request that finds every slot taken
//! is answered 503 `UNAVAILABLE` with `Retry-After` at once, before its body is read.

use std::sync::Arc;

use axum::http::StatusCode;
use nene_shared::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Upload slots shared by the routes that receive photos.
#[derive(Clone, Debug)]
pub struct UploadSlots {
    slots: Arc<Semaphore>,
}

/// One upload being received; the slot frees when it is dropped (with the request).
#[must_use]
pub struct UploadSlot {
    _permit: OwnedSemaphorePermit,
}

impl UploadSlots {
    pub fn new(at_once: usize) -> Self {
        UploadSlots { slots: Arc::new(Semaphore::new(at_once.max(1))) }
    }

    /// Takes a slot, or refuses at once when all are taken.
    pub fn take(&self) -> Result<UploadSlot, ApiError> {
        let permit = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            metrics::counter!("uploads_refused_busy_total").increment(1);
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "Many photos are arriving right now. Please try again in a moment.",
            );
            e.retry_after = Some(2);
            e
        })?;
        Ok(UploadSlot { _permit: permit })
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_set_refuses_until_a_slot_frees() {
        let slots = UploadSlots::new(2);
        let a = slots.take().expect("first");
        let _b = slots.take().expect("second");
        let refused = slots.take().err().expect("third is refused");
        assert_eq!(
            (refused.status, refused.code, refused.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, Some(2))
        );
        drop(a);
        assert!(slots.take().is_ok());
    }
}
