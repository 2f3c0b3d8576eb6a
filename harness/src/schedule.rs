//! Which cells a round visits, and in what order: pure decisions over what the run knows, kept
//! apart from the processes that carry them out.
//!
//! Every cell is visited in each of the minimum rounds. After them, a round goes first to the
//! cells that can still change their bucket's label (the simplest strategy not behind the
//! leader, which `decide` advises), then to the others racing for their bucket's lead (the
//! leader and the cells whose intervals still overlap it beyond a tie: see
//! `parbench_reports::contest`), then to the cells whose interval is still wider than the
//! target (and that may still sample), widest first within each, as many as the run's time
//! left allows at what each cell's processes have cost so far. While a label is undecided,
//! a budgeted round gives the rest at most twice what the label's race takes, so the few
//! cells a label hangs on get many processes rather than as many as every other. A run
//! with a budget then spends what is left on every other cell in proportion to how much a
//! process narrows its interval per second: a cell gets a process while it has fewer than its
//! share, which grows with the spread between its processes and shrinks with the square root
//! of what one costs (Neyman's allocation, which makes the sum of the cells' variances least
//! for the time). So the time a run is given is spent, on the cells where it buys most, and
//! each cell's processes come from across the whole run, not from its first minutes. Every
//! round's order is shuffled from the suite's seed, so that a burst of noise on the machine,
//! or a slow drift, is spread over all cells rather than falling on the ones measured
//! together.

use std::time::Duration;

/// What a cell races for in its bucket's contest, the least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Race {
    /// Nothing: its bucket is settled, or the cell is behind or tied.
    None,
    /// Its bucket's lead: it leads, or is open against the leader.
    Lead,
    /// Its bucket's label (or it is short of its minimum processes): such cells go first.
    Label,
}

/// How many times the time of a round's label race the rest of a budgeted round may take
/// while a label is undecided.
const BESIDE_THE_LABELS: u32 = 2;

/// A cell that may be given another process, as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    /// Its index in the run.
    pub index: usize,
    /// What it races for: the racing cells go first, those of a label before those of a lead.
    pub race: Race,
    /// Its interval's half-width relative to the median (infinite while it has none).
    pub width: f64,
    /// Whether its interval is within the target: such a cell (unless it races) gets a
    /// process only while it has fewer than its share of the run's time.
    pub within: bool,
    /// Its processes so far.
    pub processes: usize,
    /// What one of its processes has cost, on average.
    pub cost: Duration,
}

impl Candidate {
    /// How far apart its processes are, up to a constant every cell shares: the interval's
    /// half-width times the square root of the processes.
    fn spread(&self) -> f64 {
        self.width * (self.processes as f64).sqrt()
    }
}

/// The cells an extra round visits: the racing ones first (a label's before a lead's), then
/// the others wider than the target, widest first within each, each as long as its cost still
/// fits in `left` (all of them when the run has no budget). With a budget, the cells within
/// the target follow: each whose processes are fewer than its share of the run's visits,
/// `spent` so far and `left`, the furthest below its share first; and while some cell races
/// for a label, the cells that do not take at most [`BESIDE_THE_LABELS`] times its time.
pub(crate) fn extra_round(
    mut candidates: Vec<Candidate>,
    spent: Duration,
    left: Option<Duration>,
) -> Vec<usize> {
    let shares = left.map(|left| shares(&candidates, spent + left));
    // How far below its share a cell is, as a ratio (0 for a cell at or above it).
    let below = |c: &Candidate| -> f64 {
        let share = shares.as_ref().and_then(|s| s.get(&c.index)).copied();
        match share {
            Some(share) if (c.processes as f64) < share => share / c.processes.max(1) as f64,
            _ => 0.0,
        }
    };
    let racing = |c: &Candidate| c.race > Race::None;
    candidates.retain(|c| racing(c) || !c.within || below(c) > 0.0);
    candidates.sort_by(|a, b| {
        let within = a.within && b.within && !racing(a) && !racing(b);
        b.race
            .cmp(&a.race)
            .then(a.within.cmp(&b.within))
            .then(if within {
                below(b).total_cmp(&below(a))
            } else {
                b.width.total_cmp(&a.width)
            })
            .then(a.index.cmp(&b.index))
    });
    let labels: Duration = candidates
        .iter()
        .filter(|c| c.race == Race::Label)
        .map(|c| c.cost)
        .sum();
    let mut beside = (left.is_some() && !labels.is_zero()).then(|| labels * BESIDE_THE_LABELS);
    let mut left = left;
    candidates
        .into_iter()
        .filter(|c| {
            let fits = |time: &Option<Duration>| time.is_none_or(|t| c.cost <= t);
            let labelled = c.race == Race::Label;
            if !fits(&left) || (!labelled && !fits(&beside)) {
                return false;
            }
            if let Some(time) = &mut left {
                *time -= c.cost;
            }
            if let (false, Some(time)) = (labelled, &mut beside) {
                *time -= c.cost;
            }
            true
        })
        .map(|c| c.index)
        .collect()
}

