use std::fmt;
use std::path::PathBuf;

use parbench_reports::ReportError;
use parbench_strategies::StrategyError;
use parbench_workloads::WorkloadError;

/// Why a parbench command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A suite file that cannot be read, parsed or validated.
    #[error(transparent)]
    Suite(#[from] SuiteError),
    /// A workload that cannot be found or built.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// A strategy that cannot be found or built.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// Results that cannot be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A results file that cannot be read.
    #[error(transparent)]
    Results(ReportError),
    /// The output directory cannot be created.
    #[error("cannot create the output directory {path}: {source}")]
    OutputDir {
        /// The directory.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// Serving as a worker process failed.
    #[error("worker: {0}")]
    Worker(#[from] parbench_strategies::process::ServeError),
    /// Serving as a cell process failed.
    #[error("cell: {0}")]
    Cell(std::io::Error),
    /// The signal handling thread could not be started.
    #[error("cannot handle Ctrl-C: {0}")]
    Signals(std::io::Error),
    /// The calibrations kept for the machine cannot be read or written.
    #[error("{path}: {message} (delete it to calibrate afresh)")]
    Calibrations {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The filter selected no cell.
    #[error("--filter `{0}` matches no cell of the suite")]
    NothingSelected(String),
    /// `parbench diff-flame` cannot draw its graph.
    #[error(transparent)]
    DiffFlame(#[from] parbench_reports::flame::DiffError),
    /// [`crate::run`] was called in a binary that does not serve the hidden commands its cells
    /// and workers are started with.
    #[error(
        "this binary cannot run cells: parbench starts each cell by running the current binary \
         again with a hidden command (`cell`, `worker`, `timely-node`), and this one does not \
         serve them. Call `parbench::serve_hidden_commands(&plugins)` first thing in `main` \
         (or hand `main` to `parbench::main_with`)"
    )]
    NotServing,
    /// The current binary's path cannot be found, so no cell can be started from it.
    #[error("cannot find this binary to start cells from: {0}")]
    CurrentExe(std::io::Error),
    /// A command line that asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// The base build of a paired run cannot be measured beside this one.
    #[error("the base build: {0}")]
    BaseBuild(String),
    /// A bench's `--baseline NAME` names no saved baseline.
    #[error(
        "no baseline `{name}` in {}: {}",
        dir.display(),
        if saved.is_empty() {
            "none is saved yet (save one with --save-baseline NAME)".to_owned()
        } else {
            format!("saved: {}", saved.join(", "))
        }
    )]
    NoBaseline {
        /// The name asked for.
        name: String,
        /// Where baselines are saved.
        dir: PathBuf,
        /// The baselines saved there.
        saved: Vec<String>,
    },
    /// `parbench decide` found too few buckets to learn a tree from.
    #[error("{dirs}: {source}")]
    Decide {
        /// The directories given.
        dirs: String,
        /// Why no tree was learned.
        source: parbench_reports::decide::DecideError,
    },
    /// Two results cannot be compared.
    #[error(transparent)]
    Compare(#[from] parbench_reports::compare::CompareError),
    /// The history database cannot be read or written.
    #[error("history: {0}")]
    History(#[from] parbench_reports::history::store::HistoryError),
}

impl Error {
    /// The exit code documented for this error: 2 for usage and input errors (an output
    /// directory that cannot be made among them: the `--out` given cannot be used, and 1 from
    /// `compare` would read as a regression), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::DiffFlame(e) if !e.is_input() => 1,
            Error::Report(_)
            | Error::Worker(_)
            | Error::Cell(_)
            | Error::Signals(_)
            | Error::CurrentExe(_) => 1,
            _ => 2,
        }
    }
}

/// A problem in a suite file, located by file, line, column and key:
/// `file:line:column: key: message`.
#[derive(Debug, thiserror::Error)]
pub struct SuiteError {
    /// The suite file (`embedded:default` for the built-in suite).
    pub file: String,
    /// 1-based line; `None` when the file could not be read at all.
    pub line: Option<usize>,
    /// 1-based column of the value or key at fault.
    pub column: Option<usize>,
    /// The key at fault, as a dotted path (`workload[2].params.latency_ms`).
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SuiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}
