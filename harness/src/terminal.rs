//! What a run prints: a header, one line per cell, and a summary table per workload.

use std::path::Path;

use parbench_reports::{Cell, Results, Stats, Status};

use crate::stats::relative_half_width;

/// A duration for people: `812 ns`, `1.52 µs`, `3.40 ms`, `2.31 s`.
pub fn duration(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

/// A size for people, in binary units.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

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
    println!("results: {}\n", out.join("results.json").display());
}

/// `± 1.2%`: the larger distance from the median to an end of its 95% confidence interval.
fn ci(wall: &Stats) -> String {
    format!("± {:>4.1}%", 100.0 * relative_half_width(wall))
}

pub(crate) fn cell_line(index: usize, total: usize, cell: &Cell) {
    let width = total.to_string().len();
    match (&cell.wall, &cell.error) {
        (Some(wall), None) => println!(
            "[{index:>width$}/{total}] {:<48} {:>10} {}  ({} samples{})  ok",
            cell.id,
            duration(wall.median_ns),
            ci(wall),
            wall.n,
            if cell.converged {
                String::new()
            } else {
                format!(", short of ±{}%", 100.0 * cell.ci_target)
            },
        ),
        (_, error) => println!(
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

pub(crate) fn warning(message: &str) {
    eprintln!("warning: {message}");
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
        println!(
            "  {:<12} {:>7} {:>7} {:>11} {:>8} {:>8} {:>9} {:>10}  status",
            "strategy", "workers", "tasks", "median", "95% CI", "speedup", "overhead", "peak RSS"
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
                "  {:<12} {:>7} {:>7} {:>11} {:>8} {:>8} {:>9} {:>10}  {}",
                cell.strategy,
                cell.workers,
                cell.tasks,
                cell.wall
                    .as_ref()
                    .map_or("-".to_owned(), |w| duration(w.median_ns)),
                cell.wall.as_ref().map_or("-".to_owned(), ci),
                speedup,
                cell.overhead
                    .map_or("-".to_owned(), |o| format!("{:.1}%", 100.0 * o.share())),
                cell.peak_rss_bytes.map_or("-".to_owned(), bytes),
                match cell.status {
                    Status::Ok => "ok".to_owned(),
                    other => other.as_str().to_uppercase(),
                }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(duration(812.0), "812 ns");
        assert_eq!(duration(1_520.0), "1.52 µs");
        assert_eq!(duration(3_404_000.0), "3.40 ms");
        assert_eq!(duration(2_310_000_000.0), "2.31 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }
}
