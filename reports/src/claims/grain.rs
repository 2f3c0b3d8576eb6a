//! Break-even task durations: how heavy a strategy's tasks must be to pay for its scheduling.
//!
//! A workload measured at several task counts over the same items (say `spin`, a fixed 10 ms
//! cut into 2 to 10,000 tasks) gives each strategy a speedup at each grain, against the
//! sequential cell of that grain. A grain's task duration is the sequential run time over its
//! tasks. The strategy's *coarse-grained speedup* is its speedup at the coarsest grain that
//! still gives every worker a task; its *break-even* is the shortest task duration from which
//! on (that grain and every coarser one) it keeps at least the threshold share (90%, say) of
//! that speedup. Between two measured grains the crossing is interpolated on a log scale; the
//! interval is the same crossing read from the ends of each share's interval (the upper end
//! crosses first: the shorter duration).

use std::collections::BTreeMap;

use super::{verdict, ClaimError, Direction, Verdict};
use crate::figures::{Ratio, BASELINE_STRATEGY};
use crate::{Cell, Results, Status};

/// One strategy's break-even on a sweep of grains.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BreakEven {
    /// The strategy, as cell ids spell it.
    pub strategy: String,
    /// Its workers.
    pub workers: usize,
    /// Its speedup at the coarsest grain that gives every worker a task.
    pub coarse: Ratio,
    /// That grain's task duration, in ns.
    pub coarse_task_ns: f64,
    /// Its speedup at the finest grain.
    pub finest: Ratio,
    /// The finest grain's task duration, in ns.
    pub finest_task_ns: f64,
    /// The finest grain's speedup over the coarse one: what the verdict reads.
    pub kept: Ratio,
    /// The break-even task duration (ns) with its interval; `None` when even the finest grain
    /// keeps the threshold share (the break-even is below the sweep).
    pub duration: Option<Ratio>,
    /// The claim ("tasks must be heavy enough") for this strategy: holds when the finest
    /// grain's share lies wholly below the threshold.
    pub verdict: Verdict,
}

/// The speedup at each grain (by tasks) of one strategy, with the grain's task duration.
struct Grain {
    tasks: usize,
    task_ns: f64,
    speedup: Ratio,
}

/// Each parallel strategy's break-even on `work` (a workload label as cell ids spell it), at
/// `workers` or each strategy's most, for the threshold share of its coarse-grained speedup,
/// in the order the strategies first appear.
///
/// ```
/// use parbench_reports::claims::{break_even, Direction, Verdict};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let rayon = break_even(&results, "square", Some(2), Direction::Below, 0.9)?
///     .into_iter()
///     .find(|b| b.strategy == "rayon")
///     .unwrap();
/// assert_eq!(rayon.workers, 2);
/// assert!(rayon.finest_task_ns < rayon.coarse_task_ns);
/// # Ok::<(), parbench_reports::claims::ClaimError>(())
/// ```
///
/// # Errors
/// The work has no sequential cells, or several sizes, or fewer than two grains.
pub fn break_even(
    results: &Results,
    work: &str,
    workers: Option<usize>,
    direction: Direction,
    threshold: f64,
) -> Result<Vec<BreakEven>, ClaimError> {
    let cells: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.status == Status::Ok && c.verified && c.wall.is_some())
        .filter(|c| c.workload_label() == work)
        .collect();
    let mut sizes: Vec<usize> = cells.iter().map(|c| c.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() > 1 {
        return Err(ClaimError::Sweep(format!(
            "{work} was measured at {} sizes: a sweep of grains is one size",
            sizes.len()
        )));
    }
    let sequential: BTreeMap<usize, &Cell> = cells
        .iter()
        .filter(|c| c.strategy == BASELINE_STRATEGY)
        .map(|c| (c.tasks, *c))
        .collect();
    if sequential.len() < 2 {
        return Err(ClaimError::Sweep(format!(
            "{work} has {} grain(s) with a verified sequential cell: a sweep needs two",
            sequential.len()
        )));
    }
    let mut strategies: Vec<&str> = Vec::new();
    for cell in &cells {
        let label = cell.strategy_label();
        if cell.strategy != BASELINE_STRATEGY && !strategies.contains(&label) {
            strategies.push(label);
        }
    }
    let mut found = Vec::new();
    for strategy in strategies {
        let mine: Vec<&Cell> = cells
            .iter()
            .copied()
            .filter(|c| c.strategy_label() == strategy)
            .collect();
        let Some(w) = workers.or_else(|| mine.iter().map(|c| c.workers).max()) else {
            continue;
        };
        let mut grains: Vec<Grain> = mine
            .iter()
            .filter(|c| c.workers == w)
            .filter_map(|c| {
                let base = sequential.get(&c.tasks)?;
                let (seq, wall) = (base.wall.as_ref()?, c.wall.as_ref()?);
                Some(Grain {
                    tasks: c.tasks,
                    task_ns: seq.median_ns / c.tasks as f64,
                    speedup: Ratio::of(seq, wall),
                })
            })
            .collect();
        // Finest first; a strategy whose coarse grain is its finest has no sweep.
        grains.sort_by_key(|g| std::cmp::Reverse(g.tasks));
        let Some(coarse) = grains
            .iter()
            .filter(|g| g.tasks >= w)
            .min_by_key(|g| g.tasks)
        else {
            continue;
        };
        if coarse.tasks == grains[0].tasks {
            continue;
        }
        // Every grain's share of the coarse speedup; the coarse grain keeps all of it exactly.
        let shares: Vec<(f64, Ratio)> = grains
            .iter()
            .filter(|g| g.tasks >= coarse.tasks)
            .map(|g| {
                let share = if g.tasks == coarse.tasks {
                    Ratio {
                        value: 1.0,
                        low: 1.0,
                        high: 1.0,
                    }
                } else {
                    g.speedup.over(&coarse.speedup)
                };
                (g.task_ns, share)
            })
            .collect();
        let kept = shares[0].1;
        // The upper end of the shares crosses first (the shorter duration), the lower last.
        let cross = |end: fn(&Ratio) -> f64| crossing(&shares, end, threshold);
        let duration = cross(|r| r.value).map(|value| Ratio {
            value,
            low: cross(|r| r.high).unwrap_or(shares[0].0),
            high: cross(|r| r.low).unwrap_or(value),
        });
        found.push(BreakEven {
            strategy: strategy.to_owned(),
            workers: w,
            coarse: coarse.speedup,
            coarse_task_ns: coarse.task_ns,
            finest: grains[0].speedup,
            finest_task_ns: grains[0].task_ns,
            kept,
            duration,
            verdict: verdict(&kept, direction, threshold),
        });
    }
    Ok(found)
}

