//! The process strategies leave nothing behind: a worker killed mid-run, a panic in the parent
//! mid-run, a worker that cannot build its workload — each gives a clear error and leaves no
//! process, zombie or shared-memory segment. They move the bytes they should, and under
//! fail-fast what was queued ahead is skipped, not run.
//!
//! The binary has its own `main` (no libtest harness): it is also the workers' binary. Its
//! tests run one at a time, so the segments this process holds are the test's own.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{configure, job};
use libtest_mimic::{Failed, Trial};
use parbench_strategies::process::{shm, Processes, Transport};
use parbench_strategies::{FailurePolicy, Reference, Strategy, TaskOutcome};
use parbench_workloads::builtin::risky::Risky;
use parbench_workloads::{plan_tasks, Recipe, Value};
use rustix::process::{kill_process, Pid, Signal};

const TRANSPORTS: [Transport; 2] = [Transport::Pipes, Transport::SharedMemory];

fn name(transport: Transport) -> &'static str {
    match transport {
        Transport::Pipes => "process-pool",
        Transport::SharedMemory => "process-shm",
    }
}

/// Whether process `pid` still exists, as a running process or a zombie.
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Checks that none of `pids` exists and that this process has no segment left.
fn nothing_left(pids: &[u32]) -> Result<(), Failed> {
    for &pid in pids {
        if exists(pid) {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            return Err(format!("worker {pid} is still there: {state}").into());
        }
    }
    let held = shm::held(std::process::id());
    if !held.is_empty() {
        return Err(format!("segments still held: {held:?}").into());
    }
    Ok(())
}

/// A job of slow tasks: 200 tasks of two `spin` items, 4 ms each, on 2 workers: in chunks of
/// 25 (`auto`), two of them queued behind the one each worker runs.
fn slow_job() -> (parbench_strategies::Job, Vec<parbench_workloads::Task>) {
    let configured = configure("spin", &[("ns_per_item", Value::Int(2_000_000))]);
    let input = Arc::new(configured.0.generate(400, 1));
    let job = job(&configured, &input, 1, 2, FailurePolicy::Collect);
    (job, plan_tasks(200, 200).unwrap())
}

fn a_killed_worker_fails_the_run_and_leaves_nothing(
    transport: Transport,
    signal: Signal,
    described: &str,
) -> Result<(), Failed> {
    let (job, tasks) = slow_job();
    let mut strategy = Processes::new(transport);
    strategy.setup(&job)?;
    let pids = strategy.worker_pids();
    assert_eq!(pids.len(), 2);
    let victim = pids[1];
    let killer = std::thread::spawn(move || {
        // Mid-run: once the victim has worked two clock ticks, not after a guessed sleep.
        common::wait_until_working(victim);
        let pid = Pid::from_raw(victim as i32).expect("a pid");
        kill_process(pid, signal).expect("the worker is alive mid-run");
        Instant::now()
    });
    let error = strategy
        .run(&tasks)
        .expect_err("a run whose worker was killed fails");
    let ended = Instant::now();
    let killed = killer.join().expect("the killer thread");
    // 400 ms of tasks on 2 workers, killed after 20 ms of them: the run stopped at once
    // rather than after the other worker's share.
    assert!(ended.duration_since(killed) < Duration::from_millis(200));
    assert_eq!(
        error.to_string(),
        format!(
            "strategy `{}`: worker 1 (pid {victim}) died during the run: {described}",
            name(transport)
        )
    );
    nothing_left(&pids)?;
    // The strategy is torn down already; teardown is harmless, a new setup works.
    assert!(strategy.teardown()?.workers.is_empty());
    strategy.setup(&job)?;
    let again = strategy.worker_pids();
    strategy.teardown()?;
    nothing_left(&again)
}

fn a_panic_in_the_parent_mid_run_leaves_nothing(transport: Transport) -> Result<(), Failed> {
    let (job, tasks) = slow_job();
    let pids = Mutex::new(Vec::new());
    // The panic is expected: keep its report off the test output (tests run one at a time).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut strategy = Processes::new(transport);
        strategy.panic_after(3);
        strategy.setup(&job).expect("setup");
        pids.lock().expect("pids").extend(strategy.worker_pids());
        strategy.run(&tasks)
    }));
    std::panic::set_hook(hook);
    let payload = outcome.expect_err("the injected panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    // Results come a chunk at a time: 200 tasks / (4 × 2 workers) = 25.
    assert!(message.contains("injected after 25 results"), "{message}");
    let pids = pids.into_inner().expect("pids");
    assert_eq!(pids.len(), 2);
    nothing_left(&pids)
}

fn a_worker_without_the_workload_fails_setup_clearly(transport: Transport) -> Result<(), Failed> {
    let (mut job, _) = slow_job();
    job.recipe = Arc::new(Recipe {
        workload: "no-such-workload".into(),
        ..(*job.recipe).clone()
    });
    let mut strategy = Processes::new(transport);
    let error = strategy.setup(&job).expect_err("an unknown workload");
    let text = error.to_string();
    let prefix = format!("strategy `{}`: worker 0 (pid ", name(transport));
    assert!(text.starts_with(&prefix), "{text}");
    assert!(
        text.ends_with(
            ") failed during setup: unknown workload `no-such-workload`; valid workloads: \
             square, resize, json, http, risky, spin, kmeans"
        ),
        "{text}"
    );
    assert!(strategy.worker_pids().is_empty());
    assert_eq!(shm::held(std::process::id()), Vec::<String>::new());
    Ok(())
}

