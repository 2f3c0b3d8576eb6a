//! `kmeans`: Lloyd's algorithm in rounds — each task assigns its points to the nearest of K
//! centroids and sums them per cluster; the sums reduce into the next round's centroids.
//!
//! Points are integer coordinates and the sums are integers, so a round's result is exact and
//! the same however the points are split into tasks or the partials are added up: every
//! strategy's centroids after every round can be checked bit for bit. The state that travels
//! between rounds is small (K × D centroids); the points stay wherever a strategy keeps them.
//! Parameters: `dims` (8), `k` (16) and `rounds` (20); the size is the number of points. The
//! input is `size × dims × 4` bytes, the state `k × dims × 8` and each task's partial
//! `k × (1 + dims) × 8`.

use std::sync::Arc;

use crate::{
    EnvVars, Input, Items, Layout, ParamKind, ParamSpec, Params, Partial, Rounds, SplitMix64,
    TaskContext, TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// Registration of `kmeans`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "kmeans",
    description: "Lloyd's k-means in rounds: tasks map their points under the centroids, the sums reduce into the next centroids",
    kind: WorkKind::Compute,
    default_size: 200_000,
    params: &[
        ParamSpec {
            name: "dims",
            help: "dimensions of a point",
            kind: ParamKind::Int {
                default: 8,
                min: 1,
                max: 64,
            },
        },
        ParamSpec {
            name: "k",
            help: "clusters: the state is k x dims centroids",
            kind: ParamKind::Int {
                default: 16,
                min: 1,
                max: 4_096,
            },
        },
        ParamSpec {
            name: "rounds",
            help: "rounds of Lloyd's algorithm",
            kind: ParamKind::Int {
                default: 20,
                min: 1,
                max: 10_000,
            },
        },
    ],
    environment: None,
    build: &build,
};

fn build(params: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    Ok(Arc::new(KMeans::new(
        params.int("dims") as usize,
        params.int("k") as usize,
        params.int("rounds") as usize,
    )))
}

/// Coordinates are in ±2^20: squared distances of 64 dimensions fit an f64 exactly.
const SPAN: i64 = 1 << 20;
/// Points scatter within ±2^16 of their cluster's centre.
const SPREAD: i64 = 1 << 16;

/// K-means over `dims`-dimensional integer points, `k` clusters, `rounds` rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KMeans {
    dims: usize,
    k: usize,
    rounds: usize,
}

impl KMeans {
    /// K-means with `k` clusters of `dims`-dimensional points, for `rounds` rounds.
    ///
    /// ```
    /// use parbench_workloads::builtin::kmeans::KMeans;
    /// use parbench_workloads::{plan_tasks, run_rounds};
    ///
    /// let kmeans = KMeans::new(8, 16, 20);
    /// let input = kmeans.generate(2_000, 42);
    /// let trace = run_rounds(&kmeans, &input, &plan_tasks(2_000, 8).unwrap(), 42).unwrap();
    /// assert_eq!(trace.len(), 20);
    /// // The same centroids, bit for bit, however the points are split.
    /// assert_eq!(trace, run_rounds(&kmeans, &input, &plan_tasks(2_000, 3).unwrap(), 42).unwrap());
    /// ```
    pub fn new(dims: usize, k: usize, rounds: usize) -> Self {
        Self {
            dims: dims.max(1),
            k: k.max(1),
            rounds,
        }
    }

    /// `size` points around `k` random centres, deterministically from `(size, seed)`: each
    /// point `dims` little-endian `i32`s.
    pub fn generate(&self, size: usize, seed: u64) -> Input {
        let mut rng = SplitMix64::new(seed);
        let mut uniform = |half: i64| (rng.next_u64() % (2 * half as u64 + 1)) as i64 - half;
        let centres: Vec<i64> = (0..self.k * self.dims)
            .map(|_| uniform(SPAN - SPREAD))
            .collect();
        let mut bytes = Vec::with_capacity(size * self.dims * 4);
        for _ in 0..size {
            let cluster = (uniform(SPAN) + SPAN) as usize % self.k;
            for d in 0..self.dims {
                let x = centres[cluster * self.dims + d] + uniform(SPREAD);
                bytes.extend_from_slice(&(x as i32).to_le_bytes());
            }
        }
        Input::new(
            bytes,
            Layout::Fixed {
                len: self.dims * 4,
                count: size,
            },
        )
    }

