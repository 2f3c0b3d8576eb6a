//! The pieces every parallel strategy shares: a worker's log of spans and outcomes, per-worker
//! slots that never share a cache line, the output buffer as workers see it, and the assembly
//! of the run's report.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;
use parbench_workloads::Task;

use crate::exec::execute;
use crate::span::{ticks_to_ns, Anchor, Clock};
use crate::{FailurePolicy, Job, RunReport, Span, StrategyError, TaskOutcome};

/// Extra capacity at the end of each buffer, so that the next heap block never shares a cache
/// line with the last entries a worker writes (128 bytes covers adjacent-line prefetching).
const SLACK: usize = 8;

/// What one worker records during a run, in buffers reserved before the run starts, so that
/// recording a task is two clock reads and two stores: no allocation, no lock.
#[derive(Debug)]
pub struct WorkerLog {
    worker: u32,
    clock: Clock,
    /// Spans in raw clock ticks until [`assemble`] converts them.
    spans: Vec<Span>,
    outcomes: Vec<(u32, TaskOutcome)>,
}

impl WorkerLog {
    /// A log for `worker` with room for `tasks` tasks.
    pub fn new(worker: usize, tasks: usize) -> Self {
        Self {
            worker: worker as u32,
            clock: Clock::get(),
            spans: Vec::with_capacity(tasks + SLACK),
            outcomes: Vec::with_capacity(tasks + SLACK),
        }
    }

    /// Runs task number `index` of the run into `out`, its part of the output buffer (under
    /// the round's `state` for a workload of rounds), and records its span and outcome.
    /// Returns whether it failed.
    #[inline]
    pub fn run(
        &mut self,
        job: &Job,
        state: Option<&[u8]>,
        index: usize,
        task: &Task,
        out: &mut [u8],
    ) -> bool {
        let start = self.ticks();
        let outcome = execute(job, state, task, out);
        let end = self.ticks();
        self.record(index, task, start, end, outcome)
    }

    /// A reading of the log's clock, for [`WorkerLog::record`].
    #[inline]
    pub fn ticks(&self) -> u64 {
        self.clock.ticks()
    }

    /// Records task number `index`, which ran between two readings of [`WorkerLog::ticks`].
    /// Returns whether it failed.
    #[inline]
    pub fn record(
        &mut self,
        index: usize,
        task: &Task,
        start: u64,
        end: u64,
        outcome: TaskOutcome,
    ) -> bool {
        self.spans.push(Span {
            worker: self.worker,
            task: task.id,
            start_ns: start,
            end_ns: end,
        });
        let failed = matches!(outcome, TaskOutcome::Failed { .. });
        self.outcomes.push((index as u32, outcome));
        failed
    }

    /// Spans recorded so far (in raw ticks until the run is assembled).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no task was recorded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Takes the outcomes recorded since the last call, as (task index, outcome): a round's,
    /// for the reduction.
    pub fn drain_outcomes(&mut self) -> std::vec::Drain<'_, (u32, TaskOutcome)> {
        self.outcomes.drain(..)
    }
}

/// The state of one run shared by its workers: a fail-fast flag on its own cache line.
#[derive(Debug, Default)]
pub struct Cancel(CachePadded<AtomicBool>);

impl Cancel {
    /// Whether a task of a fail-fast run has failed, so no task should start.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Records a task's failure under `policy`: under fail-fast it cancels what has not
    /// started.
    #[inline]
    pub fn on_failure(&self, policy: FailurePolicy) {
        if policy == FailurePolicy::FailFast {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// The state `setup` left, or the error of a strategy run before `setup` or after `teardown`.
pub fn set_up<'a, T>(state: &'a Option<T>, strategy: &str) -> Result<&'a T, StrategyError> {
    state
        .as_ref()
        .ok_or_else(|| StrategyError::NotSetUp(strategy.to_owned()))
}

/// Combines the workers' logs into the run's report, converting their spans to monotonic
/// nanoseconds between the run's anchors; tasks no worker ran are `Skipped`.
pub fn assemble(
    start: Anchor,
    end: Anchor,
    tasks: usize,
    lanes: usize,
    logs: impl IntoIterator<Item = WorkerLog>,
) -> RunReport {
    let mut outcomes: Vec<TaskOutcome> = (0..tasks).map(|_| TaskOutcome::Skipped).collect();
    let mut spans = Vec::with_capacity(tasks);
    for log in logs {
        spans.extend(log.spans.iter().map(|s| Span {
            start_ns: ticks_to_ns(s.start_ns, start, end),
            end_ns: ticks_to_ns(s.end_ns, start, end),
            ..*s
        }));
        for (index, outcome) in log.outcomes {
            outcomes[index as usize] = outcome;
        }
    }
    RunReport {
        start_ns: start.ns,
        end_ns: end.ns,
        lanes,
        outcomes,
        spans,
        ..RunReport::default()
    }
}

/// One value per worker, each on its own cache line, reachable from every worker thread.
///
/// Safety rests on the caller: slot `i` may only be touched by worker `i` while the run is in
/// progress, and by the run's owner once every worker has finished.
pub struct PerWorker<T>(Box<[CachePadded<UnsafeCell<T>>]>);

// SAFETY: each slot is used by one thread at a time (see the type's documentation).
unsafe impl<T: Send> Sync for PerWorker<T> {}

impl<T> PerWorker<T> {
    /// One slot per value.
    pub fn new(values: impl IntoIterator<Item = T>) -> Self {
        Self(
            values
                .into_iter()
                .map(|v| CachePadded::new(UnsafeCell::new(v)))
                .collect(),
        )
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no slot.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Worker `i`'s slot.
    ///
    /// # Safety
    /// No other reference to slot `i` may be alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get(&self, i: usize) -> &mut T {
        // SAFETY: exclusivity is the caller's promise.
        unsafe { &mut *self.0[i].get() }
    }

