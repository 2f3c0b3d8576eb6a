//! Helpers shared by the strategy tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use parbench_strategies::{FailurePolicy, Job};
use parbench_workloads::{EnvVars, Environment, Input, Recipe, Value, Workload};

/// The shared environments (HTTP server, spin calibration), started once for the whole test
/// binary and living as long as it.
pub fn env() -> &'static EnvVars {
    static VARS: OnceLock<EnvVars> = OnceLock::new();
    VARS.get_or_init(|| {
        let mut vars = EnvVars::new();
        for spec in parbench_workloads::Registry::builtin().iter() {
            if let Some(environment) = spec.environment {
                let running = environment.start().unwrap();
                vars.extend(running.vars());
                Box::leak(Box::new(running) as Box<Box<dyn Environment>>);
            }
        }
        vars
    })
}

/// A built-in workload configured with `params`, and its recipe, in the shared environment.
pub fn configure(name: &str, params: &[(&str, Value)]) -> (Arc<dyn Workload>, Arc<Recipe>) {
    configure_in(name, params, env())
}

/// [`configure`] in the environment `vars`.
pub fn configure_in(
    name: &str,
    params: &[(&str, Value)],
    vars: &EnvVars,
) -> (Arc<dyn Workload>, Arc<Recipe>) {
    let registry = parbench_workloads::Registry::builtin();
    let spec = registry.get(name).unwrap();
    let given: BTreeMap<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).into(), v.clone()))
        .collect();
    let resolved = spec.resolve(&given).unwrap();
    let recipe = Recipe::new(spec, &resolved, vars);
    (spec.instantiate(&resolved, vars).unwrap(), Arc::new(recipe))
}

/// A job over `input`.
pub fn job(
    (workload, recipe): &(Arc<dyn Workload>, Arc<Recipe>),
    input: &Arc<Input>,
    seed: u64,
    workers: usize,
    policy: FailurePolicy,
) -> Job {
    Job {
        workload: workload.clone(),
        recipe: recipe.clone(),
        input: input.clone(),
        seed,
        workers,
        policy,
    }
}

/// The `main` of a test binary without the libtest harness: it serves as a worker process
/// when a process strategy starts it with the worker command (the binary is `current_exe()`),
/// and otherwise runs `trials` with libtest's command line (`one_at_a_time` for tests that look
/// at process-wide state such as `/dev/shm`).
pub fn main_serving_workers(
    trials: Vec<libtest_mimic::Trial>,
    one_at_a_time: bool,
) -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let registry = parbench_workloads::Registry::builtin();
    let served = match args.next().as_deref() {
        Some(parbench_strategies::process::WORKER_COMMAND) => {
            Some(parbench_strategies::process::serve(&registry))
        }
        #[cfg(feature = "timely")]
        Some(parbench_strategies::dataflow::NODE_COMMAND) => Some(
            parbench_strategies::dataflow::serve_node(&registry, &node_args(args)),
        ),
        _ => None,
    };
    if let Some(served) = served {
        return match served {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("worker: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let mut arguments = libtest_mimic::Arguments::from_args();
    if one_at_a_time {
        arguments.test_threads = Some(1);
    }
    libtest_mimic::run(&arguments, trials).exit_code()
}

/// `--hostfile FILE --process N`, as a user starts a node of a timely cluster.
#[cfg(feature = "timely")]
pub fn node_args(
    mut args: impl Iterator<Item = String>,
) -> parbench_strategies::dataflow::NodeArgs {
    let mut node = parbench_strategies::dataflow::NodeArgs::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hostfile" => node.hostfile = args.next().map(Into::into),
            "--process" => node.process = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
    node
}

/// The clock ticks process `pid` has run on a core (its `utime` plus `stime`).
fn ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and
    // 13th of them.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

/// Waits until process `pid`, idle when this is called (a worker set up, its run about to
/// start), has run on a core for two clock ticks more: a worker mid-run, whatever the
/// machine's load made of the wall time. Gives up after a minute.
pub fn wait_until_working(pid: u32) {
    let idle = ticks(pid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if ticks(pid) >= idle + 2 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("process {pid} did not run within a minute");
}
