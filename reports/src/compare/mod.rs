//! The regression gate: two results of the same suite, every cell and metric, a verdict each.
//!
//! [`compare`] is a pure function of two [`Results`]. For every cell both hold it compares five
//! [`Metric`]s and gives each the change (new over base), its interval and a [`Verdict`]
//! against the metric's threshold:
//!
//! - *regression*: the new build is slower (bigger) beyond doubt, and possibly by more than the
//!   threshold — the interval lies above no change and reaches past the threshold;
//! - *improvement*: the same the other way;
//! - *unchanged*: the interval lies within the threshold both ways;
//! - *inconclusive*: the interval holds no change and reaches past the threshold: too noisy to
//!   tell at this threshold.
//!
//! **False alarms across many cells** are controlled family-wise: a build compared with itself
//! fails the gate with probability at most `alpha` (5% by default), however many cells.
//!
//! - **Independent runs** (two results directories measured apart): Bonferroni. With `m`
//!   metrics that vary between processes, every interval is at the level `1 - alpha / m`, so
//!   all of them hold at once with probability at least `1 - alpha`.
//! - **A paired run** (both directories from one `parbench compare --base-bin` run, where a
//!   cell's rounds are its pairs) decides in two stages. Its first rounds *screen* every metric
//!   at the level `1 - 0.002` on its own ([`SCREEN`], asv's `p < 0.002`); the cells screened as
//!   regressed are measured again in fresh rounds, and a regression stands only when those
//!   rounds alone find it, at `1 - alpha / m'` over the `m'` metrics re-measured. The fresh
//!   rounds are independent of the screening, so the family-wise bound holds whatever the
//!   screening let through, and the screening's own level costs no power at the end: a paired
//!   gate is far more sensitive than Bonferroni over every metric of every cell.
//!
//! A metric that did not vary on either side (bytes moved, mostly) is exact and takes no share.
//! See the `estimate` module for the statistics.

mod estimate;
mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use self::estimate::{median, Difference};
use crate::format::{bytes, duration, percent};
use crate::{Cell, Machine, Results, Sample, Status, Thresholds};

pub use render::{markdown, terminal, MARKER};
pub(crate) use render::{preamble, tally};

/// `compare.html`: what the comparison concludes, a forest plot per metric (each cell's change
/// and interval against the threshold band) and every cell's figures side by side; one
/// self-contained page.
///
/// # Errors
///
/// When a chart cannot be drawn.
///
/// ```
/// use parbench_reports::compare::{compare, html, Options};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let page = html(&compare(&results, &results, &Options::default())?)?;
/// assert!(page.contains("parbench compare: no regression"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn html(comparison: &Comparison) -> Result<String, crate::ReportError> {
    crate::html::compare::page(comparison).map_err(|source| crate::ReportError::Serialize {
        format: "HTML",
        source,
    })
}

/// The family-wise error rate by default: the chance that comparing a build with itself flags
/// anything.
pub const ALPHA: f64 = 0.05;

/// The per-metric level of a paired run's screening (asv's `p < 0.002`): what its first rounds
/// flag for a second measurement.
pub const SCREEN: f64 = 0.002;

/// What is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// The steady run time: a run on a set-up strategy.
    Run,
    /// Setup, first run and teardown: one use of a fresh strategy.
    EndToEnd,
    /// Peak memory of the cell's processes.
    Memory,
    /// The share of the workers' capacity not spent in tasks.
    Overhead,
    /// Bytes that crossed between processes.
    Bytes,
}

/// How a metric's change is expressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// New over base, minus one: `0.05` is 5% more.
    Ratio,
    /// New minus base: `0.05` is 5 percentage points more.
    Points,
}

impl Scale {
    /// A value on the scale changes are estimated on: its logarithm for a ratio.
    fn of(self, value: f64) -> f64 {
        match self {
            Scale::Ratio => value.ln(),
            Scale::Points => value,
        }
    }

    /// A difference on that scale as a change: new over base minus one, or points.
    fn change(self, difference: f64) -> f64 {
        match self {
            Scale::Ratio => difference.exp() - 1.0,
            Scale::Points => difference,
        }
    }

    /// A change (a threshold) as a difference on that scale: the inverse of [`Self::change`].
    fn difference(self, change: f64) -> f64 {
        match self {
            Scale::Ratio => change.ln_1p(),
            Scale::Points => change,
        }
    }
}

impl Metric {
    /// Every metric, in the order the reports list them.
    pub const ALL: [Metric; 5] = [
        Metric::Run,
        Metric::EndToEnd,
        Metric::Memory,
        Metric::Overhead,
        Metric::Bytes,
    ];

