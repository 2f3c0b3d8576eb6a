//! The parent side of a cell: spawn `parbench cell`, write its [`Request`], watch its process
//! tree until it ends, and collect its replies — or, when it gave none, how it died.
//!
//! While the child works, the parent sleeps until a reply arrives or the child ends, waking
//! every [`SAMPLE_EVERY`] to sample the resident memory of the child's process tree and to
//! enforce the time limit and the memory limit (killing the child's whole process group): it
//! stays off the cores while samples are timed — the exact peaks come from the kernel's
//! high-water marks the child reports. It keeps the tail of the child's stderr (passed through
//! to the terminal) to tell an allocation failure from other aborts. A child that dies without
//! a reply is classified by how it ended: `timeout`, `oom`, `crash` (with its signal) — a panic
//! is caught in the child and reported as `panic` with its message.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parbench_reports::Status;
use parbench_strategies::now_ns;
use parbench_strategies::process::describe;

use super::protocol::{Reply, Request};
use super::CELL_COMMAND;

/// How often the parent samples the memory of a cell's processes and checks its limits. Each
/// sample reads `/proc` for every process of the tree: rarely enough that the parent stays off
/// the cores the samples are timed on, often enough that a runaway allocation is stopped within
/// a fraction of a second. The peaks a cell reports come from the kernel's high-water marks,
/// not from these samples.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// What the thread reading a cell's stdout hands over.
enum Arrival {
    /// A reply.
    Reply(Reply),
    /// The end of its stdout: the process has exited or is exiting.
    Closed,
}

/// How a cell ended when it gave no reply of its own, or failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    /// Its status.
    pub status: Status,
    /// What happened.
    pub message: String,
}

/// Limits the parent enforces on a cell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Wall time before the cell's processes are killed.
    pub time: Duration,
    /// Resident memory of the cell's processes together (also the child's address-space
    /// limit).
    pub memory: Option<u64>,
}

/// The process group of the cell running now (0 for none), for the signal handler.
static CURRENT: AtomicU32 = AtomicU32::new(0);

/// The process group of the cell running now, if any.
pub(crate) fn current() -> Option<u32> {
    match CURRENT.load(Ordering::SeqCst) {
        0 => None,
        pid => Some(pid),
    }
}

/// What an isolated piece of work produced: its reply or fault, the peak resident memory of
/// its process tree as sampled, and how long the process took.
pub(crate) struct Isolated {
    /// The reply, or how the process ended without one.
    pub outcome: Result<Reply, Fault>,
    /// The largest sampled sum of resident memory over the child's processes until its reply
    /// came.
    pub sampled_peak_rss: u64,
    /// Wall time from the spawn to the end of the process tree.
    pub elapsed: Duration,
    /// When the process tree was found ended, on the machine-wide monotonic clock.
    pub ended_ns: u64,
}

/// Runs `request` in a child process of `binary` (this binary, or the base build of a paired
/// run) under `limits`.
pub(crate) fn isolate(binary: &Path, request: &Request, limits: Limits) -> Isolated {
    let started = Instant::now();
    let isolated =
        Running::spawn(binary, request).and_then(|mut running| match running.watch(limits) {
            Ok(watched) => running.collect(watched, limits),
            Err(e) => {
                end_tree(running.pid);
                Err(e)
            }
        });
    let mut isolated = isolated.unwrap_or_else(|e| Isolated {
        outcome: Err(Fault {
            status: Status::Crash,
            message: format!("could not run the cell process: {e}"),
        }),
        sampled_peak_rss: 0,
        elapsed: Duration::ZERO,
        ended_ns: 0,
    });
    isolated.elapsed = started.elapsed();
    isolated.ended_ns = now_ns();
    isolated
}

/// A cell process at work, with the threads that read its replies and pass its stderr through.
struct Running {
    child: Child,
    pid: u32,
    arrived: mpsc::Receiver<Arrival>,
    reader: JoinHandle<()>,
    passthrough: JoinHandle<()>,
    /// The last bytes of its stderr.
    tail: Arc<Mutex<VecDeque<u8>>>,
}

