//! `timely` as a cluster: every workload verifies with nodes started from a hostfile on
//! loopback (1, 2 and 3 processes, the same started nodes serving cluster after cluster); a
//! node killed mid-run fails the run with its pid and signal and leaves no node behind; a
//! hostfile that cannot work is a clear error.
//!
//! The binary has its own `main` (no libtest harness): it is also the nodes' binary.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{configure, job};
use libtest_mimic::{Failed, Trial};
use parbench_strategies::dataflow::{Cluster, NODE_COMMAND};
use parbench_strategies::{FailurePolicy, Reference, Registry, Strategy};
use parbench_workloads::{plan_tasks, Value};
use rustix::process::{kill_process, Pid, Signal};

/// Nodes 1.. of a hostfile, started as a user would; killed and reaped on drop.
struct Started {
    nodes: Vec<Child>,
    hostfile: PathBuf,
    _dir: tempfile::TempDir,
}

impl Started {
    /// A hostfile of `n` loopback addresses on ports free right now, and its nodes 1..n.
    fn cluster(n: usize) -> Started {
        let dir = tempfile::tempdir().unwrap();
        let hostfile = dir.path().join("hosts.txt");
        let ports: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let lines: Vec<String> = ports
            .iter()
            .map(|l| format!("127.0.0.1:{}", l.local_addr().unwrap().port()))
            .collect();
        drop(ports);
        std::fs::write(
            &hostfile,
            format!("# a test cluster\n{}\n", lines.join("\n")),
        )
        .unwrap();
        let nodes = (1..n)
            .map(|process| {
                Command::new(std::env::current_exe().unwrap())
                    .arg(NODE_COMMAND)
                    .arg("--hostfile")
                    .arg(&hostfile)
                    .arg("--process")
                    .arg(process.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        Started {
            nodes,
            hostfile,
            _dir: dir,
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A workload, its parameters and an input size.
type Case = (&'static str, Vec<(&'static str, Value)>, usize);

fn cluster_mode_verifies_every_workload(n: usize) -> Result<(), Failed> {
    let started = Started::cluster(n);
    let timely = Registry::builtin().get("timely").unwrap().to_owned();
    let given = [
        ("mode".to_owned(), Value::Text("cluster".into())),
        (
            "hostfile".to_owned(),
            Value::Text(started.hostfile.display().to_string()),
        ),
    ]
    .into_iter()
    .collect();
    let cases: Vec<Case> = vec![
        ("square", vec![], 3_000),
        (
            "resize",
            vec![
                ("width", Value::Int(40)),
                ("height", Value::Int(30)),
                ("filter", Value::Text("nearest".into())),
            ],
            5,
        ),
        ("json", vec![], 400),
        ("http", vec![("latency_ms", Value::Int(0))], 12),
        ("spin", vec![("ns_per_item", Value::Int(200))], 60),
        (
            "risky",
            vec![
                ("error_rate", Value::Float(0.2)),
                ("panic_rate", Value::Float(0.1)),
            ],
            500,
        ),
    ];
    for (name, params, size) in cases {
        let configured = configure(name, &params);
        let input = Arc::new(configured.0.generate(size, 9));
        let job = job(&configured, &input, 9, n, FailurePolicy::Collect);
        // A cluster per workload: the started nodes serve one after the other.
        let mut strategy = timely.instantiate(&given)?;
        strategy.setup(&job)?;
        for count in [1, 7.min(size), size] {
            let tasks = plan_tasks(size, count)?;
            let reference = Reference::compute(&job, &tasks)?;
            for _ in 0..2 {
                let report = strategy.run(&tasks)?;
                reference
                    .check(&job, &tasks, &report, strategy.output())
                    .map_err(|e| format!("{name} on {n} processes, {count} tasks: {e}"))?;
                let lanes: std::collections::BTreeSet<u32> =
                    report.spans.iter().map(|s| s.worker).collect();
                assert!(lanes.iter().all(|&l| (l as usize) < n));
                // Each task's descriptor and record crossed to the other nodes.
                if n > 1 {
                    assert!(report.bytes_moved > 0);
                }
            }
        }
        let teardown = strategy.teardown()?;
        // Node 0 is this machine's: it reports its memory.
        assert_eq!(teardown.workers.len(), 1);
        assert!(teardown.workers[0].peak_rss_bytes > 1 << 20);
    }
    Ok(())
}

fn a_killed_node_fails_the_run_and_leaves_nothing() -> Result<(), Failed> {
    // 300 tasks of 2 ms on 3 processes: 200 ms of work.
    let configured = configure("spin", &[("ns_per_item", Value::Int(2_000_000))]);
    let input = Arc::new(configured.0.generate(300, 1));
    let job = job(&configured, &input, 1, 3, FailurePolicy::Collect);
    let tasks = plan_tasks(300, 300)?;
    let mut strategy = Cluster::local();
    strategy.setup(&job)?;
    let pids = strategy.pids();
    assert_eq!(pids.len(), 3);
    let victim = pids[2];
    let killer = std::thread::spawn(move || {
        // Mid-run: once the victim has worked two clock ticks, not after a guessed sleep.
        common::wait_until_working(victim);
        let pid = Pid::from_raw(victim as i32).expect("a pid");
        kill_process(pid, Signal::KILL).expect("the node is alive mid-run");
    });
    let started = Instant::now();
    let error = strategy
        .run(&tasks)
        .expect_err("a run whose node was killed fails");
    killer.join().expect("the killer thread");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        error.to_string(),
        format!("strategy `timely`: worker 2 (pid {victim}) died: killed by signal 9 (SIGKILL)")
    );
    for pid in pids {
        assert!(!exists(pid), "node {pid} is still there");
    }
    // Torn down already: teardown is harmless, and a new cluster forms.
    strategy.teardown()?;
    strategy.setup(&job)?;
    let small = plan_tasks(300, 3)?;
    let report = strategy.run(&small)?;
    assert_eq!(report.outcomes.len(), 3);
    let pids = strategy.pids();
    strategy.teardown()?;
    for pid in pids {
        assert!(!exists(pid), "node {pid} is still there after teardown");
    }
    Ok(())
}

fn a_hostfile_that_cannot_work_is_a_clear_error() -> Result<(), Failed> {
    let timely = Registry::builtin().get("timely").unwrap().to_owned();
    let cluster = |hostfile: &str| {
        let given = [
            ("mode".to_owned(), Value::Text("cluster".into())),
            ("hostfile".to_owned(), Value::Text(hostfile.into())),
        ]
        .into_iter()
        .collect();
        timely.instantiate(&given)
    };
    let err = cluster("").err().expect("no hostfile");
    assert_eq!(
        err.to_string(),
        "strategy `timely`: mode=cluster needs `hostfile`: a file of `host:port` lines, this machine first"
    );
    let err = cluster("/no/such/hosts.txt")
        .err()
        .expect("a missing hostfile");
    assert!(
        err.to_string()
            .starts_with("strategy `timely`: /no/such/hosts.txt: No such file"),
        "{err}"
    );
    // Node 0's port is taken: setup says which address.
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let dir = tempfile::tempdir()?;
    let hostfile = dir.path().join("hosts.txt");
    std::fs::write(&hostfile, format!("{}\n", taken.local_addr()?))?;
    let mut strategy = cluster(&hostfile.display().to_string())?;
    let configured = configure("square", &[]);
    let input = Arc::new(configured.0.generate(100, 1));
    let err = strategy
        .setup(&job(&configured, &input, 1, 1, FailurePolicy::Collect))
        .expect_err("a taken port");
    assert!(
        err.to_string().contains(&format!(
            "cannot listen on {}: Address already in use",
            taken.local_addr()?
        )),
        "{err}"
    );
    // A hostfile of two lines runs two workers, not three.
    std::fs::write(&hostfile, "127.0.0.1:1\n127.0.0.1:2\n")?;
    let mut strategy = cluster(&hostfile.display().to_string())?;
    let err = strategy
        .setup(&job(&configured, &input, 1, 3, FailurePolicy::Collect))
        .expect_err("a worker count the hostfile does not have");
    assert_eq!(
        err.to_string(),
        "strategy `timely`: mode=cluster runs one worker per hostfile line (2), not 3"
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut trials: Vec<Trial> = [1, 2, 3]
        .into_iter()
        .map(|n| {
            Trial::test(
                format!("cluster_mode_on_loopback_verifies_every_workload_on_{n}_processes"),
                move || cluster_mode_verifies_every_workload(n),
            )
        })
        .collect();
    trials.push(Trial::test(
        "a_killed_node_fails_the_run_and_leaves_nothing",
        a_killed_node_fails_the_run_and_leaves_nothing,
    ));
    trials.push(Trial::test(
        "a_hostfile_that_cannot_work_is_a_clear_error",
        a_hostfile_that_cannot_work_is_a_clear_error,
    ));
    common::main_serving_workers(trials, true)
}
