//! What a run prints — a header, one line per cell (under a progress bar on a terminal), a
//! summary table per workload and the files written — as an [`Observer`] of the run.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use parbench_reports::figures::Figures;
use parbench_reports::format::{bytes, duration};
use parbench_reports::{flame, Cell, Efficiency, Results, Stats, Status};

use crate::observer::{Observer, Plan, RunSummary};

fn header(results: &Results, cells: usize, out: &Path) {
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
            "limits: copy {:.1} GB/s on one thread, {:.1} GB/s on {} · compute ceiling {:.2}x on {} threads",
            l.copy_one_bytes_per_s / 1e9,
            l.copy_all_bytes_per_s / 1e9,
            l.threads,
            l.alu_speedup,
            l.threads
        );
    }
    println!("results: {}\n", out.join("results.json").display());
}

/// `± 1.2%`: the larger distance from the median to an end of its 95% confidence interval.
fn ci(wall: &Stats) -> String {
    format!("± {:>4.1}%", 100.0 * wall.relative_half_width())
}

/// One line for a finished cell: its id, median and interval, sample count and status.
fn cell_line(index: usize, total: usize, cell: &Cell) -> String {
    let width = total.to_string().len();
    match (&cell.wall, &cell.error) {
        (Some(wall), None) => format!(
            "[{index:>width$}/{total}] {:<48} {:>10} {}  ({} samples{})  ok",
            cell.id,
            duration(wall.median_ns),
            ci(wall),
            wall.n,
            if cell.converged {
                String::new()
            } else if wall.ci_level < crate::stats::CONFIDENCE {
                // Too few samples for a 95% interval: the one shown covers less.
                format!(", a {:.1}% interval", 100.0 * wall.ci_level)
            } else {
                format!(", short of ±{}%", 100.0 * cell.ci_target)
            },
        ),
        (_, error) => format!(
            "[{index:>width$}/{total}] {:<48} {}: {}",
            cell.id,
            match cell.status {
                Status::Ok => "FAILED".to_owned(),
                status => status.as_str().to_uppercase(),
            },
            error.as_deref().unwrap_or("no sample")
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
}

impl Terminal {
    fn progress_bar(total: usize) -> Option<ProgressBar> {
        std::io::stdout().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} · {elapsed} · ETA {eta} · {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("━╸ ");
            bar.set_style(style);
            bar
        })
    }
}

impl Observer for Terminal {
    fn run_started(&mut self, plan: &Plan<'_>) {
        header(plan.results, plan.cells, plan.out);
        self.out = plan.out.to_owned();
        self.bar = Self::progress_bar(plan.cells);
    }

    fn preparing(&mut self, bucket: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("preparing {bucket}"));
        }
    }

    fn cell_started(&mut self, id: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(id.to_owned());
        }
    }

    fn cell_finished(&mut self, cell: &Cell, done: usize, total: usize) {
        let line = cell_line(done, total, cell);
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
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
            "\n{} cells, {} failed, {} within ±{}% · in {:.1} s",
            summary.cells,
            summary.failed,
            summary.converged,
            100.0 * summary.ci_target,
            summary.elapsed.as_secs_f64(),
        );
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
            "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>8} {:>9} {:>9} {:>10}  status",
            "strategy",
            "workers",
            "tasks",
            "median",
            "95% CI",
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
                "  {:<width$} {:>7} {:>7} {:>11} {:>8} {:>8} {:>9} {:>9} {:>10}  {}",
                cell.strategy_label(),
                cell.workers,
                cell.tasks,
                cell.wall
                    .as_ref()
                    .map_or("-".to_owned(), |w| duration(w.median_ns)),
                cell.wall.as_ref().map_or("-".to_owned(), ci),
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
    }
}
