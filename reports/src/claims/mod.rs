//! Claims checked on the machine at hand: a claim compares measured figures against a
//! threshold, and its [`Verdict`] follows from the interval of the compared figure by one rule
//! ([`verdict`]).
//!
//! "Processes beat the loop by 4x" is the ratio of the loop's run time over the pool's, above
//! 1.0 (the claim's direction is that processes win at all; the essay's 4x sits beside the
//! measured figure as a ratio of ratios, since machines differ). The rule never reads a point
//! estimate alone: a ratio whose interval reaches the threshold is inconclusive, however far
//! its median lies from it.
//!
//! A claim's [`Test`] says what it compares: the [`Ratio`] of two cells' figures (or one cell's
//! figure alone), each strategy's break-even task duration on a sweep of granularities
//! ([`grain`]), or the processes every teardown left behind.

pub mod grain;
mod render;

pub use grain::{break_even, BreakEven};
pub use render::{claims_markdown, evidence, markdown, rows, Evidence, Row, RULE};

use crate::figures::Ratio;
use crate::stats::{median_ci_rank, median_sorted};
use crate::{Cell, Results, Stats, Status};

/// Which side of its threshold a claim puts the measured figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The claim holds when the figure is above the threshold.
    Above,
    /// The claim holds when the figure is below the threshold.
    Below,
}

/// What the measurements say of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The figure's whole interval lies on the claim's side of the threshold.
    Holds,
    /// The figure's whole interval lies on the other side.
    DoesNotHold,
    /// The interval reaches the threshold: this run cannot tell.
    Inconclusive,
}

impl Direction {
    /// Its name as a suite file and the reports spell it: `above`, `below`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    /// The direction a suite file names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Direction::Above, Direction::Below]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

impl Verdict {
    /// The verdict as the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The rule, stated once: a claim **holds** when the measured figure's whole interval lies on
/// the claim's side of the threshold, **does not hold** when the whole interval lies on the
/// other side, and is **inconclusive** when the interval reaches the threshold (an end on the
/// threshold included).
///
/// ```
/// use parbench_reports::claims::{verdict, Direction, Verdict};
/// use parbench_reports::figures::Ratio;
///
/// // The loop over the pool: 3.2x (2.9x–3.5x). "The pool wins" (above 1.0) holds.
/// let speedup = Ratio { value: 3.2, low: 2.9, high: 3.5 };
/// assert_eq!(verdict(&speedup, Direction::Above, 1.0), Verdict::Holds);
/// // "Threads gain nothing" (below 1.1) does not hold for it.
/// assert_eq!(verdict(&speedup, Direction::Below, 1.1), Verdict::DoesNotHold);
/// // 1.04x (0.97x–1.12x) against 1.0: inconclusive either way.
/// let close = Ratio { value: 1.04, low: 0.97, high: 1.12 };
/// assert_eq!(verdict(&close, Direction::Above, 1.0), Verdict::Inconclusive);
/// ```
pub fn verdict(ratio: &Ratio, direction: Direction, threshold: f64) -> Verdict {
    let (claimed_side, other_side) = match direction {
        Direction::Above => (ratio.low > threshold, ratio.high < threshold),
        Direction::Below => (ratio.high < threshold, ratio.low > threshold),
    };
    if claimed_side {
        Verdict::Holds
    } else if other_side {
        Verdict::DoesNotHold
    } else {
        Verdict::Inconclusive
    }
}

/// The figure a claim compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// The steady run time, with its interval across processes.
    RunTime,
    /// Setup, first run and teardown together, with its interval.
    EndToEnd,
    /// A round of a workload of rounds, with its interval.
    RoundTime,
    /// Peak memory of the process tree: one figure, no interval.
    PeakMemory,
    /// Bytes moved between processes in the median sample's run: one figure.
    BytesMoved,
    /// Items (requests, for `http`) per second of steady run time, with its interval.
    Throughput,
    /// The share of the workers' time not spent inside tasks, over the cell's samples.
    OverheadShare,
    /// Tasks whose results the run kept (neither failed for good nor cancelled), over the
    /// cell's samples.
    TasksKept,
}

impl Metric {
    /// Every metric, in the order the reports list them.
    pub const ALL: [Metric; 8] = [
        Metric::RunTime,
        Metric::EndToEnd,
        Metric::RoundTime,
        Metric::PeakMemory,
        Metric::BytesMoved,
        Metric::Throughput,
        Metric::OverheadShare,
        Metric::TasksKept,
    ];

