//! The sequential reference, and the check of every sample against it.

use std::collections::BTreeMap;

use parbench_workloads::{Answer, Failure, FailureKind, Partial, Task};

use crate::sequential::Sequential;
use crate::{FailurePolicy, Job, RunReport, Strategy, StrategyError, TaskOutcome};

/// What a run of a job over a task list must produce, from the sequential strategy.
///
/// Under `collect` and `retry(N)` every strategy must reproduce [`Reference::answer`] exactly.
/// Under `fail-fast` the set of tasks that run depends on timing (parallel workers may have
/// started other failing tasks before the cancellation reached them), so a sample is checked
/// task by task: every task it ran must have succeeded or failed exactly as in a run that lets
/// every task run, and its output must match that run's for the tasks that succeeded.
///
/// A workload of rounds is checked round by round: the state after each round must be the
/// reference's, bit for bit. A round with a failed task is the last under every policy (the
/// next state needs every partial), so fail-fast only lets a parallel run skip some of that
/// round's tasks: the failures it reports must be some of the reference's, and there must be
/// some exactly when the reference has some.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The sequential run's answer under the job's policy.
    pub answer: Answer,
    /// The sequential run's report.
    pub report: RunReport,
    /// For fail-fast: every task's output and outcome when all tasks run.
    every_task: Option<EveryTask>,
}

#[derive(Debug, Clone)]
struct EveryTask {
    output: Vec<u8>,
    partials: Vec<Option<Partial>>,
    failures: BTreeMap<u32, FailureKind>,
}

fn run_sequential(job: &Job, tasks: &[Task]) -> Result<(Vec<u8>, RunReport), StrategyError> {
    let mut sequential = Sequential::default();
    sequential.setup(job)?;
    let report = crate::run(&mut sequential, job.workload.as_ref(), tasks)?;
    let output = sequential.output().to_vec();
    sequential.teardown()?;
    Ok((output, report))
}

impl Reference {
    /// Runs `job` over `tasks` sequentially (twice under fail-fast: once as asked, once letting
    /// every task run).
    pub fn compute(job: &Job, tasks: &[Task]) -> Result<Self, StrategyError> {
        if job.workload.as_rounds().is_some() {
            // The failing round is the last under any policy: let all of its tasks run.
            let collect = Job {
                policy: match job.policy {
                    FailurePolicy::FailFast => FailurePolicy::Collect,
                    policy => policy,
                },
                ..job.clone()
            };
            let (output, report) = run_sequential(&collect, tasks)?;
            return Ok(Self {
                answer: report.answer(job.workload.as_ref(), &output, tasks),
                report,
                every_task: None,
            });
        }
        let (output, report) = run_sequential(job, tasks)?;
        let answer = report.answer(job.workload.as_ref(), &output, tasks);
        let every_task = if job.policy == FailurePolicy::FailFast {
            let collect = Job {
                policy: FailurePolicy::Collect,
                ..job.clone()
            };
            let (output, report) = run_sequential(&collect, tasks)?;
            let failures = report
                .answer(job.workload.as_ref(), &output, tasks)
                .failures
                .iter()
                .map(|f| (f.task, f.kind))
                .collect();
            Some(EveryTask {
                partials: report.partials(),
                output,
                failures,
            })
        } else {
            None
        };
        Ok(Self {
            answer,
            report,
            every_task,
        })
    }

    /// A reference holding only an answer computed elsewhere (by another process), for the
    /// policies under which every sample must reproduce it exactly: `collect` and `retry(N)`.
    /// Returns `None` under `fail-fast`, whose check needs every task's output: compute it.
    pub fn expecting(answer: Answer, policy: FailurePolicy) -> Option<Self> {
        (policy != FailurePolicy::FailFast).then(|| Self {
            answer,
            report: RunReport::default(),
            every_task: None,
        })
    }

    /// Time spent inside tasks by the sequential run: the base of the contention part.
    pub fn busy_ns(&self) -> u64 {
        self.report.spans.iter().map(|s| s.duration_ns()).sum()
    }

