//! Every type that crosses the pipe between the harness and a cell process: the [`Request`] the
//! parent writes (JSON, on the child's stdin) and the [`Reply`]s the child writes back (JSON
//! documents one after another, on its stdout), with the sampling and profiling settings they
//! carry.

use std::time::Duration;

use parbench_reports::{Features, Sample, Timeline, VisitCosts};
use parbench_strategies::FailurePolicy;
use parbench_workloads::{Answer, Recipe};
use serde::{Deserialize, Serialize};

/// What a cell process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Request {
    /// The workload.
    pub recipe: Recipe,
    /// Items in the input.
    pub size: usize,
    /// The seed of the input.
    pub seed: u64,
    /// Tasks to split the input into.
    pub tasks: usize,
    /// The failure policy.
    pub policy: FailurePolicy,
    /// The address-space limit of the process (`RLIMIT_AS`), if any.
    pub memory_limit: Option<u64>,
    /// When the parent spawned the process, on the machine-wide monotonic clock: the child
    /// tells how long it took to start.
    #[serde(default)]
    pub spawned_ns: u64,
    /// The work.
    pub work: Work,
}

/// The kinds of work a cell process does.
// One request a cell: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Work {
    /// Generate the input and compute the sequential reference.
    Prepare,
    /// Measure one strategy against a known answer.
    Measure {
        /// The strategy's registered name.
        strategy: String,
        /// Its parameters as `key=value`.
        params: Vec<String>,
        /// Workers.
        workers: usize,
        /// How many samples this process takes.
        samples: PerProcess,
        /// The reference answer (the child computes its own under fail-fast).
        expected: Answer,
        /// What preparing measured about the workload.
        features: Features,
    },
    /// Profile one strategy: verified runs under a sampling profiler, never a timed sample.
    Profile {
        /// The strategy's registered name.
        strategy: String,
        /// Its parameters as `key=value`.
        params: Vec<String>,
        /// Workers.
        workers: usize,
        /// The reference answer.
        expected: Answer,
        /// How to profile.
        profiling: Profiling,
    },
}

/// What a cell process answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The reference of a bucket.
    Prepared {
        /// The sequential answer.
        answer: Answer,
        /// The workload's measured features.
        features: Features,
    },
    /// A measured cell.
    Measured(Measured),
    /// A profiled cell.
    Profiled(Result<Profiled, ProfileFailure>),
    /// The work failed with an error (a wrong answer, a strategy error).
    Failed(String),
    /// A process of the strategy's died doing the work (a worker killed by a signal).
    Crashed(String),
    /// The work panicked outside a task.
    Panicked(String),
}

/// What one cell process measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Measured {
    /// The timed samples, in order.
    pub samples: Vec<Sample>,
    /// This process's high-water mark plus the largest sum of the workers' private ones.
    pub peak_rss_bytes: Option<u64>,
    /// What this process and its descendants held at the most, after each sample's runs.
    #[serde(default)]
    pub resources: parbench_reports::Resources,
    /// The spans of the median sample's median run.
    pub timeline: Option<Timeline>,
    /// Where the process's time went, as far as it can tell: its start, the input, the
    /// warm-up, the samples and their checks (the parent adds the reply).
    pub costs: VisitCosts,
    /// When the reply was about to be written, on the machine-wide monotonic clock.
    pub finished_ns: u64,
}

/// The samples one cell process takes: a warm-up, then `samples` timed ones, or fewer once it
/// has sampled for `time` (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct PerProcess {
    /// Untimed samples first.
    pub warmup: usize,
    /// Timed samples, at most.
    pub samples: usize,
    /// The process's share of the cell's time budget.
    pub time: Duration,
}

/// A cell's profile as the cell process returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profiled {
    /// Folded stacks, each rooted at its process (`cell`, `process-pool worker 1`, `timely node
    /// 0`), then its thread.
    pub stacks: Vec<(String, u64)>,
    /// Profiled runs, each verified.
    pub runs: u32,
    /// Rounds of setup, runs and teardown.
    pub rounds: u32,
    /// Wall time of the profiled runs.
    pub duration_ns: u64,
}

