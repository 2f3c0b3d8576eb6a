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
///
/// # Example
///
/// A threshold that climbs: each round, the mean of the items above the last threshold. The
/// state is the threshold, a task's partial the count and sum of its items above it.
///
/// ```
/// use parbench_workloads::{
///     plan_tasks, run_rounds, Input, Items, Layout, Partial, Rounds, TaskContext, TaskError,
///     Workload,
/// };
///
/// struct Climb;
///
/// fn word(bytes: &[u8]) -> u64 {
///     u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))
/// }
///
/// impl Workload for Climb {
///     fn name(&self) -> &str {
///         "climb"
///     }
///     fn generate(&self, size: usize, _seed: u64) -> Input {
///         let bytes = (0..size as u64).flat_map(|i| (i * 7 % 1000).to_le_bytes()).collect();
///         Input::new(bytes, Layout::Fixed { len: 8, count: size })
///     }
///     fn output_len(&self) -> usize {
///         0
///     }
///     fn run_task(&self, _: &TaskContext, _: Items<'_>, _: &mut [u8]) -> Result<Partial, TaskError> {
///         Err(TaskError::error("climb runs in rounds"))
///     }
///     fn as_rounds(&self) -> Option<&dyn Rounds> {
///         Some(self)
///     }
/// }
///
/// impl Rounds for Climb {
///     fn rounds(&self) -> usize {
///         3
///     }
///     fn initial_state(&self, _: &Input) -> Vec<u8> {
///         0u64.to_le_bytes().to_vec()
///     }
///     fn map(&self, _: &TaskContext, state: &[u8], items: Items<'_>) -> Result<Vec<u8>, TaskError> {
///         let above = items.iter().map(word).filter(|&x| x > word(state));
///         let (count, sum) = above.fold((0u64, 0u64), |(n, s), x| (n + 1, s + x));
///         Ok([count.to_le_bytes(), sum.to_le_bytes()].concat())
///     }
///     fn reduce(&self, state: &[u8], partials: &[&[u8]]) -> Vec<u8> {
///         let (count, sum) = partials
///             .iter()
///             .fold((0, 0), |(n, s), p| (n + word(&p[..8]), s + word(&p[8..])));
///         let next = if count == 0 { word(state) } else { sum / count };
///         next.to_le_bytes().to_vec()
///     }
/// }
///
/// let input = Climb.generate(1_000, 1);
/// let trace = run_rounds(&Climb, &input, &plan_tasks(1_000, 4)?, 1).unwrap();
/// let thresholds: Vec<u64> = trace.iter().map(|s| word(s)).collect();
/// assert_eq!(thresholds, [500, 750, 875]);
/// // Any split of the items into tasks gives the same states.
/// assert_eq!(trace, run_rounds(&Climb, &input, &plan_tasks(1_000, 7)?, 1).unwrap());
/// # Ok::<(), parbench_workloads::WorkloadError>(())
/// ```
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
