//! Which strategy leads a bucket, and whether the lead is settled: the contest the sampler
//! races its processes to, and that the reports tell per bucket.
//!
//! A bucket's cells (one work, size and task count, every strategy and worker count) are
//! compared by their median run time with its interval. The **leader** is the cell with the
//! lowest median. Every other cell is, against the leader:
//!
//! - **behind**: the ratio of its median to the leader's has an interval wholly above
//!   `1 + TIE` ([`TIE`], the tie margin): slower by more than the margin beyond doubt;
//! - **equivalent**: that interval lies wholly within the tie margin, so no run on this
//!   machine would tell the two apart anyway;
//! - **open** otherwise: it may still be the faster, or within the margin, or beyond it.
//!
//! `decide` labels a bucket with the simplest strategy not behind, so a bucket's label can
//! change with more processes only while a cell is open.
//!
//! The bucket is **settled** when no cell is open. While it is not, the open cells and the
//! leader are what more processes should go to, and the cells clearly behind are not: the
//! successive elimination of racing algorithms (F-Race, Birattari et al. 2002), with the
//! intervals across processes as the test.
//!
//! Of the open cells, the ones that can still change the bucket's **label** go first: the
//! cells at most as simple as the label (the simplest cell not behind), with the leader they
//! are measured against ([`Contest::deciding`]). An open cell more complex than the label can
//! change who leads, but not what `decide` advises.

use crate::figures::{Bucket, Ratio};
use crate::{Cell, Results, Stats, Status};

/// The tie margin: the decision tree's ([`crate::decide::EQUIVALENT`]).
pub const TIE: f64 = crate::decide::EQUIVALENT;

/// Where a cell stands against its bucket's leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The lowest median of its bucket.
    Leader,
    /// Its interval against the leader's overlaps and reaches past the tie margin: undecided.
    Open,
    /// Equivalent to the leader within the tie margin.
    Tied,
    /// Slower than the leader by more than the tie margin beyond doubt.
    Behind,
}

/// One bucket's contest: each entry's standing, in the order the entries were given.
///
/// ```
/// use parbench_reports::contest::{Contest, Standing};
/// use parbench_reports::Stats;
///
/// let stats = |median_ns: f64, half: f64| Stats {
///     median_ns,
///     ci_low_ns: median_ns / (1.0 + half),
///     ci_high_ns: median_ns * (1.0 + half),
///     ..Stats::default()
/// };
/// // 100 ± 1%, 101 ± 1% (a tie), 104 ± 6% (open) and 150 ± 3% (behind).
/// let entries = [stats(100.0, 0.01), stats(101.0, 0.01), stats(104.0, 0.06), stats(150.0, 0.03)];
/// let contest = Contest::of(&entries.iter().collect::<Vec<_>>()).unwrap();
/// assert_eq!(
///     contest.standings,
///     [Standing::Leader, Standing::Tied, Standing::Open, Standing::Behind]
/// );
/// assert!(!contest.settled());
/// assert_eq!(contest.racing(), [0, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contest {
    /// Each entry's standing.
    pub standings: Vec<Standing>,
}

impl Contest {
    /// The contest among run-time figures; `None` for none.
    pub fn of(entries: &[&Stats]) -> Option<Contest> {
        let leader = (0..entries.len())
            .min_by(|&a, &b| entries[a].median_ns.total_cmp(&entries[b].median_ns))?;
        let standings = entries
            .iter()
            .enumerate()
            .map(|(i, stats)| {
                if i == leader {
                    return Standing::Leader;
                }
                let ratio = Ratio::of(stats, entries[leader]);
                if ratio.high <= 1.0 + TIE && ratio.low >= 1.0 / (1.0 + TIE) {
                    Standing::Tied
                } else if ratio.low > 1.0 + TIE {
                    Standing::Behind
                } else {
                    Standing::Open
                }
            })
            .collect();
        Some(Contest { standings })
    }

    /// Whether the lead is decided: no entry is open.
    pub fn settled(&self) -> bool {
        !self.standings.contains(&Standing::Open)
    }

