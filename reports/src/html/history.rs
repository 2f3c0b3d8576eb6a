//! `history.html`: the history as one self-contained page — per machine, a grid of where
//! things moved (workloads by strategies), every series that moved past the gate's thresholds
//! drawn over commits with its change points marked, and which strategy won each bucket at
//! each commit.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::charts::{
    byte_unit, css, strategy_colour, trend as trend_chart, ChartError, Marker, TimeUnit,
};
use super::{anchor, escape, STYLE};
use crate::compare::Metric;
use crate::history::store::{Point, SeriesKey};
use crate::history::{short_hash, Finding, Kind, Trend};

/// Series drawn at most per machine: the rest are listed in history.md.
const MAX_CHARTS: usize = 120;

/// Runs shown in the winners' table, the newest.
const WINNER_RUNS: usize = 24;

const REGRESSION: RGBColor = RGBColor(220, 38, 38);
const IMPROVEMENT: RGBColor = RGBColor(22, 163, 74);
const WITHIN: RGBColor = RGBColor(100, 116, 139);

/// A cell id split into its bucket (`square/size=200000/tasks=8`) and the rest
/// (`rayon/w2`).
fn split_id(id: &str) -> (&str, &str) {
    let Some(tasks) = id.find("/tasks=") else {
        return (id, "");
    };
    match id[tasks + 1..].find('/') {
        Some(slash) => (&id[..tasks + 1 + slash], &id[tasks + 2 + slash..]),
        None => (id, ""),
    }
}

/// The strategy of a column (`timely[mode=processes]/w2` → `timely[mode=processes]`).
fn strategy_of(column: &str) -> &str {
    column.rsplit_once("/w").map_or(column, |(s, _)| s)
}

fn kind_of(finding: &Finding) -> (&'static str, RGBColor) {
    match finding.kind() {
        Kind::FailingRegression => ("regression at the head", REGRESSION),
        Kind::Regression => ("regression", REGRESSION),
        Kind::Improvement => ("improvement", IMPROVEMENT),
        Kind::Within => ("within the thresholds", WITHIN),
    }
}

/// A finding in words: commits, levels, change with interval, p-value, kind, verdict.
pub(crate) fn describe(finding: &Finding) -> String {
    format!(
        "{}: {} · {} · {}",
        finding.commits(),
        finding.figures(),
        kind_of(finding).0,
        finding.verdict_text().unwrap_or("not re-measured")
    )
}

