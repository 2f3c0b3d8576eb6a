//! A comparison for people: the terminal's table and `compare.md`.

use std::fmt::Write as _;

use super::{Comparison, Metric, Mode, Row, Verdict};

/// The hidden line `compare.md` starts with, so that a bot can find and update its own
/// pull-request comment.
pub const MARKER: &str = "<!-- parbench-compare -->";

/// The thresholds as one phrase: `run ±5%, end-to-end ±5%, memory ±10%, overhead ±5 pt, bytes
/// ±10%`.
fn thresholds(comparison: &Comparison) -> String {
    Metric::ALL
        .iter()
        .map(|m| {
            let t = m.threshold(&comparison.thresholds);
            match m.scale() {
                super::Scale::Ratio => format!("{} ±{}%", m.name(), trim(100.0 * t)),
                super::Scale::Points => format!("{} ±{} pt", m.name(), trim(100.0 * t)),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A number without trailing zeros: `5`, `2.5`.
fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// What the verdicts add up to: `1 regression, 2 inconclusive, 40 unchanged`.
pub(crate) fn tally(comparison: &Comparison) -> String {
    let parts: Vec<String> = [
        (Verdict::Failed, "failed", "failed"),
        (Verdict::Regression, "regression", "regressions"),
        (Verdict::Improvement, "improvement", "improvements"),
        (Verdict::Inconclusive, "inconclusive", "inconclusive"),
        (Verdict::Unchanged, "unchanged", "unchanged"),
    ]
    .iter()
    .filter_map(|&(v, one, many)| {
        let n = comparison.count(v);
        (n > 0).then(|| format!("{n} {}", if n == 1 { one } else { many }))
    })
    .collect();
    parts.join(", ")
}

/// The sentences every output opens with: what was compared, how, and what it found.
pub(crate) fn preamble(comparison: &Comparison) -> Vec<String> {
    let c = comparison;
    let cells = {
        let mut ids: Vec<&str> = c.rows.iter().map(|r| r.cell.as_str()).collect();
        ids.dedup();
        ids.len()
    };
    let how = match c.mode {
        Mode::Paired => {
            "paired: both builds in one run, their processes taking turns, each round a pair"
        }
        Mode::Independent => "independent runs: each side's processes on their own",
    };
    let mut lines = vec![
        format!(
            "suite `{}`: {} (base) against {} (new), {cells} cells, {how}",
            c.suite,
            c.base.label(),
            c.new.label()
        ),
        match c.mode {
            Mode::Independent => format!(
                "every interval at {:.2}%: alpha {} shared among the {} metrics that varied \
                 (Bonferroni); thresholds {}",
                100.0 * (1.0 - c.alpha / c.tests.max(1) as f64),
                trim(c.alpha),
                c.tests,
                thresholds(c)
            ),
            Mode::Paired => format!(
                "the first rounds screen each of the {} metrics that varied at {}%; a regression \
                 stands only when a second measurement finds it at alpha {} over what it \
                 re-measured; thresholds {}",
                c.tests,
                trim(100.0 * (1.0 - super::SCREEN)),
                trim(c.alpha),
                thresholds(c)
            ),
        },
    ];
    if let Some(confirmation) = &c.confirmation {
        lines.push(format!(
            "{} metric(s) flagged at first were measured once more from round {}: {} confirmed",
            confirmation.flagged, confirmation.round, confirmation.confirmed
        ));
    } else if c.mode == Mode::Independent {
        lines.push(
            "independent runs are not measured again: a regression here is not confirmed"
                .to_owned(),
        );
    }
    if let Some((base, new)) = &c.pace {
        let change = |a: f64, b: f64| format!("{:+.1}%", 100.0 * (b / a - 1.0));
        lines.push(format!(
            "the machine's pace, by the canary: compute probe {}, memory probe {} in new's run \
             against base's (every figure of independent runs moves with it; a paired run \
             cancels it)",
            change(base.compute_ns, new.compute_ns),
            change(base.copy_ns, new.copy_ns)
        ));
    }
    if !c.other_machine.is_empty() {
        lines.push(format!(
            "FORCED ACROSS MACHINES (--allow-other-machine): {}",
            c.other_machine.join("; ")
        ));
    }
    for (side, ids) in [("base", &c.only_base), ("new", &c.only_new)] {
        if !ids.is_empty() {
            lines.push(format!(
                "not compared, only in {side} ({}): {}",
                ids.len(),
                ids.join(", ")
            ));
        }
    }
    lines
}

/// The figure of one side, or a dash.
fn figure(row: &Row, value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| row.metric.format(v))
}

/// The terminal's table: the preamble, then what changed, largest first (`all`: every row),
/// then the tally.
pub fn terminal(comparison: &Comparison, all: bool) -> String {
    let mut out = String::new();
    for line in preamble(comparison) {
        let _ = writeln!(out, "{line}");
    }
    let rows: Vec<&Row> = if all {
        comparison.rows.iter().collect()
    } else {
        comparison.changed()
    };
    if !rows.is_empty() {
        let header = [
            "verdict",
            "cell",
            "metric",
            "base",
            "new",
            "change [interval]",
        ];
        let cells: Vec<[String; 6]> = rows
            .iter()
            .map(|r| {
                [
                    r.verdict.as_str().to_owned(),
                    r.cell.clone(),
                    r.metric.name().to_owned(),
                    figure(r, r.base),
                    figure(r, r.new),
                    match &r.note {
                        Some(note) => format!("{}  ({note})", r.change_text()),
                        None => r.change_text(),
                    },
                ]
            })
            .collect();
        let width = |i: usize| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..5).map(width).collect();
        let _ = writeln!(out);
        let line = |cols: [&str; 6]| {
            let mut text = String::new();
            for (i, col) in cols.iter().enumerate().take(5) {
                let pad = widths[i].saturating_sub(col.chars().count());
                if i >= 3 {
                    let _ = write!(text, "{}{col}  ", " ".repeat(pad));
                } else {
                    let _ = write!(text, "{col}{}  ", " ".repeat(pad));
                }
            }
            text.push_str(cols[5]);
            text
        };
        let _ = writeln!(out, "{}", line(header));
        for c in &cells {
            let _ = writeln!(out, "{}", line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]]));
        }
    }
    let _ = writeln!(out, "\n{}", tally(comparison));
    out
}

