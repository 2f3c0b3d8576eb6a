//! `report.html`: one self-contained page (inline CSS and SVG, no script, no request) that
//! answers, per workload, which strategy wins on this machine and why.

mod charts;
pub(crate) mod compare;
pub(crate) mod history;
pub(crate) mod tree;

use std::fmt::Write as _;

use crate::figures::{Bucket, Figures};
use crate::format::{bytes, duration, percent};
use crate::markdown::{count, verdict_sentence};
use crate::view::{groups, Group};
use crate::{Cell, Overhead, ReportError, Results, RoundStats, Status, Writer};

use charts::{
    byte_unit, css, strategy_colour, Bar, ChartError, Distribution, Line, Segment, TimeUnit, XAxis,
    PARTS, PHASES, ROUND_PARTS,
};

/// `report.html`: machine and suite at the top, then per workload its verdict and charts —
/// run time and speedup against workers, where the workers' time went, memory and bytes
/// moved, the granularity sweep, the samples' distribution, a timeline per strategy, the
/// failures — and a table of every cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl Writer for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        page(results)
            .map(String::into_bytes)
            .map_err(|source| ReportError::Serialize {
                format: "HTML",
                source,
            })
    }
}

pub(crate) const STYLE: &str = r#"
:root { --ink: #0f172a; --muted: #475569; --line: #e2e8f0; --panel: #f8fafc; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1160px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 48px 0 4px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.verdict { background: #eff6ff; border-left: 4px solid var(--accent); padding: 10px 14px; margin: 12px 0; border-radius: 0 6px 6px 0; }
.verdict.failed { background: #fef2f2; border-color: #dc2626; }
dl.machine { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 16px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 16px 0; }
dl.machine dt { color: var(--muted); }
dl.machine dd { margin: 0; }
nav ol { columns: 2; padding-left: 20px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 4px; font-size: 13px; }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; background: var(--c); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(470px, 1fr)); gap: 16px; }
.timelines, .profiles { grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); }
table.frames td { white-space: nowrap; }
table.frames td.text { max-width: 240px; overflow: hidden; text-overflow: ellipsis; }
table.frames td:last-child { width: 120px; }
.share { display: inline-block; height: 10px; width: calc(var(--w) * 0.6px); min-width: 1px; background: var(--c); border-radius: 2px; margin-right: 6px; vertical-align: 0; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 8px; background: #fff; }
figcaption { font-weight: 600; font-size: 14px; }
figcaption small { display: block; font-weight: 400; color: var(--muted); }
figure svg { display: block; width: 100%; height: auto; margin-top: 6px; }
.tree-chart svg { width: auto; max-width: none; }
figure p.none { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: var(--panel); position: sticky; top: 0; }
td:first-child, th:first-child, td.text { text-align: left; }
td.text { white-space: normal; }
table.claims td.text { min-width: 14em; }
table.claims td.claim { min-width: 22em; }
tr.bad td { background: #fef2f2; }
.status-ok { color: #15803d; }
.status-bad { color: #b91c1c; font-weight: 600; }
details { margin-top: 16px; }
summary { cursor: pointer; color: var(--accent); }
.scroll { overflow-x: auto; }
code { font-size: 12px; }
footer { margin-top: 56px; color: var(--muted); font-size: 13px; }
"#;

fn page(results: &Results) -> Result<String, ChartError> {
    let groups = groups(results);
    let mut html = String::with_capacity(1 << 20);
    let title = format!("parbench · suite {}", results.suite.name);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    header(&mut html, results);
    claims(&mut html, results);
    html.push_str("<nav><h3>Workloads</h3><ol>");
    for group in &groups {
        let _ = write!(
            html,
            "<li><a href=\"#{}\">{} · {} items</a></li>",
            group.slug(),
            escape(group.label),
            group.size
        );
    }
    html.push_str("</ol></nav>\n");
    if let Ok(decision) = crate::decide::Decision::of(results) {
        decide(&mut html, &decision);
    }
    let figures = Figures::of(results);
    for group in &groups {
        section(&mut html, group, &figures)?;
    }
    machine_state(&mut html, results)?;
    footer(&mut html);
    html.push_str("</main>\n</body>\n</html>\n");
    Ok(html)
}

/// The machine through the run, as the canary saw it between visits: the spells in which it
/// was disturbed, and the processes kept out of the figures for them.
fn machine_state(html: &mut String, results: &Results) -> Result<(), ChartError> {
    let Some(summary) = crate::view::canary_summary(results) else {
        return Ok(());
    };
    let _ = write!(
        html,
        "<section id=\"machine\">\n<h2>The machine through the run</h2>\n<p class=\"sub\">\
         Between visits the harness times a compute probe and a memory probe; a reading much \
         slower than the run's typical one (shaded) marks the visits on either side of it, \
         whose processes are kept out of the figures and replaced. {}.</p>\n<figure>{}</figure>\n\
         </section>\n",
        escape(&summary),
        charts::canary(&results.canary)?
    );
    Ok(())
}

/// The suite's claims with their verdicts, first: what a review reads before any chart.
fn claims(html: &mut String, results: &Results) {
    let rows = crate::claims::rows(results);
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<section id=\"claims\">\n<h2>Claims</h2>\n<p class=\"sub\">{}</p>\n\
         <div class=\"scroll\"><table class=\"claims\">\n<tr><th>claim</th><th>verdict</th>\
         <th>measured</th><th>claimed</th><th>quoted</th><th>rule of thumb</th><th>cells</th></tr>\n",
        escape(crate::claims::RULE)
    );
    for row in &rows {
        let folklore = if row.folklore.is_empty() {
            String::new()
        } else {
            format!(
                "<a href=\"folklore-tree.svg\">{}</a>",
                escape(&row.folklore)
            )
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"text claim\"><b>{}</b>: {}</td><td><b>{}</b></td>\
             <td class=\"text\">{}</td><td>{}</td><td class=\"text\">{}</td>\
             <td class=\"text\">{folklore}</td><td class=\"text\">{}</td></tr>",
            escape(&row.name),
            escape(&row.statement),
            escape(&row.verdict),
            escape(&row.measured),
            escape(&row.claimed),
            escape(&row.quoted),
            escape(&row.cells)
        );
    }
    html.push_str("</table></div>\n");
    // What was measured, claim by claim: folded, since the verdicts come first.
    for claim in &results.suite.claims {
        let evidence = crate::claims::evidence(claim, results);
        if evidence.rows.is_empty() {
            continue;
        }
        let _ = write!(
            html,
            "<details><summary>{}: what was measured</summary><div class=\"scroll\"><table>\n<tr>",
            escape(&claim.name)
        );
        for column in &evidence.columns {
            let _ = write!(html, "<th>{}</th>", escape(column));
        }
        html.push_str("</tr>\n");
        for row in &evidence.rows {
            html.push_str("<tr>");
            for value in row {
                let _ = write!(html, "<td>{}</td>", escape(value.trim_matches('`')));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</table></div></details>\n");
    }
    html.push_str("</section>\n");
}

/// Which strategy for which work: the learned tree with the real work placed on it, and the
/// folklore tree with its verdicts.
fn decide(html: &mut String, decision: &crate::decide::Decision) {
    let tree = &decision.tree;
    let accuracy = &decision.accuracy;
    let _ = write!(
        html,
        "<section id=\"decide\"><h2>Which strategy for which work</h2>\n<p class=\"sub\">A \
         decision tree learned from this run's {} buckets, each labelled by the strategy that \
         won it at its best worker count (a tie, overlapping intervals, to the simpler \
         strategy). It labels {} of them as measured; each workload left out and predicted by \
         the tree of the others: {} of {} buckets ({}). <code>parbench decide</code> draws it \
         from any results, of several runs and machines.</p>\n",
        tree.cases.len(),
        tree.correct(),
        accuracy.correct,
        accuracy.total,
        percent(accuracy.share())
    );
    let placed: Vec<_> = decision.placed().collect();
    figure(
        html,
        "The decision tree",
        "Highlighted: the paths of the run's real work, listed under the leaf each reaches (✓: \
         measured winner as the tree says).",
        &format!(
            "<div class=\"scroll tree-chart\">{}</div>",
            tree::learned(decision)
        ),
    );
    if !placed.is_empty() {
        html.push_str(
            "<h3>The real work on the tree</h3>\n<div class=\"scroll\"><table>\n<tr><th>bucket</th>\
             <th>measured winner</th><th>the tree</th><th>learned without it</th></tr>\n",
        );
        for (i, case, predicted) in placed {
            let held = accuracy.predicted[i].as_deref().unwrap_or("-");
            let _ = writeln!(
                html,
                "<tr{}><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if case.winner == predicted {
                    ""
                } else {
                    " class=\"bad\""
                },
                escape(&case.bucket),
                escape(&case.winner),
                escape(predicted),
                escape(held)
            );
        }
        html.push_str("</table></div>\n");
    }
    figure(
        html,
        "The folklore tree, measured",
        "The essay's rule of thumb: a branch holds when its advice won or tied for the win in \
         more than half of the buckets under it.",
        &format!(
            "<div class=\"scroll tree-chart\">{}</div>",
            tree::folklore(&decision.folklore)
        ),
    );
    html.push_str(
        "<div class=\"scroll\"><table>\n<tr><th>work</th><th>advice</th><th>read as</th>\
         <th>verdict</th><th>evidence</th></tr>\n",
    );
    for branch in &decision.folklore {
        let _ = writeln!(
            html,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>\
             <td><strong>{}</strong></td><td class=\"text\">{}</td></tr>",
            escape(branch.work),
            escape(branch.advice),
            escape(branch.reading),
            branch.verdict.as_str(),
            escape(&branch.evidence())
        );
    }
    html.push_str("</table></div>\n</section>\n");
}

/// The title, the suite and the machine with its probed limits.
fn header(html: &mut String, results: &Results) {
    let m = &results.machine;
    let failed = results
        .cells
        .iter()
        .filter(|c| c.status != Status::Ok)
        .count();
    let _ = write!(
        html,
        "<h1>parbench report · suite <code>{}</code></h1>\n<p class=\"sub\">{} cells ({} failed) · \
         parbench {} · started {} · {}</p>\n<dl class=\"machine\">",
        escape(&results.suite.name),
        results.cells.len(),
        failed,
        escape(&results.parbench_version),
        escape(&results.started_at),
        match &results.finished_at {
            Some(at) => format!("finished {}", escape(at)),
            None => "interrupted or still running".to_owned(),
        }
    );
    let mut item = |key: &str, value: String| {
        let _ = write!(html, "<dt>{key}</dt><dd>{}</dd>", escape(&value));
    };
    item("CPU", m.cpu_model.clone());
    item(
        "cores",
        match m.physical_cores {
            Some(p) => format!("{} logical, {p} physical", m.logical_cores),
            None => format!("{} logical", m.logical_cores),
        },
    );
    item("memory", bytes(m.memory_bytes));
    item("OS", format!("{} · kernel {}", m.os, m.kernel));
    item("compiler", m.rustc.clone());
    item(
        "commit",
        match (&m.git_commit, m.git_dirty) {
            (Some(c), Some(true)) => format!("{c} (with uncommitted changes)"),
            (Some(c), _) => c.clone(),
            (None, _) => "-".to_owned(),
        },
    );
    if let Some(l) = &m.limits {
        item(
            "copy bandwidth",
            format!(
                "{:.1} GB/s on one thread, {:.1} GB/s on {}",
                l.copy_one_bytes_per_s / 1e9,
                l.copy_all_bytes_per_s / 1e9,
                l.threads
            ),
        );
        item(
            "compute ceiling",
            format!("{:.2}x on {} threads", l.alu_speedup, l.threads),
        );
        if let Some(ns) = l.pipe_round_trip_ns {
            item(
                "pipe round trip",
                format!(
                    "{} (one byte to another process and back, idle)",
                    duration(ns)
                ),
            );
        }
    }
    if let Some(sampling) = crate::view::sampling_summary(results) {
        item("sampling", sampling);
    }
    if let Some(canary) = crate::view::canary_summary(results) {
        item("canary", canary);
    }
    if let Some(contests) = crate::contest::summary(results) {
        let open = crate::contest::open_buckets(results);
        item(
            "contests",
            if open.is_empty() {
                contests
            } else {
                format!("{contests}; still open: {}", open.join(" · "))
            },
        );
    }
    if let Some(visits) = results.visits.as_ref().and_then(crate::view::visit_summary) {
        item("visits", visits);
    }
    item(
        "suite",
        format!(
            "{} · seed {} · policy {}",
            results.suite.source, results.suite.seed, results.suite.policy
        ),
    );
    html.push_str("</dl>\n");
}

/// One workload: verdict, legend, charts, timelines, failures, every cell.
fn section(html: &mut String, group: &Group<'_>, figures: &Figures<'_>) -> Result<(), ChartError> {
    let strategies = group.strategies();
    let first = group.cells[0];
    let f = &first.features;
    let _ = writeln!(
        html,
        "<section id=\"{}\">\n<h2>{} · {} items</h2>\n<p class=\"sub\">{} work · input {}, output {} · \
         sequential busy time {}</p>",
        group.slug(),
        escape(group.label),
        group.size,
        escape(group.kind()),
        bytes(f.input_bytes),
        bytes(f.output_bytes),
        duration(f.sequential_busy_ns as f64),
    );
    match group.verdict() {
        Some(verdict) => {
            let _ = writeln!(
                html,
                "<p class=\"verdict\">{}</p>",
                escape(&verdict_sentence(&verdict))
            );
        }
        None => {
            html.push_str("<p class=\"verdict failed\">No cell of this workload ran well.</p>\n")
        }
    }
    html.push_str("<div class=\"legend\">");
    for s in &strategies {
        let _ = write!(
            html,
            "<span style=\"--c:{}\">{}</span>",
            css(strategy_colour(s)),
            escape(s)
        );
    }
    html.push_str("</div>\n");
    let Some(focus) = group.focus_tasks() else {
        failures(html, group);
        every_cell(html, group, figures);
        html.push_str("</section>\n");
        return Ok(());
    };
    let shown = group.focus_cells();

    html.push_str("<div class=\"grid\">\n");
    scaling(html, group, &strategies, figures, focus)?;
    overhead(html, &shown, focus)?;
    rounds(html, &shown, focus)?;
    end_to_end(html, &shown, focus)?;
    memory(html, &shown, focus)?;
    if group.task_counts().len() > 1 {
        granularity(html, group, &strategies)?;
    }
    distribution(html, &shown, focus)?;
    html.push_str("</div>\n");
    timelines(html, &shown)?;
    profiles(html, &shown);
    failures(html, group);
    every_cell(html, group, figures);
    html.push_str("</section>\n");
    Ok(())
}

fn figure(html: &mut String, caption: &str, note: &str, svg: &str) {
    figure_keyed(html, caption, note, &[], svg);
}

/// A figure with a colour key of its own (the overhead parts) under the caption.
fn figure_keyed(html: &mut String, caption: &str, note: &str, key: &[(&str, String)], svg: &str) {
    let _ = writeln!(
        html,
        "<figure><figcaption>{}<small>{}</small></figcaption>",
        escape(caption),
        escape(note)
    );
    if !key.is_empty() {
        html.push_str("<div class=\"legend\">");
        for (name, colour) in key {
            let _ = write!(html, "<span style=\"--c:{colour}\">{}</span>", escape(name));
        }
        html.push_str("</div>");
    }
    let _ = writeln!(html, "{svg}</figure>");
}

/// Run time and speedup against workers, each strategy at the focus task count.
fn scaling(
    html: &mut String,
    group: &Group<'_>,
    strategies: &[&str],
    figures: &Figures<'_>,
    focus: usize,
) -> Result<(), ChartError> {
    let workers = group.worker_counts();
    let max_ns = group
        .cells
        .iter()
        .filter(|c| c.tasks == focus)
        .filter_map(|c| c.wall.as_ref().map(|w| w.ci_high_ns))
        .fold(0.0, f64::max);
    let unit = TimeUnit::fitting(max_ns);
    let bucket = Bucket {
        work: group.label,
        size: group.size,
        tasks: focus,
    };
    let baseline = figures
        .baseline_of(&bucket)
        .and_then(|c| c.wall.as_ref())
        .map(|w| w.median_ns);
    let mut times = Vec::new();
    let mut speedups = Vec::new();
    for &strategy in strategies {
        let mut time = Vec::new();
        let mut speedup = Vec::new();
        for &w in &workers {
            let Some(wall) = group
                .cell(strategy, w, focus)
                .filter(|c| c.status == Status::Ok)
                .and_then(|c| c.wall.as_ref())
            else {
                continue;
            };
            time.push((
                w as f64,
                wall.median_ns / unit.ns,
                wall.ci_low_ns / unit.ns,
                wall.ci_high_ns / unit.ns,
            ));
            if let Some(base) = baseline {
                speedup.push((
                    w as f64,
                    base / wall.median_ns,
                    base / wall.ci_high_ns.max(1.0),
                    base / wall.ci_low_ns.max(1.0),
                ));
            }
        }
        let colour = strategy_colour(strategy);
        // A strategy measured at one worker count only (sequential) is a reference level.
        let flat = |points: Vec<(f64, f64, f64, f64)>| match points.as_slice() {
            [(_, v, lo, hi)] if workers.len() > 1 => Line {
                colour,
                points: vec![
                    (workers[0] as f64, *v, *lo, *hi),
                    (workers[workers.len() - 1] as f64, *v, *lo, *hi),
                ],
                dashed: true,
            },
            _ => Line {
                colour,
                points,
                dashed: false,
            },
        };
        times.push(flat(time));
        speedups.push(flat(speedup));
    }
    let axis = XAxis {
        desc: "workers".to_owned(),
        log: false,
    };
    let note = format!(
        "median of the steady-state runs at {focus} tasks, shaded: its 95% confidence interval"
    );
    figure(
        html,
        "Run time vs workers",
        &note,
        &charts::lines(&axis, &format!("run time ({})", unit.name), &times, false)?,
    );
    figure(
        html,
        "Speedup vs workers",
        &format!("sequential median ÷ median at {focus} tasks; dashed diagonal: ideal"),
        &charts::lines(&axis, "speedup over sequential", &speedups, true)?,
    );
    Ok(())
}

/// Where the workers' time went, and the contention beside it.
fn overhead(html: &mut String, shown: &[&Cell], focus: usize) -> Result<(), ChartError> {
    let with: Vec<(&Cell, Overhead)> = shown
        .iter()
        .filter_map(|c| Some((*c, c.overhead?)))
        .collect();
    let max = with
        .iter()
        .map(|(_, o)| o.capacity_ns.max(o.contention_ns.unsigned_abs()) as f64)
        .fold(0.0, f64::max);
    let unit = TimeUnit::fitting(max);
    let rows: Vec<Bar> = with
        .iter()
        .map(|(cell, o)| Bar {
            label: format!("{} w{}", cell.strategy_label(), cell.workers),
            segments: o
                .parts()
                .iter()
                .zip(PARTS)
                .map(|(ns, (_, colour))| (*ns as f64 / unit.ns, colour))
                .collect(),
        })
        .collect();
    let key: Vec<(&str, String)> = PARTS.iter().map(|(name, c)| (*name, css(*c))).collect();
    figure_keyed(
        html,
        "Where the workers' time went",
        &format!("workers × run time at {focus} tasks, split into its parts (left to right)"),
        &key,
        &charts::bars(&format!("worker time ({})", unit.name), &rows)?,
    );
    let contention: Vec<Bar> = with
        .iter()
        .map(|(cell, o)| Bar {
            label: format!("{} w{}", cell.strategy_label(), cell.workers),
            segments: vec![(
                o.contention_ns as f64 / unit.ns,
                strategy_colour(cell.strategy_label()),
            )],
        })
        .collect();
    figure(
        html,
        "Contention",
        "busy time beyond the sequential run's: the tasks themselves slowed by sharing the machine",
        &charts::bars(&format!("extra busy time ({})", unit.name), &contention)?,
    );
    Ok(())
}

/// For a workload of rounds: a round's time split into its parts, and the bytes a round moves.
fn rounds(html: &mut String, shown: &[&Cell], focus: usize) -> Result<(), ChartError> {
    let with: Vec<(&Cell, &RoundStats)> = shown
        .iter()
        .filter_map(|c| Some((*c, c.work_rounds.as_ref()?)))
        .collect();
    let Some((_, first)) = with.first() else {
        return Ok(());
    };
    let count = first.costs.rounds;
    let max = with
        .iter()
        .map(|(_, r)| r.round.median_ns)
        .fold(0.0, f64::max);
    let unit = TimeUnit::fitting(max);
    let rows: Vec<Bar> = with
        .iter()
        .map(|(cell, r)| {
            let round = r.round.median_ns;
            let (straggler, exchange) = (r.costs.straggler_ns as f64, r.costs.exchange_ns as f64);
            let computing = (round - straggler - exchange).max(0.0);
            Bar {
                label: format!("{} w{}", cell.strategy_label(), cell.workers),
                segments: [computing, straggler, exchange]
                    .iter()
                    .zip(ROUND_PARTS)
                    .map(|(ns, (_, colour))| (ns / unit.ns, colour))
                    .collect(),
            }
        })
        .collect();
    let key: Vec<(&str, String)> = ROUND_PARTS
        .iter()
        .map(|(name, c)| (*name, css(*c)))
        .collect();
    figure_keyed(
        html,
        "A round's time",
        &format!(
            "the median round of {count} at {focus} tasks: tasks running, a worker waiting for \
             the slowest, and no task running while the state goes out and the partials are \
             reduced"
        ),
        &key,
        &charts::bars(&format!("round time ({})", unit.name), &rows)?,
    );
    let most = with
        .iter()
        .map(|(_, r)| r.costs.first_round_bytes.max(r.costs.bytes_per_round))
        .max()
        .unwrap_or(0);
    if most == 0 {
        return Ok(());
    }
    let (unit, size) = byte_unit(most as f64);
    // Only the cells whose rounds cross between processes: threads share memory and move none.
    let rows: Vec<Bar> = with
        .iter()
        .filter(|(_, r)| r.costs.first_round_bytes.max(r.costs.bytes_per_round) > 0)
        .flat_map(|(cell, r)| {
            let label = format!("{} w{}", cell.strategy_label(), cell.workers);
            let colour = strategy_colour(cell.strategy_label());
            [
                Bar {
                    label: format!("{label} · first"),
                    segments: vec![(r.costs.first_round_bytes as f64 / size, colour)],
                },
                Bar {
                    label: format!("{label} · then"),
                    segments: vec![(r.costs.bytes_per_round as f64 / size, colour)],
                },
            ]
        })
        .collect();
    figure(
        html,
        "Bytes a round moves",
        "between processes, both directions, to scale: the first round, then the median round \
         — items kept in the workers travel in the first round only; threads share memory and \
         move none",
        &charts::bars(&format!("bytes per round ({unit})"), &rows)?,
    );
    Ok(())
}

/// What one use of a fresh strategy costs: setup, the first (cold) run, teardown.
fn end_to_end(html: &mut String, shown: &[&Cell], focus: usize) -> Result<(), ChartError> {
    let phases = |c: &Cell| {
        c.median_sample()
            .map_or([0; 3], |s| [s.setup_ns, s.first_run_ns, s.teardown_ns])
    };
    let max = shown
        .iter()
        .map(|c| phases(c).iter().sum::<u64>())
        .max()
        .unwrap_or(0);
    let unit = TimeUnit::fitting(max as f64);
    let rows: Vec<Bar> = shown
        .iter()
        .map(|c| Bar {
            label: format!("{} w{}", c.strategy_label(), c.workers),
            segments: phases(c)
                .iter()
                .zip(PHASES)
                .map(|(ns, (_, colour))| (*ns as f64 / unit.ns, colour))
                .collect(),
        })
        .collect();
    let key: Vec<(&str, String)> = PHASES.iter().map(|(name, c)| (*name, css(*c))).collect();
    figure_keyed(
        html,
        "End to end: one use of a fresh strategy",
        &format!(
            "the median sample at {focus} tasks: spawning threads, pools or processes, the cold \
             first run, stopping them"
        ),
        &key,
        &charts::bars(&format!("time ({})", unit.name), &rows)?,
    );
    Ok(())
}

/// Peak memory and bytes moved between processes.
fn memory(html: &mut String, shown: &[&Cell], focus: usize) -> Result<(), ChartError> {
    let peak = shown
        .iter()
        .filter_map(|c| c.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    let (unit, size) = byte_unit(peak as f64);
    let rows: Vec<Bar> = shown
        .iter()
        .map(|c| Bar {
            label: format!("{} w{}", c.strategy_label(), c.workers),
            segments: vec![(
                c.peak_rss_bytes.unwrap_or(0) as f64 / size,
                strategy_colour(c.strategy_label()),
            )],
        })
        .collect();
    figure(
        html,
        "Peak memory",
        &format!("resident memory of the cell's whole process tree at {focus} tasks"),
        &charts::bars(&format!("peak RSS ({unit})"), &rows)?,
    );
    let moved = |c: &Cell| c.median_sample().map_or(0, |s| s.bytes_moved);
    let most = shown.iter().map(|c| moved(c)).max().unwrap_or(0);
    let (unit, size) = byte_unit(most as f64);
    let rows: Vec<Bar> = shown
        .iter()
        .map(|c| Bar {
            label: format!("{} w{}", c.strategy_label(), c.workers),
            segments: vec![(moved(c) as f64 / size, strategy_colour(c.strategy_label()))],
        })
        .collect();
    figure(
        html,
        "Bytes moved between processes",
        "per run, both directions; threads share memory and move none",
        &charts::bars(&format!("bytes moved ({unit})"), &rows)?,
    );
    Ok(())
}

/// Run time against the task count, each strategy at its most workers.
fn granularity(
    html: &mut String,
    group: &Group<'_>,
    strategies: &[&str],
) -> Result<(), ChartError> {
    let max_ns = group
        .cells
        .iter()
        .filter_map(|c| c.wall.as_ref().map(|w| w.ci_high_ns))
        .fold(0.0, f64::max);
    let unit = TimeUnit::fitting(max_ns);
    let lines: Vec<Line> = strategies
        .iter()
        .map(|&strategy| {
            let most = group
                .cells
                .iter()
                .filter(|c| c.strategy_label() == strategy)
                .map(|c| c.workers)
                .max()
                .unwrap_or(1);
            let points = group
                .task_counts()
                .into_iter()
                .filter_map(|tasks| {
                    let wall = group
                        .cell(strategy, most, tasks)
                        .filter(|c| c.status == Status::Ok)?
                        .wall
                        .as_ref()?;
                    Some((
                        tasks as f64,
                        wall.median_ns / unit.ns,
                        wall.ci_low_ns / unit.ns,
                        wall.ci_high_ns / unit.ns,
                    ))
                })
                .collect();
            Line {
                colour: strategy_colour(strategy),
                points,
                dashed: false,
            }
        })
        .collect();
    figure(
        html,
        "Granularity: run time vs tasks",
        "the same work split into more, smaller tasks, each strategy at its most workers: \
         where the line turns up, scheduling costs more than the work",
        &charts::lines(
            &XAxis {
                desc: "tasks (log scale)".to_owned(),
                log: true,
            },
            &format!("run time ({})", unit.name),
            &lines,
            false,
        )?,
    );
    Ok(())
}

/// Every sample's run time per strategy.
fn distribution(html: &mut String, shown: &[&Cell], focus: usize) -> Result<(), ChartError> {
    let rows: Vec<Distribution> = shown
        .iter()
        .map(|c| Distribution {
            label: format!("{} w{}", c.strategy_label(), c.workers),
            colour: strategy_colour(c.strategy_label()),
            values: c.samples.iter().map(|s| s.run_ns as f64).collect(),
        })
        .collect();
    figure(
        html,
        "Distribution of samples",
        &format!("each dot one sample at {focus} tasks; box: quartiles; bar: median; whiskers: min and max"),
        &charts::boxes(&rows)?,
    );
    Ok(())
}

/// A timeline of one run per strategy.
fn timelines(html: &mut String, shown: &[&Cell]) -> Result<(), ChartError> {
    html.push_str(
        "<h3>Timelines</h3>\n<p class=\"sub\">One steady run per strategy (the median run of the \
         median sample): a bar per task, a row per lane. White space is overhead: before the first \
         task (startup), between tasks (gaps) and after the last (tail).</p>\n\
         <div class=\"grid timelines\">\n",
    );
    for cell in shown {
        let caption = format!(
            "{} · {} · {}",
            cell.strategy_label(),
            count(cell.workers, "worker"),
            count(cell.tasks, "task")
        );
        match &cell.timeline {
            Some(t) => {
                let spans: Vec<Segment> = t
                    .spans
                    .iter()
                    .map(|s| Segment {
                        lane: s.lane,
                        start_ns: s.start_ns,
                        end_ns: s.end_ns,
                    })
                    .collect();
                let note = format!(
                    "run {} · overhead {}",
                    duration(t.run_ns as f64),
                    cell.overhead.map_or("-".into(), |o| percent(o.share()))
                );
                figure(
                    html,
                    &caption,
                    &note,
                    &charts::timeline(
                        t.lanes,
                        t.run_ns,
                        &spans,
                        strategy_colour(cell.strategy_label()),
                    )?,
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<figure><figcaption>{}</figcaption><p class=\"none\">No timeline: {}.</p></figure>",
                    escape(&caption),
                    if cell.status == Status::Ok {
                        format!(
                            "{} tasks are more than the {} a timeline keeps",
                            cell.tasks,
                            crate::Timeline::MAX_SPANS
                        )
                    } else {
                        "the cell failed".to_owned()
                    }
                );
            }
        }
    }
    html.push_str("</div>\n");
    Ok(())
}

/// Frames shown per strategy in the side-by-side of profiles.
const PROFILE_FRAMES: usize = 6;

/// Where each strategy's processes spent their CPU time: the frames with the most self time,
/// side by side, each strategy's flame graph linked.
fn profiles(html: &mut String, shown: &[&Cell]) {
    let profiled: Vec<(&Cell, &crate::Profile)> = shown
        .iter()
        .filter_map(|c| Some((*c, c.profile.as_ref()?)))
        .collect();
    if profiled.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Profiles</h3>\n<p class=\"sub\">Where the CPU time went in one extra, verified run \
         per strategy under a sampling profiler (never a timed sample), worker processes \
         included: the frames with the most self time, as a share of the profile's samples. \
         Time spent blocked (waiting on a pipe, a lock or the network) costs no CPU and does not \
         show. A strategy's name opens its flame graph.</p>\n<div class=\"grid profiles\">\n",
    );
    for (cell, profile) in profiled {
        let name = escape(cell.strategy_label());
        let title = if profile.flamegraph.is_empty() {
            name
        } else {
            format!("<a href=\"{}\">{name}</a>", escape(&profile.flamegraph))
        };
        let processes = profile
            .processes
            .iter()
            .map(|p| {
                let share = p.samples as f64 / profile.samples.max(1) as f64;
                format!("{} {}", escape(&p.process), percent(share))
            })
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = writeln!(
            html,
            "<figure><figcaption>{title}<small>{} samples over {} runs ({}) · {}</small>\
             </figcaption>",
            profile.samples,
            profile.runs,
            duration(profile.duration_ns as f64),
            processes
        );
        if let Some(error) = &profile.error {
            let _ = writeln!(html, "<p class=\"none\">No profile: {}</p>", escape(error));
        }
        html.push_str("<table class=\"frames\"><tbody>");
        let colour = css(strategy_colour(cell.strategy_label()));
        for frame in profile.top_frames.iter().take(PROFILE_FRAMES) {
            let _ = write!(
                html,
                "<tr><td class=\"text\" title=\"{0}\"><code>{0}</code></td><td><span \
                 class=\"share\" style=\"--w:{1:.1};--c:{colour}\"></span>{2}</td></tr>",
                escape(&frame.frame),
                100.0 * frame.share,
                percent(frame.share)
            );
        }
        html.push_str("</tbody></table></figure>\n");
    }
    html.push_str("</div>\n");
}

/// Tasks that failed by design, cells that failed, and what fail-fast cancelled.
fn failures(html: &mut String, group: &Group<'_>) {
    let relevant: Vec<&Cell> = group
        .cells
        .iter()
        .copied()
        .filter(|c| {
            c.status != Status::Ok
                || c.answer
                    .as_ref()
                    .is_some_and(|a| !a.failed_tasks.is_empty())
        })
        .collect();
    if relevant.is_empty() {
        return;
    }
    html.push_str(
        "<h3>Failures</h3>\n<div class=\"scroll\"><table><thead><tr><th>cell</th><th>status</th>\
         <th>tasks failed</th><th>errors</th><th>panics</th><th>skipped</th><th>first failure to end</th>\
         <th>message</th></tr></thead><tbody>\n",
    );
    for cell in relevant {
        let failed = cell
            .answer
            .as_ref()
            .map_or(&[][..], |a| &a.failed_tasks[..]);
        let panics = failed.iter().filter(|f| f.kind == "panic").count();
        let sample = cell.median_sample();
        let _ = writeln!(
            html,
            "<tr{}><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            if cell.status == Status::Ok { "" } else { " class=\"bad\"" },
            escape(&cell.id),
            status_class(cell.status),
            cell.status.as_str(),
            failed.len(),
            failed.len() - panics,
            panics,
            sample.map_or("-".into(), |s| s.skipped_tasks.to_string()),
            sample
                .and_then(|s| s.fail_stop_ns)
                .map_or("-".into(), |ns| duration(ns as f64)),
            escape(cell.error.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</tbody></table></div>\n");
}

/// Every cell of the workload with its figures.
fn every_cell(html: &mut String, group: &Group<'_>, figures: &Figures<'_>) {
    let _ = write!(
        html,
        "<details><summary>All {} cells</summary>\n<div class=\"scroll\"><table><thead><tr>\
         <th>cell</th><th>status</th><th>samples</th><th>processes</th><th>median</th>\
         <th>95% CI</th><th>noise floor</th><th>end to end</th><th>speedup</th><th>overhead</th>\
         <th>overhead per task</th><th>peak RSS</th>\
         <th>bytes moved</th><th>profile</th></tr></thead><tbody>\n",
        group.cells.len()
    );
    for cell in &group.cells {
        let wall = cell.wall.as_ref();
        let _ = writeln!(
            html,
            "<tr id=\"cell-{}\"><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>± {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            anchor(&cell.id),
            escape(&cell.id),
            status_class(cell.status),
            cell.status.as_str(),
            cell.samples.len(),
            wall.map_or("-".into(), |w| w.processes.max(1).to_string()),
            wall.map_or("-".into(), |w| duration(w.median_ns)),
            wall.map_or("-".into(), |w| percent(w.relative_half_width())),
            wall.and_then(|w| w.mde).map_or("-".into(), percent),
            cell.end_to_end
                .as_ref()
                .map_or("-".into(), |w| duration(w.median_ns)),
            figures
                .speedup(cell)
                .map_or("-".into(), |s| format!("{s:.2}x")),
            cell.overhead.map_or("-".into(), |o| percent(o.share())),
            match figures.overhead_per_task(cell) {
                Some((ns, Some(trips))) => format!("{} ({trips:.2}× a pipe round trip)", duration(ns)),
                Some((ns, None)) => duration(ns),
                None => "-".into(),
            },
            cell.peak_rss_bytes.map_or("-".into(), bytes),
            cell.median_sample().map_or("-".into(), |s| bytes(s.bytes_moved)),
            match &cell.profile {
                Some(p) if !p.flamegraph.is_empty() => format!(
                    "<a href=\"{}\">{} samples</a>",
                    escape(&p.flamegraph),
                    p.samples
                ),
                _ => "-".to_owned(),
            },
        );
    }
    html.push_str("</tbody></table></div></details>\n");
}

fn footer(html: &mut String) {
    html.push_str(
        "<footer><h3>How to read this report</h3><p><b>Run time</b> is the median of the \
         steady-state runs (a strategy already set up). Each cell is measured in several \
         processes of its own: the figure is the geometric mean of the processes' medians, and \
         its 95% confidence interval (Student's t on their logarithms) covers the differences \
         between processes as well as the noise within one, so a second run's figure falls in \
         it. The <b>noise floor</b> of a cell is the smallest change of its median that a \
         second run with as many processes would tell apart (at 95%, four times in five). \
         <b>End to end</b> adds setup, the first (cold) run and \
         teardown. <b>Speedup</b> is the sequential median at the same task count divided by the \
         cell's. The <b>overhead</b> decomposition splits workers × run time into busy (inside \
         tasks), startup (before each worker's first task), gaps (between its tasks) and tail \
         (after its last); the four add up exactly. <b>Contention</b> is busy time beyond the \
         sequential run's. <b>Peak memory</b> is the resident memory of the cell's whole process \
         tree. Every sample's answer was verified against the sequential reference.</p></footer>\n",
    );
}

fn status_class(status: Status) -> &'static str {
    if status == Status::Ok {
        "status-ok"
    } else {
        "status-bad"
    }
}

/// A cell id as an HTML id: characters other than letters, digits, `-` and `_` become `_`.
pub(crate) fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Text safe inside HTML elements and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
