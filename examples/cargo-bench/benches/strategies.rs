//! `cargo bench`: this crate's work under every parbench strategy.
//!
//! `cargo bench` measures every cell and writes target/parbench/strategies/latest/report.html;
//! `cargo bench -- mandelbrot` measures some; `cargo bench -- --save-baseline main` keeps the
//! run, and `cargo bench -- --baseline main` measures this build beside it (exit code 1 on a
//! regression); `cargo test --benches` runs every cell once, verified.

use std::time::Duration;

use parbench::FnWorkload;
use parbench_example::{escape_time, parse, Summary};

/// The points of a grid over the Mandelbrot set's box, in row order; `seed` shifts it.
fn grid(size: usize, seed: u64) -> Vec<[f64; 2]> {
    let side = (size as f64).sqrt().ceil() as usize;
    let shift = (seed % 1_000) as f64 * 1e-6;
    (0..size)
        .map(|i| {
            let (row, col) = (i / side, i % side);
            [
                -2.0 + 2.5 * col as f64 / side as f64 + shift,
                -1.25 + 2.5 * row as f64 / side as f64,
            ]
        })
        .collect()
}

/// Access-log lines, one in fifty a server error, one in a hundred malformed.
fn log_lines(size: usize, seed: u64) -> Vec<String> {
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    (0..size as u64)
        .map(|i| {
            let r = (i ^ seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
            if r.is_multiple_of(100) {
                return format!("GET /broken?{r}");
            }
            let status = if r % 50 == 1 { 503 } else { 200 };
            format!(
                "{} /items/{}?page={} {status} {}",
                methods[(r % 6) as usize],
                r % 10_000,
                r % 7,
                512 + r % 65_536
            )
        })
        .collect()
}

parbench::main!(
    workloads = [
        // Plain data: points and counts travel as their own bytes, read in place.
        FnWorkload::plain("mandelbrot", grid, |c: &[f64; 2]| escape_time(c, 256))
            .describe("escape time of each point of a grid over the Mandelbrot set")
            .default_size(40_000)
            .fold(0u64, |total, n| *total += u64::from(*n), |a, b| *a += b),
        // Serde types: log lines go through postcard; the summary is the fold.
        FnWorkload::encoded("parse-log", log_lines, |line: &String| parse(line))
            .describe("access-log lines parsed and summed up")
            .default_size(20_000)
            .fold(Summary::default(), Summary::add, Summary::merge),
    ];
    suite = |s| s.tasks([1, 64, 4096]).with(|b| b.budget(Duration::from_secs(120)))
);
