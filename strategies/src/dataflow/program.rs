//! The timely program every worker runs, in every mode: a long-lived dataflow whose epochs are
//! the runs.
//!
//! ```text
//! input (worker 0: the run's tasks, at epoch r)
//!   -> exchange by task id       (tasks spread over the workers)
//!   -> map: run the task         (its span, outcome and, between processes, its output bytes)
//!   -> exchange to worker 0      (gathered)
//!   -> map: collect              (worker 0 keeps the run's records)
//!   -> probe                     (epoch r complete: the run is over)
//! ```
//!
//! Worker 0 is the driver: it receives each run's task list, feeds it in, advances the epoch,
//! steps until the probe passes it and hands the records back. The other workers only keep
//! the dataflow running; they finish when worker 0 closes its input.
//!
//! A job of a workload of rounds builds another dataflow instead, timely's iteration: a loop
//! scope whose inner timestamp is the round, the state going around it through a feedback
//! edge.
//!
//! ```text
//! input (worker 0: the run's tasks and the initial state, at epoch r)
//!   -> enter the loop scope, concat the feedback edge   (round i's state at (r, i))
//!   -> broadcast                                        (every worker gets the state)
//!   -> map: the partition held in the operator, mapped  (its records, partials inside)
//!   -> exchange to worker 0
//!   -> reduce once round i is complete                  (the next state, the round's record)
//!   -> feedback edge, round i + 1                       (until the last round)
//! ```
//!
//! Only the first round's message carries the tasks: each worker's map operator keeps its
//! partition (the tasks whose id falls to it) for the rounds after, and from then on only the
//! state travels out and the records back.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use parbench_workloads::{Input as Items, Task, Workload};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::{Broadcast, Map};
use timely::dataflow::operators::{
    Capability, Concat, ConnectLoop, Enter, Exchange, Input, Leave, LoopVariable, Probe,
};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::order::Product;
use timely::worker::Worker;

use crate::TaskOutcome;

/// A task sent to the worker that runs it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Assign {
    /// The run (the epoch) it belongs to.
    pub run: u64,
    /// Its position in the run's task list.
    pub index: u32,
    /// Its id: what the exchange routes by.
    pub id: u32,
    /// Its first item.
    pub start: u64,
    /// One past its last item.
    pub end: u64,
}

impl Assign {
    pub(crate) fn task(&self) -> Task {
        Task {
            id: self.id,
            items: self.start as usize..self.end as usize,
        }
    }
}

/// A task's record, gathered at worker 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Done {
    /// Its position in the run's task list.
    pub index: u32,
    /// The worker that ran it.
    pub lane: u32,
    /// When it started and ended on the worker's clock (`CLOCK_MONOTONIC`); equal when it
    /// did not run.
    pub start_ns: u64,
    pub end_ns: u64,
    /// How it ended.
    pub outcome: TaskOutcome,
    /// Its part of the output buffer, when the worker does not share the driver's buffer;
    /// serialized as one byte string, not byte by byte.
    #[serde(with = "serde_bytes")]
    pub output: Vec<u8>,
}

impl Done {
    /// The record of a task that did not run (cancelled, or outside the run).
    pub fn skipped(assign: &Assign, lane: u32) -> Self {
        let now = crate::now_ns();
        Self {
            index: assign.index,
            lane,
            start_ns: now,
            end_ns: now,
            outcome: TaskOutcome::Skipped,
            output: Vec::new(),
        }
    }
}

/// Runs one task on worker `lane`: a pass, or its part of a round under the round's state.
pub(crate) type Execute = Box<dyn FnMut(&Assign, u32, Option<&[u8]>) -> Done>;

/// What worker 0 is asked to run.
pub(crate) enum Command {
    /// One pass of the tasks.
    Pass(Vec<Task>),
    /// The workload's rounds over the tasks.
    Rounds(Vec<Task>),
}

/// What worker 0 hands back: every task's record (for rounds, every round's), and for rounds
/// each completed round's end and state.
#[derive(Default)]
pub(crate) struct Gathered {
    pub records: Vec<Done>,
    pub rounds: Vec<RoundDone>,
}

/// A round, as worker 0 reduced it.
pub(crate) struct RoundDone {
    /// When its state was reduced, `CLOCK_MONOTONIC`.
    pub end_ns: u64,
    /// The state after it.
    pub state: Vec<u8>,
}

