//! What every report derives from the results in the same way: cells grouped by the work they
//! measure, speedups over the sequential cell, the configuration a workload is judged at, and
//! its verdict.

use crate::{Cell, Results, Sample, Status};

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
        let label = cell.id.split('/').next().unwrap_or(&cell.workload);
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
            if !names.contains(&cell.strategy.as_str()) {
                names.push(&cell.strategy);
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
            .find(|c| c.strategy == strategy && c.workers == workers && c.tasks == tasks)
            .copied()
    }

    /// The sequential cell with the same tasks: what a cell's speedup is over.
    pub fn baseline(&self, cell: &Cell) -> Option<&'a Cell> {
        self.cells
            .iter()
            .find(|c| {
                c.strategy == "sequential" && c.tasks == cell.tasks && c.params == cell.params
            })
            .copied()
    }

    /// The sequential cell's median run time over this cell's.
    pub fn speedup(&self, cell: &Cell) -> Option<f64> {
        let base = self.baseline(cell)?.wall.as_ref()?.median_ns;
        let wall = cell.wall.as_ref()?.median_ns;
        (wall > 0.0).then(|| base / wall)
    }

    /// The strategy's fastest cell that ran well: its best configuration.
    pub fn best_of(&self, strategy: &str) -> Option<&'a Cell> {
        fastest(
            self.cells
                .iter()
                .copied()
                .filter(|c| c.strategy == strategy),
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
    /// The sample whose run time is the median of the cell's (the lower one for an even
    /// count): the sample its overhead and timeline come from.
    pub fn median_sample(&self) -> Option<&Sample> {
        let mut order: Vec<&Sample> = self.samples.iter().collect();
        order.sort_by_key(|s| s.run_ns);
        order.get(order.len().checked_sub(1)? / 2).copied()
    }
}
