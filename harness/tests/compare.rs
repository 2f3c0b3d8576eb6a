//! `parbench compare`, end to end on the real binary: its refusals with their messages and exit
//! codes, its files, and paired runs of two builds — the same build (nothing regressed) and a
//! build whose `spin` does more work (every `spin` cell regressed, nothing else).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use parbench_reports::compare::{Comparison, Metric, Mode, Verdict};
use parbench_reports::Results;
use predicates::prelude::*;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

fn fixture() -> Results {
    serde_json::from_str(include_str!("../../reports/tests/fixtures/results.json")).unwrap()
}

/// Writes `results` as a results directory `name` under `dir`.
fn results_dir(dir: &Path, name: &str, results: &Results) -> PathBuf {
    let out = dir.join(name);
    fs::create_dir_all(&out).unwrap();
    fs::write(
        out.join("results.json"),
        serde_json::to_vec(results).unwrap(),
    )
    .unwrap();
    out
}

/// `parbench compare BASE NEW --out DIR/cmp` with `extra` flags.
fn compare(dir: &Path, base: &Path, new: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    parbench()
        .arg("compare")
        .arg(base)
        .arg(new)
        .arg("--out")
        .arg(dir.join("cmp"))
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .assert()
}

#[test]
fn a_run_against_itself_passes_and_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_dir(dir.path(), "a", &fixture());
    let new = results_dir(dir.path(), "b", &fixture());
    let summary = dir.path().join("summary.md");
    fs::write(&summary, "earlier step\n").unwrap();
    parbench()
        .args(["compare"])
        .arg(&base)
        .arg(&new)
        .arg("--out")
        .arg(dir.path().join("cmp"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "independent runs: each side's processes on their own",
        ))
        .stdout(predicate::str::contains("compare.html"));
    let json: Comparison =
        serde_json::from_slice(&fs::read(dir.path().join("cmp/compare.json")).unwrap()).unwrap();
    assert_eq!(json.mode, Mode::Independent);
    assert!(json.rows.iter().all(|r| !r.verdict.fails_gate()));
    let md = fs::read_to_string(dir.path().join("cmp/compare.md")).unwrap();
    assert!(md.starts_with(
        "<!-- parbench-compare -->\n## parbench compare: :white_check_mark: no regression"
    ));
    // Appended to the job summary, after what an earlier step wrote.
    let job = fs::read_to_string(&summary).unwrap();
    assert_eq!(job, format!("earlier step\n{md}"));
    let html = fs::read_to_string(dir.path().join("cmp/compare.html")).unwrap();
    assert!(html.contains("<h1>parbench compare: no regression</h1>"));
    assert_eq!(
        html.matches("<figure class=\"forest\">").count(),
        Metric::ALL.len()
    );
}

#[test]
fn results_of_another_machine_are_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_dir(dir.path(), "a", &fixture());
    let mut other = fixture();
    other.machine.cpu_model = "Some Other CPU".to_owned();
    other.machine.kernel = "9.9.9".to_owned();
    let new = results_dir(dir.path(), "b", &other);
    compare(dir.path(), &base, &new, &[])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "error: the results come from different machines (CPU: {} vs Some Other CPU; \
             kernel: {} vs 9.9.9); timings of two machines say nothing about two builds \
             (--allow-other-machine compares them anyway)",
            fixture().machine.cpu_model,
            fixture().machine.kernel
        )));
    assert!(!dir.path().join("cmp").exists());
    compare(dir.path(), &base, &new, &["--allow-other-machine"])
        .code(0)
        .stdout(predicate::str::contains(
            "FORCED ACROSS MACHINES (--allow-other-machine): CPU:",
        ));
    for file in ["compare.md", "compare.html", "compare.json"] {
        let text = fs::read_to_string(dir.path().join("cmp").join(file)).unwrap();
        let said = if file.ends_with("json") {
            text.contains("\"other_machine\": [\n    \"CPU:")
        } else {
            text.contains("FORCED ACROSS MACHINES")
        };
        assert!(said, "{file} does not say the machines differ");
    }
}

#[test]
fn results_of_other_cells_are_refused_with_the_cells_listed() {
    let dir = tempfile::tempdir().unwrap();
    let base = fixture();
    let mut fewer = fixture();
    let gone = fewer.cells.pop().unwrap().id;
    let base_dir = results_dir(dir.path(), "a", &base);
    let new_dir = results_dir(dir.path(), "b", &fewer);
    compare(dir.path(), &base_dir, &new_dir, &[])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "error: the results hold different cells: only in base: {gone} (--common-only \
             compares the {} cells both hold)",
            fewer.cells.len()
        )));
    compare(dir.path(), &base_dir, &new_dir, &["--common-only"])
        .code(0)
        .stdout(predicate::str::contains(format!(
            "not compared, only in base (1): {gone}"
        )));
    let mut reseeded = fixture();
    reseeded.suite.seed += 1;
    let reseeded = results_dir(dir.path(), "c", &reseeded);
    compare(dir.path(), &base_dir, &reseeded, &[])
        .code(2)
        .stderr(predicate::str::contains(
            "error: the results measured different work: inputs generated from seed",
        ));
}

