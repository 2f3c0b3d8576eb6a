//! criterion groups per strategy (feature `criterion`): the same work under every strategy, as
//! benchmarks of one criterion group, so criterion's statistics, reports and baselines compare
//! the strategies.
//!
//! A bench target (`harness = false`) registers its groups with criterion as usual and ends with
//! [`crate::criterion_main!`] instead of criterion's: it serves the hidden commands the process
//! strategies start their workers with (the bench binary again) before criterion sees the
//! command line.
//!
//! ```no_run
//! use criterion::{criterion_group, Criterion};
//! use parbench::WorkloadEntry;
//!
//! fn strategies(c: &mut Criterion) {
//!     let square = WorkloadEntry::new("square").sizes([1_000_000]).tasks([64]);
//!     parbench::criterion::bench_strategies(c, square, ["sequential", "rayon", "process-shm"], [1, 2])
//!         .expect("a valid workload and strategies");
//! }
//!
//! criterion_group!(benches, strategies);
//! parbench::criterion_main!(benches);
//! ```

use std::sync::OnceLock;
use std::time::Duration;

use ::criterion::BenchmarkId;
/// criterion's `Criterion`, as [`crate::criterion_main!`] names it.
pub use ::criterion::Criterion;
use parbench_strategies::{FailurePolicy, Strategy};
use parbench_workloads::{Recipe, WorkloadSpec};

use crate::cell::prepare::{run_verified, Prepared};
use crate::error::Error;
use crate::plugins::Plugins;
use crate::suite::{Suite, WorkloadEntry};

/// The plugins [`crate::criterion_main!`] registered: what the bench's groups and its worker
/// processes find workloads in.
static PLUGINS: OnceLock<Plugins> = OnceLock::new();

/// What [`crate::criterion_main!`] runs first: registers `workloads` beside the built-in ones
/// and serves the hidden commands when this process is one of them (then exits with its
/// code). Returns otherwise, with the plugins in place for [`bench_strategies`].
///
/// Use the macro rather than calling it.
pub fn serve(workloads: Vec<WorkloadSpec>) {
    let mut plugins = Plugins::default();
    for workload in workloads {
        if let Err(e) = plugins.workloads.register(workload) {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
    if let Some(code) = crate::serve_hidden_commands(&plugins) {
        // `ExitCode` has no number to give `exit`; a hidden command succeeds or fails.
        std::process::exit(if code == std::process::ExitCode::SUCCESS {
            0
        } else {
            1
        });
    }
    // Ctrl-C ends the bench leaving no worker process and no shared-memory segment behind.
    if let Err(e) = crate::interrupt::install_saying("interrupted") {
        eprintln!("warning: {e}");
    }
    let _ = PLUGINS.set(plugins);
}

/// Registers one benchmark per strategy and worker count of `workload` in a criterion group per
/// (size, tasks) — the group `workload/size=N/tasks=N`, the benchmark `strategy/wN`, so that
/// criterion's id of a benchmark is parbench's id of the same cell.
///
/// Each strategy is set up once, outside the timed loop, when criterion first runs its
/// benchmark, and torn down after it; criterion times its runs with `iter_custom` (each run as
/// parbench times it: from the strategy's start to its last task's end) and every run's answer
/// is checked against the sequential reference, outside the timing. Strategies are names, with
/// parameters as suites write them (`"tokio[in_flight=8]"`); workers apply to the strategies
/// that use them.
///
/// # Errors
/// An unknown workload or strategy, an invalid parameter, size or task count (the suite's
/// errors, which list the valid names); a workload that cannot be prepared; a binary that does
/// not serve the hidden commands while a strategy starts processes (use
/// [`crate::criterion_main!`]).
///
/// # Panics
/// When a strategy fails to set up or run, or gives an answer that differs from the sequential
/// reference: a benchmark of a wrong answer must not report a time.
pub fn bench_strategies<S: Into<String>>(
    c: &mut Criterion,
    workload: WorkloadEntry,
    strategies: impl IntoIterator<Item = S>,
    workers: impl IntoIterator<Item = usize>,
) -> Result<(), Error> {
    let default = Plugins::default();
    let plugins = PLUGINS.get().unwrap_or(&default);
    let suite = Suite::builder("criterion")
        .workload(workload)
        .strategies(strategies)
        .workers(workers)
        .build(plugins)?;
    let Some(group) = suite.groups.first() else {
        return Ok(());
    };
    if group.strategies.iter().any(|s| s.spec.spawns_processes)
        && !crate::plugins::serves_hidden_commands()
    {
        return Err(Error::NotServing);
    }
    // A server or a calibration the workload needs, for as long as its benchmarks run.
    let environment = group.workload.environment.map(|e| e.start()).transpose()?;
    let vars = environment.as_ref().map(|e| e.vars()).unwrap_or_default();
    let recipe = Recipe::new(&group.workload, &group.params, &vars);
    // The cells of each (size, tasks) as a run expands them: strategies × their workers.
    for bucket in crate::runner::expand(&suite, None) {
        let (size, tasks) = (bucket.size, bucket.tasks);
        let prepared = Prepared::new(
            recipe.clone(),
            &plugins.workloads,
            (size, suite.seed, tasks),
            FailurePolicy::Collect,
            None,
        )
        .map_err(|message| {
            Error::Usage(format!(
                "{}/size={size}/tasks={tasks}: cannot prepare: {message}",
                group.workload.name
            ))
        })?;
        let Some((_, _, first)) = bucket.cells.first() else {
            continue;
        };
        let mut benchmarks = c.benchmark_group(split(first).0);
        for (configured, w, id) in &bucket.cells {
            let (_, strategy, workers) = split(id);
            let job = prepared.job(*w);
            let mut instance: Option<Box<dyn Strategy>> = None;
            benchmarks.bench_function(BenchmarkId::new(strategy, workers), |b| {
                let strategy = instance.get_or_insert_with(|| {
                    let mut strategy =
                        (configured.spec.build)(&configured.params).unwrap_or_else(|e| fail(id, e));
                    strategy
                        .setup(&job)
                        .unwrap_or_else(|e| fail(id, format!("setup failed: {e}")));
                    strategy
                });
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let verified = run_verified(strategy.as_mut(), &prepared, &job)
                            .unwrap_or_else(|e| fail(id, format!("the run {}", e.message)));
                        total += Duration::from_nanos(verified.report.wall_ns());
                    }
                    total
                });
            });
            if let Some(mut strategy) = instance {
                strategy
                    .teardown()
                    .unwrap_or_else(|e| fail(id, format!("teardown failed: {e}")));
            }
        }
        benchmarks.finish();
    }
    if let Some(environment) = environment {
        environment.stop()?;
    }
    Ok(())
}

