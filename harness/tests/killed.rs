//! SIGKILL at any instant leaves nothing behind: the harness, a cell process or a worker
//! process killed at seeded random moments of runs of `process-shm` and `process-pool` cells,
//! 50 times. Killing the harness takes its cells and their workers with it; killing a cell or a
//! worker fails that cell and the run goes on. Either way no process of the run is left (found by a
//! mark in their environment, wherever they were re-parented), and no shared-memory segment:
//! segments are anonymous memory files, which go with the last process holding them, and
//! nothing is named in `/dev/shm`.

#[allow(dead_code, reason = "this test looks for marked processes only")]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Held by each test: one plants a named segment that the other must not see.
static SHM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The seed the instants are drawn from.
const SEED: u64 = 20261207;

/// Runs in which the harness is killed, and kills of a cell or a worker within one run.
const HARNESS_KILLS: usize = 10;
const CELL_AND_WORKER_KILLS: usize = 40;

/// What to kill.
#[derive(Debug, Clone, Copy)]
enum Victim {
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

/// The first process carrying `mark` that runs `command`, waiting up to `patience` for one.
fn first(mark: &str, command: &str, patience: Duration) -> Option<u32> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(&pid) = running(mark, command).first() {
            return Some(pid);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn kill(pid: u32) -> bool {
    rustix::process::Pid::from_raw(pid as i32)
        .is_some_and(|p| rustix::process::kill_process(p, rustix::process::Signal::KILL).is_ok())
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

/// A suite of `process-shm` and `process-pool` cells on two workers, at each task count of
/// `tasks`: each visit sets up two worker processes and runs 16 tasks of 4 ms.
fn suite(dir: &std::path::Path, name: &str, tasks: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nwarmup = 0\nsamples = 1\nprocesses = 1\nmax_processes = 1\n\
             strategies = [\"process-shm\", \"process-pool\"]\nworkers = [2]\n\n\
             [[workload]]\nname = \"spin\"\nparams = {{ ns_per_item = 200000 }}\nsizes = [320]\n\
             tasks = {tasks}\n"
        ),
    )
    .unwrap();
    path
}

/// `parbench run SUITE` with `mark` in its environment, quiet.
fn start(suite: &std::path::Path, out: &std::path::Path, mark: &str) -> std::process::Child {
    let (name, value) = mark.split_once('=').unwrap();
    Command::new(assert_cmd::cargo::cargo_bin("parbench"))
        .args(["run", "--no-profile", "--out"])
        .arg(out)
        .arg(suite)
        .env(name, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What a run left once it ended, if anything: processes carrying its mark, named segments.
fn left_by(mark: &str) -> Option<String> {
    let (left, named) = (settled(mark), named_segments());
    (!left.is_empty() || !named.is_empty()).then(|| format!("left {left:?}, segments {named:?}"))
}

#[test]
fn a_sigkill_at_any_instant_leaves_no_process_and_no_segment() {
    let _shm = SHM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut wrong = Vec::new();
    // The harness, at a random instant of its measuring (timed from its first cell process,
    // so that the machine's probes before it do not take the instants): its cells die with
    // it (a parent-death signal), their workers with them.
    let small = suite(dir.path(), "small", "[16]");
    for trial in 0..HARNESS_KILLS {
        let mark = format!("PARBENCH_TEST_MARK=killed-{}-{trial}", std::process::id());
        let mut harness = start(&small, &dir.path().join(format!("small-{trial}")), &mark);
        let delay = Duration::from_millis(rng.u64(0..400));
        let measuring = first(&mark, "cell", Duration::from_secs(60)).is_some();
        std::thread::sleep(delay);
        let killed = measuring && kill(harness.id());
        let status = harness.wait().unwrap();
        if !killed {
            wrong.push(format!("harness trial {trial}: not killed ({status})"));
        }
        if let Some(left) = left_by(&mark) {
            wrong.push(format!("harness killed {delay:?} in: {left}"));
        }
    }
    // Cells and workers, at random instants of one run of many cells: each kill fails its
    // cell (or its bucket, for a process preparing the input) and the run goes on.
    let many = suite(dir.path(), "many", "\"1..=40\"");
    let mark = format!("PARBENCH_TEST_MARK=killed-{}-many", std::process::id());
    let mut harness = start(&many, &dir.path().join("many"), &mark);
    first(&mark, "cell", Duration::from_secs(60)).expect("the run measures");
    let mut kills = Vec::new();
    for n in 0..CELL_AND_WORKER_KILLS {
        std::thread::sleep(Duration::from_millis(rng.u64(0..150)));
        let victim = [Victim::Cell, Victim::Worker][n % 2];
        let command = match victim {
            Victim::Cell => "cell",
            Victim::Worker => "worker",
        };
        if let Some(pid) = first(&mark, command, Duration::from_secs(5)) {
            if kill(pid) {
                kills.push(victim);
            }
        }
    }
    let status = harness.wait().unwrap();
    if let Some(left) = left_by(&mark) {
        wrong.push(format!(
            "{} kills of cells and workers: {left}",
            kills.len()
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The run outlived its killed cells and workers and ended with cells failed.
    assert_eq!(status.code(), Some(1), "{status}");
    let workers = kills.iter().filter(|v| matches!(v, Victim::Worker)).count();
    assert!(
        kills.len() * 10 >= CELL_AND_WORKER_KILLS * 8 && workers * 3 >= kills.len(),
        "{} kills, {workers} of workers",
        kills.len()
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
