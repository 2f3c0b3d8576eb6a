//! `process-pool` and `process-shm`: worker processes, started once in setup and fed tasks
//! dynamically, as multiprocessing's `Pool.map` feeds them.
//!
//! Tasks travel in chunks of `chunksize` tasks (`auto`: multiprocessing's choice, about four
//! chunks per worker, for `process-pool` no larger than a worker's pipe holds), and up to
//! `depth` chunks (default 2) wait in each worker's pipe behind the one it runs: the next one is
//! there when it finishes one, so a worker does not sleep between chunks waiting for the parent
//! — on a virtual machine a sleeping core takes tens of microseconds to wake. `depth=0` is
//! strict request and reply, one chunk in flight. Queued-ahead bytes never exceed what the
//! worker's pipe holds (the first chunk excepted), so the parent's writes never wait on a
//! worker that waits to answer. Near the end of a run a chunk is queued ahead only while
//! chunks are left for every worker, so no worker idles while another holds one queued.
//! Outcomes and spans stay per task.
//!
//! The workers are this binary again, started as `current_exe() worker` (the hidden command a
//! binary answers with [`serve`]); each rebuilds the workload by name from its own registry.
//! The two strategies differ in what travels:
//!
//! - `process-pool` (multiprocessing.Pool): every task message carries the task's input bytes,
//!   and every reply its output bytes, serialized with postcard through the worker's pipes;
//! - `process-shm` (multiprocessing + shared_memory): the input is placed once, in setup, in a
//!   shared-memory segment that also holds the output buffer; only task ranges and outcomes
//!   travel.
//!
//! A run reports the bytes that crossed the pipes for its tasks. Each worker records its
//! spans on the machine-wide clock into a log reserved before the run (for `process-shm`, in a
//! shared segment) and hands them over after the run; it reports its own peak memory before it
//! exits. Workers die with the strategy's process (`PR_SET_PDEATHSIG`, and end of file on
//! their stdin), every worker is reaped on teardown, on error and on drop, and segments are
//! anonymous memory files that die with the last process holding them ([`shm`]).
//!
//! The parent-death signal fires when the *thread* that spawned a worker exits, so a strategy
//! is set up, run and torn down on one thread (as the harness does).

pub(crate) mod child;
pub(crate) mod serve;
pub mod shm;
pub(crate) mod wire;

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use parbench_workloads::{Input, Layout, ParamKind, ParamSpec, Params, Task};

pub use child::{describe, WORKER_COMMAND};
pub use serve::{serve, ServeError};

use self::child::{wait_readable, Worker};
use self::serve::{read_span, SPAN_BYTES};
use self::shm::Segment;
use self::wire::{
    tasks_frame_bound, FromWorker, Hello, LogPlace, SharedPlace, TaskHead, ToWorker, WireError,
};
use crate::rounds::{partials, Trace};
use crate::span::{ticks_to_ns, Anchor, Clock};
use crate::{
    FailurePolicy, Job, RunReport, Span, Strategy, StrategyError, StrategySpec, TaskOutcome,
    Teardown, WorkerMemory,
};

/// The parameters of both process strategies: how their workers are fed.
const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "depth",
        help: "chunks queued in each worker's pipe behind the one it runs (0: one in flight)",
        kind: ParamKind::Int {
            default: DEFAULT_DEPTH as u64,
            min: 0,
            max: 1024,
        },
    },
    ParamSpec {
        name: "chunksize",
        help: "tasks per message; auto: ceil(tasks / (4 x workers)) as multiprocessing's Pool.map, for process-pool at most what lets depth + 1 chunks fit in a pipe",
        kind: ParamKind::IntOrAuto {
            min: 1,
            max: 1_000_000,
        },
    },
];

/// `process-pool`'s parameters: how its workers are fed, and where a workload of rounds keeps
/// its items.
const POOL_PARAMS: &[ParamSpec] = &[
    PARAMS[0],
    PARAMS[1],
    ParamSpec {
        name: "resident",
        help: "for work in rounds: false sends every task's items every round (Pool.map per iteration); true keeps them in the worker after the first",
        kind: ParamKind::Choice {
            default: "false",
            options: &["false", "true"],
        },
    },
];

/// Registration of `process-pool`.
pub const POOL: StrategySpec = StrategySpec {
    name: "process-pool",
    description: "worker processes fed through pipes: each task's input and output serialized and copied (multiprocessing.Pool)",
    params: POOL_PARAMS,
    uses_workers: true,
    spawns_processes: true,
    build: |params| {
        let resident = params.text("resident") == "true";
        Ok(Box::new(build(Transport::Pipes, params).resident(resident)))
    },
};

/// Registration of `process-shm`.
pub const SHM: StrategySpec = StrategySpec {
    name: "process-shm",
    description: "worker processes sharing input and output in shared memory: only task ranges travel (multiprocessing + shared_memory)",
    params: PARAMS,
    uses_workers: true,
    spawns_processes: true,
    build: |params| Ok(Box::new(build(Transport::SharedMemory, params))),
};