    /// The name flags and files use: `run`, `end-to-end`, `memory`, `overhead`, `bytes`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Run => "run",
            Metric::EndToEnd => "end-to-end",
            Metric::Memory => "memory",
            Metric::Overhead => "overhead",
            Metric::Bytes => "bytes",
        }
    }

    /// The metric whose [`name`](Self::name) this is.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// How its change is expressed.
    pub fn scale(self) -> Scale {
        match self {
            Metric::Overhead => Scale::Points,
            _ => Scale::Ratio,
        }
    }

    /// Its threshold among `thresholds`.
    pub fn threshold(self, thresholds: &Thresholds) -> f64 {
        match self {
            Metric::Run => thresholds.run,
            Metric::EndToEnd => thresholds.end_to_end,
            Metric::Memory => thresholds.memory,
            Metric::Overhead => thresholds.overhead,
            Metric::Bytes => thresholds.bytes,
        }
    }

    /// Sets its threshold in `thresholds`.
    pub fn set_threshold(self, thresholds: &mut Thresholds, value: f64) {
        match self {
            Metric::Run => thresholds.run = value,
            Metric::EndToEnd => thresholds.end_to_end = value,
            Metric::Memory => thresholds.memory = value,
            Metric::Overhead => thresholds.overhead = value,
            Metric::Bytes => thresholds.bytes = value,
        }
    }

    /// Its value in one sample, where the sample has one.
    fn of(self, sample: &Sample) -> Option<f64> {
        match self {
            Metric::Run => Some(sample.run_ns as f64),
            Metric::EndToEnd => {
                Some((sample.setup_ns + sample.first_run_ns + sample.teardown_ns) as f64)
            }
            Metric::Memory => sample.peak_rss_bytes.map(|b| b as f64),
            Metric::Overhead => (sample.overhead.capacity_ns > 0).then(|| sample.overhead.share()),
            Metric::Bytes => Some(sample.bytes_moved as f64),
        }
    }

    /// The medians of its samples in `cell`, unit by unit (`key` names a sample's unit: its
    /// process, or its round of a paired run). The samples the canary saw disturbed are left
    /// out, as the cell's own figures leave them out, while two units remain.
    pub(crate) fn units(self, cell: &Cell, key: impl Fn(&Sample) -> u32) -> BTreeMap<u32, f64> {
        let units_of = |quiet_only: bool| {
            let mut by: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
            for sample in cell.samples.iter().filter(|s| !(quiet_only && s.disturbed)) {
                if let Some(v) = self.of(sample) {
                    by.entry(key(sample)).or_default().push(v);
                }
            }
            by.into_iter()
                .filter_map(|(k, mut vs)| median(&mut vs).map(|m| (k, m)))
                .collect::<BTreeMap<u32, f64>>()
        };
        let quiet = units_of(true);
        if quiet.len() >= 2 {
            quiet
        } else {
            units_of(false)
        }
    }

    /// The cell's figure of this metric, as a run reports it: the geometric mean of its
    /// processes' medians (their mean for points), with its 95% interval — the cell's own for
    /// the run and end-to-end times, a t interval over the processes otherwise. `None` for a
    /// cell without samples of it.
    ///
    /// ```
    /// use parbench_reports::compare::Metric;
    /// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
    /// let cell = &results.cells[0];
    /// let figure = Metric::Run.figure_of(cell).unwrap();
    /// let wall = cell.wall.as_ref().unwrap();
    /// assert!((figure.value / wall.median_ns - 1.0).abs() < 1e-9);
    /// assert_eq!(figure.units.len(), wall.processes.max(1));
    /// ```
    pub fn figure_of(self, cell: &Cell) -> Option<Figure> {
        let units: Vec<f64> = self.units(cell, |s| s.process).into_values().collect();
        if units.is_empty() {
            return None;
        }
        let scale = if self.scale() == Scale::Ratio && units.iter().all(|v| *v > 0.0) {
            Scale::Ratio
        } else {
            Scale::Points
        };
        let logs: Vec<f64> = units.iter().map(|v| scale.of(*v)).collect();
        let n = logs.len() as f64;
        let mean = logs.iter().sum::<f64>() / n;
        let back = |x: f64| match scale {
            Scale::Ratio => x.exp(),
            Scale::Points => x,
        };
        let own = match self {
            Metric::Run => cell.wall.as_ref(),
            Metric::EndToEnd => cell.end_to_end.as_ref(),
            _ => None,
        };
        let interval = match own {
            Some(stats) if stats.ci_high_ns > 0.0 => Some((stats.ci_low_ns, stats.ci_high_ns)),
            _ if logs.len() >= 2 => {
                let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
                let half = crate::stats::t_quantile(0.975, n - 1.0) * sd / n.sqrt();
                Some((back(mean - half), back(mean + half)))
            }
            _ => None,
        };
        Some(Figure {
            value: own.map_or(back(mean), |stats| stats.median_ns),
            interval,
            units,
        })
    }

    /// A figure of this metric for people: `3.40 ms`, `12.0 MiB`, `12.5%`.
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::Run | Metric::EndToEnd => duration(value),
            Metric::Memory | Metric::Bytes => bytes(value.round() as u64),
            Metric::Overhead => percent(value),
        }
    }

    /// A change of this metric for people: `+5.2%` of a ratio, `+1.3 pt` of points.
    pub fn format_change(self, change: f64) -> String {
        match self.scale() {
            Scale::Ratio => format!("{:+.1}%", 100.0 * change),
            Scale::Points => format!("{:+.1} pt", 100.0 * change),
        }
    }
}