    /// The entries more processes should go to, by index: the open ones and the leader, or
    /// none once the contest is settled.
    pub fn racing(&self) -> Vec<usize> {
        if self.settled() {
            return Vec::new();
        }
        (0..self.standings.len())
            .filter(|&i| matches!(self.standings[i], Standing::Leader | Standing::Open))
            .collect()
    }

    /// The entries whose further processes can still change the bucket's label, by index: the
    /// open entries at most as simple as the label — the simplest entry not behind, by `order`
    /// (one key per entry, lower is simpler) — and the leader; none once none of them is open.
    ///
    /// ```
    /// use parbench_reports::contest::Contest;
    /// use parbench_reports::Stats;
    ///
    /// let stats = |median_ns: f64, half: f64| Stats {
    ///     median_ns,
    ///     ci_low_ns: median_ns / (1.0 + half),
    ///     ci_high_ns: median_ns * (1.0 + half),
    ///     ..Stats::default()
    /// };
    /// // The simplest (0) is open 5% behind the leader (2); the one between (1) is open too.
    /// let entries = [stats(105.0, 0.04), stats(108.0, 0.05), stats(100.0, 0.01)];
    /// let contest = Contest::of(&entries.iter().collect::<Vec<_>>()).unwrap();
    /// assert_eq!(contest.deciding(&[0, 1, 2]), [0, 2]);
    /// // Simplest last: the leader is the label, and no open entry is simpler than it.
    /// assert!(contest.deciding(&[2, 1, 0]).is_empty());
    /// assert_eq!(contest.racing(), [0, 1, 2]);
    /// ```
    pub fn deciding<K: Ord>(&self, order: &[K]) -> Vec<usize> {
        let label = (0..self.standings.len())
            .filter(|&i| self.standings[i] != Standing::Behind)
            .min_by(|&a, &b| order[a].cmp(&order[b]));
        let Some(label) = label else {
            return Vec::new();
        };
        let open: Vec<usize> = (0..self.standings.len())
            .filter(|&i| self.standings[i] == Standing::Open && order[i] <= order[label])
            .collect();
        if open.is_empty() {
            return open;
        }
        let leader = self.leader();
        let mut deciding = open;
        deciding.push(leader);
        deciding.sort_unstable();
        deciding
    }

    /// The leader's index.
    pub fn leader(&self) -> usize {
        self.standings
            .iter()
            .position(|&s| s == Standing::Leader)
            .unwrap_or(0)
    }
}

/// A bucket's contest in a run's results: its verified cells with an interval across
/// processes, each with its standing.
#[derive(Debug, Clone)]
pub struct BucketContest<'a> {
    /// The bucket.
    pub bucket: Bucket<'a>,
    /// Its cells in the contest, in the run's order.
    pub cells: Vec<&'a Cell>,
    /// Their standings.
    pub contest: Contest,
}

impl BucketContest<'_> {
    /// The leading cell.
    pub fn leader(&self) -> &Cell {
        self.cells[self.contest.leader()]
    }

    /// The cells still open against the leader.
    pub fn open(&self) -> Vec<&Cell> {
        self.cells
            .iter()
            .zip(&self.contest.standings)
            .filter(|(_, s)| **s == Standing::Open)
            .map(|(c, _)| *c)
            .collect()
    }
}

/// Every bucket's contest, in the order the buckets first ran; buckets with fewer than two
/// cells in contest are left out.
pub fn contests(results: &Results) -> Vec<BucketContest<'_>> {
    let mut buckets: Vec<(Bucket<'_>, Vec<&Cell>)> = Vec::new();
    for cell in &results.cells {
        let Some(wall) = &cell.wall else { continue };
        if cell.status != Status::Ok || wall.processes < 2 {
            continue;
        }
        let bucket = Bucket::of(cell);
        match buckets.iter_mut().find(|(b, _)| *b == bucket) {
            Some((_, cells)) => cells.push(cell),
            None => buckets.push((bucket, vec![cell])),
        }
    }
    buckets
        .into_iter()
        .filter(|(_, cells)| cells.len() >= 2)
        .filter_map(|(bucket, cells)| {
            let walls: Vec<&Stats> = cells.iter().filter_map(|c| c.wall.as_ref()).collect();
            let contest = Contest::of(&walls)?;
            Some(BucketContest {
                bucket,
                cells,
                contest,
            })
        })
        .collect()
}

