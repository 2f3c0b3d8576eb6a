//! Work in rounds under every strategy: each round's state bit for bit the reference's, every
//! task spanned once a round inside its round, rounds back to back; and a strategy that loses
//! one partial in one round is caught, naming the round.
//!
//! The binary has its own `main` (no libtest harness) so that it can serve as the worker
//! processes of the process strategies.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{configure, job};
use libtest_mimic::Trial;
use parbench_strategies::exec::execute;
use parbench_strategies::rounds::{partials, Trace};
use parbench_strategies::{
    now_ns, run, FailurePolicy, Job, Reference, Registry, RunReport, Strategy, StrategyError,
    StrategySpec, TaskOutcome, Teardown,
};
use parbench_workloads::{
    plan_tasks, Failure, FailureKind, Input, Items, Layout, Partial, Rounds, Task, TaskContext,
    TaskError, Value, Workload,
};

/// Every strategy with its defaults, and the variants whose rounds take another path.
fn variants(strategies: &Registry) -> Vec<(&StrategySpec, BTreeMap<String, Value>)> {
    let mut all: Vec<_> = strategies.iter().map(|s| (s, BTreeMap::new())).collect();
    let with = |name: &str, params: &[(&str, Value)]| {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        (strategies.get(name).unwrap(), params)
    };
    all.push(with(
        "process-pool",
        &[("resident", Value::Text("true".into()))],
    ));
    all.push(with(
        "process-pool",
        &[
            ("resident", Value::Text("true".into())),
            ("chunksize", Value::Int(1)),
            ("depth", Value::Int(0)),
        ],
    ));
    all.push(with("process-shm", &[("chunksize", Value::Int(1))]));
    all.push(with(
        "tokio",
        &[("cpu", Value::Text("block-in-place".into()))],
    ));
    all.push(with(
        "thread-pool",
        &[("threads", Value::Text("executor".into()))],
    ));
    all.push(with("timely", &[("mode", Value::Text("processes".into()))]));
    all
}

/// Rounds follow each other without a gap inside the run, each task has one span a round, and
/// every span lies inside one round.
fn check_rounds(name: &str, report: &RunReport, tasks: usize, rounds: usize) {
    assert_eq!(report.rounds.len(), rounds, "{name}");
    assert_eq!(
        report.spans.len(),
        tasks * rounds,
        "{name}: one span per task and round"
    );
    let mut at = report.start_ns;
    for round in &report.rounds {
        assert!(
            round.start_ns >= at && round.end_ns >= round.start_ns,
            "{name}: {round:?} after {at}"
        );
        at = round.end_ns;
    }
    assert!(at <= report.end_ns);
    for t in 0..tasks as u32 {
        let mut of_task: Vec<_> = report.spans.iter().filter(|s| s.task == t).collect();
        of_task.sort_by_key(|s| s.start_ns);
        for (span, round) in of_task.iter().zip(&report.rounds) {
            assert!(
                round.start_ns <= span.start_ns && span.end_ns <= round.end_ns,
                "{name}: task {t}'s span {span:?} outside its round {}..{}",
                round.start_ns,
                round.end_ns
            );
        }
    }
}

fn every_strategy_reproduces_every_round() {
    let configured = configure(
        "kmeans",
        &[
            ("dims", Value::Int(3)),
            ("k", Value::Int(5)),
            ("rounds", Value::Int(4)),
        ],
    );
    let size = 600;
    let input = Arc::new(configured.0.generate(size, 9));
    let strategies = Registry::builtin();
    for workers in 1..=3 {
        for count in [1, workers, 7] {
            let tasks = plan_tasks(size, count).unwrap();
            let job = job(&configured, &input, 9, workers, FailurePolicy::Collect);
            let reference = Reference::compute(&job, &tasks).unwrap();
            assert_eq!(reference.report.rounds.len(), 4);
            for (spec, given) in variants(&strategies) {
                let mut strategy = spec.instantiate(&given).unwrap();
                strategy.setup(&job).unwrap();
                for _ in 0..2 {
                    let report = run(strategy.as_mut(), job.workload.as_ref(), &tasks)
                        .unwrap_or_else(|e| panic!("{} {given:?}: {e}", spec.name));
                    if let Err(e) = reference.check(&job, &tasks, &report, strategy.output()) {
                        panic!(
                            "{} {given:?} with {workers} workers and {count} tasks: {e}",
                            spec.name
                        );
                    }
                    check_rounds(spec.name, &report, count, 4);
                }
                strategy.teardown().unwrap();
            }
        }
    }
}

