//! The `Strategy` trait: how tasks are spread over workers.

use std::fmt;
use std::sync::Arc;

use parbench_workloads::{
    Answer, ByName, Failure, Input, Named, ParamSpec, Params, Partial, Recipe, Task, TaskError,
    Workload,
};
use serde::{Deserialize, Serialize};

use crate::{FailurePolicy, Span, StrategyError};

/// Everything a strategy needs to know about the runs it will serve; read-only, cheap to clone.
#[derive(Clone)]
pub struct Job {
    /// The configured workload.
    pub workload: Arc<dyn Workload>,
    /// How to build it again by name: what a worker process receives.
    pub recipe: Arc<Recipe>,
    /// Its generated input.
    pub input: Arc<Input>,
    /// The seed the input was generated from (tasks may use it).
    pub seed: u64,
    /// Worker threads, processes or actors to spread the tasks over.
    pub workers: usize,
    /// What to do when a task fails.
    pub policy: FailurePolicy,
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("workload", &self.workload.name())
            .field("items", &self.input.items())
            .field("seed", &self.seed)
            .field("workers", &self.workers)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Job {
    /// The job of `recipe`'s workload, built from `registry`, over its input of `size` items
    /// generated from `seed`: on one worker, failures collected (see [`Job::on`]).
    ///
    /// ```
    /// use parbench_strategies::{FailurePolicy, Job};
    /// use parbench_workloads::{Recipe, Registry};
    ///
    /// let workloads = Registry::builtin();
    /// let spec = workloads.get("square")?;
    /// let recipe = Recipe::new(spec, &spec.resolve(&Default::default())?, &Default::default());
    /// let job = Job::generate(recipe, &workloads, 1_000, 7)?.on(4, FailurePolicy::FailFast);
    /// assert_eq!((job.input.items(), job.workers, job.output_bytes()), (1_000, 4, 8_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate(
        recipe: Recipe,
        registry: &parbench_workloads::Registry,
        size: usize,
        seed: u64,
    ) -> Result<Self, parbench_workloads::WorkloadError> {
        let workload = recipe.instantiate(registry)?;
        let input = Arc::new(workload.generate(size, seed));
        Ok(Self {
            workload,
            recipe: Arc::new(recipe),
            input,
            seed,
            workers: 1,
            policy: FailurePolicy::Collect,
        })
    }

    /// The same job on `workers` workers under `policy`.
    pub fn on(self, workers: usize, policy: FailurePolicy) -> Self {
        Self {
            workers,
            policy,
            ..self
        }
    }

    /// Bytes of the run's output buffer.
    pub fn output_bytes(&self) -> usize {
        self.input.items() * self.workload.output_len()
    }

    /// Checks that every task lies inside the input.
    pub fn check_tasks(&self, tasks: &[Task]) -> Result<(), StrategyError> {
        let items = self.input.items();
        match tasks
            .iter()
            .find(|t| t.items.start > t.items.end || t.items.end > items)
        {
            Some(t) => Err(StrategyError::TaskOutOfRange {
                task: t.id,
                start: t.items.start,
                end: t.items.end,
                items,
            }),
            None => Ok(()),
        }
    }
}

/// How one task ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskOutcome {
    /// It succeeded, on attempt `attempts`.
    Done {
        /// Attempts made, the last one successful.
        attempts: u32,
        /// Its partial result.
        partial: Partial,
    },
    /// Every attempt failed; `error` is the last one's.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// Why the last attempt failed.
        error: TaskError,
    },
    /// A fail-fast policy cancelled it before it started.
    Skipped,
}

/// What one timed run produced, besides the output buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// When the run started, `CLOCK_MONOTONIC` nanoseconds.
    pub start_ns: u64,
    /// When it ended.
    pub end_ns: u64,
    /// The lanes the spans are spread over: the workers, or for an async runtime driving IO,
    /// the tasks it keeps in flight. No two spans of one lane overlap.
    pub lanes: usize,
    /// One outcome per task, in task order.
    pub outcomes: Vec<TaskOutcome>,
    /// One span per executed task, in no particular order.
    pub spans: Vec<Span>,
    /// Bytes that crossed between processes to run the tasks, both directions (task messages
    /// and their results; not the measurement's own bookkeeping). Zero within one process.
    pub bytes_moved: u64,
    /// CPU time (user + system) the strategy's worker processes spent in the run; zero within
    /// one process, whose own CPU time the caller measures.
    pub worker_cpu_ns: u64,
    /// For a workload of rounds, each round that completed, in order; empty for one pass.
    pub rounds: Vec<Round>,
}

/// One round of a run in rounds ([`Strategy::run_rounds`]).
///
/// Rounds follow each other without a gap: a round starts where the previous one (or the run)
/// started handing out work, and ends once its reduced state is in hand, so the strategy's
/// every cost of a round — handing out the state, the slowest task, gathering the partials,
/// the reduction — lies inside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// When it started, `CLOCK_MONOTONIC` nanoseconds.
    pub start_ns: u64,
    /// When its state was reduced.
    pub end_ns: u64,
    /// Bytes that crossed between processes in this round, both directions.
    pub bytes_moved: u64,
    /// The state after it: what is verified, round by round, against the reference.
    pub state: Vec<u8>,
}

