//! The report's charts, drawn with plotters into inline SVG.
//!
//! Every chart takes plain series and returns the SVG text; the page decides what to plot.
//! Text is laid out by the browser (plotters' SVG backend needs no font files), and each
//! strategy has one colour in every chart of the report.

use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// What drawing a chart can fail with.
pub(crate) type ChartError = Box<dyn std::error::Error + Send + Sync>;

/// Chart sizes in pixels: two side by side fill a laptop screen.
pub(crate) const WIDTH: u32 = 520;
pub(crate) const HEIGHT: u32 = 300;

const FONT: &str = "sans-serif";
const AXIS: RGBColor = RGBColor(71, 85, 105);
const GRID: RGBColor = RGBColor(226, 232, 240);

/// The built-in strategies' colours: the same in every chart, close relatives close in hue
/// (threads and pools blue, processes warm).
const KNOWN: [(&str, RGBColor); 9] = [
    ("sequential", RGBColor(100, 116, 139)),
    ("threads", RGBColor(37, 99, 235)),
    ("thread-pool", RGBColor(8, 145, 178)),
    ("rayon", RGBColor(22, 163, 74)),
    ("tokio", RGBColor(147, 51, 234)),
    ("actors", RGBColor(219, 39, 119)),
    ("process-pool", RGBColor(234, 88, 12)),
    ("process-shm", RGBColor(202, 138, 4)),
    ("timely", RGBColor(220, 38, 38)),
];

/// Colours for strategies parbench does not know, chosen by name so they stay put.
const EXTRA: [RGBColor; 6] = [
    RGBColor(13, 148, 136),
    RGBColor(79, 70, 229),
    RGBColor(190, 24, 93),
    RGBColor(101, 163, 13),
    RGBColor(180, 83, 9),
    RGBColor(30, 64, 175),
];

/// The colour of a strategy in every chart; a configuration of a built-in strategy
/// (`timely[mode=processes]`) is a darker shade of its colour.
pub(crate) fn strategy_colour(label: &str) -> RGBColor {
    let known = |name: &str| {
        KNOWN
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, colour)| *colour)
    };
    let base = label.split('[').next().unwrap_or(label);
    known(label)
        .or_else(|| {
            known(base).map(|RGBColor(r, g, b)| {
                let dark = |c: u8| (f64::from(c) * 0.6) as u8;
                RGBColor(dark(r), dark(g), dark(b))
            })
        })
        .unwrap_or_else(|| {
            let name = label;
            let hash = name
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
            EXTRA[hash % EXTRA.len()]
        })
}

/// `#rrggbb` for CSS.
pub(crate) fn css(colour: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", colour.0, colour.1, colour.2)
}

/// The parts of the overhead decomposition, in stacking order, with their colours.
pub(crate) const PARTS: [(&str, RGBColor); 4] = [
    ("busy", RGBColor(34, 197, 94)),
    ("startup", RGBColor(245, 158, 11)),
    ("gaps", RGBColor(239, 68, 68)),
    ("tail", RGBColor(139, 92, 246)),
];

/// The parts of a round of a workload of rounds, in stacking order, with their colours: tasks
/// running, workers waiting for the slowest, no task running (the state handed out, the
/// partials gathered and reduced).
pub(crate) const ROUND_PARTS: [(&str, RGBColor); 3] = [
    ("computing", RGBColor(34, 197, 94)),
    ("waiting for the slowest", RGBColor(139, 92, 246)),
    ("exchange and reduce", RGBColor(239, 68, 68)),
];

/// The phases of one use of a fresh strategy, in stacking order, with their colours.
pub(crate) const PHASES: [(&str, RGBColor); 3] = [
    ("setup", RGBColor(14, 165, 233)),
    ("first run", RGBColor(71, 85, 105)),
    ("teardown", RGBColor(244, 114, 182)),
];

/// The unit that shows durations up to `max_ns` with short numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeUnit {
    pub name: &'static str,
    pub ns: f64,
}

