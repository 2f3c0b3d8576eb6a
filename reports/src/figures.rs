//! The figures derived from the sequential baseline, computed in one place: a cell's
//! [`Bucket`] (the work it measures, split into its tasks), the sequential cell of that bucket,
//! and from them the cell's speedup, contention and efficiency against the machine's limits.
//! The runner stores contention and efficiency in each cell record ([`derive()`]); every report
//! and the terminal read speedups through [`Figures`]. The run's noise floor is here too
//! ([`noise_floor`]).

use std::collections::BTreeMap;

use crate::{Cell, Efficiency, MachineLimits, Results, Status};

/// What a cell is compared with: the same work — the workload with its parameters (as the
/// cell's id spells them), the input size — split into the same number of tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket<'a> {
    /// The workload with its non-default parameters (`spin[ns_per_item=100]`).
    pub work: &'a str,
    /// Items in the input.
    pub size: usize,
    /// Tasks the items were split into.
    pub tasks: usize,
}

impl<'a> Bucket<'a> {
    /// The bucket a cell belongs to.
    pub fn of(cell: &'a Cell) -> Self {
        Self {
            work: cell.workload_label(),
            size: cell.size,
            tasks: cell.tasks,
        }
    }
}

/// The strategy every other one is measured against.
pub const BASELINE_STRATEGY: &str = "sequential";

/// Each bucket's sequential cell, and what follows from it.
///
/// ```
/// use parbench_reports::figures::Figures;
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// let figures = Figures::of(&results);
/// for cell in &results.cells {
///     if let Some(speedup) = figures.speedup(cell) {
///         println!("{}: {speedup:.2}x", cell.id);
///     }
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Figures<'a> {
    baselines: BTreeMap<Bucket<'a>, &'a Cell>,
    /// The machine's probed pipe round trip, when it was probed.
    round_trip_ns: Option<f64>,
}

impl<'a> Figures<'a> {
    /// The baselines of every bucket of `results` that measured a sequential cell.
    pub fn of(results: &'a Results) -> Self {
        let mut baselines = BTreeMap::new();
        for cell in results
            .cells
            .iter()
            .filter(|c| c.strategy == BASELINE_STRATEGY)
        {
            baselines.entry(Bucket::of(cell)).or_insert(cell);
        }
        Self {
            baselines,
            round_trip_ns: results
                .machine
                .limits
                .as_ref()
                .and_then(|l| l.pipe_round_trip_ns)
                .filter(|&ns| ns > 0.0),
        }
    }

    /// The sequential cell of a bucket.
    pub fn baseline_of(&self, bucket: &Bucket<'_>) -> Option<&'a Cell> {
        // The keys' borrow may outlive the one asked with: shorten it to look up.
        let baselines: &BTreeMap<Bucket<'_>, &'a Cell> = &self.baselines;
        baselines.get(bucket).copied()
    }

    /// The sequential cell a cell is compared with.
    pub fn baseline(&self, cell: &Cell) -> Option<&'a Cell> {
        self.baseline_of(&Bucket::of(cell))
    }

    /// The sequential cell's median run time over this cell's.
    pub fn speedup(&self, cell: &Cell) -> Option<f64> {
        let base = self.baseline(cell)?.wall.as_ref()?.median_ns;
        let wall = cell.wall.as_ref()?.median_ns;
        (wall > 0.0).then(|| base / wall)
    }

    /// A cell's scheduling overhead per task — workers × run time less the busy time, of its
    /// median sample, over its tasks — and that as a multiple of the machine's probed pipe round
    /// trip (the price of a worker process waiting for each message), when it was probed.
    pub fn overhead_per_task(&self, cell: &Cell) -> Option<(f64, Option<f64>)> {
        let overhead = cell.overhead?;
        let tasks = cell.tasks.max(1) as f64;
        let per_task = overhead.capacity_ns.saturating_sub(overhead.busy_ns) as f64 / tasks;
        Some((per_task, self.round_trip_ns.map(|trip| per_task / trip)))
    }

