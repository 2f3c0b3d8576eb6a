//! Results with a known answer, for the decision tree's tests: cells whose winner depends on
//! the CPU time per task alone, switching at 50 µs, among features that do not matter.

#![allow(dead_code)]

use parbench_reports::{Cell, Results, Sample, Stats, Status};

pub fn fixture() -> Results {
    serde_json::from_str(include_str!("../fixtures/results.json")).unwrap()
}

/// The CPU time per task the synthetic buckets sweep, in µs: 1-2-5 steps.
pub const SWEEP_US: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0,
];

/// A cell of `work` (size, tasks) under `strategy` on `workers`, whose runs take `run_ns`
/// (±2%) and use `cpu_ns` of CPU each.
pub fn cell(
    template: &Cell,
    (work, size, tasks): (&str, usize, usize),
    (strategy, workers): (&str, usize),
    run_ns: f64,
    cpu_ns: f64,
) -> Cell {
    let mut cell = template.clone();
    cell.id = format!("{work}/size={size}/tasks={tasks}/{strategy}/w{workers}");
    cell.workload = work.to_owned();
    cell.params.clear();
    cell.strategy = strategy.to_owned();
    cell.strategy_params.clear();
    cell.workers = workers;
    cell.size = size;
    cell.tasks = tasks;
    cell.status = Status::Ok;
    cell.verified = true;
    cell.features.input_bytes = size as u64 * 8;
    cell.features.output_bytes = size as u64 * 8;
    cell.samples = vec![Sample {
        run_ns: run_ns as u64,
        cpu_ns: cpu_ns as u64,
        ..Sample::default()
    }];
    cell.wall = Some(Stats {
        median_ns: run_ns,
        ci_low_ns: run_ns * 0.98,
        ci_high_ns: run_ns * 1.02,
        ..Stats::default()
    });
    cell
}

/// Three workloads over the sweep, each bucket with a sequential, a `rayon` and a `threads`
/// cell: below 50 µs of CPU per task the loop wins by far, from 50 µs on `rayon` does; sizes
/// and task counts (so bytes per task and input) vary without mattering.
pub fn known_answer() -> Results {
    let mut results = fixture();
    let template = results.cells[0].clone();
    results.cells.clear();
    for (w, work) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        // `gamma` is real work, placed on the chart; the others are synthetic.
        let kind = if work == "gamma" {
            "compute"
        } else {
            "synthetic"
        };
        for (i, &us) in SWEEP_US.iter().enumerate() {
            let tasks = [8, 64, 512][(i + w) % 3];
            // Sizes that vary apart from the tasks, one per bucket.
            let size = [1_000, 100_000, 10_000][(i / 2 + w) % 3] * tasks + i;
            let sequential = us * 1e3 * tasks as f64;
            let rayon = if us >= 50.0 { 0.55 } else { 1.8 } * sequential;
            let bucket = (work, size, tasks);
            for (strategy, run_ns) in [
                (("sequential", 1), sequential),
                (("rayon", 2), rayon),
                (("threads", 2), rayon.max(sequential) * 1.5),
            ] {
                let mut cell = cell(&template, bucket, strategy, run_ns, sequential);
                cell.workload_kind = kind.to_owned();
                results.cells.push(cell);
            }
        }
    }
    results
}
