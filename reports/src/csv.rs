//! `results.csv`: one flat row per cell, a column per statistic and overhead part, for
//! spreadsheets and data frames.

use serde::Serialize;

use crate::figures::Figures;
use crate::{Cell, ReportError, Results, Stats, Writer};

/// `results.csv`: one row per cell. Times in nanoseconds, sizes in bytes, shares in `[0, 1]`;
/// an empty field where a value was not measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Csv;

/// A cell flattened. Field order is column order.
#[derive(Serialize)]
struct Row<'a> {
    id: &'a str,
    workload: &'a str,
    kind: &'a str,
    params: String,
    size: usize,
    tasks: usize,
    strategy: &'a str,
    strategy_params: String,
    workers: usize,
    policy: &'a str,
    status: &'a str,
    error: Option<&'a str>,
    verified: bool,
    samples: usize,
    processes: Option<usize>,
    converged: bool,
    ci_target: f64,
    median_ns: Option<f64>,
    ci_low_ns: Option<f64>,
    ci_high_ns: Option<f64>,
    ci_level: Option<f64>,
    spread: Option<f64>,
    mde: Option<f64>,
    mean_ns: Option<f64>,
    stddev_ns: Option<f64>,
    mad_ns: Option<f64>,
    min_ns: Option<u64>,
    max_ns: Option<u64>,
    outliers_low_severe: Option<usize>,
    outliers_low_mild: Option<usize>,
    outliers_high_mild: Option<usize>,
    outliers_high_severe: Option<usize>,
    end_to_end_median_ns: Option<f64>,
    end_to_end_ci_low_ns: Option<f64>,
    end_to_end_ci_high_ns: Option<f64>,
    setup_ns: Option<u64>,
    first_run_ns: Option<u64>,
    teardown_ns: Option<u64>,
    cpu_ns: Option<u64>,
    speedup: Option<f64>,
    parallel_efficiency: Option<f64>,
    speedup_share: Option<f64>,
    bandwidth_share: Option<f64>,
    capacity_ns: Option<u64>,
    busy_ns: Option<u64>,
    startup_ns: Option<u64>,
    gaps_ns: Option<u64>,
    tail_ns: Option<u64>,
    contention_ns: Option<i64>,
    overhead_share: Option<f64>,
    overhead_per_task_ns: Option<f64>,
    peak_rss_bytes: Option<u64>,
    bytes_moved: Option<u64>,
    skipped_tasks: Option<usize>,
    failed_tasks: usize,
    items: usize,
    input_bytes: u64,
    output_bytes: u64,
    generate_ns: u64,
    sequential_busy_ns: u64,
    profile_samples: Option<u64>,
    top_frame: Option<&'a str>,
    top_frame_share: Option<f64>,
    flamegraph: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn new(cell: &'a Cell, figures: &Figures<'_>) -> Self {
        let speedup = figures.speedup(cell);
        let wall = cell.wall.as_ref();
        let e2e = cell.end_to_end.as_ref();
        let stat = |f: fn(&Stats) -> f64| wall.map(f);
        // The setup, teardown, CPU and bytes of the sample the overhead comes from.
        let sample = cell.median_sample();
        let overhead = cell.overhead.as_ref();
        let profile = cell.profile.as_ref().filter(|p| p.samples > 0);
        let top = profile.and_then(|p| p.top_frames.first());
        Self {
            id: &cell.id,
            workload: &cell.workload,
            kind: &cell.workload_kind,
            params: key_values(&cell.params),
            size: cell.size,
            tasks: cell.tasks,
            strategy: &cell.strategy,
            strategy_params: key_values(&cell.strategy_params),
            workers: cell.workers,
            policy: &cell.policy,
            status: cell.status.as_str(),
            error: cell.error.as_deref(),
            verified: cell.verified,
            samples: cell.samples.len(),
            processes: wall.map(|s| s.processes.max(1)),
            converged: cell.converged,
            ci_target: cell.ci_target,
            median_ns: stat(|s| s.median_ns),
            ci_low_ns: stat(|s| s.ci_low_ns),
            ci_high_ns: stat(|s| s.ci_high_ns),
            ci_level: stat(|s| s.ci_level),
            spread: wall.and_then(|s| s.spread),
            mde: wall.and_then(|s| s.mde),
            mean_ns: stat(|s| s.mean_ns),
            stddev_ns: stat(|s| s.stddev_ns),
            mad_ns: stat(|s| s.mad_ns),
            min_ns: wall.map(|s| s.min_ns),
            max_ns: wall.map(|s| s.max_ns),
            outliers_low_severe: wall.map(|s| s.outliers.low_severe),
            outliers_low_mild: wall.map(|s| s.outliers.low_mild),
            outliers_high_mild: wall.map(|s| s.outliers.high_mild),
            outliers_high_severe: wall.map(|s| s.outliers.high_severe),
            end_to_end_median_ns: e2e.map(|s| s.median_ns),
            end_to_end_ci_low_ns: e2e.map(|s| s.ci_low_ns),
            end_to_end_ci_high_ns: e2e.map(|s| s.ci_high_ns),
            setup_ns: sample.map(|s| s.setup_ns),
            first_run_ns: sample.map(|s| s.first_run_ns),
            teardown_ns: sample.map(|s| s.teardown_ns),
            cpu_ns: sample.map(|s| s.cpu_ns),
            speedup,
            parallel_efficiency: cell.efficiency.and_then(|e| e.parallel_efficiency),
            speedup_share: cell.efficiency.and_then(|e| e.speedup_share),
            bandwidth_share: cell.efficiency.map(|e| e.bandwidth_share),
            capacity_ns: overhead.map(|o| o.capacity_ns),
            busy_ns: overhead.map(|o| o.busy_ns),
            startup_ns: overhead.map(|o| o.startup_ns),
            gaps_ns: overhead.map(|o| o.gaps_ns),
            tail_ns: overhead.map(|o| o.tail_ns),
            contention_ns: overhead.map(|o| o.contention_ns),
            overhead_share: overhead.map(|o| o.share()),
            overhead_per_task_ns: figures.overhead_per_task(cell).map(|(ns, _)| ns),
            peak_rss_bytes: cell.peak_rss_bytes,
            bytes_moved: sample.map(|s| s.bytes_moved),
            skipped_tasks: sample.map(|s| s.skipped_tasks),
            failed_tasks: cell.answer.as_ref().map_or(0, |a| a.failed_tasks.len()),
            items: cell.features.items,
            input_bytes: cell.features.input_bytes,
            output_bytes: cell.features.output_bytes,
            generate_ns: cell.features.generate_ns,
            sequential_busy_ns: cell.features.sequential_busy_ns,
            profile_samples: profile.map(|p| p.samples),
            top_frame: top.map(|f| f.frame.as_str()),
            top_frame_share: top.map(|f| f.share),
            flamegraph: profile
                .map(|p| p.flamegraph.as_str())
                .filter(|f| !f.is_empty()),
        }
    }
}

/// `k=v;k=v`, sorted by key, values as JSON spells them (strings unquoted).
fn key_values(params: &std::collections::BTreeMap<String, serde_json::Value>) -> String {
    params
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

impl Writer for Csv {
    fn file_name(&self) -> &'static str {
        "results.csv"
    }

    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let failed = |source: csv::Error| ReportError::Serialize {
            format: "CSV",
            source: Box::new(source),
        };
        let mut out = csv::Writer::from_writer(Vec::new());
        let figures = Figures::of(results);
        for cell in &results.cells {
            out.serialize(Row::new(cell, &figures)).map_err(failed)?;
        }
        out.into_inner().map_err(|e| failed(e.into_error().into()))
    }
}