impl TimeUnit {
    pub(crate) fn fitting(max_ns: f64) -> Self {
        let (name, ns) = match max_ns {
            m if m < 1e4 => ("ns", 1.0),
            m if m < 1e7 => ("µs", 1e3),
            m if m < 1e10 => ("ms", 1e6),
            _ => ("s", 1e9),
        };
        Self { name, ns }
    }
}

/// The unit that shows sizes up to `max` bytes with short numbers.
pub(crate) fn byte_unit(max: f64) -> (&'static str, f64) {
    match max {
        m if m < 10.0 * 1024.0 => ("B", 1.0),
        m if m < 10.0 * 1024.0 * 1024.0 => ("KiB", 1024.0),
        m if m < 10.0 * 1024.0 * 1024.0 * 1024.0 => ("MiB", 1024.0 * 1024.0),
        _ => ("GiB", 1024.0 * 1024.0 * 1024.0),
    }
}

/// One strategy's line: points (x, value, interval low, interval high).
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub colour: RGBColor,
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Drawn dashed: a reference rather than a measurement of the x axis.
    pub dashed: bool,
}

/// How a line chart's x axis reads.
#[derive(Debug, Clone)]
pub(crate) struct XAxis {
    pub desc: String,
    /// Logarithmic (task counts spanning decades).
    pub log: bool,
}

/// Lines with shaded confidence bands; `ideal` adds the y = x diagonal (perfect speedup).
pub(crate) fn lines(
    x: &XAxis,
    y_desc: &str,
    lines: &[Line],
    ideal: bool,
) -> Result<String, ChartError> {
    let points = lines.iter().flat_map(|l| l.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for &(px, _, _, high) in points {
        x0 = x0.min(px);
        x1 = x1.max(px);
        y1 = y1.max(high);
    }
    if !x0.is_finite() {
        (x0, x1) = (1.0, 2.0);
    }
    if ideal {
        y1 = y1.max(x1);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y_range = 0.0..(y1 * 1.08).max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56);
        if x.log {
            let mut chart = builder.build_cartesian_2d((x0..x1 * 1.05).log_scale(), y_range)?;
            draw_lines(&mut chart, x, y_desc, lines, ideal.then_some(x1))?;
        } else {
            let pad = (x1 - x0) * 0.04;
            let mut chart = builder.build_cartesian_2d(x0 - pad..x1 + pad, y_range)?;
            draw_lines(&mut chart, x, y_desc, lines, ideal.then_some(x1))?;
        }
        root.present()?;
    }
    Ok(svg)
}

fn draw_lines<X>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, RangedCoordf64>>,
    x: &XAxis,
    y_desc: &str,
    lines: &[Line],
    ideal_to: Option<f64>,
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let whole = |v: &f64| {
        if (v - v.round()).abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_desc(x.desc.as_str())
        .y_desc(y_desc)
        .x_label_formatter(&whole)
        .y_label_formatter(&number)
        .label_style((FONT, 12).into_font().color(&AXIS))
        .axis_desc_style((FONT, 13).into_font().color(&AXIS))
        .draw()?;
    if let Some(to) = ideal_to {
        chart.draw_series(DashedLineSeries::new(
            [(1.0, 1.0), (to, to)],
            6,
            4,
            BLACK.mix(0.45).stroke_width(1),
        ))?;
    }
    for line in lines {
        draw_line(chart, line)?;
    }
    Ok(())
}

