//! Claims in words: a row per claim (per strategy for a break-even claim) for the terminal,
//! `summary.md` and the top of `report.html`, and `claims.md`, each claim with the table of
//! what was measured.

use std::fmt::Write as _;

use super::{break_even, BreakEven, Claim, Metric, Teardowns, Test};
use crate::figures::{Ratio, BASELINE_STRATEGY};
use crate::format::{duration, significant};
use crate::{Cell, Results};

/// The rule of [`verdict`](super::verdict), as every report states it.
pub const RULE: &str = "A claim holds when its measured figure's whole 95% interval \
     lies on its side of the threshold, does not hold when it lies on the other, and is \
     inconclusive when it reaches the threshold.";

/// A claim's result in the reports' words.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The claim's name (with the strategy, for a break-even claim's rows).
    pub name: String,
    /// What was claimed.
    pub statement: String,
    /// `holds`, `does not hold`, `inconclusive`, or `cannot be checked`.
    pub verdict: String,
    /// The measured figure: `0.08x (0.07x–0.09x) run-time: 1.20 ms over 15.0 ms`, or why
    /// there is none.
    pub measured: String,
    /// The claim's side of its threshold: `above 1`.
    pub claimed: String,
    /// The quoted figure and the measured one over it: `3.97x (measured 0.02 of it)`.
    pub quoted: String,
    /// The cells compared: `numerator / denominator`.
    pub cells: String,
    /// The branch of the essay's rule of thumb the claim bears on, with its verdict in this
    /// run; empty when none.
    pub folklore: String,
}

/// `1.93x (1.81x–2.05x)`.
fn times(r: &Ratio) -> String {
    format!(
        "{}x ({}x–{}x)",
        significant(r.value),
        significant(r.low),
        significant(r.high)
    )
}

/// `2.10 µs (1.50 µs–3.02 µs)`.
fn durations(r: &Ratio) -> String {
    format!(
        "{} ({}–{})",
        duration(r.value),
        duration(r.low),
        duration(r.high)
    )
}

/// Every claim of the run's suite checked against its cells, in the reports' words.
///
/// ```
/// use parbench_reports::claims::rows;
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// // A run whose suite claims nothing has no rows.
/// assert!(rows(&results).is_empty());
/// ```
pub fn rows(results: &Results) -> Vec<Row> {
    rows_by_claim(results)
        .into_iter()
        .flat_map(|(_, rows)| rows)
        .collect()
}

/// Each claim of the run's suite with its rows (one, or one per strategy for a break-even).
fn rows_by_claim(results: &Results) -> Vec<(&Claim, Vec<Row>)> {
    let branches = folklore_branches(results);
    results
        .suite
        .claims
        .iter()
        .map(|claim| {
            let folklore = claim
                .folklore
                .as_deref()
                .and_then(|work| branches.iter().find(|b| b.work == work))
                .map(|b| {
                    format!(
                        "{} → {}: {} in this run",
                        b.work,
                        b.advice,
                        b.verdict.as_str()
                    )
                })
                .unwrap_or_default();
            let mut rows = claim_rows(claim, results);
            for row in &mut rows {
                row.folklore.clone_from(&folklore);
            }
            (claim, rows)
        })
        .collect()
}

/// The folklore tree's branches checked against `results`, when any claim names one.
fn folklore_branches(results: &Results) -> Vec<crate::decide::Branch> {
    if results.suite.claims.iter().all(|c| c.folklore.is_none()) {
        return Vec::new();
    }
    crate::decide::folklore(&crate::decide::cases(results))
}

