//! The workloads and strategies a binary knows by name, and the hidden commands that let the
//! binary serve as its own cell and worker processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parbench_reports::Writer;

/// The workloads and strategies a binary knows by name, and the extra report writers its runs
/// write beside the built-in ones.
///
/// A worker or cell process finds its workload and strategy here by name, in the same binary
/// started again: register yours before anything else happens in `main`.
///
/// ```
/// use parbench::Plugins;
///
/// let mut plugins = Plugins::default();
/// assert!(plugins.workloads.get("square").is_ok());
/// // A name can be registered once: a second `square` is refused.
/// let square = *plugins.workloads.get("square")?;
/// assert!(plugins.workloads.register(square).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Plugins {
    /// Workloads by name.
    pub workloads: parbench_workloads::Registry,
    /// Strategies by name.
    pub strategies: parbench_strategies::Registry,
    /// Report writers run after the built-in ones (`results.json`, CSV, Markdown, HTML), at
    /// the end of `parbench run` and by `parbench report`.
    pub writers: Vec<SharedWriter>,
}

/// A report writer a run shares with its caller: a format of your own, written beside the
/// built-in ones at the end of `parbench run` and by `parbench report`.
///
/// ```
/// use std::sync::Arc;
///
/// use parbench_reports::{ReportError, Results, Writer};
///
/// /// One line per cell: its id and median, for a dashboard.
/// struct Medians;
///
/// impl Writer for Medians {
///     fn file_name(&self) -> &'static str {
///         "medians.txt"
///     }
///     fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
///         let lines: Vec<String> = results
///             .cells
///             .iter()
///             .filter_map(|c| Some(format!("{} {}", c.id, c.wall.as_ref()?.median_ns)))
///             .collect();
///         Ok(lines.join("\n").into_bytes())
///     }
/// }
///
/// let mut plugins = parbench::Plugins::default();
/// plugins.writers.push(Arc::new(Medians));
/// ```
pub type SharedWriter = Arc<dyn Writer + Send + Sync>;

/// The files `writers` write, for `Debug` output.
pub(crate) fn file_names(writers: &[SharedWriter]) -> Vec<&'static str> {
    writers.iter().map(|w| w.file_name()).collect()
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("workloads", &self.workloads.names())
            .field("strategies", &self.strategies.names())
            .field("writers", &file_names(&self.writers))
            .finish()
    }
}

impl Default for Plugins {
    /// The built-in workloads and strategies (those of the enabled features).
    fn default() -> Self {
        Self {
            workloads: parbench_workloads::Registry::builtin(),
            strategies: parbench_strategies::Registry::builtin(),
            writers: Vec::new(),
        }
    }
}

/// The commands parbench starts its own binary with: a cell process, a worker process of a
/// process strategy, a node of a timely cluster.
pub const HIDDEN_COMMANDS: [&str; 3] = ["cell", "worker", "timely-node"];

/// Set once this process has passed [`crate::serve_hidden_commands`] or [`crate::main_with`]:
/// the binary serves the hidden commands.
static SERVES: AtomicBool = AtomicBool::new(false);

/// Whether this binary serves the hidden commands.
pub(crate) fn serves_hidden_commands() -> bool {
    SERVES.load(Ordering::SeqCst)
}

/// Marks the binary as serving them.
pub(crate) fn mark_serving() {
    SERVES.store(true, Ordering::SeqCst);
}
