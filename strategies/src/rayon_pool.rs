//! `rayon`: work stealing. A dedicated `rayon::ThreadPool` built in setup runs the task list
//! as a parallel iterator.
//!
//! The unit of work is our task (rayon splits the list of tasks, never a task's items), so the
//! granularity stays the run's parameter. The pool's threads are spawned through its
//! `spawn_handler` so that teardown can join them: a dropped rayon pool otherwise lets its
//! threads exit on their own time.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use parbench_workloads::{Params, Task};
use rayon::prelude::*;

use crate::rounds;
use crate::span::Clock;
use crate::worker::{assemble, set_up, PerWorker, RunShared, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown};

/// Registration of `rayon`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "rayon",
    description: "work stealing: a dedicated rayon pool runs the task list as a parallel iterator",
    params: &[],
    uses_workers: true,
    spawns_processes: false,
    build,
};

fn build(_: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Rayon::default()))
}

struct Pool {
    job: Job,
    pool: rayon::ThreadPool,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// A dedicated rayon pool.
#[derive(Default)]
pub struct Rayon {
    pool: Option<Pool>,
    output: Vec<u8>,
}

impl Strategy for Rayon {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let handles = threads.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(job.workers.max(1))
            .spawn_handler(move |thread| {
                let handle = std::thread::Builder::new()
                    .name(format!("pb-rayon-{}", thread.index()))
                    .spawn(move || thread.run())?;
                handles
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .push(handle);
                Ok(())
            })
            .build()
            .map_err(|e| StrategyError::Spawn {
                strategy: SPEC.name.to_owned(),
                source: std::io::Error::other(e),
            })?;
        self.output = vec![0; job.output_bytes()];
        self.pool = Some(Pool {
            job: job.clone(),
            pool,
            threads,
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.pass(tasks, None)
    }

    /// Every round is one parallel iterator over the tasks, joined before the reduction.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.pool, SPEC.name)?.job.clone();
        rounds::drive(&job, tasks, SPEC.name, |state| {
            self.pass(tasks, Some(state))
        })
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        if let Some(Pool { pool, threads, .. }) = self.pool.take() {
            drop(pool);
            let handles = std::mem::take(&mut *threads.lock().unwrap_or_else(|e| e.into_inner()));
            for handle in handles {
                let _ = handle.join();
            }
        }
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl Rayon {
    /// Every task once as a parallel iterator; under `state` for a round.
    fn pass(
        &mut self,
        tasks: &[Task],
        state: Option<Arc<[u8]>>,
    ) -> Result<RunReport, StrategyError> {
        let pool = set_up(&self.pool, SPEC.name)?;
        pool.job.check_tasks(tasks)?;
        let workers = pool.pool.current_num_threads();
        let run = RunShared::with_state(&pool.job, tasks, &mut self.output, state);
        let logs = PerWorker::new((0..workers).map(|w| WorkerLog::new(w, tasks.len())));

        let start = Clock::get().anchor();
        pool.pool.install(|| {
            (0..tasks.len()).into_par_iter().for_each(|index| {
                // Inside `install` every closure runs on one of the pool's threads.
                let worker =
                    rayon::current_thread_index().expect("install runs every closure on the pool");
                // SAFETY: a pool thread runs one closure at a time and tasks never nest, so
                // slot `worker` is used by this thread alone; each index is visited once.
                unsafe { run.run_task(index, logs.get(worker)) };
            });
        });
        let end = Clock::get().anchor();

        Ok(assemble(
            start,
            end,
            tasks.len(),
            workers,
            logs.into_inner(),
        ))
    }
}

impl Drop for Rayon {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
