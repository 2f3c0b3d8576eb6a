//! parbench as a library: a suite made with the builder, run through `parbench::run` with an
//! observer of the test's own and with the quiet one, and interrupted with Ctrl-C; and a
//! strategy of the test's own that loses a partition's contribution to one round of k-means,
//! whose cell fails while the others are measured; and an async workload of the test's own
//! that talks to a TCP echo service the run starts beside it, under every strategy; and
//! workloads whose own code panics outside a task (a fold's merge, a round's reduce and
//! initial state), whose cells fail alone. The test
//! binary serves the hidden commands (cells are this binary started again), so it has its own
//! `main` (`libtest-mimic` in place of libtest's harness).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{leftovers, wait_for_descendants};

use parbench::{
    Observer, PassSummary, Plan, Plugins, ProfileScope, Progress, Quiet, RunOptions, RunSummary,
    Suite, WorkloadEntry,
};
use parbench_reports::figures::Figures;
use parbench_reports::{Cell, ReportError, Results, Status, Writer};
use parbench_strategies::exec::execute;
use parbench_strategies::rounds::{partials, Trace};
use parbench_strategies::{
    now_ns, Job, RunReport, Strategy, StrategyError, StrategySpec, Teardown,
};
use parbench_workloads::{
    EnvVars, Environment, FnWorkload, Input, Items, Layout, Params, Partial, Rounds, Services,
    Task, TaskContext, TaskError, Value, WorkKind, Workload, WorkloadError, WorkloadSpec,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    fn pass_started(&mut self, progress: &Progress) {
        self.0
            .push(format!("pass {:?} of {}", progress.pass, progress.total));
    }
    fn cell_started(&mut self, id: &str, progress: &Progress) {
        self.0.push(format!("start {id} {:?}", progress.pass));
    }
    fn cell_finished(&mut self, cell: &Cell, progress: &Progress) {
        self.0.push(format!(
            "finish {} {}/{} {} samples",
            cell.id,
            progress.done,
            progress.total,
            cell.samples.len()
        ));
    }
    fn pass_finished(&mut self, summary: &PassSummary) {
        self.0.push(format!(
            "passed {:?}: {} processes, {} cells",
            summary.pass, summary.processes, summary.cells
        ));
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
        .samples(2)
        .processes(2)
        .max_processes(2)
        // Time for both samples of each process, however busy the machine.
        .time_budget(Duration::from_secs(20))
        .build(plugins)
        .expect("a valid suite")
}

fn observed_run_tells_every_event_in_order(plugins: &Plugins) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = ProfileScope::None;
    options.filter = Some("tasks=8/".to_owned());
    let mut recorded = Recorded::default();
    let summary = parbench::run(&suite(plugins), &options, &mut recorded).unwrap();
    assert_eq!((summary.cells, summary.failed, summary.rounds), (3, 0, 2));
    let events = &recorded.0;
    assert_eq!(
        events[..3],
        [
            "run 3 cells",
            "prepare square/size=50000/tasks=8",
            "pass Round(1) of 3",
        ]
    );
    assert_eq!(events[10], "pass Round(2) of 3");
    assert_eq!(events[18], "done 3 cells, 0 failed, 3 saved");
    assert_eq!(events.len(), 19);
    // Each round visits every cell once, in its own shuffled order: a start, then its finish.
    for (round, first) in [(1, 3), (2, 11)] {
        let mut ids: Vec<&str> = Vec::new();
        for (k, pair) in events[first..first + 6].chunks(2).enumerate() {
            let id = pair[0]
                .strip_prefix("start ")
                .and_then(|rest| rest.strip_suffix(&format!(" Round({round})")))
                .unwrap_or_else(|| panic!("{pair:?}"));
            assert_eq!(
                pair[1],
                format!("finish {id} {}/3 {} samples", k + 1, 2 * round)
            );
            ids.push(id);
        }
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                "square/size=50000/tasks=8/rayon/w2",
                "square/size=50000/tasks=8/sequential/w1",
                "square/size=50000/tasks=8/threads/w2",
            ]
        );
        assert_eq!(
            events[first + 6],
            format!("passed Round({round}): 3 processes, 3 cells")
        );
    }
}

fn quiet_run_of_a_built_suite_measures_every_cell(plugins: &Plugins) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = ProfileScope::None;
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
        assert_eq!(cell.samples.len(), 4, "{}", cell.id);
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