/// One cell's figure of one metric: see [`Metric::figure_of`].
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// The figure.
    pub value: f64,
    /// Its 95% interval, where there is one.
    pub interval: Option<(f64, f64)>,
    /// The medians of the processes it stands on, in process order.
    pub units: Vec<f64>,
}

/// What a comparison concludes of one metric of one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The new build's cell failed (a wrong answer, a crash, a timeout): worse than slow.
    Failed,
    /// Worse beyond doubt, and possibly by more than the threshold.
    Regression,
    /// Better beyond doubt, and possibly by more than the threshold.
    Improvement,
    /// Too noisy to tell at the threshold.
    Inconclusive,
    /// Within the threshold both ways.
    Unchanged,
}

impl Verdict {
    /// How reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Failed => "failed",
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Unchanged => "unchanged",
        }
    }

    /// Whether it fails the gate.
    pub fn fails_gate(self) -> bool {
        matches!(self, Verdict::Failed | Verdict::Regression)
    }

    /// The verdict of an interval `[low, high]` of the change on the compared scale
    /// (logarithms of ratios, or points) against the band `±band`.
    fn of_interval(low: f64, high: f64, band: f64) -> Verdict {
        if low > 0.0 && high > band {
            Verdict::Regression
        } else if high < 0.0 && low < -band {
            Verdict::Improvement
        } else if low >= -band && high <= band {
            Verdict::Unchanged
        } else {
            Verdict::Inconclusive
        }
    }
}

/// How the samples of the two sides were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// In one run, the two builds' processes taking turns: each round of a cell is a pair.
    Paired,
    /// In two separate runs: the processes of each side are independent.
    Independent,
}

/// How to compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Each metric's threshold.
    pub thresholds: Thresholds,
    /// The family-wise error rate (see the module's notes).
    pub alpha: f64,
    /// Compare results from different machines anyway (every output says so).
    pub allow_other_machine: bool,
    /// Compare the cells both sides hold when the sets differ (every output lists the rest).
    pub common_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            thresholds: Thresholds::default(),
            alpha: ALPHA,
            allow_other_machine: false,
            common_only: false,
        }
    }
}

/// Why two results cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// They were measured on different machines.
    #[error(
        "the results come from different machines ({}); timings of two machines say nothing \
         about two builds (--allow-other-machine compares them anyway)",
        .0.join("; ")
    )]
    OtherMachine(Vec<String>),
    /// They measured different work.
    #[error("the results measured different work: {0}")]
    OtherWork(String),
    /// Their cells differ.
    #[error(
        "the results hold different cells: {} (--common-only compares the {common} cells both hold)",
        describe_sides(.only_base, .only_new)
    )]
    OtherCells {
        /// Cells only the base holds.
        only_base: Vec<String>,
        /// Cells only the new side holds.
        only_new: Vec<String>,
        /// Cells both hold.
        common: usize,
    },
}

/// `only in base: a, b; only in new: c`.
fn describe_sides(only_base: &[String], only_new: &[String]) -> String {
    let mut parts = Vec::new();
    if !only_base.is_empty() {
        parts.push(format!("only in base: {}", only_base.join(", ")));
    }
    if !only_new.is_empty() {
        parts.push(format!("only in new: {}", only_new.join(", ")));
    }
    parts.join("; ")
}

/// One side of a comparison, as the reports name it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Where its results were read from (set by the caller).
    pub dir: Option<String>,
    /// The parbench version that measured.
    pub parbench_version: String,
    /// The git commit of its working tree, where known.
    pub git_commit: Option<String>,
    /// Whether that tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// The binary that measured it, in a paired run.
    pub binary: Option<String>,
    /// When its run started.
    pub started_at: String,
}

impl Side {
    fn of(results: &Results) -> Side {
        Side {
            dir: None,
            parbench_version: results.parbench_version.clone(),
            git_commit: results.machine.git_commit.clone(),
            git_dirty: results.machine.git_dirty,
            binary: results.pairing.as_ref().map(|p| p.binary.clone()),
            started_at: results.started_at.clone(),
        }
    }

    /// A short name: the directory, else the commit, else the start time.
    pub fn label(&self) -> String {
        self.dir
            .clone()
            .or_else(|| {
                self.git_commit
                    .as_ref()
                    .map(|c| c.chars().take(12).collect())
            })
            .unwrap_or_else(|| self.started_at.clone())
    }
}

