//! `spin`: calibrated busy work of a set number of nanoseconds per item.
//!
//! The knob for granularity sweeps and for known-answer tests of the overhead metrics, and with
//! `bytes_per_item` and `wait_ns_per_item` the synthetic work of any shape the decision tree's
//! design space needs: so much CPU, so many bytes in and out, so long waiting, per item. The
//! calibration (loop iterations per nanosecond) is measured by the `spin-calibration` environment
//! and shared by every cell and worker process, so every task of a run spins for the same number
//! of iterations; the harness keeps a machine's first calibration for every later run on it
//! ([`Environment::is_calibration`]), so that two runs spin alike.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{random_words, u64_at};
use tokio::sync::Semaphore;

use crate::{
    mix64, AsyncSession, AsyncWorkload, BoxFuture, EnvVars, Environment, EnvironmentSpec, Input,
    Items, Layout, ParamKind, ParamSpec, Params, Partial, Scope, TaskContext, TaskError, WorkKind,
    Workload, WorkloadError, WorkloadSpec,
};

/// The variable the calibration publishes: loop iterations per millisecond.
pub const ITERS_PER_MS: &str = "spin.iters_per_ms";

/// Registration of `spin`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "spin",
    description: "calibrated busy work of ns_per_item nanoseconds per item; the granularity knob",
    kind: WorkKind::Synthetic,
    default_size: 100_000,
    params: &[
        ParamSpec {
            name: "ns_per_item",
            help: "busy time per item, in nanoseconds",
            kind: ParamKind::Int {
                default: 1_000,
                min: 1,
                max: 1_000_000_000,
            },
        },
        ParamSpec {
            name: "scratch_mib",
            help: "memory each task fills and holds while it runs, in MiB (a known peak)",
            kind: ParamKind::Int {
                default: 0,
                min: 0,
                max: 65_536,
            },
        },
        ParamSpec {
            name: "bytes_per_item",
            help: "bytes of each item in and of its output (at least 8): what a process strategy copies",
            kind: ParamKind::Int {
                default: 8,
                min: 8,
                max: 1 << 30,
            },
        },
        ParamSpec {
            name: "wait_ns_per_item",
            help: "time each item waits, as for a reply, in nanoseconds: one after another on a thread (one sleep per task), concurrently on an async runtime",
            kind: ParamKind::Int {
                default: 0,
                min: 0,
                max: 60_000_000_000,
            },
        },
        ParamSpec {
            name: "wait",
            help: "how items wait: async (an async path a runtime overlaps) or blocking (only a thread's sleep, as with a synchronous client)",
            kind: ParamKind::Choice {
                default: "async",
                options: &["async", "blocking"],
            },
        },
    ],
    environment: Some(CALIBRATION),
    build: &build,
};

/// The once-per-run calibration that `spin` needs.
pub const CALIBRATION: EnvironmentSpec = EnvironmentSpec {
    name: "spin-calibration",
    start: &start_calibration,
    scope: Scope::Run,
};

fn build(params: &Params, env: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    Ok(Arc::new(spin_of(params, env)?))
}

/// The `spin` that `params` ask for, at the calibration `env` carries.
fn spin_of(params: &Params, env: &EnvVars) -> Result<Spin, WorkloadError> {
    let missing = || WorkloadError::MissingEnvironment {
        workload: SPEC.name.to_owned(),
        environment: CALIBRATION.name.to_owned(),
        var: ITERS_PER_MS.to_owned(),
    };
    let iters_per_ms: u64 = env
        .get(ITERS_PER_MS)
        .ok_or_else(missing)?
        .parse()
        .map_err(|_| missing())?;
    let ns = params.int("ns_per_item");
    let iters = iterations(ns, iters_per_ms);
    let slowdown = crate::slowdown::injected(SPEC.name)?;
    Ok(Spin {
        scratch_bytes: params.int("scratch_mib") as usize * (1 << 20),
        item_bytes: params.int("bytes_per_item") as usize,
        wait_ns_per_item: params.int("wait_ns_per_item"),
        blocking_wait: params.text("wait") == "blocking",
        ns_per_item: ns,
        iters_per_item: if slowdown > 0.0 {
            (iters as f64 * (1.0 + slowdown)).round() as u64
        } else {
            iters
        },
    })
}

/// The loop iterations that take `ns` nanoseconds at `iters_per_ms` (at least one).
fn iterations(ns: u64, iters_per_ms: u64) -> u64 {
    (u128::from(ns) * u128::from(iters_per_ms) / 1_000_000).max(1) as u64
}

/// Spins a fixed number of loop iterations per item.
#[derive(Debug, Clone, Copy)]
pub struct Spin {
    scratch_bytes: usize,
    item_bytes: usize,
    wait_ns_per_item: u64,
    /// Whether its waits have no async path: a runtime cannot overlap them.
    blocking_wait: bool,
    ns_per_item: u64,
    iters_per_item: u64,
}

impl Spin {
    /// Busy time asked per item.
    pub fn ns_per_item(&self) -> u64 {
        self.ns_per_item
    }

    /// Loop iterations per item, from the run's calibration.
    pub fn iters_per_item(&self) -> u64 {
        self.iters_per_item
    }
}

/// A dependent chain of multiply, add and shift: nothing to vectorize or overlap, so its time
/// is the chain's latency whatever the other core does (unless it shares the core).
#[inline(never)]
fn spin(iters: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..iters {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 29;
    }
    x
}

