//! Money as people see it: always `12,500 P` (thousands separators and the unit, through `Points::display`), signed
//! amounts for history lines, and the pot-split preview shown before joining.

use nene_shared::Points;

/// `12,500 P`.
pub fn points(p: Points) -> String {
    p.display()
}

/// `+12,500 P` / `-4,200 P`: a history line's change.
pub fn signed(p: Points) -> String {
    if p.get() > 0 { format!("+{}", p.display()) } else { p.display() }
}

/// What one winner gets back when `winners` of `participants` succeed, all with the same `stake`: the own stake
/// plus an equal share of the failed stakes, rounded down (the server hands the remainder out a point at a time, so
/// some get one point more). With no winner nobody gets anything back.
pub fn payout_if(stake: Points, participants: i64, winners: i64) -> Points {
    if winners <= 0 || participants <= 0 || winners > participants {
        return Points::ZERO;
    }
    let pool = i128::from(stake.get()) * i128::from(participants - winners);
    let share = pool / i128::from(winners);
    Points::new(i64::try_from(i128::from(stake.get()) + share).unwrap_or(i64::MAX))
}

/// A sensible first guess for the preview: about four in five succeed, at least one.
pub fn likely_winners(participants: i64) -> i64 {
    ((participants * 4 + 2) / 5).clamp(1, participants.max(1))
}

/// Reads an amount typed by a person: digits with optional separators, spaces and unit (`12,500`, `12500 P`).
pub fn parse_amount(text: &str) -> Option<Points> {
    let digits: String = text.chars().filter(|c| !matches!(c, ',' | ' ' | 'P' | 'p' | '원')).collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().map(Points::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_like_money() {
        assert_eq!(points(Points::new(12_500)), "12,500 P");
        assert_eq!(signed(Points::new(12_500)), "+12,500 P");
        assert_eq!(signed(Points::new(-4_200)), "-4,200 P");
        assert_eq!(signed(Points::ZERO), "0 P");
    }

    #[test]
    fn the_pot_is_split_among_winners() {
        // 10 people at 10,000: 8 winners share 2 failed stakes → 10,000 + 2,500.
        assert_eq!(payout_if(Points::new(10_000), 10, 8), Points::new(12_500));
        // Everyone wins: each gets the own stake back.
        assert_eq!(payout_if(Points::new(10_000), 3, 3), Points::new(10_000));
        // 3 at 10,000, 2 winners: 10,000 + 5,000.
        assert_eq!(payout_if(Points::new(10_000), 3, 2), Points::new(15_000));
        // Rounded down: 7 people, 3 winners → 10,000 + 40,000 / 3.
        assert_eq!(payout_if(Points::new(10_000), 7, 3), Points::new(23_333));
        assert_eq!(payout_if(Points::new(10_000), 3, 0), Points::ZERO);
    }

    #[test]
    fn about_four_in_five() {
        assert_eq!(likely_winners(10), 8);
        assert_eq!(likely_winners(1), 1);
        assert_eq!(likely_winners(2), 2);
        assert_eq!(likely_winners(3), 2);
    }

    #[test]
    fn typed_amounts() {
        assert_eq!(parse_amount("12,500"), Some(Points::new(12_500)));
        assert_eq!(parse_amount("30000 P"), Some(Points::new(30_000)));
        assert_eq!(parse_amount("12.5"), None);
        assert_eq!(parse_amount(""), None);
    }
}
