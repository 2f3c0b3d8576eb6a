//! What a run prints — a header, a line per round (under a progress bar on a terminal) and
//! one per failed cell, a summary table per workload, the noise floor and the files written — as
//! an [`Observer`] of the run.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use parbench_reports::figures::{noise_floor, Figures};
use parbench_reports::format::{bytes, duration};
use parbench_reports::view::visit_summary;
use parbench_reports::{flame, Cell, Efficiency, Results, RoundStats, Stats, Status};

use crate::cell::protocol::Sampling;
use crate::observer::{Observer, Pass, PassSummary, Plan, Progress, RunSummary};
use crate::options::ProfileScope;

fn header(results: &Results, cells: usize, out: &Path, sampling: &Sampling, scope: ProfileScope) {
    let m = &results.machine;
    println!(
        "parbench {} · suite `{}` · {} cells · seed {} · policy {}",
        results.parbench_version,
        results.suite.name,
        cells,
        results.suite.seed,
        results.suite.policy
    );
    println!(
        "machine: {} · {} logical cores · {} · {}",
        m.cpu_model,
        m.logical_cores,
        bytes(m.memory_bytes),
        m.os
    );
    if let Some(l) = &m.limits {
        println!(
            "limits: copy {:.1} GB/s on one thread, {:.1} GB/s on {} · compute ceiling {:.2}x on {} threads{}",
            l.copy_one_bytes_per_s / 1e9,
            l.copy_all_bytes_per_s / 1e9,
            l.threads,
            l.alu_speedup,
            l.threads,
            l.pipe_round_trip_ns.map_or(String::new(), |ns| format!(
                " · pipe round trip {}",
                duration(ns)
            ))
        );
    }
    if results.pairing.is_some() {
        println!(
            "sampling: paired, every cell in {} rounds, each a process of the base build and one \
             of this build back to back (their order turning) of {} sample{}; up to {} rounds for \
             the cells still too noisy to tell{}; the cells they flag, as many rounds again · \
             flame graphs: none",
            sampling.processes,
            sampling.samples,
            if sampling.samples == 1 { "" } else { "s" },
            sampling.max_processes,
            sampling.budget.map_or(String::new(), |b| format!(
                " within {}",
                humantime::format_duration(b)
            )),
        );
        println!("results: {}\n", out.join("results.json").display());
        return;
    }
    println!(
        "sampling: every cell in {} process{} of {} sample{} (rounds in a shuffled order), more \
         for the close contests and the cells wider than ±{}%{} · flame graphs: {}",
        sampling.processes,
        if sampling.processes == 1 { "" } else { "es" },
        sampling.samples,
        if sampling.samples == 1 { "" } else { "s" },
        100.0 * sampling.ci_target,
        sampling.budget.map_or(String::new(), |b| format!(
            ", the rest of {} spread over every cell",
            humantime::format_duration(b)
        )),
        match scope {
            ProfileScope::Focus => "each strategy at each workload's focus",
            ProfileScope::All => "every cell",
            ProfileScope::None => "none",
        }
    );
    println!("results: {}\n", out.join("results.json").display());
}

/// `±   1.2%` (eight characters up to ±999.9%): the larger distance from the median to an end of its 95% confidence interval
/// (marked `*` when it covers less than 95%: too few samples in one process).
fn ci(wall: &Stats) -> String {
    let short = if wall.ci_level < crate::stats::CONFIDENCE {
        "*"
    } else {
        ""
    };
    format!("±{:>6.1}%{short}", 100.0 * wall.relative_half_width())
}

/// The cell's noise floor, `5.1%`, or `-` from one process.
fn mde(wall: &Stats) -> String {
    wall.mde
        .map_or("-".to_owned(), |mde| format!("{:.1}%", 100.0 * mde))
}

/// The line of a cell that failed: its id, status and error.
fn failure_line(cell: &Cell) -> String {
    format!(
        "{}  {}: {}",
        cell.id,
        match cell.status {
            Status::Ok => "FAILED".to_owned(),
            status => status.as_str().to_uppercase(),
        },
        cell.error.as_deref().unwrap_or("no sample")
    )
}

/// `round 2 of 3`, `round 4`, `profiles`.
fn pass_name(pass: Pass, rounds: usize) -> String {
    match pass {
        Pass::Round(round) if round <= rounds => format!("round {round} of {rounds}"),
        Pass::Round(round) => format!("round {round}"),
        Pass::Profiles => "profiles".to_owned(),
    }
}

