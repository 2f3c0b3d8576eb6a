//! `spin`: calibrated busy work of a set number of nanoseconds per item.
//!
//! The knob for granularity sweeps and for known-answer tests of the overhead metrics. The
//! calibration (loop iterations per nanosecond) is measured once per run by the `spin-calibration`
//! environment and shared by every cell and worker process, so every task of a run spins for the
//! same number of iterations.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use super::{random_words, u64_at};
use crate::{
    mix64, EnvVars, Environment, EnvironmentSpec, Input, Items, ParamKind, ParamSpec, Params,
    Partial, TaskContext, TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
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
    ],
    environment: Some(CALIBRATION),
    build: &build,
};

/// The once-per-run calibration that `spin` needs.
pub const CALIBRATION: EnvironmentSpec = EnvironmentSpec {
    name: "spin-calibration",
    start: start_calibration,
};

fn build(params: &Params, env: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
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
    let iters = (u128::from(ns) * u128::from(iters_per_ms) / 1_000_000).max(1) as u64;
    let slowdown = crate::slowdown::injected(SPEC.name)?;
    Ok(Arc::new(Spin {
        scratch_bytes: params.int("scratch_mib") as usize * (1 << 20),
        ns_per_item: ns,
        iters_per_item: if slowdown > 0.0 {
            (iters as f64 * (1.0 + slowdown)).round() as u64
        } else {
            iters
        },
    }))
}

/// Spins a fixed number of loop iterations per item.
#[derive(Debug, Clone, Copy)]
pub struct Spin {
    scratch_bytes: usize,
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
        random_words(size, seed)
    }

    fn output_len(&self) -> usize {
        8
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        // Every page written, so all of it is resident until the task ends.
        let scratch = vec![1u8; self.scratch_bytes];
        let bytes = items.bytes();
        for (i, out) in out.chunks_exact_mut(8).enumerate() {
            let x = u64_at(bytes, i);
            black_box(spin(self.iters_per_item, x));
            // The output does not depend on the iteration count, so runs on machines with other
            // calibrations still agree with the golden digests.
            out.copy_from_slice(&mix64(x).to_le_bytes());
        }
        black_box(&scratch);
        Ok(Partial::new())
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

    fn stop(self: Box<Self>) -> Result<(), WorkloadError> {
        Ok(())
    }
}

fn start_calibration() -> Result<Box<dyn Environment>, WorkloadError> {
    Ok(Box::new(Calibration {
        iters_per_ms: calibrate(),
    }))
}
