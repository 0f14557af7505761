//! Challenges: people stake points on a habit, prove it each day, and split the stakes of those who gave up.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::UserId;
use crate::money::Points;

crate::id_type!(
    /// A challenge.
    ChallengeId
);
crate::id_type!(
    /// One day's proof by one participant.
    ProofId
);

/// Declares a wire enum (SCREAMING_SNAKE_CASE) with `as_str`/`parse` for storage.
///
/// The wire names come from the enum-level `rename_all`, which serde and the OpenAPI schema both read; a per-variant
/// `rename` built from a macro literal is lost on the schema side. `wire_names_match_storage_names` keeps each
/// variant's `$text` equal to its wire name.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

wire_enum!(
    /// What a challenge is about.
    Category { Health = "HEALTH", Study = "STUDY", Habit = "HABIT", Relationship = "RELATIONSHIP", Hobby = "HOBBY",
        Finance = "FINANCE", Other = "OTHER" }
);

wire_enum!(
    /// What a day's proof must contain.
    ProofType { Photo = "PHOTO", Text = "TEXT", Both = "BOTH" }
);

wire_enum!(
    /// 모집중 → 준비 → 진행중 → 종료, or 취소.
    ChallengeStatus { Recruiting = "RECRUITING", Ready = "READY", InProgress = "IN_PROGRESS", Ended = "ENDED",
        Cancelled = "CANCELLED" }
);

wire_enum!(
    Weekday { Mon = "MON", Tue = "TUE", Wed = "WED", Thu = "THU", Fri = "FRI", Sat = "SAT", Sun = "SUN" }
);

wire_enum!(
    ProofStatus { Accepted = "ACCEPTED", Rejected = "REJECTED" }
);

wire_enum!(
    /// Where the owner's appeal against a rejection stands: waiting for an administrator, granted (the proof counts
    /// again), declined (the rejection stands), or withdrawn by proving the day again.
    AppealStatus { Pending = "PENDING", Granted = "GRANTED", Declined = "DECLINED", Withdrawn = "WITHDRAWN" }
);

wire_enum!(
    /// Why settlement waits after the end: proofs of the challenge are still under review.
    SettlementWaitReason { Moderation = "MODERATION" }
);

wire_enum!(
    /// A participant's result at settlement.
    Outcome { Success = "SUCCESS", Fail = "FAIL" }
);

impl Weekday {
    /// Monday = 0 … Sunday = 6, as a bit position in a weekday mask.
    pub fn index(self) -> u32 {
        match self {
            Weekday::Mon => 0,
            Weekday::Tue => 1,
            Weekday::Wed => 2,
            Weekday::Thu => 3,
            Weekday::Fri => 4,
            Weekday::Sat => 5,
            Weekday::Sun => 6,
        }
    }

    pub fn from_chrono(day: chrono::Weekday) -> Weekday {
        Weekday::ALL[day.num_days_from_monday() as usize]
    }
}

/// Limits from the product's rules.
pub mod limits {
    use crate::money::Points;

    pub const TITLE_MAX: usize = 60;
    pub const DESCRIPTION_MAX: usize = 2_000;
    pub const MIN_DAYS: i64 = 1;
    pub const MAX_DAYS: i64 = 56;
    /// The furthest ahead a challenge may start, in days after today: people plan a season ahead, not decades.
    pub const MAX_START_AHEAD_DAYS: i64 = 365;
    pub const MIN_STAKE: Points = Points::new(1_000);
    pub const MAX_STAKE: Points = Points::new(200_000);
    pub const MIN_CAPACITY: i64 = 2;
    pub const MAX_CAPACITY: i64 = 10_000;
    pub const DEFAULT_MIN_PARTICIPANTS: i64 = 2;
    pub const MIN_THRESHOLD: i64 = 50;
    pub const MAX_THRESHOLD: i64 = 100;
    pub const DEFAULT_THRESHOLD: i64 = 85;
    pub const DEFAULT_TIMEZONE: &str = "Asia/Seoul";
    pub const PROOF_TEXT_MAX: usize = 1_000;
    pub const REASON_MAX: usize = 300;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateChallengeRequest {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub category: Category,
    pub proof_type: ProofType,
    /// `YYYY-MM-DD` in the challenge's time zone; the challenge starts at 00:00 that day.
    pub start_date: String,
    /// `YYYY-MM-DD`, the last day (1 to 56 days in all).
    pub end_date: String,
    /// IANA name; `Asia/Seoul` by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Days that need a proof; every day by default.
    #[serde(default)]
    pub proof_weekdays: Option<Vec<Weekday>>,
    pub stake: Points,
    pub capacity: i64,
    #[serde(default)]
    pub min_participants: Option<i64>,
    /// Percent of proof days needed to succeed (50 to 100, default 85).
    #[serde(default)]
    pub success_threshold: Option<i64>,
}

/// Changes by the creator while alone and recruiting. Fields left out stay as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateChallengeRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<Category>,
    pub proof_type: Option<ProofType>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub timezone: Option<String>,
    pub proof_weekdays: Option<Vec<Weekday>>,
    pub capacity: Option<i64>,
    pub min_participants: Option<i64>,
    pub success_threshold: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub id: UserId,
    pub nickname: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    pub id: ChallengeId,
    pub creator: UserSummary,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub proof_type: ProofType,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub timezone: String,
    pub proof_weekdays: Vec<Weekday>,
    /// How many days between start and end need a proof.
    pub proof_days: i64,
    /// Accepted proof days a participant needs to succeed.
    pub required_days: i64,
    pub stake: Points,
    pub capacity: i64,
    pub min_participants: i64,
    pub success_threshold: i64,
    pub status: ChallengeStatus,
    pub participant_count: i64,
    pub seats_left: i64,
    /// Grows with every change (the app's sync cursor for this challenge).
    pub version: i64,
    /// Whether the caller takes part.
    pub joined: bool,
    pub created_at: DateTime<Utc>,
    /// Set once the challenge has ended while proofs of it are still under review: settlement waits for those
    /// decisions, at most until `until`.
    #[serde(default)]
    pub settlement_waiting: Option<SettlementWaiting>,
}