/// Each candidate's share of processes in a run whose visits last `total` (Neyman's
/// allocation): `n = total * spread / sqrt(cost) / sum(spread * sqrt(cost))`, by index. Cells
/// without a finite spread or a cost have none.
fn shares(candidates: &[Candidate], total: Duration) -> std::collections::BTreeMap<usize, f64> {
    let known: Vec<(usize, f64, f64)> = candidates
        .iter()
        .filter(|c| c.spread().is_finite() && c.spread() > 0.0 && !c.cost.is_zero())
        .map(|c| (c.index, c.spread(), c.cost.as_secs_f64()))
        .collect();
    let scale: f64 = known.iter().map(|(_, s, c)| s * c.sqrt()).sum();
    if scale <= 0.0 {
        return Default::default();
    }
    known
        .into_iter()
        .map(|(index, s, c)| (index, total.as_secs_f64() * s / c.sqrt() / scale))
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
            race: Race::None,
            width,
            within: false,
            processes: 3,
            cost: Duration::from_millis(cost_ms),
        }
    }

    /// A cell within the target: `processes` so far, each of which cost `cost_ms`, with the
    /// spread `spread` between them.
    fn settled(index: usize, spread: f64, processes: usize, cost_ms: u64) -> Candidate {
        Candidate {
            within: true,
            processes,
            ..candidate(index, spread / (processes as f64).sqrt(), cost_ms)
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
        let none = Duration::ZERO;
        assert_eq!(extra_round(cells.clone(), none, None), [1, 2, 3, 0]);
        // 900 ms: 500 + 300 fit, 200 does not, 100 still does.
        assert_eq!(
            extra_round(cells.clone(), none, Some(Duration::from_millis(900))),
            [1, 2, 0]
        );
        assert!(extra_round(cells.clone(), none, Some(Duration::from_millis(50))).is_empty());
        // A racing cell goes before every wider one, a label's before a lead's.
        let mut raced = cells;
        raced[0].race = Race::Lead;
        assert_eq!(extra_round(raced.clone(), none, None), [0, 1, 2, 3]);
        raced[3].race = Race::Label;
        assert_eq!(extra_round(raced, none, None), [3, 0, 1, 2]);
    }

    #[test]
    fn while_a_label_is_undecided_the_rest_of_a_round_takes_at_most_twice_its_time() {
        // A label's two cells of 100 ms, a lead's cell of 150 ms, wide cells of 100 ms.
        let mut cells: Vec<Candidate> = (0..8).map(|i| candidate(i, 0.1, 100)).collect();
        cells[6].race = Race::Label;
        cells[7].race = Race::Label;
        cells[5] = Candidate {
            race: Race::Lead,
            ..candidate(5, 0.05, 150)
        };
        let (spent, plenty) = (Duration::ZERO, Some(Duration::from_secs(60)));
        // 200 ms of the label's race: 400 ms beside it, the lead's 150 ms and two wide cells.
        assert_eq!(extra_round(cells.clone(), spent, plenty), [6, 7, 5, 0, 1]);
        // The budget's end comes first.
        let short = Some(Duration::from_millis(350));
        assert_eq!(extra_round(cells.clone(), spent, short), [6, 7, 5]);
        // Without a budget every cell is visited.
        assert_eq!(extra_round(cells.clone(), spent, None).len(), 8);
        // With no label undecided, nothing holds the rest back.
        for cell in &mut cells[6..] {
            cell.race = Race::None;
        }
        assert_eq!(extra_round(cells, spent, plenty).len(), 8);
    }

    #[test]
    fn the_time_left_goes_where_a_process_narrows_an_interval_most_per_second() {
        // Equal spreads, processes of 100 ms and of 400 ms: the cheap cell's share is twice
        // the dear one's (n ~ spread / sqrt(cost)), and the shares fill the time: 20 of
        // 100 ms and 10 of 400 ms are 6 s.
        let cells = [settled(0, 0.04, 10, 100), settled(1, 0.04, 5, 400)];
        let share = shares(&cells, Duration::from_secs(6));
        assert!((share[&0] - 20.0).abs() < 1e-9, "{share:?}");
        assert!((share[&1] - 10.0).abs() < 1e-9, "{share:?}");
        // Twice the spread, twice the share.
        let cells = [settled(0, 0.08, 10, 100), settled(1, 0.04, 10, 100)];
        let share = shares(&cells, Duration::from_secs(3));
        assert!((share[&0] - 20.0).abs() < 1e-9, "{share:?}");
        assert!((share[&1] - 10.0).abs() < 1e-9, "{share:?}");

        // A cell within the target gets a process while it is below its share, the furthest
        // below first, after the racing and the wide cells; at or above it, none.
        let cells = vec![
            settled(0, 0.04, 10, 100),
            settled(1, 0.04, 4, 400),
            candidate(2, 0.10, 300),
            settled(3, 0.04, 30, 100),
        ];
        // Spent 24 s, 2 s left: shares of 22.6 (cells 0 and 3) and 11.3 (cell 1), so cell 1
        // is 2.8 times below its share, cell 0 2.3 times, cell 3 above it.
        let (spent, left) = (Duration::from_secs(24), Duration::from_secs(2));
        assert_eq!(extra_round(cells.clone(), spent, Some(left)), [2, 1, 0]);
        // Without a budget the run ends once the cells are within the target.
        assert_eq!(extra_round(cells, spent, None), [2]);
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
