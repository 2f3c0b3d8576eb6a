//! Runs a suite: prepares each workload once per (size, tasks) — its input and sequential
//! reference — then measures every cell in several processes of its own (see [`crate::cell`]),
//! visiting the suite in rounds whose order is shuffled (see [`crate::schedule`]), profiles the
//! cells that get a flame graph, and keeps `results.json` current so an interrupted run keeps
//! what it measured. What happens is told to an [`Observer`]; the runner prints nothing itself.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use parbench_reports::contest::Contest;
use parbench_reports::decide;
use parbench_reports::{
    figures, flame, view, write_all, write_atomically, AnswerRecord, Cell, FailedTask, Features,
    Json, Machine, Pairing, Profile, Resources, Results, RoundCosts, RoundStats, Rounds, Stats,
    Status, SuiteInfo, VisitCosts, SCHEMA_VERSION,
};
use parbench_strategies::StrategySpec;
use parbench_workloads::{
    Answer, EnvVars, Environment, EnvironmentSpec, ParamSpec, Params, Recipe, Scope,
};

use crate::calibration::Calibrations;
use crate::canary::Canary;
use crate::cell::parent::{become_subreaper, isolate, Fault, Limits};
use crate::cell::protocol::{Measured, ProfileFailure, Profiled, Reply, Request, Sampling, Work};
use crate::cell::SAMPLE_TARGET;
use crate::error::Error;
use crate::machine;
use crate::observer::{Observer, Pass, PassSummary, Plan, Progress, RunSummary};
use crate::options::{ProfileScope, RunOptions};
use crate::schedule::{extra_round, fit_minimum, shuffled, Candidate, Race, VisitModel};
use crate::stats::{median_index, process_logs, summarize_processes, Shared, CONFIDENCE};
use crate::suite::{Configured, Group, Suite};

/// The cells of one (workload entry, size, tasks): they share an input and a reference.
pub(crate) struct Bucket<'a> {
    pub(crate) group: &'a Group,
    pub(crate) size: usize,
    pub(crate) tasks: usize,
    /// Each cell's strategy, workers and id.
    pub(crate) cells: Vec<(&'a Configured, usize, String)>,
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
/// `workload[non-default params,policy]/size=N/tasks=N/strategy[non-default params]/wN`, where
/// `policy=…` appears when the workload's entry has a failure policy of its own.
pub fn cell_id(
    group: &Group,
    size: usize,
    tasks: usize,
    strategy: (&StrategySpec, &Params),
    workers: usize,
) -> String {
    let mut work = changed_params(&group.params, group.workload.params);
    if let Some(policy) = group.policy {
        work = match work.strip_suffix(']') {
            Some(params) => format!("{params},policy={policy}]"),
            None => format!("[policy={policy}]"),
        };
    }
    format!(
        "{}{work}/size={size}/tasks={tasks}/{}/w{workers}",
        group.workload.name,
        strategy_label(strategy.0, strategy.1),
    )
}

/// A strategy as cell ids spell it: `name`, or `name[k=v,...]` with the parameters that
/// differ from their defaults.
pub(crate) fn strategy_label(spec: &StrategySpec, params: &Params) -> String {
    format!("{}{}", spec.name, changed_params(params, spec.params))
}

/// The buckets of `suite` with the cells `filter` selects, in the suite's order.
pub(crate) fn expand<'a>(suite: &'a Suite, filter: Option<&str>) -> Vec<Bucket<'a>> {
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

