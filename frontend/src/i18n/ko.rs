//! 한국어 — the product's first language. Words follow the team's glossary (챌린지, 참가비, 인증, 달성률, 정산, 상금…).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use nene_shared::challenges::{AppealStatus, Category, ChallengeStatus, Outcome, ProofType, Weekday};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::moderation::{CaseKind, DecisionAction};
use nene_shared::payments::OrderStatus;
use nene_shared::sync::IntentKind;
use nene_shared::{ErrorCode, FieldCode};

use super::Texts;
use crate::charts::DayState;

pub const KO: Texts = Texts {
    app_name: "네네 챌린지",
    tagline: "내 돈, 네 돈 — 끝까지 해낸 사람이 가져가요",
    language: "언어",
    language_name: "한국어",
    loading: "불러오는 중…",
    retry: "다시 시도",
    back: "뒤로",
    cancel: "취소",
    confirm: "확인",
    working: "처리 중…",
    sending: "보내는 중…",
    save: "저장",
    saved: "저장했어요",
    not_found: "찾는 화면이 없어요",
    go_home: "홈으로",
    nav_label: "주요 메뉴",
    tab_home: "홈",
    tab_explore: "탐색",
    tab_create: "만들기",
    tab_wallet: "지갑",
    tab_profile: "내 정보",
    inbox_title: "알림",
    unread: "읽지 않음",
    sign_in: "로그인",
    sign_up: "회원가입",
    email: "이메일",
    password: "비밀번호",
    nickname: "닉네임",
    nickname_hint: "2~12자, 글자·숫자·_·-",
    password_hint: "8~64자",
    no_account: "처음이신가요?",
    have_account: "이미 계정이 있나요?",
    hello: "{name}님, 오늘도 힘내요",
    balance: "잔액",
    my_challenges: "내 챌린지",
    no_challenges_yet: "아직 참여한 챌린지가 없어요",
    find_challenge: "챌린지 둘러보기",
    create_challenge: "챌린지 만들기",
    explore_title: "탐색",
    search: "검색",
    search_placeholder: "제목이나 설명으로 찾기",
    filter_status: "상태",
    filter_category: "분류",
    all_states: "모든 상태",
    all_categories: "모든 분류",
    min_stake: "최소 참가비",
    max_stake: "최대 참가비",
    no_results: "조건에 맞는 챌린지가 없어요",
    load_more: "더 보기",
    stake: "참가비",
    seats_left: "{n}자리 남음",
    people: "{n}명 참여",
    days_gone: "지난 날짜",
    starts_in: "{n}일 후 시작",
    starts_tomorrow: "내일 시작",
    starts_soon: "곧 시작",
    today_done: "오늘 인증 완료",
    today_not_yet: "오늘 아직 인증 전",
    today_rest: "오늘은 쉬는 날",
    today_todo: "오늘 인증 전 · {time} 남음",
    challenge: "챌린지",
    by_creator: "{name}님이 만듦",
    period: "기간",
    participants: "참여자",
    proof_type_label: "인증 방식",
    proof_days_label: "인증 요일",
    every_day: "매일",
    success_rule: "성공 기준",
    rule_threshold: "인증일 {total}일 중 {days}일({percent}%) 이상 인증하면 성공",
    today_rate: "오늘 인증률",
    live_rate: "오늘 {total}명 중 {done}명이 인증했어요",
    my_progress: "내 달성률 보기",
    my_progress_title: "내 달성률",
    settled_won: "정산 완료 — 성공했어요! {amount}를 받았어요.",
    settled_lost: "정산 완료 — 아쉽게 실패했어요. 참가비 {amount}는 성공한 사람들에게 돌아갔어요.",
    finished_success: "성공했어요!",
    finished_fail: "아쉽게 기준에 닿지 못했어요",
    submit_proof: "인증하기",
    pot_preview: "{n}명 중 {k}명이 성공하면 약 {amount}를 돌려받아요",
    pot_slider: "성공하는 사람 수",
    join_with_stake: "참가비 {amount} 내고 참여하기",
    leave: "나가기",
    confirm_join: "참가비를 내고 이 챌린지에 참여할까요? 실패하면 참가비는 성공한 사람들에게 돌아가요.",
    confirm_leave: "시작 전이라 나가면 참가비를 그대로 돌려받아요. 나갈까요?",
    charge_points: "포인트 충전",
    days_of: "{n} / {of}일",
    days_count: "{n}일 인증",
    off_track: "어려움",
    proof_feed: "인증 피드",
    feed_for_participants: "참여하면 다른 사람들의 인증을 볼 수 있어요",
    no_proofs_yet: "아직 인증이 없어요",
    proof_photo_of: "{name}님의 인증 사진",
    rejected: "반려",
    create_title: "챌린지 만들기",
    title: "제목",
    description: "설명",
    category_label: "분류",
    start_date: "시작일",
    end_date: "종료일",
    capacity: "정원",
    min_participants: "최소 인원",
    success_threshold: "성공 기준(%)",
    stake_hint: "{min} ~ {max}",
    threshold_hint: "인증일 중 이 비율 이상 인증하면 성공 (50~100)",
    create_and_join: "만들고 참여하기",
    confirm_create: "챌린지를 만들면 나도 바로 참여하고 참가비를 내요.",
    photo: "사진",
    photo_optional: "사진 (선택)",
    photo_preview: "고른 사진 미리보기",
    pick_photo: "눌러서 사진 고르기",
    note: "한마디",
    note_optional: "한마디 (선택)",
    note_placeholder: "오늘 어떻게 해냈는지 적어 주세요",
    chars_count: "{n} / {max}자",
    success_rate: "달성률",
    days_needed: "인증한 날 / 필요한 날",
    on_track: "이대로면 성공할 수 있어요",
    off_track_long: "남은 날을 모두 인증해도 기준에 닿기 어려워요",
    not_a_participant: "이 챌린지에 참여하고 있지 않아요",
    calendar_title: "인증 달력",
    rate_chart_title: "달성률 추이",
    rate_chart_empty: "첫 인증일이 지나면 그래프가 그려져요",
    threshold_line: "점선: 성공 기준 {percent}%",
    legend_proved: "인증",
    legend_rejected: "반려",
    legend_missed: "놓침",
    legend_upcoming: "남은 날",
    wallet_title: "지갑",
    refundable_cash: "카드로 환불 가능 {amount}",
    history: "내역",
    no_history: "아직 내역이 없어요",
    payments: "결제 내역",
    no_payments: "아직 카드 결제가 없어요",
    amount: "금액",
    charge: "충전하기",
    charge_range: "한 번에 {min} ~ {max}",
    confirm_charge: "이 금액을 카드로 충전할까요? 결제 창으로 이동해요.",
    balance_after: "잔액 {amount}",
    lots: "포인트 묶음 보기",
    refunded: "환불됨 {amount}",
    refund_amount: "{amount} 카드로 환불",
    confirm_refund: "쓰지 않은 충전 포인트를 카드로 돌려받을까요?",
    charging_amount: "{amount} 충전",
    charge_done: "충전했어요",
    charge_pending: "결제됐어요. 포인트가 곧 들어와요",
    charge_cancelled: "결제를 취소했어요",
    charge_failed: "결제가 완료되지 않았어요",
    to_wallet: "지갑으로",
    no_notifications: "새 알림이 없어요",
    profile_title: "내 정보",
    bio: "소개",
    sign_out: "로그아웃",
    queued_proof: "이 기기에 저장했어요. 서버에 연결되면 바로 보낼게요.",
    queued_join: "이 기기에 저장했어요. 서버에 연결되면 참여 요청을 보낼게요.",
    queued_leave: "이 기기에 저장했어요. 서버에 연결되면 나가기 요청을 보낼게요.",
    back_to_challenge: "챌린지로 돌아가기",
    waiting_actions: "보내기를 기다리는 일 {n}건",
    send_now: "지금 보내기",
    refused_action: "{kind} 요청이 거절됐어요: {reason}",
    dismiss: "확인",
    app_settings: "앱 설정",
    server_address: "서버 주소",
    server_address_default: "기본값 사용",
    server_address_hint: "다른 서버로 바꾸면 로그아웃되고, 이 기기에 저장된 기록과 아직 보내지 못한 인증도 지워져요. 주소는 https://로 시작해야 해요(이 컴퓨터의 서버만 http:// 가능).",
    sign_in_kept_in: "로그인 정보 보관: {store}",
    report: "신고",
    report_title: "이 인증을 신고할까요?",
    report_hint: "관리자가 검토하기 전까지 인증은 그대로 인정돼요. 챌린지 참여자는 인증을 직접 반려할 수 없어요.",
    reason: "사유",
    reason_placeholder: "무엇이 문제인지 적어 주세요",
    send_report: "신고하기",
    reported: "신고했어요. 관리자가 검토해요.",
    under_review: "검토 중",
    replaced: "다시 인증함",
    reject_reason_label: "반려 사유: {reason}",
    appeal: "이의 신청",
    appeal_title: "반려에 이의를 신청할까요?",
    appeal_hint: "이의 신청은 인증마다 한 번이에요. 그날이 아직 지나지 않았다면 다시 인증할 수도 있어요.",
    send_appeal: "이의 신청하기",
    settlement_waiting: "정산 대기 중: 신고 {reports}건, 이의 신청 {appeals}건을 검토하고 있어요. 늦어도 {until}에는 정산돼요.",
    settlement_waiting_appeals: "반려된 인증 {n}건은 {until}까지 이의 신청을 받을 수 있어서, 그때까지 기다려요.",
    appeal_until: "이의 신청 기한: {until}",
    moderation_title: "인증 검토",
    moderation_link: "인증 검토 (관리자)",
    queue_empty: "검토할 인증이 없어요",
    reports_count: "신고 {n}건",
    appeal_reason_label: "이의 신청 사유: {reason}",
    decide_by: "{time}까지 결정이 없으면 인증한 사람의 편으로 처리돼요",
    reject: "반려",
    dismiss_case: "인정 (기각)",
    decision_reason_placeholder: "결정 사유 (인증한 사람에게 전해져요)",
    cannot_decide: "참여 중인 챌린지라 결정할 수 없어요",
    decided: "결정했어요",
    decisions_title: "최근 결정",
    no_decisions: "아직 결정이 없어요",
    system_actor: "시스템",
    appeal_status: |s| match s {
        AppealStatus::Pending => "이의 신청을 검토하고 있어요",
        AppealStatus::Granted => "이의 신청이 받아들여졌어요",
        AppealStatus::Declined => "이의 신청이 받아들여지지 않았어요",
        AppealStatus::Withdrawn => "다시 인증해서 이의 신청을 거뒀어요",
    },
    case_kind: |k| match k {
        CaseKind::Report => "신고",
        CaseKind::Appeal => "이의 신청",
    },
    decision_action: |a, on_appeal| match (a, on_appeal) {
        (DecisionAction::Reject, false) => "반려",
        (DecisionAction::Reject, true) => "반려 유지",
        (DecisionAction::Dismiss, false) => "신고 기각",
        (DecisionAction::Dismiss, true) => "이의 인정",
    },
    intent_kind: |k| match k {
        IntentKind::Join => "참여",
        IntentKind::Leave => "나가기",
        IntentKind::Proof => "인증",
        IntentKind::Purchase => "구매",
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
        ErrorCode::MalformedJson | ErrorCode::MalformedBody => "요청을 읽을 수 없어요. 새로고침 후 다시 해 주세요.",
        ErrorCode::ValidationFailed => "입력한 내용을 확인해 주세요.",
        ErrorCode::Unauthenticated
        | ErrorCode::TokenInvalid
        | ErrorCode::TokenExpired
        | ErrorCode::TokenRevoked
        | ErrorCode::RefreshTokenInvalid
        | ErrorCode::RefreshTokenReused => "다시 로그인해 주세요.",
        ErrorCode::InvalidCredentials => "이메일 또는 비밀번호가 맞지 않아요.",
        ErrorCode::Forbidden => "이 작업을 할 권한이 없어요.",
        ErrorCode::NotFound => "찾을 수 없어요.",
        ErrorCode::MethodNotAllowed => "지원하지 않는 요청이에요.",
        ErrorCode::EmailTaken => "이미 가입된 이메일이에요.",
        ErrorCode::NicknameTaken => "이미 쓰이는 닉네임이에요.",
        ErrorCode::IdempotencyRequestInProgress => "같은 요청을 처리하고 있어요. 잠시 후 확인해 주세요.",
        ErrorCode::OrderNotConfirmable => "이미 처리된 결제예요.",
        ErrorCode::OrderNotRefundable => "환불할 수 없는 결제예요.",
        ErrorCode::ChallengeFull => "자리가 모두 찼어요.",
        ErrorCode::AlreadyJoined => "이미 참여한 챌린지예요.",
        ErrorCode::ChallengeNotRecruiting => "지금은 모집 중이 아니에요.",
        ErrorCode::NotAParticipant => "이 챌린지에 참여하고 있지 않아요.",
        ErrorCode::CreatorCannotLeave => "만든 사람은 나갈 수 없어요. 혼자일 때 챌린지를 지울 수 있어요.",
        ErrorCode::ChallengeNotEditable => "이제는 바꿀 수 없는 챌린지예요.",
        ErrorCode::ProofAlreadySubmitted => "오늘은 이미 인증했어요.",
        ErrorCode::AlreadyReported => "이미 신고한 인증이에요.",
        ErrorCode::ProofNotRejectable => "반려할 수 없는 인증이에요.",
        ErrorCode::ConflictOfInterest => "참여 중인 챌린지의 인증은 신고만 할 수 있어요. 판단은 관리자가 해요.",
        ErrorCode::ProofNotReportable => "지금은 신고할 수 없는 인증이에요.",
        ErrorCode::ProofNotAppealable => "반려된 인증만 이의 신청할 수 있어요.",
        ErrorCode::AppealAlreadyMade => "이의 신청은 한 번만 할 수 있어요.",
        ErrorCode::AppealWindowClosed => "이의 신청 기한이 지났어요.",
        ErrorCode::NoOpenCase => "검토할 신고나 이의 신청이 없어요.",
        ErrorCode::ModerationClosed => "이 챌린지의 검토 기간이 끝났어요.",
        ErrorCode::PayloadTooLarge => "파일이 너무 커요. 10MB 이하로 올려 주세요.",
        ErrorCode::UnsupportedMediaType => "보낼 수 없는 형식이에요.",
        ErrorCode::IdempotencyKeyReused => "이전 요청과 내용이 달라요. 새로고침 후 다시 해 주세요.",
        ErrorCode::IntentBodyChanged => "이전에 보낸 내용과 달라서 받을 수 없어요.",
        ErrorCode::AmountMismatch => "결제 금액이 주문과 달라요.",
        ErrorCode::InsufficientPoints => "포인트가 부족해요. 먼저 충전해 주세요.",
        ErrorCode::WalletLimitExceeded => "지갑에는 최대 10,000,000 P까지 담을 수 있어요.",
        ErrorCode::RefundExceedsUnspent => "이미 쓴 포인트는 환불할 수 없어요.",
        ErrorCode::PaymentFailed => "카드사에서 결제를 거절했어요.",
        ErrorCode::NotAProofDay => "오늘은 인증하는 날이 아니에요.",
        ErrorCode::ChallengeNotInProgress => "진행 중인 챌린지에만 인증할 수 있어요.",
        ErrorCode::InvalidPhoto => "사진을 읽을 수 없어요. JPEG, PNG, WebP 사진을 골라 주세요.",
        ErrorCode::ProofContentMissing => "이 챌린지에 필요한 인증 내용을 채워 주세요.",
        ErrorCode::PaymentProviderError => "결제사와 연결이 원활하지 않아요. 잠시 후 다시 해 주세요.",
        ErrorCode::TooManyRequests => "요청이 너무 많아요. 잠시 후 다시 해 주세요.",
        ErrorCode::AmountOutOfRange => "금액이 허용 범위를 벗어났어요.",
        ErrorCode::Internal => "서버에 문제가 생겼어요. 잠시 후 다시 해 주세요.",
        ErrorCode::Unavailable => "연결할 수 없어요. 인터넷 연결을 확인해 주세요.",
        ErrorCode::PaymentsDisabled => "지금은 결제를 할 수 없어요.",
        ErrorCode::PushDisabled => "이곳에서는 푸시 알림을 쓸 수 없어요. 알림함에서 모두 볼 수 있어요.",
        ErrorCode::StorageFull => "지금은 사진을 저장할 수 없어요. 글 인증과 다른 기능은 그대로 쓸 수 있어요.",
        ErrorCode::NotSupported => "아직 준비 중인 기능이에요.",
        ErrorCode::Unknown => "알 수 없는 문제가 생겼어요.",
    }
}

