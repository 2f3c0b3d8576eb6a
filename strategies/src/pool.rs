//! `thread-pool`: a fixed pool of threads created in setup, fed through a channel queue —
//! dynamic dispatch, the `ThreadPoolExecutor` pattern.
//!
//! The queue is a `crossbeam-channel` (a multi-consumer channel; std's `mpsc` would need a
//! mutex around its receiver). A run hands each worker its log, submits every task and then one
//! end marker per worker; an idle worker takes the next item, so the tasks balance themselves,
//! and a worker that takes an end marker has nothing left to do and returns its log.
//!
//! The pool has one thread per worker, or with `threads=executor` as many as Python's
//! `ThreadPoolExecutor` starts by default, `min(32, cores + 4)` with the cell's workers as its
//! cores: the pool people run for IO, where threads wait more than they compute.

use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{unbounded, Receiver, Sender};
use parbench_workloads::{ParamKind, ParamSpec, Params, Task};

use crate::rounds;
use crate::span::Clock;
use crate::worker::{assemble, set_up, RunShared, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown};

/// Registration of `thread-pool`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "thread-pool",
    description: "a fixed pool of threads and a channel queue of tasks: dynamic dispatch (ThreadPoolExecutor)",
    params: &[ParamSpec {
        name: "threads",
        help: "workers: a thread per worker; executor: min(32, workers + 4), ThreadPoolExecutor's default for IO",
        kind: ParamKind::Choice {
            default: "workers",
            options: &["workers", "executor"],
        },
    }],
    uses_workers: true,
    spawns_processes: false,
    build,
};

fn build(params: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    let threads = match params.text("threads") {
        "executor" => Threads::Executor,
        _ => Threads::Workers,
    };
    Ok(Box::new(ThreadPool::new(threads)))
}

/// How many threads a pool has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Threads {
    /// One per worker.
    #[default]
    Workers,
    /// `min(32, workers + 4)`: `ThreadPoolExecutor`'s default, the cell's workers standing
    /// for the cores it counts.
    Executor,
}

impl Threads {
    /// The threads of a pool for `workers` workers.
    ///
    /// ```
    /// use parbench_strategies::pool::Threads;
    ///
    /// assert_eq!(Threads::Workers.count(2), 2);
    /// assert_eq!(Threads::Executor.count(2), 6);
    /// assert_eq!(Threads::Executor.count(64), 32);
    /// ```
    pub fn count(self, workers: usize) -> usize {
        let workers = workers.max(1);
        match self {
            Threads::Workers => workers,
            Threads::Executor => (workers + 4).min(32),
        }
    }
}

enum Item {
    Task(u32),
    End,
}

struct Begin {
    run: Arc<RunShared>,
    log: WorkerLog,
}

struct Pool {
    job: Job,
    begin: Vec<Sender<Begin>>,
    queue: Sender<Item>,
    done: Receiver<WorkerLog>,
    threads: Vec<JoinHandle<()>>,
}

/// A fixed pool of worker threads.
#[derive(Default)]
pub struct ThreadPool {
    threads: Threads,
    pool: Option<Pool>,
    output: Vec<u8>,
}

impl ThreadPool {
    /// A pool of `threads` threads, started in setup.
    pub fn new(threads: Threads) -> Self {
        Self {
            threads,
            pool: None,
            output: Vec::new(),
        }
    }
}

fn work(begin: Receiver<Begin>, queue: Receiver<Item>, done: Sender<WorkerLog>) {
    // The pool lives until teardown drops the senders.
    while let Ok(Begin { run, mut log }) = begin.recv() {
        while let Ok(Item::Task(index)) = queue.recv() {
            // SAFETY: each task index is queued once per run, so one worker runs it.
            unsafe { run.run_task(index as usize, &mut log) };
        }
        drop(run);
        if done.send(log).is_err() {
            return;
        }
    }
}

impl Strategy for ThreadPool {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let (queue, tasks) = unbounded();
        let (done_tx, done) = unbounded();
        let mut begin = Vec::new();
        let mut threads = Vec::new();
        for worker in 0..self.threads.count(job.workers) {
            let (tx, rx) = unbounded();
            let (tasks, done_tx) = (tasks.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("pb-pool-{worker}"))
                .spawn(move || work(rx, tasks, done_tx));
            match spawned {
                Ok(handle) => {
                    begin.push(tx);
                    threads.push(handle);
                }
                Err(source) => {
                    drop(begin);
                    threads.into_iter().for_each(|t| {
                        let _ = t.join();
                    });
                    return Err(StrategyError::Spawn {
                        strategy: SPEC.name.to_owned(),
                        source,
                    });
                }
            }
        }
        self.output = vec![0; job.output_bytes()];
        self.pool = Some(Pool {
            job: job.clone(),
            begin,
            queue,
            done,
            threads,
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.pass(tasks, None)
    }

    /// Every round submits its tasks to the queue and waits for all of them: a join per round,
    /// as `executor.map` once per iteration does.
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
        if let Some(pool) = self.pool.take() {
            drop(pool.begin);
            for thread in pool.threads {
                let _ = thread.join();
            }
        }
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl ThreadPool {
    /// Every task once through the queue, waiting for all; under `state` for a round.
    fn pass(
        &mut self,
        tasks: &[Task],
        state: Option<Arc<[u8]>>,
    ) -> Result<RunReport, StrategyError> {
        let pool = set_up(&self.pool, SPEC.name)?;
        pool.job.check_tasks(tasks)?;
        let workers = pool.begin.len();
        let run = Arc::new(RunShared::with_state(
            &pool.job,
            tasks,
            &mut self.output,
            state,
        ));
        let logs: Vec<WorkerLog> = (0..workers)
            .map(|w| WorkerLog::new(w, tasks.len()))
            .collect();
        let lost = || StrategyError::Spawn {
            strategy: SPEC.name.to_owned(),
            source: io::Error::other("a pool thread is gone"),
        };

        let start = Clock::get().anchor();
        for (begin, log) in pool.begin.iter().zip(logs) {
            begin
                .send(Begin {
                    run: run.clone(),
                    log,
                })
                .map_err(|_| lost())?;
        }
        for index in 0..tasks.len() {
            pool.queue
                .send(Item::Task(index as u32))
                .map_err(|_| lost())?;
        }
        for _ in 0..workers {
            pool.queue.send(Item::End).map_err(|_| lost())?;
        }
        let logs = (0..workers)
            .map(|_| pool.done.recv().map_err(|_| lost()))
            .collect::<Result<Vec<_>, _>>()?;
        let end = Clock::get().anchor();

        Ok(assemble(start, end, tasks.len(), workers, logs))
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