fn claim_rows(claim: &Claim, results: &Results) -> Vec<Row> {
    let row = |verdict: &str, measured: String, claimed: String, quoted: String, cells| Row {
        name: claim.name.clone(),
        statement: claim.statement.clone(),
        verdict: verdict.to_owned(),
        measured,
        claimed,
        quoted,
        cells,
        folklore: String::new(),
    };
    let claimed = format!("{} {}", claim.direction.name(), claim.threshold);
    match &claim.test {
        Test::Ratio {
            metric,
            denominator,
            ..
        } => {
            let checked = claim.check(results);
            let single = denominator.is_none();
            let show = |value: f64| {
                if single {
                    metric.format(value)
                } else {
                    format!("{}x", significant(value))
                }
            };
            let quoted = match (claim.quoted, &checked) {
                (Some(q), Ok(c)) => format!(
                    "{} (measured {} of it)",
                    show(q),
                    significant(c.ratio.value / q)
                ),
                (Some(q), Err(_)) => show(q),
                (None, _) => String::new(),
            };
            let claimed = if single {
                format!(
                    "{} {}",
                    claim.direction.name(),
                    metric.format(claim.threshold)
                )
            } else {
                claimed
            };
            match checked {
                Ok(c) => {
                    let measured = match c.figures {
                        (top, Some(bottom)) => format!(
                            "{} {}: {} over {}",
                            times(&c.ratio),
                            metric.name(),
                            metric.format(top),
                            metric.format(bottom)
                        ),
                        (_, None) => format!(
                            "{} ({}–{}) {}",
                            metric.format(c.ratio.value),
                            metric.format(c.ratio.low),
                            metric.format(c.ratio.high),
                            metric.name()
                        ),
                    };
                    let cells = match &c.denominator {
                        Some(d) => format!("{} / {d}", c.numerator),
                        None => c.numerator.clone(),
                    };
                    vec![row(c.verdict.as_str(), measured, claimed, quoted, cells)]
                }
                Err(e) => vec![row(
                    "cannot be checked",
                    e.to_string(),
                    claimed,
                    quoted,
                    String::new(),
                )],
            }
        }
        Test::BreakEven { work, workers } => {
            let claimed = format!("{claimed} of the coarse-grained speedup");
            match break_even(results, work, *workers, claim.direction, claim.threshold) {
                Ok(found) if !found.is_empty() => found
                    .iter()
                    .map(|b| Row {
                        name: format!("{} · {}", claim.name, b.strategy),
                        ..row(
                            b.verdict.as_str(),
                            break_even_words(b),
                            claimed.clone(),
                            String::new(),
                            format!("{work} on {} workers", b.workers),
                        )
                    })
                    .collect(),
                Ok(_) => vec![row(
                    "cannot be checked",
                    format!("no parallel strategy measured {work} at two grains"),
                    claimed,
                    String::new(),
                    String::new(),
                )],
                Err(e) => vec![row(
                    "cannot be checked",
                    e.to_string(),
                    claimed,
                    String::new(),
                    String::new(),
                )],
            }
        }
        Test::Teardown => {
            let t = Teardowns::of(results);
            vec![row(
                t.verdict().as_str(),
                format!(
                    "{} leftover and {} zombie processes after {} teardowns ({} with worker \
                     processes)",
                    t.leftover, t.zombies, t.samples, t.with_workers
                ),
                "no process left".to_owned(),
                String::new(),
                "every cell".to_owned(),
            )]
        }
    }
}

/// `1.0 µs tasks keep 0.52x (0.47x–0.58x) of the 1.93x speedup of 5.00 ms tasks; break-even
/// 3.1 µs (2.4 µs–4.0 µs)`.
fn break_even_words(b: &BreakEven) -> String {
    let at = match &b.duration {
        Some(d) => format!("break-even {}", durations(d)),
        None => format!(
            "break-even below the finest grain ({})",
            duration(b.finest_task_ns)
        ),
    };
    format!(
        "{} tasks keep {} of the {} speedup of {} tasks; {at}",
        duration(b.finest_task_ns),
        times(&b.kept),
        times(&b.coarse),
        duration(b.coarse_task_ns)
    )
}

/// The claims as a Markdown section for `summary.md`; empty when the suite claims nothing.
pub fn markdown(results: &Results) -> String {
    let rows = rows(results);
    if rows.is_empty() {
        return String::new();
    }
    let mut md = format!("### Claims\n\n{RULE} Each claim's evidence: `claims.md`.\n\n");
    table(&mut md, &rows);
    md
}

/// The summary table of `rows`.
fn table(md: &mut String, rows: &[Row]) {
    md.push_str(
        "| claim | verdict | measured | claimed | quoted | cells |\n|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            md,
            "| **{}**: {} | {} | {} | {} | {} | {} |",
            row.name,
            cell_text(&row.statement),
            row.verdict,
            cell_text(&row.measured),
            row.claimed,
            row.quoted,
            row.cells
        );
    }
    md.push('\n');
}

