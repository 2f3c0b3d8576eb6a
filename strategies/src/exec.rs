//! Running one task: attempts under the failure policy, panics caught at the task boundary.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

#[cfg(feature = "tokio")]
use futures_util::FutureExt;
#[cfg(feature = "tokio")]
use parbench_workloads::AsyncSession;
use parbench_workloads::{Items, Partial, Rounds, Task, TaskContext, TaskError, Workload};
#[cfg(feature = "tokio")]
use tokio::sync::Semaphore;

use crate::{FailurePolicy, Job, TaskOutcome};

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the panic hook from printing panics that a task boundary catches: they are recorded as
/// the task's failure, and a `risky` run would otherwise flood the terminal. Panics elsewhere
/// still reach the previous hook.
fn silence_task_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_TASK.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// Calls `f`, turning a panic into a [`TaskError`] of kind panic.
pub fn catch_task<R>(f: impl FnOnce() -> Result<R, TaskError>) -> Result<R, TaskError> {
    silence_task_panics();
    IN_TASK.with(|t| t.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_TASK.with(|t| t.set(false));
    result.unwrap_or_else(|payload| Err(TaskError::panic(panic_message(payload.as_ref()))))
}

/// What one task computes.
#[derive(Clone, Copy)]
pub enum Work<'a> {
    /// A one-pass task: [`Workload::run_task`] into its part of the output buffer.
    Pass(&'a dyn Workload),
    /// Its part of a round: [`Rounds::map`] under the round's state, into its partial.
    Round(&'a dyn Rounds, &'a [u8]),
}

impl<'a> Work<'a> {
    /// The work of `workload`'s tasks: its round under `state` when a state is given and the
    /// workload runs in rounds, a pass otherwise.
    ///
    /// ```
    /// use parbench_strategies::exec::Work;
    /// use parbench_workloads::builtin::kmeans::KMeans;
    /// use parbench_workloads::builtin::square::Square;
    ///
    /// let kmeans = KMeans::new(2, 3, 4);
    /// assert!(matches!(Work::of(&kmeans, Some(&[0; 48])), Work::Round(..)));
    /// assert!(matches!(Work::of(&kmeans, None), Work::Pass(..)));
    /// assert!(matches!(Work::of(&Square, Some(&[0; 48])), Work::Pass(..)));
    /// ```
    pub fn of(workload: &'a dyn Workload, state: Option<&'a [u8]>) -> Self {
        match (state, workload.as_rounds()) {
            (Some(state), Some(rounds)) => Work::Round(rounds, state),
            _ => Work::Pass(workload),
        }
    }

    fn call(
        self,
        context: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        match self {
            Work::Pass(workload) => workload.run_task(context, items, out),
            Work::Round(rounds, state) => rounds.map(context, state, items),
        }
    }
}

/// Runs `task` of `job` into `out` (the task's part of the output buffer), attempting it as
/// often as the job's policy allows; under the round's `state` for a workload of rounds.
pub fn execute(job: &Job, state: Option<&[u8]>, task: &Task, out: &mut [u8]) -> TaskOutcome {
    let items = job.input.view().slice(task.items.clone());
    execute_items(
        Work::of(job.workload.as_ref(), state),
        job.seed,
        job.policy,
        task,
        items,
        out,
    )
}

/// [`execute`] over items already in hand: a worker process holds one task's bytes, or a
/// mapping of the input, rather than a [`Job`].
pub fn execute_items(
    work: Work<'_>,
    seed: u64,
    policy: FailurePolicy,
    task: &Task,
    items: Items<'_>,
    out: &mut [u8],
) -> TaskOutcome {
    let attempts = policy.attempts();
    let mut context = TaskContext {
        task: task.clone(),
        attempt: 1,
        seed,
    };
    loop {
        let result = catch_task(|| work.call(&context, items, &mut *out));
        if let Some(outcome) = settle(&mut context, attempts, result) {
            return outcome;
        }
    }
}

/// The outcome of a task after an attempt, or `None` when the policy allows another attempt
/// (then `context.attempt` is advanced).
fn settle(
    context: &mut TaskContext,
    attempts: u32,
    result: Result<Partial, TaskError>,
) -> Option<TaskOutcome> {
    match result {
        Ok(partial) => Some(TaskOutcome::Done {
            attempts: context.attempt,
            partial,
        }),
        Err(error) if context.attempt >= attempts => Some(TaskOutcome::Failed {
            attempts: context.attempt,
            error,
        }),
        Err(_) => {
            context.attempt += 1;
            None
        }
    }
}

/// The async twin of [`execute`]: runs `task` through an async session, each request holding
/// a permit of `in_flight`.
#[cfg(feature = "tokio")]
pub async fn execute_async(
    job: &Job,
    session: &dyn AsyncSession,
    task: &Task,
    out: &mut [u8],
    in_flight: &Semaphore,
) -> TaskOutcome {
    let items = job.input.view().slice(task.items.clone());
    let attempts = job.policy.attempts();
    let mut context = TaskContext {
        task: task.clone(),
        attempt: 1,
        seed: job.seed,
    };
    loop {
        let attempt = session.run_task(&context, items, &mut *out, in_flight);
        let result = AssertUnwindSafe(attempt)
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(TaskError::panic(panic_message(payload.as_ref()))));
        if let Some(outcome) = settle(&mut context, attempts, result) {
            return outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_tasks_failure_with_its_message() {
        let err = catch_task::<()>(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(err, TaskError::panic("boom 7"));
        let err = catch_task::<()>(|| std::panic::panic_any(42u8)).unwrap_err();
        assert_eq!(err.message, "a panic with a non-text payload");
        assert_eq!(catch_task(|| Ok(3)), Ok(3));
        assert!(!IN_TASK.with(Cell::get));
    }
}
