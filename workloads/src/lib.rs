//! Workloads for parbench: what to compute, independent of how it is spread over workers.
//!
//! A [`Workload`] generates its input deterministically from `(size, seed)` as plain bytes plus
//! an item index ([`Input`]), and runs tasks — ranges of items ([`Task`]) — each writing its
//! own disjoint part of one output buffer and/or returning a small [`Partial`] result. The
//! [`Answer`] of a run (a BLAKE3 digest of the combined output, and the failed tasks) is what
//! every strategy's run is checked against.
//!
//! Workloads are found by name in a [`Registry`]; [`Registry::builtin`] holds `square`,
//! `resize`, `json`, `http`, `risky`, `spin` and `kmeans` (see [`builtin`]). Iterative work
//! — a small state, every task's items mapped under it, the partials reduced into the next
//! round's state — implements [`Rounds`] besides. `http` and `resize` bring
//! heavy dependencies (an HTTP stack, an image library) and are Cargo features, on by default.
//!
//! ```
//! use parbench_workloads::{plan_tasks, Answer, EnvVars, Registry, TaskContext};
//!
//! let registry = Registry::builtin();
//! let spec = registry.get("square")?;
//! let square = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
//! let input = square.generate(1_000, 7);
//! let tasks = plan_tasks(input.items(), 4)?;
//! let mut output = vec![0u8; input.items() * square.output_len()];
//! let mut partials = Vec::new();
//! for task in &tasks {
//!     let out = &mut output[task.items.start * 8..task.items.end * 8];
//!     let context = TaskContext { task: task.clone(), attempt: 1, seed: 7 };
//!     partials.push(Some(square.run_task(&context, input.view().slice(task.items.clone()), out)?));
//! }
//! let answer = Answer::compute(square.as_ref(), &output, &tasks, &partials, Vec::new());
//! assert!(answer.failures.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod builtin;
mod error;
mod function;
mod input;
mod overlap;
mod params;
mod registry;
mod rng;
mod rounds;
pub mod slowdown;
mod task;
mod verify;
mod workload;

pub use error::{FailureKind, ParamError, TaskError, WorkloadError};
pub use function::{
    Asynchronous, Blocking, Codec, Connect, Drive, FnWorkload, MissingVariable, PerItem, Plain,
    Postcard, Services, FINGERPRINT_LEN,
};
pub use input::{Input, Items, Layout};
pub use overlap::async_overlap;
pub use params::{ParamKind, ParamSpec, Params, Value, AUTO};
pub use registry::{
    BuildWorkload, ByName, EnvVars, Environment, EnvironmentSpec, Named, Recipe, Registry, Scope,
    StartEnvironment, WorkKind, WorkloadSpec,
};
pub use rng::{mix64, unit_f64, SplitMix64};
pub use rounds::{run_rounds, Rounds};
pub use task::{plan_tasks, Task, TaskContext};
pub use verify::{Answer, Digest, Failure};
pub use workload::{AsyncSession, AsyncWorkload, BoxFuture, Partial, Workload};
