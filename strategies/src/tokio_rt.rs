//! `tokio`: an async runtime with N worker threads built in setup.
//!
//! CPU work goes through `spawn_blocking` by default, one blocking call per task, with the
//! blocking pool capped at N threads: the idiom tokio documents for CPU-bound work. With
//! `blocking = "tokio"` the pool has tokio's own cap (512 threads), as a program that calls
//! blocking code from async code without configuring its runtime has: the way tokio overlaps
//! blocking waits, with a thread for each. With
//! `cpu = "block-in-place"`, N async lanes run their tasks inside `block_in_place` on the worker
//! threads instead; each call hands the worker's other duties to another thread, so measure
//! both before choosing.
//!
//! IO work runs natively: a workload with an async path (`http`) is driven by its session on
//! the runtime's reactor, with at most `in_flight` requests in flight — the aiohttp + uvloop
//! case. Tasks are pulled by `min(in_flight, tasks)` async lanes; each lane runs one task at a
//! time and its requests run concurrently, so a lane's spans never overlap and the overhead
//! decomposition holds with the lanes as its workers.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parbench_workloads::{AsyncSession, ParamKind, ParamSpec, Params, Task};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::exec::execute_async;
use crate::rounds;
use crate::span::Clock;
use crate::worker::{assemble, set_up, PerWorker, RunShared, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown};

/// Registration of `tokio`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "tokio",
    description: "a tokio runtime: CPU work via spawn_blocking, IO work natively async",
    params: &[
        ParamSpec {
            name: "in_flight",
            help: "requests in flight at most, on the async IO path",
            kind: ParamKind::Int {
                default: 256,
                min: 1,
                max: 100_000,
            },
        },
        ParamSpec {
            name: "cpu",
            help: "how CPU work leaves the async workers",
            kind: ParamKind::Choice {
                default: "spawn-blocking",
                options: &["spawn-blocking", "block-in-place"],
            },
        },
        ParamSpec {
            name: "blocking",
            help: "the blocking pool's threads: workers, or tokio's default cap (512)",
            kind: ParamKind::Choice {
                default: "workers",
                options: &["workers", "tokio"],
            },
        },
    ],
    uses_workers: true,
    spawns_processes: false,
    build,
};

fn build(params: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Tokio {
        in_flight: params.int("in_flight") as usize,
        cpu: match params.text("cpu") {
            "block-in-place" => CpuPath::BlockInPlace,
            _ => CpuPath::SpawnBlocking,
        },
        tokio_blocking_pool: params.text("blocking") == "tokio",
        state: None,
        output: Vec::new(),
    }))
}

thread_local! {
    /// This blocking thread's worker index, once it ran a task.
    static BLOCKING_WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

struct State {
    job: Job,
    runtime: Runtime,
    session: Option<Arc<dyn AsyncSession>>,
    /// Hands out worker indices to blocking threads as they run their first task.
    blocking_threads: Arc<AtomicUsize>,
}

/// How CPU work leaves the runtime's async workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CpuPath {
    /// One `spawn_blocking` call per task, on a blocking pool capped at N threads.
    SpawnBlocking,
    /// N lanes whose tasks run inside `block_in_place` on the worker threads.
    BlockInPlace,
}

/// The cap tokio puts on its blocking pool unless told otherwise.
const TOKIO_BLOCKING_THREADS: usize = 512;

/// A tokio runtime.
pub struct Tokio {
    in_flight: usize,
    cpu: CpuPath,
    /// Whether the blocking pool has tokio's own cap rather than one thread per worker.
    tokio_blocking_pool: bool,
    state: Option<State>,
    output: Vec<u8>,
}

/// A CPU run: the shared run, one log per blocking thread, and whether a thread beyond the
/// cap showed up.
struct BlockingRun {
    run: RunShared,
    logs: PerWorker<WorkerLog>,
    counter: Arc<AtomicUsize>,
    overflow: AtomicBool,
}

impl BlockingRun {
    fn task(&self, index: usize) {
        let worker = BLOCKING_WORKER.with(|slot| {
            slot.get().unwrap_or_else(|| {
                let index = self.counter.fetch_add(1, Ordering::Relaxed);
                slot.set(Some(index));
                index
            })
        });
        if worker >= self.logs.len() {
            self.overflow.store(true, Ordering::Relaxed);
            return;
        }
        // SAFETY: a blocking thread runs one closure at a time and owns index `worker` alone;
        // each task index is spawned once.
        unsafe { self.run.run_task(index, self.logs.get(worker)) };
    }
}

/// A run spread over lanes: async tasks that each take the next task index until none is
/// left, so a lane's spans never overlap.
struct LaneRun {
    run: RunShared,
    next: AtomicUsize,
    in_flight: Semaphore,
}

impl LaneRun {
    /// The next task to run, unless every task is taken or the run was cancelled.
    fn take(&self) -> Option<usize> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index < self.run.tasks.len() && !self.run.cancel.is_set()).then_some(index)
    }

    /// IO work: each task's requests run concurrently through the async session.
    async fn io_lane(
        self: Arc<Self>,
        session: Arc<dyn AsyncSession>,
        mut log: WorkerLog,
    ) -> WorkerLog {
        while let Some(index) = self.take() {
            let task = &self.run.tasks[index];
            // SAFETY: `take` hands each index out once.
            let out = unsafe { self.run.output_of(index) };
            let start = log.ticks();
            let outcome =
                execute_async(&self.run.job, session.as_ref(), task, out, &self.in_flight).await;
            let end = log.ticks();
            if log.record(index, task, start, end, outcome) {
                self.run.cancel.on_failure(self.run.job.policy);
            }
        }
        log
    }

    /// CPU work on the worker thread itself, which `block_in_place` hands over to a new
    /// thread for the duration.
    async fn block_in_place_lane(self: Arc<Self>, mut log: WorkerLog) -> WorkerLog {
        while let Some(index) = self.take() {
            // SAFETY: `take` hands each index out once.
            tokio::task::block_in_place(|| unsafe { self.run.run_task(index, &mut log) });
        }
        log
    }
}

