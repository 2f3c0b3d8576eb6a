//! `cargo bench`: this crate's work under every parbench strategy.
//!
//! `cargo bench` measures every cell and writes target/parbench/strategies/latest/report.html;
//! `cargo bench -- mandelbrot` measures some; `cargo bench -- --save-baseline main` keeps the
//! run, and `cargo bench -- --baseline main` measures this build beside it (exit code 1 on a
//! regression); `cargo test --benches` runs every cell once, verified.

use std::sync::Arc;
use std::time::Duration;

use parbench::workloads::{EnvVars, Environment, WorkloadError};
use parbench::{FnWorkload, Services, WorkloadEntry};
use parbench_example::{escape_time, parse, BlockingClient, Client, Lookup, Summary};

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

/// Keys to look up.
fn keys(size: usize, seed: u64) -> Vec<u64> {
    (0..size as u64).map(|i| i ^ seed).collect()
}

/// The lookup service beside the bench: one per bucket, 200 µs per request.
struct Service(Lookup);

impl Service {
    fn start() -> std::io::Result<Service> {
        Lookup::start(Duration::from_micros(200)).map(Service)
    }
}

impl Environment for Service {
    fn vars(&self) -> EnvVars {
        EnvVars::from([("lookup.addr".to_owned(), self.0.addr().to_string())])
    }
    fn stop(self: Box<Self>) -> Result<(), WorkloadError> {
        Ok(())
    }
}

/// Where the service listens, as its cells see it.
fn address(services: &Services) -> Result<std::net::SocketAddr, String> {
    let addr = services.get("lookup.addr").map_err(|e| e.to_string())?;
    addr.parse()
        .map_err(|e| format!("lookup.addr `{addr}`: {e}"))
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
        // Waiting work, async: the values of keys from the service, each request awaited.
        FnWorkload::asynchronous(
            "lookup",
            keys,
            |services: Services| async move { address(&services).map(Client::new) },
            |key: u64, client: Arc<Client>| async move { client.get(key).await },
        )
        .describe("keys looked up in a service 200 µs away, by an async client")
        .default_size(300)
        .service("lookup", Service::start)
        .fold(0u64, |sum, v| *sum ^= v, |a, b| *a ^= b),
        // The same lookups by a blocking client: what a threaded program has.
        FnWorkload::blocking(
            "lookup-blocking",
            keys,
            |services: &Services| address(services).map(BlockingClient::new),
            |key: &u64, client: &BlockingClient| client.get(*key),
        )
        .describe("keys looked up in a service 200 µs away, by a blocking client")
        .default_size(300)
        .service("lookup", Service::start)
        .fold(0u64, |sum, v| *sum ^= v, |a, b| *a ^= b),
    ];
    suite = |s| {
        let lookups = |name| WorkloadEntry::new(name).tasks([1, 16, 256]);
        s.workload(WorkloadEntry::new("mandelbrot").tasks([1, 64, 4096]))
            .workload(WorkloadEntry::new("parse-log").tasks([1, 64, 4096]))
            .workload(lookups("lookup"))
            .workload(lookups("lookup-blocking"))
            .with(|b| b.budget(Duration::from_secs(150)))
    }
);
