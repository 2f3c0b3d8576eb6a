//! criterion's measurement of the work a parbench cell measures: `resize` of 24 images as one
//! task under `sequential` — the steady-state run of `resize/size=24/tasks=1/sequential/w1`.
//!
//! ```sh
//! cargo bench -p parbench --bench sequential
//! cargo run --release -- run harness/suites/compare.toml --out target/parbench/compare
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use parbench_strategies::{Job, Registry};
use parbench_workloads::{plan_tasks, Recipe};

fn resize_sequential(c: &mut Criterion) {
    let workloads = parbench_workloads::Registry::builtin();
    let spec = workloads.get("resize").expect("a built-in workload");
    let params = spec
        .resolve(&Default::default())
        .expect("default parameters");
    let recipe = Recipe::new(spec, &params, &Default::default());
    let job = Job::generate(recipe, &workloads, 24, 42).expect("resize builds");
    let tasks = plan_tasks(job.input.items(), 1).expect("one task");
    let mut sequential = Registry::builtin()
        .get("sequential")
        .and_then(|s| s.instantiate(&Default::default()))
        .expect("sequential");
    sequential.setup(&job).expect("setup");
    let mut group = c.benchmark_group("resize");
    group.sample_size(20);
    group.bench_function("size=24/tasks=1/sequential", |b| {
        b.iter(|| sequential.run(&tasks).expect("a run"))
    });
    group.finish();
    sequential.teardown().expect("teardown");
}

criterion_group!(benches, resize_sequential);
criterion_main!(benches);
