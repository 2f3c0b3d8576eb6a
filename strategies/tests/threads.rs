//! No thread of a strategy outlives its teardown.
//!
//! One test in its own binary, so no other test's threads come and go meanwhile. Every
//! strategy names its threads `pb-<strategy>...`.

use std::collections::BTreeMap;
use std::sync::Arc;

use parbench_strategies::{FailurePolicy, Job, Registry};
use parbench_workloads::builtin::http::HttpServer;
use parbench_workloads::{plan_tasks, Environment, Recipe, Value, WorkloadSpec};

/// Names of this process's threads that belong to a strategy, once the joined ones are gone.
///
/// `pthread_join` returns when the thread has exited, a moment before the kernel drops it from
/// `/proc/self/task`; a leaked thread, on the other hand, stays. So this waits up to two
/// seconds for the list to empty.
fn strategy_threads() -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let names = listed_threads();
        if names.is_empty() || std::time::Instant::now() > deadline {
            return names;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Names of this process's threads that belong to a strategy, as listed right now.
fn listed_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("pb-"))
        .collect()
}

#[test]
fn every_thread_is_joined_by_teardown() {
    let server = HttpServer::start().unwrap();
    let vars = server.vars();
    let registry = parbench_workloads::Registry::builtin();
    let square = registry.get("square").unwrap();
    let http = registry.get("http").unwrap();
    let zero_latency = BTreeMap::from([("latency_ms".to_owned(), Value::Int(0))]);
    let configured = |spec: &WorkloadSpec, given: &BTreeMap<String, Value>| {
        let params = spec.resolve(given).unwrap();
        let recipe = Arc::new(Recipe::new(spec, &params, &vars));
        (spec.instantiate(&params, &vars).unwrap(), recipe)
    };
    let workloads = [
        configured(square, &BTreeMap::new()),
        configured(http, &zero_latency),
    ];
    assert_eq!(strategy_threads(), Vec::<String>::new());
    for (workload, recipe) in workloads {
        let input = Arc::new(workload.generate(64, 1));
        let tasks = plan_tasks(64, 16).unwrap();
        let registry = Registry::builtin();
        let block_in_place =
            BTreeMap::from([("cpu".to_owned(), Value::Text("block-in-place".into()))]);
        let executor = BTreeMap::from([("threads".to_owned(), Value::Text("executor".into()))]);
        // Worker processes are checked by the process tests.
        let variants = registry
            .iter()
            .filter(|spec| !spec.spawns_processes)
            .map(|spec| (spec, BTreeMap::new()))
            .chain([
                (registry.get("tokio").unwrap(), block_in_place),
                (registry.get("thread-pool").unwrap(), executor.clone()),
            ]);
        for (spec, given) in variants {
            let job = Job {
                workload: workload.clone(),
                recipe: recipe.clone(),
                input: input.clone(),
                seed: 1,
                workers: 3,
                policy: FailurePolicy::Collect,
            };
            let mut strategy = spec.instantiate(&given).unwrap();
            strategy.setup(&job).unwrap();
            strategy.run(&tasks).unwrap();
            strategy.run(&tasks).unwrap();
            let during = listed_threads();
            if spec.name == "thread-pool" {
                // One thread per worker, or ThreadPoolExecutor's min(32, 3 + 4): counted by
                // name, as a thread of an earlier pool, joined, may linger in the listing for
                // a moment on a loaded machine (once seen: 8 listed for 7).
                let pool: std::collections::BTreeSet<&String> = during
                    .iter()
                    .filter(|n| n.starts_with("pb-pool-"))
                    .collect();
                let expected = if given == executor { 7 } else { 3 };
                assert_eq!(
                    pool,
                    (0..expected)
                        .map(|i| format!("pb-pool-{i}"))
                        .collect::<Vec<_>>()
                        .iter()
                        .collect(),
                    "{during:?}"
                );
            }
            if spec.uses_workers && spec.name != "threads" {
                assert!(
                    !during.is_empty(),
                    "{} shows no thread while set up",
                    spec.name
                );
            }
            strategy.teardown().unwrap();
            assert_eq!(
                strategy_threads(),
                Vec::<String>::new(),
                "threads of {} ({}) outlived teardown",
                spec.name,
                workload.name()
            );
            // Dropping without teardown joins too.
            let mut strategy = spec.instantiate(&given).unwrap();
            strategy.setup(&job).unwrap();
            strategy.run(&tasks).unwrap();
            drop(strategy);
            assert_eq!(
                strategy_threads(),
                Vec::<String>::new(),
                "{} after drop",
                spec.name
            );
        }
    }
    Box::new(server).stop().unwrap();
}
