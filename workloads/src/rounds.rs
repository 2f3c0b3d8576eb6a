//! Work in rounds: a small state, every task's items mapped under it, the partial results
//! reduced into the next round's state — k-means, PageRank, gradient descent.
//!
//! The workload says what a round computes; a strategy says where the items live between
//! rounds and how the state travels. What every strategy's rounds are checked against is the
//! trace of states [`run_rounds`] computes on one thread.

use crate::{Input, Items, Task, TaskContext, TaskError};

/// A workload of rounds (see the module's notes), reached through
/// [`crate::Workload::as_rounds`].
///
/// Its answer is the state after every round, so [`Rounds::reduce`] must not depend on how the
/// items were split into tasks: integer sums, counts, minima — not a floating-point sum, whose
/// value depends on its order. A round needs every task's partial: a task that fails (after
/// the policy's retries) makes its round the last one.
pub trait Rounds: Send + Sync {
    /// Rounds to run.
    fn rounds(&self) -> usize;

    /// The state before the first round, from the input.
    fn initial_state(&self, input: &Input) -> Vec<u8>;

    /// One task's part of a round: its items under the round's state, as a partial result.
    /// The same contract as [`crate::Workload::run_task`]: a panic or an error fails the task.
    fn map(&self, task: &TaskContext, state: &[u8], items: Items<'_>)
        -> Result<Vec<u8>, TaskError>;

    /// The next state, from the round's state and every task's partial (in task order).
    fn reduce(&self, state: &[u8], partials: &[&[u8]]) -> Vec<u8>;
}

/// The state after every round, the rounds run on this thread over `tasks`: the reference a
/// strategy's rounds are verified against.
///
/// # Errors
/// The first task that fails, with its round.
pub fn run_rounds(
    work: &dyn Rounds,
    input: &Input,
    tasks: &[Task],
    seed: u64,
) -> Result<Vec<Vec<u8>>, (usize, TaskError)> {
    let mut state = work.initial_state(input);
    let mut trace = Vec::with_capacity(work.rounds());
    for round in 0..work.rounds() {
        let partials = tasks
            .iter()
            .map(|task| {
                let context = TaskContext {
                    task: task.clone(),
                    attempt: 1,
                    seed,
                };
                work.map(&context, &state, input.view().slice(task.items.clone()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| (round, e))?;
        let partials: Vec<&[u8]> = partials.iter().map(Vec::as_slice).collect();
        state = work.reduce(&state, &partials);
        trace.push(state.clone());
    }
    Ok(trace)
}
