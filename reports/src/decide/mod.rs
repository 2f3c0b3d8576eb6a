//! `parbench decide`: which strategy wins for which kind of work, learned from measurements.
//!
//! A pure function of results, as the gate is. Every bucket of a run (a workload with its
//! parameters, a size, a task count) that measured the sequential loop becomes a [`Case`]: its
//! features, measured rather than declared ([`Feature`]), and its label, the strategy that won
//! it at its best worker count — or, of the strategies not shown slower than the fastest by
//! more than [`EQUIVALENT`], the simplest ([`SIMPLICITY`]). [`learn`] grows
//! a CART decision tree on the cases (Gini impurity, at most [`Options::max_depth`] levels,
//! leaves of at least [`Options::min_leaf`] cases, every tie broken the same way each time) and
//! keeps it as a [`Tree`] whose thresholds are in physical units; [`cross_validate`] scores it
//! by leaving one workload out at a time; [`Decision`] bundles both with the folklore checked
//! ([`folklore`]); [`text`], [`markdown`], [`mermaid`], [`dot`], [`svg`] and [`folklore_svg`]
//! draw them.
//!
//! # Example
//!
//! A [`Decision`] from ten buckets whose winner is the loop below 50 µs of CPU per task and
//! threads above (in practice the cases come from results: [`cases`]):
//!
//! ```
//! use parbench_reports::decide::{self, Case, Decision, Options, Verdict};
//!
//! let cases: Vec<Case> = (0..10)
//!     .map(|i| {
//!         let cpu_ns = 10f64.powi(3 + i / 2); // 1 µs to 10 ms per task
//!         let winner = if cpu_ns < 50e3 { "sequential" } else { "threads" };
//!         Case {
//!             work: format!("work{i}"),
//!             bucket: format!("work{i}/size=64/tasks=8"),
//!             kind: "synthetic".into(),
//!             // Waiting share, CPU per task, bytes per task, CPU per byte, tasks, input.
//!             features: [0.0, 1.0, cpu_ns, 1024.0, cpu_ns / 1024.0, 8.0, 4096.0, 1.0],
//!             winner: winner.into(),
//!             workers: 2,
//!             fastest: None,
//!             tied: vec![winner.into()],
//!             margin: None,
//!             steadiness: decide::Steadiness::SURE,
//!         }
//!     })
//!     .collect();
//! let decision = Decision::learn(cases, &Options::default())?;
//! assert_eq!(decision.tree.correct(), 10);
//! assert_eq!(decision.accuracy.share(), 1.0); // each bucket, left out, predicted right
//! let text = decide::text(&decision);
//! assert!(text.starts_with("CPU per task ≥ 31.62 µs?\n├─ no: sequential · 4 buckets, 4 right\n"));
//! assert!(decide::mermaid(&decision.tree).contains("n0{\"CPU per task ≥ 31.62 µs?\"}"));
//! assert!(decide::svg(&decision).contains(">CPU per task ≥ 31.62 µs?</text>"));
//! assert!(decide::markdown(&decision).contains("```mermaid\nflowchart TD\n"));
//! // CPU-bound work on small data where processes with shared memory never won:
//! assert_eq!(decision.folklore[0].verdict, Verdict::Contradicted);
//! assert!(decide::folklore_svg(&decision.folklore).contains(">contradicted</text>"));
//! # Ok::<(), decide::DecideError>(())
//! ```

mod folklore;
mod render;

pub use folklore::{folklore, Branch, Rule, Verdict, RULES};
pub use render::{dot, markdown, mermaid, text};
pub(crate) use render::{node_lines, walk, Edge};

/// The learned tree as a standalone SVG (`decision-tree.svg`; the chart of `report.html`):
/// each question with its threshold, each leaf with its winner, how many buckets it holds and
/// gets right and its margin over the runner-up; the real work's paths highlighted and listed
/// under the leaves they reach, ✓ where the measured winner is the tree's.
pub fn svg(decision: &Decision) -> String {
    crate::html::tree::learned(decision)
}

/// The folklore tree as a standalone SVG: each branch of [`RULES`] with its verdict and
/// evidence.
pub fn folklore_svg(branches: &[Branch]) -> String {
    crate::html::tree::folklore(branches)
}

