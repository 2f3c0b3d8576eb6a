//! The results schema: what a run writes to `results.json`, and what every writer reads.
//!
//! Plain values only (strings and integer nanoseconds), so this crate depends on no other crate
//! of the workspace. Raw per-sample times and every measured feature of a workload are kept: a
//! later regression gate or decision tree needs them, not just the summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bumped whenever a field changes meaning or disappears (additions keep the version).
pub const SCHEMA_VERSION: u32 = 2;

/// A whole run: the machine, the suite, and one entry per cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// The parbench version that measured.
    pub parbench_version: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When it ended; `None` while it is running or when it was interrupted.
    pub finished_at: Option<String>,
    /// The suite that was run.
    pub suite: SuiteInfo,
    /// The machine it ran on.
    pub machine: Machine,
    /// How the run spread its samples over processes and rounds (absent before schema 2).
    #[serde(default)]
    pub rounds: Option<Rounds>,
    /// Where the time of the run's measuring processes went (absent in a file older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visits: Option<VisitCosts>,
    /// The machine's state through the run: the canary's readings between visits, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canary: Vec<CanaryReading>,
    /// Set when the run measured two builds side by side (`parbench compare --base-bin`): which
    /// of the two this file holds, and what pairs its samples with the other's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<Pairing>,
    /// Every cell measured so far, in the suite's order.
    pub cells: Vec<Cell>,
}

/// How a run sampled: every cell in several processes, the suite visited in rounds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rounds {
    /// Processes every cell was measured in, at least (the minimum rounds).
    pub min_processes: usize,
    /// Processes a cell may be given, at most.
    pub max_processes: usize,
    /// Timed samples per process, at most.
    pub samples_per_process: usize,
    /// Rounds finished: a round starts one process for each cell it visits, in an order
    /// shuffled from the suite's seed.
    pub finished: usize,
    /// The suite-wide budget: no process beyond the minimum rounds starts after the run has
    /// lasted this long.
    pub budget_ns: Option<u64>,
    /// Which cells were profiled: `focus` (each strategy at the task count and worker count the
    /// report's charts compare, per workload), `all` or `none`.
    pub profiled: String,
}

/// Where the time of a run's measuring visits went, summed over them: a visit is one cell
/// process, from its spawn to its reaping, plus the harness's own work before the next one.
///
/// `spawn + input + warmup + samples + reply + other` is the visits' wall time; `verify_ns` is
/// the part of `warmup + samples` spent checking answers against the reference, and `between`
/// the harness's own work between visits (recording, saving, the terminal). What a run's
/// figures rest on is `samples`; the rest is what a visit costs beyond them.
///
/// ```
/// let costs = parbench_reports::VisitCosts {
///     visits: 2,
///     spawn_ns: 10,
///     input_ns: 20,
///     warmup_ns: 30,
///     samples_ns: 60,
///     reply_ns: 5,
///     other_ns: 5,
///     between_ns: 10,
///     ..Default::default()
/// };
/// assert_eq!(costs.wall_ns(), 140);
/// // Outside samples and warm-ups: 50 of 140.
/// assert!((costs.outside_share() - 50.0 / 140.0).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitCosts {
    /// Cell processes that measured.
    pub visits: u64,
    /// From the spawn until the cell process runs its first line.
    pub spawn_ns: u64,
    /// Building the workload, getting its input and planning its tasks.
    pub input_ns: u64,
    /// The untimed warm-up samples.
    pub warmup_ns: u64,
    /// The timed samples: each a setup, a cold run, the steady runs and a teardown.
    pub samples_ns: u64,
    /// Checking answers, inside the warm-ups and samples.
    pub verify_ns: u64,
    /// From the last sample until the reply is read and the process tree reaped.
    pub reply_ns: u64,
    /// The rest of the visits' wall time (reading the request, between the steps).
    pub other_ns: u64,
    /// The harness's own work between visits.
    pub between_ns: u64,
}

impl VisitCosts {
    /// Every part but `verify_ns` (which lies inside the samples), added up.
    pub fn wall_ns(&self) -> u64 {
        self.spawn_ns
            + self.input_ns
            + self.warmup_ns
            + self.samples_ns
            + self.reply_ns
            + self.other_ns
            + self.between_ns
    }

    /// The share of the wall time spent outside samples and warm-ups.
    pub fn outside_share(&self) -> f64 {
        let wall = self.wall_ns();
        if wall == 0 {
            return 0.0;
        }
        1.0 - (self.warmup_ns + self.samples_ns) as f64 / wall as f64
    }