impl RunReport {
    /// The run's wall time.
    pub fn wall_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// The run's answer, from the strategy's output buffer; for a workload of rounds, from the
    /// state after each round.
    pub fn answer(&self, workload: &dyn Workload, output: &[u8], tasks: &[Task]) -> Answer {
        let partials = self.partials();
        let failures: Vec<Failure> = self
            .outcomes
            .iter()
            .zip(tasks)
            .filter_map(|(o, t)| match o {
                TaskOutcome::Failed { error, .. } => Some(Failure {
                    task: t.id,
                    kind: error.kind,
                }),
                _ => None,
            })
            .collect();
        if workload.as_rounds().is_some() {
            let states: Vec<Vec<u8>> = self.rounds.iter().map(|r| r.state.clone()).collect();
            return Answer::of_rounds(&states, failures);
        }
        Answer::compute(workload, output, tasks, &partials, failures)
    }

    /// Each task's partial result, in task order; `None` for a task that did not succeed.
    pub fn partials(&self) -> Vec<Option<Partial>> {
        self.outcomes
            .iter()
            .map(|o| match o {
                TaskOutcome::Done { partial, .. } => Some(partial.clone()),
                _ => None,
            })
            .collect()
    }

    /// When the first task that failed for good ended, if one did: with `end_ns`, how long a
    /// fail-fast run took to stop, or a collecting one went on.
    pub fn first_failure_ns(&self) -> Option<u64> {
        self.spans
            .iter()
            .filter(|s| matches!(self.outcomes[s.task as usize], TaskOutcome::Failed { .. }))
            .map(|s| s.end_ns)
            .min()
    }

    /// Tasks that failed for good, after any retries.
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, TaskOutcome::Failed { .. }))
            .count()
    }

    /// Tasks that a fail-fast policy cancelled.
    pub fn skipped(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, TaskOutcome::Skipped))
            .count()
    }
}

/// What a strategy's worker processes reported as they stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Teardown {
    /// One entry per worker process; empty for strategies that stay in one process.
    pub workers: Vec<WorkerMemory>,
    /// The worker processes' profiles, when [`Strategy::profile_workers`] asked for them.
    pub profiles: Vec<crate::profile::Stacks>,
}

/// A worker process's memory, read from its own `/proc/self/status` just before it exited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerMemory {
    /// Its process id.
    pub pid: u32,
    /// Its peak resident set (`VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
    /// The shared-memory part of its resident set at exit (`RssShmem`): pages of segments it
    /// mapped, which other processes of the tree count too.
    pub shared_rss_bytes: u64,
}

/// A way of spreading tasks over workers: the thing parbench compares.
///
/// The harness drives a strategy in three separately timed steps: [`setup`](Strategy::setup)
/// spawns its pool, runtime or processes for a [`Job`]; [`run`](Strategy::run) executes a task
/// list (the timed part, repeated once per sample) and leaves the output in
/// [`output`](Strategy::output); [`teardown`](Strategy::teardown) stops and joins everything
/// (and reaps every worker process, reporting their memory in a [`Teardown`]).
/// Strategies are object-safe, so the harness holds `Box<dyn Strategy>` from a [`Registry`].
///
/// Every task's failure, returned error or caught panic, is recorded in its
/// [`TaskOutcome`] according to the job's [`FailurePolicy`]; a strategy itself fails only when
/// its own machinery does.
///
/// # Example
///
/// Driving the sequential reference by hand, as the harness does for every sample:
///
/// ```
/// use std::sync::Arc;
/// use parbench_strategies::{FailurePolicy, Job, Registry};
/// use parbench_workloads::{plan_tasks, EnvVars, Recipe};
///
/// let workloads = parbench_workloads::Registry::builtin();
/// let spec = workloads.get("square")?;
/// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
/// let input = Arc::new(workload.generate(10_000, 1));
/// let tasks = plan_tasks(input.items(), 8)?;
///
/// let strategies = Registry::builtin();
/// let mut strategy = strategies.get("sequential")?.instantiate(&Default::default())?;
/// let recipe = Arc::new(Recipe::new(spec, &spec.resolve(&Default::default())?, &EnvVars::new()));
/// let job = Job { workload: workload.clone(), recipe, input, seed: 1, workers: 1, policy: FailurePolicy::Collect };
/// strategy.setup(&job)?;
/// let report = strategy.run(&tasks)?;
/// let answer = report.answer(workload.as_ref(), strategy.output(), &tasks);
/// strategy.teardown()?;
///
/// assert_eq!(report.spans.len(), 8);
/// assert!(answer.failures.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Strategy: Send {
    /// The name it is registered under.
    fn name(&self) -> &str;

    /// Prepares for runs of `job`: spawns workers, allocates the output buffer.
    fn setup(&mut self, job: &Job) -> Result<(), StrategyError>;

    /// Runs `tasks` (in any order, on any worker) and reports their outcomes and spans.
    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError>;

    /// The output buffer as the last run left it.
    fn output(&self) -> &[u8];

    /// Stops and joins every worker. Calling it twice, or without `setup`, is harmless.
    fn teardown(&mut self) -> Result<Teardown, StrategyError>;

    /// Runs `tasks` once per round of the job's workload of rounds
    /// ([`parbench_workloads::Workload::as_rounds`]): each round maps every task's items under
    /// the round's state, and the partials, reduced in task order, make the next state. The
    /// report holds one [`Round`] per completed round, with its state.
    ///
    /// Where the items live between rounds and how the state travels is the strategy's to
    /// choose, as its users would. The default refuses, for strategies that run one pass only.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let _ = tasks;
        Err(StrategyError::NoRounds(self.name().to_owned()))
    }

    /// Asks a strategy whose workers are processes to profile them at `frequency` from the
    /// next `setup`, and to return their stacks from `teardown`. Strategies that stay in one
    /// process have nothing to do: the profiler samples that process already.
    fn profile_workers(&mut self, frequency: u32) {
        let _ = frequency;
    }
}

