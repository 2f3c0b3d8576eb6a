//! Ctrl-C, `SIGTERM` and `SIGHUP`: stop at once, leave nothing behind, exit with 128 + the
//! signal (130 for Ctrl-C).
//!
//! A dedicated thread waits for the signal (through `signal-hook`, so no work happens inside a
//! signal handler). It then waits for a results file being written to be complete, kills and
//! reaps the worker processes (Ctrl-C reaches them too, but an exiting parent would leave them
//! as zombies for an init that, in some containers, never reaps), and exits. Shared-memory
//! segments have no name to remove: they go with the last process that holds them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Held while results are written, and for good once a signal arrived.
static WRITING: Mutex<()> = Mutex::new(());

/// Starts the thread that handles termination signals for the rest of the process's life,
/// once per process (a library caller may run several suites).
pub(crate) fn install() -> std::io::Result<()> {
    install_saying(
        "interrupted: the cells measured so far are saved in results.json; `parbench report DIR` \
         renders them",
    )
}

/// [`install`], with the line the process prints as it exits on a signal.
pub(crate) fn install_saying(message: &'static str) -> std::io::Result<()> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| start(message).map_err(|e| e.to_string()))
        .clone()
        .map_err(std::io::Error::other)
}

/// Set by the signal handler itself, as the signal arrives: before any thread of this process
/// can see what the signal did to its children (a worker killed by the same Ctrl-C).
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Whether a termination signal has arrived: the process is about to exit with 128 + it, and a
/// failure seen now is the signal's doing, not one to report.
#[cfg_attr(not(feature = "criterion"), allow(dead_code))]
pub(crate) fn interrupted() -> bool {
    INTERRUPTED
        .get()
        .is_some_and(|flag| flag.load(Ordering::SeqCst))
}

fn start(message: &'static str) -> std::io::Result<()> {
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(flag))?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("parbench-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // No results file is left half-written, and none is written after this.
                std::mem::forget(WRITING.lock().unwrap_or_else(PoisonError::into_inner));
                // The cell running now, with its worker processes (their shared memory goes
                // with them), and every other child, the one starting as the signal came too.
                if let Some(cell) = crate::cell::parent::current() {
                    crate::cell::parent::kill_group(cell);
                }
                end_children();
                eprintln!("\n{message}");
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Keeps the signal thread from exiting while results are written.
pub(crate) fn writing() -> MutexGuard<'static, ()> {
    WRITING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills this process's children and reaps them, giving up after two seconds.
fn end_children() {
    use rustix::process::{kill_process, Pid, Signal};
    let children = crate::probe::child_pids(std::process::id());
    for &child in &children {
        if let Some(pid) = Pid::from_raw(child as i32) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
    crate::cell::parent::reap_orphans();
}
