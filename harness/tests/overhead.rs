//! A known answer for the overhead decomposition: three equal `spin` tasks on two `threads`
//! workers. `threads` hands out static chunks, so one worker runs two tasks and the other one,
//! then waits: the tail is one task's time on one worker, and the parts add up exactly.

use std::collections::BTreeMap;

use parbench::overhead::decompose;
use parbench_strategies::{FailurePolicy, Job, Registry};
use parbench_workloads::{plan_tasks, Recipe, Value};

#[test]
fn three_equal_tasks_on_two_threads_leave_one_task_of_tail() {
    let workloads = parbench_workloads::Registry::builtin();
    let spin = workloads.get("spin").unwrap();
    let calibration = spin.environment.unwrap().start().unwrap();
    let vars = calibration.vars();
    // One item per task, 30 ms each.
    let task_ns = 30_000_000u64;
    let given = BTreeMap::from([("ns_per_item".to_owned(), Value::Int(task_ns))]);
    let params = spin.resolve(&given).unwrap();
    let recipe = Recipe::new(spin, &params, &vars);
    let job = Job::generate(recipe, &workloads, 3, 1)
        .unwrap()
        .on(2, FailurePolicy::Collect);
    let tasks = plan_tasks(3, 3).unwrap();
    let mut threads = Registry::builtin()
        .get("threads")
        .unwrap()
        .instantiate(&BTreeMap::new())
        .unwrap();
    threads.setup(&job).unwrap();
    let report = threads.run(&tasks).unwrap();
    threads.teardown().unwrap();

    let o = decompose(2, report.start_ns, report.end_ns, &report.spans).unwrap();
    assert_eq!(
        o.busy_ns + o.startup_ns + o.gaps_ns + o.tail_ns,
        o.capacity_ns
    );
    assert_eq!(o.capacity_ns, 2 * report.wall_ns());
    // The idle worker's tail is one task: the longest of the three spans, give or take the
    // spread between tasks (a shared, noisy machine) and the thread start-up.
    let longest = report.spans.iter().map(|s| s.duration_ns()).max().unwrap();
    let shortest = report.spans.iter().map(|s| s.duration_ns()).min().unwrap();
    assert!(shortest > task_ns / 2, "a task took {shortest} ns");
    let off = o.tail_ns.abs_diff(shortest);
    assert!(
        off <= shortest / 5 + (longest - shortest),
        "tail {} ns for tasks of {shortest}..{longest} ns",
        o.tail_ns
    );
    // Nearly all of the rest is work: startup and gaps are thread start-up, well under a task.
    assert!(
        o.startup_ns + o.gaps_ns < task_ns / 3,
        "startup {} + gaps {}",
        o.startup_ns,
        o.gaps_ns
    );
    calibration.stop().unwrap();
}
