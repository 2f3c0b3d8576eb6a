//! The `parbench` command line, end to end on the real binary.

use std::fs;

use assert_cmd::Command;
use parbench_reports::{Results, Status, SCHEMA_VERSION};
use predicates::prelude::*;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

#[test]
fn list_names_every_workload_and_strategy() {
    parbench()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("  square "))
        .stdout(predicate::str::contains("  http "))
        .stdout(predicate::str::contains("latency_ms"))
        .stdout(predicate::str::contains("  sequential "));
}

#[test]
fn run_writes_verified_results_for_a_suite_file() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("small.toml");
    fs::write(
        &suite,
        r#"
name = "small"
seed = 5
samples = 3

[[workload]]
name = "square"
sizes = [5000]
tasks = [1, 7]

[strategy_params.tokio]
in_flight = 4

[[workload]]
name = "http"
params = { latency_ms = 0 }
sizes = [20]
tasks = [4]
strategies = ["sequential", "tokio", "thread-pool"]
workers = [2]

[[workload]]
name = "risky"
params = { error_rate = 0.2, panic_rate = 0.2 }
sizes = [2000]
tasks = [40]

[[workload]]
name = "spin"
params = { ns_per_item = 2000 }
sizes = [200]
tasks = [3]
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    parbench()
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("7 cells, 0 failed"))
        .stdout(predicate::str::contains(
            "http[latency_ms=0]/size=20/tasks=4/tokio[in_flight=4]/w2",
        ))
        .stdout(predicate::str::contains(
            "square/size=5000/tasks=7/sequential/w1",
        ));

    let results: Results =
        serde_json::from_slice(&fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.suite.name, "small");
    assert!(results.finished_at.is_some());
    assert!(results.machine.logical_cores >= 1);
    assert!(results.machine.memory_bytes > 0);
    assert!(results.machine.rustc.starts_with("rustc "));
    assert_eq!(results.cells.len(), 7);
    for cell in &results.cells {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
        assert!(cell.verified);
        assert_eq!(cell.samples.len(), 3);
        let wall = cell.wall.as_ref().unwrap();
        assert!(wall.min_ns as f64 <= wall.median_ns && wall.median_ns <= wall.max_ns as f64);
        let o = cell.overhead.unwrap();
        assert_eq!(
            o.busy_ns + o.startup_ns + o.gaps_ns + o.tail_ns,
            o.capacity_ns
        );
        assert!(cell.peak_rss_bytes.unwrap() > 1 << 20);
        assert_eq!(cell.answer.as_ref().unwrap().digest.len(), 64);
    }
    let risky = results
        .cells
        .iter()
        .find(|c| c.workload == "risky")
        .unwrap();
    let failed = &risky.answer.as_ref().unwrap().failed_tasks;
    assert!(failed.len() >= 4 && failed.len() <= 30, "{failed:?}");
    let spin = results.cells.iter().find(|c| c.workload == "spin").unwrap();
    // 200 items at 2 µs each: about 400 µs of busy time.
    let busy = spin.features.sequential_busy_ns;
    assert!((200_000..2_000_000).contains(&busy), "{busy} ns");
    assert_eq!(spin.params["ns_per_item"], 2000);
    // No temporary file is left beside the results.
    let names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["results.json"]);
}

#[test]
fn the_filter_selects_cells_by_id() {
    let dir = tempfile::tempdir().unwrap();
    parbench()
        .args(["run", "--quick", "--filter", "square/size=1000000/tasks=8/"])
        .arg("--out")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("1 cells, 0 failed"));
    parbench()
        .args(["run", "--filter", "no-such-cell", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr("error: --filter `no-such-cell` matches no cell of the suite\n");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("bad.toml");
    fs::write(
        &suite,
        "[[workload]]\nname = \"square\"\n\n[[workload]]\nname = \"sqaure\"\n",
    )
    .unwrap();
    parbench()
        .arg("run")
        .arg(&suite)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:5: workload[1].name: unknown workload `sqaure`; valid workloads: square, resize, json, http, risky, spin",
            suite.display()
        )));
    parbench()
        .args(["run", "/no/such/suite.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: /no/such/suite.toml: cannot read the suite: No such file or directory",
        ));
    parbench().arg("frobnicate").assert().code(2);
}
