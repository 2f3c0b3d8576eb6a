//! Benchmark history: runs kept over commits, and where their figures changed.
//!
//! [`store::History`] keeps every run's figures in an SQLite file; [`changes::Detector`] finds
//! the change points of one series; [`trends`] and [`check`] run it over every cell and metric
//! of every machine and say which changes are regressions that still stand at the head of the
//! history; [`html`] and [`markdown`] show them.

pub mod changes;
pub mod store;

use std::collections::BTreeMap;

use crate::compare::{Metric, Scale};
use crate::Thresholds;

use self::changes::{ChangePoint, Detector};
use self::store::{History, HistoryError, Point, Run, SeriesKey, Verdict};

/// What a change point is, judged against the thresholds (see [`Finding::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regression that stands at the head and no paired run refuted: it fails a build.
    FailingRegression,
    /// A regression past the threshold that does not stand at the head, or was refuted.
    Regression,
    /// An improvement past the threshold.
    Improvement,
    /// A change within the threshold.
    Within,
}

/// A change point of one cell's series, placed among the commits.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The machine, as [`store::machine_key`] names it.
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
    /// Whether no later change point follows, and — for a regression — the newest
    /// [`HEAD_POINTS`] runs are still past the threshold: the level after it is the head's.
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

    /// What it is: a regression (standing at the head or not), an improvement, or a change
    /// within the thresholds.
    pub fn kind(&self) -> Kind {
        if self.fails() {
            Kind::FailingRegression
        } else if self.regression {
            Kind::Regression
        } else if self.improvement {
            Kind::Improvement
        } else {
            Kind::Within
        }
    }

    /// What a paired run made of it, in words, when one was made.
    pub fn verdict_text(&self) -> Option<&'static str> {
        self.verdict.as_ref().map(|v| {
            if v.confirmed {
                "confirmed by a paired run"
            } else {
                "refuted by a paired run"
            }
        })
    }

    /// Its levels, change, interval and p-value as every listing spells them:
    /// `1.38 ms → 1.53 ms (+10.2%, 95% CI [+9.6%, +10.8%], p = 4.0e-12)`.
    pub fn figures(&self) -> String {
        let metric = self.metric;
        let (low, high) = self.interval();
        format!(
            "{} → {} ({}, 95% CI [{}, {}], p = {:.1e})",
            metric.format(self.change.before.mean),
            metric.format(self.change.after.mean),
            metric.format_change(self.size()),
            metric.format_change(low),
            metric.format_change(high),
            self.change.p
        )
    }

    /// Whether it fails a build: a regression at the head that no paired run refuted.
    pub fn fails(&self) -> bool {
        self.regression && self.at_head && self.verdict.as_ref().is_none_or(|v| v.confirmed)
    }

    /// The commits on either side, as `before..after` (short hashes; `?` where a run had
    /// none).
    pub fn commits(&self) -> String {
        fn short(point: &Point) -> &str {
            point.commit.as_deref().map_or("?", short_hash)
        }
        format!("{}..{}", short(&self.before), short(&self.after))
    }
}

/// A commit as people read it: its first ten characters.
///
/// ```
/// use parbench_reports::history::short_hash;
/// assert_eq!(short_hash("0123456789abcdef"), "0123456789");
/// assert_eq!(short_hash("abc"), "abc");
/// ```
pub fn short_hash(hash: &str) -> &str {
    hash.get(..10).unwrap_or(hash)
}

/// What [`check`] looks at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Check {
    /// The detector's settings.
    pub detector: Detector,
    /// The thresholds a change must pass to be a regression or an improvement; `None`: each
    /// suite's own (its `[gate]`, as its newest run recorded them), else the gate's defaults.
    pub thresholds: Option<Thresholds>,
    /// Whether runs of a working tree with uncommitted changes count (they are kept either
    /// way).
    pub include_dirty: bool,
}

/// What the history shows of one machine: its runs, every series, and their change points.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    /// The machine, as [`store::machine_key`] names it.
    pub machine: String,
    /// Its runs, in commit order.
    pub runs: Vec<Run>,
    /// Every series measured on it, its points in commit order (the runs of working trees
    /// with uncommitted changes left out unless the check counts them).
    pub series: BTreeMap<SeriesKey, Vec<Point>>,
    /// The change points of every series, newest first.
    pub findings: Vec<Finding>,
    /// The thresholds each suite's findings were judged against.
    pub thresholds: BTreeMap<String, Thresholds>,
}

impl Trend {
    /// Regressions that stand at the head and no paired run refuted.
    pub fn failing(&self) -> usize {
        self.findings.iter().filter(|f| f.fails()).count()
    }
}

