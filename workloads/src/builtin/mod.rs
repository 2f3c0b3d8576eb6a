//! The built-in workloads, each real work of a kind engineers parallelize.

#[cfg(feature = "http")]
pub mod http;
pub mod json;
pub mod kmeans;
#[cfg(feature = "resize")]
pub mod resize;
pub mod risky;
pub mod spin;
pub mod square;

use crate::WorkloadSpec;

/// Every built-in workload of the enabled features, in the order `parbench list` shows them.
pub(crate) fn specs() -> Vec<WorkloadSpec> {
    vec![
        square::SPEC,
        #[cfg(feature = "resize")]
        resize::SPEC,
        json::SPEC,
        #[cfg(feature = "http")]
        http::SPEC,
        risky::SPEC,
        spin::SPEC,
        kmeans::SPEC,
    ]
}

/// Reads the `i`-th little-endian u64 of a buffer of 8-byte items.
#[inline]
pub(crate) fn u64_at(bytes: &[u8], i: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
    u64::from_le_bytes(word)
}

/// `count` random u64 values, little-endian: the input of the 8-byte-item workloads.
pub(crate) fn random_words(count: usize, seed: u64) -> crate::Input {
    let mut rng = crate::SplitMix64::new(seed);
    let mut bytes = Vec::with_capacity(count * 8);
    for _ in 0..count {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    crate::Input::new(bytes, crate::Layout::Fixed { len: 8, count })
}