/// What watching a cell process saw until it ended.
struct Watched {
    status: ExitStatus,
    /// The largest sampled memory of its tree before the first reply.
    peak: u64,
    /// Why the parent killed it, if it did.
    killed: Option<Fault>,
    received: Vec<Reply>,
}

/// The bytes of a cell's stderr kept to classify its death.
const STDERR_TAIL: usize = 8192;

impl Running {
    /// Starts `parbench cell` in its own process group and hands it the request.
    fn spawn(binary: &Path, request: &Request) -> io::Result<Self> {
        let request = Request {
            spawned_ns: now_ns(),
            ..request.clone()
        };
        let mut child = Command::new(binary)
            .arg(CELL_COMMAND)
            // Its own process group: the whole tree (the cell and its worker processes) can be
            // killed at once.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pid = child.id();
        CURRENT.store(pid, Ordering::SeqCst);
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            CURRENT.store(0, Ordering::SeqCst);
            return Err(io::Error::other("the cell's pipes were not created"));
        };
        let request = serde_json::to_vec(&request).map_err(io::Error::other)?;
        // A child that dies at once closes its stdin: its exit status tells why, not this write.
        let _ = stdin.write_all(&request);
        drop(stdin);

        // Replies are JSON documents one after another; each is handed over as it arrives.
        let (replies, arrived) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let stream = serde_json::Deserializer::from_reader(BufReader::new(stdout));
            for reply in stream.into_iter::<Reply>() {
                // A truncated document is a process that died mid-write: its status tells why.
                let Ok(reply) = reply else { break };
                if replies.send(Arrival::Reply(reply)).is_err() {
                    return;
                }
            }
            let _ = replies.send(Arrival::Closed);
        });
        let tail = Arc::new(Mutex::new(VecDeque::<u8>::new()));
        let passthrough = std::thread::spawn({
            let kept = tail.clone();
            move || pass_stderr_through(stderr, &kept)
        });
        Ok(Self {
            child,
            pid,
            arrived,
            reader,
            passthrough,
            tail,
        })
    }

    /// Waits for the process to end, sampling the tree's memory every [`SAMPLE_EVERY`] and
    /// killing its group past a limit.
    fn watch(&mut self, limits: Limits) -> io::Result<Watched> {
        let deadline = Instant::now() + limits.time;
        let mut watched = Watched {
            status: ExitStatus::default(),
            peak: 0,
            killed: None,
            received: Vec::new(),
        };
        let mut closed = false;
        let mut next_sample = Instant::now();
        watched.status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            let now = Instant::now();
            if now >= next_sample {
                let tree = tree_memory(self.pid);
                if watched.received.is_empty() {
                    watched.peak = watched.peak.max(tree.rss);
                }
                if watched.killed.is_none() {
                    watched.killed = over_limit(limits, deadline, &tree);
                    if watched.killed.is_some() {
                        kill_group(self.pid);
                    }
                }
                next_sample = now + SAMPLE_EVERY;
            }
            if closed {
                // Its stdout is closed: it is exiting; the status follows within moments.
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            let wait = next_sample.saturating_duration_since(Instant::now());
            match self.arrived.recv_timeout(wait) {
                Ok(Arrival::Reply(reply)) => watched.received.push(reply),
                Ok(Arrival::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => closed = true,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        };
        Ok(watched)
    }

    /// Cleans up after the ended process and turns what it sent into an [`Isolated`].
    fn collect(self, mut watched: Watched, limits: Limits) -> io::Result<Isolated> {
        end_tree(self.pid);
        self.reader
            .join()
            .map_err(|_| io::Error::other("the reply reader panicked"))?;
        watched
            .received
            .extend(self.arrived.try_iter().filter_map(|arrival| match arrival {
                Arrival::Reply(reply) => Some(reply),
                Arrival::Closed => None,
            }));
        let _ = self.passthrough.join();
        let tail = {
            let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
            String::from_utf8_lossy(&tail.iter().copied().collect::<Vec<u8>>()).into_owned()
        };
        let Watched {
            status,
            peak,
            killed,
            received,
            ..
        } = watched;
        // A process killed after its reply (past a limit while exiting) still replied.
        let outcome = match received.into_iter().next() {
            // A worker that died of an allocation its address-space limit refused: the cell
            // ran out of memory.
            Some(Reply::Crashed(message)) => match allocation_failure(&tail, limits.memory) {
                Some(failed) => Err(Fault {
                    status: Status::Oom,
                    message: format!("{message}, after `{failed}`"),
                }),
                None => Ok(Reply::Crashed(message)),
            },
            Some(reply) => Ok(reply),
            None => Err(killed.unwrap_or_else(|| classify(status, &tail, limits.memory))),
        };
        Ok(Isolated {
            outcome,
            sampled_peak_rss: peak,
            elapsed: Duration::ZERO,
            ended_ns: 0,
        })
    }
}

/// Ends what is left of the cell process `pid`'s tree: its workers die with it (parent-death
/// signal) or are killed here with its group, and the ones re-parented to us are reaped (their
/// shared memory goes with the last of them).
fn end_tree(pid: u32) {
    kill_group(pid);
    reap_orphans();
    CURRENT.store(0, Ordering::SeqCst);
}

/// Copies a cell's stderr to ours, keeping its last [`STDERR_TAIL`] bytes in `kept`.
fn pass_stderr_through(mut stderr: impl Read, kept: &Mutex<VecDeque<u8>>) {
    let mut buf = [0u8; 4096];
    let mut terminal = io::stderr();
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        let _ = terminal.write_all(&buf[..n]);
        let mut tail = kept.lock().unwrap_or_else(PoisonError::into_inner);
        tail.extend(&buf[..n]);
        let excess = tail.len().saturating_sub(STDERR_TAIL);
        tail.drain(..excess);
    }
}

