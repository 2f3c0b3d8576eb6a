//! Shared-memory segments: anonymous memory files (`memfd_create`) mapped by the strategy and
//! its workers.
//!
//! A segment has no name in any file system: the strategy holds it open, and its workers open
//! it through the strategy's descriptor table (`/proc/<pid>/fd/<fd>`) and map it. The memory
//! lives exactly as long as some process holds the descriptor or a mapping, so a process
//! killed at any instant, by any signal, leaves nothing behind: there is nothing to sweep.
//!
//! Earlier versions named their segments `/dev/shm/parbench-<pid>-<n>`; [`sweep_stale`]
//! removes any such file whose process no longer exists.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

/// Where POSIX shared memory lives on Linux, and where earlier versions named segments.
const SHM_DIR: &str = "/dev/shm";

/// The name every segment's memory file carries (shown in `/proc/<pid>/fd` and `maps` as
/// `/memfd:parbench-segment (deleted)`).
const MEMFD_NAME: &str = "parbench-segment";

/// A segment this process created and mapped.
#[derive(Debug)]
pub struct Segment {
    /// Held for the segment's life: while it is open, its number cannot name another file.
    _file: File,
    path: PathBuf,
    map: MmapMut,
}

impl Segment {
    /// Creates and maps a new segment of `len` bytes, zero-filled.
    pub fn create(len: usize) -> io::Result<Self> {
        // A zero-length mapping is an error; a segment always has a byte to map.
        let len = len.max(1);
        // A memory file has no size limit of its own (a file in /dev/shm had the mount's): one
        // larger than the memory left would be reserved page by page until the kernel's
        // out-of-memory killer stepped in.
        if let Some(available) = available_memory().filter(|&a| len as u64 > a) {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot reserve {len} bytes of shared memory: {available} bytes are available"
                ),
            ));
        }
        let fd = rustix::fs::memfd_create(MEMFD_NAME, rustix::fs::MemfdFlags::CLOEXEC)?;
        let file = File::from(fd);
        // Reserve the pages now: a machine out of shared memory is then an error here, not a
        // SIGBUS when a process first writes to a page that has no room.
        rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, len as u64).map_err(
            |e| {
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("cannot reserve {len} bytes of shared memory: {e}"),
                )
            },
        )?;
        // SAFETY: the memory file is new and private to this strategy (no name; only this
        // process's descriptor reaches it); the workers that map it write only the disjoint
        // ranges the protocol hands them.
        let map = unsafe { MmapOptions::new().len(len).map_mut(&file)? };
        let path = Path::new("/proc")
            .join(std::process::id().to_string())
            .join("fd")
            .join(std::os::fd::AsRawFd::as_raw_fd(&file).to_string());
        Ok(Self {
            _file: file,
            path,
            map,
        })
    }

    /// Where workers open it: this process's descriptor of it, valid while the segment lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it has no bytes (never: a segment maps at least one).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The mapped bytes, to fill.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }
}

/// The memory this process may still take, in bytes: the machine's available memory
/// (`MemAvailable`), or less when its control group's limit leaves less. `None` when neither
/// can be read.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let machine = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib << 10);
    let read = |file: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    // cgroup v2 at the root of this process's view; "max" (no limit) does not parse.
    let group =
        read("memory.max").map(|max| max.saturating_sub(read("memory.current").unwrap_or(0)));
    match (machine, group) {
        (Some(m), Some(g)) => Some(m.min(g)),
        (m, g) => m.or(g),
    }
}

/// Maps the segment at `path` (a strategy's descriptor of it) in a worker, with every page
/// mapped at once (`MAP_POPULATE`): otherwise a run would fault in the pages of each task the
/// worker has not met yet, and which tasks those are changes from run to run.
pub fn open(path: &Path, len: u64) -> io::Result<MmapMut> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    let actual = file.metadata()?.len();
    if actual != len {
        return Err(io::Error::other(format!(
            "{} has {actual} bytes, expected {len}",
            path.display()
        )));
    }
    // SAFETY: the strategy created the segment for this worker; the worker writes only the
    // ranges the protocol hands it, and nothing truncates the file while it is mapped.
    unsafe {
        MmapOptions::new()
            .len(len as usize)
            .populate()
            .map_mut(&file)
    }
}