/// The ids of the cells a run of `suite` with `filter` measures, in the suite's order.
pub(crate) fn cell_ids(suite: &Suite, filter: Option<&str>) -> Vec<String> {
    expand(suite, filter)
        .into_iter()
        .flat_map(|bucket| bucket.cells.into_iter().map(|(_, _, id)| id))
        .collect()
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

/// The environments of a run: those running, and for each bucket the variables its cells see
/// or why its environment did not start.
struct Environments {
    running: Vec<Box<dyn Environment>>,
    buckets: Vec<Result<EnvVars, String>>,
}

/// Starts the environments the buckets' workloads need: one of [`Scope::Run`] once for every
/// bucket that names it, one of [`Scope::Bucket`] for each bucket. A calibration's variables
/// are the ones `calibrations` keeps for `machine` (see [`Calibrations`]).
fn start_environments(
    buckets: &[Bucket<'_>],
    calibrations: &mut Calibrations,
    machine: &Machine,
) -> Environments {
    let mut running = Vec::new();
    let mut shared: BTreeMap<&'static str, Result<EnvVars, String>> = BTreeMap::new();
    let mut start = |env: EnvironmentSpec| match env.start() {
        Ok(started) => {
            let mut published = started.vars();
            if started.is_calibration() {
                calibrations.apply(machine, env.name, &mut published, &now_rfc3339());
            }
            running.push(started);
            Ok(published)
        }
        Err(e) => Err(e.to_string()),
    };
    let mut per_bucket = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        let vars = match bucket.group.workload.environment {
            None => Ok(EnvVars::new()),
            Some(env) if env.scope == Scope::Bucket => start(env),
            Some(env) => shared.entry(env.name).or_insert_with(|| start(env)).clone(),
        };
        per_bucket.push(vars);
    }
    // Every bucket sees the run's shared variables, as a worker's recipe always has.
    let common: EnvVars = shared
        .into_values()
        .filter_map(Result::ok)
        .flatten()
        .collect();
    for vars in per_bucket.iter_mut().flatten() {
        for (key, value) in &common {
            vars.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    Environments {
        running,
        buckets: per_bucket,
    }
}

/// Writes `results.json` atomically, never while the process exits on a signal.
fn save(path: &Path, results: &Results) -> Result<PathBuf, parbench_reports::ReportError> {
    let _writing = crate::interrupt::writing();
    write_atomically(path, &Json, results)
}

/// Runs the suite, keeping `results.json` in the output directory current (after every round,
/// and every few seconds within one) and writing every report at the end, and tells
/// `observer` what happens.
///
/// Every cell is measured in at least [`Sampling::processes`] processes of its own, one per
/// round; the rounds visit the cells in an order shuffled from the suite's seed; after the
/// minimum rounds come the profiled runs ([`ProfileScope`]), then rounds for the cells whose
/// intervals are still wider than the target, until the suite's budget is spent.
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
    run_builds(suite, options, None, observer).map(|(summary, _)| summary)
}

/// The base build of a paired run: a second binary whose cells are measured beside this one's.
pub struct Baseline<'a> {
    /// The base build's binary. It must serve the same hidden commands (`cell`, `worker`) and
    /// compute the same answers.
    pub binary: PathBuf,
    /// The binary this build's cells start from, when not the running one: a copy made as the
    /// base's was, so that neither build's executable sits in memory differently (a binary
    /// the linker wrote and one copied afterwards differ by megabytes of resident pages).
    pub this_binary: Option<PathBuf>,
    /// The git commit it was built from, when known (its results record it).
    pub commit: Option<String>,
    /// The output directory of its results.
    pub out: PathBuf,
    /// After each round beyond the minimum, the cells (by id) still too noisy to tell, given
    /// the base's results and this build's: each gets one more round, up to
    /// [`Sampling::max_processes`] rounds or the suite's budget.
    pub widen: &'a dyn Fn(&Results, &Results) -> Vec<String>,
    /// After those rounds, the cells (by id) to measure once more: those a first comparison
    /// flags as regressed.
    pub recheck: &'a dyn Fn(&Results, &Results) -> Vec<String>,
}

/// Runs the suite with this binary and `baseline`'s side by side, and returns this build's
/// summary and the base's.
///
/// Each cell is measured in [`Sampling::processes`] rounds; in every round its process of one
/// build runs right after its process of the other (never both at once), the order turning
/// from cell to cell and round to round (A B, B A, ...), so what the machine does meanwhile
/// touches both alike and one round of one cell is a pair. Then the cells
/// [`Baseline::widen`] names get more rounds, up to [`Sampling::max_processes`] or the
/// suite's budget. Then [`Baseline::recheck`] names the cells to measure once more, each in
/// as many rounds again as it had (the results record the round that confirmation starts at).
/// Nothing is profiled. Both builds' results are ordinary results directories, marked as the
/// two sides of one paired run.
///
/// # Errors
///
/// As [`run`]; and [`Error::BaseBuild`] when the base build cannot prepare any bucket (it does
/// not speak this build's cell protocol) or computes a different answer for one (the two
/// builds would not measure the same work).
pub fn run_paired(
    suite: &Suite,
    options: &RunOptions,
    baseline: &Baseline<'_>,
    observer: &mut dyn Observer,
) -> Result<(RunSummary, RunSummary), Error> {
    match run_builds(suite, options, Some(baseline), observer)? {
        (new, Some(base)) => Ok((new, base)),
        (_, None) => Err(Error::BaseBuild(
            "the run measured no base build".to_owned(),
        )),
    }
}

/// Runs the suite with this binary and, in a paired run, with the base build beside it.
fn run_builds(
    suite: &Suite,
    options: &RunOptions,
    baseline: Option<&Baseline<'_>>,
    observer: &mut dyn Observer,
) -> Result<(RunSummary, Option<RunSummary>), Error> {
    if !crate::plugins::serves_hidden_commands() {
        return Err(Error::NotServing);
    }
    // Ctrl-C ends the run at once and leaves nothing behind (see `interrupt`); cell and worker
    // processes never get here.
    crate::interrupt::install().map_err(Error::Signals)?;
    // A named segment of an earlier version killed mid-run would hold its memory for good.
    if let Ok(stale) = parbench_strategies::process::shm::sweep_stale() {
        for path in stale {
            observer.warning(&format!(
                "removed the shared-memory segment {}, left by a process that died",
                path.display()
            ));
        }
    }
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
    let sampling = if options.quick {
        suite.sampling.quick()
    } else {
        suite.sampling
    };
    // A paired run measures; its profiles would only double its time.
    let scope = match baseline {
        Some(_) => ProfileScope::None,
        None => options.profile_scope(),
    };
    let binary = match baseline.and_then(|b| b.this_binary.clone()) {
        Some(binary) => binary,
        None => std::env::current_exe().map_err(Error::CurrentExe)?,
    };
    let mut results = begin(suite, total, sampling, scope);
    let base = match baseline {
        None => None,
        Some(baseline) => {
            fs::create_dir_all(&baseline.out).map_err(|source| Error::OutputDir {
                path: baseline.out.clone(),
                source,
            })?;
            let run = format!("{}-{}", results.started_at, std::process::id());
            let pairing = |side: &str, binary: &Path| Pairing {
                run: run.clone(),
                side: side.to_owned(),
                binary: binary.display().to_string(),
                confirmation_round: None,
            };
            results.pairing = Some(pairing("new", &binary));
            let mut base = results.clone();
            base.pairing = Some(pairing("base", &baseline.binary));
            base.machine.git_commit = baseline.commit.clone();
            base.machine.git_dirty = baseline.commit.as_ref().map(|_| false);
            save(&baseline.out, &base)?;
            Some(BaseSide {
                baseline,
                results: base,
                prepared: Vec::with_capacity(buckets.len()),
            })
        }
    };
    let path = save(&options.out, &results)?;
    observer.run_started(&Plan {
        suite,
        results: &results,
        cells: total,
        sampling,
        profile: scope,
        out: &options.out,
    });

    crate::probe::raise_open_files_limit();
    become_subreaper();
    let memory = suite
        .memory_limit
        // Unless the suite says, a runaway cell is stopped before the machine starts swapping.
        .or(Some(results.machine.memory_bytes / 10 * 8));
    let mut calibrations = Calibrations::beside(&options.out)?;
    let Environments {
        running: environments,
        buckets: bucket_vars,
    } = start_environments(&buckets, &mut calibrations, &results.machine);
    if let Err(e) = calibrations.save() {
        stop_environments(environments, observer);
        return Err(e);
    }
    let mut runner = Runner {
        suite,
        options,
        binary,
        base,
        sampling,
        limits: Limits {
            time: suite.cell_timeout,
            memory,
        },
        observer,
        started,
        saved: Instant::now(),
        costs: VisitCosts::default(),
        kinds: Kinds::default(),
        canary: Canary::new(started, results.machine.logical_cores),
        results,
        buckets: &buckets,
        prepared: Vec::with_capacity(buckets.len()),
    };
    for (bucket, vars) in buckets.iter().zip(&bucket_vars) {
        let prepared = runner.prepare(bucket, vars.as_ref());
        runner.prepared.push(prepared);
    }
    if let Err(e) = runner.prepare_base() {
        stop_environments(environments, runner.observer);
        return Err(e);
    }
    let mut tallies: Vec<Tally<'_>> = Vec::with_capacity(total);
    for (index, bucket) in buckets.iter().enumerate() {
        // The work: the first bucket of the same workload entry and size.
        let work = buckets
            .iter()
            .position(|b| std::ptr::eq(b.group, bucket.group) && b.size == bucket.size)
            .unwrap_or(index);
        for (strategy, workers, id) in &bucket.cells {
            let tally = |base: bool, fault: Option<Fault>| Tally {
                bucket: index,
                work,
                strategy,
                workers: *workers,
                id: id.clone(),
                base,
                processes: Vec::new(),
                fault,
                profile: None,
                spent: Duration::ZERO,
            };
            tallies.push(tally(
                false,
                runner.prepared[index].outcome.as_ref().err().cloned(),
            ));
            // A paired run's base twin comes right after its cell.
            if let Some(base) = &runner.base {
                tallies.push(tally(true, base.prepared[index].clone()));
            }
        }
    }
    let measured = runner.measure(&mut tallies, scope);
    stop_environments(environments, runner.observer);
    measured?;

    let Runner {
        mut results,
        base,
        observer,
        ..
    } = runner;
    let finished_at = now_rfc3339();
    let base_summary = match base {
        None => None,
        Some(mut base) => {
            base.results.finished_at = Some(finished_at.clone());
            let out = &base.baseline.out;
            let path = save(out, &base.results)?;
            let files = {
                let _writing = crate::interrupt::writing();
                write_all(out, &base.results)?
            };
            Some(summarize_run(
                &base.results,
                sampling,
                path,
                files,
                started.elapsed(),
            ))
        }
    };
    results.finished_at = Some(finished_at);
    let files = {
        let _writing = crate::interrupt::writing();
        let mut files = write_all(&options.out, &results)?;
        for writer in &options.writers {
            files.push(write_atomically(&options.out, writer.as_ref(), &results)?);
        }
        files
    };
    let summary = summarize_run(&results, sampling, path, files, started.elapsed());
    observer.run_finished(&results, &summary);
    Ok((summary, base_summary))
}

/// Stops the environments, telling the observer of any that would not stop.
fn stop_environments(environments: Vec<Box<dyn Environment>>, observer: &mut dyn Observer) {
    for env in environments {
        if let Err(e) = env.stop() {
            observer.warning(&e.to_string());
        }
    }
}

/// The results before the first cell: the suite, the machine and its limits — measured before
/// any cell and before the environments start — and how the run samples.
fn begin(suite: &Suite, cells: usize, sampling: Sampling, scope: ProfileScope) -> Results {
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
            gate: suite.gate,
            claims: suite.claims.clone(),
        },
        machine,
        pairing: None,
        visits: None,
        canary: Vec::new(),
        rounds: Some(Rounds {
            min_processes: sampling.processes,
            max_processes: sampling.max_processes,
            samples_per_process: sampling.samples,
            finished: 0,
            budget_ns: sampling.budget.map(|b| b.as_nanos() as u64),
            profiled: scope.as_str().to_owned(),
        }),
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
        rounds: results.rounds.as_ref().map_or(0, |r| r.finished),
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

/// A bucket as prepared: the recipe its cells are built from, and its reference answer and
/// the workload's features (or why there are none).
struct PreparedBucket {
    recipe: Recipe,
    outcome: Result<(Answer, Features), Fault>,
}

/// One cell's measurement so far: the processes it ran in, its profile, or how it failed (a
/// failed cell is visited no more).
struct Tally<'a> {
    bucket: usize,
    /// The first bucket of its workload entry and size: cells of one work spread alike.
    work: usize,
    strategy: &'a Configured,
    workers: usize,
    id: String,
    /// Measured with the base build of a paired run.
    base: bool,
    processes: Vec<Process>,
    fault: Option<Fault>,
    profile: Option<Profile>,
    /// Wall time of its measuring processes together.
    spent: Duration,
}

