//! The `Workload` trait: what to compute, independent of how it is spread over workers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::{Input, Items, Rounds, TaskContext, TaskError, WorkloadError};

/// A task's small result beside its output bytes (e.g. partial sums); empty for most workloads.
pub type Partial = Vec<u8>;

/// A boxed future, as the object-safe async path returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A configured workload: generates its input and runs tasks over ranges of items.
///
/// Every method takes `&self` and the type is `Send + Sync`, so threads share one instance, and
/// a worker process rebuilds an identical one from the workload's name and parameters (see
/// [`crate::Registry`]). Input is plain bytes plus an item index ([`Input`]); a task reads its
/// items through [`Items`] and writes [`Workload::output_len`] bytes per item into its own
/// disjoint slice of the run's output buffer, and may return a small [`Partial`] result that
/// [`Workload::combine`] folds. The combined output must not depend on how the items were split
/// into tasks: that is what lets any strategy be checked against the sequential reference.
///
/// # Example
///
/// A workload that doubles 32-bit integers, registered beside the built-in ones:
///
/// ```
/// use std::sync::Arc;
/// use parbench_workloads::{
///     plan_tasks, EnvVars, Input, Items, Layout, Partial, Registry, SplitMix64, TaskContext,
///     TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec, Params,
/// };
///
/// struct Double;
///
/// impl Workload for Double {
///     fn name(&self) -> &str {
///         "double"
///     }
///     fn generate(&self, size: usize, seed: u64) -> Input {
///         let mut rng = SplitMix64::new(seed);
///         let bytes = (0..size).flat_map(|_| (rng.next_u64() as u32).to_le_bytes()).collect();
///         Input::new(bytes, Layout::Fixed { len: 4, count: size })
///     }
///     fn output_len(&self) -> usize {
///         4
///     }
///     fn run_task(
///         &self,
///         _task: &TaskContext,
///         items: Items<'_>,
///         out: &mut [u8],
///     ) -> Result<Partial, TaskError> {
///         for (item, out) in items.bytes().chunks_exact(4).zip(out.chunks_exact_mut(4)) {
///             let x = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
///             out.copy_from_slice(&x.wrapping_mul(2).to_le_bytes());
///         }
///         Ok(Partial::new())
///     }
/// }
///
/// fn build(_: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
///     Ok(Arc::new(Double))
/// }
///
/// let mut registry = Registry::builtin();
/// registry.register(WorkloadSpec {
///     name: "double",
///     description: "u32 -> u32 doubling",
///     kind: WorkKind::Memory,
///     default_size: 1_000,
///     params: &[],
///     environment: None,
///     build: &build,
/// })?;
///
/// // What a strategy does with it, here on one thread.
/// let spec = registry.get("double")?;
/// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
/// let input = workload.generate(10, 42);
/// let mut output = vec![0u8; 10 * workload.output_len()];
/// for task in plan_tasks(input.items(), 3)? {
///     let items = input.view().slice(task.items.clone());
///     let out = &mut output[task.items.start * 4..task.items.end * 4];
///     let context = parbench_workloads::TaskContext { task, attempt: 1, seed: 42 };
///     workload.run_task(&context, items, out).expect("doubling cannot fail");
/// }
/// let first = u32::from_le_bytes(input.bytes[..4].try_into().unwrap());
/// assert_eq!(&output[..4], &first.wrapping_mul(2).to_le_bytes());
/// # Ok::<(), WorkloadError>(())
/// ```
pub trait Workload: Send + Sync {
    /// The name it is registered under.
    fn name(&self) -> &str;

    /// Generates the input of `size` items, deterministically from `(size, seed)`.
    fn generate(&self, size: usize, seed: u64) -> Input;

    /// Bytes of output per item (0 when tasks only return partial results).
    fn output_len(&self) -> usize;

    /// Runs one task over `items`, writing `items.len() * output_len()` bytes into `out`.
    ///
    /// A panic is allowed (the strategy catches it at the task boundary and records it as the
    /// task's failure); a returned error fails the task alone.
    fn run_task(
        &self,
        task: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError>;

    /// Folds the partial results of the successful tasks, given in task order, into one.
    ///
    /// The result must be the same however the items were split into tasks (sums, counts,
    /// minima: not concatenation). The default returns nothing, for workloads whose answer is
    /// their output buffer alone.
    fn combine(&self, partials: &[&[u8]]) -> Partial {
        let _ = partials;
        Partial::new()
    }

    /// The native async path of an IO workload, for runtimes that drive it without blocking a
    /// thread per request. `None` for CPU work.
    fn as_async(&self) -> Option<&dyn AsyncWorkload> {
        None
    }

    /// The rounds of an iterative workload ([`Rounds`]), which strategies drive round by
    /// round instead of running [`Workload::run_task`] once per task. `None` for one-pass work.
    fn as_rounds(&self) -> Option<&dyn Rounds> {
        None
    }
}

/// An IO workload's native async path.
///
/// An async runtime strategy calls [`AsyncWorkload::session`] once, from inside its runtime, to
/// open whatever the runtime must own (a connection pool bound to its reactor), then drives
/// every task through the session.
///
/// # Example
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use parbench_workloads::{plan_tasks, EnvVars, Registry, TaskContext};
/// use tokio::sync::Semaphore;
///
/// let registry = Registry::builtin();
/// let spec = registry.get("http")?;
/// let server = spec.environment.expect("http runs its own server").start()?;
/// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &server.vars())?;
/// let input = workload.generate(8, 1);
/// let session = workload.as_async().expect("http is async-capable").session()?;
/// let in_flight = Semaphore::new(64);
/// let mut output = vec![0u8; 8 * workload.output_len()];
/// let task = plan_tasks(8, 1)?.remove(0);
/// let context = TaskContext { task, attempt: 1, seed: 1 };
/// session.run_task(&context, input.view(), &mut output, &in_flight).await?;
/// server.stop()?;
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
pub trait AsyncWorkload: Send + Sync {
    /// Opens a session bound to the calling async runtime.
    fn session(&self) -> Result<Arc<dyn AsyncSession>, WorkloadError>;
}

/// Per-runtime state of an async workload; runs tasks as futures.
///
/// See [`AsyncWorkload`] for an example.
pub trait AsyncSession: Send + Sync {
    /// Runs one task, with the same contract as [`Workload::run_task`]. Items of the task may be
    /// processed concurrently; each request holds one permit of `in_flight`, which bounds the
    /// requests in flight across the whole run.
    fn run_task<'a>(
        &'a self,
        task: &'a TaskContext,
        items: Items<'a>,
        out: &'a mut [u8],
        in_flight: &'a Semaphore,
    ) -> BoxFuture<'a, Result<Partial, TaskError>>;
}
