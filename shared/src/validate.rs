//! Validated input values ("parse, don't validate"). The server parses every request field into one of these before
//! anything is written; the UI uses the same rules to speak up before a request is sent.

use serde::{Deserialize, Serialize};

use crate::error::FieldCode;

/// Lengths are counted in characters (Korean nicknames are three bytes a character in UTF-8).
fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// An email address, trimmed and lower-cased so that one mailbox is one account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldCode> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(FieldCode::Required);
        }
        if char_len(&s) > Self::MAX_LEN {
            return Err(FieldCode::TooLong);
        }
        // `email_address` follows RFC 5322; on top of it we require a dot in the domain, since a bare host name is
        // never a deliverable address for our users.
        let ok = email_address::EmailAddress::is_valid(&s)
            && s.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
        if ok { Ok(Self(s)) } else { Err(FieldCode::InvalidEmail) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8 to 64 characters. It is hashed at once and never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, FieldCode> {
        let n = char_len(raw);
        if n == 0 {
            Err(FieldCode::Required)
        } else if n < Self::MIN_LEN {
            Err(FieldCode::TooShort)
        } else if n > Self::MAX_LEN {
            Err(FieldCode::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A public name: 2 to 12 characters, letters (any script), digits, `_` and `-`; unique among users regardless of
/// letter case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nickname(String);

impl Nickname {
    pub const MIN_LEN: usize = 2;
    pub const MAX_LEN: usize = 12;

    pub fn parse(raw: &str) -> Result<Self, FieldCode> {
        let s = raw.trim();
        let n = char_len(s);
        if n == 0 {
            return Err(FieldCode::Required);
        }
        if n < Self::MIN_LEN {
            return Err(FieldCode::TooShort);
        }
        if n > Self::MAX_LEN {
            return Err(FieldCode::TooLong);
        }
        if !s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return Err(FieldCode::Invalid);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A short self-description: up to 300 characters, may be empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bio(String);

impl Bio {
    pub const MAX_LEN: usize = 300;

    pub fn parse(raw: &str) -> Result<Self, FieldCode> {
        let s = raw.trim();
        if char_len(s) > Self::MAX_LEN { Err(FieldCode::TooLong) } else { Ok(Self(s.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(Email::parse("  Kim@Example.COM ").unwrap().as_str(), "kim@example.com");
        assert_eq!(Email::parse(""), Err(FieldCode::Required));
        assert_eq!(Email::parse("no-at-sign"), Err(FieldCode::InvalidEmail));
        assert_eq!(Email::parse("a@localhost"), Err(FieldCode::InvalidEmail));
        assert_eq!(Email::parse("a b@example.com"), Err(FieldCode::InvalidEmail));
    }

    #[test]
    fn password_length_is_counted_in_characters() {
        assert_eq!(Password::parse("1234567"), Err(FieldCode::TooShort));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"가".repeat(64)).is_ok());
        assert_eq!(Password::parse(&"a".repeat(65)), Err(FieldCode::TooLong));
        assert_eq!(format!("{:?}", Password::parse("secret-words").unwrap()), "Password(***)");
    }

    #[test]
    fn nickname_rules() {
        assert_eq!(Nickname::parse("네네").unwrap().as_str(), "네네");
        assert_eq!(Nickname::parse("a"), Err(FieldCode::TooShort));
        assert_eq!(Nickname::parse("열세글자열세글자열세글자열"), Err(FieldCode::TooLong));
        assert_eq!(Nickname::parse("no spaces"), Err(FieldCode::Invalid));
        assert_eq!(Nickname::parse("Runner_01").unwrap().key(), "runner_01");
    }

    #[test]
    fn bio_is_limited() {
        assert!(Bio::parse("").is_ok());
        assert!(Bio::parse(&"가".repeat(300)).is_ok());
        assert_eq!(Bio::parse(&"가".repeat(301)), Err(FieldCode::TooLong));
    }
}
