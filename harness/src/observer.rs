//! Run events: what a run tells whoever follows it, in the spirit of criterion's `Report`.
//!
//! [`crate::run`] calls an [`Observer`] at each step and prints nothing itself. The terminal
//! (progress bar, one line per cell, the tables) is one observer; [`Quiet`] ignores every event,
//! for tests and library callers; a caller's own can collect, forward or render the events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parbench_reports::{Cell, Results};

use crate::suite::Suite;

/// What a run is about to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// The suite.
    pub suite: &'a Suite,
    /// The results as written before the first cell: the suite, the machine and its limits.
    pub results: &'a Results,
    /// Cells the run will measure (after `--filter`).
    pub cells: usize,
    /// The output directory.
    pub out: &'a Path,
}

/// Follows a run. Every method does nothing unless implemented.
///
/// ```no_run
/// use parbench::{Observer, RunOptions, Suite};
/// use parbench_reports::Cell;
///
/// /// Counts the cells that did not end well.
/// #[derive(Default)]
/// struct Failures(usize);
///
/// impl Observer for Failures {
///     fn cell_finished(&mut self, cell: &Cell, _done: usize, _total: usize) {
///         if cell.status != parbench_reports::Status::Ok {
///             self.0 += 1;
///         }
///     }
/// }
///
/// fn main() -> std::process::ExitCode {
///     let plugins = parbench::Plugins::default();
///     if let Some(code) = parbench::serve_hidden_commands(&plugins) {
///         return code;
///     }
///     let suite = Suite::builder("mine")
///         .workload(parbench::WorkloadEntry::new("square").sizes([100_000]).tasks([1, 8]))
///         .strategies(["sequential", "rayon"])
///         .build(&plugins)
///         .expect("a valid suite");
///     let mut failures = Failures::default();
///     let options = RunOptions::new("target/parbench/mine");
///     parbench::run(&suite, &options, &mut failures).expect("the run");
///     std::process::ExitCode::from(u8::from(failures.0 > 0))
/// }
/// ```
pub trait Observer {
    /// The run starts: the machine is probed, `results.json` holds no cell yet.
    fn run_started(&mut self, plan: &Plan<'_>) {
        let _ = plan;
    }

    /// A bucket's input and sequential reference are being prepared (`work/size=N/tasks=N`).
    fn preparing(&mut self, bucket: &str) {
        let _ = bucket;
    }

    /// A cell starts.
    fn cell_started(&mut self, id: &str) {
        let _ = id;
    }

    /// A cell finished (`done` of `total`), well or not; its record is saved.
    fn cell_finished(&mut self, cell: &Cell, done: usize, total: usize) {
        let _ = (cell, done, total);
    }

    /// Something the user should know that does not stop the run.
    fn warning(&mut self, message: &str) {
        let _ = message;
    }

    /// The run is over and every report is written.
    fn run_finished(&mut self, results: &Results, summary: &RunSummary) {
        let _ = (results, summary);
    }
}

/// An observer that ignores every event: a silent run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {}

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
    /// Every file written at the end: results, CSV, Markdown, HTML, and the extra writers'.
    pub files: Vec<PathBuf>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Cells with a flame graph.
    pub flame_graphs: usize,
    /// Wall time the profiled runs took (part of `elapsed`).
    pub profiling: Duration,
}
