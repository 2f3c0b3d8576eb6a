//! `sequential`: the single-threaded loop, and the reference answer.

use parbench_workloads::{Params, Task};

use crate::rounds;
use crate::span::Clock;
use crate::worker::{assemble, set_up, WorkerLog};
use crate::{FailurePolicy, Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown};

/// Registration of `sequential`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "sequential",
    description: "the single-threaded loop on the calling thread; the reference answer",
    params: &[],
    uses_workers: false,
    spawns_processes: false,
    build,
};

fn build(_: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Sequential::default()))
}

/// Runs the tasks in order on the calling thread. Whatever the job's worker count, it uses one.
#[derive(Debug, Default)]
pub struct Sequential {
    job: Option<Job>,
    output: Vec<u8>,
}

impl Strategy for Sequential {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        self.output = vec![0; job.output_bytes()];
        self.job = Some(job.clone());
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.pass(tasks, None)
    }

    /// Rounds one after the other: every task in order under the round's state, then the
    /// reduction.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.job, SPEC.name)?.clone();
        rounds::drive(&job, tasks, SPEC.name, |state| {
            self.pass(tasks, Some(&state))
        })
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        self.job = None;
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl Sequential {
    /// Every task once, in order, on this thread; under `state` for a round.
    fn pass(&mut self, tasks: &[Task], state: Option<&[u8]>) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.job, SPEC.name)?;
        job.check_tasks(tasks)?;
        let mut log = WorkerLog::new(0, tasks.len());
        let len = job.workload.output_len();

        let start = Clock::get().anchor();
        for (index, task) in tasks.iter().enumerate() {
            let out = &mut self.output[task.items.start * len..task.items.end * len];
            if log.run(job, state, index, task, out) && job.policy == FailurePolicy::FailFast {
                break;
            }
        }
        let end = Clock::get().anchor();

        Ok(assemble(start, end, tasks.len(), 1, [log]))
    }
}