/// What one cell process measured.
struct Process {
    measured: Measured,
    /// Whether the canary saw the machine disturbed before or after it.
    disturbed: bool,
    /// The largest sum of the resident memory of its process tree, sampled (see
    /// [`crate::cell::parent::SAMPLE_EVERY`]).
    sampled_peak: u64,
}

/// A figure of a sample that gets an interval across processes.
type Metric = fn(&parbench_reports::Sample) -> u64;

/// The steady run time.
fn run_time(sample: &parbench_reports::Sample) -> u64 {
    sample.run_ns
}

/// End to end: setup, the first run and teardown.
fn end_to_end(sample: &parbench_reports::Sample) -> u64 {
    sample.setup_ns + sample.first_run_ns + sample.teardown_ns
}

/// A round of a workload of rounds.
fn round_time(sample: &parbench_reports::Sample) -> u64 {
    sample.work_rounds.map_or(0, |r| r.round_ns)
}

/// The kind of strategy a cell runs: the sequential loop, strategies in one process and
/// strategies of several, each by its workers (and, in a paired run, by build). With its work,
/// it groups the cells whose spreads between processes are alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Kind {
    base: bool,
    family: u8,
    workers: usize,
}

impl Kind {
    fn of(tally: &Tally<'_>) -> Self {
        let spec = tally.strategy.spec;
        Kind {
            base: tally.base,
            family: match spec.name {
                "sequential" => 0,
                _ if spec.spawns_processes => 2,
                _ => 1,
            },
            workers: tally.workers,
        }
    }
}

/// What each cell borrows, per metric, from every cell measured so far: its interval borrows
/// from the cells of its work and kind (see [`Shared`]), by `(base, id)`.
#[derive(Default)]
struct Kinds {
    wall: BTreeMap<(bool, String), Shared>,
    end_to_end: BTreeMap<(bool, String), Shared>,
    round: BTreeMap<(bool, String), Shared>,
}