/// A strategy of one thread whose round `lose` leaves the last task's partial out of the
/// reduction: a partition's contribution lost.
struct Lossy {
    job: Option<Job>,
    lose: usize,
}

impl Strategy for Lossy {
    fn name(&self) -> &str {
        "lossy"
    }
    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        self.job = Some(job.clone());
        Ok(())
    }
    fn run(&mut self, _: &[Task]) -> Result<RunReport, StrategyError> {
        Err(StrategyError::NoRounds("lossy".into()))
    }
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = self.job.as_ref().unwrap();
        let start_ns = now_ns();
        let mut trace = Trace::start(job, "lossy")?;
        let mut round = 0;
        loop {
            round += 1;
            let outcomes: Vec<_> = tasks
                .iter()
                .map(|task| execute(job, Some(trace.state()), task, &mut []))
                .collect();
            let mut partials = partials(&outcomes);
            if round == self.lose {
                partials.pop();
            }
            if !trace.close(&partials, 0) {
                return Ok(RunReport {
                    start_ns,
                    end_ns: now_ns(),
                    lanes: 1,
                    outcomes,
                    rounds: trace.finish(),
                    ..RunReport::default()
                });
            }
        }
    }
    fn output(&self) -> &[u8] {
        &[]
    }
    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        Ok(Teardown::default())
    }
}

fn a_lost_partial_fails_the_check_naming_its_round() {
    let configured = configure("kmeans", &[("rounds", Value::Int(5))]);
    let input = Arc::new(configured.0.generate(2_000, 3));
    let tasks = plan_tasks(2_000, 4).unwrap();
    let job = job(&configured, &input, 3, 2, FailurePolicy::Collect);
    let reference = Reference::compute(&job, &tasks).unwrap();
    for (lose, expected) in [
        (0, Ok(())),
        (3, Err("the state after round 3 of 5 differs".to_owned())),
        (1, Err("the state after round 1 of 5 differs".to_owned())),
    ] {
        let mut lossy = Lossy { job: None, lose };
        lossy.setup(&job).unwrap();
        let report = run(&mut lossy, job.workload.as_ref(), &tasks).unwrap();
        assert_eq!(report.rounds.len(), 5);
        assert_eq!(reference.check(&job, &tasks, &report, &[]), expected);
    }
    // A reference computed elsewhere (the answer alone, as a cell process receives it) names
    // the round too: the answer holds each round's digest.
    let elsewhere = Reference::expecting(reference.answer.clone(), FailurePolicy::Collect).unwrap();
    assert_eq!(elsewhere.answer.rounds.len(), 5);
    for (lose, expected) in [
        (5, Err("the state after round 5 of 5 differs".to_owned())),
        (2, Err("the state after round 2 of 5 differs".to_owned())),
        (0, Ok(())),
    ] {
        let mut lossy = Lossy { job: None, lose };
        lossy.setup(&job).unwrap();
        let report = run(&mut lossy, job.workload.as_ref(), &tasks).unwrap();
        assert_eq!(elsewhere.check(&job, &tasks, &report, &[]), expected);
    }
}

fn a_strategy_without_rounds_says_so() {
    let configured = configure("kmeans", &[("rounds", Value::Int(2))]);
    let input = Arc::new(configured.0.generate(100, 3));
    let job = job(&configured, &input, 3, 1, FailurePolicy::Collect);
    struct OnePass;
    impl Strategy for OnePass {
        fn name(&self) -> &str {
            "one-pass"
        }
        fn setup(&mut self, _: &Job) -> Result<(), StrategyError> {
            Ok(())
        }
        fn run(&mut self, _: &[Task]) -> Result<RunReport, StrategyError> {
            Ok(RunReport::default())
        }
        fn output(&self) -> &[u8] {
            &[]
        }
        fn teardown(&mut self) -> Result<Teardown, StrategyError> {
            Ok(Teardown::default())
        }
    }
    let error = run(
        &mut OnePass,
        job.workload.as_ref(),
        &plan_tasks(100, 2).unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "strategy `one-pass` cannot run a workload of rounds"
    );
}

