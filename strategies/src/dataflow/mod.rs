//! `timely`: timely-dataflow, the Rust engineer's distributed dataflow engine, in three modes.
//!
//! - `threads`: one process, N worker threads (`Config::process(N)`); tasks write their output
//!   in place, as with the other thread strategies.
//! - `processes`: N worker processes on this machine (the binary again, `current_exe()
//!   timely-node`) forming a timely cluster over loopback TCP, each listening on a port the
//!   kernel chose free when it bound it.
//! - `cluster`: the same across machines, from a hostfile of `host:port` lines in process
//!   order: this process starts node 0, the user starts `parbench timely-node --hostfile FILE
//!   --process I` on the machine of each other line.
//!
//! Every mode runs the same program (`program.rs`): a long-lived dataflow whose epochs are the
//! runs. Worker 0 feeds a run's tasks in, the exchange spreads them over the workers by task
//! id, each worker runs its tasks, and the records (span, outcome and — between processes —
//! the task's output bytes) are exchanged back to worker 0, which ends the run when the probe
//! passes the epoch. What crosses between processes: each task's descriptor (id and item
//! range, 20 bytes) out, its record and output bytes back, plus timely's progress messages;
//! the input itself never travels — each process generates it from the workload's recipe and
//! seed while the cluster forms. Forming the cluster (spawning, connecting, generating) is
//! setup, not run.

mod cluster;
mod node;
mod program;
mod wire;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use parbench_workloads::{ParamKind, ParamSpec, Params, Task};
use timely::communication::WorkerGuards;
use timely::execute::execute;

pub use cluster::Cluster;
pub use node::{serve_node, NodeArgs};
pub use wire::NODE_COMMAND;

use self::program::{Assign, Command, Done, Driver, Execute, Gathered, Reducer, RoundDone};
use crate::worker::{set_up, RunShared};
use crate::Teardown;
use crate::{now_ns, Job, RunReport, Span, Strategy, StrategyError, StrategySpec, TaskOutcome};

/// Registration of `timely`.
pub const SPEC: StrategySpec = StrategySpec {
    name: "timely",
    description: "timely-dataflow: tasks exchanged by id over its workers, records gathered at worker 0; on threads, on processes over loopback TCP, or as a cluster from a hostfile",
    params: &[
        ParamSpec {
            name: "mode",
            help: "where the workers run: threads of this process, processes on this machine, or a cluster from `hostfile`",
            kind: ParamKind::Choice {
                default: "threads",
                options: &["threads", "processes", "cluster"],
            },
        },
        ParamSpec {
            name: "hostfile",
            help: "for mode=cluster: a file of `host:port` lines, one per process, this machine's node 0 first",
            kind: ParamKind::Text { default: "" },
        },
    ],
    uses_workers: true,
    spawns_processes: true,
    build,
};

fn build(params: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(match params.text("mode") {
        "processes" => Box::new(Cluster::local()),
        "cluster" => Box::new(Cluster::from_hostfile(params.text("hostfile"))?),
        _ => Box::new(Timely::default()),
    })
}

/// `timely` with `mode=threads`: N worker threads in this process.
#[derive(Default)]
pub struct Timely {
    running: Option<Running>,
    output: Vec<u8>,
}

struct Running {
    job: Job,
    runs: mpsc::Sender<Command>,
    done: mpsc::Receiver<Gathered>,
    /// The run in progress, which the workers' tasks write into.
    current: Arc<RwLock<Option<Arc<RunShared>>>>,
    guards: WorkerGuards<()>,
}

/// A task run in place, into the shared output buffer (under the round's `state` for a round).
fn run_in_place(
    current: &RwLock<Option<Arc<RunShared>>>,
    assign: &Assign,
    lane: u32,
    state: Option<&[u8]>,
) -> Done {
    let run = current
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let index = assign.index as usize;
    let Some(run) = run.filter(|run| !run.cancel.is_set() && index < run.tasks.len()) else {
        return Done::skipped(assign, lane);
    };
    // SAFETY: the exchange hands each task of the run to exactly one worker, once.
    let out = unsafe { run.output_of(index) };
    let start_ns = now_ns();
    let outcome = crate::exec::execute(&run.job, state, &run.tasks[index], out);
    let end_ns = now_ns();
    if matches!(outcome, TaskOutcome::Failed { .. }) {
        run.cancel.on_failure(run.job.policy);
    }
    Done {
        index: assign.index,
        lane,
        start_ns,
        end_ns,
        outcome,
        output: Vec::new(),
    }
}

