//! What every report derives from the results in the same way: cells grouped by the work they
//! measure, the configuration a workload is judged at, and its verdict. (Speedups and the
//! other figures over the sequential cell are [`crate::figures`].)

use serde::{Deserialize, Serialize};

use crate::{Cell, Results, Sample, Status};

/// How the run sampled and how far its figures can be trusted, in one sentence for a report's
/// header: the processes per cell and the rounds, the noise floor, which cells were profiled.
/// `None` for a file older than schema 2.
pub fn sampling_summary(results: &Results) -> Option<String> {
    let rounds = results.rounds.as_ref()?;
    let processes: Vec<usize> = results
        .cells
        .iter()
        .filter_map(|c| Some(c.wall.as_ref()?.processes))
        .collect();
    let (fewest, most) = (
        processes.iter().min().copied().unwrap_or(0),
        processes.iter().max().copied().unwrap_or(0),
    );
    let mut text = format!(
        "each cell measured in {} process{} of up to {} samples, over {} round{} in shuffled orders",
        if fewest == most {
            fewest.to_string()
        } else {
            format!("{fewest} to {most}")
        },
        if most == 1 { "" } else { "es" },
        rounds.samples_per_process,
        rounds.finished,
        if rounds.finished == 1 { "" } else { "s" },
    );
    if let Some(floor) = crate::figures::noise_floor(results) {
        text.push_str(&format!(" · noise floor: {floor}"));
    }
    text.push_str(match rounds.profiled.as_str() {
        "focus" => " · flame graphs: each strategy where the charts compare them (every cell with --profile all)",
        "all" => " · flame graphs: every cell",
        _ => " · no flame graphs",
    });
    Some(text)
}

/// Where a run's measuring visits spent their time, in one line: the average visit and the
/// share of each part, and the share outside samples and warm-ups. `None` when the results
/// do not say (a file older than the breakdown, or a run that measured nothing).
///
/// ```
/// use parbench_reports::{view::visit_summary, VisitCosts};
/// let costs = VisitCosts {
///     visits: 4,
///     spawn_ns: 4_000_000,
///     input_ns: 8_000_000,
///     warmup_ns: 20_000_000,
///     samples_ns: 60_000_000,
///     verify_ns: 6_000_000,
///     reply_ns: 2_000_000,
///     other_ns: 2_000_000,
///     between_ns: 4_000_000,
/// };
/// assert_eq!(
///     visit_summary(&costs).unwrap(),
///     "a visit took 25.00 ms: samples 60%, warm-up 20%, input 8%, spawn 4%, reply 2%, \
///      other 2%, the harness between visits 4% (checking answers: 6% within the samples) · \
///      outside samples and warm-ups: 20%"
/// );
/// ```
pub fn visit_summary(costs: &crate::VisitCosts) -> Option<String> {
    let wall = costs.wall_ns();
    if costs.visits == 0 || wall == 0 {
        return None;
    }
    let share = |part: u64| 100.0 * part as f64 / wall as f64;
    Some(format!(
        "a visit took {}: samples {:.0}%, warm-up {:.0}%, input {:.0}%, spawn {:.0}%, reply \
         {:.0}%, other {:.0}%, the harness between visits {:.0}% (checking answers: {:.0}% \
         within the samples) · outside samples and warm-ups: {:.0}%",
        crate::format::duration(wall as f64 / costs.visits as f64),
        share(costs.samples_ns),
        share(costs.warmup_ns),
        share(costs.input_ns),
        share(costs.spawn_ns),
        share(costs.reply_ns),
        share(costs.other_ns),
        share(costs.between_ns),
        share(costs.verify_ns),
        100.0 * costs.outside_share(),
    ))
}

