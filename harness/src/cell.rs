//! Isolated cells: every piece of work that runs workload or strategy code — preparing a
//! bucket's reference, measuring a cell — runs in a child process, `parbench cell`, so that a
//! crash, a hang or a runaway allocation fails that piece alone and its memory is its own.
//!
//! The parent writes a [`Request`] (JSON) to the child's stdin and reads one [`Reply`] from its
//! stdout. Meanwhile it samples the resident memory of the child's process tree every
//! [`SAMPLE_EVERY`], enforces the time limit and the memory limit (killing the child's whole
//! process group), and keeps the tail of its stderr (passed through to the terminal) to tell an
//! allocation failure from other aborts. A child that dies without a reply is classified by how
//! it ended: `timeout`, `oom`, `crash` (with its signal) — a panic is caught in the child and
//! reported as `panic` with its message.
//!
//! A cell that measures is profiled afterwards in the same process: it sends its measurement
//! first, so the profiled run can neither change it nor lose it (a profile that crashes or
//! hangs costs the profile alone), and the parent stops counting memory once the measurement
//! is in.

use std::collections::VecDeque;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use parbench_reports::{Features, Status};
use parbench_strategies::process::{describe, shm};
use parbench_strategies::{FailurePolicy, StrategySpec};
use parbench_workloads::{Answer, Params, Recipe};
use serde::{Deserialize, Serialize};

use crate::profile::{record, ProfileFailure, Profiled, Profiling};
use crate::sampler::{measure, Measured, Prepared};
use crate::suite::Sampling;
use crate::Plugins;

/// The hidden command a cell process runs.
pub const CELL_COMMAND: &str = "cell";

/// How often the parent samples the memory of a cell's processes.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// What a cell process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The workload.
    pub recipe: Recipe,
    /// Items in the input.
    pub size: usize,
    /// The seed of the input.
    pub seed: u64,
    /// Tasks to split the input into.
    pub tasks: usize,
    /// The failure policy.
    pub policy: FailurePolicy,
    /// The address-space limit of the process (`RLIMIT_AS`), if any.
    pub memory_limit: Option<u64>,
    /// The work.
    pub work: Work,
}

/// The two kinds of work a cell process does.
// One request a cell: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Work {
    /// Generate the input and compute the sequential reference.
    Prepare,
    /// Measure one strategy against a known answer.
    Measure {
        /// The strategy's registered name.
        strategy: String,
        /// Its parameters as `key=value`.
        params: Vec<String>,
        /// Workers.
        workers: usize,
        /// How many samples.
        sampling: Sampling,
        /// The reference answer (the child computes its own under fail-fast).
        expected: Answer,
        /// What preparing measured about the workload.
        features: Features,
        /// Profile the cell after measuring it, when set.
        profile: Option<Profiling>,
    },
}

/// What a cell process answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    /// The reference of a bucket.
    Prepared {
        /// The sequential answer.
        answer: Answer,
        /// The workload's measured features.
        features: Features,
    },
    /// A measured cell.
    Measured(Measured),
    /// Its profile, after [`Reply::Measured`] when the request asked for one.
    Profiled(Result<Profiled, ProfileFailure>),
    /// The work failed with an error (a wrong answer, a strategy error).
    Failed(String),
    /// The work panicked outside a task.
    Panicked(String),
}

/// How a cell ended when it gave no reply of its own, or failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Its status.
    pub status: Status,
    /// What happened.
    pub message: String,
}

/// Limits the parent enforces on a cell.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time before the cell's processes are killed.
    pub time: Duration,
    /// Resident memory of the cell's processes together (also the child's address-space
    /// limit).
    pub memory: Option<u64>,
    /// Wall time from the reply to the process's end (its profiled run) before the cell's
    /// processes are killed; the measurement stands.
    pub after_reply: Duration,
}

/// The process group of the cell running now (0 for none), for the signal handler.
static CURRENT: AtomicU32 = AtomicU32::new(0);

/// The process group of the cell running now, if any.
pub fn current() -> Option<u32> {
    match CURRENT.load(Ordering::SeqCst) {
        0 => None,
        pid => Some(pid),
    }
}

/// What an isolated piece of work produced: its reply or fault, and the peak resident memory
/// of its process tree as sampled.
pub struct Isolated {
    /// The reply, or how the process ended without one.
    pub outcome: Result<Reply, Fault>,
    /// The profile that followed the reply, when one was asked for and the work succeeded.
    pub profile: Option<Result<Profiled, ProfileFailure>>,
    /// Wall time from the reply to the process's end: what profiling cost.
    pub after_reply: Duration,
    /// The largest sampled sum of resident memory over the child's processes until its reply
    /// came (a profiled run after it is not the cell's measurement).
    pub sampled_peak_rss: u64,
}