    /// Adds `other`'s parts to these.
    pub fn add(&mut self, other: &VisitCosts) {
        self.visits += other.visits;
        self.spawn_ns += other.spawn_ns;
        self.input_ns += other.input_ns;
        self.warmup_ns += other.warmup_ns;
        self.samples_ns += other.samples_ns;
        self.verify_ns += other.verify_ns;
        self.reply_ns += other.reply_ns;
        self.other_ns += other.other_ns;
        self.between_ns += other.between_ns;
    }
}

/// One reading of the canary the harness runs between visits: a short compute probe (a
/// dependent chain of multiply-adds) and a short memory probe (a copy of a buffer larger than
/// the caches of most CPUs), each timed, and the share of the cores other processes used since
/// the reading before. A reading much slower than the run's typical one, or a machine busy
/// with other work, means the machine was disturbed — by another tenant of the host, a noisy
/// neighbour's memory traffic, a build beside the run — and the visits on either side of it
/// are kept out of the figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryReading {
    /// When, from the start of the run.
    pub at_ns: u64,
    /// The compute probe's time.
    pub compute_ns: u64,
    /// The memory probe's time.
    pub copy_ns: u64,
    /// The share of the machine's cores that other processes (and the hypervisor's steal)
    /// used since the reading before: the load of the machine around the visit between them.
    #[serde(default)]
    pub foreign_share: f64,
    /// Whether the reading says the machine was disturbed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disturbed: bool,
}

/// One side of a paired run: two builds measured in the same run, each cell's processes of the
/// two builds taking turns (A B B A ...), so that the samples of one round of one cell form a
/// pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// The paired run's identity, the same in both files.
    pub run: String,
    /// `base` or `new`.
    pub side: String,
    /// The binary that measured this side's cells.
    pub binary: String,
    /// The first round of the confirmation: the cells a first comparison flagged as regressed,
    /// measured once more (absent when nothing was flagged).
    #[serde(default)]
    pub confirmation_round: Option<u32>,
}

/// How much a metric may change before the regression gate calls it a regression: ratios for
/// times, memory and bytes (0.05 is 5%), percentage points for the overhead share (0.05 is 5
/// points).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Steady run time.
    pub run: f64,
    /// End to end: setup, first run, teardown.
    pub end_to_end: f64,
    /// Peak memory.
    pub memory: f64,
    /// Overhead share, in points.
    pub overhead: f64,
    /// Bytes moved between processes.
    pub bytes: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            run: 0.05,
            end_to_end: 0.05,
            memory: 0.10,
            overhead: 0.05,
            bytes: 0.10,
        }
    }
}

/// Which suite was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteInfo {
    /// The suite's name.
    pub name: String,
    /// Its file, or `embedded:default` for the built-in one.
    pub source: String,
    /// The seed every input was generated from.
    pub seed: u64,
    /// The failure policy of every cell.
    pub policy: String,
    /// The regression gate's thresholds the suite sets (`[gate]`); `parbench compare` uses the
    /// new side's unless flags say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Thresholds>,
    /// The claims the suite checks (`[[claim]]`), each against the run's cells.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<crate::claims::Claim>,
}

/// The machine a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU brand string.
    pub cpu_model: String,
    /// Logical CPUs (hardware threads).
    pub logical_cores: usize,
    /// Physical cores, when the OS tells.
    pub physical_cores: Option<usize>,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Operating system name and version.
    pub os: String,
    /// Kernel version.
    pub kernel: String,
    /// The compiler that built parbench.
    pub rustc: String,
    /// The git commit of the working directory, when it is inside a repository.
    pub git_commit: Option<String>,
    /// Whether that working tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// What the hardware allows, probed at the start of the run.
    #[serde(default)]
    pub limits: Option<MachineLimits>,
    /// The CPU frequency governor (`performance`, `powersave`, ...), where the kernel exposes
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<String>,
}

/// The machine's limits as probed at the start of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineLimits {
    /// Threads of the all-core probes (the logical cores).
    pub threads: usize,
    /// Bytes of each thread's source and destination buffers in the copy probe.
    pub copy_buffer_bytes: u64,
    /// Bytes read plus written per second by one thread copying.
    pub copy_one_bytes_per_s: f64,
    /// Bytes read plus written per second by every core copying at once.
    pub copy_all_bytes_per_s: f64,
    /// Speedup of a dependent arithmetic loop on every core over one: the compute ceiling.
    pub alu_speedup: f64,
    /// The median round trip of one byte through a pipe to another process and back, probed
    /// idle: what a worker process that waits for each message pays per task (absent before it
    /// was probed, or where it could not be).
    #[serde(default)]
    pub pipe_round_trip_ns: Option<f64>,
}

