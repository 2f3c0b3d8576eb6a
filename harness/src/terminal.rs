//! What a run prints: a header, one line per cell, and a summary table per workload.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use parbench_reports::format::{bytes, duration};
use parbench_reports::{Cell, Efficiency, Results, Stats, Status};

pub(crate) fn header(results: &Results, cells: usize, out: &Path) {
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
pub(crate) fn cell_line(index: usize, total: usize, cell: &Cell) -> String {
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

/// The run's progress: on a terminal, a bar with the cell being measured and an estimate of
/// the time left, the finished cells' lines scrolling above it; elsewhere (a CI log, a pipe)
/// just the lines.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    pub(crate) fn new(total: usize) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} · {elapsed} · ETA {eta} · {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("━╸ ");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            total,
            done: 0,
        }
    }

    /// A cell starts.
    pub(crate) fn start(&self, id: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(id.to_owned());
        }
    }

    /// A cell finished.
    pub(crate) fn finish(&mut self, cell: &Cell) {
        self.done += 1;
        let line = cell_line(self.done, self.total, cell);
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => println!("{line}"),
        }
    }

    /// The run is over: the bar goes away.
    pub(crate) fn close(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub(crate) fn warning(message: &str) {
    eprintln!("warning: {message}");
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
pub(crate) fn summary(results: &Results) {
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
            let baseline = results.cells.iter().find(|c| {
                c.workload == cell.workload
                    && c.params == cell.params
                    && c.size == cell.size
                    && c.tasks == cell.tasks
                    && c.strategy == "sequential"
            });
            let speedup = match (baseline.and_then(|b| b.wall.as_ref()), &cell.wall) {
                (Some(b), Some(w)) if w.median_ns > 0.0 => {
                    format!("{:.2}x", b.median_ns / w.median_ns)
                }
                _ => "-".to_owned(),
            };
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
