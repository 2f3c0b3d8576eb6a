//! The scheduling-overhead decomposition of one run.
//!
//! For a run with `p` workers and wall time `W`, capacity `p x W` is split per worker into
//! *busy* (inside tasks), *startup* (run start to its first task), *gaps* (between its tasks)
//! and *tail* (its last task's end to run end). A worker that ran no task spent the whole run
//! in its tail: the run was waiting on others. The parts are integers and add up to the
//! capacity exactly.

use std::collections::BTreeMap;

use parbench_reports::{Overhead, RoundCosts};
use parbench_strategies::{Round, Span};

/// Spans that cannot come from a correct run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// A span names a worker the run did not have.
    #[error("span of task {task} names worker {worker}, but the run had {workers}")]
    Worker {
        /// The task.
        task: u32,
        /// The worker named.
        worker: u32,
        /// Workers in the run.
        workers: usize,
    },
    /// A span lies outside the run's window.
    #[error("span of task {task} ({start}..{end}) lies outside the run ({run_start}..{run_end})")]
    Outside {
        /// The task.
        task: u32,
        /// Span start.
        start: u64,
        /// Span end.
        end: u64,
        /// Run start.
        run_start: u64,
        /// Run end.
        run_end: u64,
    },
    /// Two spans of one worker overlap.
    #[error("tasks {first} and {second} overlap on worker {worker}")]
    Overlap {
        /// The worker.
        worker: u32,
        /// The earlier task.
        first: u32,
        /// The later task.
        second: u32,
    },
}

/// Decomposes a run's capacity into busy, startup, gaps and tail.
///
/// Contention is left at zero: it compares the busy time with the sequential cell of the same
/// bucket, which only the whole run knows (`parbench_reports::figures`).
///
/// ```
/// use parbench::overhead::decompose;
/// use parbench_strategies::Span;
///
/// // Two workers over 100 ns: one busy for 60 ns after a 10 ns start, one idle.
/// let spans = [Span { worker: 0, task: 0, start_ns: 10, end_ns: 70 }];
/// let o = decompose(2, 0, 100, &spans)?;
/// assert_eq!(o.parts(), [60, 10, 0, 130]);
/// assert_eq!(o.capacity_ns, 200);
/// # Ok::<(), parbench::overhead::SpanError>(())
/// ```
pub fn decompose(
    workers: usize,
    run_start: u64,
    run_end: u64,
    spans: &[Span],
) -> Result<Overhead, SpanError> {
    let wall = run_end.saturating_sub(run_start);
    let mut per_worker: Vec<Vec<&Span>> = vec![Vec::new(); workers];
    for span in spans {
        if span.start_ns < run_start || span.end_ns > run_end || span.start_ns > span.end_ns {
            return Err(SpanError::Outside {
                task: span.task,
                start: span.start_ns,
                end: span.end_ns,
                run_start,
                run_end,
            });
        }
        per_worker
            .get_mut(span.worker as usize)
            .ok_or(SpanError::Worker {
                task: span.task,
                worker: span.worker,
                workers,
            })?
            .push(span);
    }
    let mut parts = Overhead {
        capacity_ns: wall * workers as u64,
        ..Overhead::default()
    };
    for (worker, spans) in per_worker.iter_mut().enumerate() {
        spans.sort_by_key(|s| s.start_ns);
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            parts.tail_ns += wall;
            continue;
        };
        parts.startup_ns += first.start_ns - run_start;
        parts.tail_ns += run_end - last.end_ns;
        for pair in spans.windows(2) {
            if pair[1].start_ns < pair[0].end_ns {
                return Err(SpanError::Overlap {
                    worker: worker as u32,
                    first: pair[0].task,
                    second: pair[1].task,
                });
            }
            parts.gaps_ns += pair[1].start_ns - pair[0].end_ns;
        }
        parts.busy_ns += spans.iter().map(|s| s.duration_ns()).sum::<u64>();
    }
    assert_eq!(
        parts.busy_ns + parts.startup_ns + parts.gaps_ns + parts.tail_ns,
        parts.capacity_ns,
        "overhead parts must add up to capacity"
    );
    Ok(parts)
}

