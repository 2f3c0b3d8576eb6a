//! Runs a suite: prepares each workload once per (size, tasks), measures every cell of it, and
//! writes the results after every cell so an interrupted run keeps what it measured.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parbench_reports::{
    write_atomically, AnswerRecord, Cell, FailedTask, Features, Json, Results, Sample, Status,
    SuiteInfo, WorkerMemory, SCHEMA_VERSION,
};
use parbench_strategies::{FailurePolicy, Job, Reference, RunReport, Strategy, StrategySpec};
use parbench_workloads::{
    plan_tasks, EnvVars, Environment, Input, ParamSpec, Params, Recipe, Task, Workload,
};

use crate::overhead::decompose;
use crate::probe::{peak_rss_bytes, process_cpu_ns, reset_peak_rss};
use crate::stats::{median_index, relative_half_width, summarize, CONFIDENCE};
use crate::suite::{Group, Sampling, Suite};
use crate::{machine, terminal, Error};

/// How to run a suite.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The output directory.
    pub out: PathBuf,
    /// Only cells whose id contains this text.
    pub filter: Option<String>,
    /// Fewer samples: a quick look rather than a measurement to defend.
    pub quick: bool,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Cells measured.
    pub cells: usize,
    /// Cells that failed.
    pub failed: usize,
    /// Cells whose median reached the confidence target.
    pub converged: usize,
    /// The confidence target.
    pub ci_target: f64,
    /// Where `results.json` is.
    pub results: PathBuf,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

/// The cells of one (workload entry, size, tasks): they share an input and a reference.
struct Bucket<'a> {
    group: &'a Group,
    size: usize,
    tasks: usize,
    cells: Vec<(StrategySpec, usize, String)>,
}

/// `[k=v,...]` for the parameters that differ from their defaults; empty when none does.
fn changed_params(params: &Params, specs: &[ParamSpec]) -> String {
    let changed: Vec<String> = params
        .iter()
        .filter(|(k, v)| {
            specs
                .iter()
                .any(|s| s.name == *k && s.kind.default_value() != **v)
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if changed.is_empty() {
        String::new()
    } else {
        format!("[{}]", changed.join(","))
    }
}

/// A stable cell name:
/// `workload[non-default params]/size=N/tasks=N/strategy[non-default params]/wN`.
pub fn cell_id(
    group: &Group,
    size: usize,
    tasks: usize,
    strategy: (&StrategySpec, &Params),
    workers: usize,
) -> String {
    format!(
        "{}{}/size={size}/tasks={tasks}/{}{}/w{workers}",
        group.workload.name,
        changed_params(&group.params, group.workload.params),
        strategy.0.name,
        changed_params(strategy.1, strategy.0.params),
    )
}

fn expand<'a>(suite: &'a Suite, filter: Option<&str>) -> Vec<Bucket<'a>> {
    let mut buckets = Vec::new();
    for group in &suite.groups {
        for &size in &group.sizes {
            for &tasks in &group.tasks {
                let mut cells = Vec::new();
                for strategy in &group.strategies {
                    let workers: &[usize] = if strategy.uses_workers {
                        &group.workers
                    } else {
                        &[1]
                    };
                    for &w in workers {
                        let params = suite.params_of(strategy);
                        let id = cell_id(group, size, tasks, (strategy, &params), w);
                        if filter.is_none_or(|f| id.contains(f)) {
                            cells.push((*strategy, w, id));
                        }
                    }
                }
                if !cells.is_empty() {
                    buckets.push(Bucket {
                        group,
                        size,
                        tasks,
                        cells,
                    });
                }
            }
        }
    }
    buckets
}

/// A workload ready to be measured over one task list.
struct Prepared {
    workload: Arc<dyn Workload>,
    recipe: Arc<Recipe>,
    input: Arc<Input>,
    tasks: Vec<Task>,
    reference: Reference,
    features: Features,
}

fn prepare(bucket: &Bucket<'_>, suite: &Suite, env: &EnvVars) -> Result<Prepared, String> {
    let recipe = Arc::new(Recipe::new(
        &bucket.group.workload,
        &bucket.group.params,
        env,
    ));
    let workload = bucket
        .group
        .workload
        .instantiate(&bucket.group.params, env)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let input = Arc::new(workload.generate(bucket.size, suite.seed));
    let generate_ns = started.elapsed().as_nanos() as u64;
    let tasks = plan_tasks(input.items(), bucket.tasks).map_err(|e| e.to_string())?;
    let job = Job {
        workload: workload.clone(),
        recipe: recipe.clone(),
        input: input.clone(),
        seed: suite.seed,
        workers: 1,
        policy: suite.policy,
    };
    let reference = Reference::compute(&job, &tasks).map_err(|e| e.to_string())?;
    let features = Features {
        items: input.items(),
        input_bytes: input.bytes.len() as u64,
        output_bytes: job.output_bytes() as u64,
        generate_ns,
        sequential_busy_ns: reference.busy_ns(),
    };
    Ok(Prepared {
        workload,
        recipe,
        input,
        tasks,
        reference,
        features,
    })
}

