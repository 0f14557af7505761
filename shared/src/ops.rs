//! Operational answers: health and readiness.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthStatus {
    /// `ok` when alive; `ready` / `not_ready` from the readiness probe.
    pub status: String,
    pub version: String,
    /// From the readiness probe: the background workers that are not running now (being restarted after a panic).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers_down: Vec<String>,
}
