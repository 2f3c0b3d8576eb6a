//! Every type that crosses the pipe between the harness and a cell process: the [`Request`] the
//! parent writes (JSON, on the child's stdin) and the [`Reply`]s the child writes back (JSON
//! documents one after another, on its stdout), with the sampling and profiling settings they
//! carry.

use std::time::Duration;

use parbench_reports::{Features, Sample, Timeline};
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
    /// The work.
    pub work: Work,
}

/// The two kinds of work a cell process does.
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
        /// How many samples.
        sampling: Sampling,
        /// The reference answer (the child computes its own under fail-fast).
        expected: Answer,
        /// What preparing measured about the workload.
        features: Features,
        /// Profile the cell after measuring it, when set.
        profile: Option<Profiling>,
    },
}

impl Work {
    /// Whether a profile is to follow the measurement.
    pub fn profiles(&self) -> bool {
        matches!(
            self,
            Work::Measure {
                profile: Some(_),
                ..
            }
        )
    }
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
    /// Its profile, after [`Reply::Measured`] when the request asked for one.
    Profiled(Result<Profiled, ProfileFailure>),
    /// The work failed with an error (a wrong answer, a strategy error).
    Failed(String),
    /// The work panicked outside a task.
    Panicked(String),
}

/// What measuring one cell produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Measured {
    /// The timed samples, in order.
    pub samples: Vec<Sample>,
    /// This process's high-water mark plus the largest sum of the workers' private ones.
    pub peak_rss_bytes: Option<u64>,
    /// Whether sampling stopped because the median's interval reached the target.
    pub converged: bool,
    /// The spans of the median sample's median run.
    pub timeline: Option<Timeline>,
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

/// How many samples a cell takes: a warm-up, then at least `min_samples`, then more until the
/// median's 95% confidence interval is within `ci_target` of it, the cell has run for
/// `time_budget`, or `max_samples` are taken.
///
/// ```
/// let sampling = parbench::Sampling::default();
/// assert_eq!((sampling.min_samples, sampling.ci_target), (5, 0.02));
/// assert_eq!(sampling.quick().max_samples, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Untimed samples before the timed ones.
    pub warmup: usize,
    /// Timed samples every cell takes.
    pub min_samples: usize,
    /// Timed samples no cell exceeds.
    pub max_samples: usize,
    /// The largest distance from the median to an end of its confidence interval, relative to
    /// the median, at which sampling stops.
    pub ci_target: f64,
    /// How long a cell may sample (warm-up included) before it stops short of its target.
    pub time_budget: Duration,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            warmup: 1,
            min_samples: 5,
            max_samples: 100,
            ci_target: 0.02,
            time_budget: Duration::from_secs(3),
        }
    }
}

impl Sampling {
    /// `--quick`: a look rather than a measurement to defend.
    pub fn quick(self) -> Self {
        Self {
            warmup: self.warmup.min(1),
            min_samples: self.min_samples.min(3),
            max_samples: self.max_samples.min(3),
            ci_target: self.ci_target.max(0.05),
            time_budget: self.time_budget.min(Duration::from_millis(500)),
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