/// The limit a cell with `tree` is past, if any: its time or its memory.
fn over_limit(limits: Limits, deadline: Instant, tree: &TreeMemory) -> Option<Fault> {
    if Instant::now() >= deadline {
        return Some(Fault {
            status: Status::Timeout,
            message: format!(
                "ran past the cell time limit of {}",
                humantime::format_duration(limits.time)
            ),
        });
    }
    let limit = limits.memory.filter(|&limit| tree.rss > limit)?;
    let largest = tree.largest.map_or(String::new(), |(pid, private)| {
        format!(
            "; the largest, {} (pid {pid}), held {} MiB of its own",
            role(pid),
            private >> 20
        )
    });
    Some(Fault {
        status: Status::Oom,
        message: format!(
            "its processes held {} MiB, over the memory limit of {} MiB{largest}",
            tree.rss >> 20,
            limit >> 20
        ),
    })
}

/// What process `pid` of a cell's tree is, by the hidden command it runs (see
/// [`crate::plugins::HIDDEN_COMMANDS`]): `the cell process`, `a worker process`, `a timely
/// node`, or its program's name.
fn role(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut args = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let program = args.next().unwrap_or_default();
    match args.next().as_deref() {
        Some(CELL_COMMAND) => "the cell process".to_owned(),
        Some(parbench_strategies::process::WORKER_COMMAND) => "a worker process".to_owned(),
        // `dataflow::NODE_COMMAND`, which builds without the `timely` feature have no name for.
        Some("timely-node") => "a timely node".to_owned(),
        _ => match program.rsplit('/').next() {
            Some(name) if !name.is_empty() => format!("`{name}`"),
            _ => "a process".to_owned(),
        },
    }
}

/// The allocation failure a process of the cell's tree reported on the stderr they share, with
/// the memory limit: `memory allocation of 67108864 bytes failed (memory limit 512 MiB)`.
fn allocation_failure(stderr_tail: &str, memory_limit: Option<u64>) -> Option<String> {
    // Rust's allocation-failure handler prints this line, then aborts.
    let line = stderr_tail
        .lines()
        .find(|l| l.contains("memory allocation of"))?;
    let limit = memory_limit.map_or(String::new(), |l| {
        format!(" (memory limit {} MiB)", l >> 20)
    });
    Some(format!("{}{limit}", line.trim()))
}

