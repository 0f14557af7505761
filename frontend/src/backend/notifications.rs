//! The inbox's types, as the server's notifications endpoints speak them (`GET /notifications`,
//! `GET /notifications/unread-count`, `POST /notifications/{id}/read`): the shared crate's own.

pub use nene_shared::notifications::{
    DeliveryState, Notification, NotificationId, NotificationKind, NotificationQuery, UnreadCount,
};
