//! `risky`: tasks that fail — return an error or panic — at set rates, chosen deterministically
//! from the seed and the task id, so the expected set of failing tasks is known in advance.
//!
//! With `fail_attempts = k > 0` a failing task fails on its first `k` attempts and succeeds on
//! attempt `k + 1`: a transient failure that a retry policy recovers from.
//!
//! `fault` fails a whole process instead — a panic, an abort, a segmentation fault, an
//! allocation that never ends, a hang — to show that a cell's failure stays its own. With
//! `fault_in = "input"` it strikes the process that generates the input; with `"task"`, the
//! process that runs task 0, the second time that process runs it (the first run after a
//! strategy's cold one: a timed run), which under the process strategies is a worker.

use std::sync::Arc;

use super::{random_words, u64_at};
use crate::{
    mix64, unit_f64, EnvVars, Failure, FailureKind, Input, Items, ParamKind, ParamSpec, Params,
    Partial, Task, TaskContext, TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// How `fault` ends the process that generates the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Panic,
    Abort,
    Segfault,
    Oom,
    Hang,
}

impl Fault {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "panic" => Some(Fault::Panic),
            "abort" => Some(Fault::Abort),
            "segfault" => Some(Fault::Segfault),
            "oom" => Some(Fault::Oom),
            "hang" => Some(Fault::Hang),
            _ => None,
        }
    }

    fn strike(self, place: FaultIn) {
        match self {
            Fault::Panic => match place {
                FaultIn::Input => panic!("risky: a fault injected while generating the input"),
                FaultIn::Task => panic!("risky: a fault injected while running task 0"),
            },
            Fault::Abort => std::process::abort(),
            Fault::Segfault => {
                // Until it is fatal: Rust's own SIGSEGV handler (which reports stack overflows)
                // takes the first, restores the default action and returns. In a process of
                // several threads the signal may reach another thread later, and two pending
                // at once are one: each waits for the one before to be delivered.
                loop {
                    let _ = rustix::process::kill_process(
                        rustix::process::getpid(),
                        rustix::process::Signal::SEGV,
                    );
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            Fault::Oom => {
                // Touch 64 MiB after 64 MiB until the allocator or the memory limit says no.
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1u8; 64 << 20]);
                }
            }
            Fault::Hang => {}
        }
        // A segmentation fault delivered to itself, or a hang: wait to be killed.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

/// Where `fault` strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultIn {
    /// The process that generates the input.
    Input,
    /// The process that runs task 0, on its second run of it.
    Task,
}

/// Runs of task 0 in this process, for a fault that strikes on the second.
static TASK_ZERO_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Registration of `risky`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "risky",
    description: "tasks that return an error or panic at set rates, chosen from the seed",
    kind: WorkKind::Compute,
    default_size: 100_000,
    params: &[
        ParamSpec {
            name: "error_rate",
            help: "share of tasks that return an error",
            kind: ParamKind::Float {
                default: 0.05,
                min: 0.0,
                max: 1.0,
            },
        },
        ParamSpec {
            name: "panic_rate",
            help: "share of tasks that panic",
            kind: ParamKind::Float {
                default: 0.02,
                min: 0.0,
                max: 1.0,
            },
        },
        ParamSpec {
            name: "fault",
            help: "how generating the input kills its process: none, or panic, abort, segfault, oom, hang",
            kind: ParamKind::Choice {
                default: "none",
                options: &["none", "panic", "abort", "segfault", "oom", "hang"],
            },
        },
        ParamSpec {
            name: "fault_in",
            help: "where the fault strikes: input (generating it), or task (the process running task 0, on its second run of it)",
            kind: ParamKind::Choice {
                default: "input",
                options: &["input", "task"],
            },
        },
        ParamSpec {
            name: "fail_attempts",
            help: "attempts a failing task fails before it succeeds (0: it never succeeds)",
            kind: ParamKind::Int {
                default: 0,
                min: 0,
                max: 1_000,
            },
        },
        ParamSpec {
            name: "rounds",
            help: "rounds of mixing per item: the work of a task",
            kind: ParamKind::Int {
                default: ROUNDS as u64,
                min: 1,
                max: 10_000_000,
            },
        },
    ],
    environment: None,
    build: &build,
};

/// Rounds of mixing per item by default: enough work that a task is more than its bookkeeping.
const ROUNDS: u32 = 16;

