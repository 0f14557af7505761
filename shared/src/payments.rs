//! Charging points by card through TossPayments: orders, confirmation, refunds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Points;

/// Limits on one card payment.
pub const MIN_CHARGE: Points = Points::new(1_000);
pub const MAX_CHARGE: Points = Points::new(1_000_000);
/// The most a wallet may hold.
pub const MAX_WALLET_BALANCE: Points = Points::new(10_000_000);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateOrderRequest {
    pub amount: Points,
}

/// Everything the Toss payment widget needs to take the payment.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderCreated {
    pub order_id: String,
    pub order_name: String,
    pub amount: Points,
    /// Toss's `customerKey`: stable per user, not guessable.
    pub customer_key: String,
    /// The Toss client key the widget is opened with.
    pub client_key: String,
    /// In dev mode: the sandbox's payment page; the real widget script otherwise.
    pub checkout_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmRequest {
    pub payment_key: String,
    pub order_id: String,
    pub amount: Points,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelOrderRequest {
    /// Points to pay back; by default all that is still unspent from this charge.
    #[serde(default)]
    pub amount: Option<Points>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Created; waiting for the person to pay.
    Ready,
    /// Toss took the payment; the points are on their way (a moment).
    Paid,
    /// The points are in the wallet.
    Credited,
    /// The payment did not go through; nothing was charged.
    Failed,
    /// Sent to Toss, answer not known yet; the server is finding out.
    Unknown,
    PartiallyRefunded,
    Refunded,
    /// Taken by Toss but undone by us (the points could not be credited), or abandoned.
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Ready => "READY",
            OrderStatus::Paid => "PAID",
            OrderStatus::Credited => "CREDITED",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Unknown => "UNKNOWN",
            OrderStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            OrderStatus::Refunded => "REFUNDED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        [
            OrderStatus::Ready,
            OrderStatus::Paid,
            OrderStatus::Credited,
            OrderStatus::Failed,
            OrderStatus::Unknown,
            OrderStatus::PartiallyRefunded,
            OrderStatus::Refunded,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentFailure {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentOrder {
    pub order_id: String,
    pub order_name: String,
    pub amount: Points,
    pub status: OrderStatus,
    pub method: Option<String>,
    pub failure: Option<PaymentFailure>,
    /// Paid back to the card so far.
    pub refunded_amount: Points,
    /// What could still be paid back now (the unspent part of this charge).
    pub refundable_amount: Points,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    pub credited_at: Option<DateTime<Utc>>,
}
