//! SIGKILL at any instant leaves nothing behind: the harness, a cell process or a worker
//! process killed at seeded random moments of a run of `process-shm` and `process-pool` cells.
//! Killing the harness takes its cells and their workers with it; killing a cell or a worker
//! fails that cell and the run goes on. Either way no process of the run is left (found by a
//! mark in their environment, wherever they were re-parented), and no shared-memory segment:
//! segments are anonymous memory files, which go with the last process holding them, and
//! nothing is named in `/dev/shm`.

#[allow(dead_code, reason = "this test looks for marked processes only")]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Held by each test: one plants a named segment that the other must not see.
static SHM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Trials, and the seed their instants are drawn from.
const TRIALS: usize = 50;
const SEED: u64 = 20261207;

/// What to kill.
#[derive(Debug, Clone, Copy)]
enum Victim {
    Harness,
    Cell,
    Worker,
}

/// The processes carrying `mark` whose command line runs the hidden command `command`.
fn running(mark: &str, command: &str) -> Vec<u32> {
    common::marked(mark)
        .iter()
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            cmdline.split(|&b| b == 0).nth(1) == Some(command.as_bytes())
        })
        .collect()
}

/// Waits until no process carries `mark`, for up to ten seconds; returns what is left.
fn settled(mark: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = common::marked(mark);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Segments named in `/dev/shm` as this project once named them.
fn named_segments() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.starts_with("parbench-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_sigkill_at_any_instant_leaves_no_process_and_no_segment() {
    let _shm = SHM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("kill.toml");
    // Each sample sets up two worker processes and runs 16 tasks of 4 ms: about a second and
    // a half in all.
    std::fs::write(
        &suite,
        "name = \"kill\"\nwarmup = 1\nsamples = 1\nprocesses = 2\nmax_processes = 2\n\
         strategies = [\"process-shm\", \"process-pool\"]\nworkers = [2]\n\n\
         [[workload]]\nname = \"spin\"\nparams = { ns_per_item = 200000 }\nsizes = [320]\n\
         tasks = [16]\n",
    )
    .unwrap();
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (mut wrong, mut kills) = (Vec::new(), 0);
    for trial in 0..TRIALS {
        let victim = [Victim::Harness, Victim::Cell, Victim::Worker][trial % 3];
        let delay = Duration::from_millis(rng.u64(20..1_200));
        let mark = format!("PARBENCH_TEST_MARK=killed-{}-{trial}", std::process::id());
        let (name, value) = mark.split_once('=').unwrap();
        let mut harness = Command::new(assert_cmd::cargo::cargo_bin("parbench"))
            .args(["run", "--no-profile", "--out"])
            .arg(dir.path().join(format!("out-{trial}")))
            .arg(&suite)
            .env(name, value)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // The victim at this instant; a cell or worker between visits is waited for.
        let deadline = Instant::now() + Duration::from_secs(5);
        let pid = loop {
            let found = match victim {
                Victim::Harness => Some(harness.id()),
                Victim::Cell => running(&mark, "cell").first().copied(),
                Victim::Worker => running(&mark, "worker").first().copied(),
            };
            if found.is_some() || Instant::now() > deadline {
                break found;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if let Some(pid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
            kills += usize::from(
                rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok(),
            );
        }
        // Killed, or left to finish with one cell failed.
        let status = harness.wait().unwrap();
        let left = settled(&mark);
        let named = named_segments();
        if !left.is_empty() || !named.is_empty() {
            wrong.push(format!(
                "trial {trial}: {victim:?} killed after {delay:?} (exit {status}): left {left:?}, \
                 segments {named:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Nearly every trial found its victim alive (a run may end before a late instant).
    assert!(
        kills * 10 >= TRIALS * 8,
        "{kills} of {TRIALS} trials killed a process"
    );
}

#[test]
fn a_segment_named_by_a_process_that_died_is_gone_after_the_next_run() {
    let _shm = SHM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let planted = std::path::Path::new("/dev/shm").join("parbench-4000000000-5");
    std::fs::write(&planted, b"left by an earlier version").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tiny.toml");
    std::fs::write(
        &suite,
        "name = \"tiny\"\nprocesses = 1\nmax_processes = 1\nstrategies = [\"sequential\"]\n\n\
         [[workload]]\nname = \"square\"\nsizes = [1000]\n",
    )
    .unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("parbench"))
        .args(["run", "--no-profile", "--out"])
        .arg(dir.path().join("out"))
        .arg(&suite)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!planted.exists());
    assert!(
        stderr.contains(
            "removed the shared-memory segment /dev/shm/parbench-4000000000-5, left by a \
             process that died"
        ),
        "{stderr}"
    );
}