/// The page.
pub(crate) fn page(trends: &[Trend]) -> Result<String, ChartError> {
    let failing: usize = trends.iter().map(Trend::failing).sum();
    let runs: usize = trends.iter().map(|t| t.runs.len()).sum();
    let mut html = String::with_capacity(1 << 18);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>parbench history</title>\n<style>{STYLE}\
         table.moved td, table.winners td {{ text-align: center; }}\
         table.moved td.text, table.winners td.text {{ text-align: left; }}\
         table.moved td.up {{ color: #b91c1c; font-weight: 600; }}\
         table.moved td.down {{ color: #15803d; font-weight: 600; }}\
         table.moved td.head {{ background: #fef2f2; }}\
         table.winners td.tie {{ color: var(--muted); }}\
         table.winners td span {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; background: var(--c); }}\
         ul.changes {{ margin: 6px 0 0; padding-left: 18px; font-size: 13px; }}\
         </style>\n</head>\n<body>\n<main>\n<h1>parbench history</h1>\n"
    );
    let (class, headline) = if failing > 0 {
        (
            "verdict failed",
            format!("{failing} regression(s) stand at the head"),
        )
    } else {
        ("verdict", "no regression stands at the head".to_owned())
    };
    let _ = writeln!(
        html,
        "<div class=\"{class}\"><b>{}</b></div>\n<p class=\"sub\">{runs} runs on {} machine(s). \
         Change points by E-divisive means with a t test (Apache Otava's method); a change \
         counts past the regression gate's thresholds.</p>",
        escape(&headline),
        trends.len()
    );
    for trend in trends {
        machine(&mut html, trend)?;
    }
    html.push_str(
        "<footer>Each point is one run's figure: the geometric mean of its processes' medians, \
         with its 95% interval. A change point splits a series where the levels before and after \
         differ (two-sided t test); a paired run of the builds on either side confirms or \
         refutes it (<code>parbench history confirm</code>).</footer>\n</main>\n</body>\n</html>\n",
    );
    Ok(html)
}

fn machine(html: &mut String, trend: &Trend) -> Result<(), ChartError> {
    let commits: Vec<&str> = trend
        .runs
        .iter()
        .filter_map(|r| r.provenance.commit.as_ref().map(|c| c.hash.as_str()))
        .collect();
    let _ = writeln!(
        html,
        "<h2>{}</h2>\n<p class=\"sub\">{} runs{}; {} change points, {} past the thresholds, {} \
         failing at the head.</p>",
        escape(&trend.machine),
        trend.runs.len(),
        match (commits.first(), commits.last()) {
            (Some(first), Some(last)) =>
                format!(" from commit {} to {}", short_hash(first), short_hash(last)),
            _ => String::new(),
        },
        trend.findings.len(),
        trend
            .findings
            .iter()
            .filter(|f| f.regression || f.improvement)
            .count(),
        trend.failing()
    );
    kernels(html, trend);
    moved(html, trend);
    charts(html, trend)?;
    winners(html, trend);
    Ok(())
}

/// The kernels the machine ran, each from the first run that ran it: a change of kernel is a
/// change of the machine that a step in a series may come from.
fn kernels(html: &mut String, trend: &Trend) {
    let mut seen: Vec<(&str, String)> = Vec::new();
    for run in &trend.runs {
        if !seen.iter().any(|(k, _)| *k == run.kernel) {
            let at = run.provenance.commit.as_ref().map_or_else(
                || format!("run {}", run.id),
                |c| format!("commit {}", short_hash(&c.hash)),
            );
            seen.push((run.kernel.as_str(), at));
        }
    }
    if seen.len() > 1 {
        let list: Vec<String> = seen
            .iter()
            .map(|(k, at)| format!("{k} from {at}"))
            .collect();
        let _ = writeln!(
            html,
            "<p class=\"sub kernels\">Kernels: {}.</p>",
            escape(&list.join("; "))
        );
    }
}

/// The grid of where things moved: per suite, buckets by strategies, each cell its newest
/// change past the thresholds.
fn moved(html: &mut String, trend: &Trend) {
    html.push_str("<h3>Where things moved</h3>\n");
    let suites: BTreeSet<&str> = trend.series.keys().map(|k| k.suite.as_str()).collect();
    for suite in suites {
        let cells: BTreeSet<&str> = trend
            .series
            .keys()
            .filter(|k| k.suite == suite)
            .map(|k| k.cell.as_str())
            .collect();
        let mut buckets: Vec<&str> = Vec::new();
        let mut columns: Vec<&str> = Vec::new();
        for cell in &cells {
            let (bucket, column) = split_id(cell);
            if !buckets.contains(&bucket) {
                buckets.push(bucket);
            }
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        let _ = write!(
            html,
            "<div class=\"scroll\"><table class=\"moved\" data-suite=\"{}\"><thead><tr>\
             <th>{} · bucket</th>",
            escape(suite),
            escape(suite)
        );
        for column in &columns {
            let _ = write!(html, "<th>{}</th>", escape(column));
        }
        html.push_str("</tr></thead><tbody>\n");
        for bucket in &buckets {
            let _ = write!(html, "<tr><td class=\"text\">{}</td>", escape(bucket));
            for column in &columns {
                let id = format!("{bucket}/{column}");
                let newest = trend
                    .findings
                    .iter()
                    .find(|f| f.suite == suite && f.cell == id && (f.regression || f.improvement));
                match newest {
                    None if cells.contains(id.as_str()) => html.push_str("<td>·</td>"),
                    None => html.push_str("<td></td>"),
                    Some(f) => {
                        let class = match f.kind() {
                            Kind::FailingRegression => "up head",
                            Kind::Regression => "up",
                            Kind::Improvement | Kind::Within => "down",
                        };
                        let _ = write!(
                            html,
                            "<td class=\"{class}\" data-cell=\"{}\" title=\"{}\"><a href=\"#{}\">{} \
                             {}</a></td>",
                            escape(&id),
                            escape(&format!("{} {}: {}", id, f.metric.name(), describe(f))),
                            anchor(&format!("{}-{}-{}", suite, id, f.metric.name())),
                            escape(&f.metric.format_change(f.size())),
                            f.metric.name()
                        );
                    }
                }
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody></table></div>\n");
    }
}

/// A series' points in the unit its axis reads, with that unit's name.
fn scaled(metric: Metric, points: &[Point]) -> (Vec<(f64, f64, f64)>, String) {
    let top = points
        .iter()
        .map(|p| p.interval.map_or(p.value, |i| i.1))
        .fold(0.0, f64::max);
    let (unit, divide) = match metric {
        Metric::Run | Metric::EndToEnd => {
            let unit = TimeUnit::fitting(top);
            (format!("{} ({})", metric.name(), unit.name), unit.ns)
        }
        Metric::Memory | Metric::Bytes => {
            let (name, size) = byte_unit(top);
            (format!("{} ({name})", metric.name()), size)
        }
        Metric::Overhead => (format!("{} (%)", metric.name()), 0.01),
    };
    let values = points
        .iter()
        .map(|p| {
            let (low, high) = p.interval.unwrap_or((p.value, p.value));
            (p.value / divide, low / divide, high / divide)
        })
        .collect();
    (values, unit)
}

/// Every series with a change past the thresholds, drawn over commits.
fn charts(html: &mut String, trend: &Trend) -> Result<(), ChartError> {
    let mut moved: Vec<&SeriesKey> = Vec::new();
    for finding in trend
        .findings
        .iter()
        .filter(|f| f.regression || f.improvement)
    {
        let key = trend.series.keys().find(|k| {
            k.suite == finding.suite && k.cell == finding.cell && k.metric == finding.metric.name()
        });
        if let Some(key) = key.filter(|k| !moved.contains(k)) {
            moved.push(key);
        }
    }
    if moved.is_empty() {
        html.push_str("<p class=\"sub\">No series moved past the thresholds.</p>\n");
        return Ok(());
    }
    let _ = writeln!(
        html,
        "<h3>Series that moved</h3>\n<p class=\"sub\">{} series, newest change first{}.</p>\n\
         <div class=\"grid\">",
        moved.len(),
        if moved.len() > MAX_CHARTS {
            format!("; the first {MAX_CHARTS} drawn, every one in history.md")
        } else {
            String::new()
        }
    );
    for key in moved.into_iter().take(MAX_CHARTS) {
        let Some(metric) = Metric::from_name(&key.metric) else {
            continue;
        };
        let points = &trend.series[key];
        let findings: Vec<&Finding> = trend
            .findings
            .iter()
            .filter(|f| f.suite == key.suite && f.cell == key.cell && f.metric == metric)
            .collect();
        let labels: Vec<String> = points
            .iter()
            .map(|p| {
                p.commit
                    .as_deref()
                    .map_or("?".to_owned(), |c| c.chars().take(7).collect())
            })
            .collect();
        let markers: Vec<Marker> = findings
            .iter()
            .map(|f| Marker {
                at: f.change.index as f64 - 0.5,
                label: metric.format_change(f.size()),
                colour: kind_of(f).1,
            })
            .collect();
        let (values, unit) = scaled(metric, points);
        let (_, column) = split_id(&key.cell);
        let svg = trend_chart(
            strategy_colour(strategy_of(column)),
            &unit,
            &values,
            &labels,
            &markers,
        )?;
        let _ = write!(
            html,
            "<figure class=\"series\" id=\"{}\" data-cell=\"{}\" data-metric=\"{}\">\
             <figcaption>{} · {}<small>{} · {} runs</small></figcaption>{svg}<ul class=\"changes\">",
            anchor(&format!("{}-{}-{}", key.suite, key.cell, key.metric)),
            escape(&key.cell),
            escape(&key.metric),
            escape(&key.cell),
            escape(&key.metric),
            escape(&key.suite),
            points.len()
        );
        for finding in findings {
            let after = finding.after.commit.as_deref().unwrap_or("?");
            let _ = write!(
                html,
                "<li class=\"change\" data-commit=\"{}\" style=\"color:{}\">{}</li>",
                escape(after),
                css(kind_of(finding).1),
                escape(&describe(finding))
            );
        }
        html.push_str("</ul></figure>\n");
    }
    html.push_str("</div>\n");
    Ok(())
}

/// A bucket's run times: strategy column → run id → run time.
type BucketTimes<'a> = BTreeMap<&'a str, BTreeMap<i64, f64>>;

/// Per bucket, which strategy had the shortest run time at each of the newest runs.
fn winners(html: &mut String, trend: &Trend) {
    // (suite, bucket) → its run times.
    let mut table: BTreeMap<(&str, &str), BucketTimes<'_>> = BTreeMap::new();
    for (key, points) in &trend.series {
        if key.metric != Metric::Run.name() {
            continue;
        }
        let (bucket, column) = split_id(&key.cell);
        let runs = table
            .entry((key.suite.as_str(), bucket))
            .or_default()
            .entry(column)
            .or_default();
        for point in points {
            runs.insert(point.run, point.value);
        }
    }
    if table.is_empty() {
        return;
    }
    let shown: Vec<&crate::history::store::Run> = trend
        .runs
        .iter()
        .rev()
        .take(WINNER_RUNS)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let _ = write!(
        html,
        "<h3>Which strategy won</h3>\n<p class=\"sub\">Per bucket, the strategy with the \
         shortest run time in each of the {} newest runs and its lead over the next (a change of \
         winner is a change of advice; a lead under 3%, greyed, is a tie that one run cannot \
         break).</p>\n<div class=\"scroll\"><table class=\"winners\"><thead><tr><th>bucket</th>",
        shown.len()
    );
    for run in &shown {
        let label = run.provenance.commit.as_ref().map_or_else(
            || format!("run {}", run.id),
            |c| c.hash.chars().take(7).collect(),
        );
        let _ = write!(html, "<th>{}</th>", escape(&label));
    }
    html.push_str("</tr></thead><tbody>\n");
    for ((suite, bucket), columns) in &table {
        let _ = write!(
            html,
            "<tr><td class=\"text\" title=\"{}\">{}</td>",
            escape(suite),
            escape(bucket)
        );
        for run in &shown {
            let mut times: Vec<(&str, f64)> = columns
                .iter()
                .filter_map(|(column, runs)| runs.get(&run.id).map(|v| (*column, *v)))
                .collect();
            times.sort_by(|a, b| a.1.total_cmp(&b.1));
            match times.as_slice() {
                [] => html.push_str("<td></td>"),
                [(column, best), rest @ ..] => {
                    let strategy = strategy_of(column);
                    // The lead over the runner-up; within the tie margin `decide` uses, the
                    // winner of one run is noise, and the cell says so.
                    let lead = rest.first().map(|(_, next)| next / best - 1.0);
                    let (class, lead_text) = match lead {
                        Some(l) if l < crate::decide::EQUIVALENT => {
                            ("tie", format!("≈ {:.1}%", 100.0 * l))
                        }
                        Some(l) => ("lead", format!("+{:.0}%", 100.0 * l)),
                        None => ("lead", String::new()),
                    };
                    let _ = write!(
                        html,
                        "<td class=\"{class}\" data-winner=\"{}\" title=\"{}\"><span \
                         style=\"--c:{}\"></span>{} <small>{}</small></td>",
                        escape(column),
                        escape(column),
                        css(strategy_colour(strategy)),
                        escape(strategy),
                        escape(&lead_text)
                    );
                }
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_splits_into_bucket_and_strategy_column() {
        assert_eq!(
            split_id("square/size=200000/tasks=8/rayon/w2"),
            ("square/size=200000/tasks=8", "rayon/w2")
        );
        assert_eq!(
            split_id("spin[wait=blocking]/size=100/tasks=16/timely[mode=processes]/w1"),
            (
                "spin[wait=blocking]/size=100/tasks=16",
                "timely[mode=processes]/w1"
            )
        );
        assert_eq!(
            strategy_of("timely[mode=processes]/w1"),
            "timely[mode=processes]"
        );
        assert_eq!(split_id("odd"), ("odd", ""));
    }
}