/// What the canary saw of the machine through the run, in one line: its readings, how many
/// said the machine was disturbed and when, the processes kept out of the figures for it, and
/// the machine's pace ([`Pace`]). `None` for a run without readings.
///
/// ```
/// use parbench_reports::{view::canary_summary, CanaryReading, Results};
/// # let mut results: Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// results.canary = (0..40)
///     .map(|i| CanaryReading {
///         at_ns: i * 1_000_000_000,
///         compute_ns: 200_000,
///         copy_ns: 1_000_000,
///         foreign_share: 0.0,
///         disturbed: (20..23).contains(&i),
///     })
///     .collect();
/// assert_eq!(
///     canary_summary(&results).unwrap(),
///     "40 readings, 3 disturbed (7.5%: from 20.0 s to 22.0 s into the run) · 0 processes \
///      kept out of the figures · pace: compute probe 200.0 µs, memory probe 1.000 ms"
/// );
/// ```
pub fn canary_summary(results: &Results) -> Option<String> {
    let readings = &results.canary;
    if readings.is_empty() {
        return None;
    }
    let disturbed: Vec<&crate::CanaryReading> = readings.iter().filter(|r| r.disturbed).collect();
    let mut text = format!(
        "{} readings, {} disturbed ({:.1}%",
        readings.len(),
        disturbed.len(),
        100.0 * disturbed.len() as f64 / readings.len() as f64
    );
    if let (Some(first), Some(last)) = (disturbed.first(), disturbed.last()) {
        text.push_str(&format!(
            ": from {:.1} s to {:.1} s into the run",
            first.at_ns as f64 / 1e9,
            last.at_ns as f64 / 1e9
        ));
    }
    let mut kept_out: Vec<(&str, u32)> = results
        .cells
        .iter()
        .flat_map(|c| {
            c.samples
                .iter()
                .filter(|s| s.disturbed)
                .map(move |s| (c.id.as_str(), s.process))
        })
        .collect();
    kept_out.sort_unstable();
    kept_out.dedup();
    text.push_str(&format!(
        ") · {} processes kept out of the figures",
        kept_out.len()
    ));
    if let Some(pace) = Pace::of(results) {
        text.push_str(&format!(
            " · pace: compute probe {:.1} µs, memory probe {:.3} ms",
            pace.compute_ns / 1e3,
            pace.copy_ns / 1e6
        ));
    }
    Some(text)
}

/// How fast the machine ran through a run, by the canary: the medians of its quiet readings'
/// compute and memory probes.
///
/// Two runs of the same build on the same machine can differ by a few percent throughout —
/// the host's other tenants, its clocks — and no interval from one run's processes covers
/// that; the pace of each run shows it (`parbench compare` sets two runs' paces side by side).
///
/// ```
/// use parbench_reports::{view::Pace, CanaryReading, Results};
/// # let mut results: Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// let reading = |compute_ns, disturbed| CanaryReading {
///     at_ns: 0,
///     compute_ns,
///     copy_ns: 1_000_000,
///     foreign_share: 0.0,
///     disturbed,
/// };
/// // The disturbed reading is left out.
/// results.canary = vec![reading(200_000, false), reading(204_000, false), reading(900_000, true)];
/// let pace = Pace::of(&results).unwrap();
/// assert_eq!((pace.compute_ns, pace.copy_ns), (202_000.0, 1_000_000.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pace {
    /// The compute probe's median time.
    pub compute_ns: f64,
    /// The memory probe's median time.
    pub copy_ns: f64,
}

impl Pace {
    /// The pace of a run; `None` without a quiet reading.
    pub fn of(results: &Results) -> Option<Pace> {
        let quiet = || results.canary.iter().filter(|r| !r.disturbed);
        let median = |mut values: Vec<f64>| crate::stats::median(&mut values);
        Some(Pace {
            compute_ns: median(quiet().map(|r| r.compute_ns as f64).collect())?,
            copy_ns: median(quiet().map(|r| r.copy_ns as f64).collect())?,
        })
    }
}

/// Cells that measure the same work: one workload, one set of parameters, one input size.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The workload with its non-default parameters, as cell ids spell it (`spin[ns_per_item=100]`).
    pub label: &'a str,
    /// Items in the input.
    pub size: usize,
    /// Its cells, in the order they ran.
    pub cells: Vec<&'a Cell>,
}

/// Groups the cells by the work they measure, in the order the groups first ran.
pub fn groups(results: &Results) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for cell in &results.cells {
        let label = cell.workload_label();
        match groups
            .iter_mut()
            .find(|g| g.label == label && g.size == cell.size)
        {
            Some(group) => group.cells.push(cell),
            None => groups.push(Group {
                label,
                size: cell.size,
                cells: vec![cell],
            }),
        }
    }
    groups
}

impl<'a> Group<'a> {
    /// A name for links and file names: letters, digits and dashes.
    pub fn slug(&self) -> String {
        let mut slug = String::new();
        for c in format!("{}-{}", self.label, self.size).chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.trim_matches('-').to_owned()
    }

