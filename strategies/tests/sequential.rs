//! The sequential strategy: the reference answer, its spans, and every failure policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use parbench_strategies::{FailurePolicy, Job, Reference, Registry, Strategy, TaskOutcome};
use parbench_workloads::builtin::risky::Risky;
use parbench_workloads::{plan_tasks, EnvVars, FailureKind, Recipe, Value};

fn risky_job(policy: FailurePolicy, fail_attempts: u64) -> Job {
    risky_job_with(policy, fail_attempts, 0.1)
}

fn risky_job_with(policy: FailurePolicy, fail_attempts: u64, rate: f64) -> Job {
    let registry = parbench_workloads::Registry::builtin();
    let spec = registry.get("risky").unwrap();
    let given = BTreeMap::from([
        ("error_rate".to_owned(), Value::Float(rate)),
        ("panic_rate".to_owned(), Value::Float(rate)),
        ("fail_attempts".to_owned(), Value::Int(fail_attempts)),
    ]);
    let params = spec.resolve(&given).unwrap();
    let workload = spec.instantiate(&params, &EnvVars::new()).unwrap();
    let input = Arc::new(workload.generate(10_000, 3));
    Job {
        workload,
        recipe: Arc::new(Recipe::new(spec, &params, &EnvVars::new())),
        input,
        seed: 3,
        workers: 1,
        policy,
    }
}

fn sequential() -> Box<dyn Strategy> {
    Registry::builtin()
        .get("sequential")
        .unwrap()
        .instantiate(&BTreeMap::new())
        .unwrap()
}

#[test]
fn collect_runs_every_task_and_lists_the_failures() {
    let job = risky_job(FailurePolicy::Collect, 0);
    let tasks = plan_tasks(10_000, 100).unwrap();
    let Reference { answer, report, .. } = Reference::compute(&job, &tasks).unwrap();
    let expected = Risky::new(0.1, 0.1).expected_failures(3, &tasks, 1);
    assert!(expected.len() > 5);
    assert_eq!(answer.failures, expected);
    assert_eq!(report.skipped(), 0);
    // Panics are caught at the task boundary and carry their message.
    let panicked = report
        .outcomes
        .iter()
        .find_map(|o| match o {
            TaskOutcome::Failed { error, .. } if error.kind == FailureKind::Panic => Some(error),
            _ => None,
        })
        .unwrap();
    assert!(panicked.message.starts_with("risky task "), "{panicked}");
}

#[test]
fn fail_fast_skips_everything_after_the_first_failure() {
    let job = risky_job(FailurePolicy::FailFast, 0);
    let tasks = plan_tasks(10_000, 100).unwrap();
    let Reference { answer, report, .. } = Reference::compute(&job, &tasks).unwrap();
    let first = Risky::new(0.1, 0.1).expected_failures(3, &tasks, 1)[0];
    assert_eq!(answer.failures, [first]);
    assert_eq!(report.skipped(), 100 - first.task as usize - 1);
    assert_eq!(report.spans.len(), first.task as usize + 1);
}

#[test]
fn retry_recovers_transient_failures_and_counts_attempts() {
    let tasks = plan_tasks(10_000, 100).unwrap();
    let Reference { answer, report, .. } =
        Reference::compute(&risky_job(FailurePolicy::Retry(2), 2), &tasks).unwrap();
    assert_eq!(answer.failures, []);
    let retried = report
        .outcomes
        .iter()
        .filter(|o| matches!(o, TaskOutcome::Done { attempts: 3, .. }))
        .count();
    assert_eq!(
        retried,
        Risky::new(0.1, 0.1).expected_failures(3, &tasks, 1).len()
    );
    // One retry too few: the same tasks still fail.
    let Reference { answer: short, .. } =
        Reference::compute(&risky_job(FailurePolicy::Retry(1), 2), &tasks).unwrap();
    assert_eq!(short.failures.len(), retried);
    // And the successful outputs of a retried run equal a run that never failed.
    let Reference { answer: clean, .. } =
        Reference::compute(&risky_job_with(FailurePolicy::Collect, 0, 0.0), &tasks).unwrap();
    assert_eq!(clean, answer);
}

#[test]
fn spans_cover_each_task_once_inside_the_run() {
    let job = risky_job(FailurePolicy::Collect, 0);
    let tasks = plan_tasks(10_000, 37).unwrap();
    let mut strategy = sequential();
    strategy.setup(&job).unwrap();
    let report = strategy.run(&tasks).unwrap();
    assert_eq!(report.outcomes.len(), 37);
    let mut ids: Vec<u32> = report.spans.iter().map(|s| s.task).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..37).collect::<Vec<_>>());
    for pair in report.spans.windows(2) {
        assert!(
            pair[0].end_ns <= pair[1].start_ns,
            "spans of one worker overlap"
        );
    }
    for span in &report.spans {
        assert_eq!(span.worker, 0);
        assert!(report.start_ns <= span.start_ns && span.end_ns <= report.end_ns);
    }
    // A second run on the same setup gives the same answer.
    let first = report.answer(job.workload.as_ref(), strategy.output(), &tasks);
    let again = strategy.run(&tasks).unwrap();
    assert_eq!(
        again.answer(job.workload.as_ref(), strategy.output(), &tasks),
        first
    );
    strategy.teardown().unwrap();
    strategy.teardown().unwrap();
    assert_eq!(
        strategy.run(&tasks).unwrap_err().to_string(),
        "strategy `sequential` is not set up"
    );
}

#[test]
fn unknown_strategies_list_the_valid_names_and_bad_tasks_are_refused() {
    let err = Registry::builtin().get("rayonn").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown strategy `rayonn`; valid strategies: sequential, threads, thread-pool, rayon, tokio, actors, process-pool, process-shm, timely"
    );
    let job = risky_job(FailurePolicy::Collect, 0);
    let mut strategy = sequential();
    strategy.setup(&job).unwrap();
    let mut tasks = plan_tasks(10_000, 2).unwrap();
    tasks[1].items.end = 10_001;
    assert_eq!(
        strategy.run(&tasks).unwrap_err().to_string(),
        "task 1 covers items 5000..10001, but the input has 10000 items"
    );
}