fn build(transport: Transport, params: &Params) -> Processes {
    let chunksize = params.int_or_auto("chunksize").map(|c| c as usize);
    Processes::new(transport)
        .depth(params.int("depth") as usize)
        .chunksize(chunksize)
}

/// Chunks queued behind the one a worker runs, by default.
pub const DEFAULT_DEPTH: usize = 2;

/// Room kept free in a worker's pipe for a `Cancel` behind the queued chunks.
const CONTROL_BYTES: u64 = 64;

/// How task data reaches the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Input and output bytes travel with every task, through pipes.
    Pipes,
    /// Input and output live in shared memory; only ranges travel.
    SharedMemory,
}

/// How long a worker may take to answer `Shutdown` and exit before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// The worker processes of `process-pool` or `process-shm`.
#[derive(Debug)]
pub struct Processes {
    transport: Transport,
    state: Option<Running>,
    /// Workers profile themselves at this rate when set.
    profile: Option<u32>,
    /// Chunks queued behind the one a worker runs.
    depth: usize,
    /// Tasks per chunk; `None` chooses as multiprocessing does.
    chunksize: Option<usize>,
    /// A test hook: panic after this many results of a run.
    panic_after: Option<usize>,
    /// Whether a workload of rounds keeps its items in the workers after the first round.
    resident: bool,
}

#[derive(Debug)]
struct Running {
    /// The strategy's name, for errors.
    name: &'static str,
    job: Job,
    workers: Vec<Worker>,
    clock: Clock,
    /// Input, offsets and output (shared memory only).
    segment: Option<Segment>,
    /// The output buffer's bytes in `segment`.
    output_range: Range<usize>,
    /// The output buffer (pipes only).
    output: Vec<u8>,
    /// The span log (shared memory only) and its capacity per worker.
    log: Option<(Segment, usize)>,
}

/// Why a run or setup stopped, before the workers are cleaned up.
enum Failure {
    /// The strategy's own error.
    Strategy(StrategyError),
    /// Worker `worker` broke off during `during`.
    Worker {
        worker: usize,
        during: &'static str,
        cause: Cause,
    },
}

enum Cause {
    Wire(WireError),
    Fatal(String),
    Protocol(String),
}

impl From<StrategyError> for Failure {
    fn from(e: StrategyError) -> Self {
        Failure::Strategy(e)
    }
}

