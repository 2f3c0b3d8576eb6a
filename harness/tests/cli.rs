//! The `parbench` command line, end to end on the real binary.

use std::fs;
use std::os::unix::process::CommandExt;

mod common;

use assert_cmd::Command;
use common::{leftovers, state_of, wait_for_descendants};
use parbench_reports::{Cell, Results, Status, SCHEMA_VERSION};
use predicates::prelude::*;

fn parbench() -> Command {
    Command::cargo_bin("parbench").unwrap()
}

/// The results a run wrote into `out`.
fn read_results(out: &std::path::Path) -> Results {
    serde_json::from_slice(&fs::read(out.join("results.json")).unwrap()).unwrap()
}

/// Runs the suite `text` (written into `dir`), which must succeed, and returns its results.
fn run_ok(dir: &std::path::Path, text: &str) -> Results {
    let suite = dir.join("suite.toml");
    fs::write(&suite, text).unwrap();
    let out = dir.join("out");
    parbench()
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    read_results(&out)
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
samples = 2
processes = 2
max_processes = 2
profile_samples = 20
profile_time = "200ms"

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
strategies = ["sequential", "tokio", "thread-pool", "process-pool"]
workers = [2]

[[workload]]
name = "json"
sizes = [500]
tasks = [7]
strategies = ["process-pool", "process-shm"]
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

# Shared memory moves a small fraction of what pipes carry: decided by exact byte counts.
[[claim]]
name = "shm-moves-less"
statement = "shared memory moves a tenth of the pool's bytes at most"
metric = "bytes-moved"
numerator = { work = "json", strategy = "process-shm" }
denominator = { work = "json", strategy = "process-pool" }
holds = "below"
threshold = 0.1

[[claim]]
name = "absent"
metric = "run-time"
numerator = { work = "json", strategy = "rayon" }
denominator = { work = "json", strategy = "process-pool" }
holds = "below"
threshold = 1.0
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    parbench()
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .args(["--profile", "all"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "sampling: every cell in 2 processes of 2 samples (rounds in a shuffled order), more \
             for the close contests and the cells wider than ±2% · flame graphs: every cell\n",
        ))
        .stdout(predicate::str::contains("\nround 1 of 2: 10 cells in "))
        .stdout(predicate::str::contains("\nprofiles: 10 cells in "))
        .stdout(predicate::str::contains("\nround 2 of 2: 10 cells in "))
        .stdout(predicate::str::contains("\n10 cells, 0 failed"))
        .stdout(predicate::str::contains(" · 2 rounds · in "))
        .stdout(predicate::str::contains(
            "\n  shm-moves-less: shared memory moves a tenth of the pool's bytes at most — holds: ",
        ))
        .stdout(predicate::str::contains(
            "\n  absent: absent — cannot be checked: no verified cell of json under rayon on its \
             most workers, claimed below 1\n",
        ));

    let results = read_results(&out);
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.suite.name, "small");
    // The suite's claims travel with the results, and open the reports.
    assert_eq!(results.suite.claims.len(), 2);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("\n### Claims\n"), "{summary}");
    assert!(summary.contains(
        "| **shm-moves-less**: shared memory moves a tenth of the pool's bytes at most | holds | "
    ));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<section id=\"claims\">"));
    assert!(results.finished_at.is_some());
    assert!(results.machine.logical_cores >= 1);
    assert!(results.machine.memory_bytes > 0);
    assert!(results.machine.rustc.starts_with("rustc "));
    let limits = results.machine.limits.as_ref().unwrap();
    assert!(limits.copy_one_bytes_per_s > 1e8, "{limits:?}");
    // Neither slower than a quarter of one thread nor beyond twice the threads, however busy
    // the machine (the limits' unit test checks the arithmetic on known times).
    let most = 2.0 * limits.threads as f64;
    assert!(
        limits.alu_speedup > 0.25 && limits.alu_speedup < most,
        "{limits:?}"
    );
    assert_eq!(results.cells.len(), 10);
    let rounds = results.rounds.as_ref().unwrap();
    assert_eq!(
        (
            rounds.min_processes,
            rounds.samples_per_process,
            rounds.finished
        ),
        (2, 2, 2)
    );
    assert_eq!(rounds.profiled, "all");
    for cell in &results.cells {
        assert_eq!(cell.status, Status::Ok, "{}: {:?}", cell.id, cell.error);
        assert!(cell.verified);
        // Every teardown left no process behind, running or unreaped.
        for sample in &cell.samples {
            assert_eq!(
                (sample.leftover_processes, sample.zombie_processes),
                (0, 0),
                "{}",
                cell.id
            );
        }
        // Two samples from each of two processes, one process per round.
        let origins: Vec<(u32, u32)> = cell.samples.iter().map(|s| (s.process, s.round)).collect();
        assert_eq!(origins, [(1, 1), (1, 1), (2, 2), (2, 2)], "{}", cell.id);
        let wall = cell.wall.as_ref().unwrap();
        assert_eq!((wall.n, wall.processes), (4, 2));
        // The figure is the geometric mean of the processes' medians, inside its interval.
        let median = |p: &[parbench_reports::Sample]| (p[0].run_ns + p[1].run_ns) as f64 / 2.0;
        let expected = (median(&cell.samples[..2]) * median(&cell.samples[2..])).sqrt();
        assert!(
            (wall.median_ns - expected).abs() <= 1e-6 * expected,
            "{}: {} vs {expected}",
            cell.id,
            wall.median_ns
        );
        assert!(wall.ci_low_ns <= wall.median_ns && wall.median_ns <= wall.ci_high_ns);
        assert_eq!(wall.ci_level, 0.95);
        assert!(wall.spread.is_some() && wall.mde.is_some_and(|m| m >= 0.0));
        assert_eq!(cell.ci_target, 0.02);
        let o = cell.overhead.unwrap();
        assert_eq!(
            o.busy_ns + o.startup_ns + o.gaps_ns + o.tail_ns,
            o.capacity_ns
        );
        // Contention is measured from the sequential cell's median sample: zero for itself.
        if cell.strategy == "sequential" {
            assert_eq!(o.contention_ns, 0, "{}", cell.id);
        }
        // The median run's timeline: every task on a lane, within the run.
        let timeline = cell.timeline.as_ref().unwrap();
        assert_eq!(timeline.spans.len(), cell.tasks, "{}", cell.id);
        assert!(timeline
            .spans
            .iter()
            .all(|s| (s.lane as usize) < timeline.lanes && s.end_ns <= timeline.run_ns));
        assert!(cell.peak_rss_bytes.unwrap() > 1 << 20);
        assert_eq!(cell.answer.as_ref().unwrap().digest.len(), 64);
        let efficiency = cell.efficiency.unwrap();
        assert!(efficiency.bandwidth_share > 0.0);
        if cell.strategy == "sequential" {
            assert_eq!(efficiency.parallel_efficiency, Some(1.0));
        }
        // Profiled in a process of its own: the flame graph and its stacks are on disk.
        let profile = cell.profile.as_ref().unwrap();
        assert!(profile.error.is_none(), "{}: {:?}", cell.id, profile.error);
        assert!(profile.runs >= 1 && profile.rounds >= 1, "{}", cell.id);
        assert_eq!(profile.frequency_hz, 997);
        let folded = fs::read_to_string(out.join(&profile.folded)).unwrap();
        let counted: u64 = parbench_reports::flame::parse(&folded)
            .iter()
            .map(|(_, n)| n)
            .sum();
        assert_eq!(counted, profile.samples, "{}", cell.id);
        let processes: u64 = profile.processes.iter().map(|p| p.samples).sum();
        assert_eq!(processes, profile.samples, "{}", cell.id);
        let svg = fs::read_to_string(out.join(&profile.flamegraph)).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains(&cell.id),
            "{}",
            cell.id
        );
        // Worker processes re-executed from this binary report their memory and the bytes
        // that crossed to them; threads move nothing.
        for sample in &cell.samples {
            if cell.strategy.starts_with("process-") {
                assert_eq!(sample.worker_memory.len(), 2, "{}", cell.id);
                assert!(sample
                    .worker_memory
                    .iter()
                    .all(|w| w.peak_rss_bytes > 1 << 20));
                assert!(sample.bytes_moved > 0);
            } else {
                assert!(sample.worker_memory.is_empty());
                assert_eq!(sample.bytes_moved, 0);
            }
        }
    }
    let moved = |strategy: &str| {
        let cell = results
            .cells
            .iter()
            .find(|c| c.workload == "json" && c.strategy == strategy)
            .unwrap();
        cell.samples[0].bytes_moved
    };
    // The pool copies every record in and every aggregate out; shared memory sends ranges.
    let input = results
        .cells
        .iter()
        .find(|c| c.workload == "json")
        .unwrap()
        .features
        .input_bytes;
    assert!(
        moved("process-pool") > input,
        "{} vs {input}",
        moved("process-pool")
    );
    assert!(
        moved("process-shm") < input / 20,
        "{} vs {input}",
        moved("process-shm")
    );
    let risky = results
        .cells
        .iter()
        .find(|c| c.workload == "risky")
        .unwrap();
    let failed = &risky.answer.as_ref().unwrap().failed_tasks;
    assert!(failed.len() >= 4 && failed.len() <= 30, "{failed:?}");
    let spin = results.cells.iter().find(|c| c.workload == "spin").unwrap();
    // 200 items at 2 µs each: about 400 µs of busy time (more on a machine busy with other
    // tests: the calibration and the run do not see the same load).
    let busy = spin.features.sequential_busy_ns;
    assert!((100_000..20_000_000).contains(&busy), "{busy} ns");
    assert_eq!(spin.params["ns_per_item"], 2000);
    // Every report is written, and no temporary file is left beside them.
    let names = || {
        let mut names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    // The suite makes a claim: claims.md too (no rule-of-thumb branch named: no folklore tree).
    let files = [
        "claims.md",
        "flamegraphs",
        "report.html",
        "results.csv",
        "results.json",
        "summary.md",
    ];
    assert_eq!(names(), files);
    // Two files a cell in `flamegraphs/`, and nothing else.
    let graphs = fs::read_dir(out.join("flamegraphs")).unwrap().count();
    assert_eq!(graphs, 2 * results.cells.len());
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(results.cells.iter().all(|c| html.contains(&c.id)));

    // `parbench report` renders them again from results.json alone.
    let claims = fs::read_to_string(out.join("claims.md")).unwrap();
    for file in ["report.html", "results.csv", "summary.md", "claims.md"] {
        fs::remove_file(out.join(file)).unwrap();
    }
    let mut printed: String = [
        "results.json",
        "results.csv",
        "summary.md",
        "report.html",
        "claims.md",
    ]
    .iter()
    .map(|f| format!("{}\n", out.join(f).display()))
    .collect();
    printed += &format!("{} (10 flame graphs)\n", out.join("flamegraphs").display());
    parbench()
        .arg("report")
        .arg(&out)
        .assert()
        .success()
        .stdout(printed);
    assert_eq!(names(), files);
    assert_eq!(fs::read_to_string(out.join("report.html")).unwrap(), html);
    assert_eq!(fs::read_to_string(out.join("claims.md")).unwrap(), claims);
}