/// One metric of one cell, compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The cell's id.
    pub cell: String,
    /// Its workload.
    pub workload: String,
    /// Its strategy, as labelled.
    pub strategy: String,
    /// The metric.
    pub metric: Metric,
    /// The base's figure: the geometric mean of its units' medians (the mean, for a share).
    pub base: Option<f64>,
    /// The new side's figure.
    pub new: Option<f64>,
    /// The change: new over base minus one, or new minus base in points.
    pub change: Option<f64>,
    /// The lower end of the change's interval at the comparison's level.
    pub low: Option<f64>,
    /// The upper end.
    pub high: Option<f64>,
    /// The interval's level: `1 - alpha / m` where it decided a regression, the screening's
    /// `1 - 0.002` in a paired run's first rounds.
    pub level: f64,
    /// The two-sided p-value of no change (unadjusted).
    pub p_value: Option<f64>,
    /// Units the estimate rests on: pairs in a paired run, else the fewer processes of the two
    /// sides.
    pub units: usize,
    /// The threshold it was judged against.
    pub threshold: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// What else a reader should know (a failure, a confirmation, a missing figure).
    pub note: Option<String>,
}

impl Row {
    /// The change as people read it: `+5.2% [+3.1%, +7.4%]`.
    pub fn change_text(&self) -> String {
        match (self.change, self.low, self.high) {
            (Some(c), Some(lo), Some(hi)) if lo == hi => self.metric.format_change(c),
            (Some(c), Some(lo), Some(hi)) => format!(
                "{} [{}, {}]",
                self.metric.format_change(c),
                self.metric.format_change(lo),
                self.metric.format_change(hi)
            ),
            (Some(c), _, _) => self.metric.format_change(c),
            _ => "—".to_owned(),
        }
    }
}

/// A confirmation: the cells flagged at first, measured once more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// Its first round.
    pub round: u32,
    /// The metrics it re-measured that had been flagged.
    pub flagged: usize,
    /// Those it confirmed.
    pub confirmed: usize,
}

/// Two results compared: what `compare.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// How the samples were taken.
    pub mode: Mode,
    /// The base side.
    pub base: Side,
    /// The new side.
    pub new: Side,
    /// The suite both ran.
    pub suite: String,
    /// The family-wise error rate.
    pub alpha: f64,
    /// The metrics that varied: among which `alpha` is shared (independent runs), or which the
    /// first rounds screened (a paired run).
    pub tests: usize,
    /// The thresholds.
    pub thresholds: Thresholds,
    /// How the machines differ, when the comparison was forced across machines.
    pub other_machine: Vec<String>,
    /// Each side's pace of the machine by its canary ([`crate::view::Pace`]): base's, then
    /// new's. For independent runs, whose every figure moves with it; `None` for a paired run
    /// (whose turns cancel it) or a side without canary readings.
    #[serde(default)]
    pub pace: Option<(crate::view::Pace, crate::view::Pace)>,
    /// Cells only the base holds (compared without them).
    pub only_base: Vec<String>,
    /// Cells only the new side holds.
    pub only_new: Vec<String>,
    /// The confirmation of a paired run, when one was needed.
    pub confirmation: Option<Confirmation>,
    /// Every metric of every cell both hold, in the suite's order.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// Whether anything failed the gate: a regression or a failed cell.
    pub fn regressed(&self) -> bool {
        self.failing() > 0
    }

    /// How many rows fail the gate: regressions and failed cells.
    pub fn failing(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict.fails_gate()).count()
    }

    /// The gate's exit code: 1 when anything regressed, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.regressed())
    }

    /// How many rows have this verdict.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    /// The rows that say something changed or could not tell (everything but *unchanged*),
    /// failures and regressions first, each kind largest change first.
    pub fn changed(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.verdict != Verdict::Unchanged)
            .collect();
        rows.sort_by(|a, b| {
            let size = |r: &Row| r.change.map_or(f64::INFINITY, f64::abs);
            a.verdict.cmp(&b.verdict).then(size(b).total_cmp(&size(a)))
        });
        rows
    }

    /// The comparison as `compare.json`.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys: serializing it cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

/// How two machines differ, as `what: base vs new`; empty for the same machine.
///
/// The fingerprint: CPU model, logical cores, memory (within 1%, which a kernel's reservations
/// move), kernel and frequency governor.
pub fn machine_differences(base: &Machine, new: &Machine) -> Vec<String> {
    let mut differences = Vec::new();
    let mut differ = |what: &str, a: String, b: String| {
        if a != b {
            differences.push(format!("{what}: {a} vs {b}"));
        }
    };
    differ("CPU", base.cpu_model.clone(), new.cpu_model.clone());
    differ(
        "logical cores",
        base.logical_cores.to_string(),
        new.logical_cores.to_string(),
    );
    let (a, b) = (base.memory_bytes as f64, new.memory_bytes as f64);
    if (a - b).abs() > 0.01 * a.max(b) {
        differ("memory", bytes(base.memory_bytes), bytes(new.memory_bytes));
    }
    differ("kernel", base.kernel.clone(), new.kernel.clone());
    let governor = |m: &Machine| m.governor.clone().unwrap_or_else(|| "none".to_owned());
    differ("governor", governor(base), governor(new));
    differences
}