    fn point(&self, item: &[u8], d: usize) -> i64 {
        i64::from(i32::from_le_bytes([
            item[4 * d],
            item[4 * d + 1],
            item[4 * d + 2],
            item[4 * d + 3],
        ]))
    }

    /// The centroids a state holds, `k × dims` values.
    pub fn centroids(&self, state: &[u8]) -> Vec<f64> {
        state
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect()
    }

    /// The index of the centroid nearest to `item` (ties to the lowest index).
    fn nearest(&self, centroids: &[f64], item: &[u8]) -> usize {
        let mut best = (f64::INFINITY, 0);
        for (c, centroid) in centroids.chunks_exact(self.dims).enumerate() {
            let distance: f64 = centroid
                .iter()
                .enumerate()
                .map(|(d, m)| (self.point(item, d) as f64 - m).powi(2))
                .sum();
            if distance < best.0 {
                best = (distance, c);
            }
        }
        best.1
    }

    /// The sum of squared distances from each point to its nearest centroid: what every round
    /// of Lloyd's algorithm can only lower.
    pub fn inertia(&self, state: &[u8], input: &Input) -> f64 {
        let centroids = self.centroids(state);
        input
            .view()
            .iter()
            .map(|item| {
                let c = self.nearest(&centroids, item);
                (0..self.dims)
                    .map(|d| (self.point(item, d) as f64 - centroids[c * self.dims + d]).powi(2))
                    .sum::<f64>()
            })
            .sum()
    }
}

impl Workload for KMeans {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        KMeans::generate(self, size, seed)
    }

    fn output_len(&self) -> usize {
        0
    }

    /// Refused: k-means is work in rounds, which a strategy drives through
    /// [`Workload::as_rounds`].
    fn run_task(&self, _: &TaskContext, _: Items<'_>, _: &mut [u8]) -> Result<Partial, TaskError> {
        Err(TaskError::error(
            "kmeans runs in rounds, not as one pass of tasks",
        ))
    }

    fn as_rounds(&self) -> Option<&dyn Rounds> {
        Some(self)
    }
}

impl Rounds for KMeans {
    fn rounds(&self) -> usize {
        self.rounds
    }

    /// The first `k` points (repeated when there are fewer).
    fn initial_state(&self, input: &Input) -> Vec<u8> {
        let items = input.view();
        let mut state = Vec::with_capacity(self.k * self.dims * 8);
        for c in 0..self.k {
            for d in 0..self.dims {
                let x = if items.is_empty() {
                    0.0
                } else {
                    self.point(items.get(c % items.len()), d) as f64
                };
                state.extend_from_slice(&x.to_le_bytes());
            }
        }
        state
    }

