//! Claims checked on the machine at hand: a claim compares two measured figures as a
//! [`Ratio`] against a threshold, and its [`Verdict`] follows from the ratio's interval by one
//! rule ([`verdict`]).
//!
//! "Processes beat the loop by 4x" is the ratio of the loop's run time over the pool's, above
//! 1.0 (the claim's direction is that processes win at all; the essay's 4x sits beside the
//! measured figure as a ratio of ratios, since machines differ). The rule never reads a point
//! estimate alone: a ratio whose interval reaches the threshold is inconclusive, however far
//! its median lies from it.

use crate::figures::Ratio;
use crate::format::significant;
use crate::{Cell, Results, Stats, Status};

/// Which side of its threshold a claim puts the ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The claim holds when the ratio is above the threshold.
    Above,
    /// The claim holds when the ratio is below the threshold.
    Below,
}

/// What the measurements say of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The ratio's whole interval lies on the claim's side of the threshold.
    Holds,
    /// The ratio's whole interval lies on the other side.
    DoesNotHold,
    /// The interval reaches the threshold: this run cannot tell.
    Inconclusive,
}

impl Direction {
    /// Its name as a suite file and the reports spell it: `above`, `below`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    /// The direction a suite file names.
    pub fn from_name(name: &str) -> Option<Self> {
        [Direction::Above, Direction::Below]
            .into_iter()
            .find(|d| d.name() == name)
    }
}

impl Verdict {
    /// The verdict as the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The rule, stated once: a claim **holds** when the measured ratio's whole interval lies on the
/// claim's side of the threshold, **does not hold** when the whole interval lies on the other
/// side, and is **inconclusive** when the interval reaches the threshold (an end on the
/// threshold included).
///
/// ```
/// use parbench_reports::claims::{verdict, Direction, Verdict};
/// use parbench_reports::figures::Ratio;
///
/// // The loop over the pool: 3.2x (2.9x–3.5x). "The pool wins" (above 1.0) holds.
/// let speedup = Ratio { value: 3.2, low: 2.9, high: 3.5 };
/// assert_eq!(verdict(&speedup, Direction::Above, 1.0), Verdict::Holds);
/// // "Threads gain nothing" (below 1.1) does not hold for it.
/// assert_eq!(verdict(&speedup, Direction::Below, 1.1), Verdict::DoesNotHold);
/// // 1.04x (0.97x–1.12x) against 1.0: inconclusive either way.
/// let close = Ratio { value: 1.04, low: 0.97, high: 1.12 };
/// assert_eq!(verdict(&close, Direction::Above, 1.0), Verdict::Inconclusive);
/// ```
pub fn verdict(ratio: &Ratio, direction: Direction, threshold: f64) -> Verdict {
    let (claimed_side, other_side) = match direction {
        Direction::Above => (ratio.low > threshold, ratio.high < threshold),
        Direction::Below => (ratio.high < threshold, ratio.low > threshold),
    };
    if claimed_side {
        Verdict::Holds
    } else if other_side {
        Verdict::DoesNotHold
    } else {
        Verdict::Inconclusive
    }
}

/// The figure a claim compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// The steady run time, with its interval across processes.
    RunTime,
    /// Setup, first run and teardown together, with its interval.
    EndToEnd,
    /// A round of a workload of rounds, with its interval.
    RoundTime,
    /// Peak memory of the process tree: one figure, no interval.
    PeakMemory,
    /// Bytes moved between processes in the median sample's run: one figure.
    BytesMoved,
}

impl Metric {
    /// The metric's figure for `cell`, as statistics (a figure without an interval has its
    /// ends on its median).
    pub fn of(self, cell: &Cell) -> Option<Stats> {
        let exact = |value: u64| Stats {
            n: 1,
            processes: 1,
            median_ns: value as f64,
            ci_low_ns: value as f64,
            ci_high_ns: value as f64,
            ..Stats::default()
        };
        match self {
            Metric::RunTime => cell.wall.clone(),
            Metric::EndToEnd => cell.end_to_end.clone(),
            Metric::RoundTime => cell.work_rounds.as_ref().map(|r| r.round.clone()),
            Metric::PeakMemory => cell.peak_rss_bytes.map(exact),
            Metric::BytesMoved => cell.median_sample().map(|s| exact(s.bytes_moved)),
        }
    }
}

/// One side of a claim's ratio: the cell it reads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Side {
    /// The workload with its non-default parameters, as cell ids spell it
    /// (`spin[ns_per_item=100]`).
    pub work: String,
    /// The strategy with its non-default parameters (`process-pool[resident=true]`).
    pub strategy: String,
    /// Its worker count; `None`: the most it was measured on.
    pub workers: Option<usize>,
    /// Its task count; `None`: any, when the rest leaves one cell.
    pub tasks: Option<usize>,
}