impl Processes {
    /// Worker processes reached through `transport`, each with up to [`DEFAULT_DEPTH`] chunks
    /// queued behind the one it runs, of a size chosen as multiprocessing chooses it.
    ///
    /// ```no_run
    /// use parbench_strategies::process::{Processes, Transport};
    ///
    /// // One task per message, up to 4 of them queued behind the one a worker runs.
    /// let pool = Processes::new(Transport::Pipes).depth(4).chunksize(Some(1));
    /// # let _ = pool;
    /// ```
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            state: None,
            profile: None,
            depth: DEFAULT_DEPTH,
            chunksize: None,
            panic_after: None,
            resident: false,
        }
    }

    /// For a workload of rounds through pipes: whether each worker keeps the chunks of the
    /// first round, items included, and runs them again every round after, so that only the
    /// state and the partials travel (`resident=true`). Without it every round sends every
    /// task's items again, as `Pool.map` once per iteration does. `process-shm` shares the
    /// items once whatever this says.
    ///
    /// ```no_run
    /// use parbench_strategies::process::{Processes, Transport};
    ///
    /// // `process-pool[resident=true]`: the points of k-means travel in the first round only.
    /// let pool = Processes::new(Transport::Pipes).resident(true);
    /// # let _ = pool;
    /// ```
    pub fn resident(mut self, resident: bool) -> Self {
        self.resident = resident;
        self
    }

    /// Up to `depth` chunks queued behind the one a worker runs; 0: one chunk in flight.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// `Some(n)`: `n` tasks per message (at least 1); `None`: `ceil(tasks / (4 × workers))`,
    /// as multiprocessing's `Pool.map` chooses.
    pub fn chunksize(mut self, chunksize: Option<usize>) -> Self {
        self.chunksize = chunksize.map(|c| c.max(1));
        self
    }

    fn spec(&self) -> &'static StrategySpec {
        match self.transport {
            Transport::Pipes => &POOL,
            Transport::SharedMemory => &SHM,
        }
    }

    /// The worker processes' ids, in worker order; empty when not set up.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.state
            .as_ref()
            .map(|s| s.workers.iter().map(|w| w.pid).collect())
            .unwrap_or_default()
    }

    /// Makes the next runs panic, in this process, once `results` task results have come
    /// back: how the tests check that a panic mid-run leaves nothing behind.
    #[doc(hidden)]
    pub fn panic_after(&mut self, results: usize) {
        self.panic_after = Some(results);
    }

    /// One run of `tasks`: a pass, or with `rounds` the workload's rounds. A failure kills and
    /// reaps the workers.
    fn drive(&mut self, tasks: &[Task], rounds: bool) -> Result<RunReport, StrategyError> {
        let (transport, resident, panic_after) = (self.transport, self.resident, self.panic_after);
        let sizing = (self.depth, self.chunksize);
        let name = self.spec().name;
        let running = self
            .state
            .as_mut()
            .ok_or_else(|| StrategyError::NotSetUp(name.to_owned()))?;
        running.job.check_tasks(tasks)?;
        let result = if rounds {
            running.run_rounds(tasks, transport, (sizing, resident), panic_after)
        } else {
            running.run(tasks, transport, sizing, panic_after)
        };
        result.map_err(|failure| self.fail(failure))
    }

    /// Kills and reaps every worker and turns `failure` into the strategy's error.
    fn fail(&mut self, failure: Failure) -> StrategyError {
        let Some(mut running) = self.state.take() else {
            return match failure {
                Failure::Strategy(e) => e,
                Failure::Worker { .. } => self.internal("a worker failed after teardown"),
            };
        };
        let error = match failure {
            Failure::Strategy(e) => e,
            Failure::Worker {
                worker,
                during,
                cause,
            } => {
                let position = running.workers.iter().position(|w| w.index == worker);
                let lost = position.map(|i| running.workers.swap_remove(i));
                let (pid, status) = match lost {
                    // A closed pipe means the worker is gone or going: give it a moment to
                    // be reaped with its real status.
                    Some(mut w) => (w.pid, Some(w.reap(Duration::from_secs(1)))),
                    None => (0, None),
                };
                let ended = match status {
                    Some(Ok(status)) => describe(status),
                    Some(Err(e)) => format!("could not be reaped: {e}"),
                    None => "was not found".to_owned(),
                };
                let what = match cause {
                    Cause::Wire(WireError::Closed) => format!("died {during}: {ended}"),
                    Cause::Wire(e) => format!("failed {during} ({e}) and {ended}"),
                    Cause::Fatal(message) => format!("failed {during}: {message}"),
                    Cause::Protocol(message) => {
                        format!("broke the protocol {during} ({message}) and {ended}")
                    }
                };
                StrategyError::Worker {
                    strategy: self.spec().name.to_owned(),
                    worker,
                    pid,
                    what,
                }
            }
        };
        // Dropping the other workers kills and reaps them.
        drop(running);
        error
    }

    fn internal(&self, message: &str) -> StrategyError {
        StrategyError::Internal {
            strategy: self.spec().name.to_owned(),
            message: message.to_owned(),
        }
    }

    fn try_setup(&mut self, job: &Job) -> Result<(), Failure> {
        let shared = match self.transport {
            Transport::Pipes => None,
            Transport::SharedMemory => {
                Some(place_input(job).map_err(|e| spawn_error(self.spec().name, e))?)
            }
        };
        let (segment, place, output_range) = match shared {
            Some((segment, place)) => {
                let range = place.output.0 as usize..place.output.1 as usize;
                (Some(segment), Some(place), range)
            }
            None => (None, None, 0..0),
        };
        let output = match self.transport {
            Transport::Pipes => vec![0; job.output_bytes()],
            Transport::SharedMemory => Vec::new(),
        };
        let clock = Clock::get();
        self.state = Some(Running {
            name: self.spec().name,
            job: job.clone(),
            workers: Vec::with_capacity(job.workers.max(1)),
            clock,
            segment,
            output_range,
            output,
            log: None,
        });
        for index in 0..job.workers.max(1) {
            let worker = Worker::spawn(index).map_err(|e| spawn_error(self.spec().name, e))?;
            if let Some(running) = &mut self.state {
                running.workers.push(worker);
            }
        }
        let Some(running) = self.state.as_mut() else {
            return Err(self.internal("no state").into());
        };
        let item_len = match &job.input.layout {
            Layout::Fixed { len, .. } => *len as u64,
            Layout::Offsets(_) => 0,
        };
        for worker in &mut running.workers {
            let hello = ToWorker::Hello(Hello {
                parent: std::process::id(),
                worker: worker.index as u32,
                recipe: (*job.recipe).clone(),
                seed: job.seed,
                policy: job.policy,
                tsc: clock.is_tsc(),
                item_len,
                shared: place.clone(),
                profile: self.profile,
            });
            send(worker, &hello, &[], "during setup")?;
        }
        for worker in &mut running.workers {
            let index = worker.index;
            match receive_message(worker, "during setup")? {
                FromWorker::Ready => {}
                other => return Err(unexpected(index, "during setup", &other)),
            }
        }
        Ok(())
    }
}

/// The error of `strategy` failing to start or place what its workers need.
fn spawn_error(strategy: &str, source: std::io::Error) -> StrategyError {
    StrategyError::Spawn {
        strategy: strategy.to_owned(),
        source,
    }
}

/// Sends `message` and `payload` to `worker`; returns the bytes written.
fn send(
    worker: &mut Worker,
    message: &ToWorker,
    payload: &[u8],
    during: &'static str,
) -> Result<u64, Failure> {
    worker
        .to
        .send_with(message, payload)
        .map_err(|e| lost(worker.index, during, e))
}

