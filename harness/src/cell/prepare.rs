//! The child side's first step: a workload built from its recipe, its input generated and its
//! tasks planned, with the sequential reference every run is checked against.

use std::time::Instant;

use parbench_reports::Features;
use parbench_strategies::{FailurePolicy, Job, Reference, RunReport, Strategy};
use parbench_workloads::{async_overlap, plan_tasks, Answer, Recipe, Task, TaskContext};

use crate::probe::process_cpu_ns;

/// The items whose waits the async overlap is measured on: enough to show an overlap of tens,
/// few enough to wait for one at a time while a bucket is prepared.
const OVERLAP_BATCH: usize = 64;

/// A workload ready to be measured over one task list.
pub(crate) struct Prepared {
    /// The workload, its input and the run's shape, on one worker.
    pub job: Job,
    /// The tasks every run gets.
    pub tasks: Vec<Task>,
    /// The answer every run must give.
    pub reference: Reference,
    /// What preparing measured about the workload.
    pub features: Features,
}

impl Prepared {
    /// Builds the workload from `recipe`, generates its input (timed: a measured feature)
    /// and plans the tasks. The reference is `expected` when the policy lets an answer
    /// computed elsewhere be checked exactly (a workload of rounds included: its answer holds
    /// each round's digest); otherwise it is computed here, sequentially.
    pub fn new(
        recipe: Recipe,
        registry: &parbench_workloads::Registry,
        (size, seed, tasks): (usize, u64, usize),
        policy: FailurePolicy,
        expected: Option<Answer>,
    ) -> Result<Self, String> {
        let started = Instant::now();
        let job = Job::generate(recipe, registry, size, seed)
            .map_err(|e| e.to_string())?
            .on(1, policy);
        let generate_ns = started.elapsed().as_nanos() as u64;
        let tasks = plan_tasks(job.input.items(), tasks).map_err(|e| e.to_string())?;
        let reference = match expected.and_then(|answer| Reference::expecting(answer, policy)) {
            Some(reference) => reference,
            None => Reference::compute(&job, &tasks).map_err(|e| e.to_string())?,
        };
        let features = Features {
            items: job.input.items(),
            input_bytes: job.input.bytes.len() as u64,
            output_bytes: job.output_bytes() as u64,
            generate_ns,
            sequential_busy_ns: reference.busy_ns(),
            async_overlap: None,
        };
        Ok(Self {
            job,
            tasks,
            reference,
            features,
        })
    }

    /// How much a runtime overlaps the waits of a batch of the input's first items, up to
    /// [`OVERLAP_BATCH`] ([`async_overlap`]), whatever the bucket's task count: measured once,
    /// when the bucket is prepared.
    pub fn async_overlap(&self) -> Option<f64> {
        let batch = Task {
            id: 0,
            items: 0..self.job.input.items().min(OVERLAP_BATCH),
        };
        let items = self.job.input.view().slice(batch.items.clone());
        let context = TaskContext {
            task: batch,
            attempt: 1,
            seed: self.job.seed,
        };
        async_overlap(self.job.workload.as_ref(), items, &context)
    }

    /// The job of a strategy measuring these tasks on `workers`.
    pub fn job(&self, workers: usize) -> Job {
        self.job.clone().on(workers, self.job.policy)
    }
}

/// A run whose answer matched the reference.
pub(crate) struct Verified {
    /// What the strategy reported of the run.
    pub report: RunReport,
    /// CPU time of the measuring process during the run.
    pub cpu_ns: u64,
    /// Wall time of the check against the reference, after the run.
    pub check_ns: u64,
}

/// Why a cell process's work failed: what to tell, and whether a process died doing it (a
/// worker killed by a signal: the cell crashed, rather than answered wrongly).
#[derive(Debug)]
pub(crate) struct Failure {
    pub message: String,
    pub crashed: bool,
}

impl Failure {
    /// The strategy's error `e`, told after `what` (`setup failed`): a crash when a worker
    /// process died of it.
    pub fn strategy(what: &str, e: &parbench_strategies::StrategyError) -> Self {
        Failure {
            message: format!("{what}: {e}"),
            crashed: e.worker_died(),
        }
    }

    /// The same failure, told after `context` (`sample 2: `).
    pub fn after(self, context: std::fmt::Arguments<'_>) -> Self {
        Failure {
            message: format!("{context}{}", self.message),
            ..self
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure {
            message,
            crashed: false,
        }
    }
}

/// Runs the prepared tasks once and checks the answer against the reference.
pub(crate) fn run_verified(
    instance: &mut dyn Strategy,
    prepared: &Prepared,
    job: &Job,
) -> Result<Verified, Failure> {
    let cpu = process_cpu_ns();
    let report = parbench_strategies::run(instance, job.workload.as_ref(), &prepared.tasks)
        .map_err(|e| Failure::strategy("failed", &e))?;
    let cpu_ns = process_cpu_ns() - cpu;
    let checking = Instant::now();
    prepared
        .reference
        .check(job, &prepared.tasks, &report, instance.output())
        .map_err(|difference| {
            Failure::from(format!(
                "differs from the sequential reference: {difference}"
            ))
        })?;
    Ok(Verified {
        report,
        cpu_ns,
        check_ns: checking.elapsed().as_nanos() as u64,
    })
}
