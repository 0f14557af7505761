//! English — the switch for people who prefer it. Same words as the Korean glossary (challenge, stake, proof,
//! success rate, settlement, prize…).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use nene_shared::challenges::{AppealStatus, Category, ChallengeStatus, Outcome, ProofType, Weekday};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::moderation::{CaseKind, DecisionAction};
use nene_shared::payments::OrderStatus;
use nene_shared::sync::IntentKind;
use nene_shared::{ErrorCode, FieldCode};

use super::Texts;
use crate::charts::DayState;

pub const EN: Texts = Texts {
    app_name: "NeNe Challenge",
    tagline: "My money, your money — those who keep going take the pot",
    language: "Language",
    language_name: "English",
    loading: "Loading…",
    retry: "Try again",
    back: "Back",
    cancel: "Cancel",
    confirm: "Confirm",
    working: "Working…",
    sending: "Sending…",
    save: "Save",
    saved: "Saved",
    not_found: "There is nothing at this address",
    go_home: "Go home",
    nav_label: "Main menu",
    tab_home: "Home",
    tab_explore: "Explore",
    tab_create: "Create",
    tab_wallet: "Wallet",
    tab_profile: "Me",
    inbox_title: "Notifications",
    unread: "Unread",
    sign_in: "Sign in",
    sign_up: "Sign up",
    email: "Email",
    password: "Password",
    nickname: "Nickname",
    nickname_hint: "2–12 characters: letters, digits, _ and -",
    password_hint: "8–64 characters",
    no_account: "New here?",
    have_account: "Already have an account?",
    hello: "Keep it up, {name}",
    balance: "Balance",
    my_challenges: "My challenges",
    no_challenges_yet: "You have not joined a challenge yet",
    find_challenge: "Explore challenges",
    create_challenge: "Create a challenge",
    explore_title: "Explore",
    search: "Search",
    search_placeholder: "Find by title or description",
    filter_status: "State",
    filter_category: "Category",
    all_states: "All states",
    all_categories: "All categories",
    min_stake: "Min stake",
    max_stake: "Max stake",
    no_results: "No challenge matches these filters",
    load_more: "Show more",
    stake: "Stake",
    seats_left: "{n} seats left",
    people: "{n} joined",
    days_gone: "Days gone",
    starts_in: "Starts in {n} days",
    starts_tomorrow: "Starts tomorrow",
    starts_soon: "Starting soon",
    today_done: "Proved today",
    today_not_yet: "Not proved yet today",
    today_rest: "No proof needed today",
    today_todo: "Proof due today · {time} left",
    challenge: "Challenge",
    by_creator: "by {name}",
    period: "Dates",
    participants: "Participants",
    proof_type_label: "Proof",
    proof_days_label: "Proof days",
    every_day: "Every day",
    success_rule: "To succeed",
    rule_threshold: "Prove at least {days} of {total} proof days ({percent}%)",
    today_rate: "Proved today",
    live_rate: "{done} of {total} people proved today",
    my_progress: "My progress",
    my_progress_title: "My progress",
    settled_won: "Settled — you made it! You got {amount}.",
    settled_lost: "Settled — you did not make it this time. Your {amount} stake went to those who did.",
    finished_success: "You made it!",
    finished_fail: "You did not reach the bar this time",
    submit_proof: "Submit proof",
    pot_preview: "If {k} of {n} succeed, you get about {amount} back",
    pot_slider: "How many succeed",
    join_with_stake: "Join for {amount}",
    leave: "Leave",
    confirm_join: "Pay the stake and join this challenge? If you fail, your stake goes to those who succeed.",
    confirm_leave: "It has not started yet, so leaving gives your stake back. Leave?",
    charge_points: "Charge points",
    days_of: "{n} / {of} days",
    days_count: "{n} days proved",
    off_track: "Behind",
    proof_feed: "Proofs",
    feed_for_participants: "Join to see the others' proofs",
    no_proofs_yet: "No proofs yet",
    proof_photo_of: "{name}'s proof photo",
    rejected: "Rejected",
    create_title: "Create a challenge",
    title: "Title",
    description: "Description",
    category_label: "Category",
    start_date: "Start date",
    end_date: "End date",
    capacity: "Capacity",
    min_participants: "Minimum people",
    success_threshold: "Success rate needed (%)",
    stake_hint: "{min} to {max}",
    threshold_hint: "Share of proof days needed to succeed (50–100)",
    create_and_join: "Create and join",
    confirm_create: "Creating a challenge joins you to it and pays your stake.",
    photo: "Photo",
    photo_optional: "Photo (optional)",
    photo_preview: "Preview of the chosen photo",
    pick_photo: "Tap to choose a photo",
    note: "Note",
    note_optional: "Note (optional)",
    note_placeholder: "How did it go today?",
    chars_count: "{n} / {max} characters",
    success_rate: "Success rate",
    days_needed: "Days proved / needed",
    on_track: "You are on track to succeed",
    off_track_long: "Even proving every day left may not be enough",
    not_a_participant: "You are not in this challenge",
    calendar_title: "Proof calendar",
    rate_chart_title: "Success rate over time",
    rate_chart_empty: "The chart starts after the first proof day",
    threshold_line: "Dashed line: the {percent}% needed",
    legend_proved: "Proved",
    legend_rejected: "Rejected",
    legend_missed: "Missed",
    legend_upcoming: "To come",
    wallet_title: "Wallet",
    refundable_cash: "Refundable to card: {amount}",
    history: "History",
    no_history: "No history yet",
    payments: "Card payments",
    no_payments: "No card payments yet",
    amount: "Amount",
    charge: "Charge",
    charge_range: "{min} to {max} at a time",
    confirm_charge: "Charge this amount by card? The payment window opens next.",
    balance_after: "Balance {amount}",
    lots: "Point lots",
    refunded: "Refunded {amount}",
    refund_amount: "Refund {amount} to card",
    confirm_refund: "Pay the unspent charged points back to your card?",
    charging_amount: "Charging {amount}",
    charge_done: "Points charged",
    charge_pending: "Paid. Your points arrive in a moment",
    charge_cancelled: "You cancelled the payment",
    charge_failed: "The payment did not go through",
    to_wallet: "Go to wallet",
    no_notifications: "No notifications",
    profile_title: "Me",
    bio: "About me",
    sign_out: "Sign out",
    queued_proof: "Saved on this device. It will be sent as soon as the server can be reached.",
    queued_join: "Saved on this device: your join is sent as soon as the server can be reached.",
    queued_leave: "Saved on this device: leaving is sent as soon as the server can be reached.",
    back_to_challenge: "Back to the challenge",
    waiting_actions: "{n} waiting to be sent",
    send_now: "Send now",
    refused_action: "{kind} was refused: {reason}",
    dismiss: "OK",
    app_settings: "App",
    server_address: "Server address",
    server_address_default: "Use the default",
    server_address_hint: "Moving to another server signs you out and clears what this device kept, including anything not sent yet. The address must start with https:// (http:// only for a server on this computer).",
    sign_in_kept_in: "Sign-in kept in: {store}",
    report: "Report",
    report_title: "Report this proof?",
    report_hint: "The proof keeps counting until an administrator reviews it. Nobody in the challenge can reject a proof themselves.",
    reason: "Reason",
    reason_placeholder: "What is wrong with it?",
    send_report: "Send report",
    reported: "Reported. An administrator will review it.",
    under_review: "Under review",
    replaced: "Proved again",
    reject_reason_label: "Rejected because: {reason}",
    appeal: "Appeal",
    appeal_title: "Appeal this rejection?",
    appeal_hint: "You can appeal once per proof. If the day is not over yet, you can also simply prove it again.",
    send_appeal: "Send appeal",
    settlement_waiting: "Settlement is waiting: {reports} reported and {appeals} appealed proofs are under review. It happens by {until} at the latest.",
    settlement_waiting_appeals: "{n} rejected proofs may still be appealed until {until}; settlement waits for that.",
    appeal_until: "Appeal by {until}",
    moderation_title: "Proof review",
    moderation_link: "Proof review (admin)",
    queue_empty: "Nothing to review",
    reports_count: "{n} reports",
    appeal_reason_label: "Appeal: {reason}",
    decide_by: "Undecided by {time}, it is settled in favour of the person who proved",
    reject: "Reject",
    dismiss_case: "Counts (dismiss)",
    decision_reason_placeholder: "Reason for the decision (the person who proved is told)",
    cannot_decide: "You take part in this challenge, so you cannot decide",
    decided: "Decided",
    decisions_title: "Recent decisions",
    no_decisions: "No decisions yet",
    system_actor: "System",
    appeal_status: |s| match s {
        AppealStatus::Pending => "Your appeal is being reviewed",
        AppealStatus::Granted => "Your appeal was granted",
        AppealStatus::Declined => "Your appeal was declined",
        AppealStatus::Withdrawn => "Appeal withdrawn: the day was proved again",
    },
    case_kind: |k| match k {
        CaseKind::Report => "Report",
        CaseKind::Appeal => "Appeal",
    },
    decision_action: |a, on_appeal| match (a, on_appeal) {
        (DecisionAction::Reject, false) => "Rejected",
        (DecisionAction::Reject, true) => "Rejection upheld",
        (DecisionAction::Dismiss, false) => "Reports dismissed",
        (DecisionAction::Dismiss, true) => "Appeal granted",
    },
    intent_kind: |k| match k {
        IntentKind::Join => "Joining",
        IntentKind::Leave => "Leaving",
        IntentKind::Proof => "A proof",
        IntentKind::Purchase => "A purchase",
    },
    error,
    field,
    status,
    category,
    proof_type,
    weekday_short,
    outcome,
    transfer_kind,
    lot_source,
    order_status,
    day_state,
    day,
    date_time,
    duration,
};