impl Tokio {
    /// The blocking pool's cap for `workers` workers.
    fn blocking_threads(&self, workers: usize) -> usize {
        if self.tokio_blocking_pool {
            TOKIO_BLOCKING_THREADS
        } else {
            workers
        }
    }
}

impl Strategy for Tokio {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let workers = job.workers.max(1);
        let names = Arc::new(AtomicUsize::new(0));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .max_blocking_threads(self.blocking_threads(workers))
            // Blocking threads must live as long as the runtime: their indices are the
            // workers of the spans.
            .thread_keep_alive(Duration::from_secs(24 * 3600))
            .thread_name_fn(move || format!("pb-tokio-{}", names.fetch_add(1, Ordering::Relaxed)))
            .enable_all()
            .build()
            .map_err(|source| StrategyError::Spawn {
                strategy: SPEC.name.to_owned(),
                source,
            })?;
        let session = match job.workload.as_async() {
            // Opened inside the runtime, so its connections belong to this runtime's reactor.
            Some(workload) => Some(runtime.block_on(async { workload.session() })?),
            None => None,
        };
        self.output = vec![0; job.output_bytes()];
        self.state = Some(State {
            job: job.clone(),
            runtime,
            session,
            blocking_threads: Arc::new(AtomicUsize::new(0)),
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.pass(tasks, None)
    }

    /// Every round hands its tasks to the CPU path (by default one `spawn_blocking` each) and
    /// awaits them all before the reduction.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = set_up(&self.state, SPEC.name)?.job.clone();
        rounds::drive(&job, tasks, SPEC.name, |state| {
            self.pass(tasks, Some(state))
        })
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        if let Some(state) = self.state.take() {
            // The session's connections belong to the runtime: close them first.
            drop(state.session);
            // Dropping the runtime stops its tasks and joins its threads.
            drop(state.runtime);
        }
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl Tokio {
    /// Every task once, all awaited; under `round` for a round of a workload of rounds, which
    /// is CPU work whatever async path the workload has.
    fn pass(
        &mut self,
        tasks: &[Task],
        round: Option<Arc<[u8]>>,
    ) -> Result<RunReport, StrategyError> {
        let state = set_up(&self.state, SPEC.name)?;
        state.job.check_tasks(tasks)?;
        let workers = state.job.workers.max(1);
        let session = state.session.as_ref().filter(|_| round.is_none());
        let run = RunShared::with_state(&state.job, tasks, &mut self.output, round);
        let broken = |message: String| StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message,
        };

        let lanes = match (session, self.cpu) {
            (Some(_), _) => self.in_flight.min(tasks.len()).max(1),
            (None, CpuPath::BlockInPlace) => workers,
            (None, CpuPath::SpawnBlocking) => 0,
        };
        if lanes > 0 {
            let logs: Vec<WorkerLog> = (0..lanes).map(|l| WorkerLog::new(l, tasks.len())).collect();
            let shared = Arc::new(LaneRun {
                run,
                next: AtomicUsize::new(0),
                in_flight: Semaphore::new(self.in_flight),
            });
            let start = Clock::get().anchor();
            let logs = state.runtime.block_on(async {
                let mut set = JoinSet::new();
                for log in logs {
                    match session {
                        Some(session) => set.spawn(shared.clone().io_lane(session.clone(), log)),
                        None => set.spawn(shared.clone().block_in_place_lane(log)),
                    };
                }
                let mut done = Vec::with_capacity(lanes);
                while let Some(log) = set.join_next().await {
                    done.push(log.map_err(|e| broken(format!("a lane failed: {e}")))?);
                }
                Ok::<_, StrategyError>(done)
            })?;
            let end = Clock::get().anchor();
            return Ok(assemble(start, end, tasks.len(), lanes, logs));
        }

        // A log for each thread the pool may start; with tokio's cap, sized for a share of
        // the tasks (a log grows if its thread runs more).
        let pool = self.blocking_threads(workers);
        let capacity = if pool > workers {
            tasks.len().div_ceil(pool.min(tasks.len()).max(1))
        } else {
            tasks.len()
        };
        let shared = Arc::new(BlockingRun {
            run,
            logs: PerWorker::new((0..pool).map(|w| WorkerLog::new(w, capacity))),
            counter: state.blocking_threads.clone(),
            overflow: AtomicBool::new(false),
        });
        let start = Clock::get().anchor();
        state.runtime.block_on(async {
            let mut set = JoinSet::new();
            for index in 0..tasks.len() {
                let shared = shared.clone();
                set.spawn_blocking(move || shared.task(index));
            }
            while let Some(joined) = set.join_next().await {
                joined.map_err(|e| broken(format!("a blocking task failed: {e}")))?;
            }
            Ok::<_, StrategyError>(())
        })?;
        let end = Clock::get().anchor();
        let shared = Arc::into_inner(shared)
            .ok_or_else(|| broken("a blocking task outlived the run".to_owned()))?;
        if shared.overflow.load(Ordering::Relaxed) {
            return Err(broken(format!(
                "more than {pool} blocking threads ran tasks"
            )));
        }
        // The lanes are the blocking threads started so far (at least the workers).
        let lanes = shared.counter.load(Ordering::Relaxed).clamp(workers, pool);
        let logs = shared.logs.into_inner().take(lanes);
        Ok(assemble(start, end, tasks.len(), lanes, logs))
    }
}

impl Drop for Tokio {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