/// Receives one message from `worker`, turning its `Fatal` report into a failure; returns it
/// with its payload's length (still to be read) and the bytes read.
fn receive(worker: &mut Worker, during: &'static str) -> Result<(FromWorker, u64, u64), Failure> {
    match worker.from.recv::<FromWorker>() {
        Ok((FromWorker::Fatal(message), _, _)) => Err(Failure::Worker {
            worker: worker.index,
            during,
            cause: Cause::Fatal(message),
        }),
        Ok(received) => Ok(received),
        Err(e) => Err(lost(worker.index, during, e)),
    }
}

/// Receives a message without a payload from `worker`.
fn receive_message(worker: &mut Worker, during: &'static str) -> Result<FromWorker, Failure> {
    match receive(worker, during)? {
        (message, 0, _) => Ok(message),
        (_, payload, _) => Err(Failure::Worker {
            worker: worker.index,
            during,
            cause: Cause::Protocol(format!("an unexpected payload of {payload} bytes")),
        }),
    }
}

fn lost(worker: usize, during: &'static str, e: WireError) -> Failure {
    Failure::Worker {
        worker,
        during,
        cause: Cause::Wire(e),
    }
}

fn unexpected(worker: usize, during: &'static str, message: &FromWorker) -> Failure {
    Failure::Worker {
        worker,
        during,
        cause: Cause::Protocol(format!("unexpected {message:?}")),
    }
}

/// Creates the segment for `job`'s input, its offsets and the output buffer, and copies the
/// input in.
fn place_input(job: &Job) -> std::io::Result<(Segment, SharedPlace)> {
    let input = &job.input;
    let input_end = input.bytes.len() as u64;
    let offsets = match &input.layout {
        Layout::Offsets(offsets) => {
            let at = input_end.next_multiple_of(8);
            Some((at, at + 8 * offsets.len() as u64))
        }
        Layout::Fixed { .. } => None,
    };
    // The output starts on its own cache line.
    let output_at = offsets.map_or(input_end, |o| o.1).next_multiple_of(64);
    let output = (output_at, output_at + job.output_bytes() as u64);
    let mut segment = Segment::create(output.1 as usize)?;
    let bytes = segment.bytes_mut();
    bytes[..input.bytes.len()].copy_from_slice(&input.bytes);
    if let (Layout::Offsets(table), Some((at, end))) = (&input.layout, offsets) {
        for (slot, offset) in bytes[at as usize..end as usize]
            .chunks_exact_mut(8)
            .zip(table)
        {
            slot.copy_from_slice(&offset.to_ne_bytes());
        }
    }
    let place = SharedPlace {
        path: segment.path().to_string_lossy().into_owned(),
        len: segment.len() as u64,
        input: (0, input_end),
        offsets,
        items: input.items() as u64,
        output,
    };
    Ok((segment, place))
}

/// What stays the same through one exchange of chunks and answers.
struct Exchange<'a> {
    tasks: &'a [Task],
    transport: Transport,
    /// Chunks queued behind the one a worker runs.
    depth: usize,
    /// The test hook: panic after this many results.
    panic_after: Option<usize>,
}

/// The chunks a worker holds: sent, not answered yet, oldest first, each with its bytes.
#[derive(Default)]
struct Flights {
    chunks: VecDeque<(Range<usize>, u64)>,
    /// Their bytes: at most what the worker's pipe holds, beyond the first.
    bytes: u64,
}

/// The run's tasks not sent yet, and which worker may have the next chunk of them.
struct Feed {
    /// The first task not sent.
    next: usize,
    /// Tasks in the run.
    tasks: usize,
    chunksize: usize,
    /// Chunks a worker holds at most: the one it runs and those queued behind it.
    hold: usize,
    /// A task failed under fail-fast: nothing more is sent.
    cancelled: bool,
}

impl Feed {
    /// The next chunk, if worker `w` (of those holding `flights`) may have it: it holds fewer
    /// than `hold`, and it holds none or there are chunks enough left for every worker, so
    /// that near the end no worker idles while another holds a chunk queued ahead.
    fn next_for(&self, w: usize, flights: &[Flights]) -> Option<Range<usize>> {
        if self.cancelled || self.next >= self.tasks {
            return None;
        }
        let held = flights[w].chunks.len();
        let left = (self.tasks - self.next).div_ceil(self.chunksize);
        if held >= self.hold || (held > 0 && left < flights.len()) {
            return None;
        }
        Some(self.next..(self.next + self.chunksize).min(self.tasks))
    }
}

/// Appends `range` to `ranges`, extending the last one when `range` follows it: consecutive
/// tasks' bytes travel, and arrive, in one piece.
fn push_merged(ranges: &mut Vec<Range<usize>>, range: Range<usize>) {
    match ranges.last_mut() {
        Some(last) if last.end == range.start => last.end = range.end,
        _ => ranges.push(range),
    }
}

/// `chunksize=auto` for `tasks` tasks on `workers` workers: multiprocessing's
/// `ceil(tasks / (4 × workers))`, but when `travel` bytes of input go with the tasks, no more
/// of them than fit in `room` bytes (at least one). A Python pool writes from a feeder thread
/// while another reads the results; this parent is one thread, and a chunk larger than a
/// worker's pipe would hold it up writing while the other workers' answers wait.
fn auto_chunksize(tasks: usize, workers: usize, travel: usize, room: usize) -> usize {
    let chunksize = tasks.div_ceil(4 * workers.max(1)).max(1);
    if tasks == 0 || travel == 0 {
        return chunksize;
    }
    chunksize.min(room / travel.div_ceil(tasks)).max(1)
}