#[test]
fn flame_graphs_show_the_work_and_the_worker_processes() {
    let dir = tempfile::tempdir().unwrap();
    let results = run_ok(
        dir.path(),
        r#"
name = "profiles"
samples = 3
processes = 1
max_processes = 1
profile_samples = 300
profile_time = "4s"

[[workload]]
name = "resize"
sizes = [4]
tasks = [4]
strategies = ["sequential", "process-pool"]
workers = [2]

# Copying through the pipes is most of this cell's work: its workers' stacks show the framing
# for sure (a resize's copying is a percent of its samples, sometimes none of 300).
[[workload]]
name = "square"
sizes = [1000000]
tasks = [8]
strategies = ["process-pool"]
workers = [2]
"#,
    );
    let out = dir.path().join("out");
    let stacks = |workload: &str, strategy: &str| {
        let cell = results
            .cells
            .iter()
            .find(|c| c.workload == workload && c.strategy == strategy)
            .unwrap();
        let profile = cell.profile.as_ref().unwrap();
        assert!(profile.samples >= 100, "{}: {profile:?}", cell.id);
        let text = fs::read_to_string(out.join(&profile.folded)).unwrap();
        (profile.clone(), parbench_reports::flame::parse(&text))
    };
    // The resize routine of the `image` crate, called from the workload's task, in the cell.
    let (sequential, own) = stacks("resize", "sequential");
    // A frame's function without its path and generics: `image::imageops::sample::resize`
    // (full debug information) and `resize<image::..>` (line tables) are both `resize`.
    let function = |frame: &str| {
        let (mut depth, mut start, mut end) = (0usize, 0, frame.len());
        for (i, c) in frame.char_indices() {
            match c {
                '<' if depth == 0 && i > start => {
                    end = end.min(i);
                    depth += 1;
                }
                '<' => depth += 1,
                '>' => depth = depth.saturating_sub(1),
                ':' if depth == 0 && frame[i..].starts_with("::") => {
                    (start, end) = (i + 2, frame.len());
                }
                _ => {}
            }
        }
        frame[start.min(end)..end].to_owned()
    };
    let calls = |stack: &str, name: &str| stack.split(';').any(|f| function(f) == name);
    let resizing = |stack: &str| calls(stack, "run_task") && calls(stack, "resize");
    let roots = |stacks: &[(String, u64)]| -> Vec<String> {
        stacks
            .iter()
            .map(|(s, _)| s.split(';').take(2).collect::<Vec<_>>().join(";"))
            .collect()
    };
    assert!(
        own.iter()
            .any(|(stack, _)| stack.starts_with("cell;") && resizing(stack)),
        "{:?}",
        roots(&own)
    );
    assert_eq!(sequential.processes.len(), 1);
    assert!(!sequential.top_frames.is_empty());
    // process-pool: the workers' own stacks under their root frames — the resize, and the
    // framing and copying of the task's bytes through the pipe.
    let workers = |stacks: &[(String, u64)]| -> Vec<String> {
        stacks
            .iter()
            .map(|(s, _)| s.clone())
            .filter(|s| s.starts_with("process-pool worker "))
            .collect()
    };
    let (pool, pool_stacks) = stacks("resize", "process-pool");
    assert!(
        workers(&pool_stacks).iter().any(|s| resizing(s)),
        "{:?}",
        pool.processes
    );
    let (copying, copying_stacks) = stacks("square", "process-pool");
    assert!(
        workers(&copying_stacks)
            .iter()
            .any(|s| s.contains("parbench_strategies::process::wire")),
        "{:?}",
        copying.processes
    );
    assert!(pool.processes.len() >= 2, "{:?}", pool.processes);
    let svg = fs::read_to_string(out.join(&pool.flamegraph)).unwrap();
    assert!(svg.contains("process-pool worker ") && svg.contains("resize"));

    // Where the time went between the two strategies.
    let [a, b] = ["sequential/w1", "process-pool/w2"].map(|s| format!("resize/size=4/tasks=4/{s}"));
    let diff = out.join("flamegraphs/diff-resize_size_4_tasks_4_sequential_w1--resize_size_4_tasks_4_process-pool_w2.svg");
    parbench()
        .args(["diff-flame", &a, &b, "--dir"])
        .arg(&out)
        .assert()
        .success()
        .stdout(format!("{}\n", diff.display()));
    let svg = fs::read_to_string(&diff).unwrap();
    assert!(svg.contains("<svg") && svg.contains("resize"));
    // A folded file and a cell of another run (`DIR:CELL`) are sides too.
    let other = format!("{}:{a}", out.display());
    let mine = dir.path().join("mine.svg");
    parbench()
        .args(["diff-flame", &other])
        .arg(out.join(&sequential.folded))
        .arg("-o")
        .arg(&mine)
        .assert()
        .success();
    assert!(fs::read_to_string(&mine).unwrap().contains("<svg"));
    parbench()
        .args(["diff-flame", &a, "resize/size=4/tasks=4/rayon/w2", "--dir"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(format!(
            "error: {}: no cell `resize/size=4/tasks=4/rayon/w2`; the profiled cells are: {a}, {b}, \
             square/size=1000000/tasks=8/process-pool/w2\n",
            out.display()
        ));
}

#[test]
fn report_of_a_directory_without_results_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("results.json");
    parbench()
        .arg("report")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(format!(
            "error: {}: No such file or directory (os error 2)\n",
            missing.display()
        ));
}

#[test]
fn processes_are_added_until_the_target_or_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |settings: &str| {
        let text = format!(
            "name = \"sampling\"\nwarmup = 0\n{settings}\n[[workload]]\n\
             name = \"spin\"\nparams = {{ ns_per_item = 1000 }}\nsizes = [1000]\n"
        );
        let results = run_ok(dir.path(), &text);
        let rounds = results.rounds.unwrap().finished;
        (results.cells.into_iter().next().unwrap(), rounds)
    };
    let processes = |cell: &Cell| cell.wall.as_ref().map_or(0, |w| w.processes);
    // A loose target: processes are added, a round each, only until it is met (on a quiet
    // machine the minimum rounds meet it; a machine busy with other tests may need more).
    // The figures stand on the processes the canary saw quiet (every one while fewer than
    // two were), so the interval may count fewer processes than the rounds started.
    let (loose, rounds) = run("samples = 2\nci_target = 0.99\nprocesses = 3\nmax_processes = 10");
    let wall = loose.wall.as_ref().unwrap();
    assert!((3..=10).contains(&rounds), "{rounds}");
    assert_eq!(loose.samples.len(), 2 * rounds);
    assert!((2..=rounds).contains(&wall.processes), "{}", wall.processes);
    assert_eq!(loose.converged, wall.relative_half_width() <= 0.99);
    // Unmet only at the cap: on a machine busy enough that the canary keeps all but two
    // processes out, two processes spread by 13% give ±116% (Student's t of one degree).
    assert!(loose.converged || rounds == 10, "{rounds} rounds: {wall:?}");
    // Met, it stopped once met: after the minimum rounds, or after the first round that gave
    // it a third quiet process (every round before the last left it short of three).
    let quiet_before_last = loose
        .samples
        .iter()
        .filter(|s| (s.round as usize) < rounds && !s.disturbed)
        .map(|s| s.process)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert!(
        !loose.converged || rounds == 3 || quiet_before_last < 3,
        "{rounds} rounds, {quiet_before_last} quiet processes before the last"
    );
    // A target no machine meets: a process a round until the cell has `max_processes`.
    let (capped, rounds) =
        run("samples = 2\nci_target = 0.000001\nprocesses = 2\nmax_processes = 4");
    assert!(!capped.converged);
    let origins: Vec<(u32, u32)> = capped
        .samples
        .iter()
        .map(|s| (s.process, s.round))
        .collect();
    assert_eq!(
        origins,
        [
            (1, 1),
            (1, 1),
            (2, 2),
            (2, 2),
            (3, 3),
            (3, 3),
            (4, 4),
            (4, 4)
        ]
    );
    assert_eq!(rounds, 4);
    // A process stops short of its samples once it has used its share of the time budget.
    let (timed, _) =
        run("samples = 100000\nprocesses = 2\nmax_processes = 2\ntime_budget = \"200ms\"");
    for process in [1, 2] {
        let taken = timed
            .samples
            .iter()
            .filter(|s| s.process == process)
            .count();
        assert!(
            (1..1000).contains(&taken),
            "process {process}: {taken} samples"
        );
    }
    // Or until the run has lasted the suite's budget.
    let (budgeted, _) = run(
        "samples = 2\nci_target = 0.000001\nprocesses = 1\nmax_processes = 1000\nbudget = \"1s\"",
    );
    assert!(
        (1..100).contains(&processes(&budgeted)),
        "{}",
        processes(&budgeted)
    );
}

