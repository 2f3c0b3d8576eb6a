//! Run events: what a run tells whoever follows it, in the spirit of criterion's `Report`.
//!
//! [`crate::run`] calls an [`Observer`] at each step and prints nothing itself. The terminal
//! (progress bar, a line per round, the tables) is one observer; [`Quiet`] ignores every event,
//! for tests and library callers; a caller's own can collect, forward or render the events.
//!
//! A run prepares every bucket, then visits the cells in rounds ([`Pass::Round`]): each round
//! starts one process per cell it visits; after the minimum rounds come the profiled runs
//! ([`Pass::Profiles`]), then rounds for the cells whose intervals are still too wide.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parbench_reports::{Cell, Results};

use crate::cell::protocol::Sampling;
use crate::options::ProfileScope;
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
    /// How it samples them (after `--quick`).
    pub sampling: Sampling,
    /// Which cells it profiles.
    pub profile: ProfileScope,
    /// The output directory.
    pub out: &'a Path,
}

/// A pass over the cells: a measuring round, or the profiled runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// A round, from 1: one cell process for each cell it visits, in a shuffled order.
    Round(usize),
    /// One profiled cell process for each cell that gets a flame graph.
    Profiles,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// The pass under way.
    pub pass: Pass,
    /// The minimum rounds, which visit every cell; the rounds after them visit the cells whose
    /// intervals are still too wide.
    pub rounds: usize,
    /// Cell processes of this pass finished.
    pub done: usize,
    /// Cell processes this pass starts.
    pub total: usize,
    /// The time the run needs still, as far as it can tell: the minimum rounds and the
    /// profiles; in a later round, that round (the suite's budget bounds the rest).
    pub remaining: Option<Duration>,
}

/// What a finished pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct PassSummary {
    /// The pass.
    pub pass: Pass,
    /// Cell processes it ran.
    pub processes: usize,
    /// Its wall time.
    pub elapsed: Duration,
    /// Cells measured so far.
    pub cells: usize,
    /// Of them, those whose median's 95% interval is within the target.
    pub converged: usize,
    /// The median of the cells' 95% interval half-widths, relative to their medians (`None`
    /// while no cell has a 95% interval: one process's few samples cover less).
    pub median_width: Option<f64>,
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
///     // A cell that fails is visited no more: this is its last event.
///     fn cell_finished(&mut self, cell: &Cell, _progress: &parbench::Progress) {
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

    /// A pass over the cells starts.
    fn pass_started(&mut self, progress: &Progress) {
        let _ = progress;
    }

    /// A cell process of the pass starts.
    fn cell_started(&mut self, id: &str, progress: &Progress) {
        let _ = (id, progress);
    }

    /// A cell process of the pass ended: `cell` is the cell's record with every process so
    /// far. A cell whose preparation failed is reported once, before the first round.
    fn cell_finished(&mut self, cell: &Cell, progress: &Progress) {
        let _ = (cell, progress);
    }

    /// A pass ended; `results.json` holds every cell process so far.
    fn pass_finished(&mut self, summary: &PassSummary) {
        let _ = summary;
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
    /// Measuring rounds finished.
    pub rounds: usize,
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
