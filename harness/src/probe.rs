//! Readings of this process: CPU time and peak resident memory.

/// CPU time (user + system) of every thread of this process, in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Resets this process's peak-RSS mark to its current RSS, so the next reading of
/// [`peak_rss_bytes`] covers only what follows. Returns whether the kernel allowed it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This process's peak resident memory (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Raises this process's open-files limit to its hard limit and returns the new soft limit.
///
/// An IO workload with a thousand requests in flight holds about two thousand descriptors
/// (both ends of every connection live in this process), more than the common soft limit of
/// 1,024.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_err() {
            return limit.current;
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_sees_a_touched_buffer() {
        reset_peak_rss();
        let before = peak_rss_bytes().unwrap();
        let buffer = vec![1u8; 64 << 20];
        std::hint::black_box(&buffer);
        let after = peak_rss_bytes().unwrap();
        assert!(after >= before + (60 << 20), "{before} -> {after}");
    }

    #[test]
    fn the_open_files_limit_ends_at_the_hard_limit() {
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        assert_eq!(raise_open_files_limit(), hard);
    }

    #[test]
    fn cpu_time_advances_with_work() {
        let start = process_cpu_ns();
        let mut x = 1u64;
        while process_cpu_ns() - start < 5_000_000 {
            x = std::hint::black_box(x.wrapping_mul(3));
        }
        assert!(process_cpu_ns() - start >= 5_000_000);
    }
}
