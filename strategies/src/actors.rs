//! `actors`: `ractor` actors — N worker actors with their own state, and a coordinator that
//! hands out tasks by message, the Ray-actor pattern.
//!
//! Dispatch is pull-based: an idle worker tells the coordinator it is ready and gets the next
//! task in reply, so the tasks balance themselves. Each worker keeps its log of spans in its own
//! state and hands it back when the coordinator says the run is over. The actors run on a tokio
//! runtime with N worker threads built in setup; teardown stops every actor and joins it.
//!
//! A workload of rounds runs as Ray's actors do: each worker actor is handed its partition of
//! the tasks once and keeps it in its state; every round the driver sends each actor the
//! round's state alone, and each replies with its partition's partials.

use std::sync::Arc;

use parbench_workloads::{Params, Task};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::rounds::{partials, Trace};
use crate::span::Clock;
use crate::worker::{assemble, set_up, RunShared, WorkerLog};
use crate::{Job, RunReport, Strategy, StrategyError, StrategySpec, TaskOutcome, Teardown};

/// Registration of `actors`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "actors",
    description: "ractor actors: N stateful workers pull tasks from a coordinator by message",
    params: &[],
    uses_workers: true,
    spawns_processes: false,
    build,
};

fn build(_: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Actors::default()))
}

/// Messages to a worker actor.
enum WorkerMsg {
    /// A run starts: its shared state and this worker's empty log.
    Begin(Arc<RunShared>, WorkerLog),
    /// Run task number `index` of the run.
    Work(usize),
    /// No task is left: hand the log back.
    Finish,
    /// Keep this partition of a run of rounds and log its spans.
    Partition(Partition),
    /// Map the partition under this round's state; reply with its outcomes.
    Round(Arc<[u8]>, oneshot::Sender<Vec<(u32, TaskOutcome)>>),
    /// The rounds are over: hand the partition's log back.
    Release(oneshot::Sender<WorkerLog>),
}

/// Messages to the coordinator.
enum CoordinatorMsg {
    /// The workers it hands tasks to.
    Workers(Vec<ActorRef<WorkerMsg>>),
    /// Run a task list; reply with every worker's log.
    Run {
        run: Arc<RunShared>,
        logs: Vec<WorkerLog>,
        reply: oneshot::Sender<Vec<WorkerLog>>,
    },
    /// Worker `index` is idle.
    Ready(usize),
    /// A worker's log, at the end of a run.
    Finished(WorkerLog),
}

struct Worker;

struct WorkerState {
    index: usize,
    coordinator: ActorRef<CoordinatorMsg>,
    run: Option<(Arc<RunShared>, WorkerLog)>,
    partition: Option<Partition>,
}

/// A worker actor's share of a run of rounds, kept in its state from round to round.
struct Partition {
    job: Job,
    /// Its tasks, with their positions in the run.
    tasks: Vec<(usize, Task)>,
    log: WorkerLog,
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = (usize, ActorRef<CoordinatorMsg>);

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (index, coordinator): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WorkerState {
            index,
            coordinator,
            run: None,
            partition: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WorkerMsg::Begin(run, log) => state.run = Some((run, log)),
            WorkerMsg::Work(index) => {
                if let Some((run, log)) = &mut state.run {
                    // SAFETY: the coordinator hands each index out once per run.
                    unsafe { run.run_task(index, log) };
                }
            }
            WorkerMsg::Finish => {
                if let Some((_, log)) = state.run.take() {
                    state
                        .coordinator
                        .send_message(CoordinatorMsg::Finished(log))?;
                }
                return Ok(());
            }
            WorkerMsg::Partition(partition) => {
                state.partition = Some(partition);
                return Ok(());
            }
            WorkerMsg::Round(round, reply) => {
                if let Some(Partition { job, tasks, log }) = &mut state.partition {
                    for (index, task) in tasks.iter() {
                        log.run(job, Some(&round), *index, task, &mut []);
                    }
                    // The driver may have given up on the run; the outcomes then go nowhere.
                    let _ = reply.send(log.drain_outcomes().collect());
                }
                return Ok(());
            }
            WorkerMsg::Release(reply) => {
                if let Some(partition) = state.partition.take() {
                    let _ = reply.send(partition.log);
                }
                return Ok(());
            }
        }
        state
            .coordinator
            .send_message(CoordinatorMsg::Ready(state.index))?;
        Ok(())
    }
}

struct Coordinator;

#[derive(Default)]
struct CoordinatorState {
    workers: Vec<ActorRef<WorkerMsg>>,
    run: Option<Arc<RunShared>>,
    next: usize,
    finished: Vec<WorkerLog>,
    reply: Option<oneshot::Sender<Vec<WorkerLog>>>,
}

impl Actor for Coordinator {
    type Msg = CoordinatorMsg;
    type State = CoordinatorState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(CoordinatorState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CoordinatorMsg::Workers(workers) => state.workers = workers,
            CoordinatorMsg::Run { run, logs, reply } => {
                state.next = 0;
                state.finished.clear();
                state.reply = Some(reply);
                for (worker, log) in state.workers.iter().zip(logs) {
                    worker.send_message(WorkerMsg::Begin(run.clone(), log))?;
                }
                state.run = Some(run);
            }
            CoordinatorMsg::Ready(index) => {
                let Some(run) = &state.run else {
                    return Ok(());
                };
                let worker = &state.workers[index];
                if state.next < run.tasks.len() && !run.cancel.is_set() {
                    worker.send_message(WorkerMsg::Work(state.next))?;
                    state.next += 1;
                } else {
                    worker.send_message(WorkerMsg::Finish)?;
                }
            }
            CoordinatorMsg::Finished(log) => {
                state.finished.push(log);
                if state.finished.len() == state.workers.len() {
                    state.run = None;
                    if let Some(reply) = state.reply.take() {
                        // The run may have been abandoned; its logs then go nowhere.
                        let _ = reply.send(std::mem::take(&mut state.finished));
                    }
                }
            }
        }
        Ok(())
    }
}

