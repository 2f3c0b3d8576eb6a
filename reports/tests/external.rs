//! The tests that need a program from outside the workspace: `report.html` and `compare.html`
//! in a real browser (Debian's `chromium`, headless, driven over the DevTools protocol on a
//! pipe), and the decision tree's DOT drawn by Graphviz's `dot`. Each page opens from
//! `file://` with no console error and no request beyond itself, names every cell and draws
//! every chart; the report does not screenshot blank.
//!
//! Without the program, its tests are reported as ignored, the reason in brackets before the
//! name (`test [no chromium on PATH] the_report_renders… ... ignored`), unless
//! `PARBENCH_REQUIRE_BROWSER` or `PARBENCH_REQUIRE_GRAPHVIZ` is set (as CI sets them after
//! installing both): then they run and fail. The binary has its own `main`
//! (`libtest-mimic`), so that a test can be ignored by what the machine has.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine;
use libtest_mimic::Trial;
use parbench_reports::write_all;
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(60);

mod known;

use known::{fixture, known_answer};

/// The first of Debian's and other distributions' names for the browser on `PATH`.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Graphviz's `dot`, when it runs.
fn graphviz() -> Option<&'static str> {
    Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some("dot")
}

/// A program some tests need: found, or why they are ignored, or (when `required`, the
/// environment variable that says it must be there, is set) a failure.
struct Needed {
    found: Option<&'static str>,
    missing: &'static str,
    required: &'static str,
}

