//! Dev-mode only: the domain clock that demos and tests move forward.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvanceClockRequest {
    /// Seconds to move the domain clock forward (never backward: schedules must not run twice).
    pub advance_secs: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockState {
    /// The domain clock's current time.
    pub now: DateTime<Utc>,
    /// How far it runs ahead of real time.
    pub offset_secs: i64,
}