#[test]
fn a_cell_that_dies_fails_alone_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("faults.toml");
    let mut text = String::from(
        "name = \"faults\"\nsamples = 3\nprocesses = 1\nmax_processes = 1\ncell_timeout = \"3s\"\n\
         memory_limit = \"512MiB\"\n\n[[workload]]\nname = \"square\"\nsizes = [1000]\n",
    );
    for fault in ["panic", "abort", "segfault", "oom", "hang"] {
        text += &format!(
            "\n[[workload]]\nname = \"risky\"\nparams = {{ fault = \"{fault}\" }}\nsizes = [100]\n\
             strategies = [\"sequential\", \"process-pool\"]\nworkers = [2]\n"
        );
    }
    text += "\n[[workload]]\nname = \"spin\"\nsizes = [1000]\n";
    fs::write(&suite, text).unwrap();
    let out = dir.path().join("out");
    parbench()
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .env("RUST_BACKTRACE", "0")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\n12 cells, 10 failed"));
    let results = read_results(&out);
    let status_of = |fault: &str| -> Vec<(Status, String)> {
        results
            .cells
            .iter()
            .filter(|c| c.params.get("fault").and_then(|f| f.as_str()) == Some(fault))
            .map(|c| (c.status, c.error.clone().unwrap_or_default()))
            .collect()
    };
    let expected = [
        (
            "panic",
            Status::Panic,
            "panicked: risky: a fault injected while generating the input",
        ),
        ("abort", Status::Crash, "killed by signal 6 (SIGABRT)"),
        ("segfault", Status::Crash, "killed by signal 11 (SIGSEGV)"),
        ("oom", Status::Oom, "(memory limit 512 MiB)"),
        (
            "hang",
            Status::Timeout,
            "ran past the cell time limit of 3s",
        ),
    ];
    for (fault, status, message) in expected {
        let cells = status_of(fault);
        assert_eq!(cells.len(), 2, "{fault}");
        for (got, error) in cells {
            assert_eq!(got, status, "{fault}: {error}");
            assert!(error.contains(message), "{fault}: {error}");
            assert!(!error.is_empty());
        }
    }
    // The cells around the faults ran, and were verified.
    for workload in ["square", "spin"] {
        let cell = results
            .cells
            .iter()
            .find(|c| c.workload == workload)
            .unwrap();
        assert_eq!(cell.status, Status::Ok);
        assert!(cell.verified && cell.samples.len() == 3);
    }
    assert!(results.finished_at.is_some());
}