/// Runs `request` in a child process under `limits`.
pub fn isolate(request: &Request, limits: Limits) -> Isolated {
    match spawn_and_wait(request, limits) {
        Ok(isolated) => isolated,
        Err(e) => Isolated {
            outcome: Err(Fault {
                status: Status::Crash,
                message: format!("could not run the cell process: {e}"),
            }),
            profile: None,
            after_reply: Duration::ZERO,
            sampled_peak_rss: 0,
        },
    }
}

fn spawn_and_wait(request: &Request, limits: Limits) -> io::Result<Isolated> {
    let profiling = matches!(
        request.work,
        Work::Measure {
            profile: Some(_),
            ..
        }
    );
    let mut child = Command::new(std::env::current_exe()?)
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
    let (Some(mut stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("the cell's pipes were not created"));
    };
    let request = serde_json::to_vec(request).map_err(io::Error::other)?;
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
            if replies.send(reply).is_err() {
                break;
            }
        }
    });
    let tail = Arc::new(Mutex::new(VecDeque::<u8>::new()));
    let kept = tail.clone();
    let passthrough = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut terminal = io::stderr();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = terminal.write_all(&buf[..n]);
            let mut tail = kept.lock().unwrap_or_else(PoisonError::into_inner);
            tail.extend(&buf[..n]);
            let excess = tail.len().saturating_sub(8192);
            tail.drain(..excess);
        }
    });

    let deadline = Instant::now() + limits.time;
    let mut peak = 0u64;
    let mut killed = None;
    let mut received = Vec::new();
    let mut replied = None;
    let status = loop {
        received.extend(arrived.try_iter());
        if !received.is_empty() {
            replied.get_or_insert_with(Instant::now);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let rss = tree_rss(pid);
        if received.is_empty() {
            peak = peak.max(rss);
        }
        if killed.is_none() {
            let profiling_for = replied.map(|t: Instant| t.elapsed());
            if profiling_for.is_some_and(|t| t > limits.after_reply) {
                killed = Some(Fault {
                    status: Status::Timeout,
                    message: format!(
                        "its profiled run ran past {}",
                        humantime::format_duration(limits.after_reply)
                    ),
                });
            } else if Instant::now() >= deadline {
                killed = Some(Fault {
                    status: Status::Timeout,
                    message: format!(
                        "ran past the cell time limit of {}",
                        humantime::format_duration(limits.time)
                    ),
                });
            } else if let Some(limit) = limits.memory.filter(|&limit| rss > limit) {
                killed = Some(Fault {
                    status: Status::Oom,
                    message: format!(
                        "its processes held {} MiB, over the memory limit of {} MiB",
                        rss >> 20,
                        limit >> 20
                    ),
                });
            }
            if killed.is_some() {
                kill_group(pid);
            }
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    // The cell is gone: its workers die with it (parent-death signal) or are killed here with
    // its group; reap the ones re-parented to us, and remove any segment it left.
    kill_group(pid);
    reap_orphans();
    let _ = shm::sweep(pid);
    CURRENT.store(0, Ordering::SeqCst);
    reader
        .join()
        .map_err(|_| io::Error::other("the reply reader panicked"))?;
    received.extend(arrived.try_iter());
    let _ = passthrough.join();
    let tail = String::from_utf8_lossy(
        &tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect::<Vec<u8>>(),
    )
    .into_owned();

    let after_reply = replied.map_or(Duration::ZERO, |t| t.elapsed());
    let fault = || {
        killed
            .clone()
            .unwrap_or_else(|| classify(status, &tail, limits.memory))
    };
    let mut received = received.into_iter();
    let Some(reply) = received.next() else {
        return Ok(Isolated {
            outcome: Err(fault()),
            profile: None,
            after_reply,
            sampled_peak_rss: peak,
        });
    };
    let wanted = profiling && matches!(reply, Reply::Measured(_));
    let profile = match (received.next(), wanted) {
        (Some(Reply::Profiled(profile)), _) => Some(profile),
        (Some(other), _) => Some(Err(ProfileFailure::Profiler(format!(
            "the cell process answered out of turn: {other:?}"
        )))),
        (None, true) => Some(Err(ProfileFailure::Profiler(fault().message))),
        (None, false) => None,
    };
    Ok(Isolated {
        outcome: Ok(reply),
        profile,
        after_reply,
        sampled_peak_rss: peak,
    })
}

/// How a cell process that gave no reply ended.
fn classify(status: ExitStatus, stderr_tail: &str, memory_limit: Option<u64>) -> Fault {
    // Rust's allocation-failure handler prints this line, then aborts.
    if let Some(line) = stderr_tail
        .lines()
        .find(|l| l.contains("memory allocation of"))
    {
        let limit = memory_limit.map_or(String::new(), |l| {
            format!(" (memory limit {} MiB)", l >> 20)
        });
        return Fault {
            status: Status::Oom,
            message: format!("{}{limit}", line.trim()),
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
pub fn kill_group(pgid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pgid as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Reaps every child process that has exited or is exiting (giving up after two seconds):
/// worker processes re-parented to this process (a child subreaper) when their cell died, or
/// children just killed.
pub fn reap_orphans() {
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
pub fn become_subreaper() {
    let me = rustix::process::Pid::from_raw(std::process::id() as i32);
    let _ = rustix::process::set_child_subreaper(me);
}

/// Resident memory of process `pid` and its descendants, counting shared pages once: the
/// private pages of each process plus the largest shared part of any (the segments a cell and
/// its workers map are the same pages).
fn tree_rss(pid: u32) -> u64 {
    let page = rustix::param::page_size() as u64;
    let mut private = 0;
    let mut shared = 0;
    let mut pending = vec![pid];
    while let Some(pid) = pending.pop() {
        // `statm`: size resident shared ... in pages.
        let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
            continue;
        };
        let mut fields = statm.split_whitespace().skip(1).map(|f| f.parse::<u64>());
        if let (Some(Ok(resident)), Some(Ok(file_or_shared))) = (fields.next(), fields.next()) {
            private += resident.saturating_sub(file_or_shared) * page;
            shared = shared.max(file_or_shared * page);
        }
        pending.extend(children(pid));
    }
    private + shared
}

/// The children of process `pid`, from each of its threads' `children` file.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The cell process: reads a request on stdin, does the work, writes the reply on stdout.
pub fn serve(plugins: &Plugins) -> io::Result<()> {
    // Die with the harness (its worker processes then die with this one).
    let parent = rustix::process::getppid();
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    if rustix::process::getppid() != parent || parent.is_none() {
        return Ok(());
    }
    // The reply owns the real stdout; whatever the work prints goes to stderr instead.
    let reply_fd = rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?;
    rustix::stdio::dup2_stdout(io::stderr())?;
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes)?;
    let request: Request = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    if let Some(limit) = request.memory_limit {
        let limit = rustix::process::Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        };
        rustix::process::setrlimit(rustix::process::Resource::As, limit)?;
    }
    let mut out = std::fs::File::from(reply_fd);
    let mut send = |reply: &Reply| {
        serde_json::to_writer(&mut out, reply).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    let (reply, then) = caught(|| work(request, plugins))
        .unwrap_or_else(|message| (Reply::Panicked(message), None));
    send(&reply)?;
    // The measurement is out: now the profiled run, which cannot change or lose it.
    if let Some(cell) = then {
        let profile = caught(|| {
            let job = cell.prepared.job(cell.workers, cell.seed, cell.policy);
            record(
                &cell.prepared,
                (cell.spec, &cell.params),
                &job,
                cell.profiling,
            )
        })
        .unwrap_or_else(|message| Err(ProfileFailure::Strategy(format!("panicked: {message}"))));
        send(&Reply::Profiled(profile))?;
    }
    Ok(())
}

/// Runs `f`, turning a panic into its message.
fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
    })
}

/// A measured cell kept for its profiled run.
struct ToProfile<'a> {
    prepared: Prepared,
    spec: &'a StrategySpec,
    params: Params,
    workers: usize,
    seed: u64,
    policy: FailurePolicy,
    profiling: Profiling,
}

/// Does the work; returns the reply and, for a measured cell that is to be profiled, what its
/// profiled run needs.
fn work(request: Request, plugins: &Plugins) -> (Reply, Option<ToProfile<'_>>) {
    let shape = (request.size, request.seed, request.tasks);
    match request.work {
        Work::Prepare => {
            match Prepared::new(
                request.recipe,
                &plugins.workloads,
                shape,
                request.policy,
                None,
            ) {
                Ok(prepared) => (
                    Reply::Prepared {
                        answer: prepared.reference.answer.clone(),
                        features: prepared.features,
                    },
                    None,
                ),
                Err(e) => (Reply::Failed(e), None),
            }
        }
        Work::Measure {
            strategy,
            params,
            workers,
            sampling,
            expected,
            features,
            profile,
        } => {
            let measured = plugins
                .strategies
                .get(&strategy)
                .map_err(|e| e.to_string())
                .and_then(|spec| {
                    let pairs: Vec<&str> = params.iter().map(String::as_str).collect();
                    let params =
                        Params::parse(spec.name, spec.params, &pairs).map_err(|e| e.to_string())?;
                    let mut prepared = Prepared::new(
                        request.recipe,
                        &plugins.workloads,
                        shape,
                        request.policy,
                        Some(expected),
                    )?;
                    // Contention is measured against the bucket's sequential run.
                    prepared.features = features;
                    let job = prepared.job(workers, request.seed, request.policy);
                    let measured = measure(&prepared, (spec, &params), &job, sampling)?;
                    Ok((measured, spec, params, prepared))
                });
            match measured {
                Ok((measured, spec, params, prepared)) => (
                    Reply::Measured(measured),
                    profile.map(|profiling| ToProfile {
                        prepared,
                        spec,
                        params,
                        workers,
                        seed: request.seed,
                        policy: request.policy,
                        profiling,
                    }),
                ),
                Err(e) => (Reply::Failed(e), None),
            }
        }
    }
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
        let own = tree_rss(std::process::id());
        assert!(own > 1 << 20, "{own}");
    }
}