/// A benchmark that cannot report a time: panics with the cell and why — unless the process
/// is being interrupted (Ctrl-C reached the workers too), when it waits for the signal thread
/// to end the process as every interrupted run ends.
fn fail(id: &str, why: impl std::fmt::Display) -> ! {
    if crate::interrupt::interrupted() {
        loop {
            std::thread::park();
        }
    }
    panic!("{id}: {why}")
}

/// A cell's id, `BUCKET/STRATEGY/wN`, as criterion's group, benchmark and parameter.
fn split(id: &str) -> (String, &str, &str) {
    let mut parts = id.rsplitn(3, '/');
    let workers = parts.next().unwrap_or_default();
    let strategy = parts.next().unwrap_or_default();
    (
        parts.next().unwrap_or_default().to_owned(),
        strategy,
        workers,
    )
}

/// The `main` of a criterion bench whose groups call [`bench_strategies`]: criterion's
/// `criterion_main!`, after serving the hidden commands the process strategies start their
/// workers with. Workloads of your own (anything that converts into a
/// [`WorkloadSpec`](crate::WorkloadSpec), such as a [`FnWorkload`](crate::FnWorkload)) are
/// registered first, so that worker processes find them too.
///
/// ```no_run
/// # use criterion::{criterion_group, Criterion};
/// # fn strategies(_: &mut Criterion) {}
/// # criterion_group!(benches, strategies);
/// # fn my_workload() -> parbench::WorkloadSpec { *parbench::Plugins::default().workloads.get("square").unwrap() }
/// parbench::criterion_main!(workloads = [my_workload()]; groups = [benches]);
/// ```
#[macro_export]
macro_rules! criterion_main {
    (workloads = [$($workload:expr),* $(,)?]; groups = [$($group:path),+ $(,)?] $(;)?) => {
        fn main() {
            $crate::criterion::serve(::std::vec![
                $(::std::convert::Into::<$crate::WorkloadSpec>::into($workload)),*
            ]);
            $($group();)+
            $crate::criterion::Criterion::default()
                .configure_from_args()
                .final_summary();
        }
    };
    ($($group:path),+ $(,)?) => {
        $crate::criterion_main!(workloads = []; groups = [$($group),+]);
    };
}
