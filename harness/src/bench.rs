//! `cargo bench` on a user's own work: what [`crate::main!`] expands to.
//!
//! A bench target with `harness = false` whose `main` is `parbench::main!(...)` serves the hidden
//! commands first (its cells and workers are that binary started again), then takes the
//! arguments `cargo bench` passes and criterion users know, runs its suite and writes the
//! results under the cargo target directory, `target/parbench/<bench>/`:
//!
//! | directory | what |
//! |---|---|
//! | `latest/` | the last measuring run: `results.json`, `report.html`, `summary.md`, ... |
//! | `test/` | the last `--test` run (every cell once, verified) |
//! | `baselines/NAME/` | a run saved by `--save-baseline NAME`, with a copy of its binary |
//! | `compare/` | the last `--baseline NAME`: the comparison and both builds' results |

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use parbench_strategies::StrategySpec;
use parbench_workloads::{WorkKind, WorkloadSpec};

use crate::error::Error;
use crate::gate::{BaseBuild, GateOptions};
use crate::options::{ProfileScope, RunOptions};
use crate::plugins::Plugins;
use crate::suite::{Suite, SuiteBuilder, WorkloadEntry};
use crate::terminal::Terminal;

/// The bench target being run, as cargo compiled it; [`crate::main!`] fills it in.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The bench target's crate name (`CARGO_CRATE_NAME`): the directory its results go in.
    pub name: &'static str,
    /// The directory cargo gave the target for its own files (`CARGO_TARGET_TMPDIR`, inside
    /// the target directory), when cargo compiled it.
    pub target_tmpdir: Option<&'static str>,
}

impl Target {
    /// `target/parbench/<bench>/`: under the target directory cargo built this bench in (its
    /// `CARGO_TARGET_DIR` or `build.target-dir` included), else under `$CARGO_TARGET_DIR`,
    /// else under `target/`.
    ///
    /// ```
    /// let target = parbench::bench::Target { name: "mine", target_tmpdir: Some("/work/target/tmp") };
    /// assert_eq!(target.root(), std::path::Path::new("/work/target/parbench/mine"));
    /// ```
    pub fn root(&self) -> PathBuf {
        let target = self
            .target_tmpdir
            .and_then(|tmp| Path::new(tmp).parent().map(Path::to_owned))
            .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("target"));
        target.join("parbench").join(self.name)
    }
}

/// The suite of a bench: every workload the bench registers, under every strategy the binary
/// knows, on 1 and all cores, at 64 tasks, until the closure given to [`crate::main!`] says
/// otherwise. Waiting work (a workload of [`WorkKind::Io`], as `FnWorkload::asynchronous` and
/// `::blocking` are) is measured under the strategies that overlap waits as well
/// ([`OVERLAPPING`]), unless the bench names its strategies.
///
/// ```
/// use parbench::bench::BenchSuite;
///
/// // What `suite = |s| s.tasks([1, 64, 4096]).strategies(["sequential", "rayon"])` does.
/// let configure = |s: BenchSuite| s.tasks([1, 64, 4096]).strategies(["sequential", "rayon"]);
/// let suite = configure(BenchSuite::new("mine", ["square"])).build(&parbench::Plugins::default())?;
/// assert_eq!(suite.groups[0].tasks, [1, 64, 4096]);
/// assert_eq!(suite.groups[0].strategies.len(), 2);
/// # Ok::<(), parbench::SuiteError>(())
/// ```
pub struct BenchSuite {
    builder: SuiteBuilder,
    workloads: Vec<String>,
    sizes: Option<Vec<usize>>,
    tasks: Vec<usize>,
    strategies: Option<Vec<String>>,
    workers: Option<Vec<usize>>,
    entries: Vec<WorkloadEntry>,
}

impl BenchSuite {
    /// The default suite named `name` over `workloads` (registered names).
    pub fn new<S: Into<String>>(name: &str, workloads: impl IntoIterator<Item = S>) -> Self {
        Self {
            builder: Suite::builder(name),
            workloads: workloads.into_iter().map(Into::into).collect(),
            sizes: None,
            tasks: vec![64],
            strategies: None,
            workers: None,
            entries: Vec::new(),
        }
    }

