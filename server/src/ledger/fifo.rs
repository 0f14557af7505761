//! FIFO allocation: which lots a spend consumes. Pure arithmetic, property-tested; the store applies the result.

use nene_shared::Points;

/// One lot as the allocator sees it: id (lower = older) and what is left of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenLot {
    pub id: i64,
    pub remaining: Points,
}

/// The lots do not hold enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shortfall {
    pub available: Points,
}

/// Takes `amount` from `lots` oldest first. `lots` must be ordered oldest first; empty lots are skipped.
pub fn allocate(lots: &[OpenLot], amount: Points) -> Result<Vec<(i64, Points)>, Shortfall> {
    let mut left = amount.get();
    let mut taken = Vec::new();
    for lot in lots {
        if left == 0 {
            break;
        }
        let take = lot.remaining.get().min(left);
        if take > 0 {
            taken.push((lot.id, Points::new(take)));
            left -= take;
        }
    }
    if left > 0 {
        let available = lots.iter().map(|l| l.remaining.get().max(0)).sum();
        return Err(Shortfall { available: Points::new(available) });
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn lots(amounts: &[i64]) -> Vec<OpenLot> {
        amounts.iter().enumerate().map(|(i, a)| OpenLot { id: i as i64 + 1, remaining: Points::new(*a) }).collect()
    }

    #[test]
    fn oldest_lot_first_then_the_next() {
        let got = allocate(&lots(&[300, 500, 1000]), Points::new(600)).unwrap();
        assert_eq!(got, vec![(1, Points::new(300)), (2, Points::new(300))]);
    }

    #[test]
    fn not_enough_is_a_shortfall() {
        assert_eq!(allocate(&lots(&[100, 200]), Points::new(301)), Err(Shortfall { available: Points::new(300) }));
    }

    proptest! {
        #[test]
        fn takes_exactly_the_amount_oldest_first(
            amounts in proptest::collection::vec(0i64..5_000, 0..20),
            want in 1i64..60_000,
        ) {
            let lots = lots(&amounts);
            let total: i64 = amounts.iter().sum();
            match allocate(&lots, Points::new(want)) {
                Ok(taken) => {
                    prop_assert!(want <= total);
                    prop_assert_eq!(taken.iter().map(|(_, p)| p.get()).sum::<i64>(), want);
                    // Every lot before the last one touched is emptied: nothing younger is used while an older
                    // lot still has points.
                    for (i, (id, take)) in taken.iter().enumerate() {
                        let lot = lots.iter().find(|l| l.id == *id).unwrap();
                        prop_assert!(take.get() > 0 && take.get() <= lot.remaining.get());
                        if i + 1 < taken.len() {
                            prop_assert_eq!(take.get(), lot.remaining.get());
                        }
                    }
                    let ids: Vec<i64> = taken.iter().map(|(id, _)| *id).collect();
                    let mut sorted = ids.clone();
                    sorted.sort_unstable();
                    prop_assert_eq!(ids, sorted);
                }
                Err(short) => {
                    prop_assert!(want > total);
                    prop_assert_eq!(short.available.get(), total);
                }
            }
        }
    }
}
