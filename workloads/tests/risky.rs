//! `risky` fails exactly the tasks its seed chooses, the way it says, on the attempts it says.

mod common;

use common::{build, run};
use parbench_workloads::builtin::risky::Risky;
use parbench_workloads::{plan_tasks, EnvVars, Failure, FailureKind, Registry, Value};

const SEED: u64 = 99;

fn risky(
    error: f64,
    panic: f64,
    fail_attempts: u64,
) -> std::sync::Arc<dyn parbench_workloads::Workload> {
    build(
        "risky",
        &[
            ("error_rate", Value::Float(error)),
            ("panic_rate", Value::Float(panic)),
            ("fail_attempts", Value::Int(fail_attempts)),
        ],
        &EnvVars::new(),
    )
}

/// The failures the seed's rule predicts, which the runs must then show.
fn expected(seed: u64, tasks: u32, error: f64, panic: f64) -> Vec<Failure> {
    let rule = Risky::new(error, panic);
    (0..tasks)
        .filter_map(|id| rule.fate(seed, id).map(|kind| Failure { task: id, kind }))
        .collect()
}

#[test]
fn fails_exactly_the_expected_tasks_with_the_expected_kinds() {
    let workload = risky(0.1, 0.05, 0);
    let input = workload.generate(20_000, SEED);
    let sample = run(workload.as_ref(), &input, 400, SEED, 1);
    let want = expected(SEED, 400, 0.1, 0.05);
    assert_eq!(sample.failures, want);
    let errors = want.iter().filter(|f| f.kind == FailureKind::Error).count();
    let panics = want.len() - errors;
    // 400 tasks at 10% and 5%: far from both zero and all.
    assert!((20..=60).contains(&errors), "{errors} errors");
    assert!((6..=40).contains(&panics), "{panics} panics");
    // Another seed chooses other tasks.
    assert_ne!(expected(SEED + 1, 400, 0.1, 0.05), want);
}

#[test]
fn the_successful_outputs_still_match_a_run_without_failures() {
    let failing = risky(0.2, 0.1, 0);
    let clean = risky(0.0, 0.0, 0);
    let input = failing.generate(5_000, SEED);
    let failed = run(failing.as_ref(), &input, 50, SEED, 1);
    let ok = run(clean.as_ref(), &input, 50, SEED, 1);
    let failed_ids: Vec<u32> = failed.failures.iter().map(|f| f.task).collect();
    assert!(!failed_ids.is_empty());
    for task in &failed.tasks {
        let bytes = task.items.start * 8..task.items.end * 8;
        if failed_ids.contains(&task.id) {
            // Failing tasks fail midway: the first half was written.
            let half = task.items.len() / 2 * 8;
            assert_eq!(
                failed.output[bytes.start..bytes.start + half],
                ok.output[bytes.start..bytes.start + half]
            );
        } else {
            assert_eq!(failed.output[bytes.clone()], ok.output[bytes]);
        }
    }
}

#[test]
fn transient_failures_succeed_once_retried_enough() {
    let workload = risky(0.3, 0.1, 2);
    let input = workload.generate(1_000, SEED);
    let permanent = run(workload.as_ref(), &input, 100, SEED, 1).failures;
    assert!(!permanent.is_empty());
    // Two attempts are not enough; the third succeeds.
    assert_eq!(
        run(workload.as_ref(), &input, 100, SEED, 2).failures,
        permanent
    );
    assert_eq!(run(workload.as_ref(), &input, 100, SEED, 3).failures, []);
    // The workload's own expectation agrees.
    let tasks = plan_tasks(1_000, 100).unwrap();
    let rule = Risky::new(0.3, 0.1).with_fail_attempts(2);
    assert_eq!(rule.expected_failures(SEED, &tasks, 2), permanent);
    assert_eq!(rule.expected_failures(SEED, &tasks, 3), []);
}

#[test]
fn rates_that_cannot_both_hold_are_rejected() {
    let registry = Registry::builtin();
    let spec = registry.get("risky").unwrap();
    let params = spec
        .resolve(
            &[
                ("error_rate".to_owned(), Value::Float(0.7)),
                ("panic_rate".to_owned(), Value::Float(0.5)),
            ]
            .into(),
        )
        .unwrap();
    let err = spec.instantiate(&params, &EnvVars::new()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "workload `risky`: error_rate + panic_rate must be at most 1, got 0.7 + 0.5"
    );
    let err = spec
        .resolve(&[("panic_rate".to_owned(), Value::Float(-0.1))].into())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter `panic_rate` of `risky` must be in 0.0..=1.0, got -0.1"
    );
}
