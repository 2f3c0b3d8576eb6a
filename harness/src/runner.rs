//! Runs a suite: prepares each workload once per (size, tasks) — its input and sequential
//! reference — then measures every cell of it, each in its own process (see [`crate::cell`]),
//! and writes the results after every cell so an interrupted run keeps what it measured. What
//! happens is told to an [`Observer`]; the runner prints nothing itself.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use parbench_reports::{
    figures, flame, write_all, write_atomically, AnswerRecord, Cell, FailedTask, Features, Json,
    Profile, Results, Status, SuiteInfo, SCHEMA_VERSION,
};
use parbench_strategies::StrategySpec;
use parbench_workloads::{Answer, EnvVars, Environment, ParamSpec, Params, Recipe};

use crate::cell::parent::{become_subreaper, isolate, Fault, Limits};
use crate::cell::protocol::{Measured, ProfileFailure, Profiled, Reply, Request, Sampling, Work};
use crate::error::Error;
use crate::machine;
use crate::observer::{Observer, Plan, RunSummary};
use crate::plugins::{file_names, SharedWriter};
use crate::stats::{median_index, summarize};
use crate::suite::{Configured, Group, Suite};

/// How to run a suite.
///
/// ```
/// let options = parbench::RunOptions::new("target/parbench/mine");
/// assert!(options.profile && !options.quick && options.filter.is_none());
/// ```
#[derive(Clone)]
pub struct RunOptions {
    /// The output directory.
    pub out: PathBuf,
    /// Only cells whose id contains this text.
    pub filter: Option<String>,
    /// Fewer samples: a quick look rather than a measurement to defend.
    pub quick: bool,
    /// Profile every cell after its samples (and draw its flame graph).
    pub profile: bool,
    /// Report writers run after the built-in ones at the end of the run.
    pub writers: Vec<SharedWriter>,
}

impl RunOptions {
    /// Every cell, full sampling, profiled, written to `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            filter: None,
            quick: false,
            profile: true,
            writers: Vec::new(),
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("out", &self.out)
            .field("filter", &self.filter)
            .field("quick", &self.quick)
            .field("profile", &self.profile)
            .field("writers", &file_names(&self.writers))
            .finish()
    }
}

/// The cells of one (workload entry, size, tasks): they share an input and a reference.
struct Bucket<'a> {
    group: &'a Group,
    size: usize,
    tasks: usize,
    cells: Vec<(&'a Configured, usize, String)>,
}

impl Bucket<'_> {
    /// `workload/size=N/tasks=N`, for the terminal.
    fn name(&self) -> String {
        format!(
            "{}/size={}/tasks={}",
            self.group.workload.name, self.size, self.tasks
        )
    }
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
fn save(path: &Path, results: &Results) -> Result<PathBuf, parbench_reports::ReportError> {
    let _writing = crate::interrupt::writing();
    write_atomically(path, &Json, results)
}

