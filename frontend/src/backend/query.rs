//! Query strings: a serialisable filter (`ChallengeQuery`, `PageQuery`, …) turned into `key=value` pairs, and the
//! percent-encoding that puts them (and path segments) into a URL.

use serde::Serialize;

/// The fields of `query` that are set, as text, sorted by name (so a query always reads the same). Absent (`None`)
/// fields are left out.
pub fn pairs(query: &impl Serialize) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(query) else {
        return Vec::new();
    };
    let mut pairs: Vec<(String, String)> = fields
        .into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Some((key, text))
        })
        .collect();
    pairs.sort();
    pairs
}

/// `?a=1&b=x%20y`, or nothing when there are no pairs.
pub fn to_string(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    format!("?{}", joined.join("&"))
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use nene_shared::challenges::{ChallengeQuery, ChallengeStatus};

    use super::*;

    #[test]
    fn set_fields_become_pairs() {
        let q = ChallengeQuery {
            status: Some(ChallengeStatus::InProgress),
            q: Some("달리기 30분".into()),
            min_stake: Some(1000),
            mine: Some(true),
            ..Default::default()
        };
        let pairs = pairs(&q);
        assert_eq!(
            to_string(&pairs),
            "?min_stake=1000&mine=true&q=%EB%8B%AC%EB%A6%AC%EA%B8%B0%2030%EB%B6%84&status=IN_PROGRESS"
        );
    }

    #[test]
    fn nothing_set_means_no_query() {
        assert_eq!(to_string(&pairs(&ChallengeQuery::default())), "");
    }
}
