//! The points ledger as clients see it: wallet balance, history entries with the lots they touched, and the
//! invariant report admins read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Points;

/// Why points moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferKind {
    /// Points bought by card.
    Charge,
    /// A stake put into a challenge's escrow.
    Stake,
    /// A stake given back (leave, cancelled challenge, a winner's own stake).
    StakeRefund,
    /// A winner's prize share.
    Payout,
    /// Stakes of those who failed, when nobody won.
    Forfeit,
    Bonus,
    Purchase,
    PurchaseRefund,
    /// Unspent charged points paid back to the card.
    CashRefund,
    Adjustment,
}

impl TransferKind {
    pub const ALL: [TransferKind; 10] = [
        TransferKind::Charge,
        TransferKind::Stake,
        TransferKind::StakeRefund,
        TransferKind::Payout,
        TransferKind::Forfeit,
        TransferKind::Bonus,
        TransferKind::Purchase,
        TransferKind::PurchaseRefund,
        TransferKind::CashRefund,
        TransferKind::Adjustment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Charge => "CHARGE",
            TransferKind::Stake => "STAKE",
            TransferKind::StakeRefund => "STAKE_REFUND",
            TransferKind::Payout => "PAYOUT",
            TransferKind::Forfeit => "FORFEIT",
            TransferKind::Bonus => "BONUS",
            TransferKind::Purchase => "PURCHASE",
            TransferKind::PurchaseRefund => "PURCHASE_REFUND",
            TransferKind::CashRefund => "CASH_REFUND",
            TransferKind::Adjustment => "ADJUSTMENT",
        }
    }

    pub fn parse(s: &str) -> Option<TransferKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a lot's points came from. Only CHARGE lots can be refunded as cash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LotSource {
    Charge,
    Reward,
}

impl LotSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LotSource::Charge => "CHARGE",
            LotSource::Reward => "REWARD",
        }
    }

    pub fn parse(s: &str) -> Option<LotSource> {
        match s {
            "CHARGE" => Some(LotSource::Charge),
            "REWARD" => Some(LotSource::Reward),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wallet {
    pub balance: Points,
    /// The part of the balance that can still be paid back to a card (unspent charged points).
    pub refundable_cash: Points,
}

/// What one entry did to one lot: negative when consumed or refunded, positive when created or restored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotMove {
    pub lot_id: i64,
    pub source: LotSource,
    pub delta: Points,
}

/// One line of a wallet's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WalletEntry {
    /// 1, 2, 3… per wallet, never reused: a sync cursor.
    pub seq: i64,
    pub kind: TransferKind,
    /// Signed: negative when points left the wallet.
    pub amount: Points,
    pub balance_after: Points,
    /// The order, challenge or purchase this entry belongs to.
    pub reference: String,
    pub lots: Vec<LotMove>,
    pub created_at: DateTime<Utc>,
}

/// One invariant and whether it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvariantCheck {
    pub name: String,
    pub ok: bool,
    /// Figures behind the verdict (totals, or the first offenders).
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LedgerReport {
    pub ok: bool,
    pub checks: Vec<InvariantCheck>,
}
