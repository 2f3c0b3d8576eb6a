//! The command line: its flags, parsed once, and what each command does.

use std::path::PathBuf;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use crate::gate::{BaseBuild, GateOptions};
use crate::options::{ProfileScope, RunOptions};
use crate::plugins::{mark_serving, Plugins, HIDDEN_COMMANDS};
use crate::suite::Suite;
use crate::terminal::Terminal;

/// Which parallel execution strategy for this work, on this machine, and why?
#[derive(Debug, Parser)]
#[command(name = "parbench", version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a suite (the embedded default suite when no file is given) and write the results.
    Run {
        /// A suite file in TOML, or the name of an embedded suite: `default`, or `decide` (the
        /// design space of `parbench decide`).
        suite: Option<PathBuf>,
        /// The output directory.
        #[arg(long, default_value = "target/parbench/latest")]
        out: PathBuf,
        /// Only the cells whose id contains PATTERN (e.g. `square`, `tasks=8`, `/w2`).
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
        /// One process per cell and fewer samples: a quick look rather than figures to defend.
        #[arg(long)]
        quick: bool,
        /// Which cells get a profiled run and a flame graph: `focus` (each strategy at the task
        /// and worker count the report's charts compare, per workload; every cell of a
        /// `--filter`ed run), `all` or `none`.
        #[arg(long, value_name = "WHICH", default_value = "focus")]
        profile: ProfileScope,
        /// No profiled run and no flame graph: `--profile none`.
        #[arg(long, conflicts_with = "profile")]
        no_profile: bool,
        /// The history database the run is recorded in (default: `PARBENCH_HISTORY`, else
        /// history.sqlite beside the output directory; `PARBENCH_HISTORY=off` records nothing).
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
    /// Render every report (results.csv, summary.md, report.html) again from the
    /// results.json of an output directory.
    Report {
        /// The output directory of a run.
        #[arg(default_value = "target/parbench/latest")]
        dir: PathBuf,
    },
    /// List every workload and strategy with its parameters.
    List,
    /// Export a run's figures for a dashboard: bencher's metric format (`bencher`, for
    /// `bencher run --adapter json`) or github-action-benchmark's `customSmallerIsBetter`
    /// (`github-action-benchmark`).
    Export {
        /// The output directory of a run.
        #[arg(default_value = "target/parbench/latest")]
        dir: PathBuf,
        /// `bencher` or `github-action-benchmark`.
        #[arg(long)]
        format: String,
        /// The file to write (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// The regression gate: compare two results directories (BASE NEW), or measure two builds
    /// side by side and compare them (--base-bin or --base-rev, with an optional SUITE). Every
    /// metric of every cell gets a verdict: regression, improvement, unchanged or
    /// inconclusive. Exit code 0: nothing regressed; 1: a regression (or a cell that fails in
    /// the new build only); 2: a usage or input error.
    Compare {
        /// BASE and NEW results directories; with --base-bin or --base-rev, the suite to run
        /// (none: the embedded default suite).
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Measure this binary (an older build) beside this one, paired.
        #[arg(long, value_name = "BINARY", conflicts_with = "base_rev")]
        base_bin: Option<PathBuf>,
        /// Build this git revision in a git worktree (kept under target/parbench-base, so the
        /// next build is incremental) and measure it beside this build, paired.
        #[arg(long, value_name = "REV")]
        base_rev: Option<String>,
        #[command(flatten)]
        gate: GateOptions,
        /// A paired run: only the cells whose id contains PATTERN.
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
    },
    /// Learn which strategy wins for which kind of work from the results of one run or more
    /// (a `decide` run, the default run, a `cargo bench` run): per machine, a decision tree
    /// with its leave-one-workload-out accuracy, the real work placed on it, the essay's rule
    /// of thumb checked; with several machines, where they disagree. Writes decision-tree.svg,
    /// decision-tree.dot, folklore-tree.svg and decision-tree.md. Exit code 2 when no machine
    /// has enough buckets to learn from.
    Decide {
        /// Results directories (or results.json files).
        #[arg(value_name = "DIR", default_value = "target/parbench/latest")]
        dirs: Vec<PathBuf>,
        /// Where to write the charts (default: the one DIR; with several, target/parbench/decide).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Levels of questions, at most.
        #[arg(long, default_value_t = 4)]
        max_depth: usize,
        /// Buckets each leaf holds, at least.
        #[arg(long, default_value_t = 2)]
        min_leaf: usize,
    },
    /// Write a differential flame graph: where the time went between two cells (two
    /// strategies, say) or the same cell in two runs (two versions). Each side is a cell id or
    /// its flame graph's file name in DIR, `OTHER_DIR:CELL` for a cell of another run, or a
    /// `.folded` file.
    #[command(name = "diff-flame")]
    DiffFlame {
        /// The before side.
        before: String,
        /// The after side: its flame graph's shape, coloured by how each frame's share changed
        /// (red grew, blue shrank).
        after: String,
        /// The output directory cells are looked up in.
        #[arg(long, default_value = "target/parbench/latest")]
        dir: PathBuf,
        /// The SVG to write (default: DIR/flamegraphs/diff-BEFORE--AFTER.svg).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Keep the process and thread frames at the root of each stack (by default they are
        /// dropped, so that two strategies' stacks meet in the code they share).
        #[arg(long)]
        keep_roots: bool,
    },
    /// Check the essay's claims on this machine: run the embedded `claims` suite (within 10
    /// minutes on 2 cores; `--quick` within 2) and write claims.md — each claim, what was
    /// measured, the ratio with its 95% interval beside the essay's, and a verdict: holds,
    /// does not hold or inconclusive — with the usual reports (a claims section at the top of
    /// report.html). Exit code 0 whatever the verdicts; 1 when a cell failed; 2 on a usage or
    /// input error.
    Claims {
        /// The output directory.
        #[arg(long, default_value = "target/parbench/claims")]
        out: PathBuf,
        /// One process per cell and fewer samples: verdicts from a quick look.
        #[arg(long)]
        quick: bool,
        /// Only the cells whose id contains PATTERN (the claims that read others cannot be
        /// checked).
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
    },
    /// Runs kept over commits: every `run`, paired `compare` and `cargo bench` records its
    /// figures in an SQLite file (`--db PATH`, else `PARBENCH_HISTORY`, else
    /// target/parbench/history.sqlite); `check` finds where they changed. Exit code 1 from
    /// `check`: a regression stands at the head; 2: a usage or input error (a database that
    /// is corrupt, not parbench's or newer, left untouched).
    History {
        /// What to do with the history.
        #[command(subcommand)]
        action: HistoryAction,
    },
    /// Serve as a worker process of a process strategy (started by parbench itself, speaking
    /// its protocol on stdin and stdout).
    #[command(name = "worker", hide = true)]
    Worker,
    #[cfg(feature = "timely")]
    /// Serve as a node of a timely cluster (`timely` with `mode=cluster`): start one on each
    /// machine of the hostfile but the first, where `parbench run` starts node 0.
    #[command(name = "timely-node")]
    TimelyNode {
        /// A file of `host:port` lines, one per node, node 0 (the machine running
        /// `parbench run`) first; the same file on every machine.
        #[arg(long)]
        hostfile: Option<PathBuf>,
        /// This node's line in the hostfile, from 1.
        #[arg(long, default_value_t = 0)]
        process: usize,
    },
    /// Measure one cell in this process (started by parbench itself; a request on stdin, the
    /// results on stdout).
    #[command(name = "cell", hide = true)]
    Cell,
}

/// What `history check` and `history confirm` look for.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Detection {
    /// The largest p-value a change point keeps.
    #[arg(long, default_value_t = 0.001)]
    max_p: f64,
    /// Points per window of the detector's first pass.
    #[arg(long, default_value_t = 50)]
    window: usize,
    /// A metric's threshold for every suite, the gate's defaults for the rest: `run=3%`,
    /// `memory=10%`... (without it, each suite's own `[gate]`). Repeatable.
    #[arg(long = "threshold", value_name = "METRIC=VALUE")]
    thresholds: Vec<String>,
    /// Count the runs of working trees with uncommitted changes too.
    #[arg(long)]
    include_dirty: bool,
    /// The history database.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

impl Detection {
    fn settings(&self) -> Result<parbench_reports::history::Check, Error> {
        if !(self.max_p > 0.0 && self.max_p < 1.0) {
            return Err(Error::Usage(format!(
                "--max-p {}: must lie between 0 and 1 (0.001 is Otava's)",
                self.max_p
            )));
        }
        if self.window < 2 {
            return Err(Error::Usage(format!(
                "--window {}: a window holds at least 2 points",
                self.window
            )));
        }
        let mut settings = parbench_reports::history::Check::default();
        settings.detector.max_p = self.max_p;
        settings.detector.window = self.window;
        settings.include_dirty = self.include_dirty;
        if !self.thresholds.is_empty() {
            settings.thresholds = Some(crate::gate::with_flags(
                parbench_reports::Thresholds::default(),
                &self.thresholds,
            )?);
        }
        Ok(settings)
    }
}

/// `parbench history`'s subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum HistoryAction {
    /// Load results directories (or results.json files) measured before.
    Import {
        /// Results directories or results.json files.
        #[arg(value_name = "DIR", required = true)]
        dirs: Vec<PathBuf>,
        /// The commit they measured (default: the one each run recorded).
        #[arg(long, value_name = "REV")]
        commit: Option<String>,
        /// When: seconds since the Unix epoch, or an RFC 3339 time (`2026-12-01T09:00:00Z`);
        /// orders runs of one commit, and stands for the commit's time.
        #[arg(long, value_name = "T")]
        time: Option<String>,
        /// The history database.
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
    /// List the change points of every cell and metric, newest first (E-divisive means with a
    /// t test, as Apache Otava), and write history.html and history.md; exit code 1 when a
    /// regression beyond the gate's threshold stands at the head of the history and no paired
    /// run refuted it.
    Check {
        #[command(flatten)]
        detection: Detection,
        /// List every change point, also those within the gate's thresholds.
        #[arg(long)]
        all: bool,
        /// Where history.html (the trend page) and history.md (for a pull request's comment)
        /// go.
        #[arg(long, default_value = "target/parbench/history")]
        out: PathBuf,
    },
    /// Re-measure the newest change points past the thresholds that no paired run has judged:
    /// build the commits on either side, run the changed cell with both builds side by side
    /// and record the change as confirmed or refuted.
    Confirm {
        #[command(flatten)]
        detection: Detection,
        /// The suite the history measured (the cells are taken from it).
        #[arg(long, value_name = "FILE")]
        suite: PathBuf,
        /// Change points to re-measure, at most.
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Where the builds and the paired runs go.
        #[arg(long, default_value = "target/parbench/confirm")]
        out: PathBuf,
    },
    /// Start a history: build each commit of REV..REV (oldest first; one target directory, so
    /// each build is incremental), run the suite with it and record the run.
    Backfill {
        /// The commits: `A..B` is those after A up to B, as git reads it.
        range: String,
        /// The suite to run at each commit.
        #[arg(long, value_name = "FILE")]
        suite: PathBuf,
        /// Only the suite's cells whose id contains PATTERN.
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
        /// Where each commit's results go (a directory per commit).
        #[arg(long, default_value = "target/parbench/backfill")]
        out: PathBuf,
        /// The history database.
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
    },
}

/// The whole command line with these plugins; see [`crate::main_with`].
pub(crate) fn main(plugins: Plugins) -> ExitCode {
    mark_serving();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match execute(cli.command, &plugins) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Serves the hidden commands when this process was started as one of them, and returns its
/// exit code; returns `None` otherwise, and from then on [`crate::run`] may start cells.
///
/// Call it first thing in `main` of any binary that calls [`crate::run`] ([`crate::main_with`]
/// does): parbench starts cells and workers by running the current binary again with one of
/// [`HIDDEN_COMMANDS`], and they must find the same plugins there.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     let plugins = parbench::Plugins::default();
///     if let Some(code) = parbench::serve_hidden_commands(&plugins) {
///         return code;
///     }
///     // ... build a suite and call parbench::run
///     std::process::ExitCode::SUCCESS
/// }
/// ```
pub fn serve_hidden_commands(plugins: &Plugins) -> Option<ExitCode> {
    let first = std::env::args().nth(1);
    if first
        .as_deref()
        .is_some_and(|c| HIDDEN_COMMANDS.contains(&c))
    {
        return Some(main(plugins.clone()));
    }
    mark_serving();
    None
}

/// Runs one command; returns the exit code of a command that ran.
pub(crate) fn execute(command: Command, plugins: &Plugins) -> Result<u8, Error> {
    match command {
        Command::List => {
            print!("{}", crate::list::render(plugins));
            Ok(0)
        }
        Command::Report { dir } => {
            let results =
                parbench_reports::read(&dir.join("results.json")).map_err(Error::Results)?;
            for file in parbench_reports::write_all(&dir, &results)? {
                println!("{}", file.display());
            }
            for writer in &plugins.writers {
                let file = parbench_reports::write_atomically(&dir, writer.as_ref(), &results)?;
                println!("{}", file.display());
            }
            let graphs = parbench_reports::flame::rerender(&dir, &results)?;
            if !graphs.is_empty() {
                println!(
                    "{} ({} flame graphs)",
                    dir.join(parbench_reports::flame::DIR).display(),
                    graphs.len()
                );
            }
            Ok(0)
        }
        Command::DiffFlame {
            before,
            after,
            dir,
            out,
            keep_roots,
        } => {
            let path =
                parbench_reports::flame::diff(&before, &after, &dir, out.as_deref(), keep_roots)?;
            println!("{}", path.display());
            Ok(0)
        }
        Command::Decide {
            dirs,
            out,
            max_depth,
            min_leaf,
        } => {
            let options = parbench_reports::decide::Options {
                max_depth,
                min_leaf,
            };
            crate::decide::decide(&dirs, out.as_deref(), &options)
        }
        Command::Cell => {
            crate::cell::child::serve(plugins).map_err(Error::Cell)?;
            Ok(0)
        }
        Command::Export { dir, format, out } => {
            let format = parbench_reports::export::Format::parse(&format).map_err(Error::Usage)?;
            let results = crate::gate::read(&dir)?;
            let mut json =
                serde_json::to_vec_pretty(&parbench_reports::export::export(&results, format))
                    .unwrap_or_default();
            json.push(b'\n');
            match out {
                Some(path) => {
                    parbench_reports::write_file_atomically(&path, &json)?;
                    println!("{}", path.display());
                }
                None => {
                    use std::io::Write as _;
                    let _ = std::io::stdout().lock().write_all(&json);
                }
            }
            Ok(0)
        }
        Command::Compare {
            paths,
            base_bin,
            base_rev,
            gate,
            filter,
        } => {
            let base = match (base_bin, base_rev) {
                (Some(binary), _) => Some(BaseBuild::Binary(binary)),
                (None, Some(rev)) => Some(BaseBuild::Revision(rev)),
                (None, None) => None,
            };
            match (base, paths.as_slice()) {
                (None, [base, new]) => crate::gate::compare_dirs(base, new, &gate),
                (None, _) => Err(Error::Usage(format!(
                    "compare takes two results directories, BASE and NEW (got {}); or \
                     --base-bin BINARY / --base-rev REV and at most a suite",
                    paths.len()
                ))),
                (Some(base), [] | [_]) => {
                    let suite = match paths.first() {
                        Some(path) => Suite::find(path, plugins)?,
                        None => Suite::embedded(plugins)?,
                    };
                    let mut run = RunOptions::new(&gate.out);
                    run.filter = filter;
                    crate::gate::compare_paired(&suite, &base, &run, &gate)
                }
                (Some(_), _) => Err(Error::Usage(format!(
                    "with --base-bin or --base-rev, compare runs one suite (got {} paths)",
                    paths.len()
                ))),
            }
        }
        Command::History { action } => history(action, plugins),
        Command::Worker => {
            parbench_strategies::process::serve(&plugins.workloads)?;
            Ok(0)
        }
        #[cfg(feature = "timely")]
        Command::TimelyNode { hostfile, process } => {
            let args = parbench_strategies::dataflow::NodeArgs { hostfile, process };
            parbench_strategies::dataflow::serve_node(&plugins.workloads, &args)?;
            Ok(0)
        }
        Command::Claims { out, quick, filter } => {
            let suite = Suite::named("claims", plugins)?;
            let options = RunOptions {
                out,
                filter,
                quick,
                // The verdicts read timings alone: no profiled run.
                profile: ProfileScope::None,
                writers: plugins.writers.clone(),
            };
            let summary = crate::runner::run(&suite, &options, &mut Terminal::default())?;
            println!("{}", options.out.join("claims.md").display());
            Ok(if summary.failed > 0 { 1 } else { 0 })
        }
        Command::Run {
            suite,
            out,
            filter,
            quick,
            profile,
            no_profile,
            db,
        } => {
            let suite = match suite {
                Some(path) => Suite::find(&path, plugins)?,
                None => Suite::embedded(plugins)?,
            };
            let options = RunOptions {
                out,
                filter,
                quick,
                profile: if no_profile {
                    ProfileScope::None
                } else {
                    profile
                },
                writers: plugins.writers.clone(),
            };
            let summary = crate::runner::run(&suite, &options, &mut Terminal::default())?;
            let db = crate::history::database(db.as_deref(), &options.out);
            crate::history::record_finished(db.as_deref(), &options.out, "run");
            Ok(if summary.failed > 0 { 1 } else { 0 })
        }
    }
}

/// `parbench history ...`.
fn history(action: HistoryAction, plugins: &Plugins) -> Result<u8, Error> {
    match action {
        HistoryAction::Import {
            dirs,
            commit,
            time,
            db,
        } => {
            let time = time.map(|t| parse_time(&t)).transpose()?;
            crate::history::import(db.as_deref(), &dirs, commit.as_deref(), time)
        }
        HistoryAction::Check {
            detection,
            all,
            out,
        } => crate::history::check(detection.db.as_deref(), &detection.settings()?, all, &out),
        HistoryAction::Confirm {
            detection,
            suite,
            limit,
            out,
        } => crate::history::confirm(
            detection.db.as_deref(),
            &detection.settings()?,
            &suite,
            &out,
            limit,
            plugins,
        ),
        HistoryAction::Backfill {
            range,
            suite,
            filter,
            out,
            db,
        } => crate::history::backfill(db.as_deref(), &range, &suite, filter.as_deref(), &out),
    }
}

/// Seconds since the Unix epoch from `--time`: a number of them, or an RFC 3339 time.
fn parse_time(text: &str) -> Result<i64, Error> {
    text.parse::<i64>()
        .ok()
        .or_else(|| crate::history::unix_seconds(text))
        .ok_or_else(|| {
            Error::Usage(format!(
                "--time {text}: not seconds since the Unix epoch nor an RFC 3339 time \
                 (2026-12-01T09:00:00Z)"
            ))
        })
}
