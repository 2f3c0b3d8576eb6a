//! An async function workload, and its blocking twin, under the in-process strategies: every
//! run's answer is the sequential reference's, and the waits overlap as each kind of program
//! lets them — futures on `tokio` up to its in-flight limit, one item per worker on the thread
//! strategies (or a task's items at once with `drive = "task"`); a blocking call, one per
//! thread whatever the strategy. (Worker processes run the threads' path in
//! each worker; the harness's tests run them.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parbench_strategies::{FailurePolicy, Job, Reference, Registry};
use parbench_workloads::{plan_tasks, EnvVars, FnWorkload, Recipe, Services, Value, WorkloadSpec};

/// Items waiting now, and the most seen at once.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// What a session holds: the gauge its items wait on.
struct Client(Arc<Gauge>);

/// Items that wait 1 ms each, counted on `gauge`, then square.
fn waiting(gauge: Arc<Gauge>) -> WorkloadSpec {
    FnWorkload::asynchronous(
        "waiting",
        |size, seed| (0..size as u64).map(|i| i ^ seed).collect(),
        move |_: Services| {
            let gauge = Arc::clone(&gauge);
            async move { Ok::<_, String>(Client(gauge)) }
        },
        |x: u64, client: Arc<Client>| async move {
            let now = client.0.now.fetch_add(1, Ordering::SeqCst) + 1;
            client.0.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(1)).await;
            client.0.now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(x * x)
        },
    )
    .into()
}

/// The same work through a blocking client: its thread sleeps 1 ms per item.
fn blocking(gauge: Arc<Gauge>) -> WorkloadSpec {
    FnWorkload::blocking(
        "waiting-blocking",
        |size, seed| (0..size as u64).map(|i| i ^ seed).collect(),
        move |_: &Services| Ok::<_, String>(Client(Arc::clone(&gauge))),
        |x: &u64, client: &Client| {
            let now = client.0.now.fetch_add(1, Ordering::SeqCst) + 1;
            client.0.most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
            client.0.now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(x * x)
        },
    )
    .into()
}

/// The most items waiting at once in two runs of `strategy` (with `given`) on 2 workers over
/// 256 items in `tasks` tasks, each run checked against the sequential reference. `drive`:
/// `item` or `task` for the async workload, `blocking` for its blocking twin.
fn most_waiting(strategy: &str, given: &[(&str, Value)], drive: &str, tasks: usize) -> usize {
    let gauge = Arc::new(Gauge::default());
    let (spec, drive) = match drive {
        "blocking" => (blocking(Arc::clone(&gauge)), BTreeMap::new()),
        drive => (
            waiting(Arc::clone(&gauge)),
            BTreeMap::from([("drive".to_owned(), Value::Text(drive.to_owned()))]),
        ),
    };
    let params = spec.resolve(&drive).unwrap();
    let spec_name = spec.name;
    let vars = EnvVars::new();
    let job = Job {
        workload: spec.instantiate(&params, &vars).unwrap(),
        recipe: Arc::new(Recipe::new(&spec, &params, &vars)),
        input: Arc::new(spec.instantiate(&params, &vars).unwrap().generate(256, 7)),
        seed: 7,
        workers: 2,
        policy: FailurePolicy::Collect,
    };
    let tasks = plan_tasks(256, tasks).unwrap();
    let reference = Reference::compute(&job, &tasks).unwrap();
    let registry = Registry::builtin();
    let spec = registry.get(strategy).unwrap();
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let mut instance = spec.instantiate(&given).unwrap();
    instance.setup(&job).unwrap();
    // The sequential reference waited one item at a time.
    gauge.most.store(0, Ordering::SeqCst);
    let mut walls = Vec::new();
    for _ in 0..2 {
        let report =
            parbench_strategies::run(instance.as_mut(), job.workload.as_ref(), &tasks).unwrap();
        reference
            .check(&job, &tasks, &report, instance.output())
            .unwrap_or_else(|e| panic!("{strategy}: {e}"));
        walls.push(report.wall_ns());
    }
    instance.teardown().unwrap();
    let most = gauge.most.load(Ordering::SeqCst);
    // For the reader (`--nocapture`), not asserted: this machine's times are not the test's.
    eprintln!(
        "{} {strategy} {given:?} {drive:?}, 256 items of 1 ms in {} tasks on 2 workers: at \
         most {most} waiting, the second run {:.1} ms",
        spec_name,
        tasks.len(),
        walls[1] as f64 / 1e6
    );
    most
}

#[test]
fn waits_overlap_as_each_kind_of_program_lets_them() {
    // On a runtime, the futures of one task wait together, up to the in-flight limit.
    assert_eq!(
        most_waiting("tokio", &[("in_flight", Value::Int(64))], "item", 1),
        64
    );
    assert_eq!(most_waiting("tokio", &[], "item", 4), 256);
    // A thread blocking on each item: one per worker.
    for strategy in ["threads", "thread-pool", "rayon", "actors", "timely"] {
        assert_eq!(most_waiting(strategy, &[], "item", 8), 2, "{strategy}");
    }
    // A thread blocking on its task's items at once: a task's worth per worker.
    assert_eq!(most_waiting("threads", &[], "task", 8), 64);
    // More threads than cores, as ThreadPoolExecutor sizes them: one item per thread.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let executor = || [("threads", Value::Text("executor".to_owned()))];
    assert_eq!(
        most_waiting("thread-pool", &executor(), "item", 64),
        (cores + 4).min(32)
    );
    // The blocking twin: no runtime overlaps its waits. tokio runs it on its blocking pool,
    // capped at its workers, and waits for two, as the threads do; only more threads wait
    // for more.
    assert_eq!(most_waiting("tokio", &[], "blocking", 8), 2);
    assert_eq!(most_waiting("threads", &[], "blocking", 8), 2);
    assert_eq!(
        most_waiting("thread-pool", &executor(), "blocking", 64),
        (cores + 4).min(32)
    );
    // tokio with its own blocking pool (512 threads): a thread for each of 64 tasks at once.
    let tokio_pool = || [("blocking", Value::Text("tokio".to_owned()))];
    assert_eq!(most_waiting("tokio", &tokio_pool(), "blocking", 64), 64);
}