/// How a cell process that gave no reply ended.
fn classify(status: ExitStatus, stderr_tail: &str, memory_limit: Option<u64>) -> Fault {
    if let Some(message) = allocation_failure(stderr_tail, memory_limit) {
        return Fault {
            status: Status::Oom,
            message,
        };
    }
    let last = stderr_tail
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(String::new(), |l| format!(" after printing `{}`", l.trim()));
    Fault {
        status: Status::Crash,
        message: format!("the cell process ended: {}{last}", describe(status)),
    }
}

/// Kills every process of the group `pgid`.
pub(crate) fn kill_group(pgid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Reaps every child process that has exited or is exiting (giving up after two seconds):
/// worker processes re-parented to this process (a child subreaper) when their cell died, or
/// children just killed.
pub(crate) fn reap_orphans() {
    use rustix::process::{wait, WaitOptions};
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => {}
            // Some still exiting (killed a moment ago).
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            _ => return,
        }
    }
}

/// Makes this process the reaper of its descendants' orphans, so that worker processes of a
/// cell that died are reaped here rather than left as zombies.
pub(crate) fn become_subreaper() {
    let me = rustix::process::Pid::from_raw(std::process::id() as i32);
    let _ = rustix::process::set_child_subreaper(me);
}

/// The resident memory of a process tree.
#[derive(Debug, Default)]
struct TreeMemory {
    /// Of every process, counting shared pages once.
    rss: u64,
    /// The process with the most private memory, and that memory.
    largest: Option<(u32, u64)>,
}

/// Resident memory of process `pid` and its descendants, counting shared pages once: the
/// private pages of each process plus the largest shared part of any (the segments a cell and
/// its workers map are the same pages).
fn tree_memory(pid: u32) -> TreeMemory {
    let page = rustix::param::page_size() as u64;
    let mut tree = TreeMemory::default();
    let mut shared = 0;
    let mut pending = vec![pid];
    while let Some(pid) = pending.pop() {
        // `statm`: size resident shared ... in pages.
        let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
            continue;
        };
        let mut fields = statm.split_whitespace().skip(1).map(|f| f.parse::<u64>());
        if let (Some(Ok(resident)), Some(Ok(file_or_shared))) = (fields.next(), fields.next()) {
            let private = resident.saturating_sub(file_or_shared) * page;
            tree.rss += private;
            shared = shared.max(file_or_shared * page);
            if tree.largest.is_none_or(|(_, most)| private > most) {
                tree.largest = Some((pid, private));
            }
        }
        pending.extend(crate::probe::child_pids(pid));
    }
    tree.rss += shared;
    tree
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn a_silent_death_is_classified_by_its_status_and_stderr() {
        let abort = ExitStatus::from_raw(6);
        let oom = classify(
            abort,
            "some line\nmemory allocation of 1073741824 bytes failed\n\
             memory allocation of 1792 bytes failed\n",
            Some(512 << 20),
        );
        assert_eq!(oom.status, Status::Oom);
        assert_eq!(
            oom.message,
            "memory allocation of 1073741824 bytes failed (memory limit 512 MiB)"
        );
        let segv = classify(ExitStatus::from_raw(11), "", None);
        assert_eq!(
            (segv.status, segv.message.as_str()),
            (
                Status::Crash,
                "the cell process ended: killed by signal 11 (SIGSEGV)"
            )
        );
        let exit = classify(ExitStatus::from_raw(3 << 8), "bad things\n\n", None);
        assert_eq!(
            exit.message,
            "the cell process ended: exited with status 3 after printing `bad things`"
        );
    }

    #[test]
    fn the_tree_of_this_process_is_measured() {
        let own = tree_memory(std::process::id()).rss;
        assert!(own > 1 << 20, "{own}");
    }
}