impl Profiled {
    /// Samples in the profile.
    pub fn samples(&self) -> u64 {
        self.stacks.iter().map(|(_, count)| count).sum()
    }
}

/// Why a profile is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ProfileFailure {
    /// The strategy failed or answered wrongly in a profiled run: the cell fails.
    Strategy(String),
    /// The profiler itself failed; the cell's measurement stands.
    Profiler(String),
}

/// How a cell is sampled. The run visits the suite in rounds, each starting one cell process
/// per cell it visits; every cell is measured in at least `processes` processes (the minimum
/// rounds), each taking a warm-up and `samples` timed samples (fewer once it has used its share
/// of `time_budget`, at least one). Later rounds go first to the cells racing for their
/// bucket's lead, then to those whose median's 95% interval is still wider than `ci_target`,
/// widest first, until a cell has `max_processes`. No process after the first round starts
/// once the run has lasted `budget`, and when the minimum rounds would not fit in it the run
/// takes fewer samples per process, then fewer processes, and says so.
///
/// ```
/// let sampling = parbench::Sampling::default();
/// assert_eq!((sampling.processes, sampling.samples, sampling.ci_target), (3, 3, 0.02));
/// assert_eq!(sampling.quick().max_processes, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Untimed samples before the timed ones, in every process.
    pub warmup: usize,
    /// Timed samples per process, at most.
    pub samples: usize,
    /// Processes every cell is measured in: the minimum rounds.
    pub processes: usize,
    /// Processes no cell exceeds.
    pub max_processes: usize,
    /// The largest distance from the median to an end of its confidence interval, relative to
    /// the median, at which a cell needs no further process.
    pub ci_target: f64,
    /// How long a cell's minimum processes may sample together, warm-ups included: each takes
    /// its share, so a slow cell takes fewer samples in each (at least one).
    pub time_budget: Duration,
    /// How long the whole run may last (the profiles aside): no process after the first round
    /// starts beyond it, and the minimum rounds are cut to fit; `None`: until every cell
    /// reaches its target or its limits.
    pub budget: Option<Duration>,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            warmup: 1,
            samples: 3,
            processes: 3,
            max_processes: 20,
            ci_target: 0.02,
            time_budget: Duration::from_secs(3),
            budget: None,
        }
    }
}

impl Sampling {
    /// `--quick`: a look rather than a measurement to defend — one process per cell, whose
    /// interval describes that process alone.
    pub fn quick(self) -> Self {
        Self {
            warmup: self.warmup.min(1),
            samples: self.samples.min(3),
            processes: 1,
            max_processes: 1,
            ci_target: self.ci_target.max(0.05),
            time_budget: self.time_budget.min(Duration::from_millis(500)),
            budget: self.budget,
        }
    }

    /// What one process of a cell takes.
    pub(crate) fn per_process(&self) -> PerProcess {
        PerProcess {
            warmup: self.warmup,
            samples: self.samples,
            time: self.time_budget / self.processes.max(1) as u32,
        }
    }
}

/// How a cell is profiled: after its timed samples, one more verified run (or several) under a
/// sampling profiler, until the profile holds `samples` or its runs took `time`.
///
/// ```
/// let profiling = parbench::Profiling::default();
/// assert_eq!((profiling.frequency, profiling.samples), (997, 100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Profiling {
    /// The sampling rate asked for, per second of CPU time.
    pub frequency: u32,
    /// Samples a profile aims for.
    pub samples: u64,
    /// The longest a profile's runs take together (setups and symbol resolution aside).
    pub time: Duration,
}

impl Default for Profiling {
    fn default() -> Self {
        Self {
            // A prime, so the timer does not beat in step with periodic work.
            frequency: 997,
            // A frame with a fifth of the time is then known to about ±8 points (binomial,
            // 95%): enough to rank the frames that matter.
            samples: 100,
            time: Duration::from_secs(1),
        }
    }
}