/// What measuring one cell produced.
struct Measured {
    samples: Vec<Sample>,
    peak_rss_bytes: Option<u64>,
    /// Whether sampling stopped because the median's interval reached the target.
    converged: bool,
}

/// Measures one cell: the warm-up, then samples until the median's 95% confidence interval is
/// within the target, the time budget is spent, or the most samples are taken.
fn measure(
    prepared: &Prepared,
    strategy: &StrategySpec,
    workers: usize,
    suite: &Suite,
    sampling: Sampling,
) -> Result<Measured, String> {
    let job = Job {
        workload: prepared.workload.clone(),
        recipe: prepared.recipe.clone(),
        input: prepared.input.clone(),
        seed: suite.seed,
        workers,
        policy: suite.policy,
    };
    let params = suite.params_of(strategy);
    let started = Instant::now();
    let mut records: Vec<Sample> = Vec::with_capacity(sampling.min_samples);
    let mut workers_peak = 0u64;
    reset_peak_rss();
    // One steady run per sample until a sample has shown how long a run takes.
    let mut iterations = 1;
    for index in 0.. {
        let sample = take_sample(prepared, strategy, &params, &job, iterations)
            .map_err(|e| format!("sample {}: {e}", index + 1))?;
        if index == 0 {
            iterations = iterations_for(sample.run_ns);
        }
        if index < sampling.warmup {
            continue;
        }
        workers_peak = workers_peak.max(
            sample
                .worker_memory
                .iter()
                .map(|w| w.peak_rss_bytes.saturating_sub(w.shared_rss_bytes))
                .sum(),
        );
        records.push(sample);
        if records.len() < sampling.min_samples {
            continue;
        }
        let runs: Vec<u64> = records.iter().map(|s| s.run_ns).collect();
        let converged = summarize(&runs).is_some_and(|stats| {
            stats.ci_level >= CONFIDENCE && relative_half_width(&stats) <= sampling.ci_target
        });
        if converged
            || records.len() >= sampling.max_samples
            || started.elapsed() >= sampling.time_budget
        {
            return Ok(Measured {
                samples: records,
                peak_rss_bytes: peak_rss_bytes().map(|own| own + workers_peak),
                converged,
            });
        }
    }
    unreachable!("the sampling loop returns")
}

/// How long the steady runs of one sample should last together: short runs are repeated
/// within a sample and averaged (as criterion does), so that a sample is not one
/// timer-and-scheduler-sized measurement.
const SAMPLE_TARGET_NS: u64 = 10_000_000;

/// The most steady runs in one sample.
const MAX_ITERATIONS: u64 = 1_000;

/// Steady runs per sample for runs of `run_ns`.
fn iterations_for(run_ns: u64) -> u32 {
    SAMPLE_TARGET_NS
        .div_ceil(run_ns.max(1))
        .clamp(1, MAX_ITERATIONS) as u32
}

