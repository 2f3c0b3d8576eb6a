//! `parbench history` on the real binary: runs recorded and imported, change points found at
//! the commits where a synthetic step was put, bad databases refused and left untouched, and
//! two processes recording at once.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use parbench_reports::history::store::History;
use predicates::prelude::*;
use serde_json::Value;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

/// `parbench run SUITE --no-profile --out OUT`.
fn run(suite: &Path, out: &Path) -> Command {
    let mut command = parbench();
    command
        .arg("run")
        .arg(suite)
        .args(["--no-profile", "--out"])
        .arg(out);
    command
}

/// The results of a real run of the fixture suite (see reports/tests/fixtures).
fn fixture() -> Value {
    let text = include_str!("../../reports/tests/fixtures/results.json");
    serde_json::from_str(text).unwrap()
}

/// Runs git in `repo` as a fixed author, committing at `at` seconds since the Unix epoch when
/// given; its output, trimmed.
fn git(repo: &Path, args: &[&str], at: Option<usize>) -> String {
    let mut command = std::process::Command::new("git");
    command.arg("-C").arg(repo).args(args);
    for who in ["AUTHOR", "COMMITTER"] {
        command
            .env(format!("GIT_{who}_NAME"), "parbench")
            .env(format!("GIT_{who}_EMAIL"), "p@example.com");
        if let Some(at) = at {
            command.env(format!("GIT_{who}_DATE"), format!("@{at} +0000"));
        }
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A git repository in `dir` with `n` empty commits an hour apart; their hashes, oldest first.
fn repository(dir: &Path, n: usize) -> Vec<String> {
    git(dir, &["init", "-q"], None);
    (0..n)
        .map(|i| {
            let message = format!("commit {i}");
            let at = Some(1_780_000_000 + 3600 * i);
            git(dir, &["commit", "-q", "--allow-empty", "-m", &message], at);
            git(dir, &["rev-parse", "HEAD"], None)
        })
        .collect()
}

/// `parbench history check` on `db`, its pages written into `out`: its exit code and output.
fn check(db: &Path, out: &Path) -> (Option<i32>, String) {
    let output = parbench()
        .args(["history", "check", "--db"])
        .arg(db)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// The fixture with every `square/size=200000/` cell's run times times `factor`, and a jitter
/// of up to ±1% per cell and point (seeded by `point`), written as `dir/results.json`.
fn write_run(dir: &Path, factor: f64, point: u64) -> PathBuf {
    write_scaled(dir, fixture(), "square/size=200000/", factor, point)
}

/// `results` with the run times of the cells whose id starts with `stepped` times `factor`,
/// and a jitter of up to ±1% per cell and point (seeded by `point`), written as
/// `dir/results.json`.
fn write_scaled(dir: &Path, mut results: Value, stepped: &str, factor: f64, point: u64) -> PathBuf {
    for (i, cell) in results["cells"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let moved = cell["id"].as_str().unwrap().starts_with(stepped);
        // A fixed pseudo-random jitter in [-1%, +1%].
        let mut x = (point * 1_000_003 + i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 29;
        let jitter = 1.0 + ((x % 20_001) as f64 / 1_000_000.0 - 0.01);
        let scale = if moved { factor * jitter } else { jitter };
        if let Some(wall) = cell.get_mut("wall").filter(|w| w.is_object()) {
            for key in [
                "median_ns",
                "ci_low_ns",
                "ci_high_ns",
                "mean_ns",
                "stddev_ns",
                "mad_ns",
            ] {
                if let Some(v) = wall[key].as_f64() {
                    wall[key] = Value::from(v * scale);
                }
            }
            for key in ["min_ns", "max_ns"] {
                if let Some(v) = wall[key].as_f64() {
                    wall[key] = Value::from((v * scale).round() as u64);
                }
            }
        }
        for sample in cell["samples"].as_array_mut().unwrap() {
            if let Some(v) = sample["run_ns"].as_f64() {
                sample["run_ns"] = Value::from((v * scale).round() as u64);
            }
        }
    }
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("results.json"),
        serde_json::to_vec(&results).unwrap(),
    )
    .unwrap();
    dir.to_owned()
}

/// Imports one run per commit of `commits`, the run times of the stepped cells times the
/// factor `factors[i]`.
fn import_series(repo: &Path, db: &Path, commits: &[String], factors: &[f64], first: u64) {
    for (i, (commit, factor)) in commits.iter().zip(factors).enumerate() {
        let point = first + i as u64;
        let run = write_run(&repo.join(format!("runs/{point}")), *factor, point);
        parbench()
            .current_dir(repo)
            .args(["history", "import", "--db"])
            .arg(db)
            .arg(&run)
            .args(["--commit", commit])
            .assert()
            .success();
    }
}

#[test]
fn a_step_at_one_commit_is_found_there_and_fails_the_check_while_it_stands() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let commits = repository(&repo, 18);
    let db = dir.path().join("history.sqlite");
    // Six commits as they were, six 10% slower for the `square/size=200000/` cells.
    let mut factors = vec![1.0; 6];
    factors.extend([1.10; 6]);
    import_series(&repo, &db, &commits[..12], &factors, 0);

    let (code, stdout) = check(&db, &dir.path().join("history"));
    assert_eq!(code, Some(1), "{stdout}");
    let stepped: Vec<String> = fixture()["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "ok")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .filter(|id| id.starts_with("square/size=200000/"))
        .collect();
    assert!(stepped.len() >= 4, "{stepped:?}");
    // Only the stepped cells are listed: a jittered cell's change within the thresholds (one
    // in a thousand points, by the detector's level) is counted, not listed.
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" run: ")).collect();
    assert_eq!(lines.len(), stepped.len(), "{stdout}");
    let page = dir.path().join("history/history.html");
    assert!(stdout.ends_with(&format!(
        "{}\n{}\n",
        page.display(),
        dir.path().join("history/history.md").display()
    )));
    let markdown = fs::read_to_string(dir.path().join("history/history.md")).unwrap();
    assert!(markdown.starts_with(&format!(
        "<!-- parbench history -->\n## parbench history: {} regression(s) stand at the head\n",
        stepped.len()
    )));
    for id in &stepped {
        assert!(
            markdown.contains(&format!("| `{id}` | run |")),
            "{markdown}"
        );
        assert!(fs::read_to_string(&page).unwrap().contains(id.as_str()));
    }
    assert!(
        stdout.contains(&format!(
            " in 12 runs: {0} regressions ({0} failing at the head), 0 improvements, ",
            stepped.len()
        )),
        "{stdout}"
    );
    let at = format!("{}..{}", &commits[5][..10], &commits[6][..10]);
    for id in &stepped {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!(" {id} run: ")))
            .unwrap_or_else(|| panic!("{id} is not listed:\n{stdout}"));
        assert!(line.starts_with(&at), "{line}");
        assert!(line.contains("REGRESSION at head"), "{line}");
        // The step is 10%, with ±1% jitter on either side.
        let change: f64 = line
            .split(" (+")
            .nth(1)
            .and_then(|rest| rest.split('%').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no change in {line}"));
        assert!((8.5..11.5).contains(&change), "{line}");
    }

    // Six more commits with the step undone: two change points per cell, neither at the head
    // a regression, so the check passes.
    import_series(&repo, &db, &commits[12..], &[1.0; 6], 12);
    let (code, stdout) = check(&db, &dir.path().join("history"));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!(
            " in 18 runs: {0} regressions (0 failing at the head), {0} improvements, ",
            stepped.len()
        )),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" run: ")).count(),
        2 * stepped.len(),
        "{stdout}"
    );
    let back = format!("{}..{}", &commits[11][..10], &commits[12][..10]);
    for id in &stepped {
        let listed = stdout
            .lines()
            .filter(|l| l.contains(&format!(" {id} run: ")))
            .count();
        assert_eq!(listed, 2, "{id}:\n{stdout}");
        // Newest first: the improvement back, then the regression before it.
        let first = stdout
            .lines()
            .position(|l| l.contains(&format!(" {id} run: ")) && l.starts_with(&back));
        let second = stdout
            .lines()
            .position(|l| l.contains(&format!(" {id} run: ")) && l.starts_with(&at));
        assert!(
            first.is_some() && second.is_some() && first < second,
            "{id}:\n{stdout}"
        );
    }
    assert!(stdout.contains("· improvement"), "{stdout}");
    assert!(!stdout.contains("REGRESSION at head"), "{stdout}");
}

