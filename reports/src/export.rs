//! Exports of a run for the dashboards people already keep: bencher's metric format (BMF) and
//! github-action-benchmark's `customSmallerIsBetter`. One benchmark per measured cell, named by
//! its id.

use serde_json::{json, Map, Value};

use crate::{Cell, Results, Stats, Status};

/// The formats [`export`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Bencher Metric Format: `{cell: {measure: {value, lower_value, upper_value}}}`, for
    /// `bencher run --adapter json`. Measures: `latency` (the steady run time, ns, with its
    /// interval), `end-to-end` (ns), `peak-memory` (bytes), `overhead-share` and
    /// `bytes-moved`; bencher creates the ones it does not know.
    Bencher,
    /// github-action-benchmark's `customSmallerIsBetter`: `[{name, unit, value, range,
    /// extra}]`, one entry per cell and metric.
    GithubActionBenchmark,
}

impl Format {
    /// Every format, as `--format` names them.
    pub const ALL: [(&'static str, Format); 2] = [
        ("bencher", Format::Bencher),
        ("github-action-benchmark", Format::GithubActionBenchmark),
    ];

    /// The format `name` names.
    ///
    /// # Errors
    ///
    /// An unknown name, with the valid ones.
    pub fn parse(name: &str) -> Result<Format, String> {
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown format `{name}`; the formats are {}",
                    Format::ALL.map(|(n, _)| n).join(", ")
                )
            })
    }
}

/// One metric of a cell: its name, unit, value and interval.
struct Figure {
    measure: &'static str,
    unit: &'static str,
    value: f64,
    interval: Option<(f64, f64)>,
}

/// The figures of a measured cell.
fn figures(cell: &Cell) -> Vec<Figure> {
    let timed = |measure, stats: &Option<Stats>| {
        stats.as_ref().map(|s| Figure {
            measure,
            unit: "ns",
            value: s.median_ns,
            interval: Some((s.ci_low_ns, s.ci_high_ns)),
        })
    };
    let samples = cell.samples.len().max(1) as f64;
    [
        timed("latency", &cell.wall),
        timed("end-to-end", &cell.end_to_end),
        cell.peak_rss_bytes.map(|b| Figure {
            measure: "peak-memory",
            unit: "bytes",
            value: b as f64,
            interval: None,
        }),
        cell.overhead.map(|o| Figure {
            measure: "overhead-share",
            unit: "share",
            value: o.share(),
            interval: None,
        }),
        Some(Figure {
            measure: "bytes-moved",
            unit: "bytes",
            value: cell
                .samples
                .iter()
                .map(|s| s.bytes_moved as f64)
                .sum::<f64>()
                / samples,
            interval: None,
        }),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The run's measured cells (failed ones have no figures) in `format`, as JSON.
///
/// ```
/// use parbench_reports::export::{export, Format};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// let bmf = export(&results, Format::Bencher);
/// let cell = &results.cells[0];
/// let latency = &bmf[&cell.id]["latency"];
/// assert_eq!(latency["value"], cell.wall.as_ref().unwrap().median_ns);
/// ```
pub fn export(results: &Results, format: Format) -> Value {
    let measured = results.cells.iter().filter(|c| c.status == Status::Ok);
    match format {
        Format::Bencher => {
            let mut benchmarks = Map::new();
            for cell in measured {
                let mut measures = Map::new();
                for f in figures(cell) {
                    let mut metric = json!({ "value": f.value });
                    if let Some((low, high)) = f.interval {
                        metric["lower_value"] = json!(low);
                        metric["upper_value"] = json!(high);
                    }
                    measures.insert(f.measure.to_owned(), metric);
                }
                benchmarks.insert(cell.id.clone(), Value::Object(measures));
            }
            Value::Object(benchmarks)
        }
        Format::GithubActionBenchmark => Value::Array(
            measured
                .flat_map(|cell| {
                    figures(cell).into_iter().map(move |f| {
                        let mut entry = json!({
                            "name": format!("{} {}", cell.id, f.measure),
                            "unit": f.unit,
                            "value": f.value,
                        });
                        if let Some((low, high)) = f.interval {
                            entry["range"] = json!(format!("{:.0} .. {:.0} (95%)", low, high));
                        }
                        entry["extra"] = json!(format!(
                            "{} samples in {} processes",
                            cell.samples.len(),
                            cell.wall.as_ref().map_or(0, |w| w.processes)
                        ));
                        entry
                    })
                })
                .collect(),
        ),
    }
}