fn build(params: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    let error_rate = params.float("error_rate");
    let panic_rate = params.float("panic_rate");
    if error_rate + panic_rate > 1.0 {
        return Err(WorkloadError::Invalid {
            workload: SPEC.name.to_owned(),
            message: format!(
                "error_rate + panic_rate must be at most 1, got {error_rate} + {panic_rate}"
            ),
        });
    }
    Ok(Arc::new(Risky {
        fault: Fault::from_name(params.text("fault")),
        fault_in: if params.text("fault_in") == "task" {
            FaultIn::Task
        } else {
            FaultIn::Input
        },
        error_rate,
        panic_rate,
        fail_attempts: params.int("fail_attempts") as u32,
        rounds: params.int("rounds") as u32,
    }))
}

/// Mixes each integer and fails chosen tasks.
#[derive(Debug, Clone, Copy)]
pub struct Risky {
    fault: Option<Fault>,
    fault_in: FaultIn,
    error_rate: f64,
    panic_rate: f64,
    fail_attempts: u32,
    rounds: u32,
}

impl Risky {
    /// A `risky` with these rates whose failures are permanent.
    pub fn new(error_rate: f64, panic_rate: f64) -> Self {
        Self {
            fault: None,
            fault_in: FaultIn::Input,
            error_rate,
            panic_rate,
            fail_attempts: 0,
            rounds: ROUNDS,
        }
    }

    /// The same, with failures that last `attempts` attempts (0: permanent).
    pub fn with_fail_attempts(self, attempts: u32) -> Self {
        Self {
            fail_attempts: attempts,
            ..self
        }
    }

    /// How task `id` of a run seeded with `seed` fails, if it is one of the failing ones.
    pub fn fate(&self, seed: u64, id: u32) -> Option<FailureKind> {
        let u = unit_f64(mix64(seed ^ mix64(u64::from(id) ^ 0x7269_736b_7900_0000)));
        if u < self.error_rate {
            Some(FailureKind::Error)
        } else if u < self.error_rate + self.panic_rate {
            Some(FailureKind::Panic)
        } else {
            None
        }
    }

    /// Whether a failing task fails on its `attempt`-th attempt (1-based).
    fn fails_on(&self, attempt: u32) -> bool {
        self.fail_attempts == 0 || attempt <= self.fail_attempts
    }

    /// The tasks that fail when each task may be attempted `attempts` times: what a run under a
    /// collect (`attempts = 1`) or retry (`attempts = n + 1`) policy must report.
    pub fn expected_failures(&self, seed: u64, tasks: &[Task], attempts: u32) -> Vec<Failure> {
        tasks
            .iter()
            .filter_map(|t| {
                let kind = self.fate(seed, t.id)?;
                self.fails_on(attempts)
                    .then_some(Failure { task: t.id, kind })
            })
            .collect()
    }
}

fn mix_items(bytes: &[u8], out: &mut [u8], rounds: u32) {
    for (i, out) in out.chunks_exact_mut(8).enumerate() {
        let mut x = u64_at(bytes, i);
        for _ in 0..rounds {
            x = mix64(x);
        }
        out.copy_from_slice(&x.to_le_bytes());
    }
}

impl Workload for Risky {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        if let (Some(fault), FaultIn::Input) = (self.fault, self.fault_in) {
            fault.strike(FaultIn::Input);
        }
        random_words(size, seed)
    }

    fn output_len(&self) -> usize {
        8
    }

    fn run_task(
        &self,
        task: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        // The first half is written before a failure, as real tasks fail midway.
        let half = items.len() / 2;
        mix_items(
            &items.bytes()[..half * 8],
            &mut out[..half * 8],
            self.rounds,
        );
        let id = task.task.id;
        if let (Some(fault), FaultIn::Task, 0) = (self.fault, self.fault_in, id) {
            if TASK_ZERO_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 1 {
                fault.strike(FaultIn::Task);
            }
        }
        match self.fate(task.seed, id) {
            Some(kind) if self.fails_on(task.attempt) => {
                let message = format!("risky task {id} failed on attempt {}", task.attempt);
                match kind {
                    FailureKind::Error => return Err(TaskError::error(message)),
                    FailureKind::Panic => panic!("{message}"),
                }
            }
            _ => {}
        }
        mix_items(
            &items.bytes()[half * 8..],
            &mut out[half * 8..],
            self.rounds,
        );
        Ok(Partial::new())
    }
}