impl Side {
    /// The verified cell of `results` this side reads.
    ///
    /// # Errors
    /// No verified cell matches, or several do (at several sizes or task counts).
    pub fn find<'a>(&self, results: &'a Results) -> Result<&'a Cell, ClaimError> {
        let matching: Vec<&Cell> = results
            .cells
            .iter()
            .filter(|c| c.status == Status::Ok && c.verified)
            .filter(|c| c.workload_label() == self.work && c.strategy_label() == self.strategy)
            .filter(|c| self.tasks.is_none_or(|t| c.tasks == t))
            .filter(|c| self.workers.is_none_or(|w| c.workers == w))
            .collect();
        let most = matching.iter().map(|c| c.workers).max();
        let chosen: Vec<&Cell> = matching
            .into_iter()
            .filter(|c| self.workers.is_some() || Some(c.workers) == most)
            .collect();
        match chosen.as_slice() {
            [cell] => Ok(cell),
            [] => Err(ClaimError::NoCell(self.to_string())),
            several => Err(ClaimError::Ambiguous {
                side: self.to_string(),
                cells: several.iter().map(|c| c.id.clone()).collect(),
            }),
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} under {}", self.work, self.strategy)?;
        if let Some(tasks) = self.tasks {
            write!(f, " at {tasks} tasks")?;
        }
        match self.workers {
            Some(workers) => write!(f, " on {workers} workers"),
            None => write!(f, " on its most workers"),
        }
    }
}

/// A claim: `numerator`'s figure over `denominator`'s, above or below a threshold.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// A short name (`pool-beats-loop`).
    pub name: String,
    /// What was claimed, in a sentence.
    pub statement: String,
    /// The figure compared.
    pub metric: Metric,
    /// The cell over…
    pub numerator: Side,
    /// …this one.
    pub denominator: Side,
    /// Which side of the threshold the claim puts the ratio.
    pub direction: Direction,
    /// The threshold.
    pub threshold: f64,
    /// The claim's own ratio where its source gave one, shown beside the measured one.
    pub quoted: Option<f64>,
}

/// A claim checked against a run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Checked {
    /// The numerator's cell id.
    pub numerator: String,
    /// The denominator's cell id.
    pub denominator: String,
    /// The measured ratio with its interval.
    pub ratio: Ratio,
    /// What it says of the claim.
    pub verdict: Verdict,
}

/// Why a claim could not be checked against a run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// No verified cell matches a side.
    #[error("no verified cell of {0}")]
    NoCell(String),
    /// Several cells match a side.
    #[error("{side} matches {} cells ({}): name the tasks or the workers", cells.len(), cells.join(", "))]
    Ambiguous {
        /// The side.
        side: String,
        /// The cells it matches.
        cells: Vec<String>,
    },
    /// A cell has no figure of the claim's metric.
    #[error("{cell} has no {metric:?} figure")]
    NoFigure {
        /// The cell.
        cell: String,
        /// The metric.
        metric: Metric,
    },
}

impl Claim {
    /// The claim checked against `results`: its two cells, the ratio of their figures with its
    /// interval, and the verdict by [`verdict`].
    ///
    /// ```
    /// use parbench_reports::claims::{Claim, Direction, Metric, Side, Verdict};
    /// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
    ///
    /// let side = |strategy: &str| Side {
    ///     work: "square".into(),
    ///     strategy: strategy.into(),
    ///     workers: Some(2),
    ///     tasks: Some(64),
    /// };
    /// let claim = Claim {
    ///     name: "pool-beats-loop".into(),
    ///     statement: "a pool of processes squares integers faster than the loop".into(),
    ///     metric: Metric::RunTime,
    ///     numerator: Side { workers: None, ..side("sequential") },
    ///     denominator: side("process-pool"),
    ///     direction: Direction::Above,
    ///     threshold: 1.0,
    ///     quoted: Some(12.7 / 3.2),
    /// };
    /// let checked = claim.check(&results)?;
    /// assert_eq!(checked.denominator, "square/size=200000/tasks=64/process-pool/w2");
    /// // Copying the integers through pipes costs more than squaring them.
    /// assert_eq!(checked.verdict, Verdict::DoesNotHold);
    /// # Ok::<(), parbench_reports::claims::ClaimError>(())
    /// ```
    ///
    /// # Errors
    /// A side matches no verified cell or several, or a cell lacks the metric's figure.
    pub fn check(&self, results: &Results) -> Result<Checked, ClaimError> {
        let numerator = self.numerator.find(results)?;
        let denominator = self.denominator.find(results)?;
        let figure = |cell: &Cell| {
            self.metric.of(cell).ok_or_else(|| ClaimError::NoFigure {
                cell: cell.id.clone(),
                metric: self.metric,
            })
        };
        let ratio = Ratio::of(&figure(numerator)?, &figure(denominator)?);
        Ok(Checked {
            numerator: numerator.id.clone(),
            denominator: denominator.id.clone(),
            verdict: verdict(&ratio, self.direction, self.threshold),
            ratio,
        })
    }
}