use crate::figures::{Bucket, Ratio, BASELINE_STRATEGY};
use crate::{Cell, Results, Stats, Status};

/// What a case is described by: measured properties of the work, as a strategy meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// CPU time of one task, in the sequential run: its CPU time over its tasks.
    CpuPerTask,
    /// Bytes in and out per task: what a process strategy copies for it.
    BytesPerTask,
    /// CPU time per byte in and out: low for work that streams through memory (squaring
    /// integers), high for work that computes on what it reads.
    CpuPerByte,
    /// The share of the sequential run spent waiting: 1 − CPU time / run time.
    WaitingShare,
    /// How many times faster the input's first 64 items run as concurrent futures than one
    /// at a time (1 for work without an async path): whether a runtime can overlap the waits,
    /// which the waiting share cannot tell — a blocking client waits as long as an async one.
    AsyncOverlap,
    /// The number of tasks.
    Tasks,
    /// Bytes of input.
    InputBytes,
    /// Rounds a run makes over its tasks: 1 for one pass, more for iterative work whose
    /// rounds exchange a state (`kmeans`).
    Rounds,
}

/// Every feature, in the order of [`Case::features`].
///
/// Of two questions that split the cases equally well, the learner asks of the feature first
/// here: whether the work waits, whether a runtime can overlap its waits, then how much CPU a
/// task takes, then the bytes — work that waits has little CPU per task and moves few bytes,
/// so those often split the same cases, and the first is the one a review asks about.
pub const FEATURES: [Feature; 8] = [
    Feature::WaitingShare,
    Feature::AsyncOverlap,
    Feature::CpuPerTask,
    Feature::BytesPerTask,
    Feature::CpuPerByte,
    Feature::Tasks,
    Feature::InputBytes,
    Feature::Rounds,
];

impl Feature {
    /// Its name in a question: "CPU per task".
    pub fn name(self) -> &'static str {
        match self {
            Feature::CpuPerTask => "CPU per task",
            Feature::BytesPerTask => "bytes per task",
            Feature::CpuPerByte => "CPU per byte",
            Feature::WaitingShare => "waiting share",
            Feature::AsyncOverlap => "async overlap",
            Feature::Tasks => "tasks",
            Feature::InputBytes => "input",
            Feature::Rounds => "rounds",
        }
    }

    /// A value in its unit: `85 µs`, `12.0 KiB`, `40%`, `64`.
    ///
    /// ```
    /// use parbench_reports::decide::Feature;
    /// assert_eq!(Feature::CpuPerTask.format(85_000.0), "85.00 µs");
    /// assert_eq!(Feature::WaitingShare.format(0.4), "40.0%");
    /// assert_eq!(Feature::AsyncOverlap.format(12.04), "12.0x");
    /// assert_eq!(Feature::AsyncOverlap.format(1.118), "1.12x");
    /// assert_eq!(Feature::Tasks.format(63.5), "64");
    /// ```
    pub fn format(self, value: f64) -> String {
        match self {
            Feature::CpuPerTask => crate::format::duration(value),
            Feature::CpuPerByte => format!("{} ns/B", crate::format::significant(value)),
            Feature::BytesPerTask | Feature::InputBytes => {
                crate::format::bytes(value.max(0.0).round() as u64)
            }
            Feature::WaitingShare => crate::format::percent(value),
            Feature::AsyncOverlap => format!("{}x", crate::format::significant(value)),
            // A count: at or above 1.41 means at or above 2.
            Feature::Tasks | Feature::Rounds => format!("{}", value.ceil()),
        }
    }

    /// Its place in [`FEATURES`] (and in [`Case::features`]).
    fn index(self) -> usize {
        FEATURES.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// Whether the tree splits it on a logarithmic scale: quantities that span decades, whose
    /// thresholds fall at geometric midpoints (between 20 µs and 100 µs: 44.7 µs).
    fn logarithmic(self) -> bool {
        !matches!(self, Feature::WaitingShare)
    }

    fn scaled(self, value: f64) -> f64 {
        if self.logarithmic() {
            value.max(1e-3).log10()
        } else {
            value
        }
    }

    fn unscaled(self, value: f64) -> f64 {
        if self.logarithmic() {
            10f64.powf(value)
        } else {
            value
        }
    }
}

