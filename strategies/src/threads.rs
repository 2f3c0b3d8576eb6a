//! `threads`: `std::thread::scope`, one static contiguous chunk of tasks per thread.
//!
//! No balancing: when the chunks cost different amounts, the run waits for the slowest, and the
//! other workers' tails show it. Threads are spawned by each run (that is the pattern), so
//! their start-up is part of the run's startup overhead.

use std::io;

use parbench_workloads::{Params, Task};

use crate::span::Clock;
use crate::worker::{assemble, set_up, Cancel, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown};

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
                                if log.run(job, first + i, task, &mut out[range]) {
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

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        self.job = None;
        self.output = Vec::new();
        Ok(Teardown::default())
    }
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