    /// The workload's kind of work (memory, compute, io, synthetic).
    pub fn kind(&self) -> &'a str {
        self.cells.first().map_or("", |c| c.workload_kind.as_str())
    }

    /// The strategies measured, in the order they first ran.
    pub fn strategies(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = Vec::new();
        for cell in &self.cells {
            if !names.contains(&cell.strategy_label()) {
                names.push(cell.strategy_label());
            }
        }
        names
    }

    /// The task counts measured, ascending.
    pub fn task_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.cells.iter().map(|c| c.tasks).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// The worker counts measured, ascending.
    pub fn worker_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.cells.iter().map(|c| c.workers).collect();
        counts.sort_unstable();
        counts.dedup();
        counts
    }

    /// The cell of a strategy with these workers and tasks.
    pub fn cell(&self, strategy: &str, workers: usize, tasks: usize) -> Option<&'a Cell> {
        self.cells
            .iter()
            .find(|c| c.strategy_label() == strategy && c.workers == workers && c.tasks == tasks)
            .copied()
    }

    /// The strategy's fastest cell that ran well: its best configuration.
    pub fn best_of(&self, strategy: &str) -> Option<&'a Cell> {
        fastest(
            self.cells
                .iter()
                .copied()
                .filter(|c| c.strategy_label() == strategy),
        )
    }

    /// The task count the charts compare strategies at: the one of the fastest cell with the
    /// most workers, the configuration someone parallelizing this work would choose.
    pub fn focus_tasks(&self) -> Option<usize> {
        let most = *self.worker_counts().last()?;
        fastest(self.cells.iter().copied().filter(|c| c.workers == most))
            .or_else(|| fastest(self.cells.iter().copied()))
            .map(|c| c.tasks)
    }

    /// The cell each strategy is shown with in the charts that compare strategies (and profiled
    /// with, by default): at the focus task count, its most workers. In the order the
    /// strategies first ran.
    pub fn focus_cells(&self) -> Vec<&'a Cell> {
        let Some(focus) = self.focus_tasks() else {
            return Vec::new();
        };
        self.strategies()
            .into_iter()
            .filter_map(|strategy| {
                self.cells
                    .iter()
                    .copied()
                    .filter(|c| c.strategy_label() == strategy && c.tasks == focus)
                    .max_by_key(|c| c.workers)
            })
            .collect()
    }

    /// Which strategy wins here, by how much, and which is cheapest in memory.
    pub fn verdict(&self) -> Option<Verdict<'a>> {
        let mut best: Vec<&Cell> = self
            .strategies()
            .into_iter()
            .filter_map(|s| self.best_of(s))
            .collect();
        best.sort_by(|a, b| median(a).total_cmp(&median(b)));
        let fastest = *best.first()?;
        let leanest = best
            .iter()
            .filter_map(|c| Some((*c, c.peak_rss_bytes?)))
            .min_by_key(|(_, peak)| *peak)
            .map(|(cell, _)| cell);
        Some(Verdict {
            fastest,
            runner_up: best.get(1).copied(),
            leanest,
            failed: self.cells.iter().filter(|c| c.status != Status::Ok).count(),
        })
    }
}

/// A workload's verdict: its strategies compared at their best configurations.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    /// The fastest cell.
    pub fastest: &'a Cell,
    /// The fastest cell of another strategy.
    pub runner_up: Option<&'a Cell>,
    /// Of the strategies' best cells, the one with the lowest peak memory.
    pub leanest: Option<&'a Cell>,
    /// Cells that did not end well.
    pub failed: usize,
}

impl Verdict<'_> {
    /// How many times slower the runner-up is, and whether the two medians' confidence
    /// intervals are apart (the difference is not noise).
    pub fn margin(&self) -> Option<(f64, bool)> {
        let fast = self.fastest.wall.as_ref()?;
        let next = self.runner_up?.wall.as_ref()?;
        Some((
            next.median_ns / fast.median_ns.max(1.0),
            fast.ci_high_ns < next.ci_low_ns,
        ))
    }
}

/// The cell with the lowest median run time among those that ran well.
fn fastest<'a>(cells: impl Iterator<Item = &'a Cell>) -> Option<&'a Cell> {
    cells
        .filter(|c| c.status == Status::Ok && c.wall.is_some())
        .min_by(|a, b| median(a).total_cmp(&median(b)))
}

fn median(cell: &Cell) -> f64 {
    cell.wall.as_ref().map_or(f64::INFINITY, |w| w.median_ns)
}

impl Cell {
    /// The workload with its non-default parameters, as the cell's id spells it
    /// (`spin[ns_per_item=100]`).
    pub fn workload_label(&self) -> &str {
        self.id
            .split_once("/size=")
            .map_or(self.workload.as_str(), |(label, _)| label)
    }

    /// The strategy with its non-default parameters, as the cell's id spells it
    /// (`timely[mode=processes]`): two configurations of one strategy are two lines in a
    /// report.
    pub fn strategy_label(&self) -> &str {
        let marker = format!("/tasks={}/", self.tasks);
        let start = self.id.find(&marker).map(|i| i + marker.len());
        let end = self.id.rfind("/w");
        match (start, end) {
            (Some(start), Some(end)) if start < end => &self.id[start..end],
            _ => &self.strategy,
        }
    }

