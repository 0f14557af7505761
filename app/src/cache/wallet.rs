//! The wallet as last synced: balance, refundable cash, history entries by their per-wallet number, and what queued
//! actions would still move.

use nene_shared::Points;
use nene_shared::ledger::{Wallet, WalletEntry};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Cache, CacheResult, now_ms};

/// The wallet for the screen: the server's figures plus the effect of actions still waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletView {
    pub wallet: Wallet,
    /// Points queued actions would move (joins' stakes out, negative; leaves' refunds in, positive) once applied.
    pub pending: Points,
    /// When the figures arrived (ms since the epoch).
    pub synced_at: i64,
}

impl Cache {
    /// The last synced wallet, or none before the first pull.
    pub fn wallet(&self) -> CacheResult<Option<WalletView>> {
        self.read(|c| {
            let row = c
                .query_row("SELECT balance, refundable_cash, updated_at FROM wallet WHERE id = 1", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .optional()?;
            let Some((balance, refundable, synced_at)) = row else { return Ok(None) };
            let pending: i64 = c.query_row(
                "SELECT COALESCE(SUM(amount), 0) FROM outbox WHERE status = 'PENDING' AND amount IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(Some(WalletView {
                wallet: Wallet { balance: Points::new(balance), refundable_cash: Points::new(refundable) },
                pending: Points::new(pending),
                synced_at,
            }))
        })
    }

    /// History, newest first: up to `limit` entries numbered below `before` (all when none).
    pub fn wallet_entries(&self, before: Option<i64>, limit: u32) -> CacheResult<Vec<WalletEntry>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT entry FROM wallet_entries WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2")?;
            let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for json in rows {
                out.push(serde_json::from_str(&json?)?);
            }
            Ok(out)
        })
    }

    /// How many history entries the cache holds, and the highest number among them.
    pub fn wallet_entry_span(&self) -> CacheResult<(i64, Option<i64>)> {
        self.read(|c| {
            Ok(c.query_row("SELECT COUNT(*), MAX(seq) FROM wallet_entries", [], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
    }
}

pub(super) fn set_wallet(c: &Connection, wallet: &Wallet) -> CacheResult<()> {
    c.execute(
        "INSERT INTO wallet (id, balance, refundable_cash, updated_at) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET balance = excluded.balance, refundable_cash = excluded.refundable_cash,
             updated_at = excluded.updated_at",
        params![wallet.balance.get(), wallet.refundable_cash.get(), now_ms()],
    )?;
    Ok(())
}

/// Stores an entry under its number; one already there is kept. Answers whether it was new.
pub(super) fn put_entry(c: &Connection, entry: &WalletEntry) -> CacheResult<bool> {
    // Ledger entries never change once written, so a number seen before is the same entry.
    let new = c.execute(
        "INSERT INTO wallet_entries (seq, entry) VALUES (?1, ?2) ON CONFLICT (seq) DO NOTHING",
        params![entry.seq, serde_json::to_string(entry)?],
    )?;
    Ok(new > 0)
}
