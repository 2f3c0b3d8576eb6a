//! `parbench decide` end to end on the real binary: a tree from results with a known answer,
//! one tree per machine with their disagreements, and too few buckets refused with exit 2.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use parbench_reports::Results;

#[path = "../../reports/tests/known/mod.rs"]
mod known;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

fn write_results(dir: &Path, results: &Results) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join("results.json"),
        serde_json::to_vec_pretty(results).unwrap(),
    )
    .unwrap();
}

#[test]
fn decide_prints_the_tree_and_writes_its_charts_beside_the_results() {
    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path(), &known::known_answer());
    let output = parbench().arg("decide").arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let d = dir.path().display();
    let expected_head = format!(
        "machine 1: {} · {} logical cores · {} · from {d}\n\n\
         CPU per task ≥ 31.62 µs?\n\
         ├─ no: sequential · 15 buckets, 15 right · ahead of rayon by 1.80x (1.75x–1.85x)\n\
         └─ yes: rayon · 21 buckets, 21 right · ahead of sequential by 1.82x (1.77x–1.87x)\n\
         \n\
         leave-one-workload-out accuracy: 36 of 36 buckets (100.0%)\n\
         \x20 alpha: 12 of 12\n\
         \x20 beta: 12 of 12\n\
         \x20 gamma: 12 of 12\n\
         \n\
         labels kept when the medians are re-drawn within their intervals: 100% on average; \
         none of 36 buckets unsettled\n\
         \n\
         real work on the tree (measured · the tree · learned without it):\n",
        known::fixture().machine.cpu_model,
        known::fixture().machine.logical_cores,
        parbench_reports::format::bytes(known::fixture().machine.memory_bytes),
    );
    assert!(stdout.starts_with(&expected_head), "{stdout}");
    // `gamma`, the real work, placed: at 2 µs per task the loop, at 5 ms `rayon`.
    assert!(
        stdout.contains("\n  gamma/size=80001/tasks=8: sequential · sequential · sequential\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  gamma/size=6400011/tasks=64: rayon · rayon · rayon\n"),
        "{stdout}"
    );
    assert!(stdout.contains(
        "\n  CPU-intensive work on small data → processes with shared memory: contradicted ("
    ));
    assert!(stdout.contains(
        "\n  real-time streams → a stream engine: not measured here (no bucket of this run)\n"
    ));
    for file in [
        "decision-tree.svg",
        "decision-tree.dot",
        "folklore-tree.svg",
        "decision-tree.md",
    ] {
        let path = dir.path().join(file);
        assert!(
            stdout.contains(&format!("{}\n", path.display())),
            "{stdout}"
        );
        assert!(fs::metadata(&path).unwrap().len() > 100, "{file}");
    }
    let md = fs::read_to_string(dir.path().join("decision-tree.md")).unwrap();
    assert!(
        md.contains("```mermaid\nflowchart TD\n    n0{\"CPU per task ≥ 31.62 µs?\"}\n"),
        "{md}"
    );
    let svg = fs::read_to_string(dir.path().join("decision-tree.svg")).unwrap();
    assert!(svg.contains(">CPU per task ≥ 31.62 µs?</text>"));
}

#[test]
fn decide_learns_a_tree_per_machine_and_says_where_they_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, out) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("out"),
    );
    write_results(&first, &known::known_answer());
    // Another machine, where `threads` wins the heaviest bucket of `alpha`.
    let mut other = known::known_answer();
    other.machine.cpu_model = "Another CPU".to_owned();
    let heaviest = other
        .cells
        .iter()
        .filter(|c| c.workload == "alpha")
        .map(|c| c.id.rsplitn(3, '/').nth(2).unwrap().to_owned())
        .next_back()
        .unwrap();
    for cell in &mut other.cells {
        if cell.id.starts_with(&format!("{heaviest}/threads/")) {
            let wall = cell.wall.as_mut().unwrap();
            wall.median_ns /= 4.0;
            wall.ci_low_ns /= 4.0;
            wall.ci_high_ns /= 4.0;
        }
    }
    write_results(&second, &other);
    let output = parbench()
        .arg("decide")
        .args([&first, &second])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\nmachine 2: Another CPU · "), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "where the machines disagree:\n  {heaviest}: machine 1: rayon · machine 2: threads\n"
        )),
        "{stdout}"
    );
    for file in [
        "decision-tree-m1.svg",
        "decision-tree-m2.svg",
        "decision-tree-m2.dot",
        "folklore-tree-m1.svg",
        "decision-tree.md",
    ] {
        assert!(out.join(file).is_file(), "{file}: {stdout}");
    }
    let md = fs::read_to_string(out.join("decision-tree.md")).unwrap();
    assert!(
        md.contains("### Where the machines disagree\n\n| bucket | winners |\n"),
        "{md}"
    );
}

#[test]
fn decide_on_too_few_buckets_says_how_many_it_needs_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // A real run of three buckets of the `decide` suite.
    let out = dir.path().join("run");
    let run = parbench()
        .args(["run", "decide", "--quick", "--no-profile", "--filter"])
        .arg("spin[bytes_per_item=1024,ns_per_item=200]")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let results: Results =
        serde_json::from_slice(&fs::read(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.suite.source, "embedded:decide");
    assert!(
        results.cells.iter().all(|c| c.verified),
        "every cell verified"
    );
    let output = parbench().arg("decide").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let expected = "3 buckets with a sequential cell and another strategy measured; a tree \
                    needs at least 8 (measure more sizes, task counts or workloads, e.g. the \
                    `decide` suite)\n";
    assert!(
        stderr.ends_with(&format!("error: {}: {expected}", out.display())),
        "{stderr}"
    );
    // The report of such a run has no tree, and no chart was written.
    assert!(!out.join("decision-tree.svg").exists());
    // A directory without results names the file it could not read.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let output = parbench().arg("decide").arg(&empty).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("error: {}", empty.join("results.json").display())),
        "{stderr}"
    );
}
