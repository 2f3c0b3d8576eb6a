//! `parbench decide`: which strategy wins for which kind of work, learned from measurements.
//!
//! A pure function of results, as the gate is. Every bucket of a run (a workload with its
//! parameters, a size, a task count) that measured the sequential loop becomes a [`Case`]: its
//! features, measured rather than declared ([`Feature`]), and its label, the strategy that won
//! it at its best worker count — or, when the fastest strategies' intervals overlap, the
//! simplest of them ([`SIMPLICITY`]). [`learn`] fits a CART decision tree to the cases
//! (`linfa-trees`: Gini impurity, at most [`Options::max_depth`] levels, leaves of at least
//! [`Options::min_leaf`] cases) and keeps it as a [`Tree`] whose thresholds are in physical
//! units; [`cross_validate`] scores it by leaving one workload out at a time; [`mermaid`] and
//! [`dot`] draw it as text.

mod render;

pub use render::{dot, mermaid};

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2};

use crate::figures::{Bucket, BASELINE_STRATEGY};
use crate::{Cell, Results, Status};

/// What a case is described by: measured properties of the work, as a strategy meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// CPU time of one task, in the sequential run: its CPU time over its tasks.
    CpuPerTask,
    /// Bytes in and out per task: what a process strategy copies for it.
    BytesPerTask,
    /// The share of the sequential run spent waiting: 1 − CPU time / run time.
    WaitingShare,
    /// The number of tasks.
    Tasks,
    /// Bytes of input.
    InputBytes,
}

/// Every feature, in the order of [`Case::features`].
pub const FEATURES: [Feature; 5] = [
    Feature::CpuPerTask,
    Feature::BytesPerTask,
    Feature::WaitingShare,
    Feature::Tasks,
    Feature::InputBytes,
];

impl Feature {
    /// Its name in a question: "CPU per task".
    pub fn name(self) -> &'static str {
        match self {
            Feature::CpuPerTask => "CPU per task",
            Feature::BytesPerTask => "bytes per task",
            Feature::WaitingShare => "waiting share",
            Feature::Tasks => "tasks",
            Feature::InputBytes => "input",
        }
    }

    /// A value in its unit: `85 µs`, `12.0 KiB`, `40%`, `64`.
    ///
    /// ```
    /// use parbench_reports::decide::Feature;
    /// assert_eq!(Feature::CpuPerTask.format(85_000.0), "85.00 µs");
    /// assert_eq!(Feature::WaitingShare.format(0.4), "40.0%");
    /// assert_eq!(Feature::Tasks.format(63.5), "64");
    /// ```
    pub fn format(self, value: f64) -> String {
        match self {
            Feature::CpuPerTask => crate::format::duration(value),
            Feature::BytesPerTask | Feature::InputBytes => {
                crate::format::bytes(value.max(0.0).round() as u64)
            }
            Feature::WaitingShare => crate::format::percent(value),
            Feature::Tasks => format!("{}", value.round()),
        }
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
    /// The features, in the order of [`FEATURES`].
    pub features: [f64; 5],
    /// The label: the strategy that won, at its best worker count (`rayon/w2`'s `rayon`).
    pub winner: String,
    /// The worker count it won at.
    pub workers: usize,
    /// The fastest strategy by median, when a tie gave the label to a simpler one.
    pub fastest: Option<String>,
    /// How far behind the runner-up is, when another strategy was measured.
    pub margin: Option<Margin>,
}

/// A strategy's best cell in a bucket.
struct Entry<'a> {
    strategy: String,
    cell: &'a Cell,
    median: f64,
    low: f64,
    high: f64,
}

/// The strategy part of a cell's id (`timely[mode=processes]` of `.../timely[mode=processes]/w2`).
fn strategy_label(cell: &Cell) -> String {
    cell.id
        .rsplit('/')
        .nth(1)
        .map_or_else(|| cell.strategy.clone(), str::to_owned)
}