/// How close a cell came to the machine's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Input plus output bytes per second of the median run, as a share of the copy
    /// bandwidth for the cell's worker count (one thread, or every core).
    pub bandwidth_share: f64,
    /// Speedup over the sequential cell as a share of the compute ceiling for the cell's
    /// worker count.
    pub speedup_share: Option<f64>,
    /// Speedup over the sequential cell divided by the workers: parallel efficiency.
    #[serde(default)]
    pub parallel_efficiency: Option<f64>,
}

/// How a cell ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every sample ran and matched the reference.
    Ok,
    /// A sample's answer differed from the reference, or the strategy failed.
    Failed,
    /// The cell ran past its time limit and its processes were killed.
    Timeout,
    /// The cell's processes went over the memory limit.
    Oom,
    /// The cell's process died of a signal or exited without a result.
    Crash,
    /// The cell's process panicked outside a task.
    Panic,
}

impl Status {
    /// The status as the results files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Oom => "oom",
            Status::Crash => "crash",
            Status::Panic => "panic",
        }
    }
}

/// One measured combination of (workload, parameters, size, tasks, strategy, workers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// A stable name: `workload[params]/size/tasks/strategy/workers`.
    pub id: String,
    /// The workload's name.
    pub workload: String,
    /// The workload's kind of work (memory, compute, io, synthetic).
    pub workload_kind: String,
    /// The workload's parameters, defaults included.
    pub params: BTreeMap<String, serde_json::Value>,
    /// The strategy's name.
    pub strategy: String,
    /// The strategy's parameters, defaults included.
    pub strategy_params: BTreeMap<String, serde_json::Value>,
    /// Workers the strategy was given.
    pub workers: usize,
    /// Items in the input.
    pub size: usize,
    /// Tasks the items were split into.
    pub tasks: usize,
    /// The failure policy.
    pub policy: String,
    /// How the cell ended.
    pub status: Status,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Whether every sample's answer matched the sequential reference.
    pub verified: bool,
    /// The reference answer every sample was checked against.
    pub answer: Option<AnswerRecord>,
    /// What was measured about the workload itself.
    pub features: Features,
    /// Every timed sample, process by process (warm-ups are not samples).
    pub samples: Vec<Sample>,
    /// The half-width of the median's 95% confidence interval, relative to the median, that
    /// sampling aimed for.
    #[serde(default)]
    pub ci_target: f64,
    /// Whether the median's interval reached `ci_target` (rather than the cell or the suite
    /// running out of time or processes).
    #[serde(default)]
    pub converged: bool,
    /// Statistics of the run times (steady state).
    pub wall: Option<Stats>,
    /// Statistics of setup + first run + teardown (end to end: one use of a fresh strategy).
    pub end_to_end: Option<Stats>,
    /// Peak resident memory of the cell's processes, in bytes: the larger of the sum of their
    /// resident memory sampled every 100 ms and the largest sample's `peak_rss_bytes` (exact
    /// high-water marks; shared pages counted once).
    pub peak_rss_bytes: Option<u64>,
    /// What the cell's process tree held at the most, over its samples: processes, threads
    /// and open descriptors (absent in a file older than it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Scheduling overhead of the sample with the median run time.
    pub overhead: Option<Overhead>,
    /// How close the cell came to the machine's limits.
    #[serde(default)]
    pub efficiency: Option<Efficiency>,
    /// The spans of one steady run (the median run of the median sample of the process whose
    /// median is the middle one), for a timeline;
    /// absent for failed cells and runs of more than [`Timeline::MAX_SPANS`] tasks.
    #[serde(default)]
    pub timeline: Option<Timeline>,
    /// The cell's profile: one extra run under a sampling profiler after its timed samples.
    #[serde(default)]
    pub profile: Option<Profile>,
    /// For a workload of rounds: what its rounds cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_rounds: Option<RoundStats>,
}