/// What the history shows of each machine (see [`Trend`]), the machine with the most runs
/// first.
///
/// # Errors
///
/// The history's, naming the file.
pub fn trends(history: &History, settings: &Check) -> Result<Vec<Trend>, HistoryError> {
    let runs = history.runs()?;
    let mut machines: Vec<String> = runs.iter().map(|r| r.machine.clone()).collect();
    machines.sort();
    machines.dedup();
    let mut trends = Vec::with_capacity(machines.len());
    for machine in machines {
        let mut series = BTreeMap::new();
        let mut findings = Vec::new();
        let mut thresholds = BTreeMap::new();
        for key in history.measured(&machine)?.into_keys() {
            let points: Vec<Point> = history
                .series(&machine, &key)?
                .into_iter()
                .filter(|p| settings.include_dirty || !p.dirty)
                .collect();
            let suite_thresholds = *thresholds.entry(key.suite.clone()).or_insert_with(|| {
                settings.thresholds.unwrap_or_else(|| {
                    runs.iter()
                        .rev()
                        .filter(|r| r.suite == key.suite)
                        .find_map(|r| r.gate)
                        .unwrap_or_default()
                })
            });
            if let Some(metric) = Metric::from_name(&key.metric) {
                let judged = Judged {
                    detector: &settings.detector,
                    thresholds: &suite_thresholds,
                };
                findings.extend(findings_of(&machine, &key, metric, &points, &judged));
            }
            series.insert(key, points);
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
        sort_newest_first(&mut findings);
        trends.push(Trend {
            runs: runs
                .iter()
                .filter(|r| r.machine == machine)
                .cloned()
                .collect(),
            machine,
            series,
            findings,
            thresholds,
        });
    }
    trends.sort_by_key(|t| std::cmp::Reverse(t.runs.len()));
    Ok(trends)
}

/// The change points of every cell and metric of every machine in the history, newest first.
///
/// # Errors
///
/// The history's, naming the file.
pub fn check(history: &History, settings: &Check) -> Result<Vec<Finding>, HistoryError> {
    Ok(findings(&trends(history, settings)?))
}

/// The findings of every machine's trend, newest first.
pub fn findings(trends: &[Trend]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = trends.iter().flat_map(|t| t.findings.clone()).collect();
    sort_newest_first(&mut findings);
    findings
}

/// Orders findings newest change first (then by cell and metric), as every listing shows them.
fn sort_newest_first(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.after
            .time
            .cmp(&a.after.time)
            .then_with(|| a.cell.cmp(&b.cell))
            .then_with(|| a.metric.cmp(&b.metric))
    });
}

/// How one series is judged: the detector, and the thresholds of its suite.
#[derive(Clone, Copy, Debug)]
pub struct Judged<'a> {
    /// The detector.
    pub detector: &'a Detector,
    /// The thresholds a change must pass.
    pub thresholds: &'a Thresholds,
}

/// How many of a series' newest points tell its head's level.
pub const HEAD_POINTS: usize = 3;

/// The findings of one series (its points in commit order).
///
/// A regression stands at the head when no change point follows it and the head's level — the
/// mean of the newest [`HEAD_POINTS`] points — is still past the threshold over the level
/// before it: a fix a few commits old that the detector cannot yet tell from noise does not
/// leave the regression standing.
pub fn findings_of(
    machine: &str,
    key: &SeriesKey,
    metric: Metric,
    series: &[Point],
    judged: &Judged<'_>,
) -> Vec<Finding> {
    let values: Vec<f64> = series.iter().map(|p| p.value).collect();
    let found = judged.detector.detect(&values);
    let threshold = metric.threshold(judged.thresholds);
    let last = found.len().saturating_sub(1);
    let newest = &values[values.len().saturating_sub(HEAD_POINTS)..];
    let head = newest.iter().sum::<f64>() / newest.len().max(1) as f64;
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
                at_head: false,
                verdict: None,
            };
            let size = finding.size();
            finding.regression = size > threshold;
            finding.improvement = size < -threshold;
            let head_size = match metric.scale() {
                Scale::Ratio if change.before.mean != 0.0 => head / change.before.mean - 1.0,
                _ => head - change.before.mean,
            };
            finding.at_head = i == last && (!finding.regression || head_size > threshold);
            finding
        })
        .collect()
}

/// The first line of [`markdown`]: a hidden marker, so that a bot updates its comment rather
/// than posting another.
pub const MARKDOWN_MARKER: &str = "<!-- parbench history -->";

