//! Settlement arithmetic (domain.md, "Settlement"), pure and property-tested.
//!
//! Winners get their own stake back plus the pool (the failed stakes, less the optional platform fee) split in
//! proportion to stake, in whole points; the remainder goes one point at a time to winners in join order, so the
//! sum is exact. With no winner the pool goes to the platform reserve.

/// One participant as settlement sees them, in join order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entrant {
    pub stake: i64,
    pub success: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Per entrant (same order): the prize share on top of a winner's own stake; 0 for everyone else.
    pub prizes: Vec<i64>,
    /// To the platform reserve as its fee.
    pub fee: i64,
    /// To the platform reserve because nobody won.
    pub unclaimed: i64,
}

/// Splits the pool. `fee_bps` is the platform fee in basis points of the pool (0 to 10,000).
pub fn plan(entrants: &[Entrant], fee_bps: i64) -> Plan {
    let pool: i64 = entrants.iter().filter(|e| !e.success).map(|e| e.stake).sum();
    let winner_stakes: i64 = entrants.iter().filter(|e| e.success).map(|e| e.stake).sum();
    let mut prizes = vec![0; entrants.len()];
    if winner_stakes == 0 {
        return Plan { prizes, fee: 0, unclaimed: pool };
    }
    let fee = (i128::from(pool) * i128::from(fee_bps.clamp(0, 10_000)) / 10_000) as i64;
    let distributable = pool - fee;
    let mut given = 0;
    for (prize, e) in prizes.iter_mut().zip(entrants) {
        if e.success {
            // i128: pool × stake can exceed i64 for large challenges.
            *prize = (i128::from(distributable) * i128::from(e.stake) / i128::from(winner_stakes)) as i64;
            given += *prize;
        }
    }
    let mut remainder = distributable - given;
    for (prize, e) in prizes.iter_mut().zip(entrants) {
        if remainder == 0 {
            break;
        }
        if e.success {
            *prize += 1;
            remainder -= 1;
        }
    }
    Plan { prizes, fee, unclaimed: 0 }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn e(stake: i64, success: bool) -> Entrant {
        Entrant { stake, success }
    }

    #[test]
    fn equal_stakes_split_equally_with_the_remainder_in_join_order() {
        // 3 winners, 2 losers of 10,000: pool 20,000 → 6,666 each and 2 points left for the first two joiners.
        let p = plan(&[e(10_000, true), e(10_000, false), e(10_000, true), e(10_000, true), e(10_000, false)], 0);
        assert_eq!(p.prizes, vec![6_667, 0, 6_667, 6_666, 0]);
        assert_eq!(p.fee + p.unclaimed, 0);
    }

    #[test]
    fn nobody_wins_the_reserve_takes_the_pool() {
        let p = plan(&[e(5_000, false), e(5_000, false)], 0);
        assert_eq!(p.prizes, vec![0, 0]);
        assert_eq!(p.unclaimed, 10_000);
    }

    #[test]
    fn everybody_wins_nobody_gains() {
        let p = plan(&[e(5_000, true), e(5_000, true)], 500);
        assert_eq!(p.prizes, vec![0, 0]);
        assert_eq!(p.fee, 0);
    }

    #[test]
    fn the_fee_comes_out_of_the_pool() {
        let p = plan(&[e(10_000, true), e(10_000, false)], 1_000); // 10 %
        assert_eq!(p.fee, 1_000);
        assert_eq!(p.prizes, vec![9_000, 0]);
    }

    proptest! {
        #[test]
        fn payouts_sum_exactly_to_the_escrow(
            entrants in proptest::collection::vec((1_000i64..200_000, any::<bool>()), 1..60),
            fee_bps in prop_oneof![Just(0i64), 0i64..2_000],
        ) {
            let entrants: Vec<Entrant> = entrants.into_iter().map(|(stake, success)| e(stake, success)).collect();
            let escrow: i64 = entrants.iter().map(|x| x.stake).sum();
            let p = plan(&entrants, fee_bps);
            let returned: i64 = entrants.iter().filter(|x| x.success).map(|x| x.stake).sum();
            let prizes: i64 = p.prizes.iter().sum();
            prop_assert_eq!(returned + prizes + p.fee + p.unclaimed, escrow);
            let winners: Vec<usize> = (0..entrants.len()).filter(|i| entrants[*i].success).collect();
            for (i, x) in entrants.iter().enumerate() {
                prop_assert!(p.prizes[i] >= 0);
                if !x.success {
                    prop_assert_eq!(p.prizes[i], 0);
                }
            }
            if !winners.is_empty() {
                prop_assert_eq!(p.unclaimed, 0);
                // Shares follow stakes: floor of the exact share, plus at most one point of remainder, given to
                // the earliest joiners first.
                let pool: i64 = entrants.iter().filter(|x| !x.success).map(|x| x.stake).sum();
                let distributable = i128::from(pool - p.fee);
                let total: i128 = winners.iter().map(|i| i128::from(entrants[*i].stake)).sum();
                let mut extra_seen_zero = false;
                for i in &winners {
                    let floor = (distributable * i128::from(entrants[*i].stake) / total) as i64;
                    let extra = p.prizes[*i] - floor;
                    prop_assert!(extra == 0 || extra == 1);
                    if extra == 0 { extra_seen_zero = true; } else { prop_assert!(!extra_seen_zero, "remainder not in join order"); }
                }
            } else {
                prop_assert_eq!(p.unclaimed, escrow);
            }
        }
    }
}