/// One sample: a fresh strategy set up, run once cold and `iterations` times in steady state
/// with every answer verified, and torn down, each step timed.
fn take_sample(
    prepared: &Prepared,
    strategy: &StrategySpec,
    params: &Params,
    job: &Job,
    iterations: u32,
) -> Result<Sample, String> {
    let mut instance = (strategy.build)(params).map_err(|e| e.to_string())?;
    let clock = Instant::now();
    let setup = instance.setup(job);
    let setup_ns = clock.elapsed().as_nanos() as u64;
    if let Err(e) = setup {
        let _ = instance.teardown();
        return Err(format!("setup failed: {e}"));
    }
    // The first run meets a fresh strategy (cold caches, untouched buffers, workers faulting
    // their pages in) and counts toward end to end; the next ones are steady state.
    let runs = run_verified(instance.as_mut(), prepared, job)
        .map_err(|e| format!("the first run {e}"))
        .and_then(|first| {
            let steady = (0..iterations)
                .map(|i| {
                    run_verified(instance.as_mut(), prepared, job)
                        .map_err(|e| format!("steady run {} {e}", i + 1))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((first, steady))
        });
    let clock = Instant::now();
    let stopped = instance.teardown();
    let teardown_ns = clock.elapsed().as_nanos() as u64;
    let ((first, _), steady) = runs?;
    let stopped = stopped.map_err(|e| format!("teardown failed: {e}"))?;
    let count = steady.len() as u64;
    let total_ns: u64 = steady.iter().map(|(r, _)| r.wall_ns()).sum();
    let cpu_ns: u64 = steady
        .iter()
        .map(|(r, parent_cpu)| parent_cpu + r.worker_cpu_ns)
        .sum();
    // The run whose time is the median of the sample stands for it in the decomposition.
    let walls: Vec<u64> = steady.iter().map(|(r, _)| r.wall_ns()).collect();
    let (report, _) = &steady[median_index(&walls).unwrap_or(0)];
    let overhead = decompose(
        report.lanes,
        report.start_ns,
        report.end_ns,
        &report.spans,
        prepared.features.sequential_busy_ns,
    )
    .map_err(|e| e.to_string())?;
    Ok(Sample {
        setup_ns,
        first_run_ns: first.wall_ns(),
        iterations: count as u32,
        run_ns: total_ns / count,
        teardown_ns,
        cpu_ns: cpu_ns / count,
        skipped_tasks: report.skipped(),
        fail_stop_ns: match job.policy {
            FailurePolicy::FailFast => report.first_failure_ns().map(|f| report.end_ns - f),
            _ => None,
        },
        lanes: report.lanes,
        overhead,
        bytes_moved: report.bytes_moved,
        worker_memory: stopped
            .workers
            .iter()
            .map(|w| WorkerMemory {
                peak_rss_bytes: w.peak_rss_bytes,
                shared_rss_bytes: w.shared_rss_bytes,
            })
            .collect(),
    })
}

/// Runs the prepared tasks once and checks the answer against the reference; returns the
/// report and the CPU time of the measuring process during the run.
fn run_verified(
    instance: &mut dyn Strategy,
    prepared: &Prepared,
    job: &Job,
) -> Result<(RunReport, u64), String> {
    let cpu = process_cpu_ns();
    let report = instance
        .run(&prepared.tasks)
        .map_err(|e| format!("failed: {e}"))?;
    let cpu_ns = process_cpu_ns() - cpu;
    prepared
        .reference
        .check(job, &prepared.tasks, &report, instance.output())
        .map_err(|difference| format!("differs from the sequential reference: {difference}"))?;
    Ok((report, cpu_ns))
}

fn json_params(params: &Params) -> BTreeMap<String, serde_json::Value> {
    params
        .iter()
        .map(|(k, v)| (k.to_owned(), serde_json::to_value(v).unwrap_or_default()))
        .collect()
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Starts every environment the buckets' workloads need, once each.
fn start_environments(
    buckets: &[Bucket<'_>],
) -> (
    Vec<Box<dyn Environment>>,
    EnvVars,
    BTreeMap<&'static str, String>,
) {
    let mut running = Vec::new();
    let mut vars = EnvVars::new();
    let mut failed = BTreeMap::new();
    let mut seen = Vec::new();
    for bucket in buckets {
        let Some(env) = bucket.group.workload.environment else {
            continue;
        };
        if seen.contains(&env.name) {
            continue;
        }
        seen.push(env.name);
        match env.start() {
            Ok(started) => {
                vars.extend(started.vars());
                running.push(started);
            }
            Err(e) => {
                failed.insert(env.name, e.to_string());
            }
        }
    }
    (running, vars, failed)
}

/// Writes `results.json` atomically, never while the process exits on a signal.
fn save(
    out: &std::path::Path,
    results: &Results,
) -> Result<PathBuf, parbench_reports::ReportError> {
    let _writing = crate::interrupt::writing();
    write_atomically(out, &Json, results)
}

/// Runs the suite and writes `results.json` into the output directory after every cell.
pub fn run(suite: &Suite, options: &RunOptions) -> Result<RunSummary, Error> {
    let started = Instant::now();
    let buckets = expand(suite, options.filter.as_deref());
    if buckets.is_empty() {
        return Err(Error::NothingSelected(
            options.filter.clone().unwrap_or_default(),
        ));
    }
    let total: usize = buckets.iter().map(|b| b.cells.len()).sum();
    fs::create_dir_all(&options.out).map_err(|source| Error::OutputDir {
        path: options.out.clone(),
        source,
    })?;
    let mut results = Results {
        schema_version: SCHEMA_VERSION,
        parbench_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: now_rfc3339(),
        finished_at: None,
        suite: SuiteInfo {
            name: suite.name.clone(),
            source: suite.source.clone(),
            seed: suite.seed,
            policy: suite.policy.to_string(),
        },
        machine: machine::describe(),
        cells: Vec::with_capacity(total),
    };
    let path = save(&options.out, &results)?;
    let sampling = if options.quick {
        suite.sampling.quick()
    } else {
        suite.sampling
    };
    terminal::header(&results, total, &options.out);

    crate::probe::raise_open_files_limit();
    let (environments, vars, env_failures) = start_environments(&buckets);
    for bucket in &buckets {
        let group = bucket.group;
        let prepared = match group
            .workload
            .environment
            .and_then(|e| env_failures.get(e.name))
        {
            Some(failure) => Err(failure.clone()),
            None => prepare(bucket, suite, &vars),
        };
        for (strategy, workers, id) in &bucket.cells {
            let measured = prepared
                .as_ref()
                .map_err(|e| e.clone())
                .and_then(|p| measure(p, strategy, *workers, suite, sampling));
            let cell = Cell {
                ci_target: sampling.ci_target,
                ..cell_record(bucket, strategy, *workers, id, suite, &prepared, measured)
            };
            terminal::cell_line(results.cells.len() + 1, total, &cell);
            results.cells.push(cell);
            save(&options.out, &results)?;
        }
    }
    for env in environments {
        if let Err(e) = env.stop() {
            terminal::warning(&e.to_string());
        }
    }

    results.finished_at = Some(now_rfc3339());
    save(&options.out, &results)?;
    terminal::summary(&results);
    Ok(RunSummary {
        cells: results.cells.len(),
        failed: results
            .cells
            .iter()
            .filter(|c| c.status != Status::Ok)
            .count(),
        converged: results.cells.iter().filter(|c| c.converged).count(),
        ci_target: sampling.ci_target,
        results: path,
        elapsed: started.elapsed(),
    })
}

fn cell_record(
    bucket: &Bucket<'_>,
    strategy: &StrategySpec,
    workers: usize,
    id: &str,
    suite: &Suite,
    prepared: &Result<Prepared, String>,
    measured: Result<Measured, String>,
) -> Cell {
    let (samples, peak_rss_bytes, converged, error) = match measured {
        Ok(m) => (m.samples, m.peak_rss_bytes, m.converged, None),
        Err(e) => (Vec::new(), None, false, Some(e)),
    };
    let runs: Vec<u64> = samples.iter().map(|s| s.run_ns).collect();
    let end_to_end: Vec<u64> = samples
        .iter()
        .map(|s| s.setup_ns + s.first_run_ns + s.teardown_ns)
        .collect();
    let ok = error.is_none();
    Cell {
        id: id.to_owned(),
        workload: bucket.group.workload.name.to_owned(),
        workload_kind: bucket.group.workload.kind.to_string(),
        params: json_params(&bucket.group.params),
        strategy: strategy.name.to_owned(),
        strategy_params: json_params(&suite.params_of(strategy)),
        workers,
        size: bucket.size,
        tasks: bucket.tasks,
        policy: suite.policy.to_string(),
        status: if ok { Status::Ok } else { Status::Failed },
        error,
        verified: ok,
        answer: prepared.as_ref().ok().map(|p| AnswerRecord {
            digest: p.reference.answer.digest.to_string(),
            failed_tasks: p
                .reference
                .answer
                .failures
                .iter()
                .map(|f| FailedTask {
                    task: f.task,
                    kind: f.kind.to_string(),
                })
                .collect(),
        }),
        features: prepared
            .as_ref()
            .map(|p| p.features.clone())
            .unwrap_or_default(),
        overhead: median_index(&runs).map(|i| samples[i].overhead),
        wall: summarize(&runs),
        end_to_end: summarize(&end_to_end),
        peak_rss_bytes,
        samples,
        ci_target: 0.0,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_are_repeated_to_fill_a_sample() {
        assert_eq!(iterations_for(1_000_000), 10);
        assert_eq!(iterations_for(3_000_000), 4);
        assert_eq!(iterations_for(10_000_000), 1);
        assert_eq!(iterations_for(2_000_000_000), 1);
        assert_eq!(iterations_for(20), 1_000);
        assert_eq!(iterations_for(0), 1_000);
    }
}
