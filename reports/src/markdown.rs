//! `summary.md`: GitHub-flavoured tables per workload, short enough for a pull-request comment.

use std::fmt::Write as _;

use crate::figures::Figures;
use crate::format::{bytes, duration, percent};
use crate::view::{groups, Group, Verdict};
use crate::{Cell, ReportError, Results, Status, Writer};

/// `summary.md`: the machine, then per workload its verdict and a table with each strategy at
/// its best configuration; the failed cells last. Every cell is in `results.csv`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Writer for Markdown {
    fn file_name(&self) -> &'static str {
        "summary.md"
    }

    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut md = String::new();
        let m = &results.machine;
        // Writing into a String cannot fail.
        let _ = writeln!(
            md,
            "## parbench: suite `{}`\n\n{} · {} logical cores · {} · {} · parbench {} · {} cells · started {}\n",
            results.suite.name,
            m.cpu_model,
            m.logical_cores,
            bytes(m.memory_bytes),
            m.os,
            results.parbench_version,
            results.cells.len(),
            results.started_at,
        );
        if let Some(sampling) = crate::view::sampling_summary(results) {
            let _ = writeln!(md, "{}.\n", capitalized(&sampling));
        }
        if let Some(canary) = crate::view::canary_summary(results) {
            let _ = writeln!(md, "The machine, watched between visits: {canary}.\n");
        }
        if let Some(contests) = crate::contest::summary(results) {
            let open = crate::contest::open_buckets(results);
            let _ = writeln!(
                md,
                "Contests: {contests}{}\n",
                if open.is_empty() {
                    "."
                } else {
                    "; still open:"
                }
            );
            for bucket in &open {
                let _ = writeln!(md, "- {bucket}");
            }
            if !open.is_empty() {
                md.push('\n');
            }
        }
        if let Some(visits) = results.visits.as_ref().and_then(crate::view::visit_summary) {
            let _ = writeln!(md, "{}.\n", capitalized(&visits));
        }
        md.push_str(&crate::claims::markdown(results));
        let figures = Figures::of(results);
        for group in groups(results) {
            section(&mut md, &group, &figures);
        }
        if let Ok(decision) = crate::decide::Decision::of(results) {
            md.push_str(&crate::decide::markdown(&decision));
        }
        let failed: Vec<&Cell> = results
            .cells
            .iter()
            .filter(|c| c.status != Status::Ok)
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(
                md,
                "### Failed cells\n\n| cell | status | error |\n|---|---|---|"
            );
            for cell in failed {
                let _ = writeln!(
                    md,
                    "| `{}` | {} | {} |",
                    cell.id,
                    cell.status.as_str(),
                    escape(cell.error.as_deref().unwrap_or("-"))
                );
            }
            md.push('\n');
        }
        Ok(md.into_bytes())
    }
}

/// One workload: its verdict, then a row per strategy at the strategy's best configuration.
fn section(md: &mut String, group: &Group<'_>, figures: &Figures<'_>) {
    let _ = writeln!(
        md,
        "### {} · {} items ({})\n",
        group.label,
        group.size,
        group.kind()
    );
    if let Some(verdict) = group.verdict() {
        let _ = writeln!(md, "{}\n", verdict_sentence(&verdict));
    }
    let _ = writeln!(
        md,
        "| strategy | workers | tasks | median | 95% CI | speedup | overhead | peak RSS | status |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|---|"
    );
    for strategy in group.strategies() {
        let cell = group.best_of(strategy).or_else(|| {
            group
                .cells
                .iter()
                .copied()
                .find(|c| c.strategy_label() == strategy)
        });
        let Some(cell) = cell else { continue };
        let (median, ci) = cell.wall.as_ref().map_or(("-".into(), "-".into()), |w| {
            (
                duration(w.median_ns),
                format!("± {}", percent(w.relative_half_width())),
            )
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell.strategy_label(),
            cell.workers,
            cell.tasks,
            median,
            ci,
            figures
                .speedup(cell)
                .map_or("-".into(), |s| format!("{s:.2}x")),
            cell.overhead.map_or("-".into(), |o| percent(o.share())),
            cell.peak_rss_bytes.map_or("-".into(), bytes),
            cell.status.as_str(),
        );
    }
    md.push('\n');
}

/// "Fastest: rayon (w2, 8 tasks), 1.84 ms ± 1.2%, 1.31x ahead of threads (CIs apart); leanest
/// in memory: threads (12.1 MiB)."
pub(crate) fn verdict_sentence(verdict: &Verdict<'_>) -> String {
    let fast = verdict.fastest;
    let mut sentence = format!(
        "Fastest: {} ({}, {}), {} ± {}",
        fast.strategy_label(),
        count(fast.workers, "worker"),
        count(fast.tasks, "task"),
        fast.wall
            .as_ref()
            .map_or("-".into(), |w| duration(w.median_ns)),
        fast.wall
            .as_ref()
            .map_or("-".into(), |w| percent(w.relative_half_width())),
    );
    match (verdict.runner_up, verdict.margin()) {
        (Some(next), Some((ratio, apart))) => {
            let _ = write!(
                sentence,
                "; {:.2}x ahead of the runner-up, {} ({})",
                ratio,
                next.strategy_label(),
                if apart {
                    "confidence intervals apart"
                } else {
                    "confidence intervals overlap: not a clear win"
                }
            );
        }
        _ => sentence.push_str("; no other strategy ran well"),
    }
    if let Some(lean) = verdict.leanest {
        let _ = write!(
            sentence,
            ". Leanest in memory: {} ({})",
            lean.strategy_label(),
            lean.peak_rss_bytes.map_or("-".into(), bytes)
        );
    }
    if verdict.failed > 0 {
        let _ = write!(sentence, ". {} cells failed", verdict.failed);
    }
    sentence.push('.');
    sentence
}

/// `1 worker`, `2 workers`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A table cell's text: pipes escaped, one line.
/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