impl Kinds {
    fn of(tallies: &[Tally<'_>]) -> Self {
        let fit = |metric: Metric| {
            let cells: Vec<(&Tally<'_>, Vec<f64>)> = tallies
                .iter()
                .filter(|t| t.fault.is_none())
                .filter_map(|tally| {
                    let processes = tally.per_process(metric);
                    let any = processes.iter().any(|p| p.iter().any(|&v| v > 0));
                    any.then(|| (tally, process_logs(&processes)))
                })
                .collect();
            let keyed: Vec<(usize, Kind, &[f64])> = cells
                .iter()
                .map(|(tally, logs)| (tally.work, Kind::of(tally), logs.as_slice()))
                .collect();
            cells
                .iter()
                .zip(Shared::fit_cells(&keyed))
                .filter_map(|((tally, _), shared)| Some((tally.key(), shared?)))
                .collect()
        };
        Kinds {
            wall: fit(run_time),
            end_to_end: fit(end_to_end),
            round: fit(round_time),
        }
    }
}

impl Tally<'_> {
    /// Its key among the run's cells: a paired run has a base twin of each id.
    fn key(&self) -> (bool, String) {
        (self.base, self.id.clone())
    }

    /// The processes its figures stand on: those the canary did not see disturbed, while
    /// there are two of them; every process otherwise.
    fn usable(&self) -> Vec<&Process> {
        let quiet: Vec<&Process> = self.processes.iter().filter(|p| !p.disturbed).collect();
        if quiet.len() >= 2 {
            quiet
        } else {
            self.processes.iter().collect()
        }
    }

    /// Processes the canary did not see disturbed.
    fn quiet_processes(&self) -> usize {
        self.processes.iter().filter(|p| !p.disturbed).count()
    }

    /// Each usable process's values of `metric`, process by process.
    fn per_process(&self, metric: Metric) -> Vec<Vec<u64>> {
        self.usable()
            .iter()
            .map(|p| p.measured.samples.iter().map(metric).collect())
            .collect()
    }

    /// The statistics of `metric` across its processes, sharing what its group shares.
    fn summary(&self, metric: Metric, shared: &BTreeMap<(bool, String), Shared>) -> Option<Stats> {
        summarize_processes(&self.per_process(metric), shared.get(&self.key()))
    }

    /// The statistics of its steady run times across its processes.
    fn wall(&self, kinds: &Kinds) -> Option<Stats> {
        self.summary(run_time, &kinds.wall)
    }

    /// What one of its processes has cost on average.
    fn cost(&self) -> Option<Duration> {
        let processes = u32::try_from(self.processes.len())
            .ok()
            .filter(|&n| n > 0)?;
        Some(self.spent / processes)
    }
}

/// Which tallies race in their bucket's contest (see [`Contest`]), and for what: the cells
/// that can still change a bucket's label with its leader, then the other open cells, by the
/// intervals `walls` (one per tally).
fn racing(tallies: &[Tally<'_>], walls: &[Option<Stats>]) -> Vec<Race> {
    let mut buckets: BTreeMap<(usize, bool), Vec<usize>> = BTreeMap::new();
    for (index, tally) in tallies.iter().enumerate() {
        let measured = walls[index]
            .as_ref()
            .is_some_and(|w| w.processes >= 2 && w.ci_level >= CONFIDENCE);
        if tally.fault.is_none() && measured {
            buckets
                .entry((tally.bucket, tally.base))
                .or_default()
                .push(index);
        }
    }
    let mut racing = vec![Race::None; tallies.len()];
    for members in buckets.values() {
        let entries: Vec<&Stats> = members.iter().filter_map(|&i| walls[i].as_ref()).collect();
        let Some(contest) = Contest::of(&entries) else {
            continue;
        };
        for position in contest.racing() {
            racing[members[position]] = Race::Lead;
        }
        let labels: Vec<String> = members
            .iter()
            .map(|&i| tallies[i].strategy.label())
            .collect();
        let order: Vec<_> = labels.iter().map(|l| decide::simplicity(l)).collect();
        for position in contest.deciding(&order) {
            racing[members[position]] = Race::Label;
        }
    }
    racing
}

/// Whether a cell's median has a 95% interval within `target`.
fn within_target(wall: Option<&Stats>, target: f64) -> bool {
    wall.is_some_and(|w| w.ci_level >= CONFIDENCE && w.relative_half_width() <= target)
}

/// What a budget's plan takes a cell process to cost before its first sample: spawning it and
/// the harness's work around it (its input is counted apart).
const SPAWN_COST: Duration = Duration::from_millis(5);

/// What a budget's plan takes a strategy's setup and teardown to cost together.
const SETUP_COST: Duration = Duration::from_millis(2);

/// `n` and the noun, singular or plural as `n` asks.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration to the second, for a message (at least one).
fn round_to_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round().max(1.0) as u64)
}

/// How long to measure before `results.json` is written again within a round.
const SAVE_EVERY: Duration = Duration::from_secs(10);

/// What stays the same for every cell of a run, and the results being made.
struct Runner<'a> {
    suite: &'a Suite,
    options: &'a RunOptions,
    /// This binary, which cells are started from.
    binary: PathBuf,
    /// The base build of a paired run.
    base: Option<BaseSide<'a>>,
    sampling: Sampling,
    limits: Limits,
    observer: &'a mut dyn Observer,
    started: Instant,
    /// When `results.json` was last written.
    saved: Instant,
    /// Where the measuring visits' time went so far.
    costs: VisitCosts,
    /// What each kind of cell shares, from the cells measured so far.
    kinds: Kinds,
    /// The machine's state between visits.
    canary: Canary,
    results: Results,
    buckets: &'a [Bucket<'a>],
    prepared: Vec<PreparedBucket>,
}

/// The base build of a paired run, and its results being made.
struct BaseSide<'a> {
    baseline: &'a Baseline<'a>,
    results: Results,
    /// Per bucket, why the base build could not prepare it.
    prepared: Vec<Option<Fault>>,
}

impl<'a> Runner<'a> {
    /// Prepares every bucket with the base build of a paired run too, and checks that both
    /// builds compute the same answers.
    fn prepare_base(&mut self) -> Result<(), Error> {
        let Some(base) = &self.base else {
            return Ok(());
        };
        let mut prepared = Vec::with_capacity(self.buckets.len());
        let (mut ours, mut theirs_failed) = (0, Vec::new());
        for (bucket, ours_prepared) in self.buckets.iter().zip(&self.prepared) {
            let ours_outcome = &ours_prepared.outcome;
            let Ok((answer, _)) = ours_outcome else {
                prepared.push(ours_outcome.as_ref().err().cloned());
                continue;
            };
            ours += 1;
            let request = self.request(bucket, &ours_prepared.recipe, Work::Prepare);
            match isolate(&base.baseline.binary, &request, self.limits).outcome {
                Ok(Reply::Prepared { answer: theirs, .. }) if theirs == *answer => {
                    prepared.push(None);
                }
                Ok(Reply::Prepared { answer: theirs, .. }) => {
                    return Err(Error::BaseBuild(format!(
                        "{}: the base build's answer differs (digest {}, this build's {}): the \
                         two builds would not measure the same work",
                        bucket.name(),
                        theirs.digest,
                        answer.digest
                    )))
                }
                other => {
                    let fault = fault_of(other);
                    theirs_failed.push(fault.message.clone());
                    prepared.push(Some(fault));
                }
            }
        }
        if ours > 0 && theirs_failed.len() == ours {
            let first = theirs_failed.swap_remove(0);
            return Err(Error::BaseBuild(format!(
                "{} cannot measure this build's cells (it may be too old to speak this build's \
                 cell protocol): {first}",
                base.baseline.binary.display()
            )));
        }
        if let Some(base) = &mut self.base {
            base.prepared = prepared;
        }
        Ok(())
    }

    /// Prepares a bucket in a cell process with the variables of its environment, or records
    /// why its environment did not start.
    fn prepare(&mut self, bucket: &Bucket<'_>, vars: Result<&EnvVars, &String>) -> PreparedBucket {
        let recipe = Recipe::new(
            &bucket.group.workload,
            &bucket.group.params,
            vars.unwrap_or(&EnvVars::new()),
        );
        let outcome = match vars {
            Err(failure) => Err(Fault {
                status: Status::Failed,
                message: failure.clone(),
            }),
            Ok(_) => {
                self.observer.preparing(&bucket.name());
                let request = self.request(bucket, &recipe, Work::Prepare);
                match isolate(&self.binary, &request, self.limits).outcome {
                    Ok(Reply::Prepared { answer, features }) => Ok((answer, features)),
                    other => {
                        let fault = fault_of(other);
                        Err(Fault {
                            message: format!(
                                "preparing the input and the reference: {}",
                                fault.message
                            ),
                            ..fault
                        })
                    }
                }
            }
        };
        PreparedBucket { recipe, outcome }
    }

