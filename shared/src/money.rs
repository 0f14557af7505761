//! Money. One point is one Korean won; amounts are whole numbers kept in an `i64` behind a newtype so that no float
//! and no unchecked arithmetic ever comes near a balance.

use serde::{Deserialize, Serialize};

/// An amount of points. Arithmetic is checked: an overflow is an error, never a wrap-around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = i64))]
#[serde(transparent)]
pub struct Points(i64);

impl Points {
    pub const ZERO: Points = Points(0);

    pub const fn new(amount: i64) -> Self {
        Self(amount)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Points) -> Option<Points> {
        self.0.checked_add(other.0).map(Points)
    }

    pub fn checked_sub(self, other: Points) -> Option<Points> {
        self.0.checked_sub(other.0).map(Points)
    }

    pub fn checked_neg(self) -> Option<Points> {
        self.0.checked_neg().map(Points)
    }

    /// Formats for people: thousands separators and the unit, e.g. `12,500 P`.
    pub fn display(self) -> String {
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
        if self.0 < 0 {
            out.push('-');
        }
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out.push_str(" P");
        out
    }
}

impl std::fmt::Display for Points {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_thousands_separators_and_unit() {
        assert_eq!(Points::new(0).display(), "0 P");
        assert_eq!(Points::new(999).display(), "999 P");
        assert_eq!(Points::new(12_500).display(), "12,500 P");
        assert_eq!(Points::new(1_000_000).display(), "1,000,000 P");
        assert_eq!(Points::new(-4_200).display(), "-4,200 P");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Points::new(i64::MAX).checked_add(Points::new(1)), None);
        assert_eq!(Points::new(5).checked_sub(Points::new(7)), Some(Points::new(-2)));
    }
}