/// A cell's profile: where its processes spent their CPU time, from one extra, verified run
/// (never a timed sample) under a sampling profiler, worker processes included.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The flame graph (SVG), relative to the output directory.
    pub flamegraph: String,
    /// The folded stacks it was drawn from, relative to the output directory.
    pub folded: String,
    /// Samples the profile holds: what the kernel delivered, not what was asked for.
    pub samples: u64,
    /// The sampling rate asked for, per second of CPU time.
    pub frequency_hz: u32,
    /// Profiled runs, each verified against the reference.
    pub runs: u32,
    /// Rounds of setup, runs and teardown (worker processes return their stacks as they exit).
    #[serde(default)]
    pub rounds: u32,
    /// Wall time of the profiled runs.
    pub duration_ns: u64,
    /// What profiling cost the run: the wall time of the profiled cell process (preparing the
    /// input, setups, profiled runs, symbol resolution, teardowns).
    #[serde(default)]
    pub cost_ns: u64,
    /// The frames with the most self time, most first.
    pub top_frames: Vec<TopFrame>,
    /// Samples per process (the root frames: `cell`, `process-pool worker 1`, ...).
    pub processes: Vec<ProcessSamples>,
    /// Why the profile is missing or partial, when it is.
    #[serde(default)]
    pub error: Option<String>,
}

/// A frame and its self time: the share of a profile's samples in which it was running.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopFrame {
    /// The function, as the profile names it.
    pub frame: String,
    /// Samples in which it was the innermost frame, over all samples.
    pub share: f64,
}

/// One process's samples in a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSamples {
    /// The root frame naming it.
    pub process: String,
    /// Its samples.
    pub samples: u64,
}

/// One run's tasks on its lanes: where the gaps and the tail are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The run's wall time.
    pub run_ns: u64,
    /// Its lanes (the workers, or an async runtime's tasks in flight).
    pub lanes: usize,
    /// Every task it ran, in start order, times relative to the run's start. Spans from
    /// several machines are only comparable in their durations.
    pub spans: Vec<TimelineSpan>,
}

impl Timeline {
    /// The most spans a timeline keeps: a chart cannot show more, and `results.json` stays
    /// small.
    pub const MAX_SPANS: usize = 512;
}

/// One task in a [`Timeline`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineSpan {
    /// The lane that ran it.
    pub lane: u32,
    /// The task's id.
    pub task: u32,
    /// Its start, from the run's start.
    pub start_ns: u64,
    /// Its end, from the run's start.
    pub end_ns: u64,
}

/// The answer of the sequential reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// BLAKE3 hex digest of the combined output.
    pub digest: String,
    /// Tasks that fail by design (`risky`), with how.
    pub failed_tasks: Vec<FailedTask>,
}

/// A task that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTask {
    /// Its id.
    pub task: u32,
    /// `error` or `panic`.
    pub kind: String,
}

/// Measured features of a workload's input and output: what a decision tree splits on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Items in the input.
    pub items: usize,
    /// Bytes of input.
    pub input_bytes: u64,
    /// Bytes of output buffer.
    pub output_bytes: u64,
    /// Time to generate the input.
    pub generate_ns: u64,
    /// Time of the sequential reference over the same tasks (its busy time).
    pub sequential_busy_ns: u64,
    /// For a workload with an async path: how many times faster its first 64 items ran as
    /// concurrent futures than one at a time — whether a runtime can overlap its waits. `None`
    /// for a workload without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_overlap: Option<f64>,
}

/// One timed sample: a fresh setup, one run, a teardown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The cell process that took it, from 1 (0: a file older than schema 2).
    #[serde(default)]
    pub process: u32,
    /// Whether the canary saw the machine disturbed before or after its process: such
    /// samples are kept here but left out of the cell's figures.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disturbed: bool,
    /// The round that process ran in, from 1 (0: a file older than schema 2).
    #[serde(default)]
    pub round: u32,
    /// Spawning pools, runtimes or processes.
    pub setup_ns: u64,
    /// The first run after setup: fresh workers, cold caches (part of end to end).
    #[serde(default)]
    pub first_run_ns: u64,
    /// Steady-state runs in the sample (short runs are repeated to last about 10 ms).
    #[serde(default = "one")]
    pub iterations: u32,
    /// The mean of the steady-state runs that followed the first on the same set-up strategy.
    pub run_ns: u64,
    /// Stopping and joining.
    pub teardown_ns: u64,
    /// CPU time (user + system) per steady run: the measuring process and, for process
    /// strategies, its worker processes.
    pub cpu_ns: u64,
    /// Tasks that a fail-fast policy cancelled.
    pub skipped_tasks: usize,
    /// Tasks of the median steady run that failed for good (after any retries). Absent when
    /// none: the tasks kept are the rest but the skipped ones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_tasks: u32,
    /// From the end of the first task that failed for good to the end of the run, under every
    /// policy: under fail-fast, how long the run took to stop; under collect, how long the
    /// rest went on.
    #[serde(default)]
    pub fail_stop_ns: Option<u64>,
    /// Lanes of the overhead decomposition: the workers, or an async runtime's tasks in flight.
    #[serde(default)]
    pub lanes: usize,
    /// The scheduling overhead of the sample's median steady run.
    pub overhead: Overhead,
    /// Bytes that crossed between processes to run the tasks (both directions).
    #[serde(default)]
    pub bytes_moved: u64,
    /// The sample's peak memory: the cell process's high-water mark from setup to teardown
    /// (reset through `/proc/self/clear_refs`; absent where that is not permitted) plus each
    /// worker process's private high-water mark.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// Each worker process's memory as it exited; empty for in-process strategies.
    #[serde(default)]
    pub worker_memory: Vec<WorkerMemory>,
    /// For a workload of rounds: what the rounds of the sample's median run cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_rounds: Option<RoundCosts>,
    /// Child processes of the measuring process still running after the strategy's teardown:
    /// workers it failed to stop. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leftover_processes: u32,
    /// Child processes that exited but were never reaped after the teardown: zombies. Absent
    /// when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub zombie_processes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the rounds of one run of a workload of rounds cost. Per-round figures are medians over
