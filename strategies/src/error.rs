use parbench_workloads::{ParamError, WorkloadError};

/// Why a strategy could not be found, set up, run or torn down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// No strategy of that name is registered.
    #[error("unknown strategy `{name}`; valid strategies: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        valid: String,
    },
    /// Two strategies were registered under one name.
    #[error("a strategy named `{0}` is already registered")]
    Duplicate(String),
    /// A strategy parameter was unknown or out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The workload could not be prepared.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// Not a failure policy.
    #[error("invalid failure policy `{0}`: expected collect, fail-fast or retry(N)")]
    Policy(String),
    /// The workload runs in rounds, and the strategy has no round driver.
    #[error("strategy `{0}` cannot run a workload of rounds")]
    NoRounds(String),
    /// `run` was called before `setup`, or after `teardown`.
    #[error("strategy `{0}` is not set up")]
    NotSetUp(String),
    /// A task list that does not match the input.
    #[error("task {task} covers items {start}..{end}, but the input has {items} items")]
    TaskOutOfRange {
        /// The task's id.
        task: u32,
        /// First item.
        start: usize,
        /// One past the last item.
        end: usize,
        /// Items in the input.
        items: usize,
    },
    /// The strategy's own machinery broke a promise it relies on.
    #[error("strategy `{strategy}`: {message}")]
    Internal {
        /// The strategy.
        strategy: String,
        /// What went wrong.
        message: String,
    },
    /// Spawning a thread, runtime or process failed.
    #[error("strategy `{strategy}` could not start its workers: {source}")]
    Spawn {
        /// The strategy.
        strategy: String,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A worker process died, or broke the protocol, during setup, a run or teardown.
    #[error("strategy `{strategy}`: worker {worker} (pid {pid}) {what}")]
    Worker {
        /// The strategy.
        strategy: String,
        /// The worker's index.
        worker: usize,
        /// Its process id.
        pid: u32,
        /// What happened, e.g. `died during the run: killed by signal 9 (SIGKILL)`; it
        /// begins with `died` when the process died (see [`StrategyError::worker_died`]).
        what: String,
    },
}

impl StrategyError {
    /// Whether a worker process died (a signal, an exit) rather than answered: the run
    /// crashed, as opposed to failing with an error or a wrong answer.
    ///
    /// ```
    /// use parbench_strategies::StrategyError;
    /// let killed = StrategyError::Worker {
    ///     strategy: "process-pool".into(),
    ///     worker: 1,
    ///     pid: 4242,
    ///     what: "died during the run: killed by signal 9 (SIGKILL)".into(),
    /// };
    /// assert!(killed.worker_died());
    /// assert!(!StrategyError::NotSetUp("process-pool".into()).worker_died());
    /// ```
    pub fn worker_died(&self) -> bool {
        matches!(self, StrategyError::Worker { what, .. } if what.starts_with("died"))
    }
}