    /// The metric a suite file names.
    ///
    /// ```
    /// use parbench_reports::claims::Metric;
    /// assert_eq!(Metric::from_name("peak-memory"), Some(Metric::PeakMemory));
    /// assert_eq!(Metric::from_name("speed"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its name as a suite file and the reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::RunTime => "run-time",
            Metric::EndToEnd => "end-to-end",
            Metric::RoundTime => "round-time",
            Metric::PeakMemory => "peak-memory",
            Metric::BytesMoved => "bytes-moved",
            Metric::Throughput => "throughput",
            Metric::OverheadShare => "overhead-share",
            Metric::TasksKept => "tasks-kept",
        }
    }

    /// Whether less of it is better: what "the best of the rest" means for it.
    pub fn lower_is_better(self) -> bool {
        !matches!(self, Metric::Throughput | Metric::TasksKept)
    }

    /// A value of the metric in its unit.
    ///
    /// ```
    /// use parbench_reports::claims::Metric;
    /// assert_eq!(Metric::RunTime.format(3_404_000.0), "3.40 ms");
    /// assert_eq!(Metric::PeakMemory.format(12.0 * 1024.0 * 1024.0), "12.0 MiB");
    /// assert_eq!(Metric::Throughput.format(3512.4), "3512/s");
    /// assert_eq!(Metric::OverheadShare.format(0.931), "93.1%");
    /// ```
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::RunTime | Metric::EndToEnd | Metric::RoundTime => {
                crate::format::duration(value)
            }
            Metric::PeakMemory | Metric::BytesMoved => crate::format::bytes(value.round() as u64),
            Metric::Throughput => format!("{}/s", crate::format::significant(value)),
            Metric::OverheadShare => crate::format::percent(value),
            Metric::TasksKept => format!("{value:.0}"),
        }
    }

    /// The metric's figure for `cell`, as statistics (a figure without an interval has its
    /// ends on its median).
    pub fn of(self, cell: &Cell) -> Option<Stats> {
        let exact = |value: u64| Stats {
            n: 1,
            processes: 1,
            median_ns: value as f64,
            ci_low_ns: value as f64,
            ci_high_ns: value as f64,
            ..Stats::default()
        };
        match self {
            Metric::RunTime => cell.wall.clone(),
            Metric::EndToEnd => cell.end_to_end.clone(),
            Metric::RoundTime => cell.work_rounds.as_ref().map(|r| r.round.clone()),
            Metric::PeakMemory => cell.peak_rss_bytes.map(exact),
            Metric::BytesMoved => cell.median_sample().map(|s| exact(s.bytes_moved)),
            Metric::Throughput => cell.wall.as_ref().map(|wall| {
                // Items per second: the interval's ends swap.
                let per_second = |ns: f64| cell.size as f64 * 1e9 / ns.max(f64::MIN_POSITIVE);
                Stats {
                    median_ns: per_second(wall.median_ns),
                    ci_low_ns: per_second(wall.ci_high_ns),
                    ci_high_ns: per_second(wall.ci_low_ns),
                    ..wall.clone()
                }
            }),
            Metric::OverheadShare => {
                of_samples(cell.samples.iter().map(|s| s.overhead.share()).collect())
            }
            Metric::TasksKept => of_samples(
                cell.samples
                    .iter()
                    .map(|s| {
                        cell.tasks
                            .saturating_sub(s.failed_tasks as usize + s.skipped_tasks)
                            as f64
                    })
                    .collect(),
            ),
        }
    }
}

/// The median of per-sample values with its order-statistic 95% interval.
fn of_samples(mut values: Vec<f64>) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let (rank, coverage) = median_ci_rank(n, 0.95);
    Some(Stats {
        n,
        processes: 1,
        median_ns: median_sorted(&values),
        ci_low_ns: values[rank - 1],
        ci_high_ns: values[n - rank],
        ci_level: coverage,
        ..Stats::default()
    })
}

/// One side of a claim's ratio: the cell it reads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Side {
    /// The workload with its non-default parameters, as cell ids spell it
    /// (`spin[ns_per_item=100]`).
    pub work: String,
    /// The strategy with its non-default parameters (`process-pool[resident=true]`), or
    /// [`Side::BEST_OTHER`]: the best of the strategies the other side does not name.
    pub strategy: String,
    /// Its worker count; `None`: the most it was measured on.
    pub workers: Option<usize>,
    /// Its task count; `None`: any, when the rest leaves one cell.
    pub tasks: Option<usize>,
    /// Its input size; `None`: any, when the rest leaves one cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
}

impl Side {
    /// The strategy of a side that reads the best of the others by the claim's metric
    /// ("rayon is the fastest": the fastest of the rest over rayon).
    pub const BEST_OTHER: &'static str = "*";