/// The line of a finished pass.
fn pass_line(summary: &PassSummary, rounds: usize, ci_target: f64) -> String {
    let name = pass_name(summary.pass, rounds);
    let elapsed = summary.elapsed.as_secs_f64();
    match summary.pass {
        Pass::Profiles => format!("{name}: {} cells in {elapsed:.1} s", summary.processes),
        Pass::Round(_) => format!(
            "{name}: {} cells in {elapsed:.1} s · {} of {} within ±{}%{}",
            summary.processes,
            summary.converged,
            summary.cells,
            100.0 * ci_target,
            summary.median_width.map_or(String::new(), |w| format!(
                " · median interval ±{:.1}%",
                100.0 * w
            )),
        ),
    }
}

/// The terminal's observer: on a terminal, a bar with the cell being measured and an estimate
/// of the time left, the finished cells' lines scrolling above it; elsewhere (a CI log, a
/// pipe) just the lines. At the end, the tables and the files written.
#[derive(Default)]
pub(crate) struct Terminal {
    bar: Option<ProgressBar>,
    /// The output directory, for the flame graphs' line.
    out: std::path::PathBuf,
    /// The minimum rounds and the target, for the rounds' lines.
    rounds: usize,
    ci_target: f64,
}

impl Terminal {
    fn progress_bar(total: usize) -> Option<ProgressBar> {
        std::io::stdout().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} · {elapsed} · {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("━╸ ");
            bar.set_style(style);
            bar
        })
    }
}

impl Terminal {
    /// Ends the progress bar with a line on the run, without the run's tables: what a paired
    /// run prints before its comparison.
    pub(crate) fn finish_briefly(&mut self, summary: &RunSummary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        println!(
            "\n{} cells, {} failed · {} rounds · in {:.1} s\n",
            summary.cells,
            summary.failed,
            summary.rounds,
            summary.elapsed.as_secs_f64(),
        );
    }
}

impl Observer for Terminal {
    fn run_started(&mut self, plan: &Plan<'_>) {
        header(
            plan.results,
            plan.cells,
            plan.out,
            &plan.sampling,
            plan.profile,
        );
        self.out = plan.out.to_owned();
        self.rounds = plan.sampling.processes;
        self.ci_target = plan.sampling.ci_target;
        self.bar = Self::progress_bar(0);
    }

