//! The built-in workloads under every strategy, as criterion benchmarks: one group per
//! workload, size and task count, one benchmark per strategy and worker count, each named as
//! parbench names the cell (`square/size=1000000/tasks=64/process-pool/w2`).
//!
//! ```sh
//! cargo bench -p parbench --bench strategies                  # every benchmark
//! cargo bench -p parbench --bench strategies -- process-pool  # criterion's filter
//! cargo bench -p parbench --bench strategies -- --quick
//! ```
//!
//! `resize/size=24/tasks=1/sequential/w1` is the work `harness/suites/compare.toml` measures
//! with parbench (and the `once` example with hyperfine).

use std::time::Duration;

use criterion::{criterion_group, Criterion};
use parbench::WorkloadEntry;

/// Every built-in strategy of the enabled features.
fn strategies() -> Vec<&'static str> {
    parbench::Plugins::default().strategies.names()
}

fn workers() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores > 1 {
        vec![1, cores]
    } else {
        vec![1]
    }
}

fn built_in(c: &mut Criterion) {
    let entries = [
        WorkloadEntry::new("square").sizes([1_000_000]).tasks([64]),
        WorkloadEntry::new("json").tasks([64]),
        WorkloadEntry::new("resize").sizes([24]).tasks([1, 24]),
        WorkloadEntry::new("spin").sizes([10_000]).tasks([64]),
        WorkloadEntry::new("http").tasks([64]),
    ];
    for entry in entries {
        parbench::criterion::bench_strategies(c, entry, strategies(), workers())
            .expect("built-in workloads and strategies");
    }
}

criterion_group! {
    name = benches;
    // Enough for a stable median of runs of a few milliseconds, without minutes per benchmark.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = built_in
}
parbench::criterion_main!(benches);