    /// The busy time contention is measured against: the sequential cell's median sample in
    /// steady state, or — in a bucket without a sequential cell — the one reference run's.
    pub fn contention_base(&self, cell: &Cell) -> u64 {
        self.baseline(cell)
            .and_then(|base| base.overhead)
            .map_or(cell.features.sequential_busy_ns, |o| o.busy_ns)
    }

    /// How close a cell came to the machine's limits, when they were probed and it has a run
    /// time.
    pub fn efficiency(&self, cell: &Cell, limits: &MachineLimits) -> Option<Efficiency> {
        let wall = cell.wall.as_ref()?;
        Some(efficiency(
            limits,
            cell.workers,
            cell.features.input_bytes + cell.features.output_bytes,
            wall.median_ns,
            self.speedup(cell),
        ))
    }
}

/// Sets every cell's contention (its samples' and its median overhead's) and efficiency from
/// its bucket's sequential cell and the machine's limits. The runner calls it after every cell,
/// so a cell measured before its bucket's sequential cell is rated as soon as that one is in.
///
/// Contention compares with the sequential cell's steady state rather than with the one cold
/// reference run, whose first touch of the output and cold caches would make every steady run
/// look faster than sequential.
pub fn derive(results: &mut Results) {
    let derived: Vec<(u64, Option<Efficiency>)> = {
        let figures = Figures::of(results);
        let limits = results.machine.limits.as_ref();
        results
            .cells
            .iter()
            .map(|cell| {
                (
                    figures.contention_base(cell),
                    limits.and_then(|l| figures.efficiency(cell, l)),
                )
            })
            .collect()
    };
    for (cell, (base, efficiency)) in results.cells.iter_mut().zip(derived) {
        let overheads = cell.samples.iter_mut().map(|s| &mut s.overhead);
        for overhead in overheads.chain(cell.overhead.as_mut()) {
            overhead.contention_ns = overhead.busy_ns as i64 - base as i64;
        }
        cell.efficiency = efficiency;
    }
}

/// The run's noise floor: how small a change of a cell's median a second run with as many
/// processes could tell apart (each cell's `mde`), over the cells measured well in several
/// processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseFloor {
    /// Cells with a noise floor.
    pub cells: usize,
    /// Their median noise floor: the run's typical figure.
    pub median: f64,
    /// The 90th percentile.
    pub p90: f64,
}

impl std::fmt::Display for NoiseFloor {
    /// `a second run tells apart a change of 4.1% in the median cell (9.0% at the 90th
    /// percentile)`: the sentence every report gives it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a second run tells apart a change of {:.1}% in the median cell ({:.1}% at the 90th \
             percentile)",
            100.0 * self.median,
            100.0 * self.p90
        )
    }
}

/// The run's noise floor; `None` when no cell was measured in several processes.
///
/// ```
/// # let mut results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// let mut floors = [0.04, 0.02, 0.10].into_iter();
/// for wall in results.cells.iter_mut().filter_map(|c| c.wall.as_mut()) {
///     wall.mde = floors.next();
/// }
/// let floor = parbench_reports::figures::noise_floor(&results).unwrap();
/// assert_eq!((floor.cells, floor.median), (3, 0.04));
/// ```
pub fn noise_floor(results: &Results) -> Option<NoiseFloor> {
    let mut floors: Vec<f64> = results
        .cells
        .iter()
        .filter(|c| c.status == Status::Ok)
        .filter_map(|c| c.wall.as_ref()?.mde)
        .collect();
    floors.sort_by(f64::total_cmp);
    let at = |q: f64| floors[((floors.len() - 1) as f64 * q).round() as usize];
    (!floors.is_empty()).then(|| NoiseFloor {
        cells: floors.len(),
        median: at(0.5),
        p90: at(0.9),
    })
}