impl Metric {
    /// Every metric, in the order the reports list them.
    pub const ALL: [Metric; 5] = [
        Metric::RunTime,
        Metric::EndToEnd,
        Metric::RoundTime,
        Metric::PeakMemory,
        Metric::BytesMoved,
    ];

    /// The metric a suite file names.
    ///
    /// ```
    /// use parbench_reports::claims::Metric;
    /// assert_eq!(Metric::from_name("peak-memory"), Some(Metric::PeakMemory));
    /// assert_eq!(Metric::from_name("speed"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Its name as a suite file and the reports spell it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::RunTime => "run-time",
            Metric::EndToEnd => "end-to-end",
            Metric::RoundTime => "round-time",
            Metric::PeakMemory => "peak-memory",
            Metric::BytesMoved => "bytes-moved",
        }
    }
}

/// A claim's result in the reports' words.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The claim's name.
    pub name: String,
    /// What was claimed.
    pub statement: String,
    /// `holds`, `does not hold`, `inconclusive`, or `cannot be checked`.
    pub verdict: String,
    /// The measured ratio: `0.08x (0.07x–0.09x) run-time` or why there is none.
    pub measured: String,
    /// The claim's side of its threshold: `above 1`.
    pub claimed: String,
    /// The quoted ratio and the measured one over it: `3.97x (measured 0.02 of it)`.
    pub quoted: String,
    /// The two cells: `numerator / denominator`.
    pub cells: String,
}

/// Every claim of the run's suite checked against its cells, in the reports' words.
///
/// ```
/// use parbench_reports::claims::rows;
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// // A run whose suite claims nothing has no rows.
/// assert!(rows(&results).is_empty());
/// ```
pub fn rows(results: &Results) -> Vec<Row> {
    results
        .suite
        .claims
        .iter()
        .map(|claim| {
            let checked = claim.check(results);
            let (verdict, measured, cells) = match &checked {
                Ok(c) => (
                    c.verdict.as_str().to_owned(),
                    format!(
                        "{}x ({}x–{}x) {}",
                        significant(c.ratio.value),
                        significant(c.ratio.low),
                        significant(c.ratio.high),
                        claim.metric.name()
                    ),
                    format!("{} / {}", c.numerator, c.denominator),
                ),
                Err(e) => ("cannot be checked".to_owned(), e.to_string(), String::new()),
            };
            let quoted = match (claim.quoted, &checked) {
                (Some(q), Ok(c)) => format!(
                    "{}x (measured {} of it)",
                    significant(q),
                    significant(c.ratio.value / q)
                ),
                (Some(q), Err(_)) => format!("{}x", significant(q)),
                (None, _) => String::new(),
            };
            Row {
                name: claim.name.clone(),
                statement: claim.statement.clone(),
                verdict,
                measured,
                claimed: format!("{} {}", claim.direction.name(), claim.threshold),
                quoted,
                cells,
            }
        })
        .collect()
}