    /// The sample whose run time is the median of the cell's (the lower one for an even
    /// count): the sample its overhead and timeline come from.
    pub fn median_sample(&self) -> Option<&Sample> {
        let mut order: Vec<&Sample> = self.samples.iter().collect();
        order.sort_by_key(|s| s.run_ns);
        order.get(order.len().checked_sub(1)? / 2).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Stats;

    fn cell(
        strategy: &str,
        workers: usize,
        tasks: usize,
        median: f64,
        half: f64,
        peak: u64,
    ) -> Cell {
        let json = serde_json::json!({
            "id": format!("spin[ns_per_item=5]/size=100/tasks={tasks}/{strategy}/w{workers}"),
            "workload": "spin", "workload_kind": "synthetic", "params": {"ns_per_item": 5},
            "strategy": strategy, "strategy_params": {}, "workers": workers, "size": 100,
            "tasks": tasks, "policy": "collect", "status": "ok", "error": null, "verified": true,
            "answer": null, "samples": [],
            "features": {"items": 100, "input_bytes": 800, "output_bytes": 800, "generate_ns": 1, "sequential_busy_ns": 1}, "wall": null, "end_to_end": null,
            "peak_rss_bytes": peak, "overhead": null
        });
        let mut cell: Cell = serde_json::from_value(json).unwrap();
        cell.wall = Some(Stats {
            n: 10,
            median_ns: median,
            ci_low_ns: median - half,
            ci_high_ns: median + half,
            ..Stats::default()
        });
        cell
    }

    #[test]
    fn the_verdict_compares_each_strategy_at_its_best() {
        let mut results: Results =
            serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
        results.cells = vec![
            cell("sequential", 1, 1, 1000.0, 10.0, 5 << 20),
            cell("sequential", 1, 8, 1100.0, 10.0, 5 << 20),
            cell("rayon", 1, 8, 1050.0, 10.0, 7 << 20),
            cell("rayon", 2, 8, 500.0, 20.0, 8 << 20),
            cell("threads", 2, 1, 990.0, 10.0, 6 << 20),
            cell("threads", 2, 8, 520.0, 30.0, 6 << 20),
        ];
        let groups = groups(&results);
        assert_eq!(groups.len(), 1);
        let group = &groups[0];
        assert_eq!(group.slug(), "spin-ns-per-item-5-100");
        assert_eq!(group.strategies(), ["sequential", "rayon", "threads"]);
        assert_eq!(
            (group.task_counts(), group.worker_counts()),
            (vec![1, 8], vec![1, 2])
        );
        assert_eq!(group.focus_tasks(), Some(8));
        // Each strategy at 8 tasks with its most workers; sequential has one.
        let focus: Vec<&str> = group.focus_cells().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            focus,
            [
                "spin[ns_per_item=5]/size=100/tasks=8/sequential/w1",
                "spin[ns_per_item=5]/size=100/tasks=8/rayon/w2",
                "spin[ns_per_item=5]/size=100/tasks=8/threads/w2",
            ]
        );
        let rayon = group.cell("rayon", 2, 8).unwrap();
        let figures = crate::figures::Figures::of(&results);
        assert_eq!(figures.speedup(rayon), Some(2.2));
        assert_eq!(
            figures.baseline(rayon).map(|c| c.id.as_str()),
            Some("spin[ns_per_item=5]/size=100/tasks=8/sequential/w1")
        );

        let verdict = group.verdict().unwrap();
        assert_eq!(verdict.fastest.id, rayon.id);
        assert_eq!(
            verdict.runner_up.unwrap().id,
            group.cell("threads", 2, 8).unwrap().id
        );
        // 520 / 500, and [480, 520] overlaps [490, 550]: not apart.
        assert_eq!(verdict.margin(), Some((1.04, false)));
        // Of the best cells (sequential at 1 task, rayon and threads at 8), the smallest.
        assert_eq!(verdict.leanest.unwrap().strategy, "sequential");
        assert_eq!(verdict.failed, 0);
    }

    #[test]
    fn labels_keep_parameters_even_with_slashes() {
        let mut c = cell("timely", 3, 8, 1.0, 0.1, 1);
        assert_eq!(
            (c.workload_label(), c.strategy_label()),
            ("spin[ns_per_item=5]", "timely")
        );
        c.id = "spin/size=100/tasks=8/timely[hostfile=/tmp/hosts.txt,mode=cluster]/w3".into();
        assert_eq!(
            c.strategy_label(),
            "timely[hostfile=/tmp/hosts.txt,mode=cluster]"
        );
        assert_eq!(c.workload_label(), "spin");
    }
}
