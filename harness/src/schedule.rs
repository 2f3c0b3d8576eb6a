//! Which cells a round visits, and in what order: pure decisions over what the run knows, kept
//! apart from the processes that carry them out.
//!
//! Every cell is visited in each of the minimum rounds. After them, a round goes to the cells
//! whose interval is still wider than the target (and that may still sample), widest first, as
//! many as the run's time left allows at what each cell's processes have cost so far. Every
//! round's order is shuffled from the suite's seed, so that a burst of noise on the machine, or
//! a slow drift, is spread over all cells rather than falling on the ones measured together.

use std::time::Duration;

/// A cell that may be given another process, as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// Its index in the run.
    pub index: usize,
    /// Its interval's half-width relative to the median (infinite while it has none).
    pub width: f64,
    /// What one of its processes has cost, on average.
    pub cost: Duration,
}

/// The cells an extra round visits: widest first, each as long as its cost still fits in
/// `left` (all of them when the run has no budget).
pub(crate) fn extra_round(mut candidates: Vec<Candidate>, left: Option<Duration>) -> Vec<usize> {
    candidates.sort_by(|a, b| b.width.total_cmp(&a.width).then(a.index.cmp(&b.index)));
    let mut left = left;
    candidates
        .into_iter()
        .filter(|c| match &mut left {
            None => true,
            Some(time) if c.cost <= *time => {
                *time -= c.cost;
                true
            }
            Some(_) => false,
        })
        .map(|c| c.index)
        .collect()
}

/// `cells` in the order round `round` visits them: a shuffle seeded by the suite's seed and the
/// round, the same in every run of the suite.
pub(crate) fn shuffled(mut cells: Vec<usize>, seed: u64, round: usize) -> Vec<usize> {
    // Consecutive rounds get unrelated orders: the round is spread over the seed's bits.
    let mixed = seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    fastrand::Rng::with_seed(mixed).shuffle(&mut cells);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(index: usize, width: f64, cost_ms: u64) -> Candidate {
        Candidate {
            index,
            width,
            cost: Duration::from_millis(cost_ms),
        }
    }

    #[test]
    fn the_widest_intervals_go_first_while_the_time_lasts() {
        let cells = vec![
            candidate(0, 0.03, 100),
            candidate(1, f64::INFINITY, 500),
            candidate(2, 0.10, 300),
            candidate(3, 0.05, 200),
        ];
        assert_eq!(extra_round(cells.clone(), None), [1, 2, 3, 0]);
        // 900 ms: 500 + 300 fit, 200 does not, 100 still does.
        assert_eq!(
            extra_round(cells.clone(), Some(Duration::from_millis(900))),
            [1, 2, 0]
        );
        assert!(extra_round(cells, Some(Duration::from_millis(50))).is_empty());
    }

    #[test]
    fn each_round_has_its_own_order_and_every_run_the_same() {
        let cells: Vec<usize> = (0..50).collect();
        let first = shuffled(cells.clone(), 42, 1);
        let second = shuffled(cells.clone(), 42, 2);
        assert_eq!(first, shuffled(cells.clone(), 42, 1));
        assert_ne!(first, second);
        assert_ne!(first, cells);
        assert_ne!(first, shuffled(cells.clone(), 43, 1));
        let mut sorted = second;
        sorted.sort_unstable();
        assert_eq!(sorted, cells);
    }
}
