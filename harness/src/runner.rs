//! Runs a suite: prepares each workload once per (size, tasks) — its input and sequential
//! reference — then measures every cell of it, each in its own process (see [`crate::cell`]),
//! and writes the results after every cell so an interrupted run keeps what it measured.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use parbench_reports::{
    flame, write_all, write_atomically, AnswerRecord, Cell, FailedTask, Features, Json, Profile,
    Results, Status, SuiteInfo, SCHEMA_VERSION,
};
use parbench_strategies::StrategySpec;
use parbench_workloads::{Answer, EnvVars, Environment, ParamSpec, Params, Recipe};

use crate::cell::{isolate, Fault, Limits, Reply, Request, Work};
use crate::profile::{ProfileFailure, Profiled};
use crate::sampler::Measured;
use crate::stats::{median_index, summarize};
use crate::suite::{Configured, Group, Suite};
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
    /// Profile every cell after its samples (and draw its flame graph).
    pub profile: bool,
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
    /// Every file written at the end: results, CSV, Markdown, HTML.
    pub files: Vec<PathBuf>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Cells with a flame graph.
    pub flame_graphs: usize,
    /// Wall time the profiled runs took (part of `elapsed`).
    pub profiling: Duration,
}

/// The cells of one (workload entry, size, tasks): they share an input and a reference.
struct Bucket<'a> {
    group: &'a Group,
    size: usize,
    tasks: usize,
    cells: Vec<(&'a Configured, usize, String)>,
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
                    let workers: &[usize] = if strategy.spec.uses_workers {
                        &group.workers
                    } else {
                        &[1]
                    };
                    for &w in workers {
                        let id = cell_id(group, size, tasks, (&strategy.spec, &strategy.params), w);
                        if filter.is_none_or(|f| id.contains(f)) {
                            cells.push((strategy, w, id));
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
    // The machine's limits, measured before any cell (and before the environments start).
    results.machine.limits = Some(crate::limits::probe(results.machine.logical_cores));
    let path = save(&options.out, &results)?;
    let sampling = if options.quick {
        suite.sampling.quick()
    } else {
        suite.sampling
    };
    terminal::header(&results, total, &options.out);
    let mut progress = terminal::Progress::new(total);

    crate::probe::raise_open_files_limit();
    crate::cell::become_subreaper();
    let limits = Limits {
        time: suite.cell_timeout,
        // Unless the suite says, a runaway cell is stopped before the machine starts swapping.
        memory: suite
            .memory_limit
            .or(Some(results.machine.memory_bytes / 10 * 8)),
        // A profile's runs take `profile_time`; the rest is setups and symbol resolution.
        after_reply: suite.profiling.time * 4 + Duration::from_secs(20),
    };
    let (environments, vars, env_failures) = start_environments(&buckets);
    for bucket in &buckets {
        let group = bucket.group;
        let recipe = Recipe::new(&group.workload, &group.params, &vars);
        let request = |work| Request {
            recipe: recipe.clone(),
            size: bucket.size,
            seed: suite.seed,
            tasks: bucket.tasks,
            policy: suite.policy,
            memory_limit: suite.memory_limit,
            work,
        };
        let prepared = match group
            .workload
            .environment
            .and_then(|e| env_failures.get(e.name))
        {
            Some(failure) => Err(Fault {
                status: Status::Failed,
                message: failure.clone(),
            }),
            None => {
                progress.start(&format!(
                    "preparing {}/size={}/tasks={}",
                    group.workload.name, bucket.size, bucket.tasks
                ));
                prepare(&request(Work::Prepare), limits)
            }
        };
        for (strategy, workers, id) in &bucket.cells {
            progress.start(id);
            let (measured, sampled_peak, profile) = match &prepared {
                Err(fault) => (Err(fault.clone()), 0, None),
                Ok((answer, features)) => {
                    let work = Work::Measure {
                        strategy: strategy.spec.name.to_owned(),
                        params: strategy
                            .params
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect(),
                        workers: *workers,
                        sampling,
                        expected: answer.clone(),
                        features: features.clone(),
                        profile: options.profile.then_some(suite.profiling),
                    };
                    let isolated = isolate(&request(work), limits);
                    let measured = match isolated.outcome {
                        Ok(Reply::Measured(measured)) => Ok(measured),
                        other => Err(fault_of(other)),
                    };
                    let profile = isolated.profile.map(|p| (p, isolated.after_reply));
                    (measured, isolated.sampled_peak_rss, profile)
                }
            };
            let mut cell = cell_record(bucket, strategy, *workers, id, suite, &prepared, measured);
            cell.ci_target = sampling.ci_target;
            // The larger of the exact high-water marks and the sampled sum of the tree.
            cell.peak_rss_bytes = cell
                .peak_rss_bytes
                .map(|exact| exact.max(sampled_peak))
                .or((sampled_peak > 0).then_some(sampled_peak));
            rebase_contention(&mut cell, &results.cells);
            if let Some((profile, cost)) = profile {
                let profiling = (suite.profiling.frequency, cost);
                attach_profile(&mut cell, profile, profiling, &options.out);
            }
            progress.finish(&cell);
            results.cells.push(cell);
            // Rated as soon as its sequential cell is known, so an interrupted run keeps it.
            rate_against_limits(&mut results);
            save(&options.out, &results)?;
        }
    }
    for env in environments {
        if let Err(e) = env.stop() {
            terminal::warning(&e.to_string());
        }
    }

    results.finished_at = Some(now_rfc3339());
    let files = {
        let _writing = crate::interrupt::writing();
        write_all(&options.out, &results)?
    };
    progress.close();
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
        files,
        elapsed: started.elapsed(),
        flame_graphs: results
            .cells
            .iter()
            .filter(|c| c.profile.as_ref().is_some_and(|p| !p.flamegraph.is_empty()))
            .count(),
        profiling: Duration::from_nanos(
            results
                .cells
                .iter()
                .filter_map(|c| Some(c.profile.as_ref()?.cost_ns))
                .sum(),
        ),
    })
}