/// The order ties are broken in: of strategies whose intervals overlap the fastest's, the one
/// first here wins — the simpler to write and the leaner to run. Strategies not listed (a
/// user's own) come after, by name.
pub const SIMPLICITY: [&str; 9] = [
    "sequential",
    "threads",
    "thread-pool",
    "rayon",
    "tokio",
    "process-pool",
    "process-shm",
    "actors",
    "timely",
];

/// The tie margin: a strategy is tied with the fastest unless the interval of its median over
/// the fastest's lies wholly above `1 + EQUIVALENT` — shown slower by more than this share.
/// The interval holds the run-to-run movement (two runs of one build disagree beyond their
/// intervals in a few cells in a hundred), so the label does not flip when a strategy sits
/// near the margin, as it did when a tie was a median within 5%; and a lead below 3% is not
/// worth a harder strategy. Criterion judges a change the same way: significant and beyond
/// a noise threshold.
pub const EQUIVALENT: f64 = 0.03;

/// How much slower the runner-up is than the winner: its median run time over the winner's,
/// with an approximate 95% interval (the two medians' intervals combined on a log scale).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Margin {
    /// The runner-up: the fastest strategy other than the winner.
    pub runner_up: String,
    /// Its median over the winner's (1.30: 30% slower).
    pub ratio: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// One bucket of a run, as the tree sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Case {
    /// The workload with its non-default parameters: what cross-validation leaves out whole.
    pub work: String,
    /// `work/size=N/tasks=N`.
    pub bucket: String,
    /// The workload's kind (`compute`, `io`, `synthetic`, ...): the tree learns from every
    /// kind, and places the work of the others than `synthetic` on its chart.
    pub kind: String,
    /// The features, in the order of [`FEATURES`].
    pub features: [f64; 8],
    /// The label: the strategy that won, at its best worker count (`rayon/w2`'s `rayon`).
    pub winner: String,
    /// The worker count it won at.
    pub workers: usize,
    /// The fastest strategy by median, when a tie gave the label to a simpler one.
    pub fastest: Option<String>,
    /// Every strategy tied for the win (not shown slower than the fastest by more than
    /// [`EQUIVALENT`]), simplest first: the winner is the first.
    pub tied: Vec<String>,
    /// How far behind the runner-up is, when another strategy was measured.
    pub margin: Option<Margin>,
    /// How often a rerun would give the same label.
    pub steadiness: Steadiness,
}

impl Case {
    /// One of its features.
    pub fn feature(&self, feature: Feature) -> f64 {
        self.features[feature.index()]
    }

    /// Whether it is real work, placed on the chart (not `synthetic`).
    pub fn real(&self) -> bool {
        self.kind != "synthetic"
    }
}

/// A strategy's best cell in a bucket.
struct Entry<'a> {
    strategy: String,
    cell: &'a Cell,
    wall: &'a Stats,
}

/// The strategy part of a cell's id (`timely[mode=processes]` of `.../timely[mode=processes]/w2`).
fn strategy_label(cell: &Cell) -> String {
    cell.id
        .rsplit('/')
        .nth(1)
        .map_or_else(|| cell.strategy.clone(), str::to_owned)
}

/// Where a strategy stands in [`SIMPLICITY`], as a key that sorts the simpler first (a
/// strategy's variants by their labels, unknown strategies last).
///
/// ```
/// use parbench_reports::decide::simplicity;
/// assert!(simplicity("threads") < simplicity("thread-pool[threads=executor]"));
/// assert!(simplicity("thread-pool") < simplicity("thread-pool[threads=executor]"));
/// assert!(simplicity("timely") < simplicity("mine"));
/// ```
pub fn simplicity(strategy: &str) -> (usize, &str) {
    let base = strategy.split('[').next().unwrap_or(strategy);
    (
        SIMPLICITY
            .iter()
            .position(|s| *s == base)
            .unwrap_or(SIMPLICITY.len()),
        strategy,
    )
}