/// One line: its interval as a shaded band and a bar at each point, the points joined (or one
/// dashed line, for a reference).
fn draw_line<X>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, RangedCoordf64>>,
    line: &Line,
) -> Result<(), ChartError>
where
    X: Ranged<ValueType = f64>,
{
    if line.points.len() > 1 && !line.dashed {
        let mut band: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, p.3)).collect();
        band.extend(line.points.iter().rev().map(|p| (p.0, p.2)));
        chart.draw_series(std::iter::once(Polygon::new(
            band,
            line.colour.mix(0.16).filled(),
        )))?;
    }
    let path = line.points.iter().map(|p| (p.0, p.1));
    if line.dashed {
        chart.draw_series(DashedLineSeries::new(
            path,
            5,
            4,
            line.colour.stroke_width(2),
        ))?;
    } else {
        chart.draw_series(LineSeries::new(path, line.colour.stroke_width(2)))?;
        chart.draw_series(
            line.points
                .iter()
                .map(|p| Circle::new((p.0, p.1), 3, line.colour.filled())),
        )?;
        // The interval as an error bar: visible even for a single point.
        chart.draw_series(line.points.iter().map(|p| {
            PathElement::new(vec![(p.0, p.2), (p.0, p.3)], line.colour.stroke_width(1))
        }))?;
    }
    Ok(())
}

/// An axis number without trailing zeros: `0`, `2.5`, `1200`.
fn number(v: &f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Room for the longest row label of a bar or box chart, in pixels (about 7 per character at
/// the labels' size).
fn label_area(labels: impl Iterator<Item = usize>) -> u32 {
    let longest = labels.max().unwrap_or(0) as u32;
    (longest * 7 + 12).max(96)
}

/// One row of a horizontal bar chart: a label and stacked segments (value, colour).
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    pub segments: Vec<(f64, RGBColor)>,
}

/// A chart with a labelled row per entry, top to bottom.
type RowChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The set-up bar charts and box plots share: a row per label, top to bottom, over `x`, its
/// axes and grid drawn; `marks` then draws row `i` at y = `count - 1 - i`.
fn row_chart(
    width: u32,
    labels: &[&str],
    x: std::ops::Range<f64>,
    x_desc: &str,
    marks: impl FnOnce(&mut RowChart<'_, '_>, usize) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let count = labels.len().max(1);
    let height = (60 + 28 * count as u32).max(140);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(label_area(labels.iter().map(|l| l.chars().count())))
            .build_cartesian_2d(x, -0.5..count as f64 - 0.5)?;
        let label = |v: &f64| {
            let index = v.round();
            if (v - index).abs() > 1e-6 || index < 0.0 {
                return String::new();
            }
            // Rows run top to bottom.
            labels
                .get(count - 1 - index as usize)
                .map_or(String::new(), |l| (*l).to_owned())
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .y_labels(count)
            .y_label_formatter(&label)
            .x_desc(x_desc)
            .x_label_formatter(&number)
            .label_style((FONT, 12).into_font().color(&AXIS))
            .axis_desc_style((FONT, 13).into_font().color(&AXIS))
            .draw()?;
        marks(&mut chart, count)?;
        root.present()?;
    }
    Ok(svg)
}

/// Horizontal bars, one row per label, segments stacked left to right; negative single
/// segments extend left of zero.
pub(crate) fn bars(x_desc: &str, rows: &[Bar]) -> Result<String, ChartError> {
    let (mut low, mut high) = (0.0f64, 0.0f64);
    for row in rows {
        let total: f64 = row.segments.iter().map(|s| s.0).sum();
        low = low.min(total);
        high = high.max(total);
    }
    if high - low <= 0.0 {
        high = 1.0;
    }
    let pad = (high - low) * 0.06;
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let x = (low - if low < 0.0 { pad } else { 0.0 })..high + pad;
    row_chart(WIDTH, &labels, x, x_desc, |chart, count| {
        for (i, row) in rows.iter().enumerate() {
            let y = (count - 1 - i) as f64;
            let mut start = 0.0;
            for &(value, colour) in &row.segments {
                let end = start + value;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(start, y - 0.32), (end, y + 0.32)],
                    colour.filled(),
                )))?;
                start = end;
            }
        }
        Ok(())
    })
}

/// One strategy's samples for a box plot.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    pub label: String,
    pub colour: RGBColor,
    /// Run times in nanoseconds.
    pub values: Vec<f64>,
}