/// the run's rounds; the first round is also given alone, since a strategy that keeps the items
/// in its workers pays for placing them then.
///
/// A round lasts from the end of the previous one (or the run's start) to its reduced state.
/// Within it, `straggler_ns` and `exchange_ns` are what synchronisation costs: the time a
/// worker waits for the slowest one, and the time no task runs at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundCosts {
    /// Rounds the run completed.
    pub rounds: usize,
    /// A round's time.
    pub round_ns: u64,
    /// The first round's time.
    pub first_round_ns: u64,
    /// In a round, the mean over the lanes of the time from a lane's last task's end to the
    /// round's last task's end: the wait for the slowest worker.
    pub straggler_ns: u64,
    /// In a round, the time before its first task starts (the state handed out) and after its
    /// last task ends (the partials gathered and reduced).
    pub exchange_ns: u64,
    /// Bytes moved between processes in a round.
    pub bytes_per_round: u64,
    /// Bytes moved in the first round.
    pub first_round_bytes: u64,
}

/// What a cell's rounds cost over its samples: a round's time as the statistics of each
/// sample's median round (across processes as [`Stats`] are), the other figures the median of
/// the samples'.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundStats {
    /// A round's time.
    pub round: Stats,
    /// The samples' median [`RoundCosts`] field by field (`round_ns` is `round`'s median).
    pub costs: RoundCosts,
}

fn one() -> u32 {
    1
}

/// What a process tree holds of the resources the kernel limits per process or per user,
/// counted once a strategy is set up and has run (its workers, pools and connections up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Processes, the cell's own included.
    pub processes: u32,
    /// Threads of all of them.
    pub threads: u32,
    /// Open file descriptors of all of them (pipes, sockets, files, memory files).
    pub descriptors: u32,
}

impl Resources {
    /// The larger of each count.
    ///
    /// ```
    /// use parbench_reports::Resources;
    /// let a = Resources { processes: 3, threads: 10, descriptors: 40 };
    /// let b = Resources { processes: 1, threads: 12, descriptors: 20 };
    /// assert_eq!(a.max(b), Resources { processes: 3, threads: 12, descriptors: 40 });
    /// ```
    pub fn max(self, other: Resources) -> Resources {
        Resources {
            processes: self.processes.max(other.processes),
            threads: self.threads.max(other.threads),
            descriptors: self.descriptors.max(other.descriptors),
        }
    }
}

/// A worker process's memory, as it reported it just before exiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerMemory {
    /// Its peak resident set (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
    /// The part of its resident set in shared memory (`RssShmem`), which the process that
    /// created the segment counts too.
    pub shared_rss_bytes: u64,
}

