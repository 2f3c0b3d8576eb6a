//! parbench as a library: a suite made with the builder, run through `parbench::run` with an
//! observer of the test's own and with the quiet one, in a test binary that serves the hidden
//! commands (cells are this binary started again), so no libtest harness.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use parbench::{Observer, Plan, Plugins, Quiet, RunOptions, RunSummary, Suite, WorkloadEntry};
use parbench_reports::figures::Figures;
use parbench_reports::{Cell, ReportError, Results, Status, Writer};

/// Every event of a run, in order.
#[derive(Default)]
struct Recorded(Vec<String>);

impl Observer for Recorded {
    fn run_started(&mut self, plan: &Plan<'_>) {
        self.0.push(format!("run {} cells", plan.cells));
    }
    fn preparing(&mut self, bucket: &str) {
        self.0.push(format!("prepare {bucket}"));
    }
    fn cell_started(&mut self, id: &str) {
        self.0.push(format!("start {id}"));
    }
    fn cell_finished(&mut self, cell: &Cell, done: usize, total: usize) {
        self.0.push(format!("finish {} {done}/{total}", cell.id));
    }
    fn warning(&mut self, message: &str) {
        self.0.push(format!("warning {message}"));
    }
    fn run_finished(&mut self, results: &Results, summary: &RunSummary) {
        self.0.push(format!(
            "done {} cells, {} failed, {} saved",
            summary.cells,
            summary.failed,
            results.cells.len()
        ));
    }
}

/// A report of the caller's own: the cell ids, one a line.
struct CellIds;

impl Writer for CellIds {
    fn file_name(&self) -> &'static str {
        "cell-ids.txt"
    }
    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let ids: Vec<&str> = results.cells.iter().map(|c| c.id.as_str()).collect();
        Ok(ids.join("\n").into_bytes())
    }
}

fn suite(plugins: &Plugins) -> Suite {
    Suite::builder("library")
        .seed(9)
        .workload(WorkloadEntry::new("square").sizes([50_000]).tasks([1, 8]))
        .strategies(["sequential", "threads", "rayon"])
        .workers([2])
        .samples(3)
        .max_samples(3)
        .time_budget(Duration::from_millis(200))
        .build(plugins)
        .expect("a valid suite")
}

fn observed_run_tells_every_event_in_order(plugins: &Plugins) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = false;
    options.filter = Some("tasks=8/".to_owned());
    let mut recorded = Recorded::default();
    let summary = parbench::run(&suite(plugins), &options, &mut recorded).unwrap();
    assert_eq!((summary.cells, summary.failed), (3, 0));
    assert_eq!(
        recorded.0,
        [
            "run 3 cells",
            "prepare square/size=50000/tasks=8",
            "start square/size=50000/tasks=8/sequential/w1",
            "finish square/size=50000/tasks=8/sequential/w1 1/3",
            "start square/size=50000/tasks=8/threads/w2",
            "finish square/size=50000/tasks=8/threads/w2 2/3",
            "start square/size=50000/tasks=8/rayon/w2",
            "finish square/size=50000/tasks=8/rayon/w2 3/3",
            "done 3 cells, 0 failed, 3 saved",
        ]
    );
}

fn quiet_run_of_a_built_suite_measures_every_cell(plugins: &Plugins) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = false;
    options.writers.push(Arc::new(CellIds));
    let summary = parbench::run(&suite(plugins), &options, &mut Quiet).unwrap();
    assert_eq!(
        (summary.cells, summary.failed, summary.flame_graphs),
        (6, 0, 0)
    );
    let names: Vec<_> = summary
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "results.json",
            "results.csv",
            "summary.md",
            "report.html",
            "cell-ids.txt"
        ]
    );

    let results = parbench_reports::read(&summary.results).unwrap();
    assert_eq!(results.suite.name, "library");
    assert_eq!(results.suite.source, "builder:library");
    assert_eq!(results.suite.seed, 9);
    let ids: Vec<&str> = results.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "square/size=50000/tasks=1/sequential/w1",
            "square/size=50000/tasks=1/threads/w2",
            "square/size=50000/tasks=1/rayon/w2",
            "square/size=50000/tasks=8/sequential/w1",
            "square/size=50000/tasks=8/threads/w2",
            "square/size=50000/tasks=8/rayon/w2",
        ]
    );
    let figures = Figures::of(&results);
    for cell in &results.cells {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
        assert!(cell.verified, "{}", cell.id);
        assert_eq!(cell.samples.len(), 3, "{}", cell.id);
        // Every cell of a bucket was checked against the same answer.
        let answer = cell.answer.as_ref().unwrap();
        let base = figures.baseline(cell).unwrap();
        assert_eq!(answer, base.answer.as_ref().unwrap());
        assert_eq!(cell.features.input_bytes, 50_000 * 8);
        // Contention is the busy time beyond the sequential cell's, sample by sample.
        let base_busy = base.overhead.unwrap().busy_ns as i64;
        for sample in &cell.samples {
            let o = sample.overhead;
            assert_eq!(o.contention_ns, o.busy_ns as i64 - base_busy, "{}", cell.id);
            assert_eq!(o.parts().iter().sum::<u64>(), o.capacity_ns, "{}", cell.id);
        }
        let speedup = figures.speedup(cell).unwrap();
        let expected =
            base.wall.as_ref().unwrap().median_ns / cell.wall.as_ref().unwrap().median_ns;
        assert!((speedup - expected).abs() < 1e-12, "{}", cell.id);
        let efficiency = cell.efficiency.unwrap();
        assert_eq!(
            efficiency.parallel_efficiency,
            Some(speedup / cell.workers as f64),
            "{}",
            cell.id
        );
    }
    // The caller's own report, from the same results.
    let written = std::fs::read_to_string(out.path().join("cell-ids.txt")).unwrap();
    assert_eq!(written, ids.join("\n"));
}

fn main() -> ExitCode {
    let plugins = Plugins::default();
    if let Some(code) = parbench::serve_hidden_commands(&plugins) {
        return code;
    }
    observed_run_tells_every_event_in_order(&plugins);
    println!("test observed_run_tells_every_event_in_order ... ok");
    quiet_run_of_a_built_suite_measures_every_cell(&plugins);
    println!("test quiet_run_of_a_built_suite_measures_every_cell ... ok");
    ExitCode::SUCCESS
}