    /// A request for a cell process of `bucket`.
    fn request(&self, bucket: &Bucket<'_>, recipe: &Recipe, work: Work) -> Request {
        Request {
            recipe: recipe.clone(),
            size: bucket.size,
            seed: self.suite.seed,
            tasks: bucket.tasks,
            policy: bucket.group.policy_in(self.suite),
            memory_limit: self.suite.memory_limit,
            spawned_ns: 0,
            work,
        }
    }

    /// The minimum rounds, the profiles, then the rounds for the cells still short of their
    /// target while the budget lasts.
    fn measure(&mut self, tallies: &mut [Tally<'a>], scope: ProfileScope) -> Result<(), Error> {
        let minimum = self.sampling.processes;
        let unmeasurable = Progress {
            pass: Pass::Round(1),
            rounds: minimum,
            done: 0,
            total: 0,
            remaining: None,
        };
        for tally in tallies.iter().filter(|t| t.fault.is_some()) {
            if let Some(cell) = self.record(tally) {
                self.observer.cell_finished(&cell, &unmeasurable);
            }
        }
        self.save(tallies)?;
        if self.base.is_some() {
            return self.measure_paired(tallies);
        }
        self.fit_budget(tallies);
        for round in 1.. {
            // The budget may have cut the minimum rounds after the first.
            let minimum = self.sampling.processes;
            if round == minimum + 1 && scope != ProfileScope::None {
                self.profiles(tallies, scope)?;
            }
            let chosen: Vec<usize> = if round > 1 && self.time_left() == Some(Duration::ZERO) {
                Vec::new()
            } else if round <= minimum {
                (0..tallies.len())
                    .filter(|&i| self.is_live(tallies, i))
                    .collect()
            } else {
                self.extra_round(tallies)
            };
            if chosen.is_empty() {
                break;
            }
            let order = shuffled(chosen, self.suite.seed, round);
            // Every round after the first stops where the budget ends: the first measures
            // every cell once, whatever it costs.
            self.round(round, order, tallies, round > 1)?;
            if round == 1 {
                self.refit_budget(tallies);
            }
        }
        Ok(())
    }

    /// Before the first round: cuts the samples per process, then the processes per cell, so
    /// that the minimum rounds fit in the suite's budget by what preparing measured (each
    /// cell's run taken as long as the sequential one), and says what it cut.
    fn fit_budget(&mut self, tallies: &[Tally<'_>]) {
        let Some(budget) = self.sampling.budget else {
            return;
        };
        let models: Vec<VisitModel> = tallies
            .iter()
            .filter(|t| t.fault.is_none())
            .filter_map(|t| {
                let (_, features) = self.prepared[t.bucket].outcome.as_ref().ok()?;
                let run = Duration::from_nanos(features.sequential_busy_ns);
                Some(VisitModel {
                    fixed: SPAWN_COST + Duration::from_nanos(features.generate_ns),
                    per_sample: SETUP_COST + run + run.max(SAMPLE_TARGET),
                })
            })
            .collect();
        let sampling = self.sampling;
        let left = budget.saturating_sub(self.started.elapsed());
        let asked = (sampling.warmup, sampling.samples, sampling.processes);
        let plan = fit_minimum(&models, asked, sampling.time_budget, left);
        if (plan.samples, plan.processes) == (sampling.samples, sampling.processes) {
            return;
        }
        self.cut_minimum(plan.samples, plan.processes);
        let mut message = format!(
            "the budget ({} left) cannot hold {} of {} for each of {} cells (by the inputs' \
             sequential run times): {} of {} each instead",
            humantime::format_duration(round_to_seconds(left)),
            count(sampling.processes, "process", "processes"),
            count(sampling.samples, "sample", "samples"),
            models.len(),
            count(plan.processes, "process", "processes"),
            count(plan.samples, "sample", "samples"),
        );
        if plan.overruns {
            message.push_str(
                ", and even that overruns it: the rounds after the first stop where the budget \
                 ends",
            );
        }
        self.observer.warning(&message);
    }

    /// After the first round, when it cost more than planned: fewer minimum rounds (down to
    /// two), so that the rest fit in what is left of the budget, said as a warning.
    fn refit_budget(&mut self, tallies: &[Tally<'_>]) {
        let Some(budget) = self.sampling.budget else {
            return;
        };
        let round: Duration = tallies
            .iter()
            .filter(|t| t.fault.is_none())
            .filter_map(Tally::cost)
            .sum();
        let left = budget.saturating_sub(self.started.elapsed());
        let rounds = self.sampling.processes.saturating_sub(1);
        if rounds == 0 || round.is_zero() || round * rounds as u32 <= left {
            return;
        }
        let fit = (left.as_nanos() / round.as_nanos()) as usize;
        let processes = (1 + fit).clamp(2.min(self.sampling.processes), self.sampling.processes);
        if processes == self.sampling.processes {
            return;
        }
        let was = self.sampling.processes;
        self.cut_minimum(self.sampling.samples, processes);
        self.observer.warning(&format!(
            "the first round took {}: with {} left of the budget, {processes} minimum processes \
             per cell instead of {was}",
            humantime::format_duration(round_to_seconds(round)),
            humantime::format_duration(round_to_seconds(left)),
        ));
    }

    /// Sets the minimum rounds to `processes` processes of up to `samples` samples, in the
    /// sampling and in the results.
    fn cut_minimum(&mut self, samples: usize, processes: usize) {
        self.sampling.samples = samples;
        self.sampling.processes = processes;
        if let Some(rounds) = &mut self.results.rounds {
            rounds.samples_per_process = samples;
            rounds.min_processes = processes;
        }
    }

    /// A paired run's rounds: the minimum over every cell; then, while the budget lasts and up
    /// to `max_processes`, rounds for the cells [`Baseline::widen`] names; then the
    /// confirmation of the cells [`Baseline::recheck`] names, each in as many rounds again as
    /// it had, whatever the budget (fewer would only cost the confirmation its power).
    fn measure_paired(&mut self, tallies: &mut [Tally<'a>]) -> Result<(), Error> {
        let minimum = self.sampling.processes;
        let seed = self.suite.seed;
        let live = |runner: &Self, tallies: &[Tally<'_>]| -> Vec<usize> {
            (0..tallies.len())
                .filter(|&i| runner.is_live(tallies, i))
                .collect()
        };
        let mut round = 1;
        loop {
            let chosen: Vec<usize> = if round <= minimum {
                live(self, tallies)
            } else if round <= self.sampling.max_processes
                && self.time_left() != Some(Duration::ZERO)
            {
                let ids = self.named(false);
                live(self, tallies)
                    .into_iter()
                    .filter(|&i| ids.contains(&tallies[i].id))
                    .collect()
            } else {
                Vec::new()
            };
            if chosen.is_empty() {
                break;
            }
            self.round(
                round,
                shuffled(chosen, seed, round),
                tallies,
                round > minimum,
            )?;
            round += 1;
        }
        let ids = self.recheck(round);
        // Each flagged cell's rounds so far: as many again confirm it.
        let first: Vec<usize> = tallies.iter().map(|t| t.processes.len()).collect();
        loop {
            let chosen: Vec<usize> = live(self, tallies)
                .into_iter()
                .filter(|&i| {
                    ids.contains(&tallies[i].id) && tallies[i].processes.len() < 2 * first[i]
                })
                .collect();
            if chosen.is_empty() {
                return Ok(());
            }
            self.round(round, shuffled(chosen, seed, round), tallies, false)?;
            round += 1;
        }
    }

    /// The cells a paired run's [`Baseline::widen`] (or, with `recheck`, its
    /// [`Baseline::recheck`]) names from both builds' results so far.
    fn named(&self, recheck: bool) -> Vec<String> {
        match &self.base {
            Some(base) if recheck => (base.baseline.recheck)(&base.results, &self.results),
            Some(base) => (base.baseline.widen)(&base.results, &self.results),
            None => Vec::new(),
        }
    }

    /// Whether a round visits `tallies[index]`: a cell that has not failed; in a paired run,
    /// the cell of this build (its base twin comes with it) when neither has failed.
    fn is_live(&self, tallies: &[Tally<'_>], index: usize) -> bool {
        let tally = &tallies[index];
        match self.base {
            None => tally.fault.is_none(),
            Some(_) => {
                !tally.base
                    && tally.fault.is_none()
                    && tallies
                        .get(index + 1)
                        .is_some_and(|twin| twin.fault.is_none())
            }
        }
    }

    /// The tallies one visit of `index` measures: the cell, and in a paired run its base twin,
    /// in the order of the turn (A B, then B A, ...).
    fn turn(&self, index: usize, position: usize) -> Vec<usize> {
        match self.base {
            None => vec![index],
            Some(_) if position.is_multiple_of(2) => vec![index, index + 1],
            Some(_) => vec![index + 1, index],
        }
    }

    /// After a paired run's first rounds: the cells to measure once more, with the round the
    /// confirmation starts at recorded in both results.
    fn recheck(&mut self, round: usize) -> Vec<String> {
        let ids = self.named(true);
        let Some(base) = &mut self.base else {
            return Vec::new();
        };
        if !ids.is_empty() {
            for results in [&mut base.results, &mut self.results] {
                if let Some(pairing) = &mut results.pairing {
                    pairing.confirmation_round = Some(round as u32);
                }
            }
        }
        ids
    }

    /// The cells a round after the minimum ones visits: the cells a bucket's label still hangs
    /// on, the leaders and open cells of the buckets whose contest is not settled, then the
    /// cells still wider than the target (see [`crate::schedule`]).
    fn extra_round(&self, tallies: &[Tally<'_>]) -> Vec<usize> {
        let sampling = self.sampling;
        let walls: Vec<Option<Stats>> = tallies.iter().map(|t| t.wall(&self.kinds)).collect();
        let racing = racing(tallies, &walls);
        let open: Vec<usize> = (0..tallies.len())
            .filter(|&i| {
                tallies[i].fault.is_none() && tallies[i].processes.len() < sampling.max_processes
            })
            .collect();
        let candidates = open
            .iter()
            .filter_map(|&index| {
                let (tally, wall) = (&tallies[index], walls[index].as_ref());
                // A cell short of its minimum quiet processes gets fresh ones first.
                let short = tally.quiet_processes() < sampling.processes;
                Some(Candidate {
                    index,
                    race: if short { Race::Label } else { racing[index] },
                    width: wall.map_or(f64::INFINITY, Stats::relative_half_width),
                    within: within_target(wall, sampling.ci_target),
                    processes: tally.processes.len(),
                    cost: tally.cost()?,
                })
            })
            .collect();
        let spent = open.iter().map(|&i| tallies[i].spent).sum();
        extra_round(candidates, spent, self.time_left())
    }

    /// The time left in the suite's budget, if it has one.
    fn time_left(&self) -> Option<Duration> {
        self.sampling
            .budget
            .map(|budget| budget.saturating_sub(self.started.elapsed()))
    }

    /// One measuring round over `order`; a `budgeted` one stops where the budget ends.
    fn round(
        &mut self,
        round: usize,
        order: Vec<usize>,
        tallies: &mut [Tally<'a>],
        budgeted: bool,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut progress = Progress {
            pass: Pass::Round(round),
            rounds: self.sampling.processes,
            done: 0,
            total: order.len(),
            remaining: None,
        };
        progress.remaining = self.remaining(tallies, &order, round);
        self.observer.pass_started(&progress);
        // The harness's own work between visits is counted from one visit's end to the next's.
        let mut between = Instant::now();
        // The reading after the last visit of the round before stands before this one's first.
        let mut before = match self.canary.last_reading() {
            Some(reading) => reading,
            None => self.canary.read(),
        };
        for (visited, &index) in order.iter().enumerate() {
            if budgeted && self.time_left() == Some(Duration::ZERO) {
                progress.total = visited;
                break;
            }
            let pending: Vec<usize> = order[visited..]
                .iter()
                .flat_map(|&i| self.turn(i, 0))
                .collect();
            progress.remaining = self.remaining(tallies, &pending, round);
            self.observer.cell_started(&tallies[index].id, &progress);
            let mut visiting = Duration::ZERO;
            let members = self.turn(index, round + visited);
            let visited_before: Vec<usize> = members
                .iter()
                .map(|&m| tallies[m].processes.len())
                .collect();
            for &member in &members {
                let clock = Instant::now();
                self.visit(&mut tallies[member], round);
                visiting += clock.elapsed();
            }
            // The canary's reading after the visit is the next one's before.
            let after = self.canary.read();
            if before.disturbed || after.disturbed {
                for (&member, &count) in members.iter().zip(&visited_before) {
                    for process in &mut tallies[member].processes[count..] {
                        process.disturbed = true;
                        for sample in &mut process.measured.samples {
                            sample.disturbed = true;
                        }
                    }
                }
            }
            before = after;
            self.kinds = Kinds::of(tallies);
            progress.done += 1;
            if let Some(cell) = self.record(&tallies[index]) {
                self.observer.cell_finished(&cell, &progress);
            }
            if self.saved.elapsed() >= SAVE_EVERY {
                self.save(tallies)?;
            }
            self.costs.between_ns += between.elapsed().saturating_sub(visiting).as_nanos() as u64;
            between = Instant::now();
        }
        for results in
            std::iter::once(&mut self.results).chain(self.base.as_mut().map(|b| &mut b.results))
        {
            if let Some(rounds) = &mut results.rounds {
                rounds.finished = round;
            }
        }
        self.save(tallies)?;
        self.pass_finished(Pass::Round(round), progress.done, started.elapsed());
        Ok(())
    }

    /// Tells the observer what a pass did, from the results just saved.
    fn pass_finished(&mut self, pass: Pass, processes: usize, elapsed: Duration) {
        // Intervals of one process's samples cover less than 95%: not counted.
        let mut widths: Vec<f64> = self
            .results
            .cells
            .iter()
            .filter_map(|c| c.wall.as_ref())
            .filter(|w| w.ci_level >= CONFIDENCE)
            .map(Stats::relative_half_width)
            .collect();
        widths.sort_by(f64::total_cmp);
        self.observer.pass_finished(&PassSummary {
            pass,
            processes,
            elapsed,
            cells: self.results.cells.len(),
            converged: self.results.cells.iter().filter(|c| c.converged).count(),
            median_width: widths.get(widths.len().saturating_sub(1) / 2).copied(),
        });
    }

    /// An estimate of the run's time left, with `pending` still to visit in `round`: this
    /// round, then the minimum rounds and the profiles still to come.
    fn remaining(
        &self,
        tallies: &[Tally<'_>],
        pending: &[usize],
        round: usize,
    ) -> Option<Duration> {
        let (spent, processes) = tallies.iter().fold((Duration::ZERO, 0u32), |(s, n), t| {
            (s + t.spent, n + t.processes.len() as u32)
        });
        let typical = spent.checked_div(processes)?;
        let cost = |t: &Tally<'_>| t.cost().unwrap_or(typical);
        let this_round: Duration = pending.iter().map(|&i| cost(&tallies[i])).sum();
        if round > self.sampling.processes {
            return Some(match self.time_left() {
                Some(left) => this_round.min(left),
                None => this_round,
            });
        }
        let live: Vec<&Tally<'_>> = tallies.iter().filter(|t| t.fault.is_none()).collect();
        let per_round: Duration = live.iter().map(|t| cost(t)).sum();
        let later = (self.sampling.processes - round) as u32;
        let profiles = match self.options.profile_scope() {
            ProfileScope::None => 0,
            ProfileScope::All => live.len(),
            // About one per strategy and workload.
            ProfileScope::Focus => {
                let mut strategies: Vec<&str> = live.iter().map(|t| t.strategy.spec.name).collect();
                strategies.sort_unstable();
                strategies.dedup();
                strategies.len() * self.suite.groups.len()
            }
        };
        let profile = typical + self.suite.profiling.time;
        Some(this_round + per_round * later + profile * profiles as u32)
    }

    /// Measures a cell in one more process of its own.
    fn visit(&mut self, tally: &mut Tally<'_>, round: usize) {
        let bucket = &self.buckets[tally.bucket];
        let prepared = &self.prepared[tally.bucket];
        let Ok((answer, features)) = &prepared.outcome else {
            return;
        };
        let work = Work::Measure {
            strategy: tally.strategy.spec.name.to_owned(),
            params: strategy_params(tally.strategy),
            workers: tally.workers,
            samples: self.sampling.per_process(),
            expected: answer.clone(),
            features: features.clone(),
        };
        let binary = match &self.base {
            Some(base) if tally.base => &base.baseline.binary,
            _ => &self.binary,
        };
        let isolated = isolate(
            binary,
            &self.request(bucket, &prepared.recipe, work),
            self.limits,
        );
        tally.spent += isolated.elapsed;
        match isolated.outcome {
            Ok(Reply::Measured(mut measured)) => {
                let mut costs = measured.costs;
                costs.visits = 1;
                costs.reply_ns = isolated.ended_ns.saturating_sub(measured.finished_ns);
                let elapsed = isolated.elapsed.as_nanos() as u64;
                costs.other_ns = elapsed.saturating_sub(costs.wall_ns());
                self.costs.add(&costs);
                let process = tally.processes.len() as u32 + 1;
                for sample in &mut measured.samples {
                    sample.process = process;
                    sample.round = round as u32;
                }
                tally.processes.push(Process {
                    measured,
                    disturbed: false,
                    sampled_peak: isolated.sampled_peak_rss,
                });
            }
            other => tally.fault = Some(fault_of(other)),
        }
    }

    /// Profiles the cells `scope` chooses, each in a process of its own.
    fn profiles(&mut self, tallies: &mut [Tally<'a>], scope: ProfileScope) -> Result<(), Error> {
        let chosen: Vec<usize> = match scope {
            ProfileScope::None => Vec::new(),
            ProfileScope::All => (0..tallies.len()).collect(),
            ProfileScope::Focus => {
                let focus: Vec<&str> = view::groups(&self.results)
                    .iter()
                    .flat_map(|group| group.focus_cells())
                    .map(|cell| cell.id.as_str())
                    .collect();
                (0..tallies.len())
                    .filter(|&i| focus.contains(&tallies[i].id.as_str()))
                    .collect()
            }
        };
        let chosen: Vec<usize> = chosen
            .into_iter()
            .filter(|&i| tallies[i].fault.is_none())
            .collect();
        if chosen.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut progress = Progress {
            pass: Pass::Profiles,
            rounds: self.sampling.processes,
            done: 0,
            total: chosen.len(),
            remaining: None,
        };
        let per_profile = self.suite.profiling.time * 2;
        progress.remaining = Some(per_profile * chosen.len() as u32);
        self.observer.pass_started(&progress);
        for &index in &chosen {
            progress.remaining = Some(per_profile * (chosen.len() - progress.done) as u32);
            self.observer.cell_started(&tallies[index].id, &progress);
            if let Some(warning) = self.profile(&mut tallies[index]) {
                self.observer.warning(&warning);
            }
            progress.done += 1;
            if let Some(cell) = self.record(&tallies[index]) {
                self.observer.cell_finished(&cell, &progress);
            }
        }
        self.save(tallies)?;
        self.pass_finished(Pass::Profiles, progress.done, started.elapsed());
        Ok(())
    }

    /// Profiles a cell in a process of its own and writes its flame graph; returns a warning
    /// for the user, if any. A profiled run that answers wrongly fails the cell, as a timed
    /// sample would; a profiler that failed leaves the cell's measurement as it was.
    fn profile(&mut self, tally: &mut Tally<'_>) -> Option<String> {
        let bucket = &self.buckets[tally.bucket];
        let prepared = &self.prepared[tally.bucket];
        let (answer, _) = prepared.outcome.as_ref().ok()?;
        let work = Work::Profile {
            strategy: tally.strategy.spec.name.to_owned(),
            params: strategy_params(tally.strategy),
            workers: tally.workers,
            expected: answer.clone(),
            profiling: self.suite.profiling,
        };
        let isolated = isolate(
            &self.binary,
            &self.request(bucket, &prepared.recipe, work),
            self.limits,
        );
        let profiled = match isolated.outcome {
            Ok(Reply::Profiled(profiled)) => profiled,
            other => Err(ProfileFailure::Profiler(fault_of(other).message)),
        };
        let profiling = (self.suite.profiling.frequency, isolated.elapsed);
        let (profile, outcome) = profile_record(&tally.id, profiled, profiling, &self.options.out);
        tally.profile = Some(profile);
        match outcome {
            Err(fault) => {
                tally.fault = Some(fault);
                None
            }
            Ok(warning) => warning,
        }
    }

    /// Rewrites `results.json` with every cell measured so far.
    fn save(&mut self, tallies: &[Tally<'_>]) -> Result<(), Error> {
        let records = |base: bool| -> Vec<Cell> {
            tallies
                .iter()
                .filter(|t| t.base == base)
                .filter_map(|t| self.record(t))
                .collect()
        };
        let (ours, theirs) = (records(false), records(true));
        self.results.cells = ours;
        self.results.visits = Some(self.costs).filter(|c| c.visits > 0);
        self.results.canary = self.canary.readings().to_vec();
        // Contention and efficiency against each bucket's sequential cell.
        figures::derive(&mut self.results);
        save(&self.options.out, &self.results)?;
        if let Some(base) = &mut self.base {
            base.results.cells = theirs;
            figures::derive(&mut base.results);
            save(&base.baseline.out, &base.results)?;
        }
        self.saved = Instant::now();
        Ok(())
    }

    /// A cell's record from its processes so far; `None` before its first.
    fn record(&self, tally: &Tally<'_>) -> Option<Cell> {
        if tally.processes.is_empty() && tally.fault.is_none() {
            return None;
        }
        let bucket = &self.buckets[tally.bucket];
        let prepared = self.prepared[tally.bucket].outcome.as_ref().ok();
        let (status, error) = match &tally.fault {
            Some(fault) => (fault.status, Some(fault.message.clone())),
            None => (Status::Ok, None),
        };
        let samples: Vec<parbench_reports::Sample> = tally
            .processes
            .iter()
            .flat_map(|p| p.measured.samples.iter().cloned())
            .collect();
        let runs: Vec<u64> = samples.iter().map(|s| s.run_ns).collect();
        let wall = tally.wall(&self.kinds);
        // The timeline of the process whose median is the middle one.
        let medians: Vec<u64> = tally
            .per_process(|s| s.run_ns)
            .iter()
            .map(|runs| median_index(runs).map_or(0, |i| runs[i]))
            .collect();
        let timeline =
            median_index(&medians).and_then(|i| tally.usable()[i].measured.timeline.clone());
        // The larger of the exact high-water marks and the sampled sum of the tree.
        let peak = tally
            .processes
            .iter()
            .map(|p| p.measured.peak_rss_bytes.unwrap_or(0).max(p.sampled_peak))
            .max()
            .filter(|&peak| peak > 0);
        let resources = tally
            .processes
            .iter()
            .map(|p| p.measured.resources)
            .reduce(Resources::max)
            .filter(|r| r.processes > 0);
        let group = bucket.group;
        let work_rounds = work_rounds(tally, &samples, &self.kinds);
        Some(Cell {
            id: tally.id.clone(),
            workload: group.workload.name.to_owned(),
            workload_kind: group.workload.kind.to_string(),
            params: json_params(&group.params),
            strategy: tally.strategy.spec.name.to_owned(),
            strategy_params: json_params(&tally.strategy.params),
            workers: tally.workers,
            size: bucket.size,
            tasks: bucket.tasks,
            policy: group.policy_in(self.suite).to_string(),
            status,
            error,
            verified: status == Status::Ok,
            answer: prepared.map(|(answer, _)| AnswerRecord {
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
                .map(|(_, features)| features.clone())
                .unwrap_or_default(),
            overhead: median_index(&runs).map(|i| samples[i].overhead),
            efficiency: None,
            converged: within_target(wall.as_ref(), self.sampling.ci_target),
            wall,
            end_to_end: tally.summary(end_to_end, &self.kinds.end_to_end),
            peak_rss_bytes: peak,
            resources,
            samples,
            ci_target: self.sampling.ci_target,
            timeline,
            profile: tally.profile.clone(),
            work_rounds,
        })
    }
}

/// A cell's round costs over its samples (see [`RoundStats`]); `None` for one-pass work.
fn work_rounds(
    tally: &Tally<'_>,
    samples: &[parbench_reports::Sample],
    kinds: &Kinds,
) -> Option<RoundStats> {
    let costs: Vec<&RoundCosts> = samples
        .iter()
        .filter_map(|s| s.work_rounds.as_ref())
        .collect();
    let first = costs.first()?;
    let field = |f: fn(&RoundCosts) -> u64| {
        let mut values: Vec<u64> = costs.iter().map(|c| f(c)).collect();
        crate::overhead::median(&mut values)
    };
    let round = tally.summary(round_time, &kinds.round)?;
    Some(RoundStats {
        costs: RoundCosts {
            rounds: first.rounds,
            round_ns: round.median_ns as u64,
            first_round_ns: field(|c| c.first_round_ns),
            straggler_ns: field(|c| c.straggler_ns),
            exchange_ns: field(|c| c.exchange_ns),
            bytes_per_round: field(|c| c.bytes_per_round),
            first_round_bytes: field(|c| c.first_round_bytes),
        },
        round,
    })
}

/// A strategy's parameters as a request carries them: `key=value`.
fn strategy_params(strategy: &Configured) -> Vec<String> {
    strategy
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// Frames kept in a cell's profile summary.
const TOP_FRAMES: usize = 8;

/// A cell's profile record, its flame graph and folded stacks written; and what it means for
/// the cell: a fault when the strategy failed or answered wrongly under the profiler, or else
/// a warning for the user, if any.
fn profile_record(
    id: &str,
    profiled: Result<Profiled, ProfileFailure>,
    (frequency_hz, cost): (u32, Duration),
    out: &Path,
) -> (Profile, Result<Option<String>, Fault>) {
    let cost_ns = cost.as_nanos() as u64;
    let failed = |error: &str| Profile {
        frequency_hz,
        cost_ns,
        error: Some(error.to_owned()),
        ..Profile::default()
    };
    match profiled {
        Ok(p) => {
            let samples = p.samples();
            let title = flame::title(id, samples, p.runs, frequency_hz);
            let written = {
                let _writing = crate::interrupt::writing();
                flame::write_graph(out, id, &p.stacks, &title)
            };
            let ((folded, flamegraph), error, warning) = match written {
                Ok(paths) => (paths, None, None),
                Err(e) => (
                    Default::default(),
                    Some(e.to_string()),
                    Some(format!("{id}: no flame graph: {e}")),
                ),
            };
            let profile = Profile {
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
            };
            (profile, Ok(warning))
        }
        Err(ProfileFailure::Strategy(message)) => (
            failed(&message),
            Err(Fault {
                status: Status::Failed,
                message: format!("its profiled run: {message}"),
            }),
        ),
        Err(ProfileFailure::Profiler(message)) => (
            failed(&message),
            Ok(Some(format!("{id}: no profile: {message}"))),
        ),
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
        Ok(Reply::Crashed(message)) => Fault {
            status: Status::Crash,
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
