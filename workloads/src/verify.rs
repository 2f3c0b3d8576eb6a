//! The answer of a run, as compared with the sequential reference.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{FailureKind, Partial, Task, Workload};

/// A BLAKE3 hash of a run's combined output.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut bytes = [0u8; 32];
        if text.len() != 64 {
            return Err(serde::de::Error::custom("a digest is 64 hex digits"));
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(serde::de::Error::custom)?;
        }
        Ok(Digest(bytes))
    }
}

/// A failed task, as part of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Failure {
    /// The task's id.
    pub task: u32,
    /// Error or panic.
    pub kind: FailureKind,
}

/// What a run computed: a strong digest of the successful tasks' output and combined partial
/// results, and the tasks that failed.
///
/// Two runs of the same (workload, parameters, size, seed, tasks) agree exactly when their
/// answers are equal. Without failures the digest covers the whole output buffer in item order,
/// so it does not depend on how the items were split into tasks.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Answer {
    /// BLAKE3 of the successful tasks' output bytes in item order, then the combined partials.
    pub digest: Digest,
    /// Failed tasks, by task id.
    pub failures: Vec<Failure>,
    /// For a run in rounds, BLAKE3 of the state after each round, so that a check names the
    /// first round that differs; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Digest>,
}

impl Answer {
    /// Computes the answer of a run over `tasks` (in task order) whose output buffer is `output`.
    ///
    /// `partials[i]` is `Some` when task `i` succeeded; the failed ones are listed in
    /// `failures` and their output bytes are left out of the digest (a task may have written
    /// part of its output before it failed).
    pub fn compute(
        workload: &dyn Workload,
        output: &[u8],
        tasks: &[Task],
        partials: &[Option<Partial>],
        mut failures: Vec<Failure>,
    ) -> Self {
        assert_eq!(tasks.len(), partials.len(), "one partial slot per task");
        let len = workload.output_len();
        let mut hasher = blake3::Hasher::new();
        let mut succeeded = Vec::with_capacity(partials.len());
        for (task, partial) in tasks.iter().zip(partials) {
            if let Some(partial) = partial {
                hasher.update(&output[task.items.start * len..task.items.end * len]);
                succeeded.push(partial.as_slice());
            }
        }
        // A separator keeps "output bytes" and "partials" from sliding into each other.
        hasher.update(b"\xffparbench-partials\xff");
        hasher.update(&workload.combine(&succeeded));
        failures.sort();
        Self {
            digest: Digest(*hasher.finalize().as_bytes()),
            failures,
            rounds: Vec::new(),
        }
    }
}

impl Answer {
    /// The answer of a run in rounds: the state after every round that completed, in order,
    /// and the tasks that failed (whose round was then the last).
    ///
    /// ```
    /// use parbench_workloads::Answer;
    ///
    /// let a = Answer::of_rounds(&[vec![1, 2], vec![3]], Vec::new());
    /// // The states' boundaries count: [1, 2], [3] is not [1], [2, 3].
    /// assert_ne!(a, Answer::of_rounds(&[vec![1], vec![2, 3]], Vec::new()));
    /// // Each round's state has a digest of its own.
    /// let b = Answer::of_rounds(&[vec![1, 2], vec![4]], Vec::new());
    /// assert_eq!((a.rounds.len(), a.rounds[0] == b.rounds[0], a.rounds[1] == b.rounds[1]), (2, true, false));
    /// ```
    pub fn of_rounds(states: &[Vec<u8>], mut failures: Vec<Failure>) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"\xffparbench-rounds\xff");
        for state in states {
            hasher.update(&(state.len() as u64).to_le_bytes());
            hasher.update(state);
        }
        failures.sort();
        Self {
            digest: Digest(*hasher.finalize().as_bytes()),
            failures,
            rounds: states
                .iter()
                .map(|state| Digest(*blake3::hash(state).as_bytes()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_through_hex() {
        let d = Digest(*blake3::hash(b"parbench").as_bytes());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json.len(), 66);
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"abc\"").is_err());
    }
}
