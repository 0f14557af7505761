//! Dev mode: the zero-set-up demo. Seeds demo accounts with welcome points and a few recruiting challenges, so a
//! newcomer sees a living app on first start. Everything here is idempotent: restarts duplicate nothing.

use chrono::Utc;
use nene_shared::auth::SignupRequest;
use nene_shared::challenges::{Category, CreateChallengeRequest, ProofType};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};

use crate::app::AppState;
use crate::error::ApiError;
use crate::ledger::{self, AccountId};
use crate::{accounts, challenges, store};

/// The demo accounts' shared password, printed in the log at start.
pub const DEMO_PASSWORD: &str = "nene-demo-1234";

const DEMO_USERS: &[(&str, &str)] =
    &[("nene@demo.nene.app", "네네"), ("runner@demo.nene.app", "달리기왕"), ("reader@demo.nene.app", "책벌레")];

/// Welcome points for each demo account: a bonus from the platform reserve (a reward, so not cash-refundable).
const WELCOME_POINTS: Points = Points::new(100_000);
const SEEDED_KEY: &str = "dev_seeded_challenges";

pub async fn seed(state: &AppState) -> Result<(), ApiError> {
    let mut users = Vec::new();
    for (email, nickname) in DEMO_USERS {
        let mut tx = state.db.begin_read().await?;
        let existing = store::users::find_credentials(&mut tx, email).await?;
        drop(tx);
        let id = match existing {
            Some((user, _)) => UserId::from_uuid(user.id),
            None => {
                let req = SignupRequest {
                    email: (*email).to_owned(),
                    password: DEMO_PASSWORD.to_owned(),
                    nickname: (*nickname).to_owned(),
                    client: None,
                };
                accounts::signup(state, req).await?.user.id
            }
        };
        let now = Utc::now().timestamp_millis();
        let mut tx = state.db.begin_write().await?;
        ledger::credit_lot(
            &mut tx,
            &format!("welcome:{id}"),
            TransferKind::Bonus,
            &AccountId::platform_reserve(),
            id,
            WELCOME_POINTS,
            LotSource::Reward,
            None,
            "welcome",
            now,
        )
        .await?;
        tx.commit().await?;
        users.push(id);
    }

    let mut tx = state.db.begin_read().await?;
    let seeded = store::settings::get(&mut tx, SEEDED_KEY).await?.is_some();
    drop(tx);
    if !seeded {
        seed_challenges(state, &users).await?;
        let mut tx = state.db.begin_write().await?;
        store::settings::put(&mut tx, SEEDED_KEY, "1").await?;
        tx.commit().await?;
    }
    tracing::info!(
        users = ?DEMO_USERS.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        password = DEMO_PASSWORD,
        "dev mode: demo accounts and challenges ready"
    );
    Ok(())
}

async fn seed_challenges(state: &AppState, users: &[UserId]) -> Result<(), ApiError> {
    let tz = chrono_tz::Asia::Seoul;
    let today = state.clock.now().with_timezone(&tz).date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let demos = [
        (
            1,
            "매일 30분 달리기",
            "하루 30분, 달린 기록을 사진으로 남겨요.",
            Category::Health,
            ProofType::Photo,
            14,
            10_000,
            10,
        ),
        (2, "하루 20쪽 책 읽기", "읽은 쪽과 한 줄 감상을 남겨요.", Category::Study, ProofType::Text, 7, 5_000, 20),
        (0, "물 2리터 마시기", "오늘 마신 물을 기록해요.", Category::Habit, ProofType::Both, 21, 3_000, 50),
    ];
    for (creator, title, description, category, proof_type, days, stake, capacity) in demos {
        let Some(&creator) = users.get(creator) else { continue };
        let req = CreateChallengeRequest {
            title: title.into(),
            description: description.into(),
            category,
            proof_type,
            start_date: day(1),
            end_date: day(days),
            timezone: None,
            proof_weekdays: None,
            stake: Points::new(stake),
            capacity,
            min_participants: None,
            success_threshold: None,
        };
        let created = challenges::create(state, creator, req).await?;
        for other in users.iter().filter(|u| **u != creator).take(1) {
            challenges::join(state, *other, created.id).await?;
        }
    }
    Ok(())
}
