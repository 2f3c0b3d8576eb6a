//! The example crate (`examples/cargo-bench`) as its users run it: `cargo bench -- --test`
//! runs every cell once, verified, on its own workloads made from functions (worker processes
//! included), the async and blocking lookups in a service the bench starts among them; `--save-baseline` then `--baseline` on the same build passes the gate; a build
//! made slower (the gate's slowdown hook) fails it with exit code 1; and a baseline that was
//! never saved is a clear error.
//!
//! The crate is copied into a temporary directory with its `parbench` dependency pointing at
//! this workspace and this workspace's lock file, and built by `cargo bench` into
//! `target/user-crate` (kept between runs, shared with `user_crate.rs`).

mod crates;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crates::{cargo, workspace};

use parbench_reports::Results;

/// Copies the example crate into `dir`, its `parbench` path made absolute.
fn example_crate(dir: &Path) {
    let root = workspace();
    let example = root.join("examples/cargo-bench");
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    let relative = "path = \"../../harness\"";
    assert!(manifest.contains(relative), "{manifest}");
    let manifest = manifest.replace(
        relative,
        &format!("path = \"{}\"", root.join("harness").display()),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for sub in ["src", "benches"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for file in std::fs::read_dir(example.join(sub)).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), dir.join(sub).join(file.file_name())).unwrap();
        }
    }
}

/// Asserts `output` ended with `code`, showing what it printed otherwise.
fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn results(path: &Path) -> Results {
    parbench_reports::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_example_crate_benches_its_own_work_under_every_strategy_and_gates_on_its_baseline() {
    let dir = tempfile::tempdir().unwrap();
    example_crate(dir.path());
    let target = workspace().join("target").join("user-crate");
    let bench_root = target.join("parbench").join("strategies");
    let cargo_bench = |args: &[&str]| {
        cargo()
            .args(["bench", "--quiet"])
            .args(args)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("PARBENCH_TEST_SLOWDOWN")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };

    // `cargo bench -- --test`: every cell once, verified, written to `test/`.
    let _ = std::fs::remove_dir_all(&bench_root);
    let smoke = cargo_bench(&["--", "--test"]);
    assert_exit(&smoke, 0, "cargo bench -- --test");
    // The waiting work gets the strategies that overlap waits, and the bench says so.
    assert!(
        String::from_utf8_lossy(&smoke.stderr).starts_with(
            "waiting work (lookup, lookup-blocking): also under \
             thread-pool[threads=executor] and tokio[blocking=tokio], which overlap waits"
        ),
        "{}",
        String::from_utf8_lossy(&smoke.stderr)
    );
    let smoke = results(&bench_root.join("test/results.json"));
    let lean = [
        "sequential",
        "threads",
        "thread-pool",
        "rayon",
        "tokio",
        "process-pool",
        "process-shm",
    ];
    let overlapping = ["thread-pool[threads=executor]", "tokio[blocking=tokio]"];
    for workload in ["mandelbrot", "parse-log", "lookup", "lookup-blocking"] {
        let cells: Vec<_> = smoke
            .cells
            .iter()
            .filter(|c| c.workload == workload)
            .collect();
        let waits = workload.starts_with("lookup");
        // Three task counts; sequential on one worker, the others on one and two.
        let strategies = if waits { 6 + 2 } else { 6 };
        assert_eq!(cells.len(), 3 * (1 + strategies * 2), "{workload}");
        for strategy in lean {
            assert!(
                cells.iter().any(|c| c.strategy == strategy),
                "{workload} under {strategy}"
            );
        }
        for strategy in overlapping {
            let measured = cells
                .iter()
                .any(|c| c.id.contains(&format!("/{strategy}/")));
            assert_eq!(measured, waits, "{workload} under {strategy}");
        }
        for cell in cells {
            assert!(cell.verified, "{} is not verified", cell.id);
            assert_eq!(cell.samples.len(), 1, "{}: one sample", cell.id);
        }
    }
    // Worker processes ran the user's workloads: bytes went through their pipes.
    let piped = smoke
        .cells
        .iter()
        .find(|c| c.id == "parse-log/size=20000/tasks=64/process-pool/w2")
        .expect("the process pool's cell");
    assert!(piped.samples[0].bytes_moved > 650_000, "{piped:?}");

    // The bench binary itself, as cargo runs it.
    let built = cargo_bench(&["--no-run", "--message-format=json"]);
    assert_exit(&built, 0, "cargo bench --no-run");
    let binary = String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == "strategies")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("the bench's executable");
    let bench = |args: &[&str], slowdown: Option<&str>| {
        let mut command = Command::new(&binary);
        command.arg("--bench").args(args).current_dir(dir.path());
        match slowdown {
            Some(s) => {
                let name = binary.file_name().unwrap().to_string_lossy();
                command
                    .env("PARBENCH_TEST_SLOWDOWN", s)
                    .env("PARBENCH_TEST_SLOWDOWN_IN", format!("new-{name}"))
            }
            None => command.env_remove("PARBENCH_TEST_SLOWDOWN"),
        };
        command.output().unwrap()
    };
    let cells = "tasks=64/process";

    // A baseline never saved: the error lists none, then the saved ones.
    let missing = bench(&[cells, "--baseline", "main"], None);
    assert_exit(&missing, 2, "--baseline main before any is saved");
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        format!(
            "error: no baseline `main` in {}: none is saved yet (save one with \
             --save-baseline NAME)\n",
            bench_root.join("baselines").display()
        )
    );

    let saved = bench(&[cells, "--no-profile", "--save-baseline", "main"], None);
    assert_exit(&saved, 0, "--save-baseline main");
    let main = bench_root.join("baselines/main");
    assert_eq!(results(&main.join("results.json")).cells.len(), 8);
    assert!(main.join("bin").join(binary.file_name().unwrap()).is_file());

    let typo = bench(&[cells, "--baseline", "mian"], None);
    assert_exit(&typo, 2, "--baseline mian");
    assert!(
        String::from_utf8_lossy(&typo.stderr).ends_with(": saved: main\n"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );

    // The same build against its baseline: both measured now, paired, and nothing regressed.
    let same = bench(&[cells, "--baseline", "main"], None);
    assert_exit(&same, 0, "the same build against its baseline");
    let compare = bench_root.join("compare");
    let comparison: serde_json::Value =
        serde_json::from_slice(&std::fs::read(compare.join("compare.json")).unwrap()).unwrap();
    assert_eq!(comparison["mode"], "paired", "{comparison}");
    assert_eq!(results(&compare.join("new/results.json")).cells.len(), 8);

    // Half again as many calls of the user's function per item in the new build: the gate finds
    // it in the `mandelbrot` cells, whose items are that function alone, and exits 1.
    let slower = bench(&[cells, "--baseline", "main"], Some("0.5"));
    assert_exit(&slower, 1, "a slower build against its baseline");
    let comparison: serde_json::Value =
        serde_json::from_slice(&std::fs::read(compare.join("compare.json")).unwrap()).unwrap();
    let regressed: Vec<&str> = comparison["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "regression" && r["metric"] == "run")
        .filter_map(|r| r["cell"].as_str())
        .collect();
    assert!(
        regressed.iter().any(|c| c.starts_with("mandelbrot/")),
        "{regressed:?}"
    );
}