/// Runs `tasks` on a set-up `strategy` the way `workload` asks: one pass
/// ([`Strategy::run`]), or round by round ([`Strategy::run_rounds`]) for a workload of rounds.
///
/// ```
/// use std::sync::Arc;
/// use parbench_strategies::{run, FailurePolicy, Job, Registry};
/// use parbench_workloads::{plan_tasks, Recipe};
///
/// let workloads = parbench_workloads::Registry::builtin();
/// let spec = workloads.get("kmeans")?;
/// let params = spec.resolve(&[("rounds".to_owned(), 3.into())].into())?;
/// let recipe = Recipe::new(spec, &params, &Default::default());
/// let job = Job::generate(recipe, &workloads, 1_000, 7)?.on(2, FailurePolicy::Collect);
/// let tasks = plan_tasks(1_000, 4)?;
///
/// let mut strategy = Registry::builtin().get("thread-pool")?.instantiate(&Default::default())?;
/// strategy.setup(&job)?;
/// let report = run(strategy.as_mut(), job.workload.as_ref(), &tasks)?;
/// strategy.teardown()?;
/// assert_eq!(report.rounds.len(), 3);
/// // Every task ran in every round.
/// assert_eq!(report.spans.len(), 3 * 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(
    strategy: &mut dyn Strategy,
    workload: &dyn Workload,
    tasks: &[Task],
) -> Result<RunReport, StrategyError> {
    if workload.as_rounds().is_some() {
        strategy.run_rounds(tasks)
    } else {
        strategy.run(tasks)
    }
}

/// A registered strategy: its name, description, parameters and how to build it.
#[derive(Clone, Copy)]
pub struct StrategySpec {
    /// Unique name (`kebab-case`).
    pub name: &'static str,
    /// One line for `parbench list`.
    pub description: &'static str,
    /// Declared parameters.
    pub params: &'static [ParamSpec],
    /// Whether it spreads work over the worker count it is given; `false` for `sequential`,
    /// which is then measured once, with one worker.
    pub uses_workers: bool,
    /// Whether its workers are processes running this binary again: the binary must then
    /// answer the worker command ([`crate::process::serve`]).
    pub spawns_processes: bool,
    /// Builds it from validated parameters.
    pub build: fn(&Params) -> Result<Box<dyn Strategy>, StrategyError>,
}

impl StrategySpec {
    /// Validates parameters given by name and builds the strategy.
    pub fn instantiate(
        &self,
        given: &std::collections::BTreeMap<String, parbench_workloads::Value>,
    ) -> Result<Box<dyn Strategy>, StrategyError> {
        let params = Params::resolve(self.name, self.params, given)?;
        (self.build)(&params)
    }
}

impl fmt::Debug for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StrategySpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Named for StrategySpec {
    fn name(&self) -> &'static str {
        self.name
    }
}

/// Strategies by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    strategies: ByName<StrategySpec>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in strategies of the enabled features.
    pub fn builtin() -> Self {
        Self {
            strategies: ByName::of(vec![
                crate::sequential::SPEC,
                crate::threads::SPEC,
                crate::pool::SPEC,
                crate::rayon_pool::SPEC,
                #[cfg(feature = "tokio")]
                crate::tokio_rt::SPEC,
                #[cfg(feature = "actors")]
                crate::actors::SPEC,
                crate::process::POOL,
                crate::process::SHM,
                #[cfg(feature = "timely")]
                crate::dataflow::SPEC,
            ]),
        }
    }

    /// Adds a strategy; its name must be new.
    pub fn register(&mut self, spec: StrategySpec) -> Result<(), StrategyError> {
        self.strategies
            .insert(spec)
            .map_err(|spec| StrategyError::Duplicate(spec.name.to_owned()))
    }

    /// The strategy named `name`, or an error listing the valid names.
    pub fn get(&self, name: &str) -> Result<&StrategySpec, StrategyError> {
        self.strategies
            .get(name)
            .map_err(|valid| StrategyError::Unknown {
                name: name.to_owned(),
                valid,
            })
    }

    /// Every registered strategy, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &StrategySpec> {
        self.strategies.iter()
    }

    /// Every registered name, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.strategies.names()
    }
}