fn error(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::MalformedJson | ErrorCode::MalformedBody => "The request could not be read. Reload and try again.",
        ErrorCode::ValidationFailed => "Please check what you entered.",
        ErrorCode::Unauthenticated
        | ErrorCode::TokenInvalid
        | ErrorCode::TokenExpired
        | ErrorCode::TokenRevoked
        | ErrorCode::RefreshTokenInvalid
        | ErrorCode::RefreshTokenReused => "Please sign in again.",
        ErrorCode::InvalidCredentials => "Wrong email or password.",
        ErrorCode::Forbidden => "You are not allowed to do this.",
        ErrorCode::NotFound => "Not found.",
        ErrorCode::MethodNotAllowed => "This request is not supported.",
        ErrorCode::EmailTaken => "This email already has an account.",
        ErrorCode::NicknameTaken => "This nickname is taken.",
        ErrorCode::IdempotencyRequestInProgress => "The same request is still being handled. Check again shortly.",
        ErrorCode::OrderNotConfirmable => "This payment was already handled.",
        ErrorCode::OrderNotRefundable => "This payment cannot be refunded.",
        ErrorCode::ChallengeFull => "Every seat is taken.",
        ErrorCode::AlreadyJoined => "You already joined this challenge.",
        ErrorCode::ChallengeNotRecruiting => "This challenge is not taking people now.",
        ErrorCode::NotAParticipant => "You are not in this challenge.",
        ErrorCode::CreatorCannotLeave => "The creator cannot leave; while alone you can delete the challenge.",
        ErrorCode::ChallengeNotEditable => "This challenge can no longer be changed.",
        ErrorCode::ProofAlreadySubmitted => "You already proved today.",
        ErrorCode::AlreadyReported => "You already reported this proof.",
        ErrorCode::ProofNotRejectable => "This proof cannot be rejected.",
        ErrorCode::ConflictOfInterest => {
            "You take part in this challenge: you can report its proofs, and an administrator decides."
        }
        ErrorCode::ProofNotReportable => "This proof cannot be reported now.",
        ErrorCode::ProofNotAppealable => "Only a rejected proof can be appealed.",
        ErrorCode::AppealAlreadyMade => "A proof can be appealed only once.",
        ErrorCode::AppealWindowClosed => "The time to appeal this rejection has passed.",
        ErrorCode::NoOpenCase => "Nothing is open against this proof.",
        ErrorCode::ModerationClosed => "Review is closed for this challenge.",
        ErrorCode::PayloadTooLarge => "The file is too large. At most 10 MB.",
        ErrorCode::UnsupportedMediaType => "This kind of content cannot be sent.",
        ErrorCode::IdempotencyKeyReused => "This differs from the earlier request. Reload and try again.",
        ErrorCode::IntentBodyChanged => "This action was sent before with different content, so it was not taken.",
        ErrorCode::AmountMismatch => "The amount paid differs from the order.",
        ErrorCode::InsufficientPoints => "Not enough points. Charge some first.",
        ErrorCode::WalletLimitExceeded => "A wallet holds at most 10,000,000 P.",
        ErrorCode::RefundExceedsUnspent => "Points already spent cannot be refunded.",
        ErrorCode::PaymentFailed => "The card company declined the payment.",
        ErrorCode::NotAProofDay => "Today is not a proof day.",
        ErrorCode::ChallengeNotInProgress => "Proofs open when the challenge is in progress.",
        ErrorCode::InvalidPhoto => "This photo cannot be read. Choose a JPEG, PNG or WebP photo.",
        ErrorCode::ProofContentMissing => "Add what this challenge's proof needs.",
        ErrorCode::PaymentProviderError => "The payment company is not answering well. Try again shortly.",
        ErrorCode::TooManyRequests => "Too many requests. Try again shortly.",
        ErrorCode::AmountOutOfRange => "The amount is outside the allowed range.",
        ErrorCode::Internal => "Something went wrong on our side. Try again shortly.",
        ErrorCode::Unavailable => "Cannot connect. Check your connection.",
        ErrorCode::PaymentsDisabled => "Payments are not available right now.",
        ErrorCode::PushDisabled => "Push notifications are not available here; your inbox has everything.",
        ErrorCode::StorageFull => "Photos cannot be stored right now. Text proofs and everything else still work.",
        ErrorCode::NotSupported => "This is not available yet.",
        ErrorCode::Unknown => "Something unexpected happened.",
    }
}

