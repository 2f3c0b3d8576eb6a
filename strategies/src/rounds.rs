//! Driving a workload of rounds ([`parbench_workloads::Rounds`]): the trace of states every
//! strategy keeps as it goes, and the driver of strategies whose rounds are one pass each.
//!
//! A strategy decides where the items live between rounds and how the state travels; what it
//! shares is the bookkeeping: the state of the round in progress, each round's reduction in
//! task order, and its [`Round`] record with the time and bytes it took.

use std::sync::Arc;

use parbench_workloads::{Rounds, Task};

use crate::{now_ns, Job, Round, RunReport, StrategyError, TaskOutcome};

/// The rounds of one run as they complete.
///
/// ```
/// use parbench_strategies::rounds::Trace;
/// use parbench_strategies::{FailurePolicy, Job};
/// use parbench_workloads::{plan_tasks, Recipe, Registry, TaskContext};
///
/// let workloads = Registry::builtin();
/// let spec = workloads.get("kmeans")?;
/// let params = spec.resolve(&[("rounds".to_owned(), 2.into())].into())?;
/// let job = Job::generate(Recipe::new(spec, &params, &Default::default()), &workloads, 500, 1)?;
/// let task = plan_tasks(500, 1)?.remove(0);
///
/// let mut trace = Trace::start(&job, "by-hand")?;
/// let mut more = true;
/// while more {
///     let context = TaskContext { task: task.clone(), attempt: 1, seed: 1 };
///     let partial = trace.work().map(&context, trace.state(), job.input.view())?;
///     more = trace.close(&[Some(&partial)], 0);
/// }
/// assert_eq!(trace.finish().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trace<'a> {
    work: &'a dyn Rounds,
    state: Arc<[u8]>,
    rounds: Vec<Round>,
    round_start: u64,
}

impl<'a> Trace<'a> {
    /// The first round of `job`'s workload begins: its initial state, and the round's clock.
    /// A strategy starts the trace once its run's clock has started, so that the rounds lie
    /// inside the run.
    ///
    /// # Errors
    /// The workload does not run in rounds.
    pub fn start(job: &'a Job, strategy: &str) -> Result<Self, StrategyError> {
        let work = job
            .workload
            .as_rounds()
            .ok_or_else(|| StrategyError::Internal {
                strategy: strategy.to_owned(),
                message: format!("`{}` does not run in rounds", job.workload.name()),
            })?;
        let state = work.initial_state(&job.input).into();
        Ok(Self {
            work,
            state,
            rounds: Vec::with_capacity(work.rounds()),
            round_start: now_ns(),
        })
    }

    /// The workload's rounds.
    pub fn work(&self) -> &'a dyn Rounds {
        self.work
    }

    /// The state the round in progress maps under.
    pub fn state(&self) -> &Arc<[u8]> {
        &self.state
    }

    /// Ends the round in progress with each task's partial in task order (`None` where a task
    /// did not succeed) and the bytes it moved, reducing them into the next state. Returns
    /// whether another round follows: not after the last one, nor after a round where a task
    /// did not succeed, which is left out of the trace.
    pub fn close(&mut self, partials: &[Option<&[u8]>], bytes_moved: u64) -> bool {
        let Some(next) = next_state(self.work, &self.state, partials) else {
            return false;
        };
        let end = now_ns();
        self.rounds.push(Round {
            start_ns: self.round_start,
            end_ns: end,
            bytes_moved,
            state: next.clone(),
        });
        self.round_start = end;
        self.state = next.into();
        self.rounds.len() < self.work.rounds()
    }

    /// The completed rounds.
    pub fn finish(self) -> Vec<Round> {
        self.rounds
    }
}