/// A cell's efficiency against the machine's limits: its bytes per second as a share of the
/// copy bandwidth for its worker count, its speedup as a share of the compute ceiling for that
/// count (a straight line from 1 on one worker to the probed speedup on every core), and its
/// speedup per worker.
///
/// ```
/// use parbench_reports::{figures::efficiency, MachineLimits};
///
/// let limits = MachineLimits {
///     threads: 2,
///     copy_buffer_bytes: 1,
///     copy_one_bytes_per_s: 10e9,
///     copy_all_bytes_per_s: 16e9,
///     alu_speedup: 1.9,
///     pipe_round_trip_ns: None,
/// };
/// // 16 MB in 2 ms on one worker: 8 GB/s of a 10 GB/s copy.
/// let e = efficiency(&limits, 1, 16_000_000, 2e6, Some(1.0));
/// assert!((e.bandwidth_share - 0.8).abs() < 1e-9);
/// assert_eq!(e.parallel_efficiency, Some(1.0));
/// ```
pub fn efficiency(
    limits: &MachineLimits,
    workers: usize,
    data_bytes: u64,
    run_ns: f64,
    speedup: Option<f64>,
) -> Efficiency {
    let bandwidth = if workers > 1 {
        limits.copy_all_bytes_per_s
    } else {
        limits.copy_one_bytes_per_s
    };
    // One worker's ceiling is 1; every core's is the probed speedup; in between, a straight
    // line.
    let used = workers.clamp(1, limits.threads.max(1));
    let ceiling = if limits.threads > 1 {
        1.0 + (used - 1) as f64 * (limits.alu_speedup - 1.0) / (limits.threads - 1) as f64
    } else {
        1.0
    };
    Efficiency {
        bandwidth_share: data_bytes as f64 / (run_ns.max(1.0) / 1e9) / bandwidth.max(1.0),
        speedup_share: speedup.map(|s| s / ceiling.max(1e-9)),
        parallel_efficiency: speedup.map(|s| s / workers.max(1) as f64),
    }
}

/// The ratio of two medians with its approximate 95% interval: each side's interval as a
/// half-width on the log scale (the wider of its two sides), the two combined in quadrature, as
/// for two independent estimates.
///
/// ```
/// use parbench_reports::figures::Ratio;
/// use parbench_reports::Stats;
///
/// let stats = |median_ns: f64, half: f64| Stats {
///     median_ns,
///     ci_low_ns: median_ns / half,
///     ci_high_ns: median_ns * half,
///     ..Stats::default()
/// };
/// let r = Ratio::of(&stats(300.0, 1.03), &stats(100.0, 1.04));
/// assert_eq!(r.value, 3.0);
/// // ln 1.03 and ln 1.04 in quadrature: about ±5%.
/// assert!((r.high / r.value - 1.0507).abs() < 1e-3 && (r.value / r.low - 1.0507).abs() < 1e-3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ratio {
    /// Numerator's median over the denominator's.
    pub value: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

impl Ratio {
    /// `numerator`'s median over `denominator`'s, with the interval of both.
    pub fn of(numerator: &crate::Stats, denominator: &crate::Stats) -> Self {
        let half = |s: &crate::Stats| log_half_width(s.median_ns, s.ci_low_ns, s.ci_high_ns);
        Self::spread(
            numerator.median_ns / denominator.median_ns,
            half(numerator).hypot(half(denominator)),
        )
    }

    /// This ratio over `other` (a speedup over another speedup), their intervals combined as
    /// [`Ratio::of`] combines two medians'.
    ///
    /// ```
    /// use parbench_reports::figures::Ratio;
    /// let fine = Ratio { value: 1.0, low: 0.9, high: 1.1 };
    /// let coarse = Ratio { value: 2.0, low: 1.8, high: 2.2 };
    /// let kept = fine.over(&coarse);
    /// assert!((kept.value - 0.5).abs() < 1e-12);
    /// assert!(kept.low < 0.5 * 0.9 / 1.0 && kept.high > 0.5 * 1.1 / 1.0);
    /// ```
    pub fn over(&self, other: &Ratio) -> Self {
        let half = |r: &Ratio| log_half_width(r.value, r.low, r.high);
        Self::spread(self.value / other.value, half(self).hypot(half(other)))
    }