#[test]
fn a_newer_missing_or_corrupt_file_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_dir(dir.path(), "a", &fixture());
    let mut newer = serde_json::to_value(fixture()).unwrap();
    newer["schema_version"] = 99.into();
    let newer_dir = dir.path().join("newer");
    fs::create_dir_all(&newer_dir).unwrap();
    fs::write(newer_dir.join("results.json"), newer.to_string()).unwrap();
    compare(dir.path(), &base, &newer_dir, &[])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}: results schema version 99; this parbench reads up to {}",
            newer_dir.join("results.json").display(),
            parbench_reports::SCHEMA_VERSION
        )));
    let missing = dir.path().join("missing");
    compare(dir.path(), &missing, &base, &[])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "error: {}: No such file or directory",
            missing.display()
        )));
    let corrupt = dir.path().join("corrupt");
    fs::create_dir_all(&corrupt).unwrap();
    fs::write(
        corrupt.join("results.json"),
        "{\"schema_version\": 2,\n  \"cells\": [",
    )
    .unwrap();
    compare(dir.path(), &base, &corrupt, &[])
        .code(2)
        .stderr(predicate::str::contains(format!(
            "error: {}: not parbench results: ",
            corrupt.join("results.json").display()
        )))
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let base = results_dir(dir.path(), "a", &fixture());
    parbench()
        .args(["compare"])
        .arg(&base)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: compare takes two results directories, BASE and NEW (got 1)",
        ));
    compare(dir.path(), &base, &base, &["--threshold", "latency=5%"])
        .code(2)
        .stderr(predicate::str::contains(
            "error: --threshold latency=5%: unknown metric `latency`; the metrics are run, \
             end-to-end, memory, overhead, bytes",
        ));
    compare(dir.path(), &base, &base, &["--threshold", "run=-3%"])
        .code(2)
        .stderr(predicate::str::contains("a threshold must be above 0"));
    parbench()
        .args(["compare", "--base-bin"])
        .arg(dir.path().join("no-such-binary"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-binary: no such file"));
    // A base that is not a parbench build cannot measure a cell.
    parbench()
        .args(["compare", "--base-bin", "/bin/true", "--filter", "square/size=200000/tasks=8/sequential"])
        .arg(write_suite(dir.path(), PAIRED_SUITE))
        .arg("--out")
        .arg(dir.path().join("paired"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot measure this build's cells (it may be too old to speak this build's cell protocol)",
        ));
}

/// A small suite for paired runs: `spin` and `square`, two strategies each on two workers and
/// the loop, 40 rounds of one sample, a few more for the cells still too noisy while the run is
/// under 30 s old.
const PAIRED_SUITE: &str = r#"
name = "paired"
strategies = ["sequential", "threads", "process-pool"]
workers = [2]
processes = 40
max_processes = 60
budget = "30s"
warmup = 1
samples = 1
time_budget = "4s"

[[workload]]
name = "spin"
params = { ns_per_item = 100 }
sizes = [50000]
tasks = [8]

[[workload]]
name = "square"
sizes = [200000]
tasks = [8]
"#;

fn write_suite(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("suite.toml");
    fs::write(&path, text).unwrap();
    path
}

/// Paired runs measure: one at a time, and never beside a build, or each would be the other's
/// noise.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A paired run of this binary against a copy of itself, with `slowdown` of `spin` injected
/// into the new build only; returns the exit code and the comparison.
fn paired(dir: &Path, slowdown: Option<&str>) -> (i32, Comparison) {
    // The base build: a copy of this binary. The gate runs both builds from copies of its own,
    // `base-parbench` and `new-parbench`: the slowdown applies to the second alone.
    let base = dir.join("base-parbench");
    fs::copy(assert_cmd::cargo::cargo_bin("parbench"), &base).unwrap();
    let out = dir.join("gate");
    let _alone = MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut command = parbench();
    command
        .args(["compare", "--base-bin"])
        .arg(&base)
        .arg(write_suite(dir, PAIRED_SUITE))
        .arg("--out")
        .arg(&out)
        .env_remove("GITHUB_STEP_SUMMARY");
    match slowdown {
        Some(s) => command
            .env("PARBENCH_TEST_SLOWDOWN", s)
            .env("PARBENCH_TEST_SLOWDOWN_IN", "new-parbench"),
        None => command.env_remove("PARBENCH_TEST_SLOWDOWN"),
    };
    let output = command.output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let comparison = serde_json::from_slice(&fs::read(out.join("compare.json")).unwrap()).unwrap();
    // Both builds' results are ordinary results directories, marked as one paired run.
    for side in ["base", "new"] {
        let results: Results =
            serde_json::from_slice(&fs::read(out.join(side).join("results.json")).unwrap())
                .unwrap();
        let pairing = results.pairing.unwrap();
        assert_eq!(pairing.side, side);
        assert!(results.cells.iter().all(|c| c.verified));
    }
    (code, comparison)
}