#[test]
fn a_fault_inside_a_worker_during_a_timed_sample_fails_its_cell_alone() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("worker-faults.toml");
    // No warm-up: the fault strikes task 0's second run in its process, the first timed one.
    let mut text = String::from(
        "name = \"worker-faults\"\nwarmup = 0\nsamples = 3\nprocesses = 1\nmax_processes = 1\n\
         cell_timeout = \"4s\"\nmemory_limit = \"512MiB\"\nstrategies = [\"sequential\"]\n\n\
         [[workload]]\nname = \"square\"\nsizes = [1000]\n",
    );
    const STRATEGIES: [&str; 4] = [
        "threads",
        "process-pool",
        "process-shm",
        "timely[mode=processes]",
    ];
    for fault in ["abort", "segfault", "oom", "hang"] {
        text += &format!(
            "\n[[workload]]\nname = \"risky\"\nparams = {{ fault = \"{fault}\", fault_in = \"task\", \
             error_rate = 0.0, panic_rate = 0.0 }}\nsizes = [1000]\ntasks = [8]\n\
             strategies = {STRATEGIES:?}\nworkers = [2]\n"
        );
    }
    // Two workers holding 300 MiB each, none past its own limit: the tree is, and its largest
    // process is named.
    text += "\n[[workload]]\nname = \"spin\"\nparams = { ns_per_item = 100000000, scratch_mib = 300 }\n\
             sizes = [2]\ntasks = [2]\nstrategies = [\"process-pool\"]\nworkers = [2]\n";
    text += "\n[[workload]]\nname = \"spin\"\nsizes = [1000]\n";
    fs::write(&suite, text).unwrap();
    let out = dir.path().join("out");
    let mark = format!("PARBENCH_TEST_MARK={}", std::process::id());
    let (name, value) = mark.split_once('=').unwrap();
    parbench()
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .arg("--no-profile")
        .env("RUST_BACKTRACE", "0")
        .env(name, value)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\n19 cells, 17 failed"));
    let results = read_results(&out);
    // The worker's death is named with its signal; the limits name what they killed.
    let expected = |fault: &str, strategy: &str| -> (Status, Vec<String>) {
        let in_worker = strategy != "threads";
        match fault {
            "abort" | "segfault" => {
                let signal = if fault == "abort" {
                    "signal 6 (SIGABRT)"
                } else {
                    "signal 11 (SIGSEGV)"
                };
                let mut says = vec![format!("killed by {signal}")];
                if in_worker {
                    says.push(") died".to_owned());
                    says.push(": worker ".to_owned());
                } else {
                    says.push("the cell process ended".to_owned());
                }
                (Status::Crash, says)
            }
            // The process that allocates is refused by its address-space limit: a worker
            // is named as it died, with the allocation it failed.
            "oom" => {
                let mut says = vec![
                    "memory allocation of 67108864 bytes failed (memory limit 512 MiB)".to_owned(),
                ];
                if in_worker {
                    says.push(") died".to_owned());
                    says.push("killed by signal 6 (SIGABRT), after `".to_owned());
                }
                (Status::Oom, says)
            }
            _ => (
                Status::Timeout,
                vec!["ran past the cell time limit of 4s".to_owned()],
            ),
        }
    };
    let mut wrong = Vec::new();
    for fault in ["abort", "segfault", "oom", "hang"] {
        for strategy in STRATEGIES {
            let cell = results.cells.iter().find(|c| {
                c.params.get("fault").and_then(|f| f.as_str()) == Some(fault)
                    && c.id.contains(&format!("/{strategy}/"))
            });
            let Some(cell) = cell else {
                wrong.push(format!("{fault} under {strategy}: no cell"));
                continue;
            };
            let (status, says) = expected(fault, strategy);
            let error = cell.error.clone().unwrap_or_default();
            if cell.status != status || !says.iter().all(|s| error.contains(s.as_str())) {
                wrong.push(format!(
                    "{fault} under {strategy}: {:?}, `{error}`; expected {status:?} saying {says:?}",
                    cell.status
                ));
            }
        }
    }
    let held = results
        .cells
        .iter()
        .find(|c| {
            c.id.starts_with("spin[ns_per_item=100000000,scratch_mib=300]")
        })
        .unwrap();
    let error = held.error.clone().unwrap_or_default();
    if held.status != Status::Oom
        || !error.contains("over the memory limit of 512 MiB; the largest, a worker process (pid ")
    {
        wrong.push(format!(
            "300 MiB on each of two workers: {:?}, `{error}`",
            held.status
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The cells around the faults ran, and were verified.
    for workload in ["square", "spin"] {
        let cell = results
            .cells
            .iter()
            .find(|c| c.workload == workload && c.status == Status::Ok)
            .unwrap();
        assert_eq!(cell.status, Status::Ok);
        assert!(cell.verified && cell.samples.len() == 3);
    }
    // No process the run started is left anywhere, re-parented or not.
    assert_eq!(common::marked(&mark), Vec::<String>::new());
}

#[test]
fn the_peak_memory_of_a_cell_counts_its_worker_processes() {
    let dir = tempfile::tempdir().unwrap();
    // Two tasks of 80 ms on two worker processes, each task holding `scratch_mib` while it runs.
    let entry = |scratch: u64| {
        format!(
            "\n[[workload]]\nname = \"spin\"\nparams = {{ ns_per_item = 80000000, scratch_mib = \
             {scratch} }}\nsizes = [2]\ntasks = [2]\n"
        )
    };
    let text = format!(
        "name = \"memory\"\nstrategies = [\"process-pool\"]\nworkers = [2]\nsamples = 3\n\
         processes = 1\nmax_processes = 1\n{}{}",
        entry(0),
        entry(256)
    );
    let results = run_ok(dir.path(), &text);
    let peaks: Vec<u64> = results
        .cells
        .iter()
        .map(|c| c.peak_rss_bytes.unwrap())
        .collect();
    // Two workers holding 256 MiB each at once: 512 MiB above the same cell without scratch.
    let extra = peaks[1] as f64 - peaks[0] as f64;
    let expected = (512u64 << 20) as f64;
    assert!(
        (extra - expected).abs() <= 0.1 * expected,
        "peaks {peaks:?}: {:.0} MiB more, expected 512",
        extra / f64::from(1 << 20)
    );
}

#[test]
fn claims_checks_the_essays_claims_and_writes_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("claims");
    // The failure policies' cells alone: the claims that read other cells cannot be checked.
    parbench()
        .args(["claims", "--quick", "--filter", "risky", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("\n9 cells, 0 failed"))
        .stdout(predicate::str::contains(
            "9-collect-keeps-the-rest: One failure blows up the whole computation",
        ));
    let results = read_results(&out);
    assert_eq!(results.suite.name, "claims");
    assert_eq!(results.suite.claims.len(), 13);
    // Collect keeps every task but those that failed their first attempt; retry(2) keeps all.
    let kept = |id: &str| {
        let cell = results.cells.iter().find(|c| c.id == id).unwrap();
        assert!(cell.verified, "{id}");
        let failed: Vec<u32> = cell.samples.iter().map(|s| s.failed_tasks).collect();
        (
            cell.policy.clone(),
            failed[0],
            cell.samples[0].fail_stop_ns.is_some(),
        )
    };
    let collect = kept("risky[fail_attempts=1]/size=20000/tasks=64/thread-pool/w2");
    assert_eq!((collect.0.as_str(), collect.2), ("collect", true));
    assert!(collect.1 > 0);
    let retried = kept("risky[fail_attempts=1,policy=retry(2)]/size=20000/tasks=64/thread-pool/w2");
    assert_eq!(retried, ("retry(2)".to_owned(), 0, false));
    let md = fs::read_to_string(out.join("claims.md")).unwrap();
    let verdict = |name: &str| {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| **{name}**")))
            .unwrap_or_else(|| panic!("{name} in {md}"));
        row.split(" | ").nth(1).unwrap().to_owned()
    };
    assert_eq!(verdict("9-collect-keeps-the-rest"), "holds");
    assert!(
        md.contains(&format!("tasks-kept: {} over ", 64 - collect.1)),
        "{md}"
    );
    // Three cells of worker processes, none left anything behind.
    assert_eq!(verdict("11-no-zombies"), "holds");
    assert!(
        md.contains("0 leftover and 0 zombie processes after"),
        "{md}"
    );
    assert_eq!(verdict("2-pool-beats-loop"), "cannot be checked");
    assert!(
        md.contains(
            "no verified cell of square under sequential of size 1000000 on its most workers"
        ),
        "{md}"
    );
    // The evidence of the policies, every one of them, with the time from the first failure.
    assert!(
        md.contains("| cell | tasks-kept | run-time | bytes-moved | first failure to end |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| `risky[fail_attempts=1,policy=retry(2)]/size=20000/tasks=64/process-pool/w2` | 64 |"
        ),
        "{md}"
    );
    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<section id=\"claims\">"));
    assert!(html.contains("<a href=\"folklore-tree.svg\">"));
    assert!(out.join("folklore-tree.svg").exists());
}