    /// Checks one sample: `report` and `output` of a run of the same job over the same tasks.
    /// The error says what differs, and what the first task that failed unexpectedly said (a
    /// service that died, a panic).
    pub fn check(
        &self,
        job: &Job,
        tasks: &[Task],
        report: &RunReport,
        output: &[u8],
    ) -> Result<(), String> {
        self.compare(job, tasks, report, output).map_err(|differs| {
            let expected = &self.answer.failures;
            let unexpected = tasks
                .iter()
                .zip(&report.outcomes)
                .find_map(|(task, outcome)| match outcome {
                    TaskOutcome::Failed { error, .. }
                        if !expected.iter().any(|f| f.task == task.id) =>
                    {
                        Some(format!("; task {} failed: {}", task.id, error.message))
                    }
                    _ => None,
                });
            differs + &unexpected.unwrap_or_default()
        })
    }

    /// What [`Reference::check`] checks, without the failed task's words.
    fn compare(
        &self,
        job: &Job,
        tasks: &[Task],
        report: &RunReport,
        output: &[u8],
    ) -> Result<(), String> {
        if report.outcomes.len() != tasks.len() {
            return Err(format!(
                "{} outcomes for {} tasks",
                report.outcomes.len(),
                tasks.len()
            ));
        }
        let workload = job.workload.as_ref();
        let got = report.answer(workload, output, tasks);
        if workload.as_rounds().is_some() {
            return self.check_rounds(job.policy, &got);
        }
        let Some(every) = &self.every_task else {
            return if got == self.answer {
                Ok(())
            } else {
                Err(mismatch(&got, &self.answer))
            };
        };
        // Fail-fast: each task that ran behaves as when every task runs.
        for failure in &got.failures {
            match every.failures.get(&failure.task) {
                Some(kind) if *kind == failure.kind => {}
                Some(kind) => {
                    return Err(format!(
                        "task {} failed with a {}, expected a {kind}",
                        failure.task, failure.kind
                    ))
                }
                None => return Err(format!("task {} failed but should succeed", failure.task)),
            }
        }
        for (task, outcome) in tasks.iter().zip(&report.outcomes) {
            if matches!(outcome, TaskOutcome::Done { .. }) && every.failures.contains_key(&task.id)
            {
                return Err(format!("task {} succeeded but should fail", task.id));
            }
        }
        if !every.failures.is_empty() && got.failures.is_empty() {
            return Err("no task failed, so none should have been skipped".to_owned());
        }
        let ran: Vec<Option<Partial>> = report
            .outcomes
            .iter()
            .zip(&every.partials)
            .map(|(o, p)| match o {
                TaskOutcome::Done { .. } => p.clone(),
                _ => None,
            })
            .collect();
        let expected = Answer::compute(workload, &every.output, tasks, &ran, got.failures.clone());
        if got == expected {
            Ok(())
        } else {
            Err(mismatch(&got, &expected))
        }
    }
}

impl Reference {
    /// The check of a run in rounds (see the type's notes).
    fn check_rounds(&self, policy: FailurePolicy, got: &Answer) -> Result<(), String> {
        // The answer holds the digest of each round's state, wherever it was computed.
        let (ran, expected) = (&got.rounds, &self.answer.rounds);
        let differs = (0..ran.len().min(expected.len())).find(|&r| ran[r] != expected[r]);
        if let Some(round) = differs {
            return Err(format!(
                "the state after round {} of {} differs",
                round + 1,
                expected.len()
            ));
        }
        if ran.len() != expected.len() {
            return Err(format!(
                "{} rounds ran, expected {}",
                ran.len(),
                expected.len()
            ));
        }
        if got.digest != self.answer.digest {
            return Err(mismatch(got, &self.answer));
        }
        let wanted = &self.answer.failures;
        let failures_fit = if policy == FailurePolicy::FailFast {
            got.failures.iter().all(|f| wanted.contains(f))
                && got.failures.is_empty() == wanted.is_empty()
        } else {
            got.failures == *wanted
        };
        if !failures_fit {
            return Err(mismatch(got, &self.answer));
        }
        Ok(())
    }
}

fn mismatch(got: &Answer, expected: &Answer) -> String {
    let ids = |failures: &[Failure]| {
        failures
            .iter()
            .map(|f| format!("{}:{}", f.task, f.kind))
            .collect::<Vec<_>>()
            .join(",")
    };
    if got.failures != expected.failures {
        format!(
            "failed tasks [{}], expected [{}]",
            ids(&got.failures),
            ids(&expected.failures)
        )
    } else {
        format!("digest {}, expected {}", got.digest, expected.digest)
    }
}