/// The machine's fingerprint as one line: what [`machine_differences`] compares, the memory
/// to the nearest GiB. Runs with the same fingerprint are comparable.
///
/// ```
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let line = parbench_reports::compare::machine_fingerprint(&results.machine);
/// assert!(line.contains(&results.machine.cpu_model));
/// ```
pub fn machine_fingerprint(machine: &Machine) -> String {
    format!(
        "{} · {} cores · {} GiB · {} · {}",
        machine.cpu_model,
        machine.logical_cores,
        (machine.memory_bytes as f64 / f64::from(1u32 << 30)).round(),
        machine.kernel,
        machine.governor.as_deref().unwrap_or("no governor")
    )
}

/// Whether the two files are the two sides of one paired run.
fn paired(base: &Results, new: &Results) -> bool {
    match (&base.pairing, &new.pairing) {
        (Some(a), Some(b)) => a.run == b.run && a.side != b.side,
        _ => false,
    }
}

/// Compares `new` with `base` (see the module's notes).
///
/// # Errors
///
/// [`CompareError`] when the two were measured on different machines (unless
/// `allow_other_machine`), from different seeds or policies, or hold different cells (unless
/// `common_only`).
///
/// # Example
///
/// ```
/// use parbench_reports::compare::{compare, Options, Verdict};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// // A run compared with itself: nothing changed.
/// let comparison = compare(&results, &results, &Options::default())?;
/// assert!(!comparison.regressed());
/// assert_eq!(comparison.exit_code(), 0);
/// # Ok::<(), parbench_reports::compare::CompareError>(())
/// ```
pub fn compare(
    base: &Results,
    new: &Results,
    options: &Options,
) -> Result<Comparison, CompareError> {
    compare_in(base, new, options, false)
}

/// The cells a paired run's first rounds flag as regressed, at the screening level
/// ([`SCREEN`]): what the run measures once more before a regression stands. Empty for
/// independent runs, which cannot be measured again.
///
/// # Errors
///
/// As [`compare`].
pub fn screen(
    base: &Results,
    new: &Results,
    options: &Options,
) -> Result<Vec<String>, CompareError> {
    screened(base, new, options, |r| r.verdict == Verdict::Regression)
}

/// The cells whose steady run time a paired run's rounds so far leave too noisy to tell at
/// its threshold (*inconclusive* at the screening level): where more rounds are best spent.
/// Empty for independent runs.
///
/// # Errors
///
/// As [`compare`].
pub fn unsettled(
    base: &Results,
    new: &Results,
    options: &Options,
) -> Result<Vec<String>, CompareError> {
    screened(base, new, options, |r| {
        r.metric == Metric::Run && r.verdict == Verdict::Inconclusive
    })
}

/// The cells of a paired run with a screening row that `keep` keeps.
fn screened(
    base: &Results,
    new: &Results,
    options: &Options,
    keep: impl Fn(&Row) -> bool,
) -> Result<Vec<String>, CompareError> {
    let comparison = compare_in(base, new, options, true)?;
    if comparison.mode != Mode::Paired {
        return Ok(Vec::new());
    }
    let mut cells: Vec<String> = comparison
        .rows
        .into_iter()
        .filter(|r| keep(r))
        .map(|r| r.cell)
        .collect();
    cells.dedup();
    Ok(cells)
}

