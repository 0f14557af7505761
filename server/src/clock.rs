//! The domain clock: the one source of "now" for challenge days, schedules, settlement and retry times.
//!
//! In production it is real time. In dev mode it can be moved forward (`POST /dev/clock`) so a two-week challenge
//! can be played through in a minute. Token lifetimes and rate limits deliberately do not read it: moving the demo
//! clock must not sign anyone out or lift a lock-out.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default)]
pub struct DomainClock {
    offset_ms: Arc<AtomicI64>,
}

impl DomainClock {
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        Self { offset_ms: Arc::new(AtomicI64::new(offset_ms)) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Acquire))
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    /// Moves the clock forward; never backward, so no schedule can fire twice. Returns the new offset.
    pub fn advance_ms(&self, ms: i64) -> i64 {
        let ms = ms.max(0);
        self.offset_ms.fetch_add(ms, Ordering::AcqRel).saturating_add(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_and_never_back() {
        let clock = DomainClock::default();
        let before = clock.now();
        assert_eq!(clock.advance_ms(86_400_000), 86_400_000);
        assert!(clock.now() - before >= chrono::Duration::days(1));
        assert_eq!(clock.advance_ms(-5_000), 86_400_000);
        let shared = clock.clone();
        shared.advance_ms(1_000);
        assert_eq!(clock.offset_ms(), 86_401_000);
    }
}
