//! One worker process as the strategy sees it: spawned from this binary, spoken to over its
//! stdin and stdout, and always reaped.

use std::io::{self, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};

use super::wire::{Receiver, Sender};

/// The hidden command a binary answers by serving as a worker ([`super::serve`]).
pub const WORKER_COMMAND: &str = "worker";

/// Pipe capacity asked for: 1 MiB, the default limit for unprivileged processes
/// (`/proc/sys/fs/pipe-max-size`), so a large message crosses in a few writes instead of one
/// per 64 KiB.
const PIPE_SIZE: usize = 1 << 20;

/// A running worker process.
#[derive(Debug)]
pub struct Worker {
    /// Its index.
    pub index: usize,
    /// Its process id.
    pub pid: u32,
    child: Child,
    status: Option<ExitStatus>,
    /// The bytes its input pipe holds: how much may be queued ahead without a write waiting.
    pub capacity: usize,
    /// Messages to it.
    pub to: Sender<ChildStdin>,
    /// Messages from it, read through a buffer: a small one takes one read.
    pub from: Receiver<BufReader<ChildStdout>>,
}

impl Worker {
    /// Starts worker `index`: this binary again, with the worker command; stderr is shared so
    /// that a worker's own crash report reaches the terminal.
    pub fn spawn(index: usize) -> io::Result<Self> {
        Self::spawn_command(index, WORKER_COMMAND)
    }

    /// Starts worker `index` as this binary's hidden `command`.
    pub fn spawn_command(index: usize, command: &str) -> io::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the worker's pipes were not created"));
        };
        // A larger pipe is an optimization only; the default works.
        let _ = rustix::pipe::fcntl_setpipe_size(&stdin, PIPE_SIZE);
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, PIPE_SIZE);
        // Unknown, the pipe holds at least what POSIX guarantees to write at once.
        let capacity = rustix::pipe::fcntl_getpipe_size(&stdin).unwrap_or(rustix::pipe::PIPE_BUF);
        Ok(Self {
            index,
            pid: child.id(),
            child,
            status: None,
            capacity,
            to: Sender::new(stdin),
            from: Receiver::buffered(stdout, 1 << 16),
        })
    }

    /// Waits up to `grace` for the worker to exit (after `Shutdown`, or once its pipe closed),
    /// then kills it; reaps it either way, so it never lingers as a zombie.
    pub fn reap(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if self.child.try_wait()?.is_none() {
            wait_exit(self.pid, grace);
        }
        self.kill()
    }

    /// How the worker ended, once it has been reaped.
    #[cfg(feature = "timely")]
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Whether the worker has exited (reaping it if so).
    #[cfg(feature = "timely")]
    pub fn exited(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.status = Some(status);
                true
            }
            _ => false,
        }
    }

    /// Kills the worker unless it has exited, and reaps it.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if self.child.try_wait()?.is_none() {
            let _ = self.child.kill();
        }
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for Worker {
    /// No path leaves a worker running or unreaped.
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Blocks until process `pid` exits or `grace` passes; a pidfd turns the wait into one `poll`
/// instead of a sleep loop.
fn wait_exit(pid: u32, grace: Duration) {
    let Some(pid) = Pid::from_raw(pid as i32) else {
        return;
    };
    let deadline = Instant::now() + grace;
    match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = rustix::time::Timespec::try_from(left).unwrap_or_default();
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Err(rustix::io::Errno::INTR) if !left.is_zero() => continue,
                _ => return,
            }
        },
        // Kernels without pidfds (before 5.3): a short sleep loop.
        Err(_) => {
            while Instant::now() < deadline
                && std::fs::metadata(format!("/proc/{}", pid.as_raw_nonzero())).is_ok()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// How a process ended, in words: `exited with status 3`, `killed by signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    match status.signal() {
        Some(signal) => {
            let core = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            match signal_name(signal) {
                Some(name) => format!("killed by signal {signal} ({name}){core}"),
                None => format!("killed by signal {signal}{core}"),
            }
        }
        None => format!("ended with {status}"),
    }
}

/// The name of a standard Linux signal.
fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signal)
        .ok()
        .and_then(|s| s.checked_sub(1))
        .and_then(|i| NAMES.get(i).copied())
}

/// Blocks until one of `workers` has something to say on its pipe — or closed it: the read then
/// tells why — and returns, for each, whether it has. `strategy` names the strategy in the
/// error of a failed poll.
pub fn wait_readable<'a>(
    workers: impl IntoIterator<Item = &'a Worker>,
    strategy: &str,
) -> Result<Vec<bool>, crate::StrategyError> {
    let workers: Vec<&Worker> = workers.into_iter().collect();
    // A message already buffered is ready whatever its pipe says.
    if workers.iter().any(|w| w.from.has_buffered()) {
        return Ok(workers.iter().map(|w| w.from.has_buffered()).collect());
    }
    let fds: Vec<_> = workers.iter().map(|w| w.from.fd()).collect();
    let mut fds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    loop {
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(crate::StrategyError::Internal {
                    strategy: strategy.to_owned(),
                    message: format!("poll failed: {e}"),
                })
            }
        }
    }
    Ok(fds.iter().map(|fd| !fd.revents().is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_described_with_signal_names() {
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(6 | 0x80)),
            "killed by signal 6 (SIGABRT), core dumped"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(signal_name(15), Some("SIGTERM"));
        assert_eq!(signal_name(64), None);
    }
}