    /// The values, once every worker is done.
    pub fn into_inner(self) -> impl Iterator<Item = T> {
        self.0
            .into_vec()
            .into_iter()
            .map(|slot| slot.into_inner().into_inner())
    }
}

/// The output buffer as the workers of one run see it: each task writes its own disjoint part.
#[derive(Clone, Copy, Debug)]
pub struct OutputPtr {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: workers only write disjoint ranges (one task each), and the run that lent the buffer
// waits for every worker before it touches the buffer again.
unsafe impl Send for OutputPtr {}
unsafe impl Sync for OutputPtr {}

impl OutputPtr {
    /// Lends `buffer` to the run's workers.
    pub fn new(buffer: &mut [u8]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
        }
    }

    /// The bytes `range` of the buffer.
    ///
    /// # Safety
    /// `range` must not overlap a range handed to anyone else during the run, and the buffer
    /// must outlive every use (the run waits for its workers before returning).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, range: Range<usize>) -> &mut [u8] {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "output range out of bounds"
        );
        // SAFETY: in bounds (checked) and exclusive (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

/// Everything the workers of one run need, behind one `Arc` for strategies whose workers
/// outlive a borrow (pools, runtimes, actors).
#[derive(Debug)]
pub struct RunShared {
    /// The job.
    pub job: Job,
    /// The run's tasks, in task order.
    pub tasks: Vec<Task>,
    /// The output buffer.
    pub output: OutputPtr,
    /// The fail-fast flag.
    pub cancel: Cancel,
    /// The round's state, when the run is one round of a workload of rounds.
    pub state: Option<Arc<[u8]>>,
}

impl RunShared {
    /// Shares a run of `tasks` over `output`.
    pub fn new(job: &Job, tasks: &[Task], output: &mut [u8]) -> Self {
        Self {
            job: job.clone(),
            tasks: tasks.to_vec(),
            output: OutputPtr::new(output),
            cancel: Cancel::default(),
            state: None,
        }
    }

    /// Shares a run of `tasks` over `output`; one round under `state`, when there is one.
    pub fn with_state(
        job: &Job,
        tasks: &[Task],
        output: &mut [u8],
        state: Option<Arc<[u8]>>,
    ) -> Self {
        Self {
            state,
            ..Self::new(job, tasks, output)
        }
    }

    /// The part of the output buffer of task `index`.
    ///
    /// # Safety
    /// As [`OutputPtr::slice`]: task `index` is run by one worker, once, during this run.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn output_of(&self, index: usize) -> &mut [u8] {
        let task = &self.tasks[index];
        let len = self.job.workload.output_len();
        // SAFETY: tasks cover disjoint item ranges; exclusivity is the caller's promise.
        unsafe {
            self.output
                .slice(task.items.start * len..task.items.end * len)
        }
    }

    /// Runs task `index` into the shared output unless the run was cancelled; records it in
    /// `log` and raises the cancel flag on failure.
    ///
    /// # Safety
    /// Task `index` must be run by one worker, once, during this run.
    pub unsafe fn run_task(&self, index: usize, log: &mut WorkerLog) {
        if self.cancel.is_set() {
            return;
        }
        // SAFETY: this task runs once, here (the caller's promise).
        let out = unsafe { self.output_of(index) };
        if log.run(
            &self.job,
            self.state.as_deref(),
            index,
            &self.tasks[index],
            out,
        ) {
            self.cancel.on_failure(self.job.policy);
        }
    }
}