impl Needed {
    /// `test` as a trial named `name`, run with the program, or ignored without it.
    fn trial(&self, name: &str, test: fn(&'static str)) -> Trial {
        let required = std::env::var_os(self.required).is_some();
        let (found, missing, variable) = (self.found, self.missing, self.required);
        let trial = Trial::test(name, move || match found {
            Some(program) => {
                test(program);
                Ok(())
            }
            None => Err(format!("{variable} is set but there is {missing}").into()),
        });
        if found.is_none() && !required {
            trial.with_kind(missing).with_ignored_flag(true)
        } else {
            trial
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let browser = Needed {
        found: chromium(),
        missing: "no chromium on PATH",
        required: "PARBENCH_REQUIRE_BROWSER",
    };
    let graphviz = Needed {
        found: graphviz(),
        missing: "no Graphviz dot on PATH",
        required: "PARBENCH_REQUIRE_GRAPHVIZ",
    };
    let trials = vec![
        browser.trial(
            "the_report_renders_in_a_real_browser_without_errors_or_requests",
            the_report_renders_in_a_real_browser_without_errors_or_requests,
        ),
        browser.trial(
            "the_comparison_renders_in_a_real_browser_without_errors_or_requests",
            the_comparison_renders_in_a_real_browser_without_errors_or_requests,
        ),
        browser.trial(
            "the_decision_trees_are_drawn_in_a_real_browser_with_their_labels",
            the_decision_trees_are_drawn_in_a_real_browser_with_their_labels,
        ),
        browser.trial(
            "the_history_page_draws_every_series_that_moved_with_its_change_points",
            the_history_page_draws_every_series_that_moved_with_its_change_points,
        ),
        graphviz.trial(
            "the_dot_output_parses_with_graphviz",
            the_dot_output_parses_with_graphviz,
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// A headless browser spoken to over `--remote-debugging-pipe`: commands on its fd 3,
/// replies and events on its fd 4, each message JSON ended by a NUL byte.
struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Events that arrived while waiting for replies.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(binary: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        // The shell hands our pipes to the browser as fds 3 and 4: no unsafe `pre_exec`.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec {binary} --headless --no-sandbox --disable-gpu \
                 --disable-background-networking --disable-extensions --no-first-run \
                 --disable-sync --disable-component-update --remote-debugging-pipe \
                 --window-size=1280,900 --user-data-dir=\"$0\" 3<&0 4>&1 0</dev/null 1>&2"
            ))
            .arg(profile.path())
            // Its singleton socket's directory goes under the profile, which is removed with
            // it: killed, the browser cannot remove that directory from /tmp itself.
            .env("TMPDIR", profile.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let commands = child.stdin.take().unwrap();
        let replies = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(replies);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop();
                if let Ok(value) = serde_json::from_slice(&message) {
                    if tx.send(value).is_err() {
                        return;
                    }
                }
                message.clear();
            }
        });
        Browser {
            child,
            commands,
            messages,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command (to a page when `session` is given) and waits for its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        let reply = self.wait_for(|m| m["id"] == id);
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// Waits for the first message that `wanted` accepts, keeping the events before it.
    fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(message) => {
                    if message.get("method").is_some() {
                        self.events.push(message);
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!("the browser did not answer in time"),
                Err(RecvTimeoutError::Disconnected) => panic!("the browser exited"),
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the page says about itself, from inside.
const INSPECT: &str = r#"JSON.stringify({
  text: document.documentElement.textContent,
  title: document.title,
  svgs: Array.from(document.querySelectorAll('svg')).map(svg => {
    const box = svg.getBoundingClientRect();
    const texts = Array.from(svg.querySelectorAll('text'));
    return {
      class: svg.getAttribute('class'),
      shapes: svg.querySelectorAll('rect, path, polyline, polygon, circle, line').length,
      texts: texts.length,
      width: box.width,
      height: box.height,
      // The trees' labels, and how many are drawn past the chart's edge.
      labels: svg.classList.contains('tree') ? texts.map(t => t.textContent) : [],
      outside: texts.filter(t => {
        const b = t.getBoundingClientRect();
        return b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1;
      }).length,
    };
  }),
  figures: document.querySelectorAll('figure').length,
  // The history page's change points, series and grid.
  changes: Array.from(document.querySelectorAll('li.change')).map(li => ({
    commit: li.dataset.commit,
    text: li.textContent,
    cell: li.closest('figure').dataset.cell,
  })),
  series: Array.from(document.querySelectorAll('figure.series')).map(f => ({
    cell: f.dataset.cell,
    words: Array.from(f.querySelectorAll('svg text')).map(t => t.textContent),
  })),
  moved: Array.from(document.querySelectorAll('table.moved td[data-cell]')).map(td => td.dataset.cell),
  winners: Array.from(document.querySelectorAll('table.winners td[data-winner]')).map(td => ({
    winner: td.dataset.winner,
    tie: td.classList.contains('tie'),
    text: td.textContent,
  })),
  width: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight,
})"#;

/// Opens `page` and returns what it says about itself, every event seen, and a screenshot of
/// the top of the page.
fn open(binary: &str, page: &Path) -> (Value, Vec<Value>, Vec<u8>) {
    let mut browser = Browser::launch(binary);
    let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let session = Some(session.as_str());
    for domain in ["Page", "Runtime", "Log", "Network"] {
        browser.call(session, &format!("{domain}.enable"), json!({}));
    }
    let url = format!("file://{}", page.display());
    browser.call(session, "Page.navigate", json!({ "url": url }));
    browser.wait_for(|m| m["method"] == "Page.loadEventFired");
    let inspected = browser.call(
        session,
        "Runtime.evaluate",
        json!({ "expression": INSPECT, "returnByValue": true }),
    );
    let facts: Value =
        serde_json::from_str(inspected["result"]["value"].as_str().unwrap()).unwrap();
    let shot = browser.call(
        session,
        "Page.captureScreenshot",
        json!({ "format": "png", "clip": { "x": 0, "y": 0, "width": 1280, "height": 2400, "scale": 1 },
                "captureBeyondViewport": true }),
    );
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let events = std::mem::take(&mut browser.events);
    (facts, events, png)
}

/// No console error, no uncaught exception, no log entry of level error, and no request but
/// the page's own.
fn no_error_and_no_request(events: &[Value], page: &Path) {
    let errors: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["method"] == "Runtime.exceptionThrown"
                || (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let url = format!("file://{}", page.display());
    let requests: Vec<&str> = events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str())
        .collect();
    assert_eq!(requests, [url.as_str()], "requests beyond the page");
}

fn the_report_renders_in_a_real_browser_without_errors_or_requests(binary: &'static str) {
    let mut results = fixture();
    // The canary's readings through the run, with a spell of five disturbed ones.
    results.canary = (0..60u64)
        .map(|i| parbench_reports::CanaryReading {
            at_ns: i * 100_000_000,
            compute_ns: 200_000 + (i % 7) * 1_000,
            copy_ns: if (30..35).contains(&i) {
                2_500_000
            } else {
                1_000_000
            },
            foreign_share: 0.0,
            disturbed: (30..35).contains(&i),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &results).unwrap();
    let page = dir.path().join("report.html");
    let (facts, events, png) = open(binary, &page);

    no_error_and_no_request(&events, &page);
    let text = facts["text"].as_str().unwrap();
    assert!(text.contains("The machine through the run"));
    assert!(text.contains("60 readings, 5 disturbed (8.3%: from 3.0 s to 3.4 s into the run)"));

    // Every cell named, every workload with its verdict.
    for cell in &results.cells {
        assert!(text.contains(&cell.id), "{} is not in the page", cell.id);
    }
    assert_eq!(
        text.matches("Fastest: ").count(),
        2,
        "two workloads ran well"
    );
    assert!(text.contains("No cell of this workload ran well."));
    assert!(facts["title"].as_str().unwrap().contains("fixture"));
    // The profiles side by side, with their real sample counts.
    assert_eq!(
        text.matches("Profiles").count(),
        2,
        "a side-by-side per workload that ran"
    );
    let profiled = results
        .cells
        .iter()
        .filter_map(|c| c.profile.as_ref())
        .find(|p| p.samples > 0)
        .unwrap();
    assert!(text.contains(&format!("{} samples", profiled.samples)));

    // Every chart drawn: shapes, labels and a size on screen.
    let svgs = facts["svgs"].as_array().unwrap();
    assert!(svgs.len() >= 20, "{} charts", svgs.len());
    for (i, svg) in svgs.iter().enumerate() {
        assert!(
            svg["shapes"].as_u64().unwrap() >= 3,
            "chart {i} is empty: {svg}"
        );
        assert!(
            svg["texts"].as_u64().unwrap() >= 2,
            "chart {i} has no labels: {svg}"
        );
        assert!(
            svg["width"].as_f64().unwrap() > 200.0 && svg["height"].as_f64().unwrap() > 80.0,
            "chart {i} is not visible: {svg}"
        );
    }
    // Readable on a laptop: nothing wider than the window.
    assert!(facts["width"].as_f64().unwrap() <= 1280.0, "{facts}");

    // The screenshot is a picture, not a blank page.
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 2400));
    let channels = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    for pixel in pixels.chunks(channels) {
        colours.insert(pixel[..3].to_vec());
        if pixel[..3].iter().any(|&c| c < 200) {
            inked += 1;
        }
    }
    let share = inked as f64 / (pixels.len() / channels) as f64;
    assert!(colours.len() > 50, "{} colours", colours.len());
    assert!(
        share > 0.02,
        "only {:.1}% of the screenshot is drawn",
        100.0 * share
    );
}

fn the_comparison_renders_in_a_real_browser_without_errors_or_requests(binary: &'static str) {
    let base = fixture();
    let mut new = fixture();
    // A new build whose first cell runs half as long again.
    for sample in &mut new.cells[0].samples {
        sample.run_ns = sample.run_ns * 3 / 2;
    }
    let comparison = parbench_reports::compare::compare(
        &base,
        &new,
        &parbench_reports::compare::Options::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("compare.html");
    std::fs::write(&page, parbench_reports::compare::html(&comparison).unwrap()).unwrap();
    let (facts, events, _) = open(binary, &page);
    no_error_and_no_request(&events, &page);
    // Every compared cell named in the table; a forest plot per metric, a row per cell.
    let text = facts["text"].as_str().unwrap();
    for cell in &new.cells {
        assert!(text.contains(&cell.id), "{} is not in the page", cell.id);
    }
    let measured = comparison
        .rows
        .iter()
        .filter(|r| r.metric == parbench_reports::compare::Metric::Run && r.change.is_some())
        .count() as u64;
    let svgs = facts["svgs"].as_array().unwrap();
    assert_eq!(svgs.len(), 5, "{facts}");
    for (i, svg) in svgs.iter().enumerate() {
        // An interval, two ends and a dot per row, the band and the zero line.
        assert!(
            svg["shapes"].as_u64().unwrap() >= 4 * measured,
            "chart {i}: {svg}"
        );
        assert!(
            svg["width"].as_f64().unwrap() > 600.0 && svg["height"].as_f64().unwrap() > 200.0,
            "chart {i} is not visible: {svg}"
        );
    }
    assert!(facts["width"].as_f64().unwrap() <= 1280.0, "{facts}");
}

fn the_decision_trees_are_drawn_in_a_real_browser_with_their_labels(binary: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &known_answer()).unwrap();
    let page = dir.path().join("report.html");
    let (facts, events, _) = open(binary, &page);
    no_error_and_no_request(&events, &page);
    let text = facts["text"].as_str().unwrap();
    assert!(text.contains("Which strategy for which work"));
    assert!(
        text.contains("each workload left out and predicted by the tree of the others: 36 of 36")
    );
    let trees: Vec<&Value> = facts["svgs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|svg| svg["class"] == "tree")
        .collect();
    assert_eq!(trees.len(), 2, "the learned tree and the folklore tree");
    let labels = |svg: &Value| -> Vec<String> {
        svg["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect()
    };
    let learned = labels(trees[0]);
    for label in [
        "CPU per task ≥ 31.62 µs?",
        "no",
        "yes",
        "sequential",
        "15 buckets, 15 right",
        "rayon",
        "21 buckets, 21 right",
        "ahead of rayon by 1.80x (1.75x–1.85x)",
    ] {
        assert!(
            learned.iter().any(|l| l == label),
            "{label:?} not in {learned:?}"
        );
    }
    let folklore = labels(trees[1]);
    assert!(folklore.iter().any(|l| l == "contradicted"), "{folklore:?}");
    assert!(
        folklore
            .iter()
            .any(|l| l == "→ processes with shared memory"),
        "{folklore:?}"
    );
    for tree in trees {
        assert_eq!(tree["outside"], 0, "labels drawn past the chart: {tree}");
        assert!(
            tree["width"].as_f64().unwrap() > 300.0 && tree["height"].as_f64().unwrap() > 100.0
        );
    }
}

fn the_history_page_draws_every_series_that_moved_with_its_change_points(binary: &'static str) {
    use parbench_reports::compare::Metric;
    use parbench_reports::history::changes::Detector;
    use parbench_reports::history::store::{Commit, Point, Provenance, Run, SeriesKey};
    use parbench_reports::history::{findings_of, html, Judged, Trend};
    use parbench_reports::Thresholds;

    let commits: Vec<String> = (0..14)
        .map(|i| format!("{i:02}{}", "ab".repeat(19)))
        .collect();
    let runs: Vec<Run> = commits
        .iter()
        .enumerate()
        .map(|(i, hash)| Run {
            id: i as i64 + 1,
            provenance: Provenance {
                source: "backfill".into(),
                commit: Some(Commit {
                    hash: hash.clone(),
                    parent: None,
                    subject: format!("change {i}"),
                    time: 1_800_000_000 + 3600 * i as i64,
                    dirty: false,
                }),
                branch: Some("main".into()),
                results_dir: None,
                recorded_at: 1_800_000_000 + 3600 * i as i64,
            },
            machine: "test machine".into(),
            kernel: "6.1".into(),
            suite: "gate".into(),
            gate: None,
            suite_hash: "0".into(),
        })
        .collect();
    // rayon 10% slower from commit 7 on; threads 20% faster from commit 5; sequential flat.
    let cells = [
        ("square/size=1000/tasks=8/rayon/w2", 7, 1.10),
        ("square/size=1000/tasks=8/threads/w2", 5, 0.80),
        ("square/size=1000/tasks=8/sequential/w1", 0, 1.0),
    ];
    let mut series = std::collections::BTreeMap::new();
    let mut findings = Vec::new();
    let detector = Detector::default();
    let thresholds = Thresholds::default();
    let judged = Judged {
        detector: &detector,
        thresholds: &thresholds,
    };
    for (cell, from, factor) in cells {
        let key = SeriesKey {
            suite: "gate".into(),
            cell: cell.into(),
            metric: "run".into(),
        };
        let points: Vec<Point> = runs
            .iter()
            .enumerate()
            .map(|(i, run)| {
                let wobble = [1.0, 1.004, 0.997, 1.002][i % 4];
                let value = 1e6 * wobble * if i >= from { factor } else { 1.0 };
                Point {
                    run: run.id,
                    commit: Some(commits[i].clone()),
                    subject: None,
                    dirty: false,
                    time: run.provenance.recorded_at,
                    value,
                    interval: Some((value * 0.98, value * 1.02)),
                    units: vec![value],
                }
            })
            .collect();
        findings.extend(findings_of(
            "test machine",
            &key,
            Metric::Run,
            &points,
            &judged,
        ));
        series.insert(key, points);
    }
    assert_eq!(findings.len(), 2, "{findings:?}");
    let trend = Trend {
        machine: "test machine".into(),
        runs,
        series,
        findings,
        thresholds: [("gate".to_owned(), thresholds)].into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("history.html");
    std::fs::write(&page, html(&[trend]).unwrap()).unwrap();
    let (facts, events, _) = open(binary, &page);
    no_error_and_no_request(&events, &page);
    let text = facts["text"].as_str().unwrap();
    assert!(text.contains("1 regression(s) stand at the head"), "{text}");
    assert!(text.contains("Which strategy won"));

    // Both series that moved drawn, each chart visible with its change point's label on it.
    let drawn: Vec<(&str, Vec<&str>)> = facts["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let words = f["words"].as_array().unwrap();
            (
                f["cell"].as_str().unwrap(),
                words.iter().map(|w| w.as_str().unwrap().trim()).collect(),
            )
        })
        .collect();
    let names: Vec<&str> = drawn.iter().map(|d| d.0).collect();
    assert_eq!(names, [cells[0].0, cells[1].0], "{facts}");
    assert!(
        drawn[0].1.iter().any(|w| w.starts_with("+10.")),
        "{drawn:?}"
    );
    assert!(
        drawn[1].1.iter().any(|w| w.starts_with("-20.")),
        "{drawn:?}"
    );
    for svg in facts["svgs"].as_array().unwrap() {
        assert!(
            svg["width"].as_f64().unwrap() > 300.0 && svg["shapes"].as_u64().unwrap() > 14,
            "{svg}"
        );
    }

    // The change points' labels, read back: at the commits the steps were put.
    let changes = facts["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{facts}");
    let rayon = changes.iter().find(|c| c["cell"] == cells[0].0).unwrap();
    assert_eq!(rayon["commit"], commits[7].as_str());
    let words = rayon["text"].as_str().unwrap();
    assert!(words.starts_with(&format!("{}..{}: ", &commits[6][..10], &commits[7][..10])));
    assert!(
        words.contains("(+10.") && words.contains("regression at the head"),
        "{words}"
    );
    let threads = changes.iter().find(|c| c["cell"] == cells[1].0).unwrap();
    assert_eq!(threads["commit"], commits[5].as_str());
    let words = threads["text"].as_str().unwrap();
    assert!(
        words.contains("(-20.") && words.contains("improvement"),
        "{words}"
    );
    let moved: Vec<&str> = facts["moved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(moved, [cells[0].0, cells[1].0]);
    // The winner of each run: a tie while the three read alike, then threads, 25% ahead.
    let winners = facts["winners"].as_array().unwrap();
    assert_eq!(winners.len(), 14, "{facts}");
    for (i, w) in winners.iter().enumerate() {
        if i < 5 {
            assert_eq!(w["tie"], true, "run {i}: {w}");
        } else {
            assert_eq!(w["winner"], "threads/w2", "run {i}: {w}");
            assert!(
                w["text"].as_str().unwrap().ends_with("threads +25%"),
                "run {i}: {w}"
            );
        }
    }
    assert!(facts["width"].as_f64().unwrap() <= 1280.0, "{facts}");
}

fn the_dot_output_parses_with_graphviz(dot_binary: &'static str) {
    use parbench_reports::decide::{cases, dot, learn, Options};
    let tree = learn(&cases(&known_answer()), &Options::default()).unwrap();
    let mut dot_process = Command::new(dot_binary)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    dot_process
        .stdin
        .take()
        .unwrap()
        .write_all(dot(&tree).as_bytes())
        .unwrap();
    let output = dot_process.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "{stderr}");
    let drawn = String::from_utf8_lossy(&output.stdout);
    // Three nodes and two edges, with their labels.
    assert_eq!(drawn.matches("class=\"node\"").count(), 3, "{drawn}");
    assert_eq!(drawn.matches("class=\"edge\"").count(), 2, "{drawn}");
    assert!(drawn.contains("CPU per task ≥ 31.62 µs?"), "{drawn}");
}
