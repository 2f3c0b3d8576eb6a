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

/// The processes, threads and open descriptors of this process and its descendants now.
pub fn tree_resources() -> parbench_reports::Resources {
    let count = |dir: String| std::fs::read_dir(dir).map_or(0, |d| d.count() as u32);
    let mut held = parbench_reports::Resources::default();
    let mut pending = vec![std::process::id()];
    while let Some(pid) = pending.pop() {
        let threads = count(format!("/proc/{pid}/task"));
        if threads == 0 {
            // It exited meanwhile.
            continue;
        }
        held.processes += 1;
        held.threads += threads;
        held.descriptors += count(format!("/proc/{pid}/fd"));
        pending.extend(child_pids(pid));
    }
    held
}

/// The limit a failure's `message` says was met, if it names one of the system's refusals
/// for want of resources: `EMFILE` (this process's open files, `RLIMIT_NOFILE`), `ENFILE`
/// (the machine's, `fs.file-max`) or `EAGAIN` from starting a process or thread (the user's
/// processes and threads, `RLIMIT_NPROC`, and the machine's, `kernel.threads-max`).
pub fn exhausted_limit(message: &str) -> Option<String> {
    use rustix::process::{getrlimit, Resource};
    let error = |code: i32| {
        message.contains(&format!("(os error {code})"))
            || message.contains(&format!("code: {code},"))
    };
    let limit = |resource| {
        getrlimit(resource)
            .current
            .map_or("no limit".to_owned(), |n| n.to_string())
    };
    let sysctl = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/{}", name.replace('.', "/")))
            .map_or_else(|_| "unknown".to_owned(), |v| v.trim().to_owned())
    };
    if error(24) {
        Some(format!(
            "a process may hold {} open files here: RLIMIT_NOFILE, `ulimit -n`",
            limit(Resource::Nofile)
        ))
    } else if error(23) {
        Some(format!(
            "the machine may hold {} open files: fs.file-max",
            sysctl("fs.file-max")
        ))
    } else if error(11)
        && (message.contains("spawn") || message.contains("thread") || message.contains("start"))
    {
        Some(format!(
            "a user may run {} processes and threads here (RLIMIT_NPROC, `ulimit -u`), the machine \
             {} threads (kernel.threads-max)",
            limit(Resource::Nproc),
            sysctl("kernel.threads-max")
        ))
    } else {
        None
    }
}

/// The children of process `pid`, from each of its threads' `children` file.
pub fn child_pids(pid: u32) -> Vec<u32> {
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
    fn a_refusal_for_want_of_resources_names_its_limit() {
        let files =
            exhausted_limit("could not start its workers: Too many open files (os error 24)")
                .unwrap();
        assert!(files.starts_with("a process may hold "), "{files}");
        assert!(
            files.ends_with(" open files here: RLIMIT_NOFILE, `ulimit -n`"),
            "{files}"
        );
        let threads = exhausted_limit(
            "failed to spawn thread: Os { code: 11, kind: WouldBlock, message: \"Resource \
             temporarily unavailable\" }",
        )
        .unwrap();
        assert!(threads.contains("(RLIMIT_NPROC, `ulimit -u`)"), "{threads}");
        assert!(exhausted_limit("the run differs from the sequential reference").is_none());
        // EAGAIN from a pipe that is full is no limit.
        assert!(exhausted_limit("write: Resource temporarily unavailable (os error 11)").is_none());
    }

    #[test]
    fn the_tree_counts_its_processes_threads_and_descriptors() {
        let before = tree_resources();
        assert!(before.processes >= 1 && before.threads >= 1 && before.descriptors >= 3);
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || release.recv());
        let child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let files: Vec<std::fs::File> = (0..10)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        let during = tree_resources();
        // Other tests run beside this one: at least what was added, likely more.
        assert!(
            during.processes > before.processes || during.processes >= 2,
            "{during:?}"
        );
        assert!(during.descriptors >= 10 + 3, "{during:?}");
        assert!(during.threads >= 2, "{during:?}");
        drop(files);
        drop(hold);
        let _ = thread.join();
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
    }

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
