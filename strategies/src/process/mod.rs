//! `process-pool` and `process-shm`: worker processes, started once in setup and fed tasks
//! dynamically — the next task goes to the first idle worker.
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
//! unlinked as soon as every worker has mapped them.
//!
//! The parent-death signal fires when the *thread* that spawned a worker exits, so a strategy
//! is set up, run and torn down on one thread (as the harness does).

pub(crate) mod child;
pub(crate) mod serve;
pub mod shm;
pub(crate) mod wire;

use std::ops::Range;
use std::time::Duration;

use parbench_workloads::{Layout, Params, Task};

pub use child::{describe, WORKER_COMMAND};
pub use serve::{serve, ServeError};

use self::child::{wait_readable, Worker};
use self::serve::{read_span, SPAN_BYTES};
use self::shm::Segment;
use self::wire::{FromWorker, Hello, LogPlace, SharedPlace, ToWorker, WireError};
use crate::span::{ticks_to_ns, Clock};
use crate::{
    FailurePolicy, Job, RunReport, Span, Strategy, StrategyError, StrategySpec, TaskOutcome,
    Teardown, WorkerMemory,
};

/// Registration of `process-pool`.
pub const POOL: StrategySpec = StrategySpec {
    name: "process-pool",
    description: "worker processes fed through pipes: each task's input and output serialized and copied (multiprocessing.Pool)",
    params: &[],
    uses_workers: true,
    spawns_processes: true,
    build: |_| Ok(Box::new(Processes::new(Transport::Pipes))),
};

/// Registration of `process-shm`.
pub const SHM: StrategySpec = StrategySpec {
    name: "process-shm",
    description: "worker processes sharing input and output in shared memory: only task ranges travel (multiprocessing + shared_memory)",
    params: &[],
    uses_workers: true,
    spawns_processes: true,
    build: build_shm,
};

fn build_shm(_: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(Box::new(Processes::new(Transport::SharedMemory)))
}

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
    /// A test hook: panic after this many results of a run.
    panic_after: Option<usize>,
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
    /// Worker processes reached through `transport`.
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            state: None,
            profile: None,
            panic_after: None,
        }
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
        // Every worker has mapped the segment: its name can go.
        if let Some(segment) = &mut running.segment {
            segment
                .unlink()
                .map_err(|e| spawn_error(self.spec().name, e))?;
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
        if let Some((segment, _)) = &mut self.log {
            if let Err(e) = segment.unlink() {
                return Err(spawn_error(self.name, e).into());
            }
        }
        Ok(())
    }

    /// Sends task `index` to worker `w`; returns the bytes written.
    fn dispatch(
        &mut self,
        w: usize,
        index: usize,
        tasks: &[Task],
        transport: Transport,
    ) -> Result<u64, Failure> {
        let task = &tasks[index];
        let input = &self.job.input;
        let (bytes, offsets): (&[u8], &[u64]) = match (transport, &input.layout) {
            (Transport::SharedMemory, _) => (&[], &[]),
            (Transport::Pipes, layout) => {
                let bytes = &input.bytes[layout.byte_range(task.items.clone())];
                match layout {
                    Layout::Offsets(table) => (bytes, &table[task.items.start..=task.items.end]),
                    Layout::Fixed { .. } => (bytes, &[]),
                }
            }
        };
        let message = ToWorker::Task {
            index: index as u32,
            id: task.id,
            start: task.items.start as u64,
            end: task.items.end as u64,
            offsets: offsets.to_vec(),
        };
        send(&mut self.workers[w], &message, bytes, "during the run")
    }

    /// Blocks until a busy worker has something to say; returns the workers that do.
    fn readable(&self, busy: &[Option<usize>]) -> Result<Vec<usize>, Failure> {
        let waiting: Vec<usize> = (0..busy.len()).filter(|&w| busy[w].is_some()).collect();
        let ready = wait_readable(waiting.iter().map(|&w| &self.workers[w]), self.name)
            .map_err(Failure::Strategy)?;
        Ok(waiting
            .into_iter()
            .zip(ready)
            .filter_map(|(w, ready)| ready.then_some(w))
            .collect())
    }

    fn run(
        &mut self,
        tasks: &[Task],
        transport: Transport,
        panic_after: Option<usize>,
    ) -> Result<RunReport, Failure> {
        self.begin(tasks.len(), transport)?;
        let workers = self.workers.len();
        let output_len = self.job.workload.output_len();
        let mut outcomes: Vec<TaskOutcome> = vec![TaskOutcome::Skipped; tasks.len()];
        let mut busy: Vec<Option<usize>> = vec![None; workers];
        let mut next = 0;
        let mut cancelled = false;
        let mut moved = 0u64;
        let mut results = 0usize;

        let start = self.clock.anchor();
        for (w, slot) in busy.iter_mut().enumerate() {
            if next < tasks.len() {
                moved += self.dispatch(w, next, tasks, transport)?;
                *slot = Some(next);
                next += 1;
            }
        }
        while busy.iter().any(Option::is_some) {
            for w in self.readable(&busy)? {
                let Some(expected) = busy[w] else { continue };
                let worker = &mut self.workers[w];
                let (message, payload, read) = receive(worker, "during the run")?;
                moved += read;
                let (answered, outcome) = match message {
                    FromWorker::Done { index, outcome } => (index as usize, outcome),
                    other => return Err(unexpected(w, "during the run", &other)),
                };
                let items = &tasks[expected].items;
                let out = match transport {
                    Transport::Pipes => items.start * output_len..items.end * output_len,
                    Transport::SharedMemory => 0..0,
                };
                if answered != expected || payload != out.len() as u64 {
                    return Err(Failure::Worker {
                        worker: w,
                        during: "during the run",
                        cause: Cause::Protocol(format!(
                            "answered task {answered} with {payload} bytes; task {expected} \
                             was sent and {} bytes expected",
                            out.len()
                        )),
                    });
                }
                // The output goes from the pipe straight to its place in the buffer.
                worker
                    .from
                    .payload_into(&mut self.output[out])
                    .map_err(|e| lost(w, "during the run", e))?;
                if matches!(outcome, TaskOutcome::Failed { .. })
                    && self.job.policy == FailurePolicy::FailFast
                {
                    cancelled = true;
                }
                outcomes[expected] = outcome;
                busy[w] = None;
                results += 1;
                if panic_after.is_some_and(|n| results >= n) {
                    panic!("a panic injected after {results} results, with the workers busy");
                }
                if !cancelled && next < tasks.len() {
                    moved += self.dispatch(w, next, tasks, transport)?;
                    busy[w] = Some(next);
                    next += 1;
                }
            }
        }
        let end = self.clock.anchor();

        let (spans, worker_cpu_ns) = self.collect_spans(tasks.len())?;
        Ok(RunReport {
            start_ns: start.ns,
            end_ns: end.ns,
            lanes: workers,
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
        })
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
        let transport = self.transport;
        let panic_after = self.panic_after;
        let name = self.spec().name;
        let running = self
            .state
            .as_mut()
            .ok_or_else(|| StrategyError::NotSetUp(name.to_owned()))?;
        running.job.check_tasks(tasks)?;
        running
            .run(tasks, transport, panic_after)
            .map_err(|failure| self.fail(failure))
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
        // Each worker kills and reaps itself as it drops; the segments unlink themselves.
        self.state = None;
    }
}