struct System {
    job: Job,
    runtime: Runtime,
    coordinator: ActorRef<CoordinatorMsg>,
    workers: Vec<ActorRef<WorkerMsg>>,
    handles: Vec<JoinHandle<()>>,
}

/// Worker actors and their coordinator.
#[derive(Default)]
pub struct Actors {
    system: Option<System>,
    output: Vec<u8>,
}

fn spawn_error(e: impl std::fmt::Display) -> StrategyError {
    StrategyError::Spawn {
        strategy: SPEC.name.to_owned(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Strategy for Actors {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let workers = job.workers.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("pb-actors")
            .enable_all()
            .build()
            .map_err(|source| StrategyError::Spawn {
                strategy: SPEC.name.to_owned(),
                source,
            })?;
        let spawned = runtime.block_on(async {
            let (coordinator, handle) = Actor::spawn(None, Coordinator, ()).await?;
            let mut handles = vec![handle];
            let mut refs = Vec::with_capacity(workers);
            for index in 0..workers {
                let (worker, handle) =
                    Actor::spawn(None, Worker, (index, coordinator.clone())).await?;
                refs.push(worker);
                handles.push(handle);
            }
            coordinator
                .send_message(CoordinatorMsg::Workers(refs.clone()))
                .map_err(|e| ractor::SpawnErr::StartupFailed(e.to_string().into()))?;
            Ok::<_, ractor::SpawnErr>((coordinator, refs, handles))
        });
        let (coordinator, refs, handles) = spawned.map_err(spawn_error)?;
        self.output = vec![0; job.output_bytes()];
        self.system = Some(System {
            job: job.clone(),
            runtime,
            coordinator,
            workers: refs,
            handles,
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let system = set_up(&self.system, SPEC.name)?;
        system.job.check_tasks(tasks)?;
        let workers = system.workers.len();
        let run = Arc::new(RunShared::new(&system.job, tasks, &mut self.output));
        let logs: Vec<WorkerLog> = (0..workers)
            .map(|w| WorkerLog::new(w, tasks.len()))
            .collect();
        let broken = |message: &str| StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message: message.to_owned(),
        };

        let start = Clock::get().anchor();
        let (reply, done) = oneshot::channel();
        system
            .coordinator
            .send_message(CoordinatorMsg::Run { run, logs, reply })
            .map_err(|_| broken("the coordinator is gone"))?;
        let logs = system
            .runtime
            .block_on(done)
            .map_err(|_| broken("the coordinator stopped before the run ended"))?;
        let end = Clock::get().anchor();

        Ok(assemble(start, end, tasks.len(), workers, logs))
    }

    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let system = set_up(&self.system, SPEC.name)?;
        let job = &system.job;
        job.check_tasks(tasks)?;
        let workers = system.workers.len();
        let rounds = job.workload.as_rounds().map_or(0, |r| r.rounds());
        let gone = || StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message: "a worker actor is gone".to_owned(),
        };

        let start = Clock::get().anchor();
        let mut trace = Trace::start(job, SPEC.name)?;
        let mut outcomes = vec![TaskOutcome::Skipped; tasks.len()];
        let logs = system.runtime.block_on(async {
            // Each actor keeps a contiguous partition for the whole run.
            for (w, worker) in system.workers.iter().enumerate() {
                let range = w * tasks.len() / workers..(w + 1) * tasks.len() / workers;
                let partition = Partition {
                    job: job.clone(),
                    tasks: range.clone().map(|i| (i, tasks[i].clone())).collect(),
                    log: WorkerLog::new(w, range.len() * rounds),
                };
                worker
                    .send_message(WorkerMsg::Partition(partition))
                    .map_err(|_| gone())?;
            }
            loop {
                let mut replies = Vec::with_capacity(workers);
                for worker in &system.workers {
                    let (reply, done) = oneshot::channel();
                    worker
                        .send_message(WorkerMsg::Round(trace.state().clone(), reply))
                        .map_err(|_| gone())?;
                    replies.push(done);
                }
                for done in replies {
                    for (index, outcome) in done.await.map_err(|_| gone())? {
                        outcomes[index as usize] = outcome;
                    }
                }
                if !trace.close(&partials(&outcomes), 0) {
                    break;
                }
            }
            let mut logs = Vec::with_capacity(workers);
            for worker in &system.workers {
                let (reply, done) = oneshot::channel();
                worker
                    .send_message(WorkerMsg::Release(reply))
                    .map_err(|_| gone())?;
                logs.push(done.await.map_err(|_| gone())?);
            }
            Ok::<_, StrategyError>(logs)
        })?;
        let end = Clock::get().anchor();

        let mut report = assemble(start, end, tasks.len(), workers, logs);
        report.outcomes = outcomes;
        report.rounds = trace.finish();
        Ok(report)
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        if let Some(system) = self.system.take() {
            for worker in &system.workers {
                worker.stop(None);
            }
            system.coordinator.stop(None);
            system.runtime.block_on(async {
                for handle in system.handles {
                    let _ = handle.await;
                }
            });
            drop(system.runtime);
        }
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl Drop for Actors {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
