//! A minimal sequential driver for the workloads' own tests (the real one lives in
//! `parbench-strategies`, which depends on this crate).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parbench_workloads::{
    plan_tasks, Answer, EnvVars, Environment, Failure, Input, Partial, Registry, Task, TaskContext,
    TaskError, Value, Workload,
};

/// Builds a built-in workload with `params` (name, value) over `env`.
pub fn build(name: &str, params: &[(&str, Value)], env: &EnvVars) -> Arc<dyn Workload> {
    let registry = Registry::builtin();
    let spec = registry.get(name).unwrap();
    let given: BTreeMap<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    spec.instantiate(&spec.resolve(&given).unwrap(), env)
        .unwrap()
}

/// Starts the environment a built-in workload needs, if any.
pub fn environment(name: &str) -> Option<Box<dyn Environment>> {
    Registry::builtin()
        .get(name)
        .unwrap()
        .environment
        .map(|e| e.start().unwrap())
}

/// What a sequential run over `tasks` produced.
pub struct Run {
    pub output: Vec<u8>,
    pub tasks: Vec<Task>,
    pub partials: Vec<Option<Partial>>,
    pub failures: Vec<Failure>,
}

impl Run {
    pub fn answer(&self, workload: &dyn Workload) -> Answer {
        Answer::compute(
            workload,
            &self.output,
            &self.tasks,
            &self.partials,
            self.failures.clone(),
        )
    }
}

/// Runs every task of `input` split into `tasks` tasks, in order, each attempted up to
/// `attempts` times, with panics caught as the strategies catch them.
pub fn run(workload: &dyn Workload, input: &Input, tasks: usize, seed: u64, attempts: u32) -> Run {
    let tasks = plan_tasks(input.items(), tasks).unwrap();
    let len = workload.output_len();
    let mut output = vec![0u8; input.items() * len];
    let mut partials = Vec::new();
    let mut failures = Vec::new();
    for task in &tasks {
        let out = &mut output[task.items.start * len..task.items.end * len];
        let mut last: Option<TaskError> = None;
        let mut done = None;
        for attempt in 1..=attempts {
            let context = TaskContext {
                task: task.clone(),
                attempt,
                seed,
            };
            let items = input.view().slice(task.items.clone());
            let result = catch_unwind(AssertUnwindSafe(|| {
                workload.run_task(&context, items, &mut *out)
            }))
            .unwrap_or_else(|_| Err(TaskError::panic("panicked")));
            match result {
                Ok(partial) => {
                    done = Some(partial);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if done.is_none() {
            failures.push(Failure {
                task: task.id,
                kind: last.unwrap().kind,
            });
        }
        partials.push(done);
    }
    Run {
        output,
        tasks,
        partials,
        failures,
    }
}
