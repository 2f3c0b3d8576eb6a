//! Which cells a round visits, and in what order: pure decisions over what the run knows, kept
//! apart from the processes that carry them out.
//!
//! Every cell is visited in each of the minimum rounds. After them, a round goes first to the
//! cells racing for their bucket's lead (the leader and the cells whose intervals still
//! overlap it beyond a tie: see `parbench_reports::contest`), then to the cells whose interval
//! is still wider than the target (and that may still sample), widest first within each, as
//! many as the run's time left allows at what each cell's processes have cost so far. Every
//! round's order is shuffled from the suite's seed, so that a burst of noise on the machine, or
//! a slow drift, is spread over all cells rather than falling on the ones measured together.

use std::time::Duration;

/// A cell that may be given another process, as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// Its index in the run.
    pub index: usize,
    /// Whether it races for its bucket's lead: such cells go first.
    pub racing: bool,
    /// Its interval's half-width relative to the median (infinite while it has none).
    pub width: f64,
    /// What one of its processes has cost, on average.
    pub cost: Duration,
}

/// The cells an extra round visits: the racing ones first, then the others, widest first
/// within each, each as long as its cost still fits in `left` (all of them when the run has
/// no budget).
pub(crate) fn extra_round(mut candidates: Vec<Candidate>, left: Option<Duration>) -> Vec<usize> {
    candidates.sort_by(|a, b| {
        b.racing
            .cmp(&a.racing)
            .then(b.width.total_cmp(&a.width))
            .then(a.index.cmp(&b.index))
    });
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

/// What one cell's visit costs, as a model: a `fixed` part (spawning the process, getting the
/// input) and a part per sample (its setup, cold run, steady runs and teardown), the warm-up
/// counting as samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct VisitModel {
    pub fixed: Duration,
    pub per_sample: Duration,
}

impl VisitModel {
    /// A visit of a warm-up of `warmup` samples and up to `samples` timed ones, which stops
    /// sampling once it has lasted `cap` (after one timed sample at least).
    fn cost(&self, warmup: usize, samples: usize, cap: Duration) -> Duration {
        // The sample that reaches the cap is the last.
        let per_sample = self.per_sample.max(Duration::from_nanos(1));
        let reaching = cap.as_nanos().div_ceil(per_sample.as_nanos()) as usize;
        let timed = reaching.saturating_sub(warmup).clamp(1, samples.max(1));
        self.fixed + self.per_sample * (warmup + timed) as u32
    }
}

/// How the minimum rounds fit a budget: the samples per process and the processes per cell
/// they keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MinimumPlan {
    pub samples: usize,
    pub processes: usize,
    /// Whether even the smallest plan (two processes of one sample) overruns.
    pub overruns: bool,
}