/// Fail-fast with tasks queued ahead: 8 `risky` tasks of about 40 ms on 2 workers, one task per
/// message and 3 queued behind the one each worker runs, so worker 0 holds tasks 0, 2, 4, 6 and worker 1 tasks
/// 1, 3, 5, 7 from the start. Task 0 fails halfway (as `risky` tasks do) and task 1 does not:
/// worker 0 skips its queued tasks itself, and worker 1, told to cancel while it runs task 1,
/// skips its own instead of running them. Only tasks 0 and 1 run (or task 0 alone, when the
/// cancel comes before worker 1 has started task 1).
fn fail_fast_skips_what_was_queued_ahead(transport: Transport) -> Result<(), Failed> {
    let error_rate = 0.3;
    let rule = Risky::new(error_rate, 0.0);
    let seed = (0..)
        .find(|&s| rule.fate(s, 0).is_some() && rule.fate(s, 1).is_none())
        .ok_or("no seed fails task 0 alone")?;
    let items = 8 * 1000;
    let configured = configure(
        "risky",
        &[
            ("error_rate", Value::Float(error_rate)),
            ("panic_rate", Value::Float(0.0)),
            ("rounds", Value::Int(40_000)),
        ],
    );
    let input = Arc::new(configured.0.generate(items, seed));
    let tasks = plan_tasks(items, 8)?;
    let job = job(&configured, &input, seed, 2, FailurePolicy::FailFast);
    let reference = Reference::compute(&job, &tasks)?;
    let mut strategy = Processes::new(transport).depth(3).chunksize(Some(1));
    strategy.setup(&job)?;
    let report = strategy.run(&tasks)?;
    reference.check(&job, &tasks, &report, strategy.output())?;
    strategy.teardown()?;
    let ran: Vec<usize> = report
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, TaskOutcome::Skipped))
        .map(|(t, _)| t)
        .collect();
    // Task 1 ran unless the cancel reached worker 1 before it started it (a machine busy
    // enough to delay that start by 20 ms): either way, nothing queued behind ran.
    assert!(ran == [0, 1] || ran == [0], "{:?}", report.outcomes);
    assert!(matches!(report.outcomes[0], TaskOutcome::Failed { .. }));
    let mut spans: Vec<(u32, u32)> = report.spans.iter().map(|s| (s.worker, s.task)).collect();
    spans.sort_unstable();
    if ran == [0, 1] {
        assert!(matches!(report.outcomes[1], TaskOutcome::Done { .. }));
        assert_eq!(spans, [(0, 0), (1, 1)]);
    } else {
        assert_eq!(spans, [(0, 0)]);
    }
    Ok(())
}

/// `square` over 64 MiB of input: `process-pool` moves the input and the output once, give or
/// take the framing; `process-shm` moves under 1% of that.
fn bytes_moved_are_the_data_or_almost_nothing() -> Result<(), Failed> {
    let configured = configure("square", &[]);
    let items = (64 << 20) / 8;
    let input = Arc::new(configured.0.generate(items, 5));
    let tasks = plan_tasks(items, 64)?;
    let job = job(&configured, &input, 5, 2, FailurePolicy::Collect);
    let data = (input.bytes.len() + job.output_bytes()) as u64;
    assert_eq!(data, 128 << 20);
    let reference = Reference::compute(&job, &tasks)?;
    let mut moved = Vec::new();
    for transport in TRANSPORTS {
        let mut strategy = Processes::new(transport);
        strategy.setup(&job)?;
        let report = strategy.run(&tasks)?;
        reference.check(&job, &tasks, &report, strategy.output())?;
        let teardown = strategy.teardown()?;
        assert_eq!(teardown.workers.len(), 2);
        for worker in &teardown.workers {
            assert!(worker.peak_rss_bytes > 0);
            match transport {
                // A pool worker holds no shared memory; a shm worker maps the input.
                Transport::Pipes => assert_eq!(worker.shared_rss_bytes, 0),
                Transport::SharedMemory => assert!(worker.shared_rss_bytes > 0),
            }
        }
        moved.push(report.bytes_moved);
    }
    let (pool, shared) = (moved[0], moved[1]);
    assert!(
        pool >= data && pool < data + data / 1000,
        "process-pool moved {pool} bytes for {data}"
    );
    assert!(
        shared < data / 100,
        "process-shm moved {shared} bytes for {data}"
    );
    assert!(shared > 0);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut trials = Vec::new();
    let kills = [
        (
            Transport::Pipes,
            Signal::KILL,
            "killed by signal 9 (SIGKILL)",
        ),
        (
            Transport::SharedMemory,
            Signal::KILL,
            "killed by signal 9 (SIGKILL)",
        ),
        (
            Transport::SharedMemory,
            Signal::ABORT,
            "killed by signal 6 (SIGABRT)",
        ),
    ];
    for (transport, signal, described) in kills {
        trials.push(Trial::test(
            format!("{}_a_worker_{signal:?}ed_mid_run", name(transport)).to_lowercase(),
            move || a_killed_worker_fails_the_run_and_leaves_nothing(transport, signal, described),
        ));
    }
    for transport in TRANSPORTS {
        trials.push(Trial::test(
            format!("{}_a_panic_in_the_parent_mid_run", name(transport)),
            move || a_panic_in_the_parent_mid_run_leaves_nothing(transport),
        ));
        trials.push(Trial::test(
            format!("{}_an_unknown_workload_fails_setup", name(transport)),
            move || a_worker_without_the_workload_fails_setup_clearly(transport),
        ));
        trials.push(Trial::test(
            format!("{}_fail_fast_skips_what_was_queued_ahead", name(transport)),
            move || fail_fast_skips_what_was_queued_ahead(transport),
        ));
    }
    trials.push(Trial::test(
        "bytes_moved_are_the_data_or_almost_nothing",
        bytes_moved_are_the_data_or_almost_nothing,
    ));
    common::main_serving_workers(trials, true)
}