/// [`compare`], or with `screening` a paired run's first rounds' verdicts as they are.
fn compare_in(
    base: &Results,
    new: &Results,
    options: &Options,
    screening_only: bool,
) -> Result<Comparison, CompareError> {
    let other_machine = machine_differences(&base.machine, &new.machine);
    if !other_machine.is_empty() && !options.allow_other_machine {
        return Err(CompareError::OtherMachine(other_machine));
    }
    if base.suite.seed != new.suite.seed {
        return Err(CompareError::OtherWork(format!(
            "inputs generated from seed {} and from seed {}",
            base.suite.seed, new.suite.seed
        )));
    }
    if base.suite.policy != new.suite.policy {
        return Err(CompareError::OtherWork(format!(
            "failure policy {} and {}",
            base.suite.policy, new.suite.policy
        )));
    }
    let base_cells: BTreeMap<&str, &Cell> = base.cells.iter().map(|c| (c.id.as_str(), c)).collect();
    let new_ids: BTreeSet<&str> = new.cells.iter().map(|c| c.id.as_str()).collect();
    let only_base: Vec<String> = base
        .cells
        .iter()
        .filter(|c| !new_ids.contains(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    let only_new: Vec<String> = new
        .cells
        .iter()
        .filter(|c| !base_cells.contains_key(c.id.as_str()))
        .map(|c| c.id.clone())
        .collect();
    let pairs: Vec<(&Cell, &Cell)> = new
        .cells
        .iter()
        .filter_map(|c| base_cells.get(c.id.as_str()).map(|b| (*b, c)))
        .collect();
    if (!only_base.is_empty() || !only_new.is_empty()) && !options.common_only {
        return Err(CompareError::OtherCells {
            only_base,
            only_new,
            common: pairs.len(),
        });
    }
    let mode = if paired(base, new) {
        Mode::Paired
    } else {
        Mode::Independent
    };
    let confirmation_round = match mode {
        Mode::Paired => new.pairing.as_ref().and_then(|p| p.confirmation_round),
        Mode::Independent => None,
    };
    let tests: Vec<Test<'_>> = pairs
        .iter()
        .flat_map(|&(b, n)| Test::of_cell(b, n, mode))
        .collect();
    let judge = Judge {
        tests: &tests,
        thresholds: &options.thresholds,
    };
    let (decisions, confirmation, screened) = match mode {
        Mode::Independent => {
            let (decisions, noisy) =
                judge.decide(&|_| true, &|_| true, Level::Family(options.alpha));
            (decisions, None, noisy)
        }
        Mode::Paired => {
            let first = |r: u32| confirmation_round.is_none_or(|c| r < c);
            let (screening, noisy) = judge.decide(&|_| true, &first, Level::Each(SCREEN));
            let flagged: Vec<bool> = screening
                .iter()
                .map(|d| d.verdict == Verdict::Regression)
                .collect();
            match confirmation_round {
                None if screening_only => (screening, None, noisy),
                None => (
                    screening.into_iter().map(|d| d.unconfirmed(None)).collect(),
                    None,
                    noisy,
                ),
                Some(round) => {
                    let remeasured = |i: usize| flagged[i] && tests[i].has_units_from(round);
                    let (second, _) =
                        judge.decide(&remeasured, &|r| r >= round, Level::Family(options.alpha));
                    let total = (0..tests.len()).filter(|&i| remeasured(i)).count();
                    let mut confirmed = 0;
                    let decisions = screening
                        .into_iter()
                        .zip(second)
                        .enumerate()
                        .map(|(i, (first, second))| {
                            if !remeasured(i) {
                                return first.unconfirmed(Some(round));
                            }
                            let stands = second.verdict == Verdict::Regression;
                            confirmed += usize::from(stands);
                            Decision {
                                note: Some(if stands {
                                    "confirmed by a second measurement".to_owned()
                                } else {
                                    "flagged by the first rounds, not confirmed by the second \
                                     measurement"
                                        .to_owned()
                                }),
                                ..second
                            }
                        })
                        .collect();
                    (
                        decisions,
                        Some(Confirmation {
                            round,
                            flagged: total,
                            confirmed,
                        }),
                        noisy,
                    )
                }
            }
        }
    };
    let rows = tests
        .iter()
        .zip(decisions)
        .map(|(test, decision)| test.row(decision, &options.thresholds))
        .collect();
    Ok(Comparison {
        mode,
        base: Side::of(base),
        new: Side::of(new),
        suite: new.suite.name.clone(),
        alpha: options.alpha,
        tests: screened,
        thresholds: options.thresholds,
        other_machine,
        pace: match mode {
            Mode::Independent => crate::view::Pace::of(base).zip(crate::view::Pace::of(new)),
            Mode::Paired => None,
        },
        only_base,
        only_new,
        confirmation,
        rows,
    })
}

/// One metric of one cell, before the verdict: each side's units (process or round, and its
/// median on the compared scale).
struct Test<'a> {
    new: &'a Cell,
    /// The new build's cell failed where the base's did not.
    new_failure: bool,
    metric: Metric,
    mode: Mode,
    /// Unit -> median, per side; `None` when the cell has no figures (it failed).
    units: Option<(BTreeMap<u32, f64>, BTreeMap<u32, f64>)>,
    /// Why there is nothing to compare, when there is not.
    missing: Option<String>,
}

impl<'a> Test<'a> {
    /// A failed cell gives one test (its failure); a measured one a test per metric.
    fn of_cell(base: &'a Cell, new: &'a Cell, mode: Mode) -> Vec<Test<'a>> {
        let failure = |cell: &Cell, which: &str| {
            format!(
                "{which} ({}): {}",
                cell.status.as_str(),
                cell.error.as_deref().unwrap_or("no error recorded")
            )
        };
        let missing = match (base.status, new.status) {
            (Status::Ok, Status::Ok) => None,
            (Status::Ok, _) => Some(failure(new, "the new build's cell failed")),
            (_, Status::Ok) => Some(failure(base, "the base build's cell failed")),
            _ => Some(failure(new, "failed in both builds")),
        };
        if missing.is_some() {
            return vec![Test {
                new,
                new_failure: base.status == Status::Ok,
                metric: Metric::Run,
                mode,
                units: None,
                missing,
            }];
        }
        Metric::ALL
            .into_iter()
            .map(|metric| {
                let key = |s: &Sample| match mode {
                    Mode::Paired => s.round,
                    Mode::Independent => s.process,
                };
                let (b, n) = (metric.units(base, key), metric.units(new, key));
                let missing = if b.is_empty() || n.is_empty() {
                    Some(format!("no {} measured", metric.name()))
                } else {
                    None
                };
                Test {
                    new,
                    new_failure: false,
                    metric,
                    mode,
                    units: Some((b, n)),
                    missing,
                }
            })
            .collect()
    }

    /// The difference on the compared scale from the units `keep` keeps; `None` where there is
    /// none to judge by.
    fn difference(&self, keep: &dyn Fn(u32) -> bool) -> Option<Difference> {
        let (base, new) = self.units.as_ref()?;
        if self.missing.is_some() {
            return None;
        }
        let kept = |units: &BTreeMap<u32, f64>| -> BTreeMap<u32, f64> {
            units
                .iter()
                .filter(|(k, _)| keep(**k))
                .map(|(k, v)| (*k, *v))
                .collect()
        };
        let (base, new) = (kept(base), kept(new));
        let scale = self.metric.scale();
        if scale == Scale::Ratio {
            let zero = |units: &BTreeMap<u32, f64>| units.values().all(|v| *v <= 0.0);
            if zero(&base) && zero(&new) && !base.is_empty() && !new.is_empty() {
                // Nothing on either side (bytes of an in-process strategy): exactly unchanged.
                return Some(Difference::none());
            }
            if base.values().chain(new.values()).any(|v| *v <= 0.0) {
                return None;
            }
        }
        match self.mode {
            Mode::Paired => {
                let differences: Vec<f64> = new
                    .iter()
                    .filter_map(|(k, n)| base.get(k).map(|b| scale.of(*n) - scale.of(*b)))
                    .collect();
                Difference::paired(&differences)
            }
            Mode::Independent => {
                let values = |units: &BTreeMap<u32, f64>| -> Vec<f64> {
                    units.values().map(|v| scale.of(*v)).collect()
                };
                Difference::independent(&values(&base), &values(&new))
            }
        }
    }

    /// The figure of one side: the geometric mean of its units' medians (the mean for points).
    fn figure(&self, units: &BTreeMap<u32, f64>) -> Option<f64> {
        if units.is_empty() {
            return None;
        }
        let n = units.len() as f64;
        let scale = self.metric.scale();
        Some(match scale {
            // The geometric mean: the mean on the scale's logarithms, back as a value.
            Scale::Ratio if units.values().all(|v| *v > 0.0) => {
                (units.values().map(|v| scale.of(*v)).sum::<f64>() / n).exp()
            }
            _ => units.values().sum::<f64>() / n,
        })
    }

    /// Whether the new side has units from `round` on: whether a confirmation re-measured it.
    fn has_units_from(&self, round: u32) -> bool {
        self.units
            .as_ref()
            .is_some_and(|(_, new)| new.keys().any(|k| *k >= round))
    }

    /// Units the estimate rests on: pairs in a paired run, else the fewer processes of the two
    /// sides.
    fn unit_count(&self, keep: &dyn Fn(u32) -> bool) -> usize {
        match (&self.units, self.mode) {
            (Some((b, n)), Mode::Paired) => {
                n.keys().filter(|k| keep(**k) && b.contains_key(k)).count()
            }
            (Some((b, n)), Mode::Independent) => b.len().min(n.len()),
            (None, _) => 0,
        }
    }

    fn row(&self, decision: Decision, thresholds: &Thresholds) -> Row {
        let scale = self.metric.scale();
        let difference = decision.difference;
        let interval = decision
            .interval
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite());
        let (base, new) = match &self.units {
            Some((b, n)) => (self.figure(b), self.figure(n)),
            None => (None, None),
        };
        let note = self
            .missing
            .clone()
            .or(decision.note)
            .or_else(|| match &difference {
                None => Some(match self.mode {
                    Mode::Paired => "fewer than 2 pairs: no interval".to_owned(),
                    Mode::Independent => {
                        "fewer than 2 processes on a side: no interval across processes".to_owned()
                    }
                }),
                Some(_) if interval.is_none() => Some(format!(
                    "{} pairs are too few for an interval at {:.3}%",
                    decision.units,
                    100.0 * decision.level
                )),
                Some(_) => None,
            });
        Row {
            cell: self.new.id.clone(),
            workload: self.new.workload.clone(),
            strategy: self.new.strategy_label().to_owned(),
            metric: self.metric,
            base,
            new,
            change: difference.as_ref().map(|d| scale.change(d.estimate())),
            low: interval.map(|(lo, _)| scale.change(lo)),
            high: interval.map(|(_, hi)| scale.change(hi)),
            level: decision.level,
            p_value: difference.as_ref().map(Difference::p_value),
            units: decision.units,
            threshold: self.metric.threshold(thresholds),
            verdict: decision.verdict,
            note,
        }
    }
}