/// Box plots, one row per strategy: whiskers at min and max, the box from the first to the
/// third quartile, the median as a bar, every sample as a dot.
pub(crate) fn boxes(rows: &[Distribution]) -> Result<String, ChartError> {
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .fold(0.0f64, f64::max);
    let unit = TimeUnit::fitting(max);
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let x = 0.0..(max / unit.ns * 1.06).max(1e-9);
    let x_desc = format!("run time ({})", unit.name);
    row_chart(WIDTH, &labels, x, &x_desc, |chart, count| {
        for (i, row) in rows.iter().enumerate() {
            let y = (count - 1 - i) as f64;
            let mut sorted: Vec<f64> = row.values.iter().map(|v| v / unit.ns).collect();
            sorted.sort_by(f64::total_cmp);
            let Some((&lo, &hi)) = sorted.first().zip(sorted.last()) else {
                continue;
            };
            let q = |p: f64| quantile(&sorted, p);
            let style = row.colour.stroke_width(1);
            chart.draw_series([
                PathElement::new(vec![(lo, y), (hi, y)], style),
                PathElement::new(vec![(lo, y - 0.15), (lo, y + 0.15)], style),
                PathElement::new(vec![(hi, y - 0.15), (hi, y + 0.15)], style),
            ])?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(q(0.25), y - 0.28), (q(0.75), y + 0.28)],
                row.colour.mix(0.25).filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(q(0.25), y - 0.28), (q(0.75), y + 0.28)],
                row.colour.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(q(0.5), y - 0.28), (q(0.5), y + 0.28)],
                row.colour.stroke_width(3),
            )))?;
            // Dots spread over the row's height so equal values stay visible.
            chart.draw_series(sorted.iter().enumerate().map(|(k, &v)| {
                let spread = ((k * 7) % 11) as f64 / 10.0 - 0.5;
                Circle::new((v, y + spread * 0.4), 2, BLACK.mix(0.45).filled())
            }))?;
        }
        Ok(())
    })
}

/// The `p` quantile of sorted values, interpolated linearly.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let position = p * (sorted.len().saturating_sub(1)) as f64;
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

/// A span on a lane, in nanoseconds from the run's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment {
    pub lane: u32,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// A timeline of one run: a row per lane, a bar per task (alternating shades so neighbours
/// stay apart), the run's end as a line.
pub(crate) fn timeline(
    lanes: usize,
    run_ns: u64,
    spans: &[Segment],
    colour: RGBColor,
) -> Result<String, ChartError> {
    let unit = TimeUnit::fitting(run_ns as f64);
    let end = run_ns as f64 / unit.ns;
    let count = lanes.max(1);
    let height = (56 + 22 * count as u32).max(110);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..(end * 1.02).max(1e-9), -0.5..count as f64 - 0.5)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .y_labels(count.min(16))
            .y_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
                    format!("lane {}", v.round())
                } else {
                    String::new()
                }
            })
            .x_desc(format!("time since the run started ({})", unit.name))
            .x_label_formatter(&number)
            .label_style((FONT, 11).into_font().color(&AXIS))
            .axis_desc_style((FONT, 12).into_font().color(&AXIS))
            .draw()?;
        let light = colour.mix(0.55);
        // Shades alternate along each lane, so neighbouring tasks stay apart.
        let mut nth = vec![0usize; count];
        chart.draw_series(spans.iter().map(|span| {
            let y = span.lane as f64;
            let lane = (span.lane as usize).min(count - 1);
            nth[lane] += 1;
            let style = if nth[lane] % 2 == 1 {
                colour.filled()
            } else {
                light.filled()
            };
            Rectangle::new(
                [
                    (span.start_ns as f64 / unit.ns, y - 0.36),
                    (span.end_ns as f64 / unit.ns, y + 0.36),
                ],
                style,
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(end, -0.5), (end, count as f64 - 0.5)],
            BLACK.mix(0.6).stroke_width(1),
        )))?;
        root.present()?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_fit_the_largest_value() {
        assert_eq!(TimeUnit::fitting(812.0).name, "ns");
        assert_eq!(TimeUnit::fitting(3_400_000.0).name, "µs");
        assert_eq!(TimeUnit::fitting(34_000_000.0).name, "ms");
        assert_eq!(byte_unit(3.0 * 1024.0 * 1024.0), ("KiB", 1024.0));
        assert_eq!(byte_unit(300.0 * 1024.0 * 1024.0).0, "MiB");
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
    }

    #[test]
    fn strategies_keep_their_colours() {
        assert_eq!(css(strategy_colour("rayon")), "#16a34a");
        // A configured built-in: its strategy's colour, darker.
        assert_eq!(css(strategy_colour("rayon[threads=4]")), "#0d612c");
        // A strategy of the user's own: one of the extra colours, chosen by its name alone.
        let mine = strategy_colour("mine");
        assert!(EXTRA.contains(&mine), "{}", css(mine));
        assert!(KNOWN.iter().all(|(_, known)| *known != mine));
        let svg = lines(
            &XAxis {
                desc: "workers".into(),
                log: false,
            },
            "ms",
            &[Line {
                colour: strategy_colour("rayon"),
                points: vec![(1.0, 2.0, 1.9, 2.1), (2.0, 1.1, 1.0, 1.2)],
                dashed: false,
            }],
            true,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("#16A34A") || svg.contains("#16a34a"),
            "rayon's colour: {svg}"
        );
    }
}