fn field(name: &str, code: FieldCode) -> &'static str {
    match (name, code) {
        ("start_date", FieldCode::TooShort) => "Start tomorrow or later.",
        ("end_date", FieldCode::TooShort) => "The end must be after the start.",
        ("end_date", FieldCode::TooLong) => "A challenge lasts at most 56 days.",
        ("stake", _) => "The stake is 1,000 P to 200,000 P.",
        ("capacity", _) => "Capacity is 2 to 10,000 people.",
        ("min_participants", _) => "At least 2, and no more than the capacity.",
        ("success_threshold", _) => "Between 50 and 100%.",
        ("proof_weekdays", _) => "Choose at least one proof day.",
        ("photo", FieldCode::Required) => "Choose a photo.",
        ("photo", FieldCode::TooLong) => "Photos may be at most 10 MB.",
        ("photo", _) => "This photo cannot be used.",
        ("nickname", FieldCode::Invalid) => "Only letters, digits, _ and -.",
        ("nickname", FieldCode::Taken) => "This nickname is taken.",
        ("email", FieldCode::Taken) => "This email already has an account.",
        (_, FieldCode::Required) => "Required.",
        (_, FieldCode::InvalidType) | (_, FieldCode::Invalid) => "Not a valid value.",
        (_, FieldCode::InvalidEmail) => "Check the email address.",
        (_, FieldCode::TooShort) => "Too short.",
        (_, FieldCode::TooLong) => "Too long.",
        (_, FieldCode::Taken) => "Already taken.",
        (_, FieldCode::Unknown) => "Please check this.",
    }
}