/// Frames kept in a cell's profile summary.
const TOP_FRAMES: usize = 8;

/// Writes a cell's flame graph and folded stacks and records its profile. A profiled run that
/// failed or answered wrongly fails the cell, as a timed sample would; a profiler that failed
/// leaves the cell's measurement as it was.
fn attach_profile(
    cell: &mut Cell,
    profile: Result<Profiled, ProfileFailure>,
    (frequency_hz, cost): (u32, Duration),
    out: &std::path::Path,
) {
    let cost_ns = cost.as_nanos() as u64;
    let failed = |error: String| Profile {
        frequency_hz,
        cost_ns,
        error: Some(error),
        ..Profile::default()
    };
    cell.profile = Some(match profile {
        Ok(p) => {
            let samples = p.samples();
            let title = flame::title(&cell.id, samples, p.runs, frequency_hz);
            let written = {
                let _writing = crate::interrupt::writing();
                flame::write_graph(out, &cell.id, &p.stacks, &title)
            };
            let ((folded, flamegraph), error) = match written {
                Ok(paths) => (paths, None),
                Err(e) => {
                    terminal::warning(&format!("{}: no flame graph: {e}", cell.id));
                    (Default::default(), Some(e.to_string()))
                }
            };
            Profile {
                flamegraph,
                folded,
                samples,
                frequency_hz,
                runs: p.runs,
                rounds: p.rounds,
                duration_ns: p.duration_ns,
                cost_ns,
                top_frames: flame::top_frames(&p.stacks, TOP_FRAMES),
                processes: flame::processes(&p.stacks),
                error,
            }
        }
        Err(ProfileFailure::Strategy(message)) => {
            cell.status = Status::Failed;
            cell.verified = false;
            cell.error = Some(message.clone());
            failed(message)
        }
        Err(ProfileFailure::Profiler(message)) => {
            terminal::warning(&format!("{}: no profile: {message}", cell.id));
            failed(message)
        }
    });
}

/// States every cell's efficiency against the machine's limits; the speedup needs the
/// sequential cell of the same workload, parameters, size and tasks.
fn rate_against_limits(results: &mut Results) {
    let Some(limits) = results.machine.limits.clone() else {
        return;
    };
    let sequential: Vec<(String, f64)> = results
        .cells
        .iter()
        .filter(|c| c.strategy == "sequential")
        .filter_map(|c| Some((bucket_of(c), c.wall.as_ref()?.median_ns)))
        .collect();
    for cell in &mut results.cells {
        let Some(wall) = &cell.wall else { continue };
        let key = bucket_of(cell);
        let speedup = sequential
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, base)| base / wall.median_ns.max(1.0));
        cell.efficiency = Some(crate::limits::efficiency(
            &limits,
            cell.workers,
            cell.features.input_bytes + cell.features.output_bytes,
            wall.median_ns,
            speedup,
        ));
    }
}