/// The shortest task duration from which on `end` of the share stays at or above
/// `threshold`, interpolated on a log scale from the grain below; `None` when the finest grain
/// already does. `shares` runs from the finest grain to the coarse one.
fn crossing(shares: &[(f64, Ratio)], end: fn(&Ratio) -> f64, threshold: f64) -> Option<f64> {
    // The last grain (from the finest) still below the threshold.
    let below = shares.iter().rposition(|(_, r)| end(r) < threshold)?;
    let (d0, s0) = (shares[below].0, end(&shares[below].1));
    let Some((d1, r1)) = shares.get(below + 1) else {
        return Some(d0);
    };
    let s1 = end(r1);
    let t = ((threshold - s0) / (s1 - s0)).clamp(0.0, 1.0);
    Some((d0.ln() + t * (d1.ln() - d0.ln())).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(d: f64, low: f64, value: f64, high: f64) -> (f64, Ratio) {
        (d, Ratio { value, low, high })
    }

    #[test]
    fn the_crossing_is_interpolated_on_a_log_scale_from_the_last_grain_below() {
        // 1 µs keeps 50%, 10 µs 100%: 90% is four fifths of the way, 10^0.8 µs.
        let shares = [share(1e3, 0.5, 0.5, 0.5), share(1e4, 1.0, 1.0, 1.0)];
        let d = crossing(&shares, |r| r.value, 0.9).unwrap();
        assert!((d - 10f64.powf(3.8)).abs() < 1e-6, "{d}");
        // A grain that dips again after reaching it moves the crossing past the dip.
        let shares = [
            share(1e2, 0.95, 0.95, 0.95),
            share(1e3, 0.5, 0.5, 0.5),
            share(1e4, 1.0, 1.0, 1.0),
        ];
        assert!((crossing(&shares, |r| r.value, 0.9).unwrap() - 10f64.powf(3.8)).abs() < 1e-6);
        // Already there at the finest grain: no crossing within the sweep.
        let shares = [share(1e3, 0.92, 0.95, 0.97), share(1e4, 1.0, 1.0, 1.0)];
        assert_eq!(crossing(&shares, |r| r.value, 0.9), None);
        // The interval's lower end crosses later (a longer duration) than its upper end.
        let shares = [share(1e3, 0.3, 0.5, 0.7), share(1e4, 1.0, 1.0, 1.0)];
        let early = crossing(&shares, |r| r.high, 0.9).unwrap();
        let late = crossing(&shares, |r| r.low, 0.9).unwrap();
        assert!(early < 10f64.powf(3.8) && 10f64.powf(3.8) < late);
    }
}