/// The cases of a run: every bucket with a verified sequential cell and another strategy.
/// Buckets without them are left out (a filtered run, a failed baseline).
pub fn cases(results: &Results) -> Vec<Case> {
    let mut buckets: std::collections::BTreeMap<Bucket<'_>, Vec<&Cell>> = Default::default();
    for cell in &results.cells {
        buckets.entry(Bucket::of(cell)).or_default().push(cell);
    }
    buckets
        .into_iter()
        .filter_map(|(bucket, cells)| case(&bucket, &cells))
        .collect()
}

fn case(bucket: &Bucket<'_>, cells: &[&Cell]) -> Option<Case> {
    let measured = |c: &&&Cell| c.status == Status::Ok && c.verified && c.wall.is_some();
    let sequential = cells
        .iter()
        .filter(measured)
        .find(|c| c.strategy == BASELINE_STRATEGY)?;
    // The best worker count of each strategy.
    let mut best: Vec<Entry<'_>> = Vec::new();
    for cell in cells.iter().filter(measured) {
        let wall = cell.wall.as_ref()?;
        let entry = Entry {
            strategy: strategy_label(cell),
            cell,
            wall,
        };
        match best.iter_mut().find(|e| e.strategy == entry.strategy) {
            Some(e) if e.wall.median_ns <= entry.wall.median_ns => {}
            Some(e) => *e = entry,
            None => best.push(entry),
        }
    }
    if best.len() < 2 {
        return None;
    }
    best.sort_by(|a, b| a.wall.median_ns.total_cmp(&b.wall.median_ns));
    let fastest = &best[0];
    let names: Vec<&str> = best.iter().map(|e| e.strategy.as_str()).collect();
    let standings: Vec<Standing> = best.iter().map(|e| Standing::of(e.wall)).collect();
    let tied: Vec<&Entry<'_>> = tied_with_fastest(&standings, &names)
        .into_iter()
        .map(|i| &best[i])
        .collect();
    let winner = *tied.first()?;
    let margin = best
        .iter()
        .find(|e| e.strategy != winner.strategy)
        .map(|runner_up| {
            let ratio = Ratio::of(runner_up.wall, winner.wall);
            Margin {
                runner_up: runner_up.strategy.clone(),
                ratio: ratio.value,
                low: ratio.low,
                high: ratio.high,
            }
        });
    let name = format!(
        "{}/size={}/tasks={}",
        bucket.work, bucket.size, bucket.tasks
    );
    let steadiness = Steadiness::of(&standings, &names, &winner.strategy, &name);
    let samples = &sequential.samples;
    let cpu: u64 = samples.iter().map(|s| s.cpu_ns).sum();
    let run: u64 = samples.iter().map(|s| s.run_ns).sum();
    let runs = samples.len().max(1) as f64;
    let tasks = bucket.tasks.max(1) as f64;
    let features = &sequential.features;
    let cpu_per_task = cpu as f64 / runs / tasks;
    let bytes_per_task = (features.input_bytes + features.output_bytes) as f64 / tasks;
    Some(Case {
        work: bucket.work.to_owned(),
        bucket: name,
        kind: sequential.workload_kind.clone(),
        features: [
            if run > 0 {
                (1.0 - cpu as f64 / run as f64).clamp(0.0, 1.0)
            } else {
                0.0
            },
            features.async_overlap.unwrap_or(1.0).max(1.0),
            cpu_per_task,
            bytes_per_task,
            cpu_per_task / bytes_per_task.max(1.0),
            tasks,
            features.input_bytes as f64,
            sequential
                .work_rounds
                .as_ref()
                .map_or(1.0, |r| r.costs.rounds.max(1) as f64),
        ],
        winner: winner.strategy.clone(),
        workers: winner.cell.workers,
        fastest: (fastest.strategy != winner.strategy).then(|| fastest.strategy.clone()),
        tied: tied.iter().map(|e| e.strategy.clone()).collect(),
        margin,
        steadiness,
    })
}

/// A strategy's median in a bucket with its interval's half-width on a log scale: what the
/// tie rule reads.
#[derive(Clone, Copy, Debug)]
struct Standing {
    median: f64,
    log_half: f64,
}

impl Standing {
    fn of(wall: &Stats) -> Self {
        Self {
            median: wall.median_ns,
            log_half: crate::figures::log_half_width(
                wall.median_ns,
                wall.ci_low_ns,
                wall.ci_high_ns,
            ),
        }
    }
}