    fn spread(value: f64, half: f64) -> Self {
        Self {
            value,
            low: value * (-half).exp(),
            high: value * half.exp(),
        }
    }
}

/// The larger of an interval's two half-widths on a log scale.
pub(crate) fn log_half_width(median: f64, low: f64, high: f64) -> f64 {
    (high / median)
        .ln()
        .max((median / low.max(f64::MIN_POSITIVE)).ln())
        .max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Overhead, Sample, Stats};

    fn limits() -> MachineLimits {
        MachineLimits {
            threads: 2,
            copy_buffer_bytes: 1,
            copy_one_bytes_per_s: 10e9,
            copy_all_bytes_per_s: 16e9,
            alu_speedup: 1.9,
            pipe_round_trip_ns: None,
        }
    }

    #[test]
    fn efficiency_against_known_limits() {
        let limits = limits();
        // 16 MB in 2 ms on one worker: 8 GB/s of a 10 GB/s copy.
        let one = efficiency(&limits, 1, 16_000_000, 2e6, Some(1.0));
        assert!((one.bandwidth_share - 0.8).abs() < 1e-12);
        assert!((one.speedup_share.unwrap() - 1.0).abs() < 1e-12);
        // Two workers: the all-core bandwidth and the measured ceiling of 1.9.
        let two = efficiency(&limits, 2, 16_000_000, 1e6, Some(1.71));
        assert!((two.bandwidth_share - 1.0).abs() < 1e-12);
        assert!((two.speedup_share.unwrap() - 0.9).abs() < 1e-12);
        assert!((two.parallel_efficiency.unwrap() - 0.855).abs() < 1e-12);
        assert_eq!(efficiency(&limits, 4, 1, 1.0, None).speedup_share, None);
    }

    /// A cell of `strategy` at `tasks` with a median run of `median_ns` and a busy time of
    /// `busy_ns` in its one sample.
    fn cell(strategy: &str, tasks: usize, workers: usize, median_ns: f64, busy_ns: u64) -> Cell {
        let mut results: Results =
            serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
        let mut cell = results.cells.swap_remove(0);
        cell.id = format!("spin[ns_per_item=5]/size=100/tasks={tasks}/{strategy}/w{workers}");
        cell.strategy = strategy.to_owned();
        (cell.size, cell.tasks, cell.workers) = (100, tasks, workers);
        cell.features.input_bytes = 8_000;
        cell.features.output_bytes = 8_000;
        cell.features.sequential_busy_ns = 1_000;
        let overhead = Overhead {
            capacity_ns: busy_ns * workers as u64,
            busy_ns,
            tail_ns: busy_ns * (workers as u64 - 1),
            ..Overhead::default()
        };
        cell.samples = vec![Sample {
            overhead,
            ..Sample::default()
        }];
        cell.overhead = Some(overhead);
        cell.wall = Some(Stats {
            n: 1,
            median_ns,
            ..Stats::default()
        });
        cell
    }

    #[test]
    fn overhead_per_task_against_the_pipe_round_trip() {
        let mut results: Results =
            serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
        // Two workers, 8 tasks, 1,300 ns busy: 1,300 ns of tail over 8 tasks.
        results.cells = vec![cell("rayon", 8, 2, 500.0, 1_300)];
        results.machine.limits = None;
        let without = Figures::of(&results).overhead_per_task(&results.cells[0]);
        assert_eq!(without, Some((162.5, None)));
        results.machine.limits = Some(MachineLimits {
            pipe_round_trip_ns: Some(325.0),
            ..limits()
        });
        let with = Figures::of(&results).overhead_per_task(&results.cells[0]);
        assert_eq!(with, Some((162.5, Some(0.5))));
        results.cells[0].overhead = None;
        assert_eq!(
            Figures::of(&results).overhead_per_task(&results.cells[0]),
            None
        );
    }

    #[test]
    fn every_figure_comes_from_the_buckets_sequential_cell() {
        let mut results: Results =
            serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
        results.machine.limits = Some(limits());
        results.cells = vec![
            cell("rayon", 8, 2, 500.0, 1_300),
            cell("sequential", 8, 1, 1_100.0, 1_200),
            cell("sequential", 1, 1, 1_000.0, 1_000),
            // No sequential cell at 4 tasks: contention against the reference run.
            cell("threads", 4, 2, 600.0, 1_250),
        ];
        derive(&mut results);
        let figures = Figures::of(&results);
        let [rayon, sequential, _, threads] = [0, 1, 2, 3].map(|i| &results.cells[i]);
        assert_eq!(
            Bucket::of(rayon),
            Bucket {
                work: "spin[ns_per_item=5]",
                size: 100,
                tasks: 8
            }
        );
        // The baseline is the sequential cell with the same tasks, even when it ran later.
        assert_eq!(figures.baseline(rayon).map(|c| &c.id), Some(&sequential.id));
        assert_eq!(figures.speedup(rayon), Some(2.2));
        assert_eq!(figures.speedup(sequential), Some(1.0));
        assert_eq!(figures.speedup(threads), None);
        // Contention: busy time beyond the sequential cell's, in the samples and the median.
        assert_eq!(rayon.overhead.map(|o| o.contention_ns), Some(100));
        assert_eq!(rayon.samples[0].overhead.contention_ns, 100);
        assert_eq!(sequential.overhead.map(|o| o.contention_ns), Some(0));
        assert_eq!(threads.overhead.map(|o| o.contention_ns), Some(250));
        // Efficiency: 16 kB in 500 ns on two workers is 32 GB/s of a 16 GB/s copy; 2.2x of
        // a 1.9x ceiling; 1.1 per worker.
        let e = rayon.efficiency.unwrap();
        assert!((e.bandwidth_share - 2.0).abs() < 1e-9, "{e:?}");
        assert!((e.speedup_share.unwrap() - 2.2 / 1.9).abs() < 1e-9);
        assert!((e.parallel_efficiency.unwrap() - 1.1).abs() < 1e-9);
        assert_eq!(threads.efficiency.unwrap().speedup_share, None);
    }

    /// Two independent log-normal medians with exact 95% intervals: the ratio's interval covers
    /// the true ratio 95% of the time, whatever the two spreads.
    #[test]
    fn the_ratio_interval_covers_the_true_ratio_95_percent_of_the_time() {
        // xorshift64* and Box-Muller: a deterministic stream of standard normals.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut uniform = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let mut normal = move || {
            let (u, v) = (uniform(), uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let z = 1.959_964;
        let stats = |log_median: f64, sigma: f64| Stats {
            median_ns: log_median.exp(),
            ci_low_ns: (log_median - z * sigma).exp(),
            ci_high_ns: (log_median + z * sigma).exp(),
            ..Stats::default()
        };
        // The true medians: 300 and 100, a true ratio of 3.
        let truth = 3.0f64;
        for (a, b) in [(0.02, 0.02), (0.01, 0.08), (0.10, 0.03)] {
            let trials = 20_000;
            let covered = (0..trials)
                .filter(|_| {
                    let x = stats(300f64.ln() + a * normal(), a);
                    let y = stats(100f64.ln() + b * normal(), b);
                    let r = Ratio::of(&x, &y);
                    r.low <= truth && truth <= r.high
                })
                .count();
            let coverage = covered as f64 / trials as f64;
            assert!((0.94..=0.96).contains(&coverage), "{a} {b}: {coverage}");
        }
    }
}
