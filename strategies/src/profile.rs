//! Sampling profiles of a process, folded into stacks: what a profiled run records in the
//! cell's process and in each of its worker processes.
//!
//! The profiler is pprof, driven by `setitimer(ITIMER_PROF)`: it samples CPU time, so a thread
//! blocked on a pipe or a lock costs nothing and shows nowhere, and the kernel's tick bounds the
//! rate whatever rate is asked for.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Once;

use serde::{Deserialize, Serialize};

/// A process's profile as folded stacks: each rooted at the process (`process-pool worker 1`),
/// then the thread, then the frames from the outermost in, with the samples that saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stacks(pub Vec<(String, u64)>);

impl Stacks {
    /// `stacks` with the counts of equal stacks added up (zero counts dropped), sorted.
    pub fn merged(stacks: impl IntoIterator<Item = (String, u64)>) -> Self {
        let mut merged = BTreeMap::<String, u64>::new();
        for (stack, count) in stacks {
            *merged.entry(stack).or_default() += count;
        }
        Self(merged.into_iter().filter(|(_, n)| *n > 0).collect())
    }
}

/// Makes the unwinder ready once per process, before any sample can interrupt an allocation.
static WARM: Once = Once::new();

/// A profiler sampling this whole process.
///
/// ```
/// use parbench_strategies::profile::Profiler;
///
/// let profiler = Profiler::start(997)?;
/// let mut x = 1u64;
/// for i in 0..1_000_000u64 {
///     x = x.wrapping_mul(i | 1).rotate_left(7);
/// }
/// std::hint::black_box(x);
/// let stacks = profiler.finish("doc")?;
/// assert!(stacks.0.iter().all(|(stack, _)| stack.starts_with("doc;")));
/// # Ok::<(), String>(())
/// ```
pub struct Profiler {
    guard: pprof::ProfilerGuard<'static>,
}

impl fmt::Debug for Profiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiler").finish_non_exhaustive()
    }
}

impl Profiler {
    /// Starts sampling this process at `frequency` per second of CPU time (a request: the
    /// kernel's tick bounds it). One profiler runs in a process at a time.
    pub fn start(frequency: u32) -> Result<Self, String> {
        let build = || {
            pprof::ProfilerGuardBuilder::default()
                .frequency(frequency.clamp(1, i32::MAX as u32) as i32)
                .build()
                .map_err(|e| format!("the profiler could not start: {e}"))
        };
        // The unwinder reads the process's modules on its first sample, allocating: were that
        // sample to interrupt a thread inside `malloc`, the signal handler would wait for the
        // allocator's lock that thread holds, forever. So a first profiler takes one sample
        // here, on this thread, outside any allocation, and is dropped with it.
        WARM.call_once(|| {
            if let Ok(warm) = build() {
                // SAFETY: `raise` only sends this thread a signal whose handler pprof installed.
                unsafe { libc::raise(libc::SIGPROF) };
                drop(warm);
            }
        });
        Ok(Self { guard: build()? })
    }

    /// Samples taken so far (symbols are not resolved: this is cheap enough to poll).
    pub fn samples(&self) -> u64 {
        self.guard
            .report()
            .build_unresolved()
            .map_or(0, |r| r.data.values().map(|&c| c.max(0) as u64).sum())
    }

    /// Stops sampling and folds what was sampled, each stack rooted at `process`.
    ///
    /// The samples are copied out and the profiler stopped before any symbol is resolved:
    /// resolving reads the binary's debug information, which should neither be sampled nor
    /// be interrupted by the profiler's signal. Each address is resolved once.
    pub fn finish(self, process: &str) -> Result<Stacks, String> {
        let report = self
            .guard
            .report()
            .build_unresolved()
            .map_err(|e| format!("the profile could not be read: {e}"))?;
        drop(self.guard);
        let mut names: HashMap<usize, Vec<String>> = HashMap::new();
        let mut folded = Vec::with_capacity(report.data.len());
        for (frames, count) in &report.data {
            let thread = &frames.thread_name[..frames.thread_name_length];
            let thread = match String::from_utf8_lossy(thread) {
                name if name.is_empty() => frames.thread_id.to_string(),
                name => clean(&name),
            };
            let mut stack = format!("{process};{thread}");
            // Outermost first; an address names its inlined frames innermost first. Every frame
            // but the innermost is a return address: the call is the instruction before it.
            for (depth, frame) in frames.frames.iter().enumerate().rev() {
                let ip = if depth == 0 { frame.ip } else { frame.ip - 1 };
                let symbols = names.entry(ip).or_insert_with(|| resolve(ip));
                for name in symbols.iter().rev() {
                    stack.push(';');
                    stack.push_str(name);
                }
            }
            folded.push((stack, (*count).max(0) as u64));
        }
        Ok(Stacks::merged(folded))
    }
}

/// The functions at `ip`, innermost (inlined) first, demangled without their hashes.
fn resolve(ip: usize) -> Vec<String> {
    let mut names = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        names.push(match symbol.name() {
            Some(name) => clean(&format!("{name:#}")),
            None => format!("{ip:#x}"),
        });
    });
    if names.is_empty() {
        names.push(format!("{ip:#x}"));
    }
    names
}

/// `;` separates frames in a folded stack, and its last space the count.
fn clean(name: &str) -> String {
    name.replace(';', ":")
}