    /// Input sizes of every workload, in items (default: each workload's default size).
    pub fn sizes(mut self, sizes: impl IntoIterator<Item = usize>) -> Self {
        self.sizes = Some(sizes.into_iter().collect());
        self
    }

    /// Task counts of every workload (default: 64).
    pub fn tasks(mut self, tasks: impl IntoIterator<Item = usize>) -> Self {
        self.tasks = tasks.into_iter().collect();
        self
    }

    /// Strategies, `name` or `name[key=value,...]` (default: every strategy of the binary).
    pub fn strategies<S: Into<String>>(mut self, strategies: impl IntoIterator<Item = S>) -> Self {
        self.strategies = Some(strategies.into_iter().map(Into::into).collect());
        self
    }

    /// Worker counts (default: 1 and the machine's cores).
    pub fn workers(mut self, workers: impl IntoIterator<Item = usize>) -> Self {
        self.workers = Some(workers.into_iter().collect());
        self
    }

    /// A workload entry of its own (parameters, sizes, tasks, strategies): once any is given,
    /// the suite holds those entries and no default ones.
    pub fn workload(mut self, entry: WorkloadEntry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Anything else a suite sets (sampling, budgets, limits, the gate's thresholds in code),
    /// on its [`SuiteBuilder`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let configure = |s: parbench::bench::BenchSuite| s.with(|b| b.processes(5).budget(Duration::from_secs(60)));
    /// # let _ = configure;
    /// ```
    pub fn with(mut self, f: impl FnOnce(SuiteBuilder) -> SuiteBuilder) -> Self {
        self.builder = f(self.builder);
        self
    }

    /// Validates the suite against `plugins`, as a suite file is.
    pub fn build(self, plugins: &Plugins) -> Result<Suite, crate::SuiteError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let chosen = self.strategies.is_some();
        let strategies = self.strategies.unwrap_or_else(|| {
            plugins
                .strategies
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect()
        });
        // Waiting work, unless the bench chose: every strategy and those that overlap waits.
        let overlapping: Vec<String> = OVERLAPPING
            .iter()
            .filter(|s| plugins.strategies.get(strategy_name(s)).is_ok())
            .map(|s| (*s).to_owned())
            .collect();
        let waits = |entry: &WorkloadEntry| {
            !chosen
                && !entry.has_strategies()
                && plugins
                    .workloads
                    .get(entry.name())
                    .is_ok_and(|spec| spec.kind == WorkKind::Io)
        };
        let with_overlapping = |entry: WorkloadEntry| {
            if waits(&entry) {
                entry.strategies(strategies.iter().chain(&overlapping).cloned())
            } else {
                entry
            }
        };
        let mut workers = self.workers.unwrap_or_else(|| vec![1, cores]);
        workers.dedup();
        let mut builder = self.builder.strategies(strategies.clone()).workers(workers);
        if self.entries.is_empty() {
            for name in self.workloads {
                let mut entry = WorkloadEntry::new(name).tasks(self.tasks.iter().copied());
                if let Some(sizes) = &self.sizes {
                    entry = entry.sizes(sizes.iter().copied());
                }
                builder = builder.workload(with_overlapping(entry));
            }
        } else {
            for entry in self.entries {
                builder = builder.workload(with_overlapping(entry));
            }
        }
        builder.build(plugins)
    }
}

/// What a bench measures waiting work under besides every strategy of the binary (those the
/// binary has): an executor-sized thread pool (`min(32, cores + 4)` threads, Python's
/// `ThreadPoolExecutor`) and tokio with its own blocking pool (512 threads) — more threads
/// than cores, which a blocking call needs to overlap its waits — while `tokio` itself runs an
/// async workload's items as futures. With one thread per worker, every other strategy caps
/// the waits in flight at the worker count.
pub const OVERLAPPING: [&str; 2] = ["thread-pool[threads=executor]", "tokio[blocking=tokio]"];

/// `name` of `name[key=value,...]`.
fn strategy_name(configured: &str) -> &str {
    configured.split('[').next().unwrap_or(configured)
}

/// The line a bench prints when it measures waiting work under [`OVERLAPPING`] strategies
/// it added: the waiting workloads with a cell that `filter` keeps.
///
/// ```
/// use parbench::bench::{overlapping_note, BenchSuite};
/// use parbench::{FnWorkload, Plugins, Services, WorkloadSpec};
///
/// let mut plugins = Plugins::default();
/// let waits: WorkloadSpec = FnWorkload::blocking(
///     "waits",
///     |size, _| vec![1u64; size],
///     |_: &Services| Ok::<_, String>(()),
///     |x: &u64, _: &()| Ok::<_, String>(*x),
/// )
/// .into();
/// plugins.workloads.register(waits)?;
/// let suite = BenchSuite::new("mine", ["waits", "square"]).build(&plugins)?;
/// let note = overlapping_note(&suite, None).expect("waiting work");
/// assert!(note.starts_with("waiting work (waits): also under thread-pool[threads=executor]"));
/// assert!(overlapping_note(&suite, Some("square/")).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn overlapping_note(suite: &Suite, filter: Option<&str>) -> Option<String> {
    let kept = crate::runner::cell_ids(suite, filter);
    let mut waiting: Vec<&str> = suite
        .groups
        .iter()
        .filter(|g| {
            g.strategies
                .iter()
                .any(|s| OVERLAPPING.contains(&s.label().as_str()))
        })
        .map(|g| g.workload.name)
        .filter(|name| {
            kept.iter().any(|id| {
                id.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['/', '[']))
            })
        })
        .collect();
    waiting.dedup();
    if waiting.is_empty() {
        return None;
    }
    let added: Vec<&str> = OVERLAPPING
        .iter()
        .copied()
        .filter(|o| {
            suite
                .groups
                .iter()
                .any(|g| g.strategies.iter().any(|s| s.label() == *o))
        })
        .collect();
    Some(format!(
        "waiting work ({}): also under {}, which overlap waits with more threads than cores",
        waiting.join(", "),
        added.join(" and ")
    ))
}

