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
    /// The filter selected no cell.
    #[error("--filter `{0}` matches no cell of the suite")]
    NothingSelected(String),
    /// A side of `diff-flame` names no cell of its results.
    #[error("{}: no cell `{cell}`; the profiled cells are: {}", dir.display(), if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownCell {
        /// The output directory looked in.
        dir: PathBuf,
        /// The cell asked for.
        cell: String,
        /// The cells with a profile there.
        known: Vec<String>,
    },
    /// A cell of `diff-flame` has no profile.
    #[error("{cell} has no profile: {reason}")]
    NoProfile {
        /// The cell.
        cell: String,
        /// Why.
        reason: String,
    },
    /// A folded-stacks file cannot be read.
    #[error("{path}: {source}")]
    Folded {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code documented for this error: 2 for usage and input errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Report(_)
            | Error::OutputDir { .. }
            | Error::Worker(_)
            | Error::Cell(_)
            | Error::Signals(_) => 1,
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