/// A strategy of one thread whose third round leaves the last task's partial out of its
/// reduction: one partition's contribution lost.
#[derive(Default)]
struct Lossy {
    job: Option<Job>,
}

const LOSSY: StrategySpec = StrategySpec {
    name: "lossy",
    description: "loses the last task's partial in round 3",
    params: &[],
    uses_workers: false,
    spawns_processes: false,
    build: |_: &Params| Ok(Box::new(Lossy::default())),
};

impl Strategy for Lossy {
    fn name(&self) -> &str {
        LOSSY.name
    }
    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        self.job = Some(job.clone());
        Ok(())
    }
    fn run(&mut self, _: &[Task]) -> Result<RunReport, StrategyError> {
        Err(StrategyError::NotSetUp(LOSSY.name.into()))
    }
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        let job = self
            .job
            .as_ref()
            .ok_or_else(|| StrategyError::NotSetUp(LOSSY.name.into()))?;
        let start_ns = now_ns();
        let mut trace = Trace::start(job, LOSSY.name)?;
        for round in 1.. {
            let outcomes: Vec<_> = tasks
                .iter()
                .map(|task| execute(job, Some(trace.state()), task, &mut []))
                .collect();
            let mut partials = partials(&outcomes);
            if round == 3 {
                partials.pop();
            }
            if !trace.close(&partials, 0) {
                return Ok(RunReport {
                    start_ns,
                    end_ns: now_ns(),
                    lanes: 1,
                    outcomes,
                    rounds: trace.finish(),
                    ..RunReport::default()
                });
            }
        }
        unreachable!("the rounds end")
    }
    fn output(&self) -> &[u8] {
        &[]
    }
    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        self.job = None;
        Ok(Teardown::default())
    }
}

fn a_lost_partial_fails_its_cell_and_the_rest_are_measured(plugins: &Plugins) {
    let suite = Suite::builder("rounds")
        .workload(
            WorkloadEntry::new("kmeans")
                .param("rounds", Value::Int(5))
                .sizes([4_000])
                .tasks([4]),
        )
        .strategies([
            "sequential",
            "lossy",
            "threads",
            "actors",
            "process-pool[resident=true]",
        ])
        .workers([2])
        .samples(1)
        .processes(1)
        .max_processes(1)
        .build(plugins)
        .expect("a valid suite");
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = ProfileScope::None;
    let summary = parbench::run(&suite, &options, &mut Quiet).unwrap();
    assert_eq!((summary.cells, summary.failed), (5, 1));
    let results = parbench_reports::read(&summary.results).unwrap();
    for cell in &results.cells {
        if cell.strategy == "lossy" {
            assert_eq!(cell.status, Status::Failed);
            let error = cell.error.as_deref().unwrap_or_default();
            assert!(
                error.ends_with(
                    "differs from the sequential reference: the state after round 3 of 5 differs"
                ),
                "{error}"
            );
            continue;
        }
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
        let rounds = cell.work_rounds.as_ref().unwrap();
        assert_eq!(rounds.costs.rounds, 5, "{}", cell.id);
        assert!(rounds.round.median_ns > 0.0, "{}", cell.id);
        for sample in &cell.samples {
            assert_eq!(sample.work_rounds.unwrap().rounds, 5, "{}", cell.id);
            // No worker process outlived its teardown.
            assert_eq!(
                (sample.leftover_processes, sample.zombie_processes),
                (0, 0),
                "{}",
                cell.id
            );
        }
    }
    // Only the pool's processes move bytes: its points in the first round, then the state and
    // the partials alone.
    let pool = results
        .cells
        .iter()
        .find(|c| c.strategy == "process-pool")
        .unwrap();
    let costs = pool.work_rounds.as_ref().unwrap().costs;
    assert!(costs.first_round_bytes > 4_000 * 8 * 4, "{costs:?}");
    assert!(costs.bytes_per_round < 4_000 * 8 * 4 / 4, "{costs:?}");
    let threads = results
        .cells
        .iter()
        .find(|c| c.strategy == "threads")
        .unwrap();
    assert_eq!(
        threads.work_rounds.as_ref().unwrap().costs.bytes_per_round,
        0
    );
}

/// Set to an output directory, this binary runs [`long_suite`] there instead of the tests: the
/// process the Ctrl-C test interrupts.
const LONG_RUN: &str = "PARBENCH_TEST_LONG_RUN";