/// `compare.md`: a pull-request comment. The [`MARKER`] line, a headline, the preamble, what
/// changed and, folded, every row.
pub fn markdown(comparison: &Comparison) -> String {
    let c = comparison;
    let mut md = String::new();
    let _ = writeln!(md, "{MARKER}");
    let failing = c.failing();
    let headline = if failing > 0 {
        format!(":x: {failing} regression(s)")
    } else {
        ":white_check_mark: no regression".to_owned()
    };
    let _ = writeln!(md, "## parbench compare: {headline}\n");
    for line in preamble(c) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(md, "\n**{}**\n", tally(c));
    let table = |md: &mut String, rows: &[&Row]| {
        let _ = writeln!(
            md,
            "| verdict | cell | metric | base | new | change [interval] |"
        );
        let _ = writeln!(md, "|---|---|---|--:|--:|---|");
        for r in rows {
            let change = match &r.note {
                Some(note) => format!("{} — {note}", r.change_text()),
                None => r.change_text(),
            };
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} | {} | {} |",
                r.verdict.as_str(),
                r.cell,
                r.metric.name(),
                figure(r, r.base),
                figure(r, r.new),
                change.replace('|', "\\|")
            );
        }
    };
    let changed = c.changed();
    if !changed.is_empty() {
        table(&mut md, &changed);
    }
    let _ = writeln!(
        md,
        "\n<details><summary>Every metric of every cell ({} rows)</summary>\n",
        c.rows.len()
    );
    let all: Vec<&Row> = c.rows.iter().collect();
    table(&mut md, &all);
    let _ = writeln!(md, "\n</details>");
    md
}
