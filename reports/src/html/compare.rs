//! `compare.html`: a comparison as one self-contained page — what it concludes, a forest plot
//! per metric (each cell's change and interval against the threshold band), and every cell's
//! figures side by side.

use std::fmt::Write as _;

use plotters::style::RGBColor;

use super::charts::{forest, ChartError, Interval};
use super::{escape, STYLE};
use crate::compare::{preamble, tally, Comparison, Metric, Scale, Verdict};

/// A verdict's colour: red for what fails the gate, green for better, amber for too noisy.
fn colour(verdict: Verdict) -> RGBColor {
    match verdict {
        Verdict::Failed => RGBColor(127, 29, 29),
        Verdict::Regression => RGBColor(220, 38, 38),
        Verdict::Improvement => RGBColor(22, 163, 74),
        Verdict::Inconclusive => RGBColor(217, 119, 6),
        Verdict::Unchanged => RGBColor(100, 116, 139),
    }
}

/// A cell's id without its size, which every cell of a workload entry usually shares:
/// `spin[ns_per_item=100]/tasks=8/threads/w2`.
fn short_label(id: &str) -> String {
    id.split('/')
        .filter(|part| !part.starts_with("size="))
        .collect::<Vec<_>>()
        .join("/")
}

/// The page.
pub(crate) fn page(comparison: &Comparison) -> Result<String, ChartError> {
    let c = comparison;
    let failing = c.failing();
    let headline = if failing > 0 {
        format!("{failing} regression(s)")
    } else {
        "no regression".to_owned()
    };
    let mut html = String::with_capacity(1 << 18);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>parbench compare · {}</title>\n<style>{STYLE}\
         .legend .regression{{--c:#dc2626}} .legend .improvement{{--c:#16a34a}} \
         .legend .inconclusive{{--c:#d97706}} .legend .unchanged{{--c:#64748b}} \
         .legend .failed{{--c:#7f1d1d}} figure.forest {{ margin: 16px 0; }}</style>\n</head>\n<body>\n<main>\n\
         <h1>parbench compare: {}</h1>\n",
        escape(&c.suite),
        escape(&headline)
    );
    let class = if failing > 0 {
        "verdict failed"
    } else {
        "verdict"
    };
    let _ = write!(
        html,
        "<div class=\"{class}\"><b>{}</b></div>\n<ul class=\"sub\">",
        escape(&tally(c))
    );
    for line in preamble(c) {
        let _ = write!(html, "<li>{}</li>", escape(&line));
    }
    html.push_str("</ul>\n<div class=\"legend\">");
    for v in [
        Verdict::Regression,
        Verdict::Improvement,
        Verdict::Inconclusive,
        Verdict::Unchanged,
        Verdict::Failed,
    ] {
        let _ = write!(html, "<span class=\"{0}\">{0}</span>", v.as_str());
    }
    html.push_str("</div>\n");
    for metric in Metric::ALL {
        let rows: Vec<Interval> = c
            .rows
            .iter()
            .filter(|r| r.metric == metric)
            .filter_map(|r| {
                Some(Interval {
                    label: short_label(&r.cell),
                    change: 100.0 * r.change?,
                    low: 100.0 * r.low.unwrap_or(f64::NEG_INFINITY),
                    high: 100.0 * r.high.unwrap_or(f64::INFINITY),
                    colour: colour(r.verdict),
                })
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let threshold = 100.0 * metric.threshold(&c.thresholds);
        let unit = match metric.scale() {
            Scale::Ratio => "change (%)",
            Scale::Points => "change (points)",
        };
        let svg = forest(&rows, threshold, unit)?;
        let _ = writeln!(
            html,
            "<figure class=\"forest\"><figcaption>{}<small>Each cell's change, new against base, and its \
             interval; the shaded band is the threshold (±{}), the line no change.</small>\
             </figcaption>{svg}</figure>",
            escape(metric.name()),
            escape(&metric.format_change(metric.threshold(&c.thresholds)).replace('+', ""))
        );
    }
    html.push_str(
        "<h2>The cells side by side</h2>\n<div class=\"scroll\"><table>\
        <tr><th>cell</th><th>metric</th><th>base</th><th>new</th><th>change [interval]</th>\
        <th>units</th><th>verdict</th><th>note</th></tr>\n",
    );
    for r in &c.rows {
        let figure = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| r.metric.format(v));
        let bad = if r.verdict.fails_gate() {
            " class=\"bad\""
        } else {
            ""
        };
        let _ = writeln!(
            html,
            "<tr{bad}><td class=\"text\"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            escape(&r.cell),
            r.metric.name(),
            escape(&figure(r.base)),
            escape(&figure(r.new)),
            escape(&r.change_text()),
            r.units,
            r.verdict.as_str(),
            escape(r.note.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</table></div>\n</main>\n</body>\n</html>\n");
    Ok(html)
}