/// The strategies tied with the fastest of `standings`, simplest first: those not shown
/// slower by more than [`EQUIVALENT`] (the interval of their median over the fastest's, as
/// [`Ratio::of`] draws it, reaches down to `1 + EQUIVALENT`). The first is the label.
fn tied_with_fastest(standings: &[Standing], names: &[&str]) -> Vec<usize> {
    let Some(fastest) = standings
        .iter()
        .min_by(|a, b| a.median.total_cmp(&b.median))
    else {
        return Vec::new();
    };
    let mut tied: Vec<usize> = (0..standings.len())
        .filter(|&i| {
            let s = standings[i];
            let low = s.median / fastest.median * (-s.log_half.hypot(fastest.log_half)).exp();
            low <= 1.0 + EQUIVALENT
        })
        .collect();
    tied.sort_by(|&a, &b| simplicity(names[a]).cmp(&simplicity(names[b])));
    tied
}

/// Re-draws of a bucket's medians behind [`Steadiness`].
pub const REDRAWS: usize = 1000;

/// How steady a bucket's label is: how often a rerun of its cells would give it again.
///
/// Each strategy's median is drawn again [`REDRAWS`] times within its interval (normal on a
/// log scale, the 95% interval read as ±1.96 standard errors; seeded by the bucket, so the
/// same results give the same figure), with its interval's width kept, and the tie rule
/// applied to each draw. A label whose strategies are far apart is kept in every draw; one
/// that hangs on a strategy sitting on the tie margin, in about half — whatever the run did,
/// a second run has even odds to label such a bucket otherwise. Two runs that disagree on a
/// label are most often disagreeing on such a bucket.
///
/// ```
/// use parbench_reports::decide::Steadiness;
/// let sure = Steadiness::SURE;
/// assert_eq!(sure.kept, 1.0);
/// assert_eq!(sure.otherwise, None);
/// assert!(!sure.unsettled());
/// let coin = Steadiness { kept: 0.52, otherwise: Some("thread-pool".into()) };
/// assert!(coin.unsettled());
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Steadiness {
    /// The share of re-draws that keep the label.
    pub kept: f64,
    /// The label the other re-draws give most often, when any gives another.
    pub otherwise: Option<String>,
}

impl Steadiness {
    /// A label no re-draw changes.
    pub const SURE: Steadiness = Steadiness {
        kept: 1.0,
        otherwise: None,
    };

    /// Under this share of re-draws kept, a label is unsettled: about as likely to come out
    /// otherwise on a rerun as not.
    pub const SETTLED: f64 = 2.0 / 3.0;

    /// Whether a rerun would as likely as not label the bucket otherwise.
    pub fn unsettled(&self) -> bool {
        self.kept < Self::SETTLED
    }

    /// The steadiness of `label` among `standings` (named by `names`), re-drawn with a
    /// generator seeded by `seed`.
    fn of(standings: &[Standing], names: &[&str], label: &str, seed: &str) -> Self {
        // FNV-1a: a seed that stays the same across platforms and Rust versions.
        let seed = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut drawn = standings.to_vec();
        let mut kept = 0;
        let mut others: std::collections::BTreeMap<&str, usize> = Default::default();
        for _ in 0..REDRAWS {
            for (draw, standing) in drawn.iter_mut().zip(standings) {
                // A standard normal by Box–Muller, from (0, 1] and [0, 1).
                let z = (-2.0 * (1.0 - rng.f64()).ln()).sqrt()
                    * (std::f64::consts::TAU * rng.f64()).cos();
                draw.median = standing.median * (z * standing.log_half / 1.96).exp();
            }
            match tied_with_fastest(&drawn, names).first() {
                Some(&i) if names[i] == label => kept += 1,
                Some(&i) => *others.entry(names[i]).or_default() += 1,
                None => {}
            }
        }
        // The most frequent other label; of equally frequent ones, the simplest.
        let otherwise = others
            .into_iter()
            .max_by(|a, b| {
                a.1.cmp(&b.1)
                    .then_with(|| simplicity(b.0).cmp(&simplicity(a.0)))
            })
            .map(|(name, _)| name.to_owned());
        Self {
            kept: kept as f64 / REDRAWS as f64,
            otherwise,
        }
    }
}