/// The segments process `pid` holds now, open or mapped: one line each from its descriptor
/// table and its memory map. Empty for a process that holds none (or no longer exists).
pub fn held(pid: u32) -> Vec<String> {
    let proc = Path::new("/proc").join(pid.to_string());
    let marker = format!("/memfd:{MEMFD_NAME}");
    let mut held: Vec<String> = std::fs::read_dir(proc.join("fd"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let target = std::fs::read_link(e.path()).ok()?;
                    let target = target.to_string_lossy();
                    target.starts_with(&marker).then(|| {
                        format!("descriptor {}: {target}", e.file_name().to_string_lossy())
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let maps = std::fs::read_to_string(proc.join("maps")).unwrap_or_default();
    held.extend(
        maps.lines()
            .filter(|line| line.contains(&marker))
            .map(|line| format!("mapping {line}")),
    );
    held
}

/// Removes the segments earlier versions named in `/dev/shm` (`parbench-<pid>-<n>`) for
/// processes that no longer exist; returns their paths. A run does this as it starts, so a
/// segment such a version left when it was killed does not outlive the next run.
pub fn sweep_stale() -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(SHM_DIR)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("parbench-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| n.parse::<u64>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_shared_through_the_descriptor_and_has_no_name() {
        let mut segment = Segment::create(4096).unwrap();
        segment.bytes_mut()[..4].copy_from_slice(b"pb!!");
        let mut other = open(segment.path(), 4096).unwrap();
        assert_eq!(&other[..4], b"pb!!");
        other[4] = 7;
        assert_eq!(segment.bytes()[4], 7);
        let path = segment.path().to_path_buf();
        assert!(path.starts_with(format!("/proc/{}/fd", std::process::id())));
        let target = std::fs::read_link(&path).unwrap();
        assert!(
            target
                .to_string_lossy()
                .starts_with("/memfd:parbench-segment"),
            "{target:?}"
        );
        assert!(
            held(std::process::id()).len() >= 3,
            "a descriptor and two mappings"
        );
        // The wrong length is named.
        let err = open(&path, 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} has 4096 bytes, expected 10", path.display())
        );
        drop(segment);
        assert_eq!(other[4], 7, "a mapping outlives the strategy's descriptor");
    }

    #[test]
    fn a_segment_larger_than_the_memory_left_is_an_error_before_any_is_taken() {
        let available = available_memory().expect("/proc/meminfo");
        let err = Segment::create(1 << 50).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let said = err.to_string();
        let expected = "cannot reserve 1125899906842624 bytes of shared memory: ";
        assert!(
            said.starts_with(expected) && said.ends_with(" bytes are available"),
            "{said}"
        );
        let told: u64 = said[expected.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // What was available then, give or take what the machine did meanwhile.
        assert!(
            told.abs_diff(available) < available / 10,
            "{told} vs {available}"
        );
    }

    /// The meminfo field `Shmem`, in KiB: the shared memory the machine holds now.
    fn shmem_kib() -> u64 {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let line = meminfo.lines().find(|l| l.starts_with("Shmem:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Set in the child of the test below: make a segment, say so, and wait to be killed.
    const HOLD: &str = "PARBENCH_TEST_HOLD_SEGMENT";

    #[test]
    fn a_killed_process_leaves_no_shared_memory() {
        const MIB: usize = 256;
        if std::env::var_os(HOLD).is_some() {
            let mut segment = Segment::create(MIB << 20).unwrap();
            segment.bytes_mut().fill(1);
            println!("holding {}", segment.path().display());
            std::thread::sleep(std::time::Duration::from_secs(600));
            return;
        }
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process::shm::tests::a_killed_process_leaves_no_shared_memory",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(HOLD, "1")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let before = shmem_kib();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let holding = lines
            // libtest may print the test's name on the same line first.
            .find_map(|l| l.ok().filter(|l| l.contains("holding /proc/")))
            .expect("the child makes its segment");
        let during = shmem_kib();
        child.kill().unwrap();
        child.wait().unwrap();
        // The kernel frees the memory as the process's descriptors close; give it a moment.
        let mut after = shmem_kib();
        for _ in 0..100 {
            if after + ((MIB as u64) << 10) / 2 < during {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            after = shmem_kib();
        }
        let kib = (MIB as u64) << 10;
        assert!(
            during >= before + kib / 2,
            "{holding}: {before} KiB, then {during} KiB"
        );
        assert!(
            after + kib / 2 <= during,
            "{holding}: {during} KiB, then {after} KiB after the kill"
        );
    }

    #[test]
    fn stale_named_segments_of_dead_processes_are_swept_and_live_ones_kept() {
        let dead = Path::new(SHM_DIR).join("parbench-4000000000-1");
        let live = Path::new(SHM_DIR).join(format!("parbench-{}-999", std::process::id()));
        let other = Path::new(SHM_DIR).join("parbench-not-a-segment");
        for path in [&dead, &live, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        let removed = sweep_stale().unwrap();
        assert!(removed.contains(&dead), "{removed:?}");
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
        for path in [&live, &other] {
            std::fs::remove_file(path).unwrap();
        }
    }
}