/// Where a strategy stands in [`SIMPLICITY`].
fn simplicity(strategy: &str) -> (usize, &str) {
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
            median: wall.median_ns,
            low: wall.ci_low_ns,
            high: wall.ci_high_ns,
        };
        match best.iter_mut().find(|e| e.strategy == entry.strategy) {
            Some(e) if e.median <= entry.median => {}
            Some(e) => *e = entry,
            None => best.push(entry),
        }
    }
    if best.len() < 2 {
        return None;
    }
    best.sort_by(|a, b| a.median.total_cmp(&b.median));
    let fastest = &best[0];
    // Every strategy whose interval reaches the fastest's: the simplest of them wins.
    let winner = best
        .iter()
        .filter(|e| e.low <= fastest.high)
        .min_by(|a, b| simplicity(&a.strategy).cmp(&simplicity(&b.strategy)))?;
    let margin = best
        .iter()
        .find(|e| e.strategy != winner.strategy)
        .map(|runner_up| {
            let half = |e: &Entry<'_>| {
                (e.high / e.median)
                    .ln()
                    .max((e.median / e.low.max(f64::MIN_POSITIVE)).ln())
                    .max(0.0)
            };
            let ratio = runner_up.median / winner.median;
            let spread = half(runner_up).hypot(half(winner));
            Margin {
                runner_up: runner_up.strategy.clone(),
                ratio,
                low: ratio * (-spread).exp(),
                high: ratio * spread.exp(),
            }
        });
    let samples = &sequential.samples;
    let cpu: u64 = samples.iter().map(|s| s.cpu_ns).sum();
    let run: u64 = samples.iter().map(|s| s.run_ns).sum();
    let runs = samples.len().max(1) as f64;
    let tasks = bucket.tasks.max(1) as f64;
    let features = &sequential.features;
    Some(Case {
        work: bucket.work.to_owned(),
        bucket: format!(
            "{}/size={}/tasks={}",
            bucket.work, bucket.size, bucket.tasks
        ),
        features: [
            cpu as f64 / runs / tasks,
            (features.input_bytes + features.output_bytes) as f64 / tasks,
            if run > 0 {
                (1.0 - cpu as f64 / run as f64).clamp(0.0, 1.0)
            } else {
                0.0
            },
            tasks,
            features.input_bytes as f64,
        ],
        winner: winner.strategy.clone(),
        workers: winner.cell.workers,
        fastest: (fastest.strategy != winner.strategy).then(|| fastest.strategy.clone()),
        margin,
    })
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
    /// The learner refused the data.
    #[error("the decision tree: {0}")]
    Learner(String),
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
    pub fn leaf(&self, features: &[f64; 5]) -> &Node {
        self.path(features).last().copied().unwrap_or(self)
    }

    /// The nodes from here to the leaf `features` end in, this one first.
    pub fn path(&self, features: &[f64; 5]) -> Vec<&Node> {
        let mut path = vec![self];
        let mut node = self;
        while let Node::Question {
            feature,
            threshold,
            below,
            above,
        } = node
        {
            let value = features[FEATURES.iter().position(|f| f == feature).unwrap_or(0)];
            node = if value >= *threshold { above } else { below };
            path.push(node);
        }
        path
    }

    /// The strategy recommended for `features`.
    pub fn predict(&self, features: &[f64; 5]) -> &str {
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
/// Fewer cases than [`Options::needed`]; a learner failure.
pub fn learn(cases: &[Case], options: &Options) -> Result<Tree, DecideError> {
    if cases.len() < options.needed() {
        return Err(DecideError::TooFew {
            have: cases.len(),
            need: options.needed(),
        });
    }
    let mut labels: Vec<&str> = cases.iter().map(|c| c.winner.as_str()).collect();
    labels.sort_by_key(|l| simplicity(l));
    labels.dedup();
    let records = Array2::from_shape_fn((cases.len(), FEATURES.len()), |(i, f)| {
        FEATURES[f].scaled(cases[i].features[f])
    });
    let targets: Array1<usize> = cases
        .iter()
        .map(|c| labels.iter().position(|l| *l == c.winner).unwrap_or(0))
        .collect();
    let dataset = Dataset::new(records, targets)
        .with_feature_names(FEATURES.iter().map(|f| f.name()).collect());
    let fitted = DecisionTree::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(options.max_depth))
        .min_weight_leaf(options.min_leaf as f32)
        .min_weight_split((2 * options.min_leaf) as f32)
        .fit(&dataset)
        .map_err(|e| DecideError::Learner(e.to_string()))?;
    let mut root = convert(fitted.root_node(), &labels);
    for (i, case) in cases.iter().enumerate() {
        assign(&mut root, i, case);
    }
    Ok(Tree {
        root,
        cases: cases.to_vec(),
    })
}

/// linfa's node as ours: thresholds back in the features' units, each leaf's label by name.
fn convert(node: &TreeNode<f64, usize>, labels: &[&str]) -> Node {
    let children = node.children();
    match (node.is_leaf(), children.first(), children.get(1)) {
        (false, Some(Some(below)), Some(Some(above))) => {
            let (index, value, _) = node.split();
            let feature = FEATURES[index.min(FEATURES.len() - 1)];
            Node::Question {
                feature,
                threshold: feature.unscaled(value),
                below: Box::new(convert(below, labels)),
                above: Box::new(convert(above, labels)),
            }
        }
        _ => Node::Leaf {
            winner: node
                .prediction()
                .and_then(|l| labels.get(l))
                .map_or_else(String::new, |l| (*l).to_owned()),
            cases: Vec::new(),
            correct: 0,
        },
    }
}

/// Records case `index` in the leaf it ends in.
fn assign(root: &mut Node, index: usize, case: &Case) {
    let mut node = root;
    loop {
        match node {
            Node::Question {
                feature,
                threshold,
                below,
                above,
            } => {
                let value = case.features[FEATURES.iter().position(|f| f == feature).unwrap_or(0)];
                node = if value >= *threshold { above } else { below };
            }
            Node::Leaf {
                winner,
                cases,
                correct,
            } => {
                cases.push(index);
                *correct += usize::from(*winner == case.winner);
                return;
            }
        }
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
    };
    for work in works {
        let (held, train): (Vec<Case>, Vec<Case>) =
            cases.iter().cloned().partition(|c| c.work == work);
        let Ok(tree) = learn(&train, options) else {
            continue;
        };
        let correct = held
            .iter()
            .filter(|c| tree.root.predict(&c.features) == c.winner)
            .count();
        accuracy.correct += correct;
        accuracy.total += held.len();
        accuracy.folds.push((work.to_owned(), correct, held.len()));
    }
    accuracy
}