fn cell_text(text: &str) -> String {
    text.replace('|', "\\|")
}

/// What was measured for a claim: a table with a header row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The column headings.
    pub columns: Vec<String>,
    /// The rows, as many cells as columns.
    pub rows: Vec<Vec<String>>,
}

/// The table behind a claim's verdict: for a ratio, the claim's figure (and run time, bytes
/// moved, tasks kept where they tell) of every strategy on the same work, size and tasks — the
/// other policies of a workload measured under several included; for a break-even, each
/// strategy's coarse and finest speedups; for a teardown, each strategy's counts.
///
/// ```
/// use parbench_reports::claims::{evidence, Claim, Direction, Test};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let claim = Claim {
///     name: "no-zombies".into(),
///     statement: "a closed pool leaves no process".into(),
///     test: Test::Teardown,
///     direction: Direction::Below,
///     threshold: 1.0,
///     quoted: None,
///     folklore: None,
/// };
/// let table = evidence(&claim, &results);
/// assert_eq!(table.columns[0], "strategy");
/// assert!(table.rows.iter().any(|row| row[0] == "process-pool" && row[4] == "0"));
/// ```
pub fn evidence(claim: &Claim, results: &Results) -> Evidence {
    match &claim.test {
        Test::Ratio { metric, .. } => match claim.check(results) {
            Ok(checked) => results
                .cells
                .iter()
                .find(|c| c.id == checked.numerator)
                .map(|base| ratio_evidence(results, base, *metric))
                .unwrap_or_default(),
            Err(_) => Evidence::default(),
        },
        Test::BreakEven { work, workers } => {
            let found = break_even(results, work, *workers, claim.direction, claim.threshold)
                .unwrap_or_default();
            Evidence {
                columns: [
                    "strategy",
                    "workers",
                    "coarse speedup",
                    "finest speedup",
                    "kept",
                    "break-even",
                ]
                .map(String::from)
                .to_vec(),
                rows: found
                    .iter()
                    .map(|b| {
                        vec![
                            b.strategy.clone(),
                            b.workers.to_string(),
                            format!("{} at {}", times(&b.coarse), duration(b.coarse_task_ns)),
                            format!("{} at {}", times(&b.finest), duration(b.finest_task_ns)),
                            times(&b.kept),
                            b.duration.as_ref().map_or_else(
                                || format!("below {}", duration(b.finest_task_ns)),
                                durations,
                            ),
                        ]
                    })
                    .collect(),
            }
        }
        Test::Teardown => teardown_evidence(results),
    }
}

/// Every strategy's cell on `base`'s workload (any parameters or policy), size and tasks, at
/// its workers.
fn ratio_evidence(results: &Results, base: &Cell, metric: Metric) -> Evidence {
    let cells: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == base.workload && c.size == base.size && c.tasks == base.tasks)
        .filter(|c| c.workers == base.workers || c.strategy == BASELINE_STRATEGY)
        .collect();
    let sample = |c: &Cell| c.median_sample().cloned().unwrap_or_default();
    let bytes = metric != Metric::BytesMoved && cells.iter().any(|c| sample(c).bytes_moved > 0);
    let failures = cells.iter().any(|c| sample(c).fail_stop_ns.is_some());
    let mut columns = vec!["cell".to_owned(), metric.name().to_owned()];
    if metric != Metric::RunTime {
        columns.push("run-time".to_owned());
    }
    if bytes {
        columns.push("bytes-moved".to_owned());
    }
    if failures && metric != Metric::TasksKept {
        columns.push("tasks-kept".to_owned());
    }
    if failures {
        columns.push("first failure to end".to_owned());
    }
    let figure = |metric: Metric, c: &Cell| match (c.verified, metric.of(c)) {
        (false, _) => format!("{} (not verified)", c.status.as_str()),
        (true, None) => "-".to_owned(),
        (true, Some(s)) if s.ci_low_ns == s.ci_high_ns => metric.format(s.median_ns),
        (true, Some(s)) => format!(
            "{} ({}–{})",
            metric.format(s.median_ns),
            metric.format(s.ci_low_ns),
            metric.format(s.ci_high_ns)
        ),
    };
    let rows = cells
        .iter()
        .map(|c| {
            let mut row = vec![format!("`{}`", c.id), figure(metric, c)];
            if metric != Metric::RunTime {
                row.push(figure(Metric::RunTime, c));
            }
            if bytes {
                row.push(crate::format::bytes(sample(c).bytes_moved));
            }
            if failures && metric != Metric::TasksKept {
                row.push(figure(Metric::TasksKept, c));
            }
            if failures {
                row.push(
                    sample(c)
                        .fail_stop_ns
                        .map_or_else(|| "-".to_owned(), |ns| duration(ns as f64)),
                );
            }
            row
        })
        .collect();
    Evidence { columns, rows }
}