/// How the tree is grown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Levels of questions, at most.
    pub max_depth: usize,
    /// Cases a leaf holds, at least.
    pub min_leaf: usize,
}

impl Default for Options {
    /// At most 4 levels, leaves of 2 cases or more.
    fn default() -> Self {
        Self {
            max_depth: 4,
            min_leaf: 2,
        }
    }
}

impl Options {
    /// The fewest cases a tree is learned from: enough for one question with a full leaf on
    /// each side, twice over.
    pub fn needed(&self) -> usize {
        4 * self.min_leaf.max(1)
    }
}

/// Why no tree could be learned.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecideError {
    /// Too few cases to learn from.
    #[error(
        "{have} buckets with a sequential cell and another strategy measured; a tree needs at \
         least {need} (measure more sizes, task counts or workloads, e.g. the `decide` suite)"
    )]
    TooFew {
        /// Cases there were.
        have: usize,
        /// Cases a tree needs.
        need: usize,
    },
}

/// A node of a learned tree: a question, or a leaf with the strategy it recommends.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Node {
    /// "Is `feature` ≥ `threshold`?": `above` when it is, `below` when not.
    Question {
        /// What is asked.
        feature: Feature,
        /// The threshold, in the feature's unit.
        threshold: f64,
        /// Where work below the threshold goes.
        below: Box<Node>,
        /// Where work at or above it goes.
        above: Box<Node>,
    },
    /// A recommendation.
    Leaf {
        /// The strategy.
        winner: String,
        /// The training cases that end here (indices into the cases learned from).
        cases: Vec<usize>,
        /// Of those, the ones whose own winner is this leaf's.
        correct: usize,
    },
}

impl Node {
    /// The leaf `features` end in.
    pub fn leaf(&self, features: &[f64; 8]) -> &Node {
        self.path(features).last().copied().unwrap_or(self)
    }

    /// The nodes from here to the leaf `features` end in, this one first.
    pub fn path(&self, features: &[f64; 8]) -> Vec<&Node> {
        let mut path = vec![self];
        let mut node = self;
        while let Node::Question {
            feature,
            threshold,
            below,
            above,
        } = node
        {
            node = if features[feature.index()] >= *threshold {
                above
            } else {
                below
            };
            path.push(node);
        }
        path
    }

    /// The strategy recommended for `features`.
    pub fn predict(&self, features: &[f64; 8]) -> &str {
        match self.leaf(features) {
            Node::Leaf { winner, .. } => winner,
            Node::Question { .. } => "",
        }
    }

    /// Questions from here down to the deepest leaf.
    pub fn depth(&self) -> usize {
        match self {
            Node::Leaf { .. } => 0,
            Node::Question { below, above, .. } => 1 + below.depth().max(above.depth()),
        }
    }
}

/// A tree learned from cases.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Tree {
    /// The first question (or the only leaf).
    pub root: Node,
    /// The cases it was learned from.
    pub cases: Vec<Case>,
}

impl Tree {
    /// The share of re-draws that keep a case's label, over its cases: about the share of
    /// labels a rerun of the same cells would give alike ([`Steadiness`]).
    pub fn steadiness(&self) -> f64 {
        self.cases.iter().map(|c| c.steadiness.kept).sum::<f64>() / self.cases.len().max(1) as f64
    }

    /// The cases whose label a rerun would as likely as not give otherwise
    /// ([`Steadiness::unsettled`]).
    pub fn unsettled(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| c.steadiness.unsettled())
    }

    /// Training cases the tree labels as they were measured.
    pub fn correct(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| self.root.predict(&c.features) == c.winner)
            .count()
    }
}

/// Learns a tree from `cases`.
///
/// # Errors
/// Fewer cases than [`Options::needed`].
pub fn learn(cases: &[Case], options: &Options) -> Result<Tree, DecideError> {
    if cases.len() < options.needed() {
        return Err(DecideError::TooFew {
            have: cases.len(),
            need: options.needed(),
        });
    }
    let scaled: Vec<[f64; 8]> = cases
        .iter()
        .map(|c| std::array::from_fn(|f| FEATURES[f].scaled(c.features[f])))
        .collect();
    let learner = Learner {
        cases,
        scaled: &scaled,
        options,
    };
    Ok(Tree {
        root: learner.grow((0..cases.len()).collect(), 0),
        cases: cases.to_vec(),
    })
}