/// The run's report from the records gathered at worker 0.
pub(crate) fn report(
    tasks: &[Task],
    records: &[Done],
    (start_ns, end_ns): (u64, u64),
    lanes: usize,
) -> RunReport {
    let mut outcomes: Vec<TaskOutcome> = tasks.iter().map(|_| TaskOutcome::Skipped).collect();
    let mut spans = Vec::with_capacity(records.len());
    for record in records {
        let index = record.index as usize;
        if index >= tasks.len() {
            continue;
        }
        if record.outcome != TaskOutcome::Skipped {
            spans.push(Span {
                worker: record.lane,
                task: tasks[index].id,
                start_ns: record.start_ns,
                end_ns: record.end_ns,
            });
        }
        outcomes[index] = record.outcome.clone();
    }
    RunReport {
        start_ns,
        end_ns,
        lanes,
        outcomes,
        spans,
        ..RunReport::default()
    }
}

impl Strategy for Timely {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let workers = job.workers.max(1);
        let (runs, runs_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let driver = Mutex::new(Some(Driver {
            runs: runs_rx,
            done: done_tx,
        }));
        let current: Arc<RwLock<Option<Arc<RunShared>>>> = Arc::default();
        let shared = current.clone();
        let (workload, input) = (job.workload.clone(), job.input.clone());
        let guards = execute(timely::Config::process(workers), move |worker| {
            let current = shared.clone();
            let execute: Execute = Box::new(move |assign: &Assign, lane, state| {
                run_in_place(&current, assign, lane, state)
            });
            let driver = (worker.index() == 0)
                .then(|| driver.lock().unwrap_or_else(PoisonError::into_inner).take())
                .flatten();
            let reducer = Reducer {
                workload: workload.clone(),
                input: input.clone(),
            };
            program::work(worker, execute, driver, &reducer);
        })
        .map_err(|e| StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message: format!("timely could not start: {e}"),
        })?;
        self.output = vec![0; job.output_bytes()];
        self.running = Some(Running {
            job: job.clone(),
            runs,
            done,
            current,
            guards,
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.drive(tasks, false)
    }

    /// The rounds run in timely's loop scope (see `program.rs`): each worker keeps its
    /// partition in its map operator, and the state goes around the loop once a round.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.drive(tasks, true)
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        if let Some(running) = self.running.take() {
            // Closing the run channel ends worker 0's loop, which closes its input: the
            // dataflow completes and every worker thread returns.
            drop(running.runs);
            drop(running.done);
            for result in running.guards.join() {
                result.map_err(|e| StrategyError::Internal {
                    strategy: SPEC.name.to_owned(),
                    message: format!("a timely worker failed: {e}"),
                })?;
            }
        }
        self.output = Vec::new();
        Ok(Teardown::default())
    }
}

impl Timely {
    /// One run: a pass of the tasks, or the workload's rounds over them.
    fn drive(&mut self, tasks: &[Task], rounds: bool) -> Result<RunReport, StrategyError> {
        let running = set_up(&self.running, SPEC.name)?;
        running.job.check_tasks(tasks)?;
        let lost = || StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message: "a timely worker thread is gone".to_owned(),
        };
        let run = Arc::new(RunShared::new(&running.job, tasks, &mut self.output));
        *running
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(run);
        let start_ns = now_ns();
        let command = if rounds {
            Command::Rounds(tasks.to_vec())
        } else {
            Command::Pass(tasks.to_vec())
        };
        running.runs.send(command).map_err(|_| lost())?;
        let gathered = running.done.recv().map_err(|_| lost());
        let end_ns = now_ns();
        // The workers are done with the buffer: the run lends it no longer.
        *running
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let gathered = gathered?;
        let mut report = report(
            tasks,
            &gathered.records,
            (start_ns, end_ns),
            running.job.workers.max(1),
        );
        report.rounds = rounds_of(start_ns, gathered.rounds);
        Ok(report)
    }
}

/// The rounds worker 0 reduced, back to back from the run's start.
pub(crate) fn rounds_of(start_ns: u64, reduced: Vec<RoundDone>) -> Vec<crate::Round> {
    let mut at = start_ns;
    reduced
        .into_iter()
        .map(|round| {
            let start_ns = std::mem::replace(&mut at, round.end_ns);
            crate::Round {
                start_ns,
                end_ns: round.end_ns,
                bytes_moved: 0,
                state: round.state,
            }
        })
        .collect()
}

impl Drop for Timely {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