    fn preparing(&mut self, bucket: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("preparing {bucket}"));
        }
    }

    fn pass_started(&mut self, progress: &Progress) {
        if let Some(bar) = &self.bar {
            bar.set_length(progress.total as u64);
            bar.set_position(0);
        }
    }

    fn cell_started(&mut self, id: &str, progress: &Progress) {
        if let Some(bar) = &self.bar {
            let left = progress.remaining.map_or(String::new(), |left| {
                let seconds = std::time::Duration::from_secs(left.as_secs());
                format!(" · {} left", humantime::format_duration(seconds))
            });
            bar.set_message(format!(
                "{}{left} · {id}",
                pass_name(progress.pass, progress.rounds)
            ));
        }
    }

    fn cell_finished(&mut self, cell: &Cell, _progress: &Progress) {
        // A failed cell is visited no more: it is told once.
        if cell.status != Status::Ok {
            let line = failure_line(cell);
            match &self.bar {
                Some(bar) => bar.println(line),
                None => println!("{line}"),
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn pass_finished(&mut self, summary: &PassSummary) {
        let line = pass_line(summary, self.rounds, self.ci_target);
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    fn warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn run_finished(&mut self, results: &Results, summary: &RunSummary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        tables(results);
        println!(
            "\n{} cells, {} failed, {} within ±{}% · {} rounds · in {:.1} s",
            summary.cells,
            summary.failed,
            summary.converged,
            100.0 * summary.ci_target,
            summary.rounds,
            summary.elapsed.as_secs_f64(),
        );
        if let Some(floor) = noise_floor(results) {
            println!("noise floor: {floor}");
        }
        if let Some(canary) = parbench_reports::view::canary_summary(results) {
            println!("canary: {canary}");
        }
        if let Some(contests) = parbench_reports::contest::summary(results) {
            let open = parbench_reports::contest::open_buckets(results);
            println!(
                "contests: {contests}{}",
                if open.is_empty() { "" } else { "; still open:" }
            );
            for bucket in open {
                println!("  {bucket}");
            }
        }
        if let Some(visits) = results.visits.as_ref().and_then(visit_summary) {
            println!("{visits}");
        }
        for file in &summary.files {
            println!("  {}", file.display());
        }
        if summary.flame_graphs > 0 {
            println!(
                "  {} ({} flame graphs; profiling took {:.1} s of the run)",
                self.out.join(flame::DIR).display(),
                summary.flame_graphs,
                summary.profiling.as_secs_f64()
            );
        }
    }
}

/// How close a cell came to the machine's limit that binds its kind of work: the copy
/// bandwidth for memory-bound work (`bw`), the compute speedup ceiling otherwise (`cpu`).
fn vs_limit(cell: &Cell) -> String {
    match (cell.efficiency, cell.workload_kind.as_str()) {
        (Some(e), "memory") => format!("{:.0}% bw", 100.0 * e.bandwidth_share),
        (
            Some(Efficiency {
                speedup_share: Some(share),
                ..
            }),
            _,
        ) => format!("{:.0}% cpu", 100.0 * share),
        _ => "-".to_owned(),
    }
}

/// One table per workload: every cell with its median, speedup over the sequential cell of the
/// same size and tasks, overhead share, peak memory and status.
fn tables(results: &Results) {
    let figures = Figures::of(results);
    let mut workloads: Vec<&str> = results.cells.iter().map(|c| c.workload.as_str()).collect();
    workloads.dedup();
    for workload in workloads {
        let first = results.cells.iter().find(|c| c.workload == workload);
        match first.map(|c| &c.features) {
            Some(f) if f.generate_ns > 0 => println!(
                "\n{workload} · {} items · input {} generated at {:.0} MB/s",
                f.items,
                bytes(f.input_bytes),
                f.input_bytes as f64 * 1e3 / f.generate_ns as f64
            ),
            _ => println!("\n{workload}"),
        }
        // Wide enough for configured strategies (`timely[mode=processes]`).
        let width = results
            .cells
            .iter()
            .filter(|c| c.workload == workload)
            .map(|c| c.strategy_label().chars().count())
            .max()
            .unwrap_or(0)
            .max(12);
        println!(
            "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>6} {:>5} {:>8} {:>9} {:>9} {:>10}  status",
            "strategy",
            "workers",
            "tasks",
            "median",
            "95% CI",
            "MDE",
            "procs",
            "speedup",
            "overhead",
            "vs limit",
            "peak RSS"
        );
        let cells = results.cells.iter().filter(|c| c.workload == workload);
        for cell in cells {
            let speedup = figures
                .speedup(cell)
                .map_or("-".to_owned(), |s| format!("{s:.2}x"));
            println!(
                "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>6} {:>5} {:>8} {:>9} {:>9} {:>10}  {}",
                cell.strategy_label(),
                cell.workers,
                cell.tasks,
                cell.wall
                    .as_ref()
                    .map_or("-".to_owned(), |w| duration(w.median_ns)),
                cell.wall.as_ref().map_or("-".to_owned(), ci),
                cell.wall.as_ref().map_or("-".to_owned(), mde),
                cell.wall
                    .as_ref()
                    .map_or("-".to_owned(), |w| w.processes.max(1).to_string()),
                speedup,
                cell.overhead
                    .map_or("-".to_owned(), |o| format!("{:.1}%", 100.0 * o.share())),
                vs_limit(cell),
                cell.peak_rss_bytes.map_or("-".to_owned(), bytes),
                match cell.status {
                    Status::Ok => "ok".to_owned(),
                    other => other.as_str().to_uppercase(),
                }
            );
        }
        round_table(results, workload, width);
    }
    let claims = parbench_reports::claims::rows(results);
    if !claims.is_empty() {
        println!("\nclaims (a figure's whole 95% interval on the claim's side holds it; claims.md has the evidence):");
    }
    for row in claims {
        println!(
            "  {}: {} — {}: {}, claimed {}{}",
            row.name,
            row.statement,
            row.verdict,
            row.measured,
            row.claimed,
            if row.quoted.is_empty() {
                String::new()
            } else {
                format!(", quoted {}", row.quoted)
            }
        );
    }
}

/// For a workload of rounds, what a round costs in each cell: its median time and interval,
/// the first round's, the wait for the slowest worker and the time no task runs (medians over
/// a run's rounds), and the bytes a round moves.
fn round_table(results: &Results, workload: &str, width: usize) {
    let cells: Vec<(&Cell, &RoundStats)> = results
        .cells
        .iter()
        .filter(|c| c.workload == workload)
        .filter_map(|c| Some((c, c.work_rounds.as_ref()?)))
        .collect();
    let Some((_, first)) = cells.first() else {
        return;
    };
    println!(
        "  a round of {} ({} a run): its median, the first round, the wait for the slowest \
         worker, the time no task runs, bytes moved",
        workload, first.costs.rounds
    );
    println!(
        "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>11} {:>10} {:>10} {:>11} {:>11}",
        "strategy",
        "workers",
        "tasks",
        "round",
        "95% CI",
        "first",
        "straggler",
        "exchange",
        "bytes",
        "first bytes"
    );
    for (cell, rounds) in cells {
        let costs = &rounds.costs;
        println!(
            "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>11} {:>10} {:>10} {:>11} {:>11}",
            cell.strategy_label(),
            cell.workers,
            cell.tasks,
            duration(rounds.round.median_ns),
            ci(&rounds.round),
            duration(costs.first_round_ns as f64),
            duration(costs.straggler_ns as f64),
            duration(costs.exchange_ns as f64),
            bytes(costs.bytes_per_round),
            bytes(costs.first_round_bytes),
        );
    }
}
