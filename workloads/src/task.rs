//! Tasks: ranges of items, the unit a strategy schedules.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::WorkloadError;

/// A range of items scheduled as one unit. Tasks are numbered from 0 in item order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Task {
    /// The task's number, `0..tasks`.
    pub id: u32,
    /// The items it covers.
    pub items: Range<usize>,
}

/// What a task knows about the run it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskContext {
    /// The task.
    pub task: Task,
    /// 1 on the first attempt, 2 on the first retry, and so on.
    pub attempt: u32,
    /// The run's seed (the one the input was generated from).
    pub seed: u64,
}

/// Splits `items` into `tasks` contiguous tasks whose sizes differ by at most one item.
///
/// The number of tasks is the run's granularity, independent of the number of workers. Asking
/// for zero tasks, or for more tasks than there are items, is an error rather than a silent
/// clamp: a sweep that asks for it measures something other than what it names.
///
/// ```
/// let tasks = parbench_workloads::plan_tasks(10, 3).unwrap();
/// let sizes: Vec<usize> = tasks.iter().map(|t| t.items.len()).collect();
/// assert_eq!(sizes, [3, 3, 4]);
/// assert!(parbench_workloads::plan_tasks(2, 3).is_err());
/// ```
pub fn plan_tasks(items: usize, tasks: usize) -> Result<Vec<Task>, WorkloadError> {
    if tasks == 0 || tasks > items || tasks > u32::MAX as usize {
        return Err(WorkloadError::TaskCount { items, tasks });
    }
    let bound = |i: usize| (i as u128 * items as u128 / tasks as u128) as usize;
    Ok((0..tasks)
        .map(|i| Task {
            id: i as u32,
            items: bound(i)..bound(i + 1),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_cover_every_item_once_in_order() {
        for (items, tasks) in [(1, 1), (7, 7), (10, 3), (1_000_003, 17), (5, 2)] {
            let plan = plan_tasks(items, tasks).unwrap();
            assert_eq!(plan.len(), tasks);
            assert_eq!(plan[0].items.start, 0);
            assert_eq!(plan[tasks - 1].items.end, items);
            for pair in plan.windows(2) {
                assert_eq!(pair[0].items.end, pair[1].items.start);
            }
            let (min, max) = plan.iter().fold((usize::MAX, 0), |(lo, hi), t| {
                (lo.min(t.items.len()), hi.max(t.items.len()))
            });
            assert!(min >= 1 && max - min <= 1, "{items}/{tasks}: {min}..{max}");
        }
    }

    #[test]
    fn more_tasks_than_items_is_a_clear_error() {
        let err = plan_tasks(7, 8).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot split 7 items into 8 tasks: tasks must be in 1..=7"
        );
        assert!(plan_tasks(7, 0).is_err());
    }
}