/// Whether each bucket's lead is settled, in a few words for the terminal and the reports: how
/// many are. `None` when no bucket has two cells in contest.
pub fn summary(results: &Results) -> Option<String> {
    let contests = contests(results);
    if contests.is_empty() {
        return None;
    }
    let settled = contests.iter().filter(|c| c.contest.settled()).count();
    Some(format!("{settled} of {} buckets settled", contests.len()))
}

/// Each bucket whose lead is not settled, a line each: the bucket, its leader and the cells
/// still open against it.
pub fn open_buckets(results: &Results) -> Vec<String> {
    contests(results)
        .iter()
        .filter(|c| !c.contest.settled())
        .map(|c| {
            let name = |cell: &Cell| format!("{}/w{}", cell.strategy_label(), cell.workers);
            let others: Vec<String> = c.open().into_iter().map(name).collect();
            format!(
                "{}/size={}/tasks={}: {} leads; open: {}",
                c.bucket.work,
                c.bucket.size,
                c.bucket.tasks,
                name(c.leader()),
                others.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(median_ns: f64, half: f64) -> Stats {
        Stats {
            median_ns,
            processes: 3,
            ci_level: 0.95,
            ci_low_ns: median_ns / (1.0 + half),
            ci_high_ns: median_ns * (1.0 + half),
            ..Stats::default()
        }
    }

    #[test]
    fn a_bucket_is_settled_when_nothing_is_open() {
        let apart = [stats(100.0, 0.01), stats(120.0, 0.01), stats(300.0, 0.2)];
        let contest = Contest::of(&apart.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(
            contest.standings,
            [Standing::Leader, Standing::Behind, Standing::Behind]
        );
        assert!(contest.settled() && contest.racing().is_empty());
        // The leader is whichever has the lowest median, wherever it stands.
        let tied = [stats(101.0, 0.01), stats(100.0, 0.01)];
        let contest = Contest::of(&tied.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(contest.standings, [Standing::Tied, Standing::Leader]);
        assert_eq!(contest.leader(), 1);
        assert!(contest.settled());
        // 3% apart with ±3% each: the ratio's interval (about 0.99 to 1.07) reaches past the
        // tie margin and below 1: open.
        let close = [stats(100.0, 0.03), stats(103.0, 0.03)];
        let contest = Contest::of(&close.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(contest.standings, [Standing::Leader, Standing::Open]);
        assert_eq!(contest.racing(), [0, 1]);
        assert!(Contest::of(&[]).is_none());
    }

    #[test]
    fn the_summary_names_the_open_buckets() {
        let mut results: Results =
            serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
        let template = results.cells[0].clone();
        let cell = |strategy: &str, tasks: usize, wall: Stats| Cell {
            id: format!("spin/size=10/tasks={tasks}/{strategy}/w2"),
            workload: "spin".to_owned(),
            params: Default::default(),
            strategy: strategy.to_owned(),
            strategy_params: Default::default(),
            workers: 2,
            size: 10,
            tasks,
            status: Status::Ok,
            verified: true,
            wall: Some(wall),
            ..template.clone()
        };
        results.cells = vec![
            cell("threads", 8, stats(100.0, 0.01)),
            cell("rayon", 8, stats(150.0, 0.01)),
            cell("threads", 64, stats(100.0, 0.04)),
            cell("rayon", 64, stats(102.0, 0.04)),
        ];
        assert_eq!(summary(&results).unwrap(), "1 of 2 buckets settled");
        assert_eq!(
            open_buckets(&results),
            ["spin/size=10/tasks=64: threads/w2 leads; open: rayon/w2"]
        );
        results.cells.truncate(2);
        assert_eq!(summary(&results).unwrap(), "1 of 1 buckets settled");
        assert!(open_buckets(&results).is_empty());
        results.cells.truncate(1);
        assert!(summary(&results).is_none());
    }
}