/// The message carrying `chunk` (the run's tasks from position `first` on) and the parts of
/// its payload: for `process-pool`, each task's input bytes, where they lie.
fn chunk_message<'a>(
    input: &'a Input,
    chunk: &[Task],
    first: usize,
    transport: Transport,
) -> (ToWorker, Vec<&'a [u8]>) {
    let heads = chunk
        .iter()
        .enumerate()
        .map(|(i, task)| TaskHead {
            index: (first + i) as u32,
            id: task.id,
            start: task.items.start as u64,
            end: task.items.end as u64,
        })
        .collect();
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut offsets = Vec::new();
    if transport == Transport::Pipes {
        for task in chunk {
            push_merged(&mut ranges, input.layout.byte_range(task.items.clone()));
            if let Layout::Offsets(table) = &input.layout {
                offsets.extend_from_slice(&table[task.items.start..=task.items.end]);
            }
        }
    }
    let parts = ranges.into_iter().map(|r| &input.bytes[r]).collect();
    let message = ToWorker::Tasks {
        tasks: heads,
        offsets,
    };
    (message, parts)
}

impl Running {
    /// Prepares every worker's span log for a run of `tasks` tasks: outside the timed run.
    fn begin(&mut self, tasks: usize, transport: Transport) -> Result<(), Failure> {
        let workers = self.workers.len();
        let log_place = match transport {
            Transport::Pipes => None,
            Transport::SharedMemory => {
                if self
                    .log
                    .as_ref()
                    .is_none_or(|(_, capacity)| *capacity < tasks)
                {
                    let segment = Segment::create(workers * tasks * SPAN_BYTES)
                        .map_err(|e| spawn_error(self.name, e))?;
                    self.log = Some((segment, tasks));
                }
                self.log.as_ref().map(|(segment, capacity)| {
                    (
                        segment.path().to_string_lossy().into_owned(),
                        segment.len(),
                        *capacity,
                    )
                })
            }
        };
        for worker in &mut self.workers {
            let log = log_place.as_ref().map(|(path, len, capacity)| LogPlace {
                path: path.clone(),
                len: *len as u64,
                offset: (worker.index * capacity * SPAN_BYTES) as u64,
            });
            let begin = ToWorker::Begin {
                capacity: tasks as u32,
                log,
            };
            send(worker, &begin, &[], "before the run")?;
        }
        for worker in &mut self.workers {
            let index = worker.index;
            match receive_message(worker, "before the run")? {
                FromWorker::Began => {}
                other => return Err(unexpected(index, "before the run", &other)),
            }
        }
        Ok(())
    }

    /// Sends the chunk `chunk` of `tasks` to worker `w` unless it would not fit in the room its
    /// pipe has left (`room`; the first chunk in flight always goes); returns the bytes written.
    fn dispatch(
        &mut self,
        w: usize,
        chunk: Range<usize>,
        tasks: &[Task],
        transport: Transport,
        room: Option<u64>,
    ) -> Result<Option<u64>, Failure> {
        let first = chunk.start;
        let (message, parts) = chunk_message(&self.job.input, &tasks[chunk], first, transport);
        if let Some(room) = room {
            let ToWorker::Tasks { tasks, offsets } = &message else {
                return Ok(None);
            };
            let payload = parts.iter().map(|p| p.len()).sum();
            if tasks_frame_bound(tasks.len(), offsets.len(), payload) > room {
                return Ok(None);
            }
        }
        let worker = &mut self.workers[w];
        worker
            .to
            .send_with_all(&message, &parts)
            .map(Some)
            .map_err(|e| lost(w, "during the run", e))
    }

    /// Blocks until a worker with chunks in flight has something to say; returns the workers
    /// that do.
    fn readable(&self, flights: &[Flights]) -> Result<Vec<usize>, Failure> {
        let waiting: Vec<usize> = (0..flights.len())
            .filter(|&w| !flights[w].chunks.is_empty())
            .collect();
        let ready = wait_readable(waiting.iter().map(|&w| &self.workers[w]), self.name)
            .map_err(Failure::Strategy)?;
        Ok(waiting
            .into_iter()
            .zip(ready)
            .filter_map(|(w, ready)| ready.then_some(w))
            .collect())
    }

    /// Gives worker `w` up to `most` chunks from the feed, fewer when it holds all it may, its
    /// pipe is full or no chunk is left for it; returns the bytes written.
    fn feed_worker(
        &mut self,
        w: usize,
        most: usize,
        feed: &mut Feed,
        flights: &mut [Flights],
        tasks: &[Task],
        transport: Transport,
    ) -> Result<u64, Failure> {
        let mut moved = 0;
        for _ in 0..most {
            let Some(chunk) = feed.next_for(w, flights) else {
                break;
            };
            let held = &flights[w];
            // Beyond the first chunk in flight, only what the pipe holds with room to spare.
            let room = (!held.chunks.is_empty()).then(|| {
                (self.workers[w].capacity as u64).saturating_sub(held.bytes + CONTROL_BYTES)
            });
            let Some(bytes) = self.dispatch(w, chunk.clone(), tasks, transport, room)? else {
                break;
            };
            feed.next = chunk.end;
            flights[w].chunks.push_back((chunk, bytes));
            flights[w].bytes += bytes;
            moved += bytes;
        }
        Ok(moved)
    }

