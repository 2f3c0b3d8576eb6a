//! `parbench::criterion::bench_strategies` under criterion itself: one benchmark per strategy
//! and worker count, named as parbench names the cell, worker processes included; every run
//! checked against the sequential reference; names it does not know refused with the valid
//! ones.
//!
//! A test without libtest's harness (`libtest-mimic` in its place): like a bench, its binary is
//! the one the process strategies start their workers from, so it serves the hidden commands
//! first.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{leftovers, wait_for_descendants};
use criterion::Criterion;
use parbench::{FnWorkload, WorkloadEntry};

/// Every item's output differs from one run to the next: no strategy can match the reference.
static CALLS: AtomicU64 = AtomicU64::new(0);

fn main() -> std::process::ExitCode {
    let unstable = FnWorkload::plain(
        "unstable",
        |size, _| (0..size as u64).collect(),
        |x: &u64| x + CALLS.fetch_add(1, Ordering::Relaxed),
    );
    parbench::criterion::serve(vec![unstable.into()]);
    if std::env::var_os(VICTIM).is_some() {
        // The process `interrupted_benches_leave_nothing_behind` stops: a long benchmark of
        // worker processes over shared memory.
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_secs(60))
            .without_plots()
            .output_directory(&std::env::temp_dir().join("parbench-criterion-victim"));
        let spin = WorkloadEntry::new("spin").sizes([1_000]).tasks([64]);
        parbench::criterion::bench_strategies(&mut c, spin, ["process-shm"], [2]).unwrap();
        return std::process::ExitCode::SUCCESS;
    }
    let mut args = libtest_mimic::Arguments::from_args();
    // One at a time: a wrong answer's test swaps the process's panic hook.
    args.test_threads = Some(1);
    let trials = [
        (
            "criterion_groups_run_every_strategy_as_the_cell_it_is",
            criterion_groups_run_every_strategy_as_the_cell_it_is as fn(),
        ),
        (
            "unknown_strategies_are_refused_with_the_valid_ones",
            unknown_strategies_are_refused_with_the_valid_ones,
        ),
        (
            "a_wrong_answer_panics_rather_than_report_a_time",
            a_wrong_answer_panics_rather_than_report_a_time,
        ),
        (
            "interrupted_benches_leave_nothing_behind",
            interrupted_benches_leave_nothing_behind,
        ),
    ]
    .into_iter()
    .map(|(name, test)| {
        libtest_mimic::Trial::test(name, move || {
            test();
            Ok(())
        })
    })
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Criterion set up to measure briefly, writing under `out`.
fn quick(out: &Path) -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(50))
        .measurement_time(Duration::from_millis(200))
        .without_plots()
        .output_directory(out)
}

fn criterion_groups_run_every_strategy_as_the_cell_it_is() {
    let out = tempfile::tempdir().unwrap();
    let mut c = quick(out.path());
    let square = WorkloadEntry::new("square").sizes([100_000]).tasks([16]);
    let strategies = [
        "sequential",
        "threads",
        "rayon",
        "process-pool",
        "process-shm",
    ];
    parbench::criterion::bench_strategies(&mut c, square, strategies, [1, 2]).unwrap();
    let medians = medians(out.path());
    let ids: Vec<&str> = medians.keys().map(String::as_str).collect();
    let mut expected = vec!["square/size=100000/tasks=16/sequential/w1".to_owned()];
    for strategy in &strategies[1..] {
        for w in [1, 2] {
            expected.push(format!("square/size=100000/tasks=16/{strategy}/w{w}"));
        }
    }
    expected.sort();
    assert_eq!(ids, expected);
    for (id, median) in &medians {
        // 100,000 squares take tens of microseconds at least, and less than a second.
        assert!(*median > 10_000.0 && *median < 1e9, "{id}: {median} ns");
    }
}

fn unknown_strategies_are_refused_with_the_valid_ones() {
    let out = tempfile::tempdir().unwrap();
    let mut c = quick(out.path());
    let typo = WorkloadEntry::new("square").sizes([1_000]);
    let err = parbench::criterion::bench_strategies(&mut c, typo, ["rayon", "prcess-pool"], [1])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "builder:criterion: strategies: unknown strategy `prcess-pool`; valid strategies: \
             sequential, threads"
        ),
        "{err}"
    );
}

/// A wrong answer reports no time: the benchmark panics, naming the cell and the difference.
fn a_wrong_answer_panics_rather_than_report_a_time() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let wrong = std::panic::catch_unwind(|| {
        let out = tempfile::tempdir().unwrap();
        let mut c = quick(out.path());
        let unstable = WorkloadEntry::new("unstable").sizes([100]).tasks([4]);
        parbench::criterion::bench_strategies(&mut c, unstable, ["threads"], [2])
    });
    std::panic::set_hook(previous);
    let message = wrong.expect_err("a wrong answer panics");
    let message = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.starts_with(
            "unstable/size=100/tasks=4/threads/w2: the run differs from the sequential reference"
        ),
        "{message}"
    );
}

/// Set in the environment of the process [`interrupted_benches_leave_nothing_behind`] stops.
const VICTIM: &str = "PARBENCH_TEST_CRITERION_VICTIM";

/// Ctrl-C in the middle of a benchmark of worker processes: the bench exits with 130, its
/// workers are gone and no shared-memory segment of its is left.
fn interrupted_benches_leave_nothing_behind() {
    // Ctrl-C in a terminal reaches the whole foreground group: the bench and its workers.
    let victim = std::process::Command::new(std::env::current_exe().unwrap())
        .env(VICTIM, "1")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = victim.id();
    let tree = wait_for_descendants(pid, 2).expect("no worker process started");
    // A moment of benchmarking, then Ctrl-C.
    std::thread::sleep(Duration::from_millis(300));
    let group = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let output = victim.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.ends_with("\ninterrupted\n"), "{stderr}");
    // The workers are gone, not even zombies; so are the bench's segments.
    assert_eq!(leftovers(pid, &tree), Vec::<String>::new());
}

/// Each benchmark's full id and the median of its estimates, in nanoseconds, from criterion's
/// files under `dir`.
fn medians(dir: &Path) -> BTreeMap<String, f64> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/benchmark.json") {
                let read = |file: &Path| -> serde_json::Value {
                    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
                };
                let benchmark = read(&path);
                let estimates = read(&path.with_file_name("estimates.json"));
                let id = benchmark["full_id"].as_str().unwrap().to_owned();
                let median = estimates["median"]["point_estimate"].as_f64().unwrap();
                found.insert(id, median);
            }
        }
    }
    found
}