/// One row of a forest plot: a change and its interval.
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub label: String,
    /// The change (new over base minus one, or points), times 100.
    pub change: f64,
    pub low: f64,
    pub high: f64,
    pub colour: RGBColor,
}

/// A forest plot: a row per cell, its change as a dot on its interval, against the threshold
/// band `±band` (shaded) and no change (the line at 0). Intervals reaching past the chart's edge
/// are cut there, with an arrowhead.
pub(crate) fn forest(rows: &[Interval], band: f64, x_desc: &str) -> Result<String, ChartError> {
    // Wide enough for the band and the changes, at most 4 bands either way: an interval wider
    // than that says "too noisy" whatever its ends.
    let reach = rows
        .iter()
        .flat_map(|r| [r.low.abs(), r.high.abs(), r.change.abs()])
        .filter(|v| v.is_finite())
        .fold(band * 1.5, f64::max)
        .min(band * 4.0)
        * 1.08;
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    row_chart(2 * WIDTH, &labels, -reach..reach, x_desc, |chart, count| {
        let top = count as f64 - 0.5;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(-band, -0.5), (band, top)],
            RGBColor(34, 197, 94).mix(0.12).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, -0.5), (0.0, top)],
            AXIS.stroke_width(1),
        )))?;
        for (i, row) in rows.iter().enumerate() {
            let y = (count - 1 - i) as f64;
            let clip = |v: f64| v.clamp(-reach, reach);
            let (lo, hi) = (clip(row.low), clip(row.high));
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(lo, y), (hi, y)],
                row.colour.stroke_width(2),
            )))?;
            for (end, cut) in [(lo, row.low < -reach), (hi, row.high > reach)] {
                let size = if cut { 0.3 } else { 0.18 };
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(end, y - size), (end, y + size)],
                    row.colour.stroke_width(if cut { 3 } else { 1 }),
                )))?;
            }
            chart.draw_series(std::iter::once(Circle::new(
                (clip(row.change), y),
                4,
                row.colour.filled(),
            )))?;
        }
        Ok(())
    })
}