/// Contention compares a cell's busy time with the sequential cell's steady state (the busy
/// time of its median sample) rather than with the one cold reference run, whose first touch
/// of the output and cold caches would make every steady run look faster than sequential.
/// Cells of a bucket without a sequential cell keep the reference's base.
fn rebase_contention(cell: &mut Cell, measured: &[Cell]) {
    let key = bucket_of(cell);
    let base = if cell.strategy == "sequential" {
        cell.overhead.map(|o| o.busy_ns)
    } else {
        measured
            .iter()
            .find(|c| c.strategy == "sequential" && bucket_of(c) == key)
            .and_then(|c| c.overhead)
            .map(|o| o.busy_ns)
    };
    let Some(base) = base else { return };
    let rebase = |o: &mut parbench_reports::Overhead| {
        o.contention_ns = o.busy_ns as i64 - base as i64;
    };
    cell.samples
        .iter_mut()
        .for_each(|s| rebase(&mut s.overhead));
    if let Some(o) = cell.overhead.as_mut() {
        rebase(o);
    }
}

/// What a cell shares with the sequential cell it is compared with: workload, parameters,
/// size and tasks.
fn bucket_of(cell: &Cell) -> String {
    format!(
        "{}{:?}/{}/{}",
        cell.workload, cell.params, cell.size, cell.tasks
    )
}

/// Prepares a bucket in a cell process: its reference answer and the workload's features.
fn prepare(request: &Request, limits: Limits) -> Result<(Answer, Features), Fault> {
    match isolate(request, limits).outcome {
        Ok(Reply::Prepared { answer, features }) => Ok((answer, features)),
        other => {
            let fault = fault_of(other);
            Err(Fault {
                message: format!("preparing the input and the reference: {}", fault.message),
                ..fault
            })
        }
    }
}

/// The fault of a cell process's reply that is not the one expected.
fn fault_of(outcome: Result<Reply, Fault>) -> Fault {
    match outcome {
        Err(fault) => fault,
        Ok(Reply::Failed(message)) => Fault {
            status: Status::Failed,
            message,
        },
        Ok(Reply::Panicked(message)) => Fault {
            status: Status::Panic,
            message: format!("panicked: {message}"),
        },
        Ok(other) => Fault {
            status: Status::Crash,
            message: format!("the cell process answered out of turn: {other:?}"),
        },
    }
}

fn cell_record(
    bucket: &Bucket<'_>,
    strategy: &Configured,
    workers: usize,
    id: &str,
    suite: &Suite,
    prepared: &Result<(Answer, Features), Fault>,
    measured: Result<Measured, Fault>,
) -> Cell {
    let (measured, status, error) = match measured {
        Ok(m) => (m, Status::Ok, None),
        Err(fault) => (Measured::default(), fault.status, Some(fault.message)),
    };
    let Measured {
        samples,
        peak_rss_bytes,
        converged,
        timeline,
    } = measured;
    let runs: Vec<u64> = samples.iter().map(|s| s.run_ns).collect();
    let end_to_end: Vec<u64> = samples
        .iter()
        .map(|s| s.setup_ns + s.first_run_ns + s.teardown_ns)
        .collect();
    Cell {
        id: id.to_owned(),
        workload: bucket.group.workload.name.to_owned(),
        workload_kind: bucket.group.workload.kind.to_string(),
        params: json_params(&bucket.group.params),
        strategy: strategy.spec.name.to_owned(),
        strategy_params: json_params(&strategy.params),
        workers,
        size: bucket.size,
        tasks: bucket.tasks,
        policy: suite.policy.to_string(),
        status,
        error,
        verified: status == Status::Ok,
        answer: prepared.as_ref().ok().map(|(answer, _)| AnswerRecord {
            digest: answer.digest.to_string(),
            failed_tasks: answer
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
            .map(|(_, features)| features.clone())
            .unwrap_or_default(),
        overhead: median_index(&runs).map(|i| samples[i].overhead),
        efficiency: None,
        wall: summarize(&runs),
        end_to_end: summarize(&end_to_end),
        peak_rss_bytes,
        samples,
        ci_target: 0.0,
        converged,
        timeline,
        profile: None,
    }
}
