//! Per-task spans on the monotonic clock, and the cheap clock the hot path reads.
//!
//! Reading `CLOCK_MONOTONIC` costs about 30 ns even through the vDSO, and a span needs two
//! reads. Where the CPU's time-stamp counter is invariant (x86-64 with `constant_tsc` and
//! `nonstop_tsc`: one rate on every core, never stopped) the hot path reads it instead (about
//! 12 ns), and the ticks are converted to `CLOCK_MONOTONIC` nanoseconds after the run by
//! interpolating between two anchors — (ticks, nanoseconds) pairs taken at the run's start and
//! end. The conversion is monotonic, so every span lies inside the run. Elsewhere the ticks are
//! the monotonic clock's nanoseconds and the conversion is the identity.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Nanoseconds on `CLOCK_MONOTONIC`.
///
/// Linux keeps one monotonic clock for the whole machine, so timestamps taken in different
/// worker processes line up on one time axis.
#[inline]
pub fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The clock the hot path reads: the time-stamp counter when it is invariant, else
/// [`now_ns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    tsc: bool,
}

fn invariant_tsc() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
        info.lines()
            .find(|l| l.starts_with("flags"))
            .is_some_and(|flags| {
                let has = |f: &str| flags.split_whitespace().any(|w| w == f);
                has("constant_tsc") && has("nonstop_tsc")
            })
    })
}

impl Clock {
    /// This machine's clock, detected once per process.
    pub fn get() -> Self {
        static TSC: OnceLock<bool> = OnceLock::new();
        Self {
            tsc: *TSC.get_or_init(invariant_tsc),
        }
    }

    /// The monotonic clock itself, for tests and machines without an invariant counter.
    pub fn monotonic() -> Self {
        Self { tsc: false }
    }

    /// The clock another process of this machine reads when the parent's clock `is_tsc`: the
    /// counter is one for the whole machine, so a worker's readings convert with the parent's
    /// anchors.
    pub fn shared(tsc: bool) -> Self {
        Self {
            tsc: tsc && cfg!(target_arch = "x86_64"),
        }
    }

    /// Whether it reads the time-stamp counter.
    pub fn is_tsc(&self) -> bool {
        self.tsc
    }

    /// A raw reading, comparable only with readings of the same clock.
    #[inline]
    pub fn ticks(self) -> u64 {
        #[cfg(target_arch = "x86_64")]
        if self.tsc {
            // SAFETY: RDTSC exists on every x86-64 CPU and has no preconditions.
            #[allow(unused_unsafe)]
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
        now_ns()
    }

    /// A (ticks, nanoseconds) pair taken together: of three tries, the one whose clock
    /// readings around the ticks lie closest, with their midpoint. A thread preempted between
    /// the two readings would shift every span converted against the anchor by as long.
    pub fn anchor(self) -> Anchor {
        let read = || {
            let before = now_ns();
            let ticks = self.ticks();
            let gap = now_ns().saturating_sub(before);
            (
                gap,
                Anchor {
                    ticks,
                    ns: before + gap / 2,
                },
            )
        };
        let mut best = read();
        for _ in 0..2 {
            let next = read();
            if next.0 < best.0 {
                best = next;
            }
        }
        best.1
    }
}

/// A clock reading in both units, taken together at a run's start or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Raw ticks.
    pub ticks: u64,
    /// `CLOCK_MONOTONIC` nanoseconds.
    pub ns: u64,
}

/// Converts ticks read between `start` and `end` to monotonic nanoseconds, by interpolation.
pub fn ticks_to_ns(ticks: u64, start: Anchor, end: Anchor) -> u64 {
    let span_ticks = end.ticks.saturating_sub(start.ticks);
    let span_ns = end.ns.saturating_sub(start.ns);
    if span_ticks == 0 {
        return start.ns;
    }
    let elapsed = ticks.clamp(start.ticks, end.ticks) - start.ticks;
    start.ns + (u128::from(elapsed) * u128::from(span_ns) / u128::from(span_ticks)) as u64
}

/// One task's execution on one worker, in `CLOCK_MONOTONIC` nanoseconds (retries included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The worker (or lane) that ran it.
    pub worker: u32,
    /// The task's id.
    pub task: u32,
    /// When the task started.
    pub start_ns: u64,
    /// When it ended.
    pub end_ns: u64,
}

impl Span {
    /// Time inside the task.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_monotonic_and_in_nanoseconds() {
        let a = now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now_ns();
        assert!(b - a >= 2_000_000, "{a} -> {b}");
        assert!(b - a < 2_000_000_000);
    }

    #[test]
    fn ticks_convert_to_the_monotonic_clock() {
        let clock = Clock::get();
        let start = clock.anchor();
        let t1 = clock.ticks();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let before = now_ns();
        let t2 = clock.ticks();
        let after = now_ns();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let end = clock.anchor();
        let (n1, n2) = (ticks_to_ns(t1, start, end), ticks_to_ns(t2, start, end));
        assert!(start.ns <= n1 && n1 < n2 && n2 <= end.ns);
        // The converted reading lands between the real readings around it, give or take the
        // conversion's own error (the line between two anchors 10 ms apart): however long the
        // thread was held up between the readings, it is inside the window.
        assert!(
            before.saturating_sub(50_000) <= n2 && n2 <= after + 50_000,
            "{n2} outside [{before}, {after}]"
        );
    }

    #[test]
    fn conversion_is_clamped_and_exact_at_the_anchors() {
        let start = Anchor {
            ticks: 1_000,
            ns: 50,
        };
        let end = Anchor {
            ticks: 3_000,
            ns: 1_050,
        };
        assert_eq!(ticks_to_ns(1_000, start, end), 50);
        assert_eq!(ticks_to_ns(2_000, start, end), 550);
        assert_eq!(ticks_to_ns(3_000, start, end), 1_050);
        assert_eq!(ticks_to_ns(9_000, start, end), 1_050);
        assert_eq!(ticks_to_ns(0, start, end), 50);
    }
}