#[test]
fn two_processes_recording_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(&dir.path().join("run"), 1.0, 0);
    let db = dir.path().join("history.sqlite");
    let writers: Vec<std::process::Child> = (0..2)
        .map(|_| {
            let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("parbench"));
            command.args(["history", "import", "--db"]).arg(&db);
            command.args(std::iter::repeat_n(&run, 100));
            command.stdout(std::process::Stdio::null());
            command.spawn().unwrap()
        })
        .collect();
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    let history = History::open(&db).unwrap();
    let runs = history.runs().unwrap();
    assert_eq!(runs.len(), 200);
    let ids: std::collections::BTreeSet<i64> = runs.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 200);
    // Each names the directory its samples are in.
    let canonical = fs::canonicalize(&run).unwrap();
    assert!(runs
        .iter()
        .all(|r| r.provenance.results_dir.as_deref() == Some(canonical.as_path())));
}

#[test]
fn a_corrupt_a_foreign_or_a_newer_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let run = write_run(&dir.path().join("run"), 1.0, 0);

    let corrupt = dir.path().join("corrupt.sqlite");
    let garbage: Vec<u8> = b"these bytes are no database at all\n".repeat(200);
    fs::write(&corrupt, &garbage).unwrap();
    for args in [&["history", "check"][..], &["history", "import"][..]] {
        let mut command = parbench();
        command.args(args).arg("--db").arg(&corrupt);
        if args[1] == "import" {
            command.arg(&run);
        }
        command
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with(format!(
                "error: history: {}: file is not a database",
                corrupt.display()
            )));
        assert_eq!(fs::read(&corrupt).unwrap(), garbage);
    }

    // A history of a newer schema: user_version, bytes 60..64 of the header, raised to 99.
    let newer = dir.path().join("newer.sqlite");
    parbench()
        .args(["history", "import", "--db"])
        .arg(&newer)
        .arg(&run)
        .assert()
        .success();
    let mut bytes = fs::read(&newer).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    fs::write(&newer, &bytes).unwrap();
    parbench()
        .args(["history", "check", "--db"])
        .arg(&newer)
        .assert()
        .code(2)
        .stderr(format!(
            "error: history: {}: history schema 99 is newer than this parbench's 2; update \
             parbench to read it\n",
            newer.display()
        ));
    assert_eq!(fs::read(&newer).unwrap(), bytes);
    assert!(!dir.path().join("newer.sqlite-wal").exists());

    // A database that is not there yet is not made by a check.
    let missing = dir.path().join("missing.sqlite");
    parbench()
        .args(["history", "check", "--db"])
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no history yet"));
    assert!(!missing.exists());
    // Nor does an import with a time that is no time.
    parbench()
        .args(["history", "import", "--time", "yesterday", "--db"])
        .arg(&missing)
        .arg(&run)
        .assert()
        .code(2)
        .stderr(
            "error: --time yesterday: not seconds since the Unix epoch nor an RFC 3339 time \
             (2026-12-01T09:00:00Z)\n",
        );
    assert!(!missing.exists());
}

