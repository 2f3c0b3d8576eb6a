//! Whether a runtime can overlap a workload's waits: its items run as concurrent futures
//! against one at a time. A feature of the work that its waiting share cannot tell: a blocking
//! client waits as long as an async one, but only an async one lets a runtime wait for many
//! requests on one thread.

use std::time::Instant;

use tokio::sync::Semaphore;

use crate::{AsyncSession, Items, TaskContext, Workload};

/// The requests in flight at once when the items run together: the `tokio` strategy's default.
const IN_FLIGHT: usize = 256;

/// How many times faster one task's `items` run through the workload's async path with up to
/// 256 of them in flight (the `tokio` strategy's default) than with one, on a current-thread
/// runtime: about the number of items for work that only waits, 1 for work that computes or
/// blocks inside its futures. `None` for a workload without an async path, or when a run of
/// the task fails.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use parbench_workloads::{async_overlap, plan_tasks, EnvVars, FnWorkload, Services, TaskContext, WorkloadSpec};
///
/// // 16 items that each wait 2 ms: together they take about as long as one.
/// let spec: WorkloadSpec = FnWorkload::asynchronous(
///     "naps",
///     |size, _| vec![1u64; size],
///     |_: Services| async { Ok::<_, String>(()) },
///     |x: u64, _: Arc<()>| async move {
///         tokio::time::sleep(Duration::from_millis(2)).await;
///         Ok::<_, String>(x)
///     },
/// )
/// .into();
/// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
/// let input = workload.generate(16, 0);
/// let task = plan_tasks(16, 1)?.remove(0);
/// let context = TaskContext { task, attempt: 1, seed: 0 };
/// let overlap = async_overlap(workload.as_ref(), input.view(), &context).expect("an async path");
/// assert!(overlap > 4.0, "{overlap}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn async_overlap(
    workload: &dyn Workload,
    items: Items<'_>,
    context: &TaskContext,
) -> Option<f64> {
    let mut out = vec![0u8; items.len() * workload.output_len()];
    let workload = workload.as_async()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        // Opened inside the runtime, so its connections belong to this runtime's reactor.
        let session = workload.session().ok()?;
        let alone = timed(session.as_ref(), context, items, &mut out, 1).await?;
        let together = timed(session.as_ref(), context, items, &mut out, IN_FLIGHT).await?;
        Some(alone / together)
    })
}

/// Nanoseconds of one run of the task with up to `in_flight` requests at once.
async fn timed(
    session: &dyn AsyncSession,
    context: &TaskContext,
    items: Items<'_>,
    out: &mut [u8],
    in_flight: usize,
) -> Option<f64> {
    let in_flight = Semaphore::new(in_flight);
    let started = Instant::now();
    session
        .run_task(context, items, out, &in_flight)
        .await
        .ok()?;
    Some(started.elapsed().as_nanos().max(1) as f64)
}