    /// Per cluster: the count of its points, then the sum of each coordinate (`i64`s).
    fn map(&self, _: &TaskContext, state: &[u8], items: Items<'_>) -> Result<Vec<u8>, TaskError> {
        let centroids = self.centroids(state);
        if centroids.len() != self.k * self.dims {
            return Err(TaskError::error(format!(
                "a k-means state of {} bytes, not {}",
                state.len(),
                self.k * self.dims * 8
            )));
        }
        let mut sums = vec![0i64; self.k * (1 + self.dims)];
        for item in items.iter() {
            let c = self.nearest(&centroids, item);
            let row = &mut sums[c * (1 + self.dims)..(c + 1) * (1 + self.dims)];
            row[0] += 1;
            for d in 0..self.dims {
                row[1 + d] += self.point(item, d);
            }
        }
        Ok(sums.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// Each centroid the mean of its points; a cluster that lost every point keeps its place.
    fn reduce(&self, state: &[u8], partials: &[&[u8]]) -> Vec<u8> {
        let mut sums = vec![0i64; self.k * (1 + self.dims)];
        for partial in partials {
            for (sum, bytes) in sums.iter_mut().zip(partial.chunks_exact(8)) {
                *sum += i64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]));
            }
        }
        let previous = self.centroids(state);
        let mut next = Vec::with_capacity(self.k * self.dims * 8);
        for c in 0..self.k {
            let row = &sums[c * (1 + self.dims)..(c + 1) * (1 + self.dims)];
            for d in 0..self.dims {
                let x = if row[0] > 0 {
                    row[1 + d] as f64 / row[0] as f64
                } else {
                    previous.get(c * self.dims + d).copied().unwrap_or(0.0)
                };
                next.extend_from_slice(&x.to_le_bytes());
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan_tasks, run_rounds};

    #[test]
    fn every_split_gives_the_same_centroids_bit_for_bit() {
        let kmeans = KMeans::new(8, 16, 20);
        let input = kmeans.generate(5_000, 7);
        let reference = run_rounds(&kmeans, &input, &plan_tasks(5_000, 1).unwrap(), 42).unwrap();
        for tasks in [2, 7, 64, 5_000] {
            let trace =
                run_rounds(&kmeans, &input, &plan_tasks(5_000, tasks).unwrap(), 42).unwrap();
            assert_eq!(trace, reference, "{tasks} tasks");
        }
        // The centroids moved, and another seed gives others.
        assert_ne!(reference[0], kmeans.initial_state(&input));
        let other = kmeans.generate(5_000, 8);
        assert_ne!(
            run_rounds(&kmeans, &other, &plan_tasks(5_000, 4).unwrap(), 42).unwrap()[19],
            reference[19]
        );
    }

    #[test]
    fn each_round_lowers_the_inertia_and_every_point_is_counted() {
        let kmeans = KMeans::new(4, 6, 12);
        let input = kmeans.generate(3_000, 11);
        let trace = run_rounds(&kmeans, &input, &plan_tasks(3_000, 5).unwrap(), 42).unwrap();
        let mut last = kmeans.inertia(&kmeans.initial_state(&input), &input);
        for state in &trace {
            let inertia = kmeans.inertia(state, &input);
            assert!(inertia <= last, "{inertia} after {last}");
            last = inertia;
        }
        // Converged well below the start: well-separated clusters of points within ±2^16.
        assert!(last < kmeans.inertia(&kmeans.initial_state(&input), &input) / 2.0);
        let context = TaskContext {
            task: plan_tasks(3_000, 1).unwrap().remove(0),
            attempt: 1,
            seed: 11,
        };
        let partial = kmeans.map(&context, &trace[11], input.view()).unwrap();
        let counted: i64 = partial
            .chunks_exact(8)
            .step_by(1 + 4)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .sum();
        assert_eq!(counted, 3_000);
    }

    #[test]
    fn a_dropped_partial_changes_the_centroids() {
        let kmeans = KMeans::new(8, 16, 3);
        let input = kmeans.generate(2_000, 3);
        let tasks = plan_tasks(2_000, 4).unwrap();
        let state = kmeans.initial_state(&input);
        let partials: Vec<Vec<u8>> = tasks
            .iter()
            .map(|t| {
                let context = TaskContext {
                    task: t.clone(),
                    attempt: 1,
                    seed: 3,
                };
                kmeans
                    .map(&context, &state, input.view().slice(t.items.clone()))
                    .unwrap()
            })
            .collect();
        let all: Vec<&[u8]> = partials.iter().map(Vec::as_slice).collect();
        assert_ne!(
            kmeans.reduce(&state, &all),
            kmeans.reduce(&state, &all[1..])
        );
        // A state of the wrong size is refused by name.
        let context = TaskContext {
            task: tasks[0].clone(),
            attempt: 1,
            seed: 3,
        };
        let err = kmeans.map(&context, &state[8..], input.view()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: a k-means state of 1016 bytes, not 1024"
        );
    }
}