    /// The verified cells of `results` this side's work, tasks and workers select, one per
    /// strategy: at the side's workers, or at the most each strategy was measured on.
    fn candidates<'a>(&self, results: &'a Results) -> Vec<&'a Cell> {
        let matching: Vec<&Cell> = results
            .cells
            .iter()
            .filter(|c| c.status == Status::Ok && c.verified)
            .filter(|c| c.workload_label() == self.work)
            .filter(|c| self.tasks.is_none_or(|t| c.tasks == t))
            .filter(|c| self.size.is_none_or(|s| c.size == s))
            .filter(|c| self.workers.is_none_or(|w| c.workers == w))
            .collect();
        matching
            .iter()
            .copied()
            .filter(|c| {
                self.workers.is_some()
                    || matching
                        .iter()
                        .filter(|o| o.strategy_label() == c.strategy_label() && o.size == c.size)
                        .filter(|o| o.tasks == c.tasks)
                        .all(|o| o.workers <= c.workers)
            })
            .collect()
    }

    /// The verified cell of `results` this side reads.
    ///
    /// # Errors
    /// No verified cell matches, or several do (at several sizes or task counts).
    pub fn find<'a>(&self, results: &'a Results) -> Result<&'a Cell, ClaimError> {
        let chosen: Vec<&Cell> = self
            .candidates(results)
            .into_iter()
            .filter(|c| c.strategy_label() == self.strategy)
            .collect();
        one(self, chosen)
    }

    /// The best cell by `metric` among the strategies other than `other`'s (at one size and
    /// task count).
    fn best_other<'a>(
        &self,
        results: &'a Results,
        other: &Cell,
        metric: Metric,
    ) -> Result<&'a Cell, ClaimError> {
        // At the other side's size, and its tasks unless this side names them.
        let tasks = self.tasks.unwrap_or(other.tasks);
        let scored = self
            .candidates(results)
            .into_iter()
            .filter(|c| c.strategy_label() != other.strategy_label())
            .filter(|c| c.size == other.size && c.tasks == tasks)
            .filter_map(|c| metric.of(c).map(|s| (c, s.median_ns)));
        let best = if metric.lower_is_better() {
            scored.into_iter().min_by(|a, b| a.1.total_cmp(&b.1))
        } else {
            scored.into_iter().max_by(|a, b| a.1.total_cmp(&b.1))
        };
        best.map(|(c, _)| c)
            .ok_or_else(|| ClaimError::NoCell(self.to_string()))
    }
}

/// The one cell of `chosen`, or why not.
fn one<'a>(side: &Side, chosen: Vec<&'a Cell>) -> Result<&'a Cell, ClaimError> {
    match chosen.as_slice() {
        [cell] => Ok(cell),
        [] => Err(ClaimError::NoCell(side.to_string())),
        several => Err(ClaimError::Ambiguous {
            side: side.to_string(),
            cells: several.iter().map(|c| c.id.clone()).collect(),
        }),
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.strategy == Side::BEST_OTHER {
            write!(f, "{} under the best other strategy", self.work)?;
        } else {
            write!(f, "{} under {}", self.work, self.strategy)?;
        }
        if let Some(size) = self.size {
            write!(f, " of size {size}")?;
        }
        if let Some(tasks) = self.tasks {
            write!(f, " at {tasks} tasks")?;
        }
        match self.workers {
            Some(workers) => write!(f, " on {workers} workers"),
            None => write!(f, " on its most workers"),
        }
    }
}

/// What a claim compares.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// `numerator`'s figure over `denominator`'s; without a denominator, the numerator's
    /// figure itself.
    Ratio {
        /// The figure compared.
        metric: Metric,
        /// The cell over…
        numerator: Side,
        /// …this one.
        denominator: Option<Side>,
    },
    /// Each strategy's speedup on the finest grain of `work` over its speedup on the coarsest
    /// (see [`grain`]): the claim that tasks must be heavy enough holds for a strategy whose
    /// finest grain falls below the threshold share of its coarse-grained speedup.
    BreakEven {
        /// The workload measured at several task counts, as cell ids spell it.
        work: String,
        /// The worker count; `None`: each strategy's most.
        workers: Option<usize>,
    },
    /// Child processes left running or unreaped after every sample's teardown: the claim that
    /// a closed pool leaves none holds when every count is 0.
    Teardown,
}

/// A claim: a [`Test`] of the run's cells, its figure above or below a threshold.
///
/// In `results.json` a claim is one flat object, as a suite file writes it: a ratio claim
/// without a `kind` (so files written before the other kinds existed read unchanged), the
/// others with `kind` and their own keys.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "ClaimRecord", try_from = "ClaimRecord")]
pub struct Claim {
    /// A short name (`pool-beats-loop`).
    pub name: String,
    /// What was claimed, in a sentence.
    pub statement: String,
    /// What is compared.
    pub test: Test,
    /// Which side of the threshold the claim puts the figure.
    pub direction: Direction,
    /// The threshold.
    pub threshold: f64,
    /// The claim's own figure where its source gave one, shown beside the measured one.
    pub quoted: Option<f64>,
    /// The branch of the essay's rule of thumb the claim bears on (a [`RULES`] entry's
    /// `work`), shown with that branch's verdict in the folklore chart.
    ///
    /// [`RULES`]: crate::decide::RULES
    pub folklore: Option<String>,
}