/// What worker 0 serves: run commands in, the runs' records out.
pub(crate) struct Driver {
    pub runs: Receiver<Command>,
    pub done: Sender<Gathered>,
}

/// A round's message around the loop: the state, and in the first round the run's tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RoundMsg {
    /// Every task of the run in the first round; empty after it.
    pub tasks: Vec<Assign>,
    /// The round's state.
    #[serde(with = "serde_bytes")]
    pub state: Vec<u8>,
}

/// One worker's part of a round, gathered at worker 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Part {
    /// Its tasks' records, partials in their outcomes.
    pub records: Vec<Done>,
    /// The run's task count and the round's state, from worker 0 (which reduces).
    pub round: Option<(u32, serde_bytes::ByteBuf)>,
}

/// What worker 0 reduces with.
pub(crate) struct Reducer {
    /// The workload (of rounds).
    pub workload: Arc<dyn Workload>,
    /// Its input, for the initial state.
    pub input: Arc<Items>,
}

/// Builds the dataflow of the job's workload on `worker` — one pass, or rounds when the
/// workload runs in rounds — and, on worker 0, serves runs until `driver.runs` closes (a
/// command of the other kind gathers nothing). Returns once this worker's part is set up
/// (worker 0: once every run is served); timely keeps stepping the dataflow until it
/// completes.
pub(crate) fn work(
    worker: &mut Worker,
    execute: Execute,
    driver: Option<Driver>,
    reducer: &Reducer,
) {
    let lane = worker.index() as u32;
    let peers = worker.peers() as u32;
    let execute = Rc::new(RefCell::new(execute));
    let in_rounds = reducer.workload.as_rounds().is_some();
    let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Assign>>> = InputHandle::new();
    let probe = ProbeHandle::new();
    let gathered: Rc<RefCell<Vec<Done>>> = Rc::default();
    let sink = gathered.clone();
    let pass = execute.clone();
    if !in_rounds {
        worker.dataflow::<u64, _, _>(|scope| {
            scope
                .input_from(&mut input)
                .container::<Vec<Assign>>()
                .exchange(|a: &Assign| u64::from(a.id))
                .map(move |a| pass.borrow_mut()(&a, lane, None))
                .exchange(|_: &Done| 0)
                .map(move |done| sink.borrow_mut().push(done))
                .probe_with(&probe);
        });
    }

    let mut round_input: InputHandle<u64, CapacityContainerBuilder<Vec<RoundMsg>>> =
        InputHandle::new();
    let round_probe = ProbeHandle::new();
    let rounds_out: Rc<RefCell<Gathered>> = Rc::default();
    let round_sink = rounds_out.clone();
    let workload = reducer.workload.clone();
    if in_rounds {
        worker.dataflow::<u64, _, _>(|scope| {
            let start = scope
                .input_from(&mut round_input)
                .container::<Vec<RoundMsg>>();
            scope
                .iterative::<u32, _, _>(|inner| {
                    let (handle, cycle) = inner.loop_variable::<Vec<RoundMsg>>(1);
                    let reduced = start
                        .enter(inner)
                        .concat(cycle)
                        .broadcast()
                        .map(map_partition(execute, lane, peers))
                        .exchange(|_: &Part| 0)
                        .unary_frontier::<CapacityContainerBuilder<Vec<RoundMsg>>, _, _, _>(
                            Pipeline,
                            "Reduce",
                            // Worker 0's reduction: a round's parts held until the frontier passes
                            // its time, then reduced into the next state, which goes around the
                            // loop unless the round was the last or a task did not succeed.
                            move |_, _| {
                                let mut stash: Vec<(Capability<RoundTime>, Vec<Part>)> = Vec::new();
                                move |(input, frontier), output| {
                                    input.for_each_stamp(|cap, parts| {
                                        // A round's message carries one time.
                                        let Some(time) = cap.stamp().elements().first() else {
                                            return;
                                        };
                                        let held = cap.delayed(time, output.output_index());
                                        let parts = parts.flat_map(|p| p.drain(..));
                                        match stash.iter_mut().find(|(c, _)| c.time() == time) {
                                            Some((_, stashed)) => stashed.extend(parts),
                                            None => stash.push((held, parts.collect())),
                                        }
                                    });
                                    stash.retain_mut(|(cap, parts)| {
                                        if frontier.less_equal(cap.time()) {
                                            return true;
                                        }
                                        let next = reduce(
                                            workload.as_ref(),
                                            cap.time(),
                                            parts,
                                            &round_sink,
                                        );
                                        if let Some(next) = next {
                                            output.session(cap).give(next);
                                        }
                                        false
                                    });
                                }
                            },
                        );
                    reduced.clone().connect_loop(handle);
                    reduced.leave(scope)
                })
                .probe_with(&round_probe);
        });
    }

    let Some(driver) = driver else {
        // Only worker 0 feeds the inputs; the others' inputs must not hold the frontier back.
        input.close();
        round_input.close();
        return;
    };
    let mut epoch = 0;
    while let Ok(command) = driver.runs.recv() {
        let (tasks, rounds) = match command {
            Command::Pass(tasks) => (tasks, false),
            Command::Rounds(tasks) => (tasks, true),
        };
        let assigns = tasks.iter().enumerate().map(|(index, task)| Assign {
            run: epoch,
            index: index as u32,
            id: task.id,
            start: task.items.start as u64,
            end: task.items.end as u64,
        });
        if rounds {
            let state = reducer
                .workload
                .as_rounds()
                .map(|r| r.initial_state(&reducer.input))
                .unwrap_or_default();
            round_input.send(RoundMsg {
                tasks: assigns.collect(),
                state,
            });
        } else {
            assigns.for_each(|assign| input.send(assign));
        }
        epoch += 1;
        input.advance_to(epoch);
        round_input.advance_to(epoch);
        let probe = if rounds { &round_probe } else { &probe };
        while probe.less_than(input.time()) {
            worker.step_or_park(None);
        }
        let result = if rounds {
            std::mem::take(&mut *rounds_out.borrow_mut())
        } else {
            Gathered {
                records: std::mem::take(&mut *gathered.borrow_mut()),
                rounds: Vec::new(),
            }
        };
        if driver.done.send(result).is_err() {
            break;
        }
    }
}