/// What the `rounds` of a run cost (see [`RoundCosts`]), from the run's `spans`: each span
/// counts in the round it lies in. `None` for a run of no round.
///
/// ```
/// use parbench::overhead::round_costs;
/// use parbench_strategies::{Round, Span};
///
/// let span = |worker, start_ns, end_ns| Span { worker, task: worker, start_ns, end_ns };
/// let round = |start_ns, end_ns, bytes_moved| Round { start_ns, end_ns, bytes_moved, state: vec![] };
/// // Two rounds of 100 ns; in each, worker 1 finishes 20 ns before worker 0.
/// let rounds = [round(0, 100, 64), round(100, 200, 8)];
/// let spans = [span(0, 10, 90), span(1, 10, 70), span(0, 110, 190), span(1, 110, 170)];
/// let costs = round_costs(&rounds, &spans).unwrap();
/// assert_eq!((costs.rounds, costs.round_ns, costs.first_round_ns), (2, 100, 100));
/// // Each round: 10 ns before its first task, 10 ns after its last; a mean wait of 10 ns.
/// assert_eq!((costs.exchange_ns, costs.straggler_ns), (20, 10));
/// assert_eq!((costs.bytes_per_round, costs.first_round_bytes), (36, 64));
/// ```
pub fn round_costs(rounds: &[Round], spans: &[Span]) -> Option<RoundCosts> {
    let first = rounds.first()?;
    let mut times = Vec::with_capacity(rounds.len());
    let mut stragglers = Vec::with_capacity(rounds.len());
    let mut exchanges = Vec::with_capacity(rounds.len());
    let mut bytes = Vec::with_capacity(rounds.len());
    for round in rounds {
        let inside = spans
            .iter()
            .filter(|s| round.start_ns <= s.start_ns && s.end_ns <= round.end_ns);
        // Each lane's last end in the round, and the round's first start.
        let mut lanes: BTreeMap<u32, u64> = BTreeMap::new();
        let mut start = round.end_ns;
        for span in inside {
            start = start.min(span.start_ns);
            let last = lanes.entry(span.worker).or_default();
            *last = (*last).max(span.end_ns);
        }
        let time = round.end_ns - round.start_ns;
        let (straggler, exchange) = match lanes.values().max() {
            Some(&end) => (
                lanes.values().map(|l| end - l).sum::<u64>() / lanes.len() as u64,
                (start - round.start_ns) + (round.end_ns - end),
            ),
            None => (0, time),
        };
        times.push(time);
        stragglers.push(straggler);
        exchanges.push(exchange);
        bytes.push(round.bytes_moved);
    }
    Some(RoundCosts {
        rounds: rounds.len(),
        round_ns: median(&mut times),
        first_round_ns: first.end_ns - first.start_ns,
        straggler_ns: median(&mut stragglers),
        exchange_ns: median(&mut exchanges),
        bytes_per_round: median(&mut bytes),
        first_round_bytes: first.bytes_moved,
    })
}

/// The median of `values` (the mean of the middle two for an even count, rounded down); 0 for
/// none.
pub(crate) fn median(values: &mut [u64]) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let sorted: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    parbench_reports::stats::median_sorted(&sorted) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(worker: u32, task: u32, start_ns: u64, end_ns: u64) -> Span {
        Span {
            worker,
            task,
            start_ns,
            end_ns,
        }
    }

    #[test]
    fn known_answer_three_tasks_on_two_workers() {
        // Worker 0 runs tasks 0 and 2 back to back after a 5 ns start; worker 1 runs task 1
        // and then idles: its tail is one task's time.
        let spans = [
            span(0, 0, 105, 205),
            span(0, 2, 210, 310),
            span(1, 1, 100, 200),
        ];
        let o = decompose(2, 100, 310, &spans).unwrap();
        assert_eq!(o.capacity_ns, 420);
        assert_eq!(o.busy_ns, 300);
        assert_eq!(o.startup_ns, 5);
        assert_eq!(o.gaps_ns, 5);
        assert_eq!(o.tail_ns, 110);
        assert!((o.share() - (1.0 - 300.0 / 420.0)).abs() < 1e-12);
    }

    #[test]
    fn an_idle_worker_is_all_tail() {
        let o = decompose(3, 0, 50, &[span(0, 0, 0, 50)]).unwrap();
        assert_eq!((o.capacity_ns, o.busy_ns, o.tail_ns), (150, 50, 100));
    }

    #[test]
    fn impossible_spans_are_errors() {
        assert!(matches!(
            decompose(1, 0, 100, &[span(1, 0, 0, 10)]),
            Err(SpanError::Worker { worker: 1, .. })
        ));
        assert!(matches!(
            decompose(1, 10, 100, &[span(0, 0, 0, 10)]),
            Err(SpanError::Outside { .. })
        ));
        assert_eq!(
            decompose(1, 0, 100, &[span(0, 3, 0, 50), span(0, 4, 40, 60)]),
            Err(SpanError::Overlap {
                worker: 0,
                first: 3,
                second: 4
            })
        );
    }
}