/// Rounds whose state counts them; task 1 fails in the second round, however often it is
/// attempted.
struct Brittle;

impl Workload for Brittle {
    fn name(&self) -> &str {
        "brittle"
    }
    fn generate(&self, size: usize, _: u64) -> Input {
        Input::new(
            vec![0; size * 8],
            Layout::Fixed {
                len: 8,
                count: size,
            },
        )
    }
    fn output_len(&self) -> usize {
        0
    }
    fn run_task(&self, _: &TaskContext, _: Items<'_>, _: &mut [u8]) -> Result<Partial, TaskError> {
        Err(TaskError::error("brittle runs in rounds"))
    }
    fn as_rounds(&self) -> Option<&dyn Rounds> {
        Some(self)
    }
}

impl Rounds for Brittle {
    fn rounds(&self) -> usize {
        4
    }
    fn initial_state(&self, _: &Input) -> Vec<u8> {
        0u64.to_le_bytes().to_vec()
    }
    fn map(
        &self,
        task: &TaskContext,
        state: &[u8],
        items: Items<'_>,
    ) -> Result<Vec<u8>, TaskError> {
        if task.task.id == 1 && state[0] == 1 {
            return Err(TaskError::error("task 1 breaks in round 2"));
        }
        Ok((items.len() as u64).to_le_bytes().to_vec())
    }
    fn reduce(&self, state: &[u8], _: &[&[u8]]) -> Vec<u8> {
        (u64::from(state[0]) + 1).to_le_bytes().to_vec()
    }
}

fn a_failed_task_ends_the_rounds_after_its_round_under_every_policy() {
    // The recipe is only read by worker processes, which this test does not start.
    let (_, recipe) = configure("kmeans", &[]);
    let workload: Arc<dyn Workload> = Arc::new(Brittle);
    let input = Arc::new(workload.generate(100, 1));
    let tasks = plan_tasks(100, 4).unwrap();
    let in_process = [
        "sequential",
        "threads",
        "thread-pool",
        "rayon",
        "tokio",
        "actors",
        "timely",
    ];
    for policy in [
        FailurePolicy::Collect,
        FailurePolicy::FailFast,
        FailurePolicy::Retry(1),
    ] {
        let job = job(&(workload.clone(), recipe.clone()), &input, 1, 2, policy);
        let reference = Reference::compute(&job, &tasks).unwrap();
        assert_eq!(reference.report.rounds.len(), 1);
        assert_eq!(
            reference.answer.failures,
            [Failure {
                task: 1,
                kind: FailureKind::Error
            }]
        );
        for name in in_process {
            let mut strategy = Registry::builtin()
                .get(name)
                .unwrap()
                .instantiate(&BTreeMap::new())
                .unwrap();
            strategy.setup(&job).unwrap();
            let report = run(strategy.as_mut(), job.workload.as_ref(), &tasks).unwrap();
            assert_eq!(report.rounds.len(), 1, "{name} under {policy}");
            if let Err(e) = reference.check(&job, &tasks, &report, strategy.output()) {
                panic!("{name} under {policy}: {e}");
            }
            let attempts = match &report.outcomes[1] {
                TaskOutcome::Failed { attempts, .. } => *attempts,
                other => panic!("{name} under {policy}: task 1 {other:?}"),
            };
            assert_eq!(attempts, policy.attempts(), "{name} under {policy}");
            strategy.teardown().unwrap();
        }
    }
}

fn main() -> std::process::ExitCode {
    common::main_serving_workers(
        vec![
            Trial::test("every_strategy_reproduces_every_round", || {
                every_strategy_reproduces_every_round();
                Ok(())
            }),
            Trial::test("a_lost_partial_fails_the_check_naming_its_round", || {
                a_lost_partial_fails_the_check_naming_its_round();
                Ok(())
            }),
            Trial::test(
                "a_failed_task_ends_the_rounds_after_its_round_under_every_policy",
                || {
                    a_failed_task_ends_the_rounds_after_its_round_under_every_policy();
                    Ok(())
                },
            ),
            Trial::test("a_strategy_without_rounds_says_so", || {
                a_strategy_without_rounds_says_so();
                Ok(())
            }),
        ],
        false,
    )
}
