//! `resize`: synthetic RGB images resized to 224x224 (a vision model's input). Compute-bound.
//!
//! Uses the `image` crate's scalar resampler: the one Rust engineers reach for first, and,
//! unlike SIMD resizers that pick a code path per CPU, bit-identical on every machine, so the
//! golden digests hold everywhere.

use std::sync::Arc;

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Rgb};

use crate::{
    EnvVars, Input, Items, Layout, ParamKind, ParamSpec, Params, Partial, SplitMix64, TaskContext,
    TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// Side of the square output images.
pub const TARGET: u32 = 224;

/// Registration of `resize`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "resize",
    description: "synthetic RGB images resized to 224x224 with the image crate; compute-bound",
    kind: WorkKind::Compute,
    default_size: 48,
    params: &[
        ParamSpec {
            name: "width",
            help: "source image width, in pixels",
            kind: ParamKind::Int {
                default: 640,
                min: 16,
                max: 8192,
            },
        },
        ParamSpec {
            name: "height",
            help: "source image height, in pixels",
            kind: ParamKind::Int {
                default: 480,
                min: 16,
                max: 8192,
            },
        },
        ParamSpec {
            name: "filter",
            help: "resampling filter",
            kind: ParamKind::Choice {
                default: "lanczos3",
                options: &["lanczos3", "catmull-rom", "triangle", "nearest"],
            },
        },
    ],
    environment: None,
    build: &build,
};

fn build(params: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    let filter = match params.text("filter") {
        "catmull-rom" => FilterType::CatmullRom,
        "triangle" => FilterType::Triangle,
        "nearest" => FilterType::Nearest,
        _ => FilterType::Lanczos3,
    };
    Ok(Arc::new(Resize {
        width: params.int("width") as u32,
        height: params.int("height") as u32,
        filter,
    }))
}

/// Resizes `width` x `height` RGB images to [`TARGET`] x [`TARGET`].
#[derive(Debug, Clone, Copy)]
pub struct Resize {
    width: u32,
    height: u32,
    filter: FilterType,
}

impl Resize {
    fn image_bytes(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

/// Paints a synthetic photo-like image: smooth gradients, a few discs and fine noise, so the
/// resampler meets both flat areas and edges.
fn paint(rng: &mut SplitMix64, width: u32, height: u32, pixels: &mut Vec<u8>) {
    let discs: Vec<(f32, f32, f32, [u8; 3])> = (0..6)
        .map(|_| {
            let color = [
                rng.below(256) as u8,
                rng.below(256) as u8,
                rng.below(256) as u8,
            ];
            (
                rng.below(u64::from(width)) as f32,
                rng.below(u64::from(height)) as f32,
                (8 + rng.below(u64::from(width.min(height)) / 3 + 1)) as f32,
                color,
            )
        })
        .collect();
    let tint = [
        rng.below(128) as u32,
        rng.below(128) as u32,
        rng.below(128) as u32,
    ];
    let mut noise = rng.next_u64();
    for y in 0..height {
        for x in 0..width {
            let mut px = [
                (x * 255 / width + tint[0]).min(255) as u8,
                (y * 255 / height + tint[1]).min(255) as u8,
                ((x + y) * 127 / (width + height) + tint[2]).min(255) as u8,
            ];
            for &(cx, cy, r, color) in &discs {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                if dx * dx + dy * dy <= r * r {
                    px = color;
                }
            }
            noise = noise.rotate_left(7) ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(noise | 1);
            let jitter = (noise & 0x0F) as u8;
            pixels.extend(px.iter().map(|c| c.saturating_add(jitter)));
        }
    }
}

impl Workload for Resize {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        let mut rng = SplitMix64::new(seed);
        let mut pixels = Vec::with_capacity(size * self.image_bytes());
        for _ in 0..size {
            paint(&mut rng, self.width, self.height, &mut pixels);
        }
        Input::new(
            pixels,
            Layout::Fixed {
                len: self.image_bytes(),
                count: size,
            },
        )
    }

    fn output_len(&self) -> usize {
        TARGET as usize * TARGET as usize * 3
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        for (i, (pixels, out)) in items
            .iter()
            .zip(out.chunks_exact_mut(self.output_len()))
            .enumerate()
        {
            let source = ImageBuffer::<Rgb<u8>, &[u8]>::from_raw(self.width, self.height, pixels)
                .ok_or_else(|| {
                TaskError::error(format!(
                    "image {} has {} bytes, not {}x{}x3",
                    items.first() + i,
                    pixels.len(),
                    self.width,
                    self.height
                ))
            })?;
            let resized = imageops::resize(&source, TARGET, TARGET, self.filter);
            out.copy_from_slice(resized.as_raw());
        }
        Ok(Partial::new())
    }
}