#[test]
fn a_paired_run_of_one_build_flags_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, comparison) = paired(dir.path(), None);
    assert_eq!(comparison.mode, Mode::Paired);
    let flagged: Vec<_> = comparison
        .rows
        .iter()
        .filter(|r| r.verdict.fails_gate())
        .collect();
    assert!(flagged.is_empty(), "{flagged:?}");
    assert_eq!(code, 0);
    // Every cell's 40 rounds are its pairs, but those the canary saw disturbed on either side.
    let run = comparison
        .rows
        .iter()
        .find(|r| r.metric == Metric::Run)
        .unwrap();
    let mut disturbed: Vec<u32> = ["base", "new"]
        .iter()
        .flat_map(|side| {
            let results: Results = serde_json::from_slice(
                &fs::read(dir.path().join("gate").join(side).join("results.json")).unwrap(),
            )
            .unwrap();
            let cell = results
                .cells
                .into_iter()
                .find(|c| c.id == run.cell)
                .unwrap();
            cell.samples
                .into_iter()
                .filter(|s| s.disturbed)
                .map(|s| s.round)
                .collect::<Vec<u32>>()
        })
        .collect();
    disturbed.sort_unstable();
    disturbed.dedup();
    assert!(
        run.units + disturbed.len() >= 40,
        "{run:?}, disturbed rounds {disturbed:?}"
    );
}

#[test]
fn a_paired_run_finds_a_slower_spin_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    // Half again as much work in every `spin` task of the new build: a slowdown no noise here
    // hides (at a quarter more, a busy CI machine once confirmed two of the three `spin` cells;
    // the smallest this gate finds is measured in the gate suite, not in a test).
    let (code, comparison) = paired(dir.path(), Some("0.5"));
    let run = |workload: &str| -> Vec<Verdict> {
        comparison
            .rows
            .iter()
            .filter(|r| r.workload == workload && r.metric == Metric::Run)
            .map(|r| r.verdict)
            .collect()
    };
    assert_eq!(run("spin"), [Verdict::Regression; 3], "{comparison:#?}");
    assert!(comparison
        .rows
        .iter()
        .filter(|r| r.workload != "spin")
        .all(|r| !r.verdict.fails_gate()));
    let confirmation = comparison.confirmation.as_ref().unwrap();
    assert!(confirmation.confirmed >= 3);
    assert_eq!(code, 1);
}

/// `git -C repo ARGS`, which must succeed.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=parbench",
            "-c",
            "user.email=parbench@localhost",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn base_rev_builds_the_revision_in_a_worktree_kept_for_the_next_build() {
    // Its build is noise for a paired run measuring beside it.
    let _alone = MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    // A repository whose binary is named `parbench` but is not parbench: it builds in a
    // moment, and cannot measure a cell.
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("src")).unwrap();
    fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"stub\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[bin]]\nname = \"parbench\"\npath = \"src/main.rs\"\n",
    )
    .unwrap();
    fs::write(
        repo.join("src/main.rs"),
        "fn main() {\n    std::process::exit(3);\n}\n",
    )
    .unwrap();
    fs::write(repo.join(".gitignore"), "target/\n").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "a stub"]);
    let suite = write_suite(dir.path(), PAIRED_SUITE);
    let gate = |rev: &str| {
        let mut command = parbench();
        command
            .current_dir(&repo)
            .env_remove("CARGO_TARGET_DIR")
            .args(["compare", "--base-rev", rev, "--filter"])
            .arg("square/size=200000/tasks=8/sequential")
            .arg(&suite)
            .arg("--out")
            .arg(dir.path().join("out"));
        command.assert()
    };
    let head = git(&repo, &["rev-parse", "HEAD"]);
    // Twice: the second gate checks the commit out in the worktree the first left.
    for _ in 0..2 {
        gate("HEAD")
            .code(2)
            .stderr(predicate::str::contains(format!(
                "building the base build {} (cargo build --release --bin parbench)",
                head.trim()
            )))
            .stderr(predicate::str::contains(
                "cannot measure this build's cells (it may be too old to speak this build's \
                 cell protocol)",
            ));
    }
    // The worktree and the base's build stay under target/, for the next gate to build
    // incrementally.
    let worktrees = git(&repo, &["worktree", "list"]);
    assert_eq!(worktrees.lines().count(), 2, "{worktrees}");
    assert!(
        worktrees.contains("target/parbench-base/tree"),
        "{worktrees}"
    );
    assert!(repo.join("target/parbench-base/release/parbench").is_file());
    gate("no-such-rev").code(2).stderr(predicate::str::contains(
        "error: --base-rev no-such-rev: git rev-parse",
    ));
}
