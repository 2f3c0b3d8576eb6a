//! parbench: which parallel execution strategy for this work, on this machine, and why?
//!
//! The harness crate: the command line, suite files, the runner and its measurements. The
//! binary is a thin `main` around [`main_with`]; a user's own binary hands its own workloads
//! and strategies to the same entry point:
//!
//! ```no_run
//! use parbench::Plugins;
//!
//! fn main() -> std::process::ExitCode {
//!     let plugins = Plugins::default();
//!     // plugins.workloads.register(my_crate::MY_WORKLOAD)?;
//!     parbench::main_with(plugins)
//! }
//! ```
#![deny(missing_docs)]

mod cell;
mod cli;
mod error;
pub mod interrupt;
pub mod limits;
pub mod list;
mod machine;
pub mod overhead;
pub mod probe;
pub mod profile;
pub mod runner;
mod sampler;
pub mod stats;
pub mod suite;
pub mod terminal;

use std::process::ExitCode;

use clap::Parser;

pub use cli::{Cli, Command};
pub use error::{Error, SuiteError};
pub use runner::{RunOptions, RunSummary};
pub use suite::Suite;

/// The workloads and strategies a binary knows by name.
#[derive(Debug, Clone)]
pub struct Plugins {
    /// Workloads by name.
    pub workloads: parbench_workloads::Registry,
    /// Strategies by name.
    pub strategies: parbench_strategies::Registry,
}

impl Default for Plugins {
    /// The built-in workloads and strategies.
    fn default() -> Self {
        Self {
            workloads: parbench_workloads::Registry::builtin(),
            strategies: parbench_strategies::Registry::builtin(),
        }
    }
}

/// Runs the command line with these plugins and returns the process's exit code:
/// 0 all well, 1 a cell failed, 2 a usage or input error.
pub fn main_with(plugins: Plugins) -> ExitCode {
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

/// Runs one command; returns the exit code of a command that ran.
pub fn execute(command: Command, plugins: &Plugins) -> Result<u8, Error> {
    match command {
        Command::List => {
            print!("{}", list::render(plugins));
            Ok(0)
        }
        Command::Report { dir } => {
            let results =
                parbench_reports::read(&dir.join("results.json")).map_err(Error::Results)?;
            for file in parbench_reports::write_all(&dir, &results)? {
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
            let path = profile::diff_flame(&before, &after, &dir, out.as_deref(), keep_roots)?;
            println!("{}", path.display());
            Ok(0)
        }
        Command::Cell => {
            cell::serve(plugins).map_err(Error::Cell)?;
            Ok(0)
        }
        Command::Worker => {
            parbench_strategies::process::serve(&plugins.workloads)?;
            Ok(0)
        }
        Command::TimelyNode { hostfile, process } => {
            let args = parbench_strategies::dataflow::NodeArgs { hostfile, process };
            parbench_strategies::dataflow::serve_node(&plugins.workloads, &args)?;
            Ok(0)
        }
        Command::Run {
            suite,
            out,
            filter,
            quick,
            no_profile,
        } => {
            // A worker process never gets here: only a run handles signals itself.
            interrupt::install().map_err(Error::Signals)?;
            let suite = match suite {
                Some(path) => Suite::load(&path, plugins)?,
                None => Suite::embedded(plugins)?,
            };
            let options = RunOptions {
                out,
                filter,
                quick,
                profile: !no_profile,
            };
            let summary = runner::run(&suite, &options)?;
            println!(
                "\n{} cells, {} failed, {} within ±{}% · in {:.1} s",
                summary.cells,
                summary.failed,
                summary.converged,
                100.0 * summary.ci_target,
                summary.elapsed.as_secs_f64(),
            );
            for file in &summary.files {
                println!("  {}", file.display());
            }
            if summary.flame_graphs > 0 {
                println!(
                    "  {} ({} flame graphs; profiling took {:.1} s of the run)",
                    options.out.join(parbench_reports::flame::DIR).display(),
                    summary.flame_graphs,
                    summary.profiling.as_secs_f64()
                );
            }
            Ok(if summary.failed > 0 { 1 } else { 0 })
        }
    }
}