/// The claims as a Markdown section; empty when the suite claims nothing.
pub fn markdown(results: &Results) -> String {
    let rows = rows(results);
    if rows.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "### Claims\n\nA claim holds when its measured ratio's whole 95% interval lies on its \
         side of the threshold, does not hold when it lies on the other, and is inconclusive \
         when it reaches the threshold.\n\n| claim | verdict | measured | claimed | quoted | \
         cells |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        md.push_str(&format!(
            "| **{}**: {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.statement.replace('|', "\\|"),
            row.verdict,
            row.measured.replace('|', "\\|"),
            row.claimed,
            row.quoted,
            row.cells
        ));
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(low: f64, value: f64, high: f64) -> Ratio {
        Ratio { value, low, high }
    }

    #[test]
    fn an_interval_that_straddles_the_threshold_is_inconclusive_whatever_its_median() {
        for direction in [Direction::Above, Direction::Below] {
            // The median far above, the interval still reaching below.
            assert_eq!(
                verdict(&ratio(0.9, 5.0, 9.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.6, 1.2), direction, 1.0),
                Verdict::Inconclusive
            );
            // An end exactly on the threshold reaches it.
            assert_eq!(
                verdict(&ratio(1.0, 1.5, 2.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.7, 1.0), direction, 1.0),
                Verdict::Inconclusive
            );
        }
    }

    fn fixture() -> Results {
        serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap()
    }

    fn side(strategy: &str, workers: Option<usize>, tasks: Option<usize>) -> Side {
        Side {
            work: "square".into(),
            strategy: strategy.into(),
            workers,
            tasks,
        }
    }

    #[test]
    fn a_side_reads_one_verified_cell_at_its_most_workers_or_says_why_not() {
        let results = fixture();
        let cell = side("rayon", None, Some(8)).find(&results).unwrap();
        assert_eq!(cell.id, "square/size=200000/tasks=8/rayon/w2");
        let cell = side("rayon", Some(1), Some(8)).find(&results).unwrap();
        assert_eq!(cell.id, "square/size=200000/tasks=8/rayon/w1");
        let err = side("rayon", Some(2), None).find(&results).unwrap_err();
        assert_eq!(
            err.to_string(),
            "square under rayon on 2 workers matches 3 cells (square/size=200000/tasks=1/rayon/w2, \
             square/size=200000/tasks=8/rayon/w2, square/size=200000/tasks=64/rayon/w2): name \
             the tasks or the workers"
        );
        let err = side("tokio", None, Some(8)).find(&results).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no verified cell of square under tokio at 8 tasks on its most workers"
        );
    }

    #[test]
    fn figures_without_an_interval_are_decided_by_their_value() {
        let results = fixture();
        // Peak memory: the pool's process tree over the loop's, above 1.5x.
        let claim = Claim {
            name: "pool-memory".into(),
            statement: "a pool of processes takes more memory than one process".into(),
            metric: Metric::PeakMemory,
            numerator: side("process-pool", Some(2), Some(8)),
            denominator: side("sequential", None, Some(8)),
            direction: Direction::Above,
            threshold: 1.5,
            quoted: None,
        };
        let checked = claim.check(&results).unwrap();
        assert_eq!(checked.ratio.low, checked.ratio.high);
        assert!((checked.ratio.value - 20_115_456.0 / 11_022_336.0).abs() < 1e-12);
        assert_eq!(checked.verdict, Verdict::Holds);
    }

    #[test]
    fn the_suites_claims_become_rows_with_their_verdicts_or_why_not() {
        let mut results = fixture();
        let claim = Claim {
            name: "pool".into(),
            statement: "a pool beats the loop".into(),
            metric: Metric::RunTime,
            numerator: side("sequential", None, Some(64)),
            denominator: side("process-pool", Some(2), Some(64)),
            direction: Direction::Above,
            threshold: 1.0,
            quoted: Some(4.0),
        };
        let lost = Claim {
            denominator: side("tokio", Some(2), Some(64)),
            ..claim.clone()
        };
        results.suite.claims = vec![claim, lost];
        let rows = rows(&results);
        assert_eq!(rows[0].verdict, "does not hold");
        assert!(rows[0].measured.ends_with(" run-time"), "{:?}", rows[0]);
        assert_eq!(rows[0].claimed, "above 1");
        assert!(
            rows[0].quoted.starts_with("4.00x (measured 0.0"),
            "{:?}",
            rows[0]
        );
        assert_eq!(
            rows[0].cells,
            "square/size=200000/tasks=64/sequential/w1 / square/size=200000/tasks=64/process-pool/w2"
        );
        assert_eq!(
            (rows[1].verdict.as_str(), rows[1].measured.as_str()),
            (
                "cannot be checked",
                "no verified cell of square under tokio at 64 tasks on 2 workers"
            )
        );
        let md = markdown(&results);
        assert!(md.starts_with("### Claims\n"), "{md}");
        assert_eq!(md.matches("\n| **").count(), 2, "{md}");
    }

    #[test]
    fn an_interval_beyond_the_threshold_holds_or_not_as_the_direction_says() {
        let above = ratio(1.2, 1.3, 1.4);
        let below = ratio(0.6, 0.7, 0.8);
        assert_eq!(verdict(&above, Direction::Above, 1.0), Verdict::Holds);
        assert_eq!(verdict(&above, Direction::Below, 1.0), Verdict::DoesNotHold);
        assert_eq!(verdict(&below, Direction::Below, 1.0), Verdict::Holds);
        assert_eq!(verdict(&below, Direction::Above, 1.0), Verdict::DoesNotHold);
        // The threshold is the claim's, not 1.0: 1.3x is not "at least 1.5x".
        assert_eq!(verdict(&above, Direction::Above, 1.5), Verdict::DoesNotHold);
        assert_eq!(verdict(&above, Direction::Below, 1.5), Verdict::Holds);
        assert_eq!(Verdict::DoesNotHold.as_str(), "does not hold");
    }
}