#[test]
fn the_filter_selects_cells_by_id() {
    let dir = tempfile::tempdir().unwrap();
    parbench()
        .args(["run", "--quick", "--no-profile"])
        .args(["--filter", "square/size=1000000/tasks=8/"])
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .success()
        // Sequential once, every other strategy on one and two workers.
        .stdout(predicate::str::contains("\n19 cells, 0 failed"));
    parbench()
        .args(["run", "--filter", "no-such-cell", "--out"])
        .arg(dir.path().join("out"))
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
            "{}:5:8: workload[1].name: unknown workload `sqaure`; valid workloads: square, resize, json, http, risky, spin, kmeans",
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

/// `parbench run` of a long suite over `workload` (suite lines) with the process strategies
/// on two workers, started in its own process group as a shell starts a job; returns it once
/// its cell process and that cell's two workers are up, with their pids.
fn start_long_run(
    dir: &std::path::Path,
    strategies: &str,
    workload: &str,
) -> (std::process::Child, Vec<String>) {
    let suite = dir.join("long.toml");
    let text = format!(
        "name = \"long\"\nstrategies = {strategies}\nworkers = [2]\nsamples = 1000\n\
         processes = 1\ntime_budget = \"60s\"\n\n[[workload]]\n{workload}\n"
    );
    fs::write(&suite, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parbench"))
        .arg("run")
        .arg(&suite)
        .arg("--out")
        .arg(dir.join("out"))
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The cell process and its two workers (the preparing process has none).
    if let Some(tree) = wait_for_descendants(child.id(), 3) {
        return (child, tree);
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    panic!(
        "no workers started: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn ctrl_c_mid_run_exits_130_keeps_the_results_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (child, tree) = start_long_run(
        dir.path(),
        r#"["process-shm", "process-pool"]"#,
        "name = \"square\"\nsizes = [200000]\ntasks = [16]",
    );
    let pid = child.id();
    // Mid-run: processes are spawned and segments come and go all the time.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let group = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let output = child.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&output.stderr).contains("interrupted"));
    // The cell process and its workers are gone, not even zombies; so are their segments.
    assert_eq!(leftovers(pid, &tree), Vec::<String>::new());
    // What was written is whole: the results file parses, and no temporary file is left.
    let out = dir.path().join("out");
    let names: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["results.json"]);
    let results = read_results(&out);
    assert_eq!(results.suite.name, "long");
    assert!(results.finished_at.is_none());
}

#[test]
fn an_interrupted_run_keeps_every_finished_round() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("rounds.toml");
    // Short processes and many rounds: the run is interrupted after its first round.
    fs::write(
        &suite,
        "name = \"rounds\"\nstrategies = [\"sequential\", \"threads\", \"process-pool\"]\n\
         workers = [2]\nwarmup = 0\nsamples = 1\nprocesses = 1000\n\n[[workload]]\n\
         name = \"square\"\nsizes = [10000]\ntasks = [4]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_parbench"))
        .args(["run", "--no-profile", "--out"])
        .arg(&out)
        .arg(&suite)
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let finished = |results: &Results| results.rounds.as_ref().map_or(0, |r| r.finished);
    loop {
        let saved = fs::read(out.join("results.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Results>(&bytes).ok());
        if saved.as_ref().is_some_and(|r| finished(r) >= 2) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no round finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let results = read_results(&out);
    let rounds = finished(&results);
    assert!(rounds >= 2, "{rounds}");
    assert_eq!(results.cells.len(), 3);
    for cell in &results.cells {
        // One process a round: every finished round's, numbered, and at most the one under way.
        let processes: Vec<u32> = cell.samples.iter().map(|s| s.process).collect();
        let rounds_seen: Vec<u32> = cell.samples.iter().map(|s| s.round).collect();
        assert_eq!(processes, rounds_seen, "{}", cell.id);
        assert!(
            processes.len() >= rounds && processes.len() <= rounds + 1,
            "{}: {} processes after {rounds} rounds",
            cell.id,
            processes.len()
        );
        assert!(processes
            .iter()
            .enumerate()
            .all(|(i, &p)| p as usize == i + 1));
        assert_eq!(cell.status, Status::Ok);
    }
}

#[test]
fn workers_die_with_a_killed_harness() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, workers) = start_long_run(
        dir.path(),
        r#"["process-pool"]"#,
        "name = \"spin\"\nparams = { ns_per_item = 1000000 }\nsizes = [2000]\ntasks = [2000]",
    );
    // SIGKILL: the harness runs no handler; its cell and the cell's workers, busy in 1 ms
    // tasks, must die anyway.
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for worker in &workers {
        // Gone, or dead and waiting for an init to reap it (a container's init may never).
        // The cell holds the workers' parent-death signal; the cell itself has none and must
        // notice the harness is gone.
        while !matches!(state_of(worker), None | Some('Z')) {
            assert!(
                std::time::Instant::now() < deadline,
                "worker {worker} outlived the harness"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

#[test]
fn a_budget_that_cannot_hold_the_minimum_rounds_cuts_them_and_holds() {
    // Five cells of `spin` at 100 ms a sequential run: a warm-up and 3 samples in each of 6
    // processes is about 24 s of measuring; the budget is 20 s, of which probing the machine
    // takes a few.
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tight.toml");
    fs::write(
        &suite,
        r#"
name = "tight"
strategies = ["sequential", "threads", "rayon"]
workers = [1, 2]
warmup = 1
samples = 3
processes = 6
time_budget = "60s"
budget = "20s"

[[workload]]
name = "spin"
params = { ns_per_item = 100000 }
sizes = [1000]
tasks = [8]
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = parbench()
        .args(["run", "--no-profile"])
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "left) cannot hold 6 processes of 3 samples for each of 5 cells (by the inputs' \
             sequential run times): ",
        ));
    let stdout = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    let results = read_results(&out);
    let rounds = results.rounds.as_ref().unwrap();
    // What it cut is in the results too, and every cell was measured.
    assert!(
        rounds.samples_per_process < 3 || rounds.min_processes < 6,
        "{rounds:?}"
    );
    assert!(rounds.min_processes >= 2, "{rounds:?}");
    assert_eq!(results.cells.len(), 5);
    for cell in &results.cells {
        assert_eq!(cell.status, Status::Ok, "{}", cell.id);
        assert!(cell.wall.is_some(), "{}", cell.id);
    }
    // The run's own clock: within the budget and a tenth.
    let elapsed: f64 = stdout
        .split(" · in ")
        .nth(1)
        .and_then(|rest| rest.split(" s").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no elapsed time in {stdout}"));
    assert!(elapsed <= 22.0, "{elapsed} s\n{stdout}");
}

/// A results directory holding the reports' fixture run.
fn fixture_results() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reports/tests/fixtures/results.json"
    );
    fs::copy(fixture, dir.path().join("results.json")).unwrap();
    dir
}

#[test]
fn export_writes_each_cells_figures_for_a_dashboard() {
    let dir = fixture_results();
    let results = read_results(dir.path());
    let measured: Vec<_> = results
        .cells
        .iter()
        .filter(|c| c.wall.is_some() && c.verified)
        .collect();
    assert!(!measured.is_empty());
    let export = |format: &str| -> serde_json::Value {
        let out = parbench()
            .args(["export", "--format", format])
            .arg(dir.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    };
    // bencher's metric format: each measured cell by id, its latency the median run time
    // within its interval.
    let bencher = export("bencher");
    assert!(bencher_metric_format(&bencher).is_ok(), "{bencher}");
    for cell in &measured {
        let wall = cell.wall.as_ref().unwrap();
        let latency = &bencher[cell.id.as_str()]["latency"];
        assert_eq!(
            latency["value"].as_f64(),
            Some(wall.median_ns),
            "{}",
            cell.id
        );
        assert_eq!(latency["lower_value"].as_f64(), Some(wall.ci_low_ns));
        assert_eq!(latency["upper_value"].as_f64(), Some(wall.ci_high_ns));
    }
    // github-action-benchmark's `customSmallerIsBetter`: one entry per cell and figure.
    let action = export("github-action-benchmark");
    let entries = action.as_array().unwrap();
    for cell in &measured {
        let name = format!("{} latency", cell.id);
        let entry = entries
            .iter()
            .find(|e| e["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(entry["unit"], "ns");
        assert_eq!(
            entry["value"].as_f64(),
            cell.wall.as_ref().map(|w| w.median_ns)
        );
    }
    // To a file, the same bytes.
    let file = dir.path().join("bencher.json");
    parbench()
        .args(["export", "--format", "bencher", "--out"])
        .arg(&file)
        .arg(dir.path())
        .assert()
        .success();
    let written: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, bencher);
    // Bad input: a clear error and exit code 2.
    parbench()
        .args(["export", "--format", "nope"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr("error: unknown format `nope`; the formats are bencher, github-action-benchmark\n");
    let missing = dir.path().join("nothing");
    parbench()
        .args(["export", "--format", "bencher"])
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(format!(
            "error: {}: No such file or directory (os error 2)\n",
            missing.display()
        ));
}

#[test]
fn usage_errors_say_what_is_wrong_with_exit_code_2() {
    let dir = fixture_results();
    // An error rate outside (0, 1), before anything is read or run.
    for alpha in ["1.5", "0"] {
        parbench()
            .args(["compare", "--alpha", alpha])
            .arg(dir.path())
            .arg(dir.path())
            .assert()
            .code(2)
            .stderr(format!(
                "error: --alpha {alpha}: must lie between 0 and 1 (0.05 is 5%)\n"
            ));
    }
    // One base build at a time.
    parbench()
        .args(["compare", "--base-bin", "a", "--base-bin", "b"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: the argument '--base-bin <BINARY>' cannot be used multiple times\n",
        ));
    // A profile scope that does not exist lists those that do.
    parbench()
        .args(["run", "--profile", "bogus"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: invalid value 'bogus' for '--profile <WHICH>': `bogus` is not a profile \
             scope; valid: focus, all, none\n",
        ));
    // An output directory that cannot be made: under a file.
    let blocked = dir.path().join("results.json").join("out");
    parbench()
        .args(["run", "--quick", "--filter", "square/"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/suites/gate.toml"))
        .arg("--out")
        .arg(&blocked)
        .assert()
        .code(2)
        .stderr(format!(
            "error: cannot create the output directory {}: Not a directory (os error 20)\n",
            blocked.display()
        ));
}

#[test]
fn many_workers_start_verify_and_leave_within_the_machines_limits() {
    // 32 and 64 workers on a machine of a few cores: oversubscribed, which is fine — the
    // question is whether every strategy starts them, verifies and tears them down.
    const STRATEGIES: [&str; 9] = [
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
    let dir = tempfile::tempdir().unwrap();
    let suite = |strategies: &[&str], workers: &str| {
        format!(
            "name = \"many\"\nwarmup = 0\nsamples = 1\nprocesses = 1\nmax_processes = 1\n\
             cell_timeout = \"120s\"\nstrategies = {strategies:?}\nworkers = {workers}\n\n\
             [[workload]]\nname = \"spin\"\nparams = {{ ns_per_item = 1000 }}\nsizes = [512]\n\
             tasks = [128]\n"
        )
    };
    let mark = format!("PARBENCH_TEST_MARK=many-{}", std::process::id());
    let (name, value) = mark.split_once('=').unwrap();
    let path = dir.path().join("many.toml");
    fs::write(&path, suite(&STRATEGIES, "[32, 64]")).unwrap();
    let out = dir.path().join("many");
    parbench()
        .args(["run", "--no-profile", "--out"])
        .arg(&out)
        .arg(&path)
        .env(name, value)
        .timeout(std::time::Duration::from_secs(600))
        .assert()
        .success()
        .stdout(predicate::str::contains("\n18 cells, 0 failed"));
    let results = read_results(&out);
    let mut table = String::new();
    for cell in &results.cells {
        assert!(cell.verified, "{}: {:?}", cell.id, cell.error);
        let held = cell
            .resources
            .unwrap_or_else(|| panic!("{}: no resources", cell.id));
        let workers = cell.workers as u32;
        let in_processes = cell.strategy.starts_with("process")
            || cell.strategy_params.get("mode").and_then(|m| m.as_str()) == Some("processes");
        if in_processes {
            // The cell process and a process per worker, each with a thread at least.
            assert!(held.processes > workers, "{}: {held:?}", cell.id);
        } else if cell.strategy != "threads" {
            // A pool holds its threads between runs (`threads` starts them in each run).
            assert!(held.threads >= workers, "{}: {held:?}", cell.id);
        }
        table += &format!(
            "{}: {} processes, {} threads, {} descriptors\n",
            cell.id, held.processes, held.threads, held.descriptors
        );
    }
    // The note's figures: `cargo test --test cli many_workers -- --nocapture`.
    println!("{table}");
    // The run exported for bencher: its metric format, a benchmark per verified cell.
    let exported = parbench()
        .args(["export", "--format", "bencher"])
        .arg(&out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let exported: serde_json::Value = serde_json::from_slice(&exported).unwrap();
    assert_eq!(bencher_metric_format(&exported), Ok(results.cells.len()));
    assert_eq!(common::marked(&mark), Vec::<String>::new());

    // Open files capped at 100: 64 workers' pipes do not fit. The cell fails naming the
    // limit, at once rather than hanging, and the run goes on to the next cell.
    let path = dir.path().join("capped.toml");
    fs::write(&path, suite(&["process-pool", "threads"], "[64]")).unwrap();
    let capped = dir.path().join("capped");
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("parbench"));
    command
        .args(["run", "--no-profile", "--out"])
        .arg(&capped)
        .arg(&path)
        .env(name, value);
    // SAFETY: only a system call between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = rustix::process::Rlimit {
                current: Some(100),
                maximum: Some(100),
            };
            rustix::process::setrlimit(rustix::process::Resource::Nofile, limit)
                .map_err(std::io::Error::from)
        });
    }
    Command::from_std(command)
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\n2 cells, 1 failed"));
    let results = read_results(&capped);
    let pool = results
        .cells
        .iter()
        .find(|c| c.strategy == "process-pool")
        .unwrap();
    let error = pool.error.clone().unwrap_or_default();
    assert_eq!(pool.status, Status::Failed, "{error}");
    assert!(
        error.contains("Too many open files (os error 24)")
            && error.contains("a process may hold 100 open files here: RLIMIT_NOFILE"),
        "{error}"
    );
    assert!(results
        .cells
        .iter()
        .any(|c| c.strategy == "threads" && c.verified));
    assert_eq!(common::marked(&mark), Vec::<String>::new());
}

/// Checks `value` against bencher's metric format — `{benchmark: {measure: {value,
/// lower_value?, upper_value?}}}`, every value a number, `lower_value <= value <= upper_value`
/// — and returns how many benchmarks it holds.
fn bencher_metric_format(value: &serde_json::Value) -> Result<usize, String> {
    let benchmarks = value.as_object().ok_or("not an object of benchmarks")?;
    for (name, measures) in benchmarks {
        let measures = measures
            .as_object()
            .ok_or(format!("{name}: not an object of measures"))?;
        for (measure, metric) in measures {
            let metric = metric
                .as_object()
                .ok_or(format!("{name}/{measure}: not a metric"))?;
            if let Some(key) = metric
                .keys()
                .find(|k| !["value", "lower_value", "upper_value"].contains(&k.as_str()))
            {
                return Err(format!("{name}/{measure}: unknown key `{key}`"));
            }
            let number = |key: &str| metric.get(key).map(|v| v.as_f64().ok_or(key.to_owned()));
            let value = number("value")
                .ok_or(format!("{name}/{measure}: no value"))?
                .map_err(|k| format!("{name}/{measure}: {k} is not a number"))?;
            let low = number("lower_value")
                .transpose()
                .map_err(|k| format!("{name}: {k}"))?;
            let high = number("upper_value")
                .transpose()
                .map_err(|k| format!("{name}: {k}"))?;
            if low.is_some_and(|l| l > value) || high.is_some_and(|h| h < value) {
                return Err(format!(
                    "{name}/{measure}: {value} outside [{low:?}, {high:?}]"
                ));
            }
        }
    }
    Ok(benchmarks.len())
}
