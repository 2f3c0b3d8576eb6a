//! `threads`: `std::thread::scope`, one static contiguous chunk of tasks per thread.
//!
//! No balancing: when the chunks cost different amounts, the run waits for the slowest, and the
//! other workers' tails show it. Threads are spawned by each run (that is the pattern), so
//! their start-up is part of the run's startup overhead.
//!
//! A workload of rounds runs on threads spawned once for the run, each keeping its chunk for
//! every round: a [`Barrier`] starts a round once its state is published, another ends it once
//! every thread has left its partials, and the calling thread reduces them in between.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, PoisonError};

use parbench_workloads::{Params, Task};

use crate::rounds::{partials, Trace};
use crate::span::Clock;
use crate::worker::{assemble, set_up, Cancel, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, TaskOutcome, Teardown};

/// Registration of `threads`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "threads",
    description:
        "std::thread::scope: one static contiguous chunk of tasks per thread, no balancing",
    params: &[],
    uses_workers: true,
    spawns_processes: false,
    build,
};

fn build(_: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Threads::default()))
}

/// Scoped threads over static chunks.
#[derive(Debug, Default)]
pub struct Threads {
    job: Option<Job>,
    output: Vec<u8>,
}

/// Splits `tasks` into `workers` contiguous chunks whose lengths differ by at most one.
fn chunks(tasks: usize, workers: usize) -> Vec<std::ops::Range<usize>> {
    let bound = |i: usize| i * tasks / workers;
    (0..workers).map(|i| bound(i)..bound(i + 1)).collect()
}

impl Strategy for Threads {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        self.output = vec![0; job.output_bytes()];
        self.job = Some(job.clone());
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.job, SPEC.name)?;
        job.check_tasks(tasks)?;
        let len = job.workload.output_len();
        let workers = job.workers.max(1);
        // Carve the output into one disjoint slice per chunk, before the clock starts.
        let mut rest: &mut [u8] = &mut self.output;
        let mut consumed = 0;
        let mut work = Vec::with_capacity(workers);
        for (worker, range) in chunks(tasks.len(), workers).into_iter().enumerate() {
            let chunk = &tasks[range.clone()];
            let end = chunk.last().map_or(consumed, |t| t.items.end * len);
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(end - consumed);
            rest = tail;
            work.push((
                worker,
                range.start,
                chunk,
                consumed,
                mine,
                WorkerLog::new(worker, chunk.len()),
            ));
            consumed = end;
        }
        let cancel = Cancel::default();

        let start = Clock::get().anchor();
        let logs = std::thread::scope(|scope| {
            let handles = work
                .into_iter()
                .map(|(worker, first, chunk, base, out, mut log)| {
                    let cancel = &cancel;
                    std::thread::Builder::new()
                        .name(format!("pb-threads-{worker}"))
                        .spawn_scoped(scope, move || {
                            for (i, task) in chunk.iter().enumerate() {
                                if cancel.is_set() {
                                    break;
                                }
                                let range =
                                    task.items.start * len - base..task.items.end * len - base;
                                if log.run(job, None, first + i, task, &mut out[range]) {
                                    cancel.on_failure(job.policy);
                                }
                            }
                            log
                        })
                })
                .collect::<io::Result<Vec<_>>>()?;
            Ok(handles
                .into_iter()
                .map(|h| h.join().expect("task panics are caught inside the worker"))
                .collect::<Vec<_>>())
        })
        .map_err(|source: io::Error| StrategyError::Spawn {
            strategy: SPEC.name.to_owned(),
            source,
        })?;
        let end = Clock::get().anchor();

        Ok(assemble(start, end, tasks.len(), workers, logs))
    }

    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.job, SPEC.name)?;
        job.check_tasks(tasks)?;
        let workers = job.workers.max(1);
        let rounds = job.workload.as_rounds().map_or(0, |r| r.rounds());
        // What the calling thread publishes before each round: its state, or `None` to stop.
        let current: Mutex<Option<Arc<[u8]>>> = Mutex::new(None);
        let outcomes = Mutex::new(vec![TaskOutcome::Skipped; tasks.len()]);
        let barrier = Barrier::new(workers + 1);

        let start = Clock::get().anchor();
        let mut trace = Trace::start(job, SPEC.name)?;
        let logs = std::thread::scope(|scope| {
            // A thread waits for the word to go before it touches the barrier, so that a
            // failed spawn leaves none of them waiting there for a party that never comes.
            let mut go = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for (worker, range) in chunks(tasks.len(), workers).into_iter().enumerate() {
                let (tx, rx) = mpsc::channel::<()>();
                let (current, outcomes, barrier) = (&current, &outcomes, &barrier);
                let mut log = WorkerLog::new(worker, range.len() * rounds);
                let spawned = std::thread::Builder::new()
                    .name(format!("pb-threads-{worker}"))
                    .spawn_scoped(scope, move || {
                        if rx.recv().is_err() {
                            return log;
                        }
                        loop {
                            barrier.wait();
                            let Some(state) = lock(current).clone() else {
                                return log;
                            };
                            for index in range.clone() {
                                log.run(job, Some(&state), index, &tasks[index], &mut []);
                            }
                            let mut all = lock(outcomes);
                            for (index, outcome) in log.drain_outcomes() {
                                all[index as usize] = outcome;
                            }
                            drop(all);
                            barrier.wait();
                        }
                    });
                match spawned {
                    Ok(handle) => {
                        go.push(tx);
                        handles.push(handle);
                    }
                    Err(source) => {
                        return Err(StrategyError::Spawn {
                            strategy: SPEC.name.to_owned(),
                            source,
                        })
                    }
                }
            }
            for tx in go {
                let _ = tx.send(());
            }
            loop {
                *lock(&current) = Some(trace.state().clone());
                barrier.wait();
                barrier.wait();
                if !trace.close(&partials(&lock(&outcomes)), 0) {
                    break;
                }
            }
            *lock(&current) = None;
            barrier.wait();
            Ok(handles
                .into_iter()
                .map(|h| h.join().expect("task panics are caught inside the worker"))
                .collect::<Vec<_>>())
        })?;
        let end = Clock::get().anchor();

        let mut report = assemble(start, end, tasks.len(), workers, logs);
        report.outcomes = outcomes
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        report.rounds = trace.finish();
        Ok(report)
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

/// Locks a mutex that a panic cannot have left half-written (tasks' panics are caught inside
/// them).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_are_contiguous_and_balanced() {
        assert_eq!(chunks(7, 3), [0..2, 2..4, 4..7]);
        assert_eq!(chunks(2, 3), [0..0, 0..1, 1..2]);
        assert_eq!(chunks(6, 2), [0..3, 3..6]);
    }
}