/// A [`Claim`] as `results.json` holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ClaimRecord {
    name: String,
    statement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric: Option<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    numerator: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    denominator: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    work: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workers: Option<usize>,
    direction: Direction,
    threshold: f64,
    quoted: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folklore: Option<String>,
}

impl From<Claim> for ClaimRecord {
    fn from(claim: Claim) -> Self {
        let mut record = ClaimRecord {
            name: claim.name,
            statement: claim.statement,
            kind: None,
            metric: None,
            numerator: None,
            denominator: None,
            work: None,
            workers: None,
            direction: claim.direction,
            threshold: claim.threshold,
            quoted: claim.quoted,
            folklore: claim.folklore,
        };
        match claim.test {
            Test::Ratio {
                metric,
                numerator,
                denominator,
            } => {
                record.metric = Some(metric);
                record.numerator = Some(numerator);
                record.denominator = denominator;
            }
            Test::BreakEven { work, workers } => {
                record.kind = Some("break-even".to_owned());
                record.work = Some(work);
                record.workers = workers;
            }
            Test::Teardown => record.kind = Some("teardown".to_owned()),
        }
        record
    }
}

impl TryFrom<ClaimRecord> for Claim {
    type Error = String;

    fn try_from(record: ClaimRecord) -> Result<Self, String> {
        let missing = |key: &str| format!("claim `{}` has no `{key}`", record.name);
        let test = match record.kind.as_deref() {
            None | Some("ratio") => Test::Ratio {
                metric: record.metric.ok_or_else(|| missing("metric"))?,
                numerator: record
                    .numerator
                    .clone()
                    .ok_or_else(|| missing("numerator"))?,
                denominator: record.denominator.clone(),
            },
            Some("break-even") => Test::BreakEven {
                work: record.work.clone().ok_or_else(|| missing("work"))?,
                workers: record.workers,
            },
            Some("teardown") => Test::Teardown,
            Some(other) => return Err(format!("claim `{}`: unknown kind `{other}`", record.name)),
        };
        Ok(Claim {
            name: record.name,
            statement: record.statement,
            test,
            direction: record.direction,
            threshold: record.threshold,
            quoted: record.quoted,
            folklore: record.folklore,
        })
    }
}

/// A ratio claim checked against a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Checked {
    /// The numerator's cell id.
    pub numerator: String,
    /// The denominator's cell id, when the claim has one.
    pub denominator: Option<String>,
    /// The numerator's figure and the denominator's (medians).
    pub figures: (f64, Option<f64>),
    /// The measured ratio with its interval (the numerator's figure alone without a
    /// denominator).
    pub ratio: Ratio,
    /// What it says of the claim.
    pub verdict: Verdict,
}

/// Why a claim could not be checked against a run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// No verified cell matches a side.
    #[error("no verified cell of {0}")]
    NoCell(String),
    /// Several cells match a side.
    #[error("{side} matches {} cells ({}): name the tasks or the workers", cells.len(), cells.join(", "))]
    Ambiguous {
        /// The side.
        side: String,
        /// The cells it matches.
        cells: Vec<String>,
    },
    /// A cell has no figure of the claim's metric.
    #[error("{cell} has no {metric:?} figure")]
    NoFigure {
        /// The cell.
        cell: String,
        /// The metric.
        metric: Metric,
    },
    /// The claim's test is not a ratio of cells.
    #[error("not a ratio of cells")]
    NotARatio,
    /// A break-even claim's work lacks what the sweep needs.
    #[error("{0}")]
    Sweep(String),
}