/// A suite that runs for minutes: worker processes and shared memory all the time.
fn long_suite(plugins: &Plugins) -> Suite {
    Suite::builder("long")
        .workload(WorkloadEntry::new("square").sizes([200_000]).tasks([16]))
        .strategies(["process-shm", "process-pool"])
        .workers([2])
        .samples(1000)
        .processes(1)
        .time_budget(Duration::from_secs(60))
        .build(plugins)
        .expect("a valid suite")
}

fn ctrl_c_ends_a_library_run_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(LONG_RUN, &out)
        .process_group(0)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Mid-run: the cell process and its two workers are up.
    let tree = wait_for_descendants(pid, 3).expect("no workers started");
    std::thread::sleep(Duration::from_millis(300));
    let group = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();

    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The cell process and its workers are gone, not even zombies; so are their segments.
    assert_eq!(leftovers(pid, &tree), Vec::<String>::new());
    // What was measured stays, whole.
    let results = parbench_reports::read(&out.join("results.json")).unwrap();
    assert_eq!(results.suite.name, "long");
    assert!(results.finished_at.is_none());
}

/// How often the echo service started and stopped in this process (the harness's).
static ECHO_STARTS: AtomicUsize = AtomicUsize::new(0);
static ECHO_STOPS: AtomicUsize = AtomicUsize::new(0);

/// A TCP echo server on 127.0.0.1: each connection gets back what it sends — up to `lives`
/// words in all, after which it dies: it closes every connection and its port.
struct Echo {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start() -> std::io::Result<Self> {
        Self::serving(usize::MAX)
    }