fn field(name: &str, code: FieldCode) -> &'static str {
    match (name, code) {
        ("start_date", FieldCode::TooShort) => "시작일은 내일 이후로 정해 주세요.",
        ("end_date", FieldCode::TooShort) => "종료일은 시작일 이후여야 해요.",
        ("end_date", FieldCode::TooLong) => "기간은 최대 56일까지예요.",
        ("stake", _) => "참가비는 1,000 P ~ 200,000 P 사이로 정해 주세요.",
        ("capacity", _) => "정원은 2명 ~ 10,000명이에요.",
        ("min_participants", _) => "최소 인원은 2명 이상, 정원 이하여야 해요.",
        ("success_threshold", _) => "성공 기준은 50 ~ 100% 사이예요.",
        ("proof_weekdays", _) => "인증 요일을 하루 이상 골라 주세요.",
        ("photo", FieldCode::Required) => "사진을 골라 주세요.",
        ("photo", FieldCode::TooLong) => "사진은 10MB 이하만 올릴 수 있어요.",
        ("photo", _) => "쓸 수 없는 사진이에요.",
        ("nickname", FieldCode::Invalid) => "닉네임에는 글자, 숫자, _, - 만 쓸 수 있어요.",
        ("nickname", FieldCode::Taken) => "이미 쓰이는 닉네임이에요.",
        ("email", FieldCode::Taken) => "이미 가입된 이메일이에요.",
        (_, FieldCode::Required) => "꼭 입력해 주세요.",
        (_, FieldCode::InvalidType) | (_, FieldCode::Invalid) => "올바르지 않은 값이에요.",
        (_, FieldCode::InvalidEmail) => "이메일 주소를 확인해 주세요.",
        (_, FieldCode::TooShort) => "너무 짧아요.",
        (_, FieldCode::TooLong) => "너무 길어요.",
        (_, FieldCode::Taken) => "이미 쓰이고 있어요.",
        (_, FieldCode::Unknown) => "다시 확인해 주세요.",
    }
}