fn status(s: ChallengeStatus) -> &'static str {
    match s {
        ChallengeStatus::Recruiting => "Recruiting",
        ChallengeStatus::Ready => "Ready",
        ChallengeStatus::InProgress => "In progress",
        ChallengeStatus::Ended => "Ended",
        ChallengeStatus::Cancelled => "Cancelled",
    }
}

fn category(c: Category) -> &'static str {
    match c {
        Category::Health => "Health",
        Category::Study => "Study",
        Category::Habit => "Habit",
        Category::Relationship => "Relationships",
        Category::Hobby => "Hobby",
        Category::Finance => "Finance",
        Category::Other => "Other",
    }
}

fn proof_type(p: ProofType) -> &'static str {
    match p {
        ProofType::Photo => "Photo",
        ProofType::Text => "Note",
        ProofType::Both => "Photo + note",
    }
}

fn weekday_short(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "Succeeded",
        Outcome::Fail => "Failed",
    }
}

fn transfer_kind(k: TransferKind) -> &'static str {
    match k {
        TransferKind::Charge => "Charge",
        TransferKind::Stake => "Stake",
        TransferKind::StakeRefund => "Stake back",
        TransferKind::Payout => "Prize",
        TransferKind::Forfeit => "Forfeited stakes",
        TransferKind::Bonus => "Bonus",
        TransferKind::Purchase => "Purchase",
        TransferKind::PurchaseRefund => "Purchase refund",
        TransferKind::CashRefund => "Card refund",
        TransferKind::Adjustment => "Adjustment",
    }
}

fn lot_source(s: LotSource) -> &'static str {
    match s {
        LotSource::Charge => "Charged",
        LotSource::Reward => "Reward",
    }
}

fn order_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Ready => "Waiting for payment",
        OrderStatus::Paid => "Paid · crediting",
        OrderStatus::Credited => "Credited",
        OrderStatus::Failed => "Failed",
        OrderStatus::Unknown => "Checking the outcome",
        OrderStatus::PartiallyRefunded => "Partly refunded",
        OrderStatus::Refunded => "Refunded",
        OrderStatus::Cancelled => "Cancelled",
    }
}

fn day_state(s: DayState) -> &'static str {
    match s {
        DayState::Rest => "No proof needed",
        DayState::Upcoming => "To come",
        DayState::Today => "Today",
        DayState::Proved => "Proved",
        DayState::Rejected => "Rejected",
        DayState::Missed => "Missed",
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn month(d: u32) -> &'static str {
    MONTHS.get(d.saturating_sub(1) as usize).copied().unwrap_or("")
}

fn day(d: NaiveDate) -> String {
    let w = weekday_short(Weekday::from_chrono(d.weekday()));
    format!("{w}, {} {}", month(d.month()), d.day())
}

fn date_time(t: NaiveDateTime) -> String {
    format!("{} {}, {} {:02}:{:02}", month(t.month()), t.day(), t.year(), t.hour(), t.minute())
}

fn duration(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_spans_read_naturally() {
        assert_eq!(day("2025-05-03".parse().unwrap()), "Sat, May 3");
        assert_eq!(duration(200), "3 h 20 min");
    }
}