    /// The feed of a run of `tasks`: its chunks as `sizing` (depth, chunksize) asks.
    fn feed(&self, tasks: usize, transport: Transport, sizing: (usize, Option<usize>)) -> Feed {
        let (depth, chunksize) = sizing;
        Feed {
            next: 0,
            tasks,
            chunksize: chunksize.unwrap_or_else(|| {
                let travel = match transport {
                    Transport::Pipes => self.job.input.bytes.len(),
                    Transport::SharedMemory => 0,
                };
                let pipe = self.workers.iter().map(|w| w.capacity).min().unwrap_or(0);
                auto_chunksize(tasks, self.workers.len(), travel, pipe / (depth + 1))
            }),
            hold: depth + 1,
            cancelled: false,
        }
    }

    fn run(
        &mut self,
        tasks: &[Task],
        transport: Transport,
        sizing: (usize, Option<usize>),
        panic_after: Option<usize>,
    ) -> Result<RunReport, Failure> {
        self.begin(tasks.len(), transport)?;
        let mut feed = self.feed(tasks.len(), transport, sizing);
        let mut outcomes: Vec<TaskOutcome> = vec![TaskOutcome::Skipped; tasks.len()];
        let mut flights: Vec<Flights> = (0..self.workers.len())
            .map(|_| Flights::default())
            .collect();

        let start = self.clock.anchor();
        let exchange = Exchange {
            tasks,
            transport,
            depth: sizing.0,
            panic_after,
        };
        let moved = self.exchange(&exchange, &mut feed, &mut flights, &mut outcomes, None)?;
        let end = self.clock.anchor();
        self.report(tasks.len(), (start, end), outcomes, moved)
    }

    /// The report of a run between `anchors`, with its workers' spans.
    fn report(
        &mut self,
        spans: usize,
        (start, end): (Anchor, Anchor),
        outcomes: Vec<TaskOutcome>,
        moved: u64,
    ) -> Result<RunReport, Failure> {
        let (spans, worker_cpu_ns) = self.collect_spans(spans)?;
        Ok(RunReport {
            start_ns: start.ns,
            end_ns: end.ns,
            lanes: self.workers.len(),
            outcomes,
            spans: spans
                .into_iter()
                .map(|s| Span {
                    start_ns: ticks_to_ns(s.start_ns, start, end),
                    end_ns: ticks_to_ns(s.end_ns, start, end),
                    ..s
                })
                .collect(),
            bytes_moved: moved,
            worker_cpu_ns,
            rounds: Vec::new(),
        })
    }

    /// Runs the rounds of a workload of rounds: every round, each worker gets the round's
    /// state, and then its chunks as [`Running::run`] feeds them — or, `resident`, after the
    /// first round, the chunks it kept from that round.
    fn run_rounds(
        &mut self,
        tasks: &[Task],
        transport: Transport,
        (sizing, resident): ((usize, Option<usize>), bool),
        panic_after: Option<usize>,
    ) -> Result<RunReport, Failure> {
        let job = self.job.clone();
        let rounds = job.workload.as_rounds().map_or(0, |r| r.rounds());
        self.begin(tasks.len() * rounds, transport)?;
        let workers = self.workers.len();
        let exchange = Exchange {
            tasks,
            transport,
            depth: sizing.0,
            panic_after,
        };
        // The chunks each worker answered in the first round, in order, for a resident run.
        let mut held: Vec<Vec<Range<usize>>> = vec![Vec::new(); workers];
        let mut outcomes: Vec<TaskOutcome> = vec![TaskOutcome::Skipped; tasks.len()];
        let (mut moved, mut first) = (0, true);

        let start = self.clock.anchor();
        let mut trace = Trace::start(&job, self.name)?;
        loop {
            let replay = resident && !first;
            let mut round_moved = 0;
            let message = ToWorker::State {
                state: trace.state().to_vec(),
                keep: resident && first,
            };
            for worker in &mut self.workers {
                round_moved += send(worker, &message, &[], "during the run")?;
            }
            let mut feed = self.feed(tasks.len(), transport, sizing);
            let mut flights: Vec<Flights> = (0..workers).map(|_| Flights::default()).collect();
            if replay {
                feed.next = tasks.len();
                for (w, chunks) in held.iter().enumerate() {
                    if chunks.is_empty() {
                        continue;
                    }
                    flights[w].chunks = chunks.iter().map(|c| (c.clone(), 0)).collect();
                    round_moved += send(
                        &mut self.workers[w],
                        &ToWorker::Replay,
                        &[],
                        "during the run",
                    )?;
                }
            }
            outcomes.fill(TaskOutcome::Skipped);
            let keep = (resident && first).then_some(&mut held);
            round_moved +=
                self.exchange(&exchange, &mut feed, &mut flights, &mut outcomes, keep)?;
            moved += round_moved;
            first = false;
            if !trace.close(&partials(&outcomes), round_moved) {
                break;
            }
        }
        let end = self.clock.anchor();
        let mut report = self.report(tasks.len() * rounds, (start, end), outcomes, moved)?;
        report.rounds = trace.finish();
        Ok(report)
    }

