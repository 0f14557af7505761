//! Dev mode: the zero-set-up demo. Seeds demo accounts so a newcomer sees a living app on first start. Everything
//! here is idempotent, so restarts do not duplicate anything.

use nene_shared::auth::SignupRequest;

use crate::accounts;
use crate::app::AppState;
use crate::error::ApiError;
use crate::store;

/// The demo accounts' shared password, printed in the log at start.
pub const DEMO_PASSWORD: &str = "nene-demo-1234";

const DEMO_USERS: &[(&str, &str)] =
    &[("nene@demo.nene.app", "네네"), ("runner@demo.nene.app", "달리기왕"), ("reader@demo.nene.app", "책벌레")];

pub async fn seed(state: &AppState) -> Result<(), ApiError> {
    for (email, nickname) in DEMO_USERS {
        let mut tx = state.db.begin_read().await?;
        let exists = store::users::email_exists(&mut tx, email).await?;
        drop(tx);
        if !exists {
            let req = SignupRequest {
                email: (*email).to_owned(),
                password: DEMO_PASSWORD.to_owned(),
                nickname: (*nickname).to_owned(),
            };
            accounts::signup(state, req).await?;
        }
    }
    tracing::info!(
        users = ?DEMO_USERS.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        password = DEMO_PASSWORD,
        "dev mode: demo accounts ready"
    );
    Ok(())
}