/// The minimum rounds that fit in `budget`: the asked `samples` per process and `processes`
/// per cell when they fit; otherwise fewer samples per process first (down to one, the
/// processes being what the interval needs), then fewer processes (down to two, the fewest
/// an interval across processes takes). A process stops sampling once it has used its share
/// of `cell_time` (the suite's `time_budget` over the processes).
pub(crate) fn fit_minimum(
    cells: &[VisitModel],
    (warmup, samples, processes): (usize, usize, usize),
    cell_time: Duration,
    budget: Duration,
) -> MinimumPlan {
    let round = |samples: usize, processes: usize| -> Duration {
        let cap = cell_time / processes.max(1) as u32;
        cells.iter().map(|c| c.cost(warmup, samples, cap)).sum()
    };
    for p in (2.min(processes)..=processes).rev() {
        for s in (1..=samples).rev() {
            if round(s, p) * p as u32 <= budget {
                return MinimumPlan {
                    samples: s,
                    processes: p,
                    overruns: false,
                };
            }
        }
    }
    MinimumPlan {
        samples: 1,
        processes: 2.min(processes),
        overruns: true,
    }
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
            racing: false,
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
        assert!(extra_round(cells.clone(), Some(Duration::from_millis(50))).is_empty());
        // A racing cell goes before every wider one.
        let mut raced = cells;
        raced[0].racing = true;
        assert_eq!(extra_round(raced, None), [0, 1, 2, 3]);
    }

    /// A standard normal draw (Box-Muller).
    fn normal(rng: &mut fastrand::Rng) -> f64 {
        let (u, v) = (1.0 - rng.f64(), rng.f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    #[test]
    fn the_race_finds_the_winner_with_fewer_processes_than_equal_visits() {
        use parbench_reports::contest::Contest;
        use parbench_reports::Stats;

        use crate::stats::{process_logs, summarize_processes, Shared};

        // A bucket of eight cells: the winner, one 8% behind it, then 15%, 25%, 40%, 60%, 2x
        // and 3x. Each process's median is 6% apart from the next (log-normal), and one in ten
        // runs 20 to 40% slow. Three processes each, then one more for every racing cell per
        // round, until the contest is settled or a cell has 20 processes.
        const GAPS: [f64; 8] = [1.0, 1.08, 1.15, 1.25, 1.4, 1.6, 2.0, 3.0];
        const MAX: usize = 20;
        let process = |rng: &mut fastrand::Rng, cell: usize| -> Vec<u64> {
            let slow = if rng.f64() < 0.1 {
                (1.2 + 0.2 * rng.f64()).ln()
            } else {
                0.0
            };
            let offset = GAPS[cell].ln() + 0.06 * normal(rng) + slow;
            vec![(1e6 * offset.exp()) as u64]
        };
        let mut rng = fastrand::Rng::with_seed(11);
        let (trials, mut found, mut raced, mut equal) = (200, 0, 0, 0);
        for _ in 0..trials {
            let mut cells: Vec<Vec<Vec<u64>>> = (0..GAPS.len())
                .map(|cell| (0..3).map(|_| process(&mut rng, cell)).collect())
                .collect();
            let mut rounds = 3;
            let leader = loop {
                let logs: Vec<Vec<f64>> = cells.iter().map(|c| process_logs(c)).collect();
                let shared = Shared::fit(&logs);
                let walls: Vec<Stats> = cells
                    .iter()
                    .map(|c| summarize_processes(c, shared.as_ref()).unwrap())
                    .collect();
                let contest = Contest::of(&walls.iter().collect::<Vec<_>>()).unwrap();
                let racing: Vec<usize> = contest
                    .racing()
                    .into_iter()
                    .filter(|&i| cells[i].len() < MAX)
                    .collect();
                if racing.is_empty() {
                    break contest.leader();
                }
                for cell in racing {
                    let next = process(&mut rng, cell);
                    cells[cell].push(next);
                }
                rounds += 1;
            };
            found += usize::from(leader == 0);
            raced += cells.iter().map(Vec::len).sum::<usize>();
            // Visiting every cell in every round until the same round.
            equal += rounds * GAPS.len();
        }
        assert!(
            found * 100 >= 95 * trials,
            "the winner led in {found} of {trials}"
        );
        let seen = format!(
            "the winner led in {found} of {trials}; {raced} processes raced, {equal} visiting \
             every cell equally"
        );
        assert!(raced * 10 < equal * 7, "{seen}");
        eprintln!("{seen}");
    }

    #[test]
    fn a_budget_cuts_samples_first_then_processes() {
        let ms = Duration::from_millis;
        // Ten cells of 10 ms fixed and 100 ms a sample; a warm-up and up to 3 samples, no cap
        // worth the name: 410 ms a visit, 4.1 s a round, 12.3 s for 3 rounds.
        let cells = vec![
            VisitModel {
                fixed: ms(10),
                per_sample: ms(100),
            };
            10
        ];
        let plan = |budget: Duration| fit_minimum(&cells, (1, 3, 3), ms(30_000), budget);
        let fits = |samples, processes| MinimumPlan {
            samples,
            processes,
            overruns: false,
        };
        assert_eq!(plan(ms(12_300)), fits(3, 3));
        // 2 samples: 3.1 s a round, 9.3 s for 3.
        assert_eq!(plan(ms(10_000)), fits(2, 3));
        // 1 sample: 2.1 s a round, 6.3 s for 3, 4.2 s for 2.
        assert_eq!(plan(ms(6_300)), fits(1, 3));
        assert_eq!(plan(ms(5_000)), fits(1, 2));
        assert_eq!(
            plan(ms(1_000)),
            MinimumPlan {
                samples: 1,
                processes: 2,
                overruns: true
            }
        );
        // A process stops sampling with the sample that reaches its share of the cell's
        // time: 250 ms of 750 ms, after the warm-up and 2 samples: 310 ms a visit, 9.3 s for
        // 3 rounds; with 1 sample, 210 ms and 6.3 s.
        let capped = |budget| fit_minimum(&cells, (1, 3, 3), ms(750), budget);
        assert_eq!(capped(ms(9_300)), fits(3, 3));
        assert_eq!(capped(ms(9_200)), fits(1, 3));
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