    /// Feeds the workers from `feed` and takes their answers into `outcomes` until no chunk is
    /// in flight; with `held`, records the chunks each worker answered. Returns the bytes
    /// moved.
    fn exchange(
        &mut self,
        run: &Exchange<'_>,
        feed: &mut Feed,
        flights: &mut [Flights],
        outcomes: &mut [TaskOutcome],
        mut held: Option<&mut Vec<Vec<Range<usize>>>>,
    ) -> Result<u64, Failure> {
        let Exchange {
            tasks,
            transport,
            depth,
            panic_after,
        } = *run;
        let workers = self.workers.len();
        let output_len = self.job.workload.output_len();
        let mut moved = 0u64;
        let mut results = 0usize;
        // One chunk to each worker in turn, then the ones queued behind.
        for _ in 0..=depth {
            for w in 0..workers {
                moved += self.feed_worker(w, 1, feed, flights, tasks, transport)?;
            }
        }
        while flights.iter().any(|f| !f.chunks.is_empty()) {
            for w in self.readable(flights)? {
                let worker = &mut self.workers[w];
                let (message, payload, read) = receive(worker, "during the run")?;
                moved += read;
                let Some((chunk, bytes)) = flights[w].chunks.pop_front() else {
                    return Err(unexpected(w, "during the run", &message));
                };
                flights[w].bytes -= bytes;
                let (first, answered) = match message {
                    FromWorker::Done { first, outcomes } => (first as usize, outcomes),
                    other => return Err(unexpected(w, "during the run", &other)),
                };
                // The output of each task that ran, in the chunk's order.
                let mut places: Vec<Range<usize>> = Vec::new();
                if transport == Transport::Pipes {
                    for (t, outcome) in chunk.clone().zip(&answered) {
                        if !matches!(outcome, TaskOutcome::Skipped) {
                            let items = &tasks[t].items;
                            push_merged(
                                &mut places,
                                items.start * output_len..items.end * output_len,
                            );
                        }
                    }
                }
                let expected: usize = places.iter().map(|p| p.len()).sum();
                if first != chunk.start
                    || answered.len() != chunk.len()
                    || payload != expected as u64
                {
                    return Err(Failure::Worker {
                        worker: w,
                        during: "during the run",
                        cause: Cause::Protocol(format!(
                            "answered {} tasks from task {first} with {payload} bytes; tasks \
                             {chunk:?} were sent and {expected} bytes expected",
                            answered.len(),
                        )),
                    });
                }
                // Each output goes from the pipe straight to its place in the buffer.
                for place in places {
                    worker
                        .from
                        .payload_part_into(&mut self.output[place])
                        .map_err(|e| lost(w, "during the run", e))?;
                }
                let failed = answered
                    .iter()
                    .any(|o| matches!(o, TaskOutcome::Failed { .. }));
                results += answered.len();
                if let Some(held) = held.as_deref_mut() {
                    held[w].push(chunk.clone());
                }
                for (t, outcome) in chunk.zip(answered) {
                    outcomes[t] = outcome;
                }
                if failed && self.job.policy == FailurePolicy::FailFast && !feed.cancelled {
                    // What is queued ahead in any worker is skipped, not run.
                    feed.cancelled = true;
                    for (v, held) in flights.iter().enumerate() {
                        if !held.chunks.is_empty() {
                            moved += send(
                                &mut self.workers[v],
                                &ToWorker::Cancel,
                                &[],
                                "during the run",
                            )?;
                        }
                    }
                }
                if panic_after.is_some_and(|n| results >= n) {
                    panic!("a panic injected after {results} results, with the workers busy");
                }
                moved += self.feed_worker(w, usize::MAX, feed, flights, tasks, transport)?;
            }
        }
        Ok(moved)
    }

    /// Every worker's spans of the run just ended, in raw ticks, and the CPU time the workers
    /// spent in it.
    fn collect_spans(&mut self, tasks: usize) -> Result<(Vec<Span>, u64), Failure> {
        let mut spans = Vec::with_capacity(tasks);
        let mut cpu = 0;
        for worker in &mut self.workers {
            send(worker, &ToWorker::End, &[], "after the run")?;
        }
        for worker in &mut self.workers {
            let index = worker.index;
            let (own, shared) = match receive_message(worker, "after the run")? {
                FromWorker::Logged {
                    spans,
                    shared,
                    cpu_ns,
                } => {
                    cpu += cpu_ns;
                    (spans, shared as usize)
                }
                other => return Err(unexpected(index, "after the run", &other)),
            };
            let from_log = match &self.log {
                Some((log, capacity)) if shared <= *capacity => {
                    let base = index * capacity * SPAN_BYTES;
                    (0..shared)
                        .map(|i| read_span(log.bytes(), base + i * SPAN_BYTES))
                        .collect()
                }
                _ if shared == 0 => Vec::new(),
                _ => {
                    return Err(Failure::Worker {
                        worker: index,
                        during: "after the run",
                        cause: Cause::Protocol(format!("logged {shared} spans")),
                    })
                }
            };
            for span in own.into_iter().chain(from_log) {
                if span.worker as usize != index {
                    return Err(Failure::Worker {
                        worker: index,
                        during: "after the run",
                        cause: Cause::Protocol(format!("a span of worker {}", span.worker)),
                    });
                }
                spans.push(span);
            }
        }
        Ok((spans, cpu))
    }

