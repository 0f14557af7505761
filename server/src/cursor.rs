//! Cursors for lists ordered newest first by (creation time, id): `<created_at millis>_<id>` of the last item a
//! page showed; or, for a list with a number of its own, that number. Opaque to clients; a malformed one is a 400
//! naming the `cursor` field.

use std::collections::BTreeMap;
use std::str::FromStr;

use nene_shared::FieldCode;

use crate::error::{ApiError, ApiResult};

/// Parses `?cursor=`; `None` (or empty) means the first page.
pub fn parse<Id: FromStr>(cursor: Option<&str>) -> ApiResult<Option<(i64, Id)>> {
    parse_with(cursor, |c| {
        let (at, id) = c.split_once('_')?;
        Some((at.parse::<i64>().ok()?, id.parse::<Id>().ok()?))
    })
}

/// Parses `?cursor=` of a list ordered by a number of its own (the inbox, by each person's notification number).
pub fn parse_number(cursor: Option<&str>) -> ApiResult<Option<i64>> {
    parse_with(cursor, |c| c.parse::<i64>().ok())
}

/// `None` (or empty) is the first page; anything `read` cannot make sense of is a 400 naming `cursor`.
fn parse_with<T>(cursor: Option<&str>, read: impl FnOnce(&str) -> Option<T>) -> ApiResult<Option<T>> {
    match cursor {
        None | Some("") => Ok(None),
        Some(c) => read(c)
            .map(Some)
            .ok_or_else(|| ApiError::validation(BTreeMap::from([("cursor".to_owned(), FieldCode::Invalid)]))),
    }
}

/// The cursor that continues after an item.
pub fn after(created_at: i64, id: impl std::fmt::Display) -> String {
    format!("{created_at}_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let id = uuid::Uuid::now_v7();
        let c = after(1_700_000_000_000, id);
        assert_eq!(parse::<uuid::Uuid>(Some(&c)).unwrap(), Some((1_700_000_000_000, id)));
        assert_eq!(parse::<String>(Some("12_nene_abc")).unwrap(), Some((12, "nene_abc".to_owned())));
        assert_eq!(parse::<uuid::Uuid>(None).unwrap(), None);
        assert_eq!(parse::<uuid::Uuid>(Some("")).unwrap(), None);
        assert!(parse::<uuid::Uuid>(Some("yesterday")).is_err());
        assert!(parse::<uuid::Uuid>(Some("12_not-a-uuid")).is_err());
        assert_eq!(parse_number(Some("42")).unwrap(), Some(42));
        assert_eq!(parse_number(None).unwrap(), None);
        assert!(parse_number(Some("1700000000000_0190")).is_err());
    }
}
