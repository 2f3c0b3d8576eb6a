//! `sequential`: the single-threaded loop, and the reference answer.

use parbench_workloads::{Answer, Params, Task};

use crate::exec::execute;
use crate::{
    now_ns, FailurePolicy, Job, RunReport, Span, SpanBuffer, Strategy, StrategyError, StrategySpec,
    TaskOutcome,
};

/// Registration of `sequential`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "sequential",
    description: "the single-threaded loop on the calling thread; the reference answer",
    params: &[],
    uses_workers: false,
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
    spans: SpanBuffer,
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
        let job = self
            .job
            .as_ref()
            .ok_or_else(|| StrategyError::NotSetUp(SPEC.name.to_owned()))?;
        job.check_tasks(tasks)?;
        self.spans = SpanBuffer::with_capacity(tasks.len());
        let mut outcomes = Vec::with_capacity(tasks.len());
        let len = job.workload.output_len();

        let start_ns = now_ns();
        let mut failed = false;
        for task in tasks {
            if failed && job.policy == FailurePolicy::FailFast {
                outcomes.push(TaskOutcome::Skipped);
                continue;
            }
            let out = &mut self.output[task.items.start * len..task.items.end * len];
            let begin = now_ns();
            let outcome = execute(job, task, out);
            self.spans.record(Span {
                worker: 0,
                task: task.id,
                start_ns: begin,
                end_ns: now_ns(),
            });
            failed |= matches!(outcome, TaskOutcome::Failed { .. });
            outcomes.push(outcome);
        }
        let end_ns = now_ns();

        Ok(RunReport {
            start_ns,
            end_ns,
            outcomes,
            spans: self.spans.take(),
        })
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<(), StrategyError> {
        self.job = None;
        self.output = Vec::new();
        Ok(())
    }
}

/// The reference answer of `job` over `tasks`: what every strategy's run must reproduce.
pub fn reference(job: &Job, tasks: &[Task]) -> Result<(Answer, RunReport), StrategyError> {
    let mut sequential = Sequential::default();
    sequential.setup(job)?;
    let report = sequential.run(tasks)?;
    let answer = report.answer(job.workload.as_ref(), sequential.output(), tasks);
    sequential.teardown()?;
    Ok((answer, report))
}