impl Claim {
    /// A ratio claim checked against `results`: its cells, the ratio of their figures with
    /// its interval, and the verdict by [`verdict`].
    ///
    /// ```
    /// use parbench_reports::claims::{Claim, Direction, Metric, Side, Test, Verdict};
    /// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
    ///
    /// let side = |strategy: &str| Side {
    ///     work: "square".into(),
    ///     strategy: strategy.into(),
    ///     workers: Some(2),
    ///     tasks: Some(64),
    ///     size: None,
    /// };
    /// let claim = Claim {
    ///     name: "pool-beats-loop".into(),
    ///     statement: "a pool of processes squares integers faster than the loop".into(),
    ///     test: Test::Ratio {
    ///         metric: Metric::RunTime,
    ///         numerator: Side { workers: None, ..side("sequential") },
    ///         denominator: Some(side("process-pool")),
    ///     },
    ///     direction: Direction::Above,
    ///     threshold: 1.0,
    ///     quoted: Some(12.7 / 3.2),
    ///     folklore: None,
    /// };
    /// let checked = claim.check(&results)?;
    /// assert_eq!(
    ///     checked.denominator.as_deref(),
    ///     Some("square/size=200000/tasks=64/process-pool/w2")
    /// );
    /// // Copying the integers through pipes costs more than squaring them.
    /// assert_eq!(checked.verdict, Verdict::DoesNotHold);
    /// # Ok::<(), parbench_reports::claims::ClaimError>(())
    /// ```
    ///
    /// # Errors
    /// The claim is not a ratio of cells, a side matches no verified cell or several, or a
    /// cell lacks the metric's figure.
    pub fn check(&self, results: &Results) -> Result<Checked, ClaimError> {
        let Test::Ratio {
            metric,
            numerator,
            denominator,
        } = &self.test
        else {
            return Err(ClaimError::NotARatio);
        };
        let (top, bottom) = cells(results, *metric, numerator, denominator.as_ref())?;
        let figure = |cell: &Cell| {
            metric.of(cell).ok_or_else(|| ClaimError::NoFigure {
                cell: cell.id.clone(),
                metric: *metric,
            })
        };
        let top_figure = figure(top)?;
        let (ratio, bottom_figure) = match bottom {
            Some(cell) => {
                let f = figure(cell)?;
                (Ratio::of(&top_figure, &f), Some(f.median_ns))
            }
            None => (
                Ratio {
                    value: top_figure.median_ns,
                    low: top_figure.ci_low_ns,
                    high: top_figure.ci_high_ns,
                },
                None,
            ),
        };
        Ok(Checked {
            numerator: top.id.clone(),
            denominator: bottom.map(|c| c.id.clone()),
            figures: (top_figure.median_ns, bottom_figure),
            verdict: verdict(&ratio, self.direction, self.threshold),
            ratio,
        })
    }
}

/// The cells of a ratio's two sides; a side of [`Side::BEST_OTHER`] is found after the other.
fn cells<'a>(
    results: &'a Results,
    metric: Metric,
    numerator: &Side,
    denominator: Option<&Side>,
) -> Result<(&'a Cell, Option<&'a Cell>), ClaimError> {
    let Some(denominator) = denominator else {
        return Ok((numerator.find(results)?, None));
    };
    if numerator.strategy == Side::BEST_OTHER {
        let bottom = denominator.find(results)?;
        Ok((numerator.best_other(results, bottom, metric)?, Some(bottom)))
    } else {
        let top = numerator.find(results)?;
        let bottom = if denominator.strategy == Side::BEST_OTHER {
            denominator.best_other(results, top, metric)?
        } else {
            denominator.find(results)?
        };
        Ok((top, Some(bottom)))
    }
}

/// What every sample's teardown left: counts over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Teardowns {
    /// Samples taken (each with its own setup and teardown).
    pub samples: usize,
    /// Of those, samples of cells that started worker processes.
    pub with_workers: usize,
    /// Child processes still running after a teardown, summed.
    pub leftover: u64,
    /// Child processes exited but unreaped after a teardown, summed.
    pub zombies: u64,
}

impl Teardowns {
    /// The counts over every sample of `results`.
    ///
    /// ```
    /// use parbench_reports::claims::{Teardowns, Verdict};
    /// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
    /// let counts = Teardowns::of(&results);
    /// assert_eq!((counts.leftover, counts.zombies), (0, 0));
    /// assert_eq!(counts.verdict(), Verdict::Holds);
    /// ```
    pub fn of(results: &Results) -> Self {
        let mut counts = Self::default();
        for sample in results.cells.iter().flat_map(|c| &c.samples) {
            counts.add(sample);
        }
        counts
    }

    /// Counts one more sample.
    pub fn add(&mut self, sample: &crate::Sample) {
        self.samples += 1;
        self.with_workers += usize::from(!sample.worker_memory.is_empty());
        self.leftover += u64::from(sample.leftover_processes);
        self.zombies += u64::from(sample.zombie_processes);
    }