fn status(s: ChallengeStatus) -> &'static str {
    match s {
        ChallengeStatus::Recruiting => "모집중",
        ChallengeStatus::Ready => "준비",
        ChallengeStatus::InProgress => "진행중",
        ChallengeStatus::Ended => "종료",
        ChallengeStatus::Cancelled => "취소",
    }
}

fn category(c: Category) -> &'static str {
    match c {
        Category::Health => "건강",
        Category::Study => "공부",
        Category::Habit => "습관",
        Category::Relationship => "관계",
        Category::Hobby => "취미",
        Category::Finance => "재테크",
        Category::Other => "기타",
    }
}

fn proof_type(p: ProofType) -> &'static str {
    match p {
        ProofType::Photo => "사진",
        ProofType::Text => "글",
        ProofType::Both => "사진 + 글",
    }
}

fn weekday_short(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "월",
        Weekday::Tue => "화",
        Weekday::Wed => "수",
        Weekday::Thu => "목",
        Weekday::Fri => "금",
        Weekday::Sat => "토",
        Weekday::Sun => "일",
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "성공",
        Outcome::Fail => "실패",
    }
}

fn transfer_kind(k: TransferKind) -> &'static str {
    match k {
        TransferKind::Charge => "충전",
        TransferKind::Stake => "참가비",
        TransferKind::StakeRefund => "참가비 반환",
        TransferKind::Payout => "상금",
        TransferKind::Forfeit => "몰수된 참가비",
        TransferKind::Bonus => "보너스",
        TransferKind::Purchase => "구매",
        TransferKind::PurchaseRefund => "구매 환불",
        TransferKind::CashRefund => "카드 환불",
        TransferKind::Adjustment => "조정",
    }
}