    fn serving(lives: usize) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        let left = Arc::new(AtomicUsize::new(lives));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) || left.load(Ordering::SeqCst) == 0 {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let left = Arc::clone(&left);
                std::thread::spawn(move || {
                    let mut word = [0u8; 8];
                    while stream.read_exact(&mut word).is_ok() {
                        let alive = left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                        if !alive || stream.write_all(&word).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        ECHO_STARTS.fetch_add(1, Ordering::SeqCst);
        Ok(Self {
            addr,
            stopping,
            thread: Some(thread),
        })
    }
}

impl Environment for Echo {
    fn vars(&self) -> EnvVars {
        EnvVars::from([("echo.addr".to_owned(), self.addr.to_string())])
    }
    fn stop(mut self: Box<Self>) -> Result<(), WorkloadError> {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees it should stop.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        ECHO_STOPS.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Numbers sent to the echo service and read back, over one connection per session; the
/// `broken` twin's service never starts, the `dying` twin's dies after 300 words (the bucket's
/// preparation sends 64).
fn echo_workloads() -> [WorkloadSpec; 3] {
    let echo = |name: &'static str| {
        FnWorkload::asynchronous(
            name,
            |size, seed| (0..size as u64).map(|i| i.wrapping_mul(seed | 1)).collect(),
            |services: Services| async move {
                let addr = services.get("echo.addr").map_err(|e| e.to_string())?;
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("{addr}: {e}"))?;
                Ok::<_, String>(tokio::sync::Mutex::new(stream))
            },
            |x: u64, connection: Arc<tokio::sync::Mutex<tokio::net::TcpStream>>| async move {
                let mut stream = connection.lock().await;
                let mut back = [0u8; 8];
                stream.write_all(&x.to_le_bytes()).await?;
                stream.read_exact(&mut back).await?;
                Ok::<_, std::io::Error>(u64::from_le_bytes(back).rotate_left(7))
            },
        )
        .fold(0u64, |sum, x| *sum ^= x, |a, b| *a ^= b)
    };
    [
        echo("echo").service("echo-server", Echo::start).into(),
        echo("echo-broken")
            .service("broken-server", || Err::<Echo, _>("port 1 is taken"))
            .into(),
        echo("echo-dying")
            .service("dying-server", || Echo::serving(300))
            .into(),
    ]
}

fn an_async_workload_talks_to_its_service_under_every_strategy(plugins: &Plugins) {
    let strategies = [
        "sequential",
        "threads",
        "thread-pool",
        "rayon",
        "tokio",
        "actors",
        "process-pool",
        "process-shm",
        "timely",
        "timely[mode=processes]",
    ];
    let suite = Suite::builder("echo")
        .workload(WorkloadEntry::new("echo").sizes([64]).tasks([2, 8]))
        .workload(WorkloadEntry::new("echo-broken").sizes([64]).tasks([8]))
        .workload(
            WorkloadEntry::new("echo-dying")
                .sizes([64])
                .tasks([8])
                .strategies(["sequential", "threads", "tokio", "process-pool"]),
        )
        .strategies(strategies)
        .workers([2])
        .samples(1)
        .processes(1)
        .max_processes(1)
        .build(plugins)
        .expect("a valid suite");
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = ProfileScope::None;
    let started = ECHO_STARTS.load(Ordering::SeqCst);
    let summary = parbench::run(&suite, &options, &mut Quiet).unwrap();
    // Started once for each bucket (two of `echo`, one of `echo-dying`), every one stopped at
    // the run's end, the dead one too.
    assert_eq!(ECHO_STARTS.load(Ordering::SeqCst) - started, 3);
    assert_eq!(
        ECHO_STOPS.load(Ordering::SeqCst),
        ECHO_STARTS.load(Ordering::SeqCst)
    );
    let results = parbench_reports::read(&summary.results).unwrap();
    assert_eq!(results.cells.len(), 3 * strategies.len() + 4);
    // The service that died failed the cells whose items reached it after its death, each
    // with the item's error, and the run went on.
    let dying: Vec<&Cell> = results
        .cells
        .iter()
        .filter(|c| c.workload == "echo-dying")
        .collect();
    assert!(
        dying.iter().any(|c| c.status == Status::Failed),
        "{dying:#?}"
    );
    for cell in dying {
        if cell.status == Status::Failed {
            let error = cell.error.as_deref().unwrap_or_default();
            // The first task that failed says why: its item's error, or its session's.
            assert!(error.contains("; task "), "{}: {error}", cell.id);
            assert!(
                error.contains(": item ") || error.contains("connecting: "),
                "{}: {error}",
                cell.id
            );
        } else {
            assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
            assert!(cell.verified, "{}", cell.id);
        }
    }
    for cell in results.cells.iter().filter(|c| c.workload != "echo-dying") {
        if cell.workload == "echo-broken" {
            assert_eq!(cell.status, Status::Failed, "{}", cell.id);
            let error = cell.error.as_deref().unwrap_or_default();
            assert!(
                error.contains("environment `broken-server`: port 1 is taken"),
                "{}: {error}",
                cell.id
            );
            continue;
        }
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
        assert!(cell.verified, "{}", cell.id);
    }
}

/// A workload of rounds whose `reduce` (or, with `in_reduce` false, `initial_state`) panics:
/// user code that fails outside any task.
struct Fragile {
    in_reduce: bool,
}

impl Workload for Fragile {
    fn name(&self) -> &str {
        if self.in_reduce {
            "reduce-panics"
        } else {
            "initial-panics"
        }
    }
    fn generate(&self, size: usize, _seed: u64) -> Input {
        let bytes = (0..size as u64).flat_map(|i| i.to_le_bytes()).collect();
        Input::new(
            bytes,
            Layout::Fixed {
                len: 8,
                count: size,
            },
        )
    }
    fn output_len(&self) -> usize {
        0
    }
    fn run_task(&self, _: &TaskContext, _: Items<'_>, _: &mut [u8]) -> Result<Partial, TaskError> {
        Err(TaskError::error("runs in rounds"))
    }
    fn as_rounds(&self) -> Option<&dyn Rounds> {
        Some(self)
    }
}

impl Rounds for Fragile {
    fn rounds(&self) -> usize {
        2
    }
    fn initial_state(&self, _: &Input) -> Vec<u8> {
        assert!(self.in_reduce, "initial_state refused");
        vec![0; 8]
    }
    fn map(&self, _: &TaskContext, _: &[u8], items: Items<'_>) -> Result<Vec<u8>, TaskError> {
        Ok((items.iter().count() as u64).to_le_bytes().to_vec())
    }
    fn reduce(&self, state: &[u8], _: &[&[u8]]) -> Vec<u8> {
        assert!(!self.in_reduce, "reduce refused");
        state.to_vec()
    }
}

/// The workloads whose code fails outside a task: a fold's merge, a round's reduce, a
/// round's initial state.
fn fragile_workloads() -> [WorkloadSpec; 3] {
    let merge = FnWorkload::plain(
        "merge-panics",
        |size, _| (0..size as u64).collect(),
        |x: &u64| x.wrapping_mul(3),
    )
    .fold(0u64, |sum, x| *sum += x, |_, _| panic!("merge refused"));
    let fragile = |name: &'static str, in_reduce: bool| WorkloadSpec {
        name,
        description: "a workload of rounds whose own code panics outside a task",
        kind: WorkKind::Compute,
        default_size: 1_000,
        params: &[],
        environment: None,
        build: if in_reduce {
            &|_, _| Ok(Arc::new(Fragile { in_reduce: true }))
        } else {
            &|_, _| Ok(Arc::new(Fragile { in_reduce: false }))
        },
    };
    [
        merge.into(),
        fragile("reduce-panics", true),
        fragile("initial-panics", false),
    ]
}

fn user_code_failing_outside_a_task_fails_its_cells_alone(plugins: &Plugins) {
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(out.path());
    options.profile = ProfileScope::None;
    let entry = |name: &str| WorkloadEntry::new(name).sizes([1_000]).tasks([4]);
    let suite = Suite::builder("fragile")
        .workload(entry("merge-panics"))
        .workload(entry("reduce-panics"))
        .workload(entry("initial-panics"))
        .workload(entry("square"))
        .strategies(["threads", "process-pool"])
        .workers([2])
        .processes(1)
        .max_processes(1)
        .build(plugins)
        .expect("a valid suite");
    let summary = parbench::run(&suite, &options, &mut Quiet).unwrap();
    assert_eq!((summary.cells, summary.failed), (8, 6));
    let results = parbench_reports::read(&summary.results).unwrap();
    for (workload, said) in [
        ("merge-panics", "merge refused"),
        ("reduce-panics", "reduce refused"),
        ("initial-panics", "initial_state refused"),
    ] {
        for cell in results.cells.iter().filter(|c| c.workload == workload) {
            let error = cell.error.clone().unwrap_or_default();
            assert_eq!(cell.status, Status::Panic, "{}: {error}", cell.id);
            assert!(error.contains(said), "{}: {error}", cell.id);
        }
    }
    assert!(results
        .cells
        .iter()
        .filter(|c| c.workload == "square")
        .all(|c| c.verified));
}

/// One test of this binary, given its plugins.
type Test = fn(&Plugins);

/// The plugins every run of this binary has: the built-ins, the lossy strategy and the echo
/// workloads.
fn this_binarys_plugins() -> Result<Plugins, String> {
    let mut plugins = Plugins::default();
    plugins
        .strategies
        .register(LOSSY)
        .map_err(|e| e.to_string())?;
    for workload in echo_workloads().into_iter().chain(fragile_workloads()) {
        plugins
            .workloads
            .register(workload)
            .map_err(|e| e.to_string())?;
    }
    Ok(plugins)
}

fn main() -> ExitCode {
    let plugins = match this_binarys_plugins() {
        Ok(plugins) => plugins,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(code) = parbench::serve_hidden_commands(&plugins) {
        return code;
    }
    if let Some(out) = std::env::var_os(LONG_RUN) {
        let mut options = RunOptions::new(out);
        options.profile = ProfileScope::None;
        return match parbench::run(&long_suite(&plugins), &options, &mut Quiet) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let mut args = libtest_mimic::Arguments::from_args();
    // One at a time: a run handles Ctrl-C for its whole process.
    args.test_threads = Some(1);
    let tests: [(&str, Test); 6] = [
        (
            "observed_run_tells_every_event_in_order",
            observed_run_tells_every_event_in_order,
        ),
        (
            "quiet_run_of_a_built_suite_measures_every_cell",
            quiet_run_of_a_built_suite_measures_every_cell,
        ),
        (
            "a_lost_partial_fails_its_cell_and_the_rest_are_measured",
            a_lost_partial_fails_its_cell_and_the_rest_are_measured,
        ),
        ("ctrl_c_ends_a_library_run_and_leaves_nothing", |_| {
            ctrl_c_ends_a_library_run_and_leaves_nothing()
        }),
        (
            "an_async_workload_talks_to_its_service_under_every_strategy",
            an_async_workload_talks_to_its_service_under_every_strategy,
        ),
        (
            "user_code_failing_outside_a_task_fails_its_cells_alone",
            user_code_failing_outside_a_task_fails_its_cells_alone,
        ),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            libtest_mimic::Trial::test(name, move || {
                test(&this_binarys_plugins()?);
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