    /// Asks every worker to report its memory and exit, and reaps them all. On failure the
    /// workers are left for [`Processes::fail`] to kill.
    fn shut_down(&mut self) -> Result<Teardown, Failure> {
        for worker in &mut self.workers {
            send(worker, &ToWorker::Shutdown, &[], "at teardown")?;
        }
        let mut memory = Vec::with_capacity(self.workers.len());
        let mut profiles = Vec::new();
        for worker in &mut self.workers {
            let (index, pid) = (worker.index, worker.pid);
            match receive_message(worker, "at teardown")? {
                FromWorker::Bye {
                    peak_rss_bytes,
                    shared_rss_bytes,
                    profile,
                } => {
                    memory.push(WorkerMemory {
                        pid,
                        peak_rss_bytes,
                        shared_rss_bytes,
                    });
                    profiles.extend(profile);
                }
                other => return Err(unexpected(index, "at teardown", &other)),
            }
        }
        for mut worker in self.workers.drain(..) {
            let ended = match worker.reap(GRACE) {
                Ok(status) if status.success() => continue,
                Ok(status) => format!("ended badly at teardown: {}", describe(status)),
                Err(e) => format!("could not be reaped: {e}"),
            };
            return Err(Failure::Strategy(StrategyError::Worker {
                strategy: self.name.to_owned(),
                worker: worker.index,
                pid: worker.pid,
                what: ended,
            }));
        }
        Ok(Teardown {
            workers: memory,
            profiles,
        })
    }
}

impl Strategy for Processes {
    fn name(&self) -> &str {
        self.spec().name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        self.teardown()?;
        self.try_setup(job).map_err(|failure| self.fail(failure))
    }

    fn profile_workers(&mut self, frequency: u32) {
        self.profile = Some(frequency);
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.drive(tasks, false)
    }

    /// Every round sends each worker the round's state and feeds it chunks as a one-pass run
    /// does: with their items through pipes (or, `resident`, only in the first round), as
    /// ranges of the shared input through shared memory.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.drive(tasks, true)
    }

    fn output(&self) -> &[u8] {
        match &self.state {
            None => &[],
            Some(running) => match &running.segment {
                Some(segment) => &segment.bytes()[running.output_range.clone()],
                None => &running.output,
            },
        }
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        let Some(running) = &mut self.state else {
            return Ok(Teardown::default());
        };
        match running.shut_down() {
            Ok(teardown) => {
                self.state = None;
                Ok(teardown)
            }
            Err(failure) => Err(self.fail(failure)),
        }
    }
}

impl Drop for Processes {
    /// Kills and reaps every worker at once: a drop without teardown is an error path (a
    /// panic unwinding, say), where waiting for busy workers would only delay it.
    fn drop(&mut self) {
        // Each worker kills and reaps itself as it drops; the segments go with the last holder.
        self.state = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_chunks_as_multiprocessing_within_the_pipe() {
        // Pool.map: divmod(tasks, 4 x workers), plus one for a remainder.
        assert_eq!(auto_chunksize(10_000, 1, 0, 0), 2500);
        assert_eq!(auto_chunksize(10_000, 2, 0, 0), 1250);
        assert_eq!(auto_chunksize(10, 2, 0, 0), 2);
        assert_eq!(auto_chunksize(3, 4, 0, 0), 1);
        assert_eq!(auto_chunksize(0, 2, 0, 0), 1);
        // 800 KB of `spin` input in 10,000 tasks: 80 bytes a task, far within a third of 1 MiB.
        assert_eq!(auto_chunksize(10_000, 2, 800_000, (1 << 20) / 3), 1250);
        // 64 MiB of `square` in 512 tasks of 128 KiB: two of them fit in a third of 1 MiB.
        assert_eq!(auto_chunksize(512, 2, 64 << 20, (1 << 20) / 3), 2);
        // A task larger than the room still travels, alone.
        assert_eq!(auto_chunksize(8, 1, 64 << 20, (1 << 20) / 3), 1);
    }

    #[test]
    fn consecutive_ranges_merge() {
        let mut ranges = Vec::new();
        for range in [0..8, 8..16, 24..32, 32..40, 40..40, 0..4] {
            push_merged(&mut ranges, range);
        }
        assert_eq!(ranges, [0..16, 24..40, 0..4]);
    }
}