/// Runs the suite, writing `results.json` into the output directory after every cell and every
/// report at the end, and tells `observer` what happens.
///
/// Cells run in child processes of this one, started from the current binary with a hidden
/// command: the binary must call [`crate::serve_hidden_commands`] first thing in `main` (as
/// [`crate::main_with`] does), or `run` refuses with [`Error::NotServing`]. Ctrl-C, `SIGTERM`
/// and `SIGHUP` end the process with 128 + the signal once the results file being written is
/// complete, after the running cell's processes are killed and reaped and its shared memory
/// removed: what was measured stays in `results.json`.
///
/// ```no_run
/// use std::process::ExitCode;
///
/// use parbench::{Plugins, Quiet, RunOptions, Suite};
///
/// fn main() -> ExitCode {
///     let plugins = Plugins::default();
///     // A cell or worker process does its part here and ends with its own exit code.
///     if let Some(code) = parbench::serve_hidden_commands(&plugins) {
///         return code;
///     }
///     match measure(&plugins) {
///         Ok(failed) => ExitCode::from(u8::from(failed > 0)),
///         Err(e) => {
///             eprintln!("error: {e}");
///             ExitCode::from(2)
///         }
///     }
/// }
///
/// /// Runs the suite's cells at 8 tasks; returns how many failed.
/// fn measure(plugins: &Plugins) -> Result<usize, Box<dyn std::error::Error>> {
///     let suite = Suite::load("my-suite.toml".as_ref(), plugins)?;
///     let mut options = RunOptions::new("target/parbench/mine");
///     options.filter = Some("tasks=8/".to_owned());
///     Ok(parbench::run(&suite, &options, &mut Quiet)?.failed)
/// }
/// ```
pub fn run(
    suite: &Suite,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunSummary, Error> {
    if !crate::plugins::serves_hidden_commands() {
        return Err(Error::NotServing);
    }
    // Ctrl-C ends the run at once and leaves nothing behind (see `interrupt`); cell and worker
    // processes never get here.
    crate::interrupt::install().map_err(Error::Signals)?;
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
    let mut results = begin(suite, total);
    let path = save(&options.out, &results)?;
    observer.run_started(&Plan {
        suite,
        results: &results,
        cells: total,
        out: &options.out,
    });

    crate::probe::raise_open_files_limit();
    become_subreaper();
    let mut runner = Runner {
        suite,
        options,
        sampling: if options.quick {
            suite.sampling.quick()
        } else {
            suite.sampling
        },
        limits: Limits {
            time: suite.cell_timeout,
            // Unless the suite says, a runaway cell is stopped before the machine starts
            // swapping.
            memory: suite
                .memory_limit
                .or(Some(results.machine.memory_bytes / 10 * 8)),
            // A profile's runs take `profile_time`; the rest is setups and symbol resolution.
            after_reply: suite.profiling.time * 4 + Duration::from_secs(20),
        },
        total,
        observer,
    };
    let (environments, vars, env_failures) = start_environments(&buckets);
    for bucket in &buckets {
        let failure = bucket
            .group
            .workload
            .environment
            .and_then(|e| env_failures.get(e.name));
        runner.bucket(bucket, &vars, failure, &mut results)?;
    }
    for env in environments {
        if let Err(e) = env.stop() {
            runner.observer.warning(&e.to_string());
        }
    }

    results.finished_at = Some(now_rfc3339());
    let files = {
        let _writing = crate::interrupt::writing();
        let mut files = write_all(&options.out, &results)?;
        for writer in &options.writers {
            files.push(write_atomically(&options.out, writer.as_ref(), &results)?);
        }
        files
    };
    let summary = summarize_run(&results, runner.sampling, path, files, started.elapsed());
    runner.observer.run_finished(&results, &summary);
    Ok(summary)
}

/// The results before the first cell: the suite, the machine and its limits — measured before
/// any cell and before the environments start.
fn begin(suite: &Suite, cells: usize) -> Results {
    let mut machine = machine::describe();
    machine.limits = Some(crate::limits::probe(machine.logical_cores));
    Results {
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
        machine,
        cells: Vec::with_capacity(cells),
    }
}

fn summarize_run(
    results: &Results,
    sampling: Sampling,
    results_path: PathBuf,
    files: Vec<PathBuf>,
    elapsed: Duration,
) -> RunSummary {
    let cells = &results.cells;
    RunSummary {
        cells: cells.len(),
        failed: cells.iter().filter(|c| c.status != Status::Ok).count(),
        converged: cells.iter().filter(|c| c.converged).count(),
        ci_target: sampling.ci_target,
        results: results_path,
        files,
        elapsed,
        flame_graphs: cells
            .iter()
            .filter(|c| c.profile.as_ref().is_some_and(|p| !p.flamegraph.is_empty()))
            .count(),
        profiling: Duration::from_nanos(
            cells
                .iter()
                .filter_map(|c| Some(c.profile.as_ref()?.cost_ns))
                .sum(),
        ),
    }
}

/// What stays the same for every cell of a run.
struct Runner<'a> {
    suite: &'a Suite,
    options: &'a RunOptions,
    sampling: Sampling,
    limits: Limits,
    total: usize,
    observer: &'a mut dyn Observer,
}

