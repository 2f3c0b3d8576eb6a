//! A user's crate: one workload of its own, parbench with its default features off.

use std::sync::Arc;

use parbench::Plugins;
use parbench_workloads::{
    EnvVars, Input, Items, Layout, Params, Partial, SplitMix64, TaskContext, TaskError, WorkKind,
    Workload, WorkloadError, WorkloadSpec,
};

/// Triples 32-bit integers.
struct Triple;

impl Workload for Triple {
    fn name(&self) -> &str {
        "triple"
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        let mut rng = SplitMix64::new(seed);
        let bytes = (0..size)
            .flat_map(|_| (rng.next_u64() as u32).to_le_bytes())
            .collect();
        Input::new(
            bytes,
            Layout::Fixed {
                len: 4,
                count: size,
            },
        )
    }

    fn output_len(&self) -> usize {
        4
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        for (item, out) in items.bytes().chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            let x = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
            out.copy_from_slice(&x.wrapping_mul(3).to_le_bytes());
        }
        Ok(Partial::new())
    }
}

fn build(_: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    Ok(Arc::new(Triple))
}

const TRIPLE: WorkloadSpec = WorkloadSpec {
    name: "triple",
    description: "u32 -> u32 wrapping triples",
    kind: WorkKind::Memory,
    default_size: 100_000,
    params: &[],
    environment: None,
    build: &build,
};

fn main() -> std::process::ExitCode {
    let mut plugins = Plugins::default();
    if let Err(e) = plugins.workloads.register(TRIPLE) {
        eprintln!("{e}");
        return std::process::ExitCode::from(2);
    }
    parbench::main_with(plugins)
}