/// CART: each node splits its cases by the question that lowers Gini impurity the most.
///
/// Written here rather than taken from `linfa-trees` or `smartcore`: linfa-trees counts labels
/// in a `HashMap`, so equally good questions and tied majorities go whichever way the map's
/// random order says — the same results gave trees of different accuracy from one call to the
/// next — and smartcore keeps its tree's nodes private, so its thresholds cannot be drawn.
/// Here every tie has a fixed answer: the earlier feature of [`FEATURES`], then the lower
/// threshold; a tied majority goes to the simpler strategy.
struct Learner<'a> {
    cases: &'a [Case],
    /// The features as the questions see them (logarithms, but for the waiting share).
    scaled: &'a [[f64; 8]],
    options: &'a Options,
}

impl Learner<'_> {
    /// The subtree of `members` (indices into the cases, ascending): each leaf records the
    /// cases that end in it.
    fn grow(&self, members: Vec<usize>, depth: usize) -> Node {
        let leaf = || {
            let winner = self.majority(&members);
            Node::Leaf {
                winner: winner.to_owned(),
                correct: members
                    .iter()
                    .filter(|&&i| self.cases[i].winner == winner)
                    .count(),
                cases: members.clone(),
            }
        };
        if depth >= self.options.max_depth || self.gini(&members) == 0.0 {
            return leaf();
        }
        let Some((feature, threshold)) = self.best_question(&members) else {
            return leaf();
        };
        let (above, below): (Vec<usize>, Vec<usize>) = members
            .iter()
            .partition(|&&i| self.scaled[i][feature] >= threshold);
        let (below, above) = (self.grow(below, depth + 1), self.grow(above, depth + 1));
        // A question whose answers recommend the same strategy says nothing.
        if let (Node::Leaf { winner: a, .. }, Node::Leaf { winner: b, .. }) = (&below, &above) {
            if a == b {
                return leaf();
            }
        }
        Node::Question {
            feature: FEATURES[feature],
            threshold: FEATURES[feature].unscaled(threshold),
            below: Box::new(below),
            above: Box::new(above),
        }
    }

    /// The question (feature, threshold on its scale) whose two sides, each of at least
    /// `min_leaf` cases, have the lowest impurity, if it is lower than the node's.
    fn best_question(&self, members: &[usize]) -> Option<(usize, f64)> {
        let min_leaf = self.options.min_leaf.max(1);
        let n = members.len();
        let mut best: Option<(usize, f64, f64)> = None;
        let mut bound = self.gini(members) - 1e-12;
        for feature in 0..FEATURES.len() {
            let mut sorted = members.to_vec();
            sorted.sort_by(|&a, &b| {
                self.scaled[a][feature]
                    .total_cmp(&self.scaled[b][feature])
                    .then(a.cmp(&b))
            });
            for left in min_leaf..=n.saturating_sub(min_leaf) {
                let (low, high) = (
                    self.scaled[sorted[left - 1]][feature],
                    self.scaled[sorted[left]][feature],
                );
                // Equal values stay on one side.
                if high - low < 1e-9 {
                    continue;
                }
                let (below, above) = sorted.split_at(left);
                let score = (below.len() as f64 * self.gini(below)
                    + above.len() as f64 * self.gini(above))
                    / n as f64;
                if score < bound {
                    bound = score - 1e-12;
                    best = Some((feature, (low + high) / 2.0, score));
                }
            }
        }
        best.map(|(feature, threshold, _)| (feature, threshold))
    }

    /// The labels of `members` with their counts, the simplest strategy first.
    fn counts(&self, members: &[usize]) -> Vec<(&str, usize)> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for &i in members {
            let label = self.cases[i].winner.as_str();
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        counts.sort_by(|a, b| simplicity(a.0).cmp(&simplicity(b.0)));
        counts
    }

    /// The most frequent label; of equally frequent ones, the simplest.
    fn majority(&self, members: &[usize]) -> &str {
        let counts = self.counts(members);
        counts
            .iter()
            .fold(None::<(&str, usize)>, |best, &(label, n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((label, n)),
            })
            .map_or("", |(label, _)| label)
    }

    /// Gini impurity: the chance two cases drawn at random have different labels.
    fn gini(&self, members: &[usize]) -> f64 {
        if members.is_empty() {
            return 0.0;
        }
        let n = members.len() as f64;
        1.0 - self
            .counts(members)
            .iter()
            .map(|(_, c)| (*c as f64 / n).powi(2))
            .sum::<f64>()
    }
}

