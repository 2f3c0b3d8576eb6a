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

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender};

use parbench_workloads::Task;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Exchange, Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
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

/// Runs one task on worker `lane`.
pub(crate) type Execute = Box<dyn FnMut(&Assign, u32) -> Done>;

/// What worker 0 serves: run commands in, the runs' records out.
pub(crate) struct Driver {
    pub runs: Receiver<Vec<Task>>,
    pub done: Sender<Vec<Done>>,
}

/// Builds the dataflow on `worker` and, on worker 0, serves runs until `driver.runs` closes.
/// Returns once this worker's part is set up (worker 0: once every run is served); timely
/// keeps stepping the dataflow until it completes.
pub(crate) fn work(worker: &mut Worker, mut execute: Execute, driver: Option<Driver>) {
    let lane = worker.index() as u32;
    let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Assign>>> = InputHandle::new();
    let probe = ProbeHandle::new();
    let gathered: Rc<RefCell<Vec<Done>>> = Rc::default();
    let sink = gathered.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .container::<Vec<Assign>>()
            .exchange(|a: &Assign| u64::from(a.id))
            .map(move |a| execute(&a, lane))
            .exchange(|_: &Done| 0)
            .map(move |done| sink.borrow_mut().push(done))
            .probe_with(&probe);
    });
    let Some(driver) = driver else {
        // Only worker 0 feeds the input; the others' inputs must not hold the frontier back.
        input.close();
        return;
    };
    let mut epoch = 0;
    while let Ok(tasks) = driver.runs.recv() {
        for (index, task) in tasks.iter().enumerate() {
            input.send(Assign {
                run: epoch,
                index: index as u32,
                id: task.id,
                start: task.items.start as u64,
                end: task.items.end as u64,
            });
        }
        epoch += 1;
        input.advance_to(epoch);
        while probe.less_than(input.time()) {
            worker.step_or_park(None);
        }
        let records = std::mem::take(&mut *gathered.borrow_mut());
        if driver.done.send(records).is_err() {
            break;
        }
    }
}