fn lot_source(s: LotSource) -> &'static str {
    match s {
        LotSource::Charge => "충전분",
        LotSource::Reward => "보상분",
    }
}

fn order_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Ready => "결제 대기",
        OrderStatus::Paid => "결제 완료 · 적립 중",
        OrderStatus::Credited => "적립 완료",
        OrderStatus::Failed => "결제 실패",
        OrderStatus::Unknown => "결과 확인 중",
        OrderStatus::PartiallyRefunded => "부분 환불",
        OrderStatus::Refunded => "환불 완료",
        OrderStatus::Cancelled => "취소됨",
    }
}

fn day_state(s: DayState) -> &'static str {
    match s {
        DayState::Rest => "쉬는 날",
        DayState::Upcoming => "남은 날",
        DayState::Today => "오늘",
        DayState::Proved => "인증",
        DayState::Rejected => "반려",
        DayState::Missed => "놓침",
    }
}

fn day(d: NaiveDate) -> String {
    let w = weekday_short(Weekday::from_chrono(d.weekday()));
    format!("{}월 {}일 ({w})", d.month(), d.day())
}

fn date_time(t: NaiveDateTime) -> String {
    format!("{}. {}. {}. {:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute())
}

fn duration(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}분"),
        (h, 0) => format!("{h}시간"),
        (h, m) => format!("{h}시간 {m}분"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_spans_read_naturally() {
        assert_eq!(day("2025-05-03".parse().unwrap()), "5월 3일 (토)");
        assert_eq!(duration(200), "3시간 20분");
        assert_eq!(duration(45), "45분");
        assert_eq!(duration(120), "2시간");
    }
}