/// The trend page, `history.html`: self-contained (no script, no request), per machine a grid
/// of where things moved, every series that moved past the thresholds drawn over commits with
/// its change points marked, and which strategy won each bucket at each commit.
///
/// # Errors
///
/// A chart that cannot be drawn.
pub fn html(trends: &[Trend]) -> Result<String, crate::ReportError> {
    crate::html::history::page(trends).map_err(|source| crate::ReportError::Serialize {
        format: "HTML",
        source,
    })
}

/// The history for a pull request's comment: how many regressions stand at the head, and a
/// row per change point past the thresholds, newest first.
pub fn markdown(trends: &[Trend]) -> String {
    use std::fmt::Write as _;
    let failing: usize = trends.iter().map(Trend::failing).sum();
    let mut out = format!("{MARKDOWN_MARKER}\n");
    let _ = writeln!(
        out,
        "## parbench history: {}\n",
        if failing == 0 {
            "no regression stands at the head".to_owned()
        } else {
            format!("{failing} regression(s) stand at the head")
        }
    );
    for trend in trends {
        let moved: Vec<&Finding> = trend
            .findings
            .iter()
            .filter(|f| f.regression || f.improvement)
            .collect();
        let _ = writeln!(
            out,
            "**{}** · {} runs · {} change points, {} past the thresholds\n",
            trend.machine,
            trend.runs.len(),
            trend.findings.len(),
            moved.len()
        );
        if moved.is_empty() {
            continue;
        }
        out.push_str("| commits | cell | metric | change | 95% CI | p | verdict |\n");
        out.push_str("|---|---|---|---:|---|---:|---|\n");
        for finding in moved {
            let (low, high) = finding.interval();
            let kind = match finding.kind() {
                Kind::FailingRegression => "**regression at the head**",
                Kind::Regression => "regression",
                Kind::Improvement => "improvement",
                Kind::Within => "within the thresholds",
            };
            let paired = match &finding.verdict {
                Some(v) if v.confirmed => ", confirmed",
                Some(_) => ", refuted",
                None => "",
            };
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} → {} ({}) | [{}, {}] | {:.1e} | {kind}{paired} |",
                finding.commits(),
                finding.cell,
                finding.metric.name(),
                finding.metric.format(finding.change.before.mean),
                finding.metric.format(finding.change.after.mean),
                finding.metric.format_change(finding.size()),
                finding.metric.format_change(low),
                finding.metric.format_change(high),
                finding.change.p
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                run: i as i64,
                commit: Some(format!("{i:040}")),
                subject: None,
                dirty: false,
                time: i as i64,
                value,
                interval: None,
                units: vec![value],
            })
            .collect()
    }

    fn judge(values: &[f64]) -> Vec<Finding> {
        let key = SeriesKey {
            suite: "s".into(),
            cell: "c".into(),
            metric: "run".into(),
        };
        let judged = Judged {
            detector: &Detector::default(),
            thresholds: &Thresholds::default(),
        };
        findings_of("m", &key, Metric::Run, &points(values), &judged)
    }

    /// Ten points at 100 and eight at `level`, then `tail`, with a wobble of up to `wobble`.
    fn series(level: f64, tail: &[f64], wobble: f64) -> Vec<f64> {
        let shape = [0.0, 1.0, -1.0, 0.67, -0.67];
        let at = |i: usize| 1.0 + wobble * shape[i % 5];
        let mut values: Vec<f64> = (0..10).map(|i| 100.0 * at(i)).collect();
        values.extend((0..8).map(|i| level * at(i + 2)));
        values.extend(tail);
        values
    }

    #[test]
    fn a_regression_stands_at_the_head_while_the_newest_runs_are_still_past_the_threshold() {
        let found = judge(&series(110.0, &[], 0.005));
        assert_eq!(found.len(), 1);
        assert!(found[0].regression && found[0].at_head && found[0].fails());
        assert_eq!(found[0].change.index, 10);
        assert_eq!(
            found[0].after.commit.as_deref(),
            Some(&format!("{:040}", 10)[..])
        );
    }

    #[test]
    fn a_fix_too_recent_to_be_a_change_point_leaves_the_regression_behind_the_head() {
        // Two runs back at the old level: at 3% noise too few for a change point of their own,
        // but the newest three runs average within 5% of it.
        let found = judge(&series(110.0, &[102.5, 98.0], 0.03));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].regression && !found[0].at_head && !found[0].fails());
    }

    #[test]
    fn a_change_within_the_threshold_is_neither_and_an_improvement_never_fails() {
        let small = judge(&series(103.0, &[], 0.005));
        assert_eq!(small.len(), 1);
        assert!(!small[0].regression && !small[0].improvement && !small[0].fails());
        let better = judge(&series(90.0, &[], 0.005));
        assert!(better[0].improvement && better[0].at_head && !better[0].fails());
    }
}
