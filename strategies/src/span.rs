//! Per-task spans on the monotonic clock.

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

/// One task's execution on one worker, in `CLOCK_MONOTONIC` nanoseconds (retries included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The worker that ran it, `0..workers`.
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
}
