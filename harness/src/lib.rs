//! parbench: which parallel execution strategy for this work, on this machine, and why?
//!
//! The harness crate: the command line, suites, the runner and its measurements. The `parbench`
//! binary is a thin `main` around [`main_with`]; a user's own binary hands its own workloads,
//! strategies and report writers to the same entry point:
//!
//! ```no_run
//! use parbench::Plugins;
//!
//! fn main() -> std::process::ExitCode {
//!     let plugins = Plugins::default();
//!     // plugins.workloads.register(my_crate::MY_WORKLOAD)?;
//!     // plugins.strategies.register(my_crate::MY_STRATEGY)?;
//!     parbench::main_with(plugins)
//! }
//! ```
//!
//! Or drives a run as a library: a [`Suite`] from TOML or from [`Suite::builder`], [`run`] with
//! an [`Observer`] of its own (or [`Quiet`]), in a binary that calls
//! [`serve_hidden_commands`] first (cells and workers are that binary started again):
//!
//! ```no_run
//! use parbench::{Plugins, Quiet, RunOptions, Suite, WorkloadEntry};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let plugins = Plugins::default();
//!     if let Some(code) = parbench::serve_hidden_commands(&plugins) {
//!         std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 });
//!     }
//!     let suite = Suite::builder("square")
//!         .workload(WorkloadEntry::new("square").sizes([1_000_000]).tasks([1, 8, 64]))
//!         .strategies(["sequential", "threads", "rayon"])
//!         .workers([1, 2])
//!         .build(&plugins)?;
//!     let summary = parbench::run(&suite, &RunOptions::new("target/parbench/square"), &mut Quiet)?;
//!     println!("{} cells, {} failed", summary.cells, summary.failed);
//!     Ok(())
//! }
//! ```
//!
//! Or benches a crate's own work under every strategy with `cargo bench`: a
//! [`FnWorkload`] made from plain functions, handed to [`main!`] in a bench target (see
//! [`mod@bench`]); or as criterion benchmarks, one per strategy, with `parbench::criterion` (feature
//! `criterion`).
//!
//! Cargo features choose the built-in workloads and strategies that are compiled in (all by
//! default): `http`, `resize`, `tokio`, `actors`, `timely`. A crate that only brings its own
//! workload depends on `parbench` with `default-features = false`. `criterion` (off by
//! default) adds `parbench::criterion`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bench;
mod calibration;
mod canary;
mod cell;
mod cli;
#[cfg(feature = "criterion")]
pub mod criterion;
mod decide;
mod error;
mod gate;
mod history;
mod interrupt;
mod limits;
mod list;
mod machine;
mod observer;
mod options;
pub mod overhead;
mod plugins;
mod probe;
mod runner;
mod schedule;
mod stats;
mod suite;
mod terminal;

use std::process::ExitCode;

pub use cell::protocol::{Profiling, Sampling};
pub use cli::serve_hidden_commands;
pub use error::{Error, SuiteError};
pub use observer::{Observer, Pass, PassSummary, Plan, Progress, Quiet, RunSummary};
pub use options::{ProfileScope, RunOptions};
pub use plugins::{Plugins, SharedWriter, HIDDEN_COMMANDS};
pub use runner::{run, run_paired, Baseline};
pub use suite::{Configured, Group, Suite, SuiteBuilder, WorkloadEntry, DEFAULT_SOURCE, EMBEDDED};

/// The strategies crate, for a crate that depends on `parbench` alone: the
/// [`Strategy`](parbench_strategies::Strategy) trait and the built-in strategies.
pub use parbench_strategies as strategies;
pub use parbench_strategies::StrategySpec;
/// The workloads crate, for a crate that depends on `parbench` alone: the [`Workload`]
/// trait, its inputs and the built-in workloads.
///
/// [`Workload`]: parbench_workloads::Workload
pub use parbench_workloads as workloads;
pub use parbench_workloads::{FnWorkload, Services, WorkKind, WorkloadSpec};

/// Runs the command line with these plugins and returns the process's exit code: 0 all well, 1
/// a cell failed, 2 a usage or input error, 130 on Ctrl-C. It also serves the hidden commands
/// parbench starts its cell and worker processes with.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     parbench::main_with(parbench::Plugins::default())
/// }
/// ```
pub fn main_with(plugins: Plugins) -> ExitCode {
    cli::main(plugins)
}