#[test]
fn a_run_records_itself_beside_its_output_unless_history_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite.toml");
    fs::write(
        &suite,
        r#"
name = "tiny"
strategies = ["sequential", "threads"]
workers = [1]
samples = 1
processes = 1
max_processes = 1
warmup = 0

[[workload]]
name = "square"
sizes = [20000]
tasks = [2]
"#,
    )
    .unwrap();
    let out = dir.path().join("runs/latest");
    run(&suite, &out)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "history: recorded in {}",
            dir.path().join("runs/history.sqlite").display()
        )));
    let history = History::open(&dir.path().join("runs/history.sqlite")).unwrap();
    let runs = history.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].provenance.source, "run");
    assert_eq!(runs[0].suite, "tiny");
    let measured = history.measured(&runs[0].machine).unwrap();
    // Two cells (the sequential reference and threads), each with its five metrics at most.
    let cells: std::collections::BTreeSet<&str> =
        measured.keys().map(|k| k.cell.as_str()).collect();
    assert_eq!(cells.len(), 2, "{measured:?}");
    assert!(measured.keys().any(|k| k.metric == "run"));

    let off = dir.path().join("off/latest");
    run(&suite, &off)
        .env("PARBENCH_HISTORY", "off")
        .assert()
        .success()
        .stderr(predicate::str::contains("history:").not());
    assert!(!dir.path().join("off/history.sqlite").exists());
}