    /// A closed pool leaves nothing: holds when no teardown left a process, does not hold
    /// when one did, inconclusive when no sample started worker processes.
    pub fn verdict(&self) -> Verdict {
        if self.leftover + self.zombies > 0 {
            Verdict::DoesNotHold
        } else if self.with_workers == 0 {
            Verdict::Inconclusive
        } else {
            Verdict::Holds
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Overhead;

    fn ratio(low: f64, value: f64, high: f64) -> Ratio {
        Ratio { value, low, high }
    }

    #[test]
    fn an_interval_that_straddles_the_threshold_is_inconclusive_whatever_its_median() {
        for direction in [Direction::Above, Direction::Below] {
            // The median far above, the interval still reaching below.
            assert_eq!(
                verdict(&ratio(0.9, 5.0, 9.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.6, 1.2), direction, 1.0),
                Verdict::Inconclusive
            );
            // An end exactly on the threshold reaches it.
            assert_eq!(
                verdict(&ratio(1.0, 1.5, 2.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.7, 1.0), direction, 1.0),
                Verdict::Inconclusive
            );
        }
    }

    fn fixture() -> Results {
        serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap()
    }

    fn ratio_test(metric: Metric, numerator: Side, denominator: Side) -> Test {
        Test::Ratio {
            metric,
            numerator,
            denominator: Some(denominator),
        }
    }

    fn side(strategy: &str, workers: Option<usize>, tasks: Option<usize>) -> Side {
        Side {
            work: "square".into(),
            strategy: strategy.into(),
            workers,
            tasks,
            size: None,
        }
    }

    #[test]
    fn a_side_reads_one_verified_cell_at_its_most_workers_or_says_why_not() {
        let results = fixture();
        let cell = side("rayon", None, Some(8)).find(&results).unwrap();
        assert_eq!(cell.id, "square/size=200000/tasks=8/rayon/w2");
        let cell = side("rayon", Some(1), Some(8)).find(&results).unwrap();
        assert_eq!(cell.id, "square/size=200000/tasks=8/rayon/w1");
        let err = side("rayon", Some(2), None).find(&results).unwrap_err();
        assert_eq!(
            err.to_string(),
            "square under rayon on 2 workers matches 3 cells (square/size=200000/tasks=1/rayon/w2, \
             square/size=200000/tasks=8/rayon/w2, square/size=200000/tasks=64/rayon/w2): name \
             the tasks or the workers"
        );
        let err = side("tokio", None, Some(8)).find(&results).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no verified cell of square under tokio at 8 tasks on its most workers"
        );
    }

    #[test]
    fn figures_without_an_interval_are_decided_by_their_value() {
        let results = fixture();
        // Peak memory: the pool's process tree over the loop's, above 1.5x.
        let claim = Claim {
            name: "pool-memory".into(),
            statement: "a pool of processes takes more memory than one process".into(),
            test: Test::Ratio {
                metric: Metric::PeakMemory,
                numerator: side("process-pool", Some(2), Some(8)),
                denominator: Some(side("sequential", None, Some(8))),
            },
            direction: Direction::Above,
            threshold: 1.5,
            quoted: None,
            folklore: None,
        };
        let checked = claim.check(&results).unwrap();
        assert_eq!(checked.ratio.low, checked.ratio.high);
        assert!((checked.ratio.value - 20_115_456.0 / 11_022_336.0).abs() < 1e-12);
        assert_eq!(checked.verdict, Verdict::Holds);
    }

    #[test]
    fn the_suites_claims_become_rows_with_their_verdicts_or_why_not() {
        let mut results = fixture();
        let claim = Claim {
            name: "pool".into(),
            statement: "a pool beats the loop".into(),
            test: ratio_test(
                Metric::RunTime,
                side("sequential", None, Some(64)),
                side("process-pool", Some(2), Some(64)),
            ),
            direction: Direction::Above,
            threshold: 1.0,
            quoted: Some(4.0),
            folklore: None,
        };
        let lost = Claim {
            test: ratio_test(
                Metric::RunTime,
                side("sequential", None, Some(64)),
                side("tokio", Some(2), Some(64)),
            ),
            ..claim.clone()
        };
        results.suite.claims = vec![claim, lost];
        let rows = rows(&results);
        assert_eq!(rows[0].verdict, "does not hold");
        assert!(rows[0].measured.contains("x) run-time: "), "{:?}", rows[0]);
        assert_eq!(rows[0].claimed, "above 1");
        assert!(
            rows[0].quoted.starts_with("4.00x (measured 0.0"),
            "{:?}",
            rows[0]
        );
        assert_eq!(
            rows[0].cells,
            "square/size=200000/tasks=64/sequential/w1 / square/size=200000/tasks=64/process-pool/w2"
        );
        assert_eq!(
            (rows[1].verdict.as_str(), rows[1].measured.as_str()),
            (
                "cannot be checked",
                "no verified cell of square under tokio at 64 tasks on 2 workers"
            )
        );
        let md = markdown(&results);
        assert!(md.starts_with("### Claims\n"), "{md}");
        assert_eq!(md.matches("\n| **").count(), 2, "{md}");
    }

    #[test]
    fn an_interval_beyond_the_threshold_holds_or_not_as_the_direction_says() {
        let above = ratio(1.2, 1.3, 1.4);
        let below = ratio(0.6, 0.7, 0.8);
        assert_eq!(verdict(&above, Direction::Above, 1.0), Verdict::Holds);
        assert_eq!(verdict(&above, Direction::Below, 1.0), Verdict::DoesNotHold);
        assert_eq!(verdict(&below, Direction::Below, 1.0), Verdict::Holds);
        assert_eq!(verdict(&below, Direction::Above, 1.0), Verdict::DoesNotHold);
        // The threshold is the claim's, not 1.0: 1.3x is not "at least 1.5x".
        assert_eq!(verdict(&above, Direction::Above, 1.5), Verdict::DoesNotHold);
        assert_eq!(verdict(&above, Direction::Below, 1.5), Verdict::Holds);
        assert_eq!(Verdict::DoesNotHold.as_str(), "does not hold");
    }

    fn exact(ns: f64) -> Stats {
        Stats {
            n: 1,
            median_ns: ns,
            ci_low_ns: ns,
            ci_high_ns: ns,
            ..Stats::default()
        }
    }

    fn set_wall(results: &mut Results, id: &str, ns: f64) {
        let cell = results.cells.iter_mut().find(|c| c.id == id).unwrap();
        cell.wall = Some(exact(ns));
    }

    #[test]
    fn throughput_and_the_best_of_the_rest_read_the_right_cells() {
        let mut results = fixture();
        let id = |s: &str, w: usize| format!("square/size=200000/tasks=8/{s}/w{w}");
        set_wall(&mut results, &id("sequential", 1), 8e6);
        set_wall(&mut results, &id("rayon", 2), 2e6);
        set_wall(&mut results, &id("threads", 2), 4e6);
        set_wall(&mut results, &id("process-shm", 2), 5e6);
        set_wall(&mut results, &id("process-pool", 2), 9e6);
        // 200,000 items in 2 ms: 1e8 a second; rayon's throughput over threads': 2x.
        let rayon = side("rayon", None, Some(8));
        assert_eq!(
            Metric::Throughput
                .of(rayon.find(&results).unwrap())
                .unwrap()
                .median_ns,
            1e8
        );
        let claim = Claim {
            name: "rayon-fastest".into(),
            statement: "rayon is the fastest".into(),
            test: ratio_test(
                Metric::RunTime,
                side(Side::BEST_OTHER, None, Some(8)),
                rayon.clone(),
            ),
            direction: Direction::Above,
            threshold: 1.0,
            quoted: None,
            folklore: None,
        };
        let checked = claim.check(&results).unwrap();
        // The fastest of the rest is threads (4 ms), at its most workers.
        assert_eq!(checked.numerator, id("threads", 2));
        assert_eq!(
            (checked.ratio.value, checked.verdict),
            (2.0, Verdict::Holds)
        );
        let throughput = Claim {
            test: ratio_test(
                Metric::Throughput,
                rayon,
                side(Side::BEST_OTHER, None, Some(8)),
            ),
            ..claim
        };
        let checked = throughput.check(&results).unwrap();
        assert_eq!(
            checked.denominator.as_deref(),
            Some(id("threads", 2).as_str())
        );
        assert_eq!(checked.figures, (1e8, Some(5e7)));
    }

    #[test]
    fn a_claim_without_a_denominator_reads_one_cells_figure_with_its_interval() {
        let mut results = fixture();
        let cell = results
            .cells
            .iter_mut()
            .find(|c| c.id == "square/size=200000/tasks=64/process-pool/w2")
            .unwrap();
        // Shares 0.5, 0.6, ..., 0.9 over five samples: the median 0.7, the interval [min, max]
        // (five samples cover 93.75% with it, the most they can).
        cell.samples.truncate(5);
        for (i, sample) in cell.samples.iter_mut().enumerate() {
            sample.overhead = Overhead {
                capacity_ns: 10,
                busy_ns: 5 - i as u64,
                ..Overhead::default()
            };
        }
        let claim = Claim {
            name: "overhead".into(),
            statement: "the pool's scheduling overhead exceeds 90%".into(),
            test: Test::Ratio {
                metric: Metric::OverheadShare,
                numerator: side("process-pool", Some(2), Some(64)),
                denominator: None,
            },
            direction: Direction::Above,
            threshold: 0.9,
            quoted: Some(0.9),
            folklore: None,
        };
        let checked = claim.check(&results).unwrap();
        let r = checked.ratio;
        assert!(
            (r.value - 0.7).abs() < 1e-12
                && (r.low - 0.5).abs() < 1e-12
                && (r.high - 0.9).abs() < 1e-12,
            "{r:?}"
        );
        // The interval reaches 0.9: inconclusive.
        assert_eq!(checked.verdict, Verdict::Inconclusive);
        results.suite.claims = vec![claim];
        let row = &rows(&results)[0];
        assert_eq!(row.measured, "70.0% (50.0%–90.0%) overhead-share");
        assert_eq!(row.claimed, "above 90.0%");
        assert_eq!(row.quoted, "90.0% (measured 0.778 of it)");
    }

    #[test]
    fn tasks_kept_count_neither_the_failed_nor_the_cancelled() {
        let mut results = fixture();
        let cell = results
            .cells
            .iter_mut()
            .find(|c| {
                c.id == "risky[error_rate=0.1,panic_rate=0.05]/size=20000/tasks=16/threads/w2"
            })
            .unwrap();
        cell.samples.truncate(1);
        cell.samples[0].failed_tasks = 3;
        cell.samples[0].skipped_tasks = 4;
        assert_eq!(Metric::TasksKept.of(cell).unwrap().median_ns, 9.0);
    }

    #[test]
    fn a_teardown_that_leaves_a_process_fails_the_claim_and_names_the_strategy() {
        let mut results = fixture();
        results.suite.claims = vec![Claim {
            name: "closed-pools".into(),
            statement: "a closed pool leaves no process".into(),
            test: Test::Teardown,
            direction: Direction::Below,
            threshold: 1.0,
            quoted: None,
            folklore: None,
        }];
        let counts = Teardowns::of(&results);
        assert_eq!(counts.verdict(), Verdict::Holds);
        assert!(
            counts.with_workers > 0 && counts.with_workers < counts.samples,
            "{counts:?}"
        );
        let cell = results
            .cells
            .iter_mut()
            .find(|c| c.id == "square/size=200000/tasks=8/process-pool/w2")
            .unwrap();
        cell.samples[0].zombie_processes = 2;
        assert_eq!(rows(&results)[0].verdict, "does not hold");
        let evidence = evidence(&results.suite.claims[0], &results);
        let pool = evidence
            .rows
            .iter()
            .find(|r| r[0] == "process-pool")
            .unwrap();
        assert_eq!(&pool[3..], ["0", "2"]);
    }

    #[test]
    fn a_break_even_is_where_a_strategy_keeps_the_threshold_share_of_its_coarse_speedup() {
        let mut results = fixture();
        let id =
            |tasks: usize, s: &str, w: usize| format!("square/size=200000/tasks={tasks}/{s}/w{w}");
        for tasks in [1, 8, 64] {
            set_wall(&mut results, &id(tasks, "sequential", 1), 10e6);
        }
        // rayon on 2 workers: 2x on 8 tasks (the coarsest grain that feeds both), 1x on 64.
        set_wall(&mut results, &id(8, "rayon", 2), 5e6);
        set_wall(&mut results, &id(64, "rayon", 2), 10e6);
        // threads: 2x on both, so no break-even within the sweep.
        set_wall(&mut results, &id(8, "threads", 2), 5e6);
        set_wall(&mut results, &id(64, "threads", 2), 5e6);
        let found = break_even(&results, "square", Some(2), Direction::Below, 0.9).unwrap();
        let rayon = found.iter().find(|b| b.strategy == "rayon").unwrap();
        assert_eq!((rayon.coarse.value, rayon.kept.value), (2.0, 0.5));
        assert_eq!(rayon.verdict, Verdict::Holds);
        // The tasks last 10 ms / 64 and 10 ms / 8; 0.9 is four fifths of the way up from 0.5.
        let (fine, coarse): (f64, f64) = (10e6 / 64.0, 10e6 / 8.0);
        let expected = (fine.ln() + 0.8 * (coarse.ln() - fine.ln())).exp();
        let d = rayon.duration.unwrap();
        assert!((d.value - expected).abs() < 1e-6, "{d:?}");
        assert!(
            (d.low, d.high) == (expected, expected),
            "exact walls: no interval: {d:?}"
        );
        let threads = found.iter().find(|b| b.strategy == "threads").unwrap();
        assert_eq!(
            (threads.duration, threads.verdict),
            (None, Verdict::DoesNotHold)
        );
        let err = break_even(&results, "json", None, Direction::Below, 0.9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "json has 0 grain(s) with a verified sequential cell: a sweep needs two"
        );
    }

    #[test]
    fn claims_are_stored_flat_and_a_ratio_claim_reads_as_written_before_the_other_kinds() {
        // As results.json held a claim before it had a kind.
        let before = r#"{"name":"pool","statement":"a pool beats the loop","metric":"run-time",
            "numerator":{"work":"square","strategy":"sequential","workers":null,"tasks":null},
            "denominator":{"work":"square","strategy":"process-pool","workers":2,"tasks":64},
            "direction":"above","threshold":1.0,"quoted":3.97}"#;
        let claim: Claim = serde_json::from_str(before).unwrap();
        assert_eq!(
            claim.test,
            ratio_test(
                Metric::RunTime,
                side("sequential", None, None),
                side("process-pool", Some(2), Some(64))
            )
        );
        let written = serde_json::to_value(&claim).unwrap();
        assert_eq!(written["metric"], "run-time");
        assert!(written.get("kind").is_none() && written.get("folklore").is_none());
        for test in [
            Test::BreakEven {
                work: "spin".into(),
                workers: Some(2),
            },
            Test::Teardown,
        ] {
            let other = Claim {
                test,
                folklore: Some("real-time streams".into()),
                ..claim.clone()
            };
            let json = serde_json::to_string(&other).unwrap();
            assert_eq!(
                serde_json::from_str::<Claim>(&json).unwrap(),
                other,
                "{json}"
            );
        }
        let err = serde_json::from_str::<Claim>(&before.replace("\"metric\":\"run-time\",", ""))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("claim `pool` has no `metric`"),
            "{err}"
        );
    }
}