/// The machine over the run: each canary probe's time over the run's median for it (1 is
/// typical), against seconds into the run, with the disturbed readings marked by a red band.
pub(crate) fn canary(readings: &[crate::CanaryReading]) -> Result<String, ChartError> {
    let typical = |probe: fn(&crate::CanaryReading) -> u64| {
        let mut values: Vec<f64> = readings.iter().map(|r| probe(r) as f64).collect();
        values.sort_by(f64::total_cmp);
        crate::stats::median_sorted(&values).max(1.0)
    };
    let (compute, copy) = (typical(|r| r.compute_ns), typical(|r| r.copy_ns));
    let point = |r: &crate::CanaryReading, probe: fn(&crate::CanaryReading) -> u64, typical| {
        (r.at_ns as f64 / 1e9, probe(r) as f64 / typical)
    };
    let end = readings
        .last()
        .map_or(1.0, |r| r.at_ns as f64 / 1e9)
        .max(1.0);
    let top = readings
        .iter()
        .flat_map(|r| [r.compute_ns as f64 / compute, r.copy_ns as f64 / copy])
        .fold(2.0f64, f64::max)
        .min(10.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (2 * WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..end * 1.02, 0.0..top * 1.05)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .x_desc("seconds into the run")
            .y_desc("probe time / typical")
            .y_label_formatter(&number)
            .label_style((FONT, 12).into_font().color(&AXIS))
            .axis_desc_style((FONT, 13).into_font().color(&AXIS))
            .draw()?;
        let red = RGBColor(220, 38, 38);
        chart.draw_series(readings.iter().filter(|r| r.disturbed).map(|r| {
            let at = r.at_ns as f64 / 1e9;
            Rectangle::new(
                [(at - end / 400.0, 0.0), (at + end / 400.0, top * 1.05)],
                red.mix(0.18).filled(),
            )
        }))?;
        for (probe, typical, colour, name) in [
            (
                (|r: &crate::CanaryReading| r.copy_ns) as fn(&crate::CanaryReading) -> u64,
                copy,
                RGBColor(234, 88, 12),
                "memory probe",
            ),
            (
                |r| r.compute_ns,
                compute,
                RGBColor(37, 99, 235),
                "compute probe",
            ),
        ] {
            chart
                .draw_series(LineSeries::new(
                    readings.iter().map(|r| point(r, probe, typical)),
                    colour.stroke_width(1),
                ))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font((FONT, 12).into_font().color(&AXIS))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// A change point on a [`trend`] chart: drawn between two positions, with its label.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    /// Half-way between the last point before the change and the first after it.
    pub at: f64,
    pub label: String,
    pub colour: RGBColor,
}

/// One series over commits: a point per run at its position (`points`: value, interval low,
/// interval high, already in the axis's unit), its interval as a band and a bar, each change
/// point a dashed vertical line labelled at the top; the x axis reads `labels` (short commits).
pub(crate) fn trend(
    colour: RGBColor,
    y_desc: &str,
    points: &[(f64, f64, f64)],
    labels: &[String],
    markers: &[Marker],
) -> Result<String, ChartError> {
    let finite = |v: &f64| v.is_finite();
    let low = points
        .iter()
        .map(|p| p.1.min(p.0))
        .filter(finite)
        .fold(f64::INFINITY, f64::min);
    let high = points
        .iter()
        .map(|p| p.2.max(p.0))
        .filter(finite)
        .fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if low.is_finite() && high > low {
        (low, high)
    } else {
        (0.0, high.max(1.0))
    };
    let pad = (high - low) * 0.12;
    let y_range = (low - pad).max(0.0)..high + pad * 2.0;
    let last = points.len().saturating_sub(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..last + 0.5, y_range.clone())?;
        let label_of = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-9 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .x_desc("commit")
            .y_desc(y_desc)
            .x_labels(points.len().min(6))
            .x_label_formatter(&label_of)
            .y_label_formatter(&number)
            .label_style((FONT, 11).into_font().color(&AXIS))
            .axis_desc_style((FONT, 13).into_font().color(&AXIS))
            .draw()?;
        for marker in markers {
            chart.draw_series(DashedLineSeries::new(
                [(marker.at, y_range.start), (marker.at, y_range.end)],
                5,
                4,
                marker.colour.stroke_width(2),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                marker.label.clone(),
                (marker.at, y_range.end - pad * 0.4),
                (FONT, 12).into_font().color(&marker.colour),
            )))?;
        }
        let line = Line {
            colour,
            points: points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as f64, p.0, p.1, p.2))
                .collect(),
            dashed: false,
        };
        draw_line(&mut chart, &line)?;
        root.present()?;
    }
    Ok(svg)
}