/// The level a set of verdicts is reached at.
#[derive(Clone, Copy, Debug)]
enum Level {
    /// Family-wise: `1 - alpha / m` for each of the `m` tests that vary (Bonferroni).
    Family(f64),
    /// `1 - a` for each test on its own.
    Each(f64),
}

/// What was decided of one test: its verdict, the estimate, interval and level behind it.
#[derive(Clone, Debug)]
struct Decision {
    verdict: Verdict,
    difference: Option<Difference>,
    /// The difference's interval at `level`, on the compared scale (unbounded when there are
    /// too few units to reach the level).
    interval: Option<(f64, f64)>,
    level: f64,
    units: usize,
    note: Option<String>,
}

/// Verdicts over a family of tests.
struct Judge<'a> {
    tests: &'a [Test<'a>],
    thresholds: &'a Thresholds,
}

impl Judge<'_> {
    /// The decision of each test (those `test` leaves out are *unchanged*, with no estimate)
    /// from the units `unit` keeps, at `level`; with the number of tests that varied.
    fn decide(
        &self,
        test: &dyn Fn(usize) -> bool,
        unit: &dyn Fn(u32) -> bool,
        level: Level,
    ) -> (Vec<Decision>, usize) {
        let differences: Vec<Option<Difference>> = self
            .tests
            .iter()
            .enumerate()
            .map(|(i, t)| if test(i) { t.difference(unit) } else { None })
            .collect();
        let noisy = differences
            .iter()
            .flatten()
            .filter(|d| d.is_noisy())
            .count();
        let level = match level {
            Level::Family(alpha) => 1.0 - alpha / noisy.max(1) as f64,
            Level::Each(a) => 1.0 - a,
        };
        let decisions = self
            .tests
            .iter()
            .zip(differences)
            .enumerate()
            .map(|(i, (t, difference))| {
                let interval = difference.as_ref().map(|d| d.interval(level));
                let verdict = match interval {
                    _ if t.units.is_none() && t.new_failure => Verdict::Failed,
                    _ if !test(i) => Verdict::Unchanged,
                    None => Verdict::Inconclusive,
                    Some((low, high)) => {
                        let threshold = t.metric.threshold(self.thresholds);
                        let band = t.metric.scale().difference(threshold);
                        Verdict::of_interval(low, high, band)
                    }
                };
                Decision {
                    verdict,
                    difference,
                    interval,
                    level,
                    units: t.unit_count(unit),
                    note: None,
                }
            })
            .collect();
        (decisions, noisy)
    }
}