/// The arguments of a parbench bench: what `cargo bench -- ARGS` and `cargo test --benches`
/// pass, as criterion takes them.
#[derive(Debug, Parser)]
#[command(
    about = "A parbench benchmark: this crate's work under every strategy. Results go to \
             target/parbench/<bench>/. Exit code 0: all well; 1: a cell failed, or --baseline \
             found a regression; 2: a usage or input error; 130: interrupted.",
    disable_version_flag = true
)]
struct Args {
    /// Only the cells whose id contains FILTER (e.g. `tasks=64`, `process-pool`, `/w2`).
    filter: Option<String>,
    /// Passed by `cargo bench`: measure. Without it (`cargo test --benches`), every cell runs
    /// once, verified, as with --test.
    #[arg(long, hide = true)]
    bench: bool,
    /// Every cell once, verified, without statistics: a smoke test (`cargo test --benches`).
    #[arg(long, conflicts_with_all = ["list", "save_baseline", "baseline"])]
    test: bool,
    /// List the cells, one `ID: benchmark` line each.
    #[arg(long)]
    list: bool,
    /// One process per cell and fewer samples: a quick look rather than figures to defend.
    #[arg(long)]
    quick: bool,
    /// No profiled run and no flame graph.
    #[arg(long)]
    no_profile: bool,
    /// Save this run as the baseline NAME (its results and a copy of this binary).
    #[arg(long, value_name = "NAME", conflicts_with = "baseline")]
    save_baseline: Option<String>,
    /// Measure this build beside the baseline NAME's binary, paired, and compare them
    /// through the regression gate (exit code 1 on a regression).
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// A metric's threshold for --baseline: `run=3%`, `end-to-end=10%`, `memory=10%`,
    /// `overhead=5%` (points), `bytes=10%`. Repeatable.
    #[arg(long = "threshold", value_name = "METRIC=VALUE")]
    thresholds: Vec<String>,
    /// libtest's list format, as `--list --format terse` asks.
    #[arg(long, hide = true, value_parser = ["pretty", "terse"])]
    format: Option<String>,
    /// libtest's: only ignored benchmarks, of which there are none.
    #[arg(long, hide = true)]
    ignored: bool,
    /// Accepted for libtest's sake; parbench never captures output.
    #[arg(long, hide = true)]
    nocapture: bool,
    /// Accepted for libtest's sake.
    #[arg(long, hide = true)]
    show_output: bool,
    /// Accepted for libtest's sake; cells always run one at a time.
    #[arg(long, hide = true, value_name = "N")]
    test_threads: Option<String>,
    /// Accepted for libtest's sake.
    #[arg(long, hide = true, value_name = "WHEN")]
    color: Option<String>,
}

