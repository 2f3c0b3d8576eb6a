//! Strategies for parbench: how a workload's tasks are spread over workers.
//!
//! A [`Strategy`] is set up for a [`Job`] (a workload, its input, a worker count and a
//! [`FailurePolicy`]), runs task lists — the timed part — and is torn down; each run returns a
//! [`RunReport`] with every task's [`TaskOutcome`] and [`Span`]. Strategies are found by name
//! in a [`Registry`]. The `sequential` strategy is also the reference every other strategy's
//! answer is checked against ([`Reference`]).
//!
//! `tokio`, `actors` (ractor) and `timely` bring heavy dependencies and are Cargo features, on
//! by default; the others are always built.
#![deny(missing_docs)]

#[cfg(feature = "actors")]
pub mod actors;
#[cfg(feature = "timely")]
pub mod dataflow;
mod error;
pub mod exec;
mod policy;
pub mod pool;
pub mod process;
pub mod profile;
pub mod rayon_pool;
mod reference;
pub mod rounds;
pub mod sequential;
pub mod span;
mod strategy;
pub mod threads;
#[cfg(feature = "tokio")]
pub mod tokio_rt;
pub mod worker;

pub use error::StrategyError;
pub use policy::FailurePolicy;
pub use reference::Reference;
pub use span::{now_ns, Span};
pub use strategy::{
    run, Job, Registry, Round, RunReport, Strategy, StrategySpec, TaskOutcome, Teardown,
    WorkerMemory,
};
