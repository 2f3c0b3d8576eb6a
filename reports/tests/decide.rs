//! The decision tree on synthetic results with a known answer: cells whose winner depends on
//! the CPU time per task alone, switching at 50 µs, among features that do not matter.

use parbench_reports::decide::{
    cases, cross_validate, dot, learn, mermaid, Case, DecideError, Feature, Node, Options,
};
use parbench_reports::{Cell, Results, Sample, Stats, Status};

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/results.json")).unwrap()
}

/// The CPU time per task the synthetic buckets sweep, in µs: 1-2-5 steps.
const SWEEP_US: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0,
];

/// A cell of `work` (size, tasks) under `strategy` on `workers`, whose runs take `run_ns`
/// (±2%) and use `cpu_ns` of CPU each.
fn cell(
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
fn known_answer() -> Results {
    let mut results = fixture();
    let template = results.cells[0].clone();
    results.cells.clear();
    for (w, work) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        for (i, &us) in SWEEP_US.iter().enumerate() {
            let tasks = [8, 64, 512][(i + w) % 3];
            // Sizes that vary apart from the tasks, one per bucket.
            let size = [1_000, 100_000, 10_000][(i / 2 + w) % 3] * tasks + i;
            let sequential = us * 1e3 * tasks as f64;
            let rayon = if us >= 50.0 { 0.55 } else { 1.8 } * sequential;
            let bucket = (work, size, tasks);
            results.cells.push(cell(
                &template,
                bucket,
                ("sequential", 1),
                sequential,
                sequential,
            ));
            results
                .cells
                .push(cell(&template, bucket, ("rayon", 2), rayon, sequential));
            results.cells.push(cell(
                &template,
                bucket,
                ("threads", 2),
                rayon.max(sequential) * 1.5,
                sequential,
            ));
        }
    }
    results
}

#[test]
fn the_features_are_measured_from_the_sequential_cell() {
    let all = cases(&known_answer());
    assert_eq!(all.len(), 36);
    let first: &Case = &all[0];
    assert_eq!(first.work, "alpha");
    // CPU per task: its CPU time over its tasks.
    assert!(
        (first.features[0] - SWEEP_US[0] * 1e3).abs() < 1.0,
        "{first:?}"
    );
    // No waiting: CPU time is the whole run.
    assert_eq!(first.features[2], 0.0);
    let margin = first.margin.as_ref().unwrap();
    assert_eq!(
        (first.winner.as_str(), margin.runner_up.as_str()),
        ("sequential", "rayon")
    );
    assert!((margin.ratio - 1.8).abs() < 1e-9);
    assert!(margin.low < 1.8 && margin.high > 1.8);
}

#[test]
fn a_tie_goes_to_the_simpler_strategy() {
    let mut results = known_answer();
    // At 5 ms per task, `rayon` ahead by 1% only: within both intervals.
    for cell in &mut results.cells {
        if cell.id.ends_with("/rayon/w2") && cell.id.starts_with("alpha/") {
            let wall = cell.wall.as_mut().unwrap();
            if wall.median_ns > 1e9 {
                let sequential = wall.median_ns / 0.55;
                *wall = Stats {
                    median_ns: sequential * 0.99,
                    ci_low_ns: sequential * 0.97,
                    ci_high_ns: sequential * 1.01,
                    ..Stats::default()
                };
            }
        }
    }
    let tied: Vec<Case> = cases(&results)
        .into_iter()
        .filter(|c| c.fastest.is_some())
        .collect();
    assert!(!tied.is_empty());
    for case in tied {
        assert_eq!(case.winner, "sequential", "{case:?}");
        assert_eq!(case.fastest.as_deref(), Some("rayon"));
    }
}

#[test]
fn the_tree_recovers_the_split_within_one_sweep_step() {
    let all = cases(&known_answer());
    let tree = learn(&all, &Options::default()).unwrap();
    let Node::Question {
        feature,
        threshold,
        below,
        above,
    } = &tree.root
    else {
        panic!("no question: {:?}", tree.root)
    };
    assert_eq!(*feature, Feature::CpuPerTask);
    // Between the sweep's neighbours of 50 µs.
    assert!(*threshold > 20e3 && *threshold < 100e3, "{threshold} ns");
    assert!(matches!(&**below, Node::Leaf { winner, correct: 15, .. } if winner == "sequential"));
    assert!(matches!(&**above, Node::Leaf { winner, correct: 21, .. } if winner == "rayon"));
    assert_eq!(tree.correct(), 36);
    // Each workload, left out, is predicted by the other two.
    let accuracy = cross_validate(&all, &Options::default());
    assert_eq!((accuracy.correct, accuracy.total), (36, 36));
    assert_eq!(accuracy.folds.len(), 3);
}

#[test]
fn the_tree_is_drawn_as_mermaid_and_dot() {
    let tree = learn(&cases(&known_answer()), &Options::default()).unwrap();
    insta::assert_snapshot!(mermaid(&tree));
    let dot = dot(&tree);
    assert!(dot.starts_with("digraph decision_tree {\n"), "{dot}");
    assert!(dot.contains("n0 -> n1 [label=\"no\"];"), "{dot}");
    assert!(dot.contains("n0 -> n2 [label=\"yes\"];"), "{dot}");
    assert!(dot.ends_with("}\n"));
}

#[test]
fn too_few_buckets_say_how_many_a_tree_needs() {
    let all = cases(&known_answer());
    let err = learn(&all[..5], &Options::default()).unwrap_err();
    assert_eq!(err, DecideError::TooFew { have: 5, need: 8 });
    assert!(err.to_string().starts_with(
        "5 buckets with a sequential cell and another strategy measured; a tree needs at least 8"
    ));
}
