//! The worker side: what a worker process does from its parent's `Hello` to `Shutdown`.
//!
//! Tasks come in chunks and may be queued ahead in the pipe, so a worker finishing one chunk
//! finds the next already there. Under fail-fast a worker reads ahead before each task: a
//! `Cancel` behind chunks still queued cancels them at once (their tasks answered as skipped)
//! instead of after they ran.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapMut;
use parbench_workloads::{Items, Registry, Task, Workload, WorkloadError};
use rustix::process::Signal;

use super::shm;
use super::wire::{
    FromWorker, Hello, LogPlace, Receiver, Sender, SharedPlace, TaskHead, ToWorker, WireError,
};
use crate::exec::{execute_items, Work};
use crate::span::Clock;
use crate::{FailurePolicy, Span, TaskOutcome};

/// Bytes of one span in a shared log: worker and task (u32 each), start and end (u64 each),
/// little-endian.
pub(crate) const SPAN_BYTES: usize = 24;

/// Why a worker stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Setting up the process (its pipes, its parent-death signal) failed.
    #[error("worker set-up failed: {0}")]
    Io(#[from] io::Error),
    /// The pipe to the parent broke or carried a malformed message.
    #[error("the pipe to the parent: {0}")]
    Wire(#[from] WireError),
    /// The workload could not be built.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// A message out of order, or a shared segment that does not match its description.
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// Serves as a worker process: reads the parent's messages on stdin and answers on stdout
/// until the parent says `Shutdown` or goes away. The binary's workload `registry` builds the
/// workload by name, so a user's binary with its own workloads serves them too.
///
/// A binary answers the hidden worker command by calling this, as the `parbench` binary does
/// (`parbench worker`); the process strategies start `current_exe() worker`.
pub fn serve(registry: &Registry) -> Result<(), ServeError> {
    let (mut to_parent, mut from_parent) = protocol_pipes()?;

    let hello = match from_parent.recv::<ToWorker>() {
        Ok((ToWorker::Hello(hello), 0, _)) => hello,
        Ok((other, _, _)) => return Err(ServeError::Protocol(format!("{other:?} before Hello"))),
        // The parent went away before saying anything.
        Err(WireError::Closed) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    // Die with the parent even when busy in a long task.
    if !die_with(hello.parent)? {
        return Ok(());
    }
    let name = format!("pb-worker-{}", hello.worker);
    if let Ok(name) = std::ffi::CString::new(name) {
        let _ = rustix::thread::set_name(&name);
    }

    let mut profiler = match profile_from_hello(&hello) {
        Ok(profiler) => profiler,
        Err(e) => {
            let _ = to_parent.send(&FromWorker::Fatal(e.clone()));
            return Err(ServeError::Protocol(e));
        }
    };
    let mut state = match Served::new(hello, registry) {
        Ok(state) => state,
        Err(e) => {
            let _ = to_parent.send(&FromWorker::Fatal(e.to_string()));
            return Err(e);
        }
    };
    to_parent.send(&FromWorker::Ready)?;
    loop {
        // A message read ahead comes first; its payload becomes the input buffer.
        let message = match state.queued.pop_front() {
            Some(Queued { message, payload }) => {
                state.input = payload;
                message
            }
            None => match state.receive(&mut from_parent) {
                Ok(message) => message,
                Err(ServeError::Wire(WireError::Closed)) => return Ok(()),
                Err(e) => return Err(e),
            },
        };
        match message {
            ToWorker::Begin { capacity, log } => {
                state.begin(capacity as usize, log)?;
                to_parent.send(&FromWorker::Began)?;
            }
            ToWorker::Tasks { tasks, offsets } => {
                state.answer_chunk(&tasks, &offsets, &mut from_parent, &mut to_parent)?;
                if state.keeping {
                    let input = std::mem::take(&mut state.input);
                    state.kept.push((tasks, offsets, input));
                }
            }
            ToWorker::Cancel => state.cancelled = true,
            ToWorker::State { state: round, keep } => {
                state.round = Some(round);
                state.keeping = keep;
                if keep {
                    state.kept.clear();
                }
            }
            ToWorker::Replay => {
                state.keeping = false;
                let mut kept = std::mem::take(&mut state.kept);
                for (tasks, offsets, input) in &mut kept {
                    // The kept items become the input buffer while their chunk runs.
                    std::mem::swap(&mut state.input, input);
                    let answered =
                        state.answer_chunk(tasks, offsets, &mut from_parent, &mut to_parent);
                    std::mem::swap(&mut state.input, input);
                    answered?;
                }
                state.kept = kept;
            }
            ToWorker::End => {
                let logged = state.end();
                to_parent.send(&logged)?;
            }
            ToWorker::Shutdown => {
                let profile = match profiler.take().map(|(p, root)| p.finish(&root)).transpose() {
                    Ok(profile) => profile,
                    Err(e) => {
                        let _ = to_parent.send(&FromWorker::Fatal(e.clone()));
                        return Err(ServeError::Protocol(e));
                    }
                };
                let (peak_rss_bytes, shared_rss_bytes) = own_memory();
                to_parent.send(&FromWorker::Bye {
                    peak_rss_bytes,
                    shared_rss_bytes,
                    profile,
                })?;
                return Ok(());
            }
            ToWorker::Hello(_) => return Err(ServeError::Protocol("a second Hello".into())),
        }
    }
}

/// The profiler a worker runs when its `Hello` asks for one, with the root frame of its stacks.
/// It starts before the workload is built, so a profiled worker's stacks cover its whole life
/// (the strategy profiles only instances it sets up for that).
fn profile_from_hello(hello: &Hello) -> Result<Option<(crate::profile::Profiler, String)>, String> {
    let Some(hz) = hello.profile else {
        return Ok(None);
    };
    // No pid in the root: the rounds of one profile merge worker by worker.
    let transport = if hello.shared.is_some() {
        "process-shm"
    } else {
        "process-pool"
    };
    let root = format!("{transport} worker {}", hello.worker);
    Ok(Some((crate::profile::Profiler::start(hz)?, root)))
}

/// The input and output buffer in shared memory.
struct Shared {
    map: MmapMut,
    place: SharedPlace,
}

/// Where the spans of the current run go.
enum Log {
    /// In this process, sent back at the end of the run.
    Private(Vec<Span>),
    /// In a shared segment the parent reads.
    Shared {
        map: MmapMut,
        path: String,
        offset: usize,
        capacity: usize,
        count: usize,
    },
}

/// A message read ahead of the one being served, with its payload.
struct Queued {
    message: ToWorker,
    payload: Vec<u8>,
}

/// The pipe from the parent, buffered by the worker itself so that it can tell whether a
/// message is waiting without blocking.
pub(crate) type FromParent = Receiver<BufReader<File>>;

struct Served {
    worker: u32,
    workload: Arc<dyn Workload>,
    seed: u64,
    policy: FailurePolicy,
    clock: Clock,
    item_len: usize,
    shared: Option<Shared>,
    log: Log,
    /// This process's CPU time when the run began.
    cpu_at_begin: u64,
    /// A task's input as it travelled (pipes only), reused.
    input: Vec<u8>,
    /// A chunk's output before it travels back (pipes only), reused.
    out: Vec<u8>,
    /// Messages read ahead (under fail-fast only), oldest first.
    queued: VecDeque<Queued>,
    /// A task failed under fail-fast, or the parent cancelled: every task left in this run is
    /// skipped.
    cancelled: bool,
    /// The state of the round in progress, for a workload of rounds.
    round: Option<Vec<u8>>,
    /// Whether the chunks that come are kept for [`ToWorker::Replay`].
    keeping: bool,
    /// The chunks kept, each with its offsets and the items that travelled with it.
    kept: Vec<(Vec<TaskHead>, Vec<u64>, Vec<u8>)>,
}

/// CPU time (user + system) this process has used, in nanoseconds.
fn cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

impl Served {
    fn new(hello: Hello, registry: &Registry) -> Result<Self, ServeError> {
        let workload = hello.recipe.instantiate(registry)?;
        let shared = match hello.shared {
            Some(place) => {
                let map = shm::open(Path::new(&place.path), place.len)?;
                let within = |(a, b): (u64, u64)| a <= b && b <= place.len;
                let offsets_ok = place.offsets.is_none_or(|o| {
                    within(o) && o.0 % 8 == 0 && o.1 - o.0 == (place.items + 1) * 8
                });
                if !within(place.input) || !within(place.output) || !offsets_ok {
                    return Err(ServeError::Protocol(format!(
                        "the shared segment's regions do not fit: {place:?}"
                    )));
                }
                Some(Shared { map, place })
            }
            None => None,
        };
        Ok(Self {
            worker: hello.worker,
            workload,
            seed: hello.seed,
            policy: hello.policy,
            clock: Clock::shared(hello.tsc),
            item_len: hello.item_len as usize,
            shared,
            log: Log::Private(Vec::new()),
            cpu_at_begin: 0,
            input: Vec::new(),
            out: Vec::new(),
            queued: VecDeque::new(),
            cancelled: false,
            round: None,
            keeping: false,
            kept: Vec::new(),
        })
    }

    /// Runs a chunk whose items are in the input buffer and sends its outcomes, and its output
    /// unless the buffer is shared.
    fn answer_chunk(
        &mut self,
        tasks: &[TaskHead],
        offsets: &[u64],
        from: &mut FromParent,
        to: &mut Sender<File>,
    ) -> Result<(), ServeError> {
        let first = tasks.first().map_or(0, |t| t.index);
        let outcomes = self.run_chunk(tasks, offsets, from)?;
        let output = match self.shared {
            Some(_) => &[][..],
            None => &self.out[..],
        };
        to.send_with(&FromWorker::Done { first, outcomes }, output)?;
        Ok(())
    }

    /// Receives the next message from the pipe, its payload into the input buffer.
    fn receive(&mut self, from: &mut FromParent) -> Result<ToWorker, ServeError> {
        let (message, payload, _) = from.recv::<ToWorker>()?;
        // The items' bytes, when they travel with the tasks, into a reused buffer.
        self.input.resize(payload as usize, 0);
        from.payload_into(&mut self.input)?;
        Ok(message)
    }

    /// Reads every message already waiting behind the current one; a `Cancel` among them
    /// cancels the run's remaining tasks, including those of the chunks queued before it.
    fn read_ahead(&mut self, from: &mut FromParent) -> Result<(), ServeError> {
        while from.ready()? {
            let (message, payload, _) = from.recv::<ToWorker>()?;
            let mut bytes = vec![0; payload as usize];
            from.payload_into(&mut bytes)?;
            match message {
                ToWorker::Cancel => self.cancelled = true,
                message => self.queued.push_back(Queued {
                    message,
                    payload: bytes,
                }),
            }
        }
        Ok(())
    }

    /// Runs a chunk of `tasks` whose items, when they travelled with them, are in the input
    /// buffer one task after the other (with `offsets`); returns their outcomes, the output of
    /// each task that ran (was not skipped) one after the other in `out` (pipes only).
    fn run_chunk(
        &mut self,
        tasks: &[TaskHead],
        offsets: &[u64],
        from: &mut FromParent,
    ) -> Result<Vec<TaskOutcome>, ServeError> {
        // Sized for every task's output at once: the same size chunk after chunk, so nothing is
        // filled again; cut to what ran at the end.
        if self.shared.is_none() {
            let items: u64 = tasks.iter().map(|t| t.end.saturating_sub(t.start)).sum();
            self.out
                .resize(items as usize * self.workload.output_len(), 0);
        }
        let mut out_at = 0;
        let mut outcomes = Vec::with_capacity(tasks.len());
        let (mut at, mut offsets_at) = (0, 0);
        for head in tasks {
            let task = Task {
                id: head.id,
                items: head.start as usize..head.end as usize,
            };
            // Where this task's bytes and offsets lie in what travelled.
            let (bytes, task_offsets) = if self.shared.is_some() {
                (0..0, &[][..])
            } else if offsets.is_empty() {
                let len = task.items.len() * self.item_len;
                (at..at + len, &[][..])
            } else {
                let own = offsets
                    .get(offsets_at..offsets_at + task.items.len() + 1)
                    .ok_or_else(|| protocol_error(&task, "more items than offsets"))?;
                offsets_at += own.len();
                let len = own[own.len() - 1].saturating_sub(own[0]) as usize;
                (at..at + len, own)
            };
            at = bytes.end;
            if self.policy == FailurePolicy::FailFast && !self.cancelled {
                self.read_ahead(from)?;
            }
            let outcome = if self.cancelled {
                TaskOutcome::Skipped
            } else {
                let outcome = self.run(&task, bytes, task_offsets, out_at)?;
                out_at += task.items.len() * self.workload.output_len();
                outcome
            };
            if matches!(outcome, TaskOutcome::Failed { .. })
                && self.policy == FailurePolicy::FailFast
            {
                self.cancelled = true;
            }
            outcomes.push(outcome);
        }
        if self.shared.is_none() {
            self.out.truncate(out_at);
        }
        if at != self.input.len() || offsets_at != offsets.len() {
            return Err(ServeError::Protocol(format!(
                "a chunk of {} tasks carried {} bytes and {} offsets; its items need {at} and \
                 {offsets_at}",
                tasks.len(),
                self.input.len(),
                offsets.len()
            )));
        }
        Ok(outcomes)
    }

    fn begin(&mut self, capacity: usize, place: Option<LogPlace>) -> Result<(), ServeError> {
        match place {
            None => {
                let mut spans = match std::mem::replace(&mut self.log, Log::Private(Vec::new())) {
                    Log::Private(spans) => spans,
                    Log::Shared { .. } => Vec::new(),
                };
                spans.clear();
                spans.reserve(capacity);
                self.log = Log::Private(spans);
            }
            Some(place) => {
                let offset = place.offset as usize;
                if offset + capacity * SPAN_BYTES > place.len as usize {
                    return Err(ServeError::Protocol(format!(
                        "a log of {capacity} spans at {offset} does not fit in {} bytes",
                        place.len
                    )));
                }
                // A new segment when the log grew; otherwise the mapping already held. (The
                // strategy makes the new log before closing the old one, so the two never
                // share a descriptor's path.)
                let map = match std::mem::replace(&mut self.log, Log::Private(Vec::new())) {
                    Log::Shared { map, path, .. } if path == place.path => map,
                    _ => shm::open(Path::new(&place.path), place.len)?,
                };
                self.log = Log::Shared {
                    map,
                    path: place.path,
                    offset,
                    capacity,
                    count: 0,
                };
            }
        }
        self.cpu_at_begin = cpu_ns();
        self.cancelled = false;
        Ok(())
    }

    /// Runs `task`, whose items are `bytes` of the input buffer (with `offsets`) when they
    /// travelled with it, and records its span; returns its outcome, its output written to
    /// `out` at `out_at` (pipes only).
    fn run(
        &mut self,
        task: &Task,
        bytes: std::ops::Range<usize>,
        offsets: &[u64],
        out_at: usize,
    ) -> Result<TaskOutcome, ServeError> {
        let out_len = task.items.len() * self.workload.output_len();
        let (items, out) = match &mut self.shared {
            Some(Shared { map, place }) => {
                let out_at =
                    place.output.0 as usize + task.items.start * self.workload.output_len();
                if out_at + out_len > place.output.1 as usize || task.items.end as u64 > place.items
                {
                    return Err(ServeError::Protocol(format!(
                        "task {} ({:?}) lies outside the shared input",
                        task.id, task.items
                    )));
                }
                // The input and offsets lie before the output: split so both can be borrowed.
                let (head, tail) = map.split_at_mut(place.output.0 as usize);
                let input = &head[place.input.0 as usize..place.input.1 as usize];
                let all = match place.offsets {
                    Some((a, b)) => {
                        Items::with_offsets(input, as_u64s(&head[a as usize..b as usize])?, 0)
                    }
                    None => Items::fixed(input, self.item_len, 0),
                };
                let at = out_at - place.output.0 as usize;
                (all.slice(task.items.clone()), &mut tail[at..at + out_len])
            }
            None => {
                let bytes = self
                    .input
                    .get(bytes)
                    .ok_or_else(|| protocol_error(task, "items past the bytes that travelled"))?;
                let items = if offsets.is_empty() {
                    Items::fixed(bytes, self.item_len, task.items.start)
                } else {
                    Items::with_offsets(bytes, offsets, task.items.start)
                };
                if items.len() != task.items.len() {
                    return Err(ServeError::Protocol(format!(
                        "task {} has {} items but carried {}",
                        task.id,
                        task.items.len(),
                        items.len()
                    )));
                }
                let out = self
                    .out
                    .get_mut(out_at..out_at + out_len)
                    .ok_or_else(|| protocol_error(task, "output past the chunk's"))?;
                (items, out)
            }
        };
        let start = self.clock.ticks();
        let outcome = execute_items(
            Work::of(self.workload.as_ref(), self.round.as_deref()),
            self.seed,
            self.policy,
            task,
            items,
            out,
        );
        let end = self.clock.ticks();
        self.record(Span {
            worker: self.worker,
            task: task.id,
            start_ns: start,
            end_ns: end,
        })?;
        Ok(outcome)
    }

    fn record(&mut self, span: Span) -> Result<(), ServeError> {
        match &mut self.log {
            Log::Private(spans) => spans.push(span),
            Log::Shared {
                map,
                offset,
                capacity,
                count,
                ..
            } => {
                if *count == *capacity {
                    return Err(ServeError::Protocol(format!(
                        "more than {capacity} tasks in one run"
                    )));
                }
                let at = *offset + *count * SPAN_BYTES;
                let slot = &mut map[at..at + SPAN_BYTES];
                slot[0..4].copy_from_slice(&span.worker.to_le_bytes());
                slot[4..8].copy_from_slice(&span.task.to_le_bytes());
                slot[8..16].copy_from_slice(&span.start_ns.to_le_bytes());
                slot[16..24].copy_from_slice(&span.end_ns.to_le_bytes());
                *count += 1;
            }
        }
        Ok(())
    }

    fn end(&mut self) -> FromWorker {
        let cpu_ns = cpu_ns().saturating_sub(self.cpu_at_begin);
        // A run's rounds end with it.
        self.round = None;
        self.keeping = false;
        self.kept = Vec::new();
        match &mut self.log {
            Log::Private(spans) => FromWorker::Logged {
                spans: std::mem::take(spans),
                shared: 0,
                cpu_ns,
            },
            Log::Shared { count, .. } => FromWorker::Logged {
                spans: Vec::new(),
                shared: std::mem::take(count) as u32,
                cpu_ns,
            },
        }
    }
}

/// The protocol error of a chunk whose `task` does not match what travelled with it.
fn protocol_error(task: &Task, what: &str) -> ServeError {
    ServeError::Protocol(format!("task {} ({:?}): {what}", task.id, task.items))
}

/// Reads the span at `at` of a shared log.
pub(crate) fn read_span(log: &[u8], at: usize) -> Span {
    let u32_at =
        |i: usize| u32::from_le_bytes(log[at + i..at + i + 4].try_into().unwrap_or([0; 4]));
    let u64_at =
        |i: usize| u64::from_le_bytes(log[at + i..at + i + 8].try_into().unwrap_or([0; 8]));
    Span {
        worker: u32_at(0),
        task: u32_at(4),
        start_ns: u64_at(8),
        end_ns: u64_at(16),
    }
}

/// The offsets table of a shared input, in place.
fn as_u64s(bytes: &[u8]) -> Result<&[u64], ServeError> {
    // SAFETY: every bit pattern is a valid u64; `align_to` returns an empty prefix only when
    // the bytes are aligned, which is checked.
    let (prefix, words, suffix) = unsafe { bytes.align_to::<u64>() };
    if prefix.is_empty() && suffix.is_empty() {
        Ok(words)
    } else {
        Err(ServeError::Protocol(
            "the offsets table is not aligned".into(),
        ))
    }
}

/// This process's peak resident set (`VmHWM`) and shared resident set (`RssShmem`), in bytes.
/// The pipes to the parent: stdin, and the real stdout, which the protocol owns from here on;
/// whatever a workload prints goes to stderr instead.
pub(crate) fn protocol_pipes() -> io::Result<(Sender<File>, FromParent)> {
    let protocol = rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?;
    rustix::stdio::dup2_stdout(io::stderr())?;
    // Read through a buffer of the worker's own (not stdin's), whose contents it can see.
    let from = rustix::io::fcntl_dupfd_cloexec(io::stdin(), 3)?;
    Ok((
        Sender::new(File::from(protocol)),
        Receiver::buffered(File::from(from), 1 << 16),
    ))
}

/// Arms the parent-death signal; false when the parent is already gone (this process was
/// re-parented before the signal was armed).
pub(crate) fn die_with(parent: u32) -> io::Result<bool> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    Ok(rustix::process::getppid().map(|p| p.as_raw_pid() as u32) == Some(parent))
}

/// This process's peak resident memory (`VmHWM`) and its shared part (`RssShmem`), in bytes.
pub(crate) fn own_memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmHWM:"), field("RssShmem:"))
}
