//! Benchmark history: runs kept over commits, and where their figures changed.
//!
//! [`store::History`] keeps every run's figures in an SQLite file; [`changes::Detector`] finds
//! the change points of one series; [`check`] runs it over every cell and metric of a machine
//! and says which changes are regressions that still stand at the head of the history.

pub mod changes;
pub mod store;

use crate::compare::{Metric, Scale};
use crate::Thresholds;

use self::changes::{ChangePoint, Detector};
use self::store::{History, HistoryError, Point, SeriesKey, Verdict};

/// A change point of one cell's series, placed among the commits.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The machine's fingerprint.
    pub machine: String,
    /// The suite whose cell it is.
    pub suite: String,
    /// The cell's id.
    pub cell: String,
    /// The metric.
    pub metric: Metric,
    /// The change point in the series.
    pub change: ChangePoint,
    /// The last point before the change.
    pub before: Point,
    /// The first point after it.
    pub after: Point,
    /// Whether the later level is worse by more than the gate's threshold (every metric is
    /// better lower).
    pub regression: bool,
    /// Whether the later level is better by more than the threshold.
    pub improvement: bool,
    /// Whether no later change point follows: the level after it is the head's.
    pub at_head: bool,
    /// A paired run's verdict on it, when one was made.
    pub verdict: Option<Verdict>,
}

impl Finding {
    /// The change on the metric's scale: the relative change of a ratio, the difference of
    /// points (overhead shares).
    pub fn size(&self) -> f64 {
        match self.metric.scale() {
            Scale::Ratio => self.change.change(),
            Scale::Points => self.change.after.mean - self.change.before.mean,
        }
    }

    /// The 95% interval of [`size`](Self::size).
    pub fn interval(&self) -> (f64, f64) {
        match self.metric.scale() {
            Scale::Ratio => self.change.interval(),
            Scale::Points => self.change.difference_interval(),
        }
    }

    /// Whether it fails a build: a regression at the head that no paired run refuted.
    pub fn fails(&self) -> bool {
        self.regression && self.at_head && self.verdict.as_ref().is_none_or(|v| v.confirmed)
    }

    /// The commits on either side, as `before..after` (short hashes; `?` where a run had
    /// none).
    pub fn commits(&self) -> String {
        let short = |p: &Point| {
            p.commit
                .as_deref()
                .map_or("?".to_owned(), |c| c.chars().take(10).collect())
        };
        format!("{}..{}", short(&self.before), short(&self.after))
    }
}

/// What [`check`] looks at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Check {
    /// The detector's settings.
    pub detector: Detector,
    /// The gate's thresholds: a change smaller than its metric's is neither a regression nor
    /// an improvement.
    pub thresholds: Thresholds,
    /// Whether runs of a working tree with uncommitted changes count (they are kept either
    /// way).
    pub include_dirty: bool,
}

/// The change points of every cell and metric of every machine in the history, newest first.
///
/// # Errors
///
/// The history's, naming the file.
pub fn check(history: &History, settings: &Check) -> Result<Vec<Finding>, HistoryError> {
    let mut machines: Vec<String> = history.runs()?.into_iter().map(|r| r.machine).collect();
    machines.sort();
    machines.dedup();
    let mut findings = Vec::new();
    for machine in machines {
        for key in history.measured(&machine)?.into_keys() {
            let Some(metric) = Metric::from_name(&key.metric) else {
                continue;
            };
            let series: Vec<Point> = history
                .series(&machine, &key)?
                .into_iter()
                .filter(|p| settings.include_dirty || !p.dirty)
                .collect();
            findings.extend(findings_of(&machine, &key, metric, &series, settings));
        }
    }
    for finding in &mut findings {
        if let (Some(before), Some(after)) = (&finding.before.commit, &finding.after.commit) {
            finding.verdict = history.verdict(
                &finding.machine,
                &finding.cell,
                finding.metric.name(),
                (before, after),
            )?;
        }
    }
    findings.sort_by(|a, b| {
        b.after
            .time
            .cmp(&a.after.time)
            .then_with(|| a.cell.cmp(&b.cell))
            .then_with(|| a.metric.cmp(&b.metric))
    });
    Ok(findings)
}

/// The findings of one series (its points in commit order).
pub fn findings_of(
    machine: &str,
    key: &SeriesKey,
    metric: Metric,
    series: &[Point],
    settings: &Check,
) -> Vec<Finding> {
    let values: Vec<f64> = series.iter().map(|p| p.value).collect();
    let found = settings.detector.detect(&values);
    let threshold = metric.threshold(&settings.thresholds);
    let last = found.len().saturating_sub(1);
    found
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            let mut finding = Finding {
                machine: machine.to_owned(),
                suite: key.suite.clone(),
                cell: key.cell.clone(),
                metric,
                change,
                before: series[change.index - 1].clone(),
                after: series[change.index].clone(),
                regression: false,
                improvement: false,
                at_head: i == last,
                verdict: None,
            };
            let size = finding.size();
            finding.regression = size > threshold;
            finding.improvement = size < -threshold;
            finding
        })
        .collect()
}