impl Runner<'_> {
    /// Prepares a bucket (unless its environment failed to start) and measures its cells, each
    /// saved as soon as it is measured.
    fn bucket(
        &mut self,
        bucket: &Bucket<'_>,
        vars: &EnvVars,
        environment_failure: Option<&String>,
        results: &mut Results,
    ) -> Result<(), Error> {
        let recipe = Recipe::new(&bucket.group.workload, &bucket.group.params, vars);
        let request = |work| Request {
            recipe: recipe.clone(),
            size: bucket.size,
            seed: self.suite.seed,
            tasks: bucket.tasks,
            policy: self.suite.policy,
            memory_limit: self.suite.memory_limit,
            work,
        };
        let prepared = match environment_failure {
            Some(failure) => Err(Fault {
                status: Status::Failed,
                message: failure.clone(),
            }),
            None => {
                self.observer.preparing(&bucket.name());
                prepare(&request(Work::Prepare), self.limits)
            }
        };
        for (strategy, workers, id) in &bucket.cells {
            self.observer.cell_started(id);
            let (measured, sampled_peak, profile) = match &prepared {
                Err(fault) => (Err(fault.clone()), 0, None),
                Ok((answer, features)) => {
                    let work = self.measure_work(strategy, *workers, answer, features);
                    let isolated = isolate(&request(work), self.limits);
                    let measured = match isolated.outcome {
                        Ok(Reply::Measured(measured)) => Ok(measured),
                        other => Err(fault_of(other)),
                    };
                    let profile = isolated.profile.map(|p| (p, isolated.after_reply));
                    (measured, isolated.sampled_peak_rss, profile)
                }
            };
            let mut cell = cell_record(
                bucket, strategy, *workers, id, self.suite, &prepared, measured,
            );
            cell.ci_target = self.sampling.ci_target;
            // The larger of the exact high-water marks and the sampled sum of the tree.
            cell.peak_rss_bytes = cell
                .peak_rss_bytes
                .map(|exact| exact.max(sampled_peak))
                .or((sampled_peak > 0).then_some(sampled_peak));
            if let Some((profile, cost)) = profile {
                let profiling = (self.suite.profiling.frequency, cost);
                if let Some(warning) =
                    attach_profile(&mut cell, profile, profiling, &self.options.out)
                {
                    self.observer.warning(&warning);
                }
            }
            results.cells.push(cell);
            // Contention and efficiency as soon as the bucket's sequential cell is known, so an
            // interrupted run keeps them.
            figures::derive(results);
            save(&self.options.out, results)?;
            if let Some(cell) = results.cells.last() {
                self.observer
                    .cell_finished(cell, results.cells.len(), self.total);
            }
        }
        Ok(())
    }

    /// The request to measure one cell of a prepared bucket.
    fn measure_work(
        &self,
        strategy: &Configured,
        workers: usize,
        answer: &Answer,
        features: &Features,
    ) -> Work {
        Work::Measure {
            strategy: strategy.spec.name.to_owned(),
            params: strategy
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            workers,
            sampling: self.sampling,
            expected: answer.clone(),
            features: features.clone(),
            profile: self.options.profile.then_some(self.suite.profiling),
        }
    }
}

/// Frames kept in a cell's profile summary.
const TOP_FRAMES: usize = 8;

/// Writes a cell's flame graph and folded stacks and records its profile. A profiled run that
/// failed or answered wrongly fails the cell, as a timed sample would; a profiler that failed
/// leaves the cell's measurement as it was. Returns a warning for the user, if any.
fn attach_profile(
    cell: &mut Cell,
    profile: Result<Profiled, ProfileFailure>,
    (frequency_hz, cost): (u32, Duration),
    out: &Path,
) -> Option<String> {
    let cost_ns = cost.as_nanos() as u64;
    let failed = |error: String| Profile {
        frequency_hz,
        cost_ns,
        error: Some(error),
        ..Profile::default()
    };
    let mut warning = None;
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
                    warning = Some(format!("{}: no flame graph: {e}", cell.id));
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
            warning = Some(format!("{}: no profile: {message}", cell.id));
            failed(message)
        }
    });
    warning
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