/// Summary statistics of a set of durations, in nanoseconds.
///
/// Samples taken in several processes are summarized at two levels: each process's median,
/// then across processes. The figure (`median_ns`) is the geometric mean of the processes'
/// medians and its interval is Student's t on their logarithms with one degree of freedom less
/// than the processes: it covers the median a new process would see, both the noise within a
/// process and the differences between processes. Where the run measured enough cells of the
/// same kind (`prior_df` set), the logarithms are first winsorized at three of the kind's
/// typical spreads from their median (`clipped` processes were pulled in), and the variance
/// is shrunk towards the kind's (limma's empirical Bayes): the interval then has `prior_df`
/// more degrees of freedom. From one process, `median_ns` is that process's median and the
/// interval its distribution-free order-statistic interval, which says nothing of the next
/// process.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of samples.
    pub n: usize,
    /// Processes the samples came from (0 in a file older than schema 2: one).
    #[serde(default)]
    pub processes: usize,
    /// The median: across processes, the geometric mean of their medians.
    pub median_ns: f64,
    /// Lower end of the median's 95% confidence interval.
    #[serde(default)]
    pub ci_low_ns: f64,
    /// Upper end of the median's confidence interval.
    #[serde(default)]
    pub ci_high_ns: f64,
    /// The interval's coverage: 0.95 across processes; from one process, the exact coverage of
    /// the order statistics (at least 0.95 from 6 samples on, below that that of `[min, max]`).
    #[serde(default)]
    pub ci_level: f64,
    /// The spread between processes: the standard deviation of the logarithms of their
    /// medians (about their relative standard deviation); absent from one process.
    #[serde(default)]
    pub spread: Option<f64>,
    /// The noise floor: the smallest relative change of the median that a second run with as
    /// many processes would tell apart (a two-sided test at 5%, with 80% power, given this
    /// spread); absent from one process.
    #[serde(default)]
    pub mde: Option<f64>,
    /// The degrees of freedom the interval borrowed from the other cells of its kind (the
    /// prior's); absent when it stands on its own processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_df: Option<f64>,
    /// The spread the interval used: the cell's winsorized spread shrunk towards its kind's
    /// (absent when it stands on its own processes: then `spread`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderated_spread: Option<f64>,
    /// Processes whose median lay beyond three of its kind's typical spreads from the cell's
    /// and was pulled in to that distance.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clipped: u32,
    /// Arithmetic mean.
    pub mean_ns: f64,
    /// Sample standard deviation.
    pub stddev_ns: f64,
    /// Median absolute deviation (unscaled).
    pub mad_ns: f64,
    /// Fastest sample.
    pub min_ns: u64,
    /// Slowest sample.
    pub max_ns: u64,
    /// Samples beyond Tukey's fences.
    #[serde(default)]
    pub outliers: Outliers,
}

impl Stats {
    /// The larger distance from the median to an end of its interval, relative to the median:
    /// what the adaptive sampler compares with its target.
    pub fn relative_half_width(&self) -> f64 {
        let half = (self.median_ns - self.ci_low_ns).max(self.ci_high_ns - self.median_ns);
        half / self.median_ns.max(1.0)
    }
}

/// Samples beyond Tukey's fences: mild between 1.5 and 3 interquartile ranges outside the
/// quartiles, severe beyond 3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outliers {
    /// Below `Q1 - 3 IQR`.
    pub low_severe: usize,
    /// Between `Q1 - 3 IQR` and `Q1 - 1.5 IQR`.
    pub low_mild: usize,
    /// Between `Q3 + 1.5 IQR` and `Q3 + 3 IQR`.
    pub high_mild: usize,
    /// Above `Q3 + 3 IQR`.
    pub high_severe: usize,
}

/// Where a run's capacity (workers x run time) went, summed over workers, in nanoseconds.
///
/// `busy + startup + gaps + tail == capacity` exactly. `contention` is `busy` minus the busy
/// time of the sequential run of the same tasks: how much slower the tasks themselves ran when
/// sharing the machine (negative when they ran faster).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overhead {
    /// Workers x run wall time.
    pub capacity_ns: u64,
    /// Time inside tasks.
    pub busy_ns: u64,
    /// Run start to each worker's first task.
    pub startup_ns: u64,
    /// Between a worker's tasks.
    pub gaps_ns: u64,
    /// Each worker's last task end to run end.
    pub tail_ns: u64,
    /// Busy time beyond the sequential run's: the busy time of the sequential cell's median
    /// sample with the same workload, size and tasks (steady state), or of the one sequential
    /// reference run when the suite measured no sequential cell.
    pub contention_ns: i64,
}

impl Overhead {
    /// busy, startup, gaps and tail: the parts that add up to the capacity, in that order.
    pub fn parts(&self) -> [u64; 4] {
        [self.busy_ns, self.startup_ns, self.gaps_ns, self.tail_ns]
    }

    /// Share of the capacity not spent inside tasks.
    pub fn share(&self) -> f64 {
        if self.capacity_ns == 0 {
            0.0
        } else {
            1.0 - self.busy_ns as f64 / self.capacity_ns as f64
        }
    }
}
