//! Shared-memory segments: files in `/dev/shm` mapped by the strategy and its workers.
//!
//! A segment is named `parbench-<pid>-<n>` after the process that created it, and is unlinked
//! as soon as every worker has mapped it: the mappings keep the memory alive, and a crash
//! afterwards leaves nothing behind. Should a process die in the short window before that, the
//! name says whose segment it was, and [`sweep`] removes it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use memmap2::{MmapMut, MmapOptions};

/// Where POSIX shared memory lives on Linux.
const SHM_DIR: &str = "/dev/shm";

/// Held while a segment is created, and for good by [`close`].
static CREATING: Mutex<()> = Mutex::new(());

/// A segment this process created and mapped.
#[derive(Debug)]
pub struct Segment {
    path: PathBuf,
    linked: bool,
    map: MmapMut,
}

impl Segment {
    /// Creates and maps a new segment of `len` bytes, zero-filled.
    pub fn create(len: usize) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let _creating = CREATING.lock().unwrap_or_else(PoisonError::into_inner);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(SHM_DIR).join(format!("parbench-{}-{n}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        // A zero-length mapping is an error; a segment always has a byte to map.
        let len = len.max(1);
        // Reserve the pages now: a full /dev/shm is then an error here, not a SIGBUS when a
        // process first writes to a page that has no room.
        let reserved =
            rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, len as u64)
                .map_err(|e| {
                    io::Error::new(
                        io::Error::from(e).kind(),
                        format!("cannot reserve {len} bytes in {SHM_DIR}: {e}"),
                    )
                });
        // SAFETY: the file is new and private to this strategy (mode 0600, a fresh name); the
        // workers that map it write only the disjoint ranges the protocol hands them.
        let mapped = reserved.and_then(|()| unsafe { MmapOptions::new().len(len).map_mut(&file) });
        match mapped {
            Ok(map) => Ok(Self {
                path,
                linked: true,
                map,
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Its path, as workers open it.
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

    /// Removes its name; the mappings stay valid.
    pub fn unlink(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.linked) {
            std::fs::remove_file(&self.path)?;
        }
        Ok(())
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

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = self.unlink();
    }
}

/// Maps the segment at `path` (created by the strategy) in a worker, with every page mapped
/// at once (`MAP_POPULATE`): otherwise a run would fault in the pages of each task the worker
/// has not met yet, and which tasks those are changes from run to run.
pub fn open(path: &Path, len: u64) -> io::Result<MmapMut> {
    let file = File::options().read(true).write(true).open(path)?;
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

/// Removes this process's segments and blocks any further creation: for a process about to
/// exit on a signal, whose other threads may be in the middle of setting a strategy up.
/// Returns how many segments were removed.
pub fn close() -> io::Result<usize> {
    std::mem::forget(CREATING.lock().unwrap_or_else(PoisonError::into_inner));
    sweep(std::process::id())
}

/// Removes every segment left by process `pid` (e.g. a cell process that was killed between
/// creating a segment and unlinking it); returns how many there were.
pub fn sweep(pid: u32) -> io::Result<usize> {
    let prefix = format!("parbench-{pid}-");
    let mut removed = 0;
    for entry in std::fs::read_dir(SHM_DIR)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The segments process `pid` has in `/dev/shm` now.
pub fn leftovers(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("parbench-{pid}-");
    std::fs::read_dir(SHM_DIR)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests look at this process's segments: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[test]
    fn a_segment_is_shared_and_leaves_nothing_once_unlinked() {
        let _serial = serial();
        let mut segment = Segment::create(4096).unwrap();
        segment.bytes_mut()[..4].copy_from_slice(b"pb!!");
        let mut other = open(segment.path(), 4096).unwrap();
        assert_eq!(&other[..4], b"pb!!");
        other[4] = 7;
        segment.unlink().unwrap();
        assert!(!segment.path().exists());
        assert_eq!(segment.bytes()[4], 7, "the mapping outlives the name");
        assert!(open(segment.path(), 4096).is_err());
    }

    #[test]
    fn a_segment_that_does_not_fit_is_an_error_and_leaves_nothing() {
        let _serial = serial();
        let err = Segment::create(1 << 50).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot reserve 1125899906842624 bytes in /dev/shm: "),
            "{err}"
        );
        assert!(leftovers(std::process::id()).is_empty());
    }

    #[test]
    fn a_dropped_segment_is_unlinked_and_sweep_finds_strays() {
        let _serial = serial();
        let path = {
            let segment = Segment::create(10).unwrap();
            assert!(leftovers(std::process::id()).contains(&segment.path().to_path_buf()));
            segment.path().to_path_buf()
        };
        assert!(!path.exists());
        let stray = Path::new(SHM_DIR).join("parbench-4000000000-1");
        std::fs::write(&stray, b"x").unwrap();
        assert_eq!(sweep(4_000_000_000).unwrap(), 1);
        assert!(!stray.exists());
        assert!(open(&path, 10).is_err());
    }
}