/// Per strategy: samples, and the processes their teardowns left.
fn teardown_evidence(results: &Results) -> Evidence {
    let mut by_strategy: Vec<(&str, Teardowns)> = Vec::new();
    for cell in &results.cells {
        let label = cell.strategy_label();
        let at = match by_strategy.iter().position(|(s, _)| *s == label) {
            Some(i) => i,
            None => {
                by_strategy.push((label, Teardowns::default()));
                by_strategy.len() - 1
            }
        };
        for sample in &cell.samples {
            by_strategy[at].1.add(sample);
        }
    }
    Evidence {
        columns: [
            "strategy",
            "teardowns",
            "with worker processes",
            "leftover",
            "zombies",
        ]
        .map(String::from)
        .to_vec(),
        rows: by_strategy
            .into_iter()
            .map(|(s, t)| {
                vec![
                    s.to_owned(),
                    t.samples.to_string(),
                    t.with_workers.to_string(),
                    t.leftover.to_string(),
                    t.zombies.to_string(),
                ]
            })
            .collect(),
    }
}

/// `claims.md`: the rule, every claim's verdict in one table, then each claim with what was
/// measured; empty when the suite claims nothing.
///
/// ```
/// use parbench_reports::claims::claims_markdown;
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// assert!(claims_markdown(&results).is_empty());
/// ```
pub fn claims_markdown(results: &Results) -> String {
    let by_claim = rows_by_claim(results);
    if by_claim.is_empty() {
        return String::new();
    }
    let m = &results.machine;
    let mut md = format!(
        "# Claims: suite `{}`\n\n{} · {} logical cores · {} · parbench {} · started {}\n\n{RULE} \
         A claim on the essay's rule of thumb names its branch, whose verdict over this run's \
         buckets the folklore chart draws (`folklore-tree.svg`).\n\n",
        results.suite.name,
        m.cpu_model,
        m.logical_cores,
        crate::format::bytes(m.memory_bytes),
        results.parbench_version,
        results.started_at,
    );
    let all: Vec<Row> = by_claim.iter().flat_map(|(_, rows)| rows.clone()).collect();
    if let Some(sampling) = crate::view::sampling_summary(results) {
        let _ = writeln!(md, "Sampling: {sampling}.\n");
    }
    table(&mut md, &all);
    for (claim, rows) in &by_claim {
        let _ = writeln!(md, "## {}\n\n{}\n", claim.name, claim.statement);
        for row in rows {
            let _ = writeln!(
                md,
                "- **{}** ({}): {}{}",
                row.verdict,
                row.name,
                row.measured,
                if row.quoted.is_empty() {
                    String::new()
                } else {
                    format!("; quoted {}", row.quoted)
                }
            );
        }
        if let Some(row) = rows.first().filter(|r| !r.folklore.is_empty()) {
            let _ = writeln!(
                md,
                "- The essay's rule of thumb: *{}* ([folklore-tree.svg](folklore-tree.svg)).",
                row.folklore
            );
        }
        md.push('\n');
        let evidence = evidence(claim, results);
        if !evidence.rows.is_empty() {
            let _ = writeln!(md, "| {} |", evidence.columns.join(" | "));
            let _ = writeln!(md, "|{}", "---|".repeat(evidence.columns.len()));
            for row in &evidence.rows {
                let _ = writeln!(md, "| {} |", row.join(" | "));
            }
            md.push('\n');
        }
    }
    md
}
