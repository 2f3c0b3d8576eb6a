//! Every command that reads results, against results it cannot trust: a missing, empty,
//! truncated, non-JSON, wrongly shaped, newer or self-contradicting `results.json`. Each
//! command exits with 2, names the file and what is wrong with it, writes nothing, and never
//! panics; an interrupted run's results (no end time, fewer cells) are read as they are.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

/// The results every damage starts from: a real run's.
fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/results.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// One way a results file can be bad, and what the error must say of it.
struct Damage {
    name: &'static str,
    /// The file's bytes; `None` for no file at all.
    bytes: Option<Vec<u8>>,
    /// What the error says after the file's path.
    says: String,
}

/// The fixture with `edit` applied, as bytes.
fn edited(edit: impl FnOnce(&mut Value)) -> Option<Vec<u8>> {
    let mut results = fixture();
    edit(&mut results);
    Some(serde_json::to_vec_pretty(&results).unwrap())
}

fn damages() -> Vec<Damage> {
    let whole = serde_json::to_vec_pretty(&fixture()).unwrap();
    let first_id = fixture()["cells"][0]["id"].as_str().unwrap().to_owned();
    vec![
        Damage {
            name: "missing",
            bytes: None,
            says: ": No such file or directory".into(),
        },
        Damage {
            name: "empty",
            bytes: Some(Vec::new()),
            says: ": not parbench results: EOF while parsing a value at line 1 column 0".into(),
        },
        Damage {
            name: "truncated",
            bytes: Some(whole[..whole.len() / 2].to_vec()),
            says: ": not parbench results: EOF while parsing".into(),
        },
        Damage {
            name: "not JSON",
            bytes: Some(b"cells: 3\n".to_vec()),
            says: ": not parbench results: expected value at line 1 column 1".into(),
        },
        Damage {
            name: "another shape",
            bytes: Some(br#"{"schema_version": 2, "cells": 5}"#.to_vec()),
            says:
                ": not parbench results: invalid type: integer `5`, expected a sequence at line 1 \
                   column 32"
                    .into(),
        },
        Damage {
            name: "a field of the wrong type",
            bytes: edited(|r| r["cells"][0]["tasks"] = "eight".into()),
            says: ": not parbench results: invalid type: string \"eight\", expected usize at line"
                .into(),
        },
        Damage {
            name: "a negative sample",
            bytes: edited(|r| r["cells"][0]["samples"][0]["run_ns"] = (-5).into()),
            says: ": not parbench results: invalid value: integer `-5`, expected u64 at line"
                .into(),
        },
        Damage {
            name: "a newer schema",
            bytes: edited(|r| r["schema_version"] = 99.into()),
            says: format!(
                ": results schema version 99; this parbench reads up to {}",
                parbench_reports::SCHEMA_VERSION
            ),
        },
        Damage {
            name: "a cell twice",
            bytes: edited(|r| {
                let cells = r["cells"].as_array_mut().unwrap();
                let copy = cells[0].clone();
                cells.insert(2, copy);
            }),
            says: format!(": contradicts itself: cell `{first_id}` appears twice (cells 1 and 3)"),
        },
        Damage {
            name: "a negative median",
            bytes: edited(|r| r["cells"][0]["wall"]["median_ns"] = (-1.5).into()),
            says: format!(
                ": contradicts itself: cell `{first_id}`: wall is not a time: median -1.5 ns"
            ),
        },
        Damage {
            name: "a median outside its interval",
            bytes: edited(|r| {
                let wall = &mut r["cells"][0]["wall"];
                let high = wall["ci_high_ns"].as_f64().unwrap();
                wall["median_ns"] = (2.0 * high).into();
            }),
            says: format!(": contradicts itself: cell `{first_id}`: wall's median"),
        },
    ]
}

/// Every file under `dir`, relative to it, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().to_owned());
        }
    }
    found.sort();
    found
}

/// The commands that read results, each reading `bad` (with `good` beside it where it takes
/// two) and writing, if anything, under `scratch`.
fn commands(bad: &Path, good: &Path, scratch: &Path, cell: &str) -> Vec<(&'static str, Command)> {
    let mut report = parbench();
    report.arg("report").arg(bad);
    let mut decide = parbench();
    decide
        .arg("decide")
        .arg(bad)
        .arg("--out")
        .arg(scratch.join("decide"));
    let mut export = parbench();
    export.args(["export", "--format", "bencher"]).arg(bad);
    let mut diff = parbench();
    diff.args(["diff-flame", cell, cell, "--dir"])
        .arg(bad)
        .arg("--out")
        .arg(scratch.join("diff.svg"));
    let mut compare = parbench();
    compare
        .arg("compare")
        .arg(good)
        .arg(bad)
        .arg("--out")
        .arg(scratch.join("cmp"))
        .env_remove("GITHUB_STEP_SUMMARY");
    vec![
        ("report", report),
        ("decide", decide),
        ("export", export),
        ("diff-flame", diff),
        ("compare", compare),
    ]
}

#[test]
fn every_reading_command_refuses_bad_results_by_name_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    fs::create_dir_all(&good).unwrap();
    fs::write(good.join("results.json"), fixture().to_string()).unwrap();
    let cell = fixture()["cells"][0]["id"].as_str().unwrap().to_owned();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, damage) in damages().into_iter().enumerate() {
        let bad = root.path().join(format!("bad-{n}"));
        fs::create_dir_all(&bad).unwrap();
        if let Some(bytes) = &damage.bytes {
            fs::write(bad.join("results.json"), bytes).unwrap();
        }
        let file = bad.join("results.json");
        let before = listing(&bad);
        for (command, mut cmd) in commands(&bad, &good, &root.path().join("scratch"), &cell) {
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let expected = format!("error: {}{}", file.display(), damage.says);
            let mut wrong = Vec::new();
            if output.status.code() != Some(2) {
                wrong.push(format!("exit code {:?}", output.status.code()));
            }
            if !stderr.contains(&expected) {
                wrong.push(format!("stderr lacks `{expected}`"));
            }
            if stderr.contains("panicked") {
                wrong.push("it panicked".to_owned());
            }
            if !output.stdout.is_empty() {
                wrong.push(format!(
                    "stdout: {}",
                    String::from_utf8_lossy(&output.stdout)
                ));
            }
            let written = listing(&root.path().join("scratch"));
            if !written.is_empty() || listing(&bad) != before {
                wrong.push(format!("it wrote {written:?} and left {:?}", listing(&bad)));
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "{command} on {}: {}\n{stderr}",
                    damage.name,
                    wrong.join("; ")
                ));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 11 * 5);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_interrupted_runs_results_are_read_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = fixture();
    results["finished_at"] = Value::Null;
    let cells = results["cells"].as_array_mut().unwrap();
    let kept = cells.len() / 2;
    cells.truncate(kept);
    fs::write(dir.path().join("results.json"), results.to_string()).unwrap();
    let output = parbench().arg("report").arg(dir.path()).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<svg"));
    let csv = fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        kept + 1,
        "a header and a line per cell"
    );
}
