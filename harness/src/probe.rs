//! Readings of this process: CPU time, peak resident memory, and the children it still has.

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

/// This process's child processes, from `/proc`, each with whether it is a zombie (exited,
/// not reaped). After a strategy's teardown there must be none.
pub fn children() -> Vec<Child> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            // A process may exit between the listing and the read: it is no child any more.
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`; the name may hold spaces and parentheses.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let (state, ppid) = (fields.next()?, fields.next()?);
            (ppid.parse::<u32>().ok()? == me).then_some(Child {
                pid,
                zombie: state == "Z",
            })
        })
        .collect()
}

/// A child process [`children`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child {
    /// Its process id.
    pub pid: u32,
    /// Whether it exited and was not reaped.
    pub zombie: bool,
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
    fn a_child_is_found_alive_then_as_a_zombie_until_it_is_reaped() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let state = || children().into_iter().find(|c| c.pid == pid);
        assert_eq!(state(), Some(Child { pid, zombie: false }));
        child.kill().unwrap();
        // Killed and not waited for: a zombie once the kernel has delivered the signal.
        let mut seen = state();
        for _ in 0..500 {
            if seen.is_some_and(|c| c.zombie) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            seen = state();
        }
        assert_eq!(seen, Some(Child { pid, zombie: true }));
        child.wait().unwrap();
        assert_eq!(state(), None);
    }
}
