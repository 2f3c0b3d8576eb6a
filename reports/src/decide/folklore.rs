//! The folklore tree: the rule of thumb the essay parbench grew from ends with, each branch
//! checked against the measured cases.
//!
//! A branch is a kind of work and the strategy it recommends. The buckets that fall under it
//! are its evidence: the branch **holds** when its strategy won, or tied for the win, in more
//! than half of them; it is **contradicted** when not; it is **not measured here** when no
//! bucket of the run falls under it.

use super::{Case, Feature};

/// What the measurements say of a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Its strategy won or tied for the win in more than half of its buckets.
    Holds,
    /// It did not.
    Contradicted,
    /// No bucket falls under the branch.
    NotMeasured,
}

impl Verdict {
    /// `holds`, `contradicted`, `not measured here`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Contradicted => "contradicted",
            Verdict::NotMeasured => "not measured here",
        }
    }
}

/// One branch of the folklore tree, as the essay words it and as parbench reads it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The kind of work, in the essay's words.
    pub work: &'static str,
    /// What it recommends, in the essay's words.
    pub advice: &'static str,
    /// The strategies that stand for the advice here: any of them winning upholds it.
    pub strategies: &'static [&'static str],
    /// How a bucket is recognised as this kind of work, in words.
    pub reading: &'static str,
    /// Whether a case is this kind of work.
    pub matches: fn(&Case) -> bool,
}

/// Data a process copies for a task without the copy mattering: 64 KiB in and out.
const SMALL_DATA_BYTES: f64 = 65_536.0;

/// A task that waits half its time or more is IO-bound.
const WAITING: f64 = 0.5;

fn cpu_small(case: &Case) -> bool {
    case.feature(Feature::WaitingShare) < WAITING
        && case.feature(Feature::BytesPerTask) <= SMALL_DATA_BYTES
}

fn io_simple(case: &Case) -> bool {
    case.feature(Feature::WaitingShare) >= WAITING
}

/// Work in rounds that exchange a state.
fn iterative(case: &Case) -> bool {
    case.feature(Feature::Rounds) > 1.0
}

/// The measured work has none of these shapes.
fn none(_: &Case) -> bool {
    false
}

/// The essay's five branches.
pub const RULES: [Rule; 5] = [
    Rule {
        work: "CPU-intensive work on small data",
        advice: "processes with shared memory",
        strategies: &["process-shm"],
        reading: "waiting share under 50% and at most 64 KiB per task",
        matches: cpu_small,
    },
    Rule {
        work: "IO-intensive work with simple logic",
        advice: "a thread pool with async",
        strategies: &["tokio", "thread-pool"],
        reading: "waiting share of 50% or more",
        matches: io_simple,
    },
    Rule {
        work: "complex data pipelines with lazy evaluation",
        advice: "a dataflow engine",
        strategies: &["timely"],
        reading: "a workload of several stages (none measured: every workload is one stage, \
                  in one pass or in rounds)",
        matches: none,
    },
    Rule {
        work: "iterative algorithms with shared state",
        advice: "actors",
        strategies: &["actors"],
        reading: "a workload of rounds that exchange a state (kmeans)",
        matches: iterative,
    },
    Rule {
        work: "real-time streams",
        advice: "a stream engine",
        strategies: &["timely"],
        reading: "an unbounded stream with latency targets (none measured: parbench measures \
                  batches)",
        matches: none,
    },
];

/// A branch with its verdict and evidence.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Branch {
    /// The kind of work.
    pub work: &'static str,
    /// The advice.
    pub advice: &'static str,
    /// How buckets were recognised.
    pub reading: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// The buckets under the branch (indices into the cases).
    pub cases: Vec<usize>,
    /// Of those, the ones the advised strategies won or tied for.
    pub upheld: usize,
    /// The measured winners of the buckets under the branch, most frequent first.
    pub winners: Vec<(String, usize)>,
}

/// Whether `strategy` (`process-pool[resident=true]` too) stands for one of `advised`.
fn advised(strategy: &str, advised: &[&str]) -> bool {
    let base = strategy.split('[').next().unwrap_or(strategy);
    advised.contains(&base)
}

/// Every branch of [`RULES`] checked against `cases`.
pub fn folklore(cases: &[Case]) -> Vec<Branch> {
    RULES
        .iter()
        .map(|rule| {
            let under: Vec<usize> = (0..cases.len())
                .filter(|&i| (rule.matches)(&cases[i]))
                .collect();
            let upheld = under
                .iter()
                .filter(|&&i| cases[i].tied.iter().any(|s| advised(s, rule.strategies)))
                .count();
            let mut winners: Vec<(String, usize)> = Vec::new();
            for &i in &under {
                match winners.iter_mut().find(|(w, _)| *w == cases[i].winner) {
                    Some((_, n)) => *n += 1,
                    None => winners.push((cases[i].winner.clone(), 1)),
                }
            }
            winners.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Branch {
                work: rule.work,
                advice: rule.advice,
                reading: rule.reading,
                verdict: if under.is_empty() {
                    Verdict::NotMeasured
                } else if 2 * upheld > under.len() {
                    Verdict::Holds
                } else {
                    Verdict::Contradicted
                },
                cases: under,
                upheld,
                winners,
            }
        })
        .collect()
}

impl Branch {
    /// The evidence in a line: `7 buckets; process-shm won or tied in 1; winners: rayon 4,
    /// threads 2, process-shm 1`.
    pub fn evidence(&self) -> String {
        if self.cases.is_empty() {
            return "no bucket of this run".to_owned();
        }
        let winners: Vec<String> = self
            .winners
            .iter()
            .map(|(w, n)| format!("{w} {n}"))
            .collect();
        format!(
            "{} bucket{}; the advice won or tied in {}; winners: {}",
            self.cases.len(),
            if self.cases.len() == 1 { "" } else { "s" },
            self.upheld,
            winners.join(", ")
        )
    }
}