/// A crate whose binary, named `parbench`, answers `run SUITE --out DIR` by writing the results
/// it was built with: each commit of its repository a build with other figures.
const FAKE_MAIN: &str = r#"
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = args.iter().position(|a| a == "--out").map(|i| &args[i + 1]).unwrap();
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(format!("{out}/results.json"), include_str!("../results.json")).unwrap();
}
"#;

#[test]
fn backfill_builds_each_commit_once_runs_it_and_records_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join("src")).unwrap();
    fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"fake\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[bin]]\nname = \"parbench\"\npath = \"src/main.rs\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(repo.join("src/main.rs"), FAKE_MAIN).unwrap();
    fs::write(repo.join(".gitignore"), "target\n").unwrap();
    // An initial commit, then eight, each with the figures its build reports: the last four
    // 10% slower in the square cells.
    let factors = [1.0, 1.0, 1.0, 1.0, 1.1, 1.1, 1.1, 1.1];
    write_scaled(&repo, fixture(), "square/size=200000/", 1.0, 99);
    let first = repository(&repo, 1).remove(0);
    for (i, factor) in factors.iter().enumerate() {
        write_scaled(&repo, fixture(), "square/size=200000/", *factor, i as u64);
        let at = Some(1_780_100_000 + 3600 * i);
        git(&repo, &["add", "-A"], at);
        git(&repo, &["commit", "-q", "-m", &format!("figures {i}")], at);
    }
    let suite = repo.join("suite.toml");
    fs::write(&suite, "name = \"unused\"\n").unwrap();
    let db = dir.path().join("history.sqlite");
    let output = parbench()
        .current_dir(&repo)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .args(["history", "backfill", &format!("{first}..HEAD"), "--suite"])
        .arg(&suite)
        .arg("--out")
        .arg(dir.path().join("backfill"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // One build per commit, each from the shared target directory.
    assert_eq!(stderr.matches("building commit ").count(), 8, "{stderr}");
    for i in 0..8 {
        assert!(
            stdout.contains(&format!("{}/8 ", i + 1))
                && stdout.contains(&format!(" figures {i}: ")),
            "{stdout}"
        );
    }
    let history = History::open(&db).unwrap();
    let runs = history.runs().unwrap();
    assert_eq!(runs.len(), 8);
    assert!(runs.iter().all(|r| r.provenance.source == "backfill"));
    let subjects: Vec<String> = runs
        .iter()
        .map(|r| r.provenance.commit.as_ref().unwrap().subject.clone())
        .collect();
    assert_eq!(
        subjects,
        (0..8).map(|i| format!("figures {i}")).collect::<Vec<_>>()
    );
    // The step the builds reported, found at the commit that made it.
    let (code, text) = check(&db, &dir.path().join("page"));
    assert_eq!(code, Some(1), "{text}");
    let at = runs[4].provenance.commit.as_ref().unwrap().hash[..10].to_owned();
    let listed: Vec<&str> = text.lines().filter(|l| l.contains(" run: ")).collect();
    assert!(!listed.is_empty(), "{text}");
    assert!(
        listed
            .iter()
            .all(|l| l.contains(&format!("..{at}  square/size=200000/"))),
        "{text}"
    );

    // A range git does not know is a usage error.
    parbench()
        .current_dir(&repo)
        .args(["history", "backfill", "nosuchrev..HEAD", "--suite"])
        .arg(&suite)
        .arg("--db")
        .arg(&db)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nosuchrev..HEAD: not a range of commits",
        ));
}

