//! A user's crate that depends on parbench for a workload of its own, with the default features
//! off: it builds without the HTTP stack, `image`, `timely` and `ractor`, and its binary runs
//! its workload under the strategies that remain, worker processes included.
//!
//! The crate (`tests/user-crate`) is copied into a temporary directory with a manifest pointing
//! at this workspace and built by cargo into `target/user-crate` (kept between runs), using this
//! workspace's lock file, so it resolves the versions the workspace tests.

mod crates;

use std::path::Path;
use std::process::Command;

use crates::{cargo, workspace};

/// Writes the user's crate into `dir`.
fn user_crate(dir: &Path) {
    let root = workspace();
    let manifest = format!(
        "[package]\nname = \"user-crate\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n\
         parbench = {{ path = \"{}\", default-features = false }}\n\
         parbench-workloads = {{ path = \"{}\", default-features = false }}\n\n\
         [workspace]\n",
        root.join("harness").display(),
        root.join("workloads").display(),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::copy(
        root.join("harness/tests/user-crate/src/main.rs"),
        dir.join("src/main.rs"),
    )
    .unwrap();
}

#[test]
fn a_user_crate_builds_without_the_heavy_dependencies_and_runs_its_own_workload() {
    let dir = tempfile::tempdir().unwrap();
    user_crate(dir.path());
    let target = workspace().join("target").join("user-crate");

    // Its dependencies, as cargo resolves them.
    let tree = cargo()
        .args([
            "tree", "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let tree = String::from_utf8(tree.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"parbench"), "{tree}");
    for heavy in [
        "hyper",
        "hyper-util",
        "reqwest",
        "ureq",
        "image",
        "timely",
        "ractor",
    ] {
        assert!(
            !crates.contains(&heavy),
            "`{heavy}` is a dependency:\n{tree}"
        );
    }

    let built = cargo()
        // Release, as `example_crate.rs` builds: the two share the lean build of parbench.
        .args(["build", "--release", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(built.success());
    let binary = target.join("release").join("user-crate");

    // Its workload beside the lean built-ins; none of the optional ones.
    let list = Command::new(&binary).arg("list").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for present in ["  triple ", "  square ", "  sequential ", "  process-pool "] {
        assert!(list.contains(present), "{present} missing:\n{list}");
    }
    for absent in ["  http ", "  resize ", "  tokio ", "  actors ", "  timely "] {
        assert!(!list.contains(absent), "{absent} listed:\n{list}");
    }

    // The default suite needs every feature: the lean build says so rather than failing on
    // its first unknown name.
    let default = Command::new(&binary)
        .args(["run", "--out"])
        .arg(dir.path().join("default"))
        .output()
        .unwrap();
    assert_eq!(default.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&default.stderr),
        "error: embedded:default: the default suite runs built-in workloads under every \
         built-in strategy, and this build of parbench has the features http, resize, tokio, \
         actors, timely off: give a suite file of your own\n"
    );

    // And a run of it: worker processes find `triple` in the user's binary.
    let suite = dir.path().join("suite.toml");
    std::fs::write(
        &suite,
        "strategies = [\"sequential\", \"threads\", \"process-pool\"]\nworkers = [2]\n\
         samples = 2\nprocesses = 2\nmax_processes = 2\n\
         [[workload]]\nname = \"triple\"\nsizes = [10000]\ntasks = [4]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = Command::new(&binary)
        .args(["run", "--no-profile", "--out"])
        .arg(&out)
        .arg(&suite)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("3 cells, 0 failed"), "{stdout}");
    let results = parbench_reports::read(&out.join("results.json")).unwrap();
    let ids: Vec<&str> = results.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "triple/size=10000/tasks=4/sequential/w1",
            "triple/size=10000/tasks=4/threads/w2",
            "triple/size=10000/tasks=4/process-pool/w2",
        ]
    );
    assert!(results.cells.iter().all(|c| c.verified));
    // The pipes moved the input and the output: 4 bytes each way per item, and framing.
    let moved = results.cells[2].samples[0].bytes_moved;
    assert!(moved > 80_000, "{moved}");
}