/// The state after a round: `state` reduced with each task's partial in task order, or `None`
/// when a task did not succeed — a round needs every partial.
///
/// ```
/// use parbench_strategies::rounds::next_state;
/// use parbench_workloads::builtin::kmeans::KMeans;
///
/// let kmeans = KMeans::new(1, 1, 1);
/// let state = 0f64.to_le_bytes();
/// // One cluster: 2 points summing to 6, and 1 point at 3.
/// let (a, b) = ([2i64, 6].map(i64::to_le_bytes).concat(), [1i64, 3].map(i64::to_le_bytes).concat());
/// let next = next_state(&kmeans, &state, &[Some(&a), Some(&b)]).unwrap();
/// assert_eq!(next, 3f64.to_le_bytes());
/// assert_eq!(next_state(&kmeans, &state, &[Some(&a), None]), None);
/// ```
pub fn next_state(work: &dyn Rounds, state: &[u8], partials: &[Option<&[u8]>]) -> Option<Vec<u8>> {
    let partials: Vec<&[u8]> = partials.iter().copied().collect::<Option<_>>()?;
    Some(work.reduce(state, &partials))
}

/// Each task's partial in a round's outcomes (task order): `None` where it did not succeed.
///
/// ```
/// use parbench_strategies::rounds::partials;
/// use parbench_strategies::TaskOutcome;
///
/// let outcomes = [TaskOutcome::Done { attempts: 1, partial: vec![7] }, TaskOutcome::Skipped];
/// assert_eq!(partials(&outcomes), [Some(&[7u8][..]), None]);
/// ```
pub fn partials(outcomes: &[TaskOutcome]) -> Vec<Option<&[u8]>> {
    outcomes
        .iter()
        .map(|o| match o {
            TaskOutcome::Done { partial, .. } => Some(partial.as_slice()),
            _ => None,
        })
        .collect()
}

/// Runs the rounds of `job` over `tasks` as one pass each: `pass` runs every task once under
/// the state it is given and returns when all are done (the join that ends each round), as the
/// strategy's one-pass run does. The run's report holds every pass's spans, the last pass's
/// outcomes, and the rounds.
///
/// ```
/// use parbench_strategies::exec::execute;
/// use parbench_strategies::rounds::drive;
/// use parbench_strategies::{now_ns, Job, RunReport};
/// use parbench_workloads::{plan_tasks, Recipe, Registry};
///
/// let workloads = Registry::builtin();
/// let spec = workloads.get("kmeans")?;
/// let params = spec.resolve(&[("rounds".to_owned(), 2.into())].into())?;
/// let job = Job::generate(Recipe::new(spec, &params, &Default::default()), &workloads, 500, 1)?;
/// let tasks = plan_tasks(500, 4)?;
///
/// // Each pass runs every task on this thread under the state it is given.
/// let report = drive(&job, &tasks, "by-hand", |state| {
///     let start_ns = now_ns();
///     let outcomes = tasks.iter().map(|t| execute(&job, Some(&state), t, &mut [])).collect();
///     Ok(RunReport { start_ns, end_ns: now_ns(), lanes: 1, outcomes, ..RunReport::default() })
/// })?;
/// assert_eq!(report.rounds.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn drive(
    job: &Job,
    tasks: &[Task],
    strategy: &str,
    mut pass: impl FnMut(Arc<[u8]>) -> Result<RunReport, StrategyError>,
) -> Result<RunReport, StrategyError> {
    let mut trace = Trace::start(job, strategy)?;
    let mut report = RunReport {
        start_ns: trace.round_start,
        ..RunReport::default()
    };
    report.spans.reserve(tasks.len() * trace.work.rounds());
    loop {
        let round = pass(trace.state.clone())?;
        let more = trace.close(&partials(&round.outcomes), round.bytes_moved);
        report.lanes = round.lanes;
        report.spans.extend(round.spans);
        report.bytes_moved += round.bytes_moved;
        report.worker_cpu_ns += round.worker_cpu_ns;
        report.outcomes = round.outcomes;
        if !more {
            break;
        }
    }
    report.rounds = trace.finish();
    report.end_ns = now_ns();
    Ok(report)
}