#[test]
fn a_change_that_a_paired_run_refutes_no_longer_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let commits = repository(&repo, 8);
    let suite = dir.path().join("suite.toml");
    fs::write(
        &suite,
        "name = \"confirm\"\nstrategies = [\"sequential\", \"threads\"]\nworkers = [1]\n\
         samples = 2\nprocesses = 3\nmax_processes = 3\nwarmup = 0\n\n[[workload]]\n\
         name = \"square\"\nsizes = [20000]\ntasks = [2]\n",
    )
    .unwrap();
    // A real run on this machine, the history's template: the threads cell 15% slower in the
    // last four commits' runs, though every commit is the same build.
    let real = dir.path().join("real");
    run(&suite, &real)
        .env("PARBENCH_HISTORY", "off")
        .assert()
        .success();
    let template: Value =
        serde_json::from_slice(&fs::read(real.join("results.json")).unwrap()).unwrap();
    let cell = "square/size=20000/tasks=2/threads/w1";
    let db = dir.path().join("history.sqlite");
    for (i, commit) in commits.iter().enumerate() {
        let factor = if i < 4 { 1.0 } else { 1.15 };
        let run = write_scaled(
            &dir.path().join(format!("runs/{i}")),
            template.clone(),
            cell,
            factor,
            i as u64,
        );
        parbench()
            .current_dir(&repo)
            .args(["history", "import", "--db"])
            .arg(&db)
            .arg(&run)
            .args(["--commit", commit])
            .assert()
            .success();
    }
    let page = dir.path().join("page");
    let (code, text) = check(&db, &page);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("  {cell} run: ")), "{text}");

    // Both sides' builds are this binary, put where confirm keeps its builds: the paired run
    // measures the same build twice, and refutes the change.
    let out = dir.path().join("confirm");
    fs::create_dir_all(out.join("bin")).unwrap();
    for commit in [&commits[3], &commits[4]] {
        fs::copy(
            assert_cmd::cargo::cargo_bin("parbench"),
            out.join(format!("bin/parbench-{}", &commit[..10])),
        )
        .unwrap();
    }
    let output = parbench()
        .current_dir(&repo)
        .args(["history", "confirm", "--suite"])
        .arg(&suite)
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!(" {cell} run: refuted — paired run of ")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.starts_with(&format!("{}..{}", &commits[3][..10], &commits[4][..10])),
        "{line}"
    );
    let history = History::open(&db).unwrap();
    let machine = history.runs().unwrap()[0].machine.clone();
    let verdict = history
        .verdict(&machine, cell, "run", (&commits[3], &commits[4]))
        .unwrap()
        .unwrap();
    assert!(!verdict.confirmed);
    drop(history);

    let (code, text) = check(&db, &page);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("· refuted by a paired run"), "{text}");
    // Nothing left to confirm.
    parbench()
        .args(["history", "confirm", "--suite"])
        .arg(&suite)
        .arg("--db")
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout("nothing to confirm: every change point past the thresholds has a verdict\n");
}