impl Decision {
    /// A screening decision as a final one: a regression the screening found stands only once a
    /// confirmation finds it too, so one never re-measured is inconclusive.
    fn unconfirmed(self, confirmation: Option<u32>) -> Decision {
        match self.verdict {
            Verdict::Regression => Decision {
                verdict: Verdict::Inconclusive,
                note: Some(match confirmation {
                    Some(round) => {
                        format!("flagged by the first rounds, not re-measured from round {round}")
                    }
                    None => {
                        "flagged by the first rounds; the run measured no confirmation".to_owned()
                    }
                }),
                ..self
            },
            _ => self,
        }
    }
}

/// Reads a threshold as suites and flags write it: `5%` or a fraction `0.05` (for the overhead
/// share, `5%` is 5 points). It must lie between 0 (exclusive) and 10 (1,000%).
///
/// ```
/// use parbench_reports::compare::parse_threshold;
/// assert_eq!(parse_threshold("5%"), Ok(0.05));
/// assert_eq!(parse_threshold("0.1"), Ok(0.1));
/// assert!(parse_threshold("-2%").is_err());
/// ```
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let value = match trimmed.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => trimmed.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a threshold such as \"5%\" or 0.05"))?;
    if value > 0.0 && value <= 10.0 {
        Ok(value)
    } else {
        Err(format!(
            "`{text}`: a threshold must be above 0 and at most 1000%"
        ))
    }
}

/// Sets one threshold from `METRIC=VALUE` (`run=3%`): what `--threshold` takes.
///
/// # Errors
///
/// An unknown metric (the message lists the valid names) or a bad value.
pub fn set_threshold(thresholds: &mut Thresholds, assignment: &str) -> Result<(), String> {
    let (name, value) = assignment
        .split_once('=')
        .ok_or_else(|| format!("`{assignment}` is not METRIC=VALUE such as run=3%"))?;
    let metric = Metric::from_name(name.trim()).ok_or_else(|| {
        format!(
            "unknown metric `{}`; the metrics are {}",
            name.trim(),
            Metric::ALL.map(Metric::name).join(", ")
        )
    })?;
    metric.set_threshold(thresholds, parse_threshold(value)?);
    Ok(())
}
