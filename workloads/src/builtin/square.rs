//! `square`: u64 -> u64 wrapping squares. Memory-bound: one multiply per 16 bytes moved.

use std::sync::Arc;

use super::random_words;
use crate::{
    EnvVars, Input, Items, Params, Partial, TaskContext, TaskError, WorkKind, Workload,
    WorkloadError, WorkloadSpec,
};

/// Registration of `square`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "square",
    description:
        "u64 -> u64 wrapping squares; memory-bound (the \"square a million integers\" loop)",
    kind: WorkKind::Memory,
    default_size: 1_000_000,
    params: &[],
    environment: None,
    build: &build,
};

fn build(_: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    Ok(Arc::new(Square))
}

/// Squares each 8-byte little-endian integer, wrapping on overflow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Square;

impl Workload for Square {
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
        for (item, out) in items.bytes().chunks_exact(8).zip(out.chunks_exact_mut(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(item);
            let x = u64::from_le_bytes(word);
            out.copy_from_slice(&x.wrapping_mul(x).to_le_bytes());
        }
        Ok(Partial::new())
    }
}
