//! The cell boundary: every piece of work that runs workload or strategy code — preparing a
//! bucket's reference, measuring a cell, profiling it — runs in a child process of the harness,
//! `parbench cell`, so that a crash, a hang or a runaway allocation fails that piece alone and
//! its memory is its own.
//!
//! - [`protocol`]: every type that crosses the pipe — the request, the replies, the sampling
//!   and profiling settings.
//! - [`parent`]: the harness's side — spawn the child, watch its process tree's memory and
//!   time, collect its replies or classify its death.
//! - [`child`]: the cell process's side — [`prepare`] the workload and its reference,
//!   [`measure`] the strategy, [`profile`] it.
//!
//! Imports point one way: `parent` and `child` use `protocol`; `child` uses `prepare`,
//! `measure` and `profile`, which use `prepare`. Nothing here knows the runner or the suite.

pub(crate) mod child;
mod measure;
pub(crate) mod parent;
pub(crate) mod prepare;
mod profile;
pub(crate) mod protocol;

/// The hidden command a cell process runs.
pub(crate) const CELL_COMMAND: &str = "cell";

/// How long the steady runs of one sample last together (a budget's plan counts on it).
pub(crate) const SAMPLE_TARGET: std::time::Duration =
    std::time::Duration::from_nanos(measure::SAMPLE_TARGET_NS);
