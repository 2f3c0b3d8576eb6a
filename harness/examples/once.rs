//! Runs one workload once, sequentially, as a whole process: for timing parbench against a
//! tool that measures commands, such as hyperfine.
//!
//! ```sh
//! cargo build --release --example once
//! hyperfine -N 'target/release/examples/once resize 24 --generate-only' \
//!              'target/release/examples/once resize 24'
//! ```
//!
//! The difference between the two commands' times is the run itself: the same work as the
//! `resize/size=24/tasks=1/sequential/w1` cell measures.

use std::process::ExitCode;

use parbench_strategies::{Job, Registry};
use parbench_workloads::{plan_tasks, Recipe};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(name), Some(size)) = (args.first(), args.get(1).and_then(|s| s.parse().ok())) else {
        eprintln!("usage: once WORKLOAD SIZE [--generate-only]");
        return ExitCode::from(2);
    };
    let generate_only = args.iter().any(|a| a == "--generate-only");
    let workloads = parbench_workloads::Registry::builtin();
    let spec = match workloads.get(name) {
        Ok(spec) if spec.environment.is_none() => spec,
        Ok(_) => {
            eprintln!("once: `{name}` needs a shared environment; pick another workload");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("once: {e}");
            return ExitCode::from(2);
        }
    };
    let params = match spec.resolve(&Default::default()) {
        Ok(params) => params,
        Err(e) => {
            eprintln!("once: {e}");
            return ExitCode::from(2);
        }
    };
    let recipe = Recipe::new(spec, &params, &Default::default());
    let job = match Job::generate(recipe, &workloads, size, 42) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("once: {e}");
            return ExitCode::from(2);
        }
    };
    if generate_only {
        return ExitCode::SUCCESS;
    }
    let outcome = plan_tasks(job.input.items(), 1)
        .map_err(|e| e.to_string())
        .and_then(|tasks| {
            let mut sequential = Registry::builtin()
                .get("sequential")
                .and_then(|s| s.instantiate(&Default::default()))
                .map_err(|e| e.to_string())?;
            sequential.setup(&job).map_err(|e| e.to_string())?;
            sequential.run(&tasks).map_err(|e| e.to_string())?;
            sequential.teardown().map_err(|e| e.to_string())?;
            Ok(())
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("once: {e}");
            ExitCode::FAILURE
        }
    }
}