/// Why and until when a challenge's settlement waits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettlementWaiting {
    pub reason: SettlementWaitReason,
    /// Reported proofs waiting for a decision.
    pub open_reports: i64,
    /// Appealed rejections waiting for a decision.
    pub open_appeals: i64,
    /// After this the system decides what is still open (reports dismissed, appealed proofs restored) and settles.
    pub until: DateTime<Utc>,
    /// Rejected proofs whose owners may still appeal: settlement waits for that chance.
    #[serde(default)]
    pub possible_appeals: i64,
    /// When the last of those appeal windows closes (never after `until`); `None` when there are none.
    #[serde(default)]
    pub appeals_until: Option<DateTime<Utc>>,
}

/// `GET /challenges` filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct ChallengeQuery {
    pub status: Option<ChallengeStatus>,
    pub category: Option<Category>,
    /// Words in the title or description.
    pub q: Option<String>,
    pub min_stake: Option<i64>,
    pub max_stake: Option<i64>,
    /// Only challenges the caller takes part in.
    pub mine: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Participant {
    pub user: UserSummary,
    pub joined_at: DateTime<Utc>,
    pub stake: Points,
    pub accepted_days: i64,
    pub outcome: Option<Outcome>,
    /// What settlement paid: own stake back plus the prize share (winners), 0 otherwise.
    pub payout: Option<Points>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParticipantProgress {
    pub user: UserSummary,
    pub accepted_days: i64,
    pub rejected_days: i64,
    pub today_done: bool,
    /// Can still reach the required days with the proof days left.
    pub on_track: bool,
    /// Accepted proof days (`YYYY-MM-DD`), for the proof calendar.
    pub proved_days: Vec<NaiveDate>,
}

/// Live figures, always computed from the rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub challenge_id: ChallengeId,
    pub status: ChallengeStatus,
    /// Today in the challenge's time zone (by the server's clock).
    pub today: NaiveDate,
    pub today_is_proof_day: bool,
    pub proof_days: i64,
    pub proof_days_elapsed: i64,
    pub required_days: i64,
    pub participant_count: i64,
    pub today_proofs: i64,
    /// Today's proofs per participant, in percent (0 to 100).
    pub today_rate_percent: i64,
    pub participants: Vec<ParticipantProgress>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proof {
    pub id: ProofId,
    pub challenge_id: ChallengeId,
    pub user: UserSummary,
    pub day: NaiveDate,
    pub text: Option<String>,
    /// `/api/v1/proofs/{id}/photo` when there is a photo.
    pub photo_url: Option<String>,
    pub thumbnail_url: Option<String>,
    pub status: ProofStatus,
    pub reject_reason: Option<String>,
    pub report_count: i64,
    pub created_at: DateTime<Utc>,
    /// Reported or appealed, and waiting for an administrator's decision. A reported proof counts meanwhile.
    #[serde(default)]
    pub under_review: bool,
    /// A rejected proof whose day was proved again: the newer proof is the day's.
    #[serde(default)]
    pub replaced: bool,
    /// The owner's appeal against the rejection, if any (one per proof).
    #[serde(default)]
    pub appeal: Option<ProofAppeal>,
    /// Until when the owner may appeal this rejection: set on a rejected proof not appealed (nor proved again) yet.
    #[serde(default)]
    pub appeal_until: Option<DateTime<Utc>>,
}

/// The owner's appeal against a rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofAppeal {
    pub reason: String,
    pub status: AppealStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct ProofQuery {
    /// Only proofs of this day (`YYYY-MM-DD`).
    pub day: Option<NaiveDate>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Why a proof is reported, rejected, dismissed or appealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReasonRequest {
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage uses `as_str`/`parse`, the wire uses serde: they must name every variant alike.
    #[test]
    fn wire_names_match_storage_names() {
        fn check<T: Copy + Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
        ) {
            for &v in all {
                let wire = serde_json::to_value(v).expect("serialises");
                assert_eq!(wire, serde_json::Value::String(as_str(v).to_owned()), "{v:?}");
                assert_eq!(serde_json::from_value::<T>(wire).expect("parses"), v);
            }
        }
        check(Category::ALL, Category::as_str);
        check(ProofType::ALL, ProofType::as_str);
        check(ChallengeStatus::ALL, ChallengeStatus::as_str);
        check(Weekday::ALL, Weekday::as_str);
        check(ProofStatus::ALL, ProofStatus::as_str);
        check(Outcome::ALL, Outcome::as_str);
    }
}