impl Workload for Spin {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        if self.item_bytes == 8 {
            return random_words(size, seed);
        }
        // Each item: its random word, then bytes that follow from it (cheap to make, and not
        // zeros a pipe or a page could treat specially).
        let words = random_words(size, seed);
        let mut bytes = Vec::with_capacity(size * self.item_bytes);
        for i in 0..size {
            let word = u64_at(&words.bytes, i);
            bytes.extend_from_slice(&word.to_le_bytes());
            fill(&mut bytes, self.item_bytes - 8, word);
        }
        Input::new(
            bytes,
            Layout::Fixed {
                len: self.item_bytes,
                count: size,
            },
        )
    }

    fn output_len(&self) -> usize {
        self.item_bytes
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        if self.wait_ns_per_item > 0 {
            std::thread::sleep(self.wait(items.len()));
        }
        self.work(items, out)
    }

    fn as_async(&self) -> Option<&dyn AsyncWorkload> {
        (self.wait_ns_per_item > 0 && !self.blocking_wait).then_some(self as &dyn AsyncWorkload)
    }
}

/// On an async runtime, waiting items wait on a timer without a thread, concurrently (as a
/// task's requests do under `http`), then do their CPU work on the runtime's thread, as a
/// handler parsing a reply does.
impl AsyncWorkload for Spin {
    fn session(&self) -> Result<Arc<dyn AsyncSession>, WorkloadError> {
        Ok(Arc::new(*self))
    }
}

impl AsyncSession for Spin {
    fn run_task<'a>(
        &'a self,
        _: &'a TaskContext,
        items: Items<'a>,
        out: &'a mut [u8],
        in_flight: &'a Semaphore,
    ) -> BoxFuture<'a, Result<Partial, TaskError>> {
        Box::pin(async move {
            // The items wait concurrently, as `http`'s requests do: as many at once as the
            // in-flight limit has permits free (all of them, at its default of 256), each wait
            // one item's, the permits held while they wait.
            let mut waiting = items.len();
            while waiting > 0 {
                let free = in_flight.available_permits().clamp(1, waiting);
                let permits = u32::try_from(free).unwrap_or(u32::MAX);
                let _permits = in_flight
                    .acquire_many(permits)
                    .await
                    .map_err(|_| TaskError::error("the in-flight limit was closed"))?;
                tokio::time::sleep(self.wait(1)).await;
                waiting -= permits as usize;
            }
            self.work(items, out)
        })
    }
}

impl Spin {
    /// What `items` items wait one after another: on a thread, one sleep per task, as a sleep
    /// per item would cost the timer's slack each time.
    fn wait(&self, items: usize) -> Duration {
        Duration::from_nanos(self.wait_ns_per_item.saturating_mul(items as u64))
    }

    /// The CPU part of a task: spin each item and write its output.
    fn work(&self, items: Items<'_>, out: &mut [u8]) -> Result<Partial, TaskError> {
        // Every page written, so all of it is resident until the task ends.
        let scratch = vec![1u8; self.scratch_bytes];
        let bytes = items.bytes();
        for (i, out) in out.chunks_exact_mut(self.item_bytes).enumerate() {
            let item = &bytes[i * self.item_bytes..(i + 1) * self.item_bytes];
            let x = u64_at(item, 0);
            black_box(spin(self.iters_per_item, x));
            // The output does not depend on the iteration count, so runs on machines with other
            // calibrations still agree with the golden digests.
            let (word, rest) = out.split_at_mut(8);
            word.copy_from_slice(&mix64(x).to_le_bytes());
            // The rest of the item, read and written: a strategy cannot skip the bytes.
            for (o, b) in rest.iter_mut().zip(&item[8..]) {
                *o = b ^ 0x5a;
            }
        }
        black_box(&scratch);
        Ok(Partial::new())
    }
}

/// Appends `len` bytes that follow from `seed` (a SplitMix64 stream).
fn fill(bytes: &mut Vec<u8>, len: usize, seed: u64) {
    let mut rng = crate::SplitMix64::new(seed);
    let start = bytes.len();
    bytes.resize(start + len, 0);
    for chunk in bytes[start..].chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// Measures loop iterations per millisecond: the best of several timed rounds, so a round that
/// was interrupted does not lower the rate.
pub fn calibrate() -> u64 {
    const ROUND: u64 = 200_000;
    black_box(spin(ROUND, 1)); // warm-up: page in, raise the clock
    let best = (0..15)
        .map(|round| {
            let start = Instant::now();
            black_box(spin(black_box(ROUND), round));
            start.elapsed()
        })
        .min()
        .unwrap_or_default();
    let ns = best.as_nanos().max(1);
    (u128::from(ROUND) * 1_000_000 / ns).max(1) as u64
}

struct Calibration {
    iters_per_ms: u64,
}

impl Environment for Calibration {
    fn vars(&self) -> EnvVars {
        EnvVars::from([(ITERS_PER_MS.to_owned(), self.iters_per_ms.to_string())])
    }

    fn is_calibration(&self) -> bool {
        true
    }

    fn stop(self: Box<Self>) -> Result<(), WorkloadError> {
        Ok(())
    }
}

fn start_calibration() -> Result<Box<dyn Environment>, WorkloadError> {
    Ok(Box::new(Calibration {
        iters_per_ms: calibrate(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_sets_the_iterations_per_item() {
        assert_eq!(iterations(2_000, 500_000), 1_000);
        assert_eq!(iterations(10_000_000, 3_000_000), 30_000_000);
        // Less than one iteration's worth still spins once.
        assert_eq!(iterations(1, 500_000), 1);
        let given = [("ns_per_item".to_owned(), crate::Value::Int(2_000))].into();
        let params = SPEC.resolve(&given).unwrap();
        let env = EnvVars::from([(ITERS_PER_MS.to_owned(), "500000".to_owned())]);
        let spin = spin_of(&params, &env).unwrap();
        assert_eq!((spin.ns_per_item(), spin.iters_per_item()), (2_000, 1_000));
    }
}