/// Leave-one-workload-out accuracy: each workload (with its parameters) predicted by a tree
/// learned from the others.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Accuracy {
    /// Cases predicted as measured.
    pub correct: usize,
    /// Cases predicted (those of workloads whose fold had enough cases to learn from).
    pub total: usize,
    /// Per workload left out: its name, its cases predicted as measured, its cases.
    pub folds: Vec<(String, usize, usize)>,
    /// Per case (in the order given), what the tree learned without its workload predicted;
    /// `None` when too few cases were left to learn from.
    pub predicted: Vec<Option<String>>,
}

impl Accuracy {
    /// `correct / total`, 0 when nothing was predicted.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Scores learning on `cases` by leaving each workload out in turn.
pub fn cross_validate(cases: &[Case], options: &Options) -> Accuracy {
    let mut works: Vec<&str> = cases.iter().map(|c| c.work.as_str()).collect();
    works.sort_unstable();
    works.dedup();
    let mut accuracy = Accuracy {
        correct: 0,
        total: 0,
        folds: Vec::new(),
        predicted: vec![None; cases.len()],
    };
    for work in works {
        let train: Vec<Case> = cases.iter().filter(|c| c.work != work).cloned().collect();
        let Ok(tree) = learn(&train, options) else {
            continue;
        };
        let (mut correct, mut held) = (0, 0);
        for (case, predicted) in cases.iter().zip(&mut accuracy.predicted) {
            if case.work == work {
                let prediction = tree.root.predict(&case.features);
                correct += usize::from(prediction == case.winner);
                held += 1;
                *predicted = Some(prediction.to_owned());
            }
        }
        accuracy.correct += correct;
        accuracy.total += held;
        accuracy.folds.push((work.to_owned(), correct, held));
    }
    accuracy
}

/// Everything `parbench decide` tells of a set of cases: the tree, how well it predicts work it
/// did not learn from, where the real work lands on it, and the folklore checked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Decision {
    /// The tree learned from every case.
    pub tree: Tree,
    /// Leave-one-workload-out accuracy.
    pub accuracy: Accuracy,
    /// The essay's branches, each with its verdict.
    pub folklore: Vec<Branch>,
}

impl Decision {
    /// Learns the tree, cross-validates it and checks the folklore.
    ///
    /// # Errors
    /// [`DecideError::TooFew`] when there are fewer cases than [`Options::needed`].
    ///
    /// # Example
    ///
    /// ```
    /// use parbench_reports::decide::{cases, Decision, DecideError, Options};
    /// # let results: parbench_reports::Results =
    /// #     serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
    /// match Decision::learn(cases(&results), &Options::default()) {
    ///     Ok(decision) => print!("{}", parbench_reports::decide::text(&decision)),
    ///     Err(DecideError::TooFew { have, need }) => eprintln!("{have} buckets of {need}"),
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// ```
    pub fn learn(cases: Vec<Case>, options: &Options) -> Result<Self, DecideError> {
        let tree = learn(&cases, options)?;
        let accuracy = cross_validate(&cases, options);
        let folklore = folklore(&cases);
        Ok(Self {
            tree,
            accuracy,
            folklore,
        })
    }

    /// The decision of a run's buckets, with the default [`Options`].
    ///
    /// # Errors
    /// [`DecideError::TooFew`] when the run has too few buckets.
    pub fn of(results: &Results) -> Result<Self, DecideError> {
        Self::learn(cases(results), &Options::default())
    }

    /// The real work (not `synthetic`) with the tree's answer for it: `(index in the cases,
    /// case, answer)`.
    pub fn placed(&self) -> impl Iterator<Item = (usize, &Case, &str)> + '_ {
        self.tree
            .cases
            .iter()
            .enumerate()
            .filter(|(_, c)| c.real())
            .map(|(i, c)| (i, c, self.tree.root.predict(&c.features)))
    }
}