/// What `parbench::main!` runs: the hidden commands, then the bench's command line; returns
/// the exit code.
///
/// Use [`crate::main!`] rather than calling it: the macro fills `target` in from what cargo
/// sets at compile time.
pub fn main(
    target: Target,
    workloads: Vec<WorkloadSpec>,
    strategies: Vec<StrategySpec>,
    suite: impl FnOnce(BenchSuite) -> BenchSuite,
) -> ExitCode {
    let mut plugins = Plugins::default();
    let registered = workloads
        .iter()
        .try_for_each(|w| plugins.workloads.register(*w).map_err(Error::from))
        .and_then(|()| {
            strategies
                .iter()
                .try_for_each(|s| plugins.strategies.register(*s).map_err(Error::from))
        });
    if let Some(code) = crate::serve_hidden_commands(&plugins) {
        return code;
    }
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let names = workloads.iter().map(|w| w.name);
    let result = registered.and_then(|()| {
        let suite = suite(BenchSuite::new(target.name, names)).build(&plugins)?;
        if let Some(note) = overlapping_note(&suite, args.filter.as_deref()).filter(|_| !args.list)
        {
            eprintln!("{note}");
        }
        execute(&target, &suite, &args, &plugins)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs the bench as `args` ask; returns the exit code.
fn execute(target: &Target, suite: &Suite, args: &Args, plugins: &Plugins) -> Result<u8, Error> {
    // `cargo bench` runs a bench in its package's directory: the paths it prints are shorter
    // from there.
    let root = target.root();
    let root = std::env::current_dir()
        .ok()
        .and_then(|cwd| root.strip_prefix(cwd).ok().map(Path::to_owned))
        .unwrap_or(root);
    if args.list {
        for id in crate::runner::cell_ids(suite, args.filter.as_deref()) {
            println!("{id}: benchmark");
        }
        return Ok(0);
    }
    if args.ignored {
        // libtest's meaning: run only what is ignored, and nothing is.
        return Ok(0);
    }
    let mut options = RunOptions {
        out: root.join("latest"),
        filter: args.filter.clone(),
        quick: args.quick,
        profile: if args.no_profile {
            ProfileScope::None
        } else {
            ProfileScope::Focus
        },
        writers: plugins.writers.clone(),
    };
    // A bad name is refused before anything is measured, not after.
    if let Some(name) = &args.save_baseline {
        plain_name(name)?;
    }
    if args.test || !args.bench {
        if args.save_baseline.is_some() || args.baseline.is_some() {
            return Err(Error::Usage(
                "--save-baseline and --baseline measure: run them under `cargo bench`, not \
                 `cargo test --benches` or --test"
                    .to_owned(),
            ));
        }
        options.out = root.join("test");
        options.profile = ProfileScope::None;
        let summary = crate::runner::run(&smoke(suite), &options, &mut Terminal::default())?;
        return Ok(u8::from(summary.failed > 0));
    }
    let gate = GateOptions {
        thresholds: args.thresholds.clone(),
        alpha: parbench_reports::compare::ALPHA,
        allow_other_machine: false,
        // A filtered run is compared on the cells it measured.
        common_only: true,
        all: false,
        out: root.join("compare"),
        // Beside every bench's directory: target/parbench/history.sqlite.
        db: crate::history::database(None, &root),
    };
    if let Some(name) = &args.baseline {
        if args.quick {
            return Err(Error::Usage(
                "--baseline measures both builds round after round, paired; --quick's one \
                 process per cell cannot tell them apart"
                    .to_owned(),
            ));
        }
        let saved = baseline_dir(&root, name)?;
        let binary = saved.join(BINARY_DIR).join(exe_name()?);
        if binary.is_file() {
            return crate::gate::compare_paired(suite, &BaseBuild::Binary(binary), &options, &gate);
        }
        // A baseline without its binary: its figures against a run of this build.
        println!(
            "baseline `{name}` kept no binary: comparing its figures with a new run (not paired)"
        );
        let summary = crate::runner::run(suite, &options, &mut Terminal::default())?;
        crate::history::record_finished(gate.db.as_deref(), &options.out, "bench");
        let code = crate::gate::compare_dirs(&saved, &options.out, &gate)?;
        return Ok(code.max(u8::from(summary.failed > 0)));
    }
    let summary = crate::runner::run(suite, &options, &mut Terminal::default())?;
    crate::history::record_finished(gate.db.as_deref(), &options.out, "bench");
    if let Some(name) = &args.save_baseline {
        let saved = save_baseline(&root, name, &options.out)?;
        println!("saved as baseline `{name}`: {}", saved.display());
    }
    Ok(u8::from(summary.failed > 0))
}

/// The suite as `--test` runs it: every cell in one process, one sample after no warm-up.
fn smoke(suite: &Suite) -> Suite {
    let mut suite = suite.clone();
    suite.sampling.warmup = 0;
    suite.sampling.samples = 1;
    suite.sampling.processes = 1;
    suite.sampling.max_processes = 1;
    suite.sampling.time_budget = suite.sampling.time_budget.min(Duration::from_millis(100));
    suite.sampling.budget = None;
    suite
}

/// Where a baseline keeps its copy of the binary that measured it.
const BINARY_DIR: &str = "bin";

/// This binary's file name.
fn exe_name() -> Result<std::ffi::OsString, Error> {
    let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
    Ok(exe
        .file_name()
        .map_or_else(|| "bench".into(), ToOwned::to_owned))
}

/// The directory of the saved baseline `name`, or the error that lists those saved.
fn baseline_dir(root: &Path, name: &str) -> Result<PathBuf, Error> {
    let dir = root.join("baselines");
    let path = dir.join(name);
    if path.join("results.json").is_file() {
        return Ok(path);
    }
    let mut saved: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("results.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    saved.sort();
    Err(Error::NoBaseline {
        name: name.to_owned(),
        dir,
        saved,
    })
}

/// Refuses a baseline's name that is not a plain file name (empty, a path, hidden).
fn plain_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(Error::Usage(format!(
            "--save-baseline `{name}`: a baseline's name is a plain file name"
        )));
    }
    Ok(())
}

/// Copies the run in `from` to `baselines/NAME/`, with this binary, replacing an older one of
/// that name only once the copy is whole.
fn save_baseline(root: &Path, name: &str, from: &Path) -> Result<PathBuf, Error> {
    plain_name(name)?;
    let dir = root.join("baselines");
    let to = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    let failed = |source: std::io::Error| Error::OutputDir {
        path: to.clone(),
        source,
    };
    let _ = std::fs::remove_dir_all(&partial);
    copy_dir(from, &partial).map_err(failed)?;
    let bin = partial.join(BINARY_DIR);
    std::fs::create_dir_all(&bin).map_err(failed)?;
    let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
    std::fs::copy(&exe, bin.join(exe_name()?)).map_err(failed)?;
    let _ = std::fs::remove_dir_all(&to);
    std::fs::rename(&partial, &to).map_err(failed)?;
    Ok(to)
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A bench target's `main`: `cargo bench` on your own work, under every strategy.
///
/// In `benches/strategies.rs` of a crate, with `[[bench]] name = "strategies"`, `harness =
/// false` in its manifest:
///
/// ```no_run
/// use parbench::FnWorkload;
///
/// fn checksum(block: &[u64; 8]) -> u64 {
///     block.iter().fold(0u64, |h, w| h.rotate_left(5) ^ w.wrapping_mul(0x9e37_79b9_7f4a_7c15))
/// }
///
/// fn blocks(size: usize, seed: u64) -> Vec<[u64; 8]> {
///     (0..size as u64).map(|i| [i ^ seed; 8]).collect()
/// }
///
/// parbench::main!(
///     workloads = [FnWorkload::plain("checksum", blocks, checksum)];
///     suite = |s| s.tasks([1, 64, 4096])
/// );
/// ```
///
/// Then `cargo bench` measures every cell (`cargo bench -- FILTER` some of them),
/// `cargo bench -- --save-baseline main` keeps the run as `main`, `cargo bench -- --baseline
/// main` measures this build beside it and gates on a regression, and `cargo test --benches`
/// runs every cell once, verified. Optional parts, in this order: `strategies = [...]` (specs
/// of your own strategies) and `suite = |s| ...` (a [`bench::BenchSuite`](crate::bench::BenchSuite)
/// to configure):
///
/// ```no_run
/// use parbench::{FnWorkload, StrategySpec};
///
/// /// A strategy of your own (here the built-in loop under another name).
/// const MY_LOOP: StrategySpec = StrategySpec {
///     name: "my-loop",
///     description: "our in-house loop",
///     ..parbench::strategies::sequential::SPEC
/// };
///
/// parbench::main!(
///     workloads = [FnWorkload::plain("double", |n, _| (0..n as u64).collect(), |x: &u64| x * 2)];
///     strategies = [MY_LOOP];
///     suite = |s| s.strategies(["sequential", "my-loop", "rayon"]).sizes([1_000_000])
/// );
/// ```
#[macro_export]
macro_rules! main {
    (@suite) => {
        |s: $crate::bench::BenchSuite| s
    };
    (@suite $suite:expr) => {
        $suite
    };
    (
        workloads = [$($workload:expr),* $(,)?]
        $(; strategies = [$($strategy:expr),* $(,)?])?
        $(; suite = $suite:expr)?
        $(;)?
    ) => {
        fn main() -> ::std::process::ExitCode {
            $crate::bench::main(
                $crate::bench::Target {
                    name: ::std::env!("CARGO_CRATE_NAME"),
                    target_tmpdir: ::std::option_env!("CARGO_TARGET_TMPDIR"),
                },
                ::std::vec![$(::std::convert::Into::<$crate::WorkloadSpec>::into($workload)),*],
                ::std::vec![$($(::std::convert::Into::<$crate::StrategySpec>::into($strategy)),*)?],
                $crate::main!(@suite $($suite)?),
            )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `cargo bench -- ARGS` stops with, on a bench of `square`, before measuring.
    fn refused(arguments: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let tmp: &'static str = Box::leak(
            dir.path()
                .join("tmp")
                .to_string_lossy()
                .into_owned()
                .into_boxed_str(),
        );
        let target = Target {
            name: "usage",
            target_tmpdir: Some(tmp),
        };
        let plugins = Plugins::default();
        let suite = BenchSuite::new("usage", ["square"])
            .build(&plugins)
            .unwrap();
        let args = Args::try_parse_from(std::iter::once("bench").chain(arguments.iter().copied()))
            .unwrap();
        let err = execute(&target, &suite, &args, &plugins).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{err}");
        // Nothing was measured: no results directory.
        assert!(!dir.path().join("parbench").exists());
        err.to_string()
    }

    #[test]
    fn usage_errors_are_refused_before_anything_is_measured() {
        let conflict = Args::try_parse_from(["bench", "--test", "--save-baseline", "main"]);
        assert_eq!(
            conflict.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        assert!(refused(&["--save-baseline", "main"])
            .contains("--save-baseline and --baseline measure: run them under `cargo bench`"));
        assert!(refused(&["--bench", "--quick", "--baseline", "main"])
            .contains("--baseline measures both builds round after round, paired; --quick's one"));
        for bad in ["../main", ".hidden", ""] {
            assert!(
                refused(&["--bench", "--save-baseline", bad]).contains(&format!(
                    "--save-baseline `{bad}`: a baseline's name is a plain file name"
                )),
                "{bad}"
            );
        }
    }
}
