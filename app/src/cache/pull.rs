//! Applying one page of a pull: every row and the new cursor in one transaction, so a crash or a lost next page can
//! never leave rows without their cursor (or a cursor past rows it does not have). Rows are upserts by the server's
//! numbers and versions, so applying a page twice changes nothing.

use nene_shared::sync::PullResponse;
use serde::{Deserialize, Serialize};

use super::{Cache, CacheResult, challenges, meta, notifications, wallet};

/// What a pull brought that the cache did not have.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullApplied {
    /// Pages fetched.
    pub pages: usize,
    /// Rows received, new or not (equal to the new ones when the cursor works).
    pub wallet_entries_received: usize,
    pub new_wallet_entries: usize,
    pub new_notifications: usize,
    pub challenges_updated: usize,
}

impl PullApplied {
    pub(crate) fn add(&mut self, other: &PullApplied) {
        self.pages += other.pages;
        self.wallet_entries_received += other.wallet_entries_received;
        self.new_wallet_entries += other.new_wallet_entries;
        self.new_notifications += other.new_notifications;
        self.challenges_updated += other.challenges_updated;
    }
}

impl Cache {
    pub(crate) fn apply_pull(&self, page: &PullResponse) -> CacheResult<PullApplied> {
        self.write(|tx| {
            let mut out = PullApplied { pages: 1, ..PullApplied::default() };
            wallet::set_wallet(tx, &page.wallet)?;
            for entry in &page.wallet_entries {
                out.wallet_entries_received += 1;
                out.new_wallet_entries += usize::from(wallet::put_entry(tx, entry)?);
            }
            for item in &page.notifications {
                out.new_notifications += usize::from(notifications::put(tx, item)?);
            }
            for snapshot in &page.challenges {
                out.challenges_updated += usize::from(challenges::upsert(tx, snapshot)?);
            }
            meta::set(tx, meta::CURSOR, &page.cursor)?;
            Ok(out)
        })
    }
}
