//! The cost of recording one task's span: two clock readings and the stores into a worker's
//! log reserved before the run (the target is at most 50 ns).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use parbench_strategies::span::Clock;
use parbench_strategies::worker::WorkerLog;
use parbench_strategies::{now_ns, TaskOutcome};
use parbench_workloads::Task;

fn span(c: &mut Criterion) {
    let task = Task { id: 0, items: 0..1 };
    c.bench_function("CLOCK_MONOTONIC read", |b| b.iter(|| black_box(now_ns())));
    let clock = Clock::get();
    let name = if clock.is_tsc() {
        "TSC read (hot-path clock)"
    } else {
        "hot-path clock read"
    };
    c.bench_function(name, |b| b.iter(|| black_box(clock.ticks())));
    c.bench_function("span (two hot-path reads + record)", |b| {
        b.iter_custom(|iters| {
            let mut log = WorkerLog::new(0, iters as usize);
            let started = Instant::now();
            for i in 0..iters as usize {
                let start = log.ticks();
                let done = TaskOutcome::Done {
                    attempts: 1,
                    partial: Vec::new(),
                };
                let end = log.ticks();
                black_box(log.record(i, &task, start, end, done));
            }
            let elapsed = started.elapsed();
            black_box(log.len());
            elapsed
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = span
}
criterion_main!(benches);