/// The map of a round: the first round's message hands this worker its partition (the tasks
/// whose id falls to it), which the operator keeps; every round maps it under the state.
fn map_partition(
    execute: Rc<RefCell<Execute>>,
    lane: u32,
    peers: u32,
) -> impl FnMut(RoundMsg) -> Part + 'static {
    let mut partition: Vec<Assign> = Vec::new();
    let mut count = 0;
    move |msg: RoundMsg| {
        if !msg.tasks.is_empty() {
            count = msg.tasks.len() as u32;
            partition = msg
                .tasks
                .into_iter()
                .filter(|a| a.id % peers == lane)
                .collect();
        }
        let mut execute = execute.borrow_mut();
        let records = partition
            .iter()
            .map(|a| execute(a, lane, Some(&msg.state)))
            .collect();
        Part {
            records,
            round: (lane == 0).then(|| (count, serde_bytes::ByteBuf::from(msg.state))),
        }
    }
}

type RoundTime = Product<u64, u32>;

/// Reduces one complete round; returns the next round's message unless the rounds are over.
fn reduce(
    workload: &dyn Workload,
    time: &RoundTime,
    parts: &mut Vec<Part>,
    sink: &RefCell<Gathered>,
) -> Option<RoundMsg> {
    let rounds = workload.as_rounds()?;
    let (count, state) = parts.iter_mut().find_map(|p| p.round.take())?;
    let records: Vec<Done> = parts.drain(..).flat_map(|p| p.records).collect();
    let mut partials: Vec<Option<&[u8]>> = vec![None; count as usize];
    for record in &records {
        if let (Some(slot), TaskOutcome::Done { partial, .. }) =
            (partials.get_mut(record.index as usize), &record.outcome)
        {
            *slot = Some(partial.as_slice());
        }
    }
    let next = crate::rounds::next_state(rounds, &state, &partials);
    let mut sink = sink.borrow_mut();
    sink.records.extend(records);
    let next = next?;
    sink.rounds.push(RoundDone {
        end_ns: crate::now_ns(),
        state: next.clone(),
    });
    ((time.inner as usize + 1) < rounds.rounds()).then(|| RoundMsg {
        tasks: Vec::new(),
        state: next,
    })
}
