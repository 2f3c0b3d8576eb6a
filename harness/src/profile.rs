//! The profiled run of a cell: after its timed samples have been sent, never during one, a
//! fresh strategy is set up and run under the profiler until the profile holds enough samples,
//! every run verified against the reference like a timed one.
//!
//! pprof's timer is the kernel's `setitimer(ITIMER_PROF)`, so the rate it asks for is not the
//! rate it gets: where the kernel ticks at 250 Hz a process gets about 250 samples per second
//! of CPU time, shared unevenly by its threads. A profile therefore counts the samples it really
//! holds and runs until it holds [`Profiling::samples`] or its runs have taken
//! [`Profiling::time`] (an IO-bound run burns little CPU and gets few samples). Worker
//! processes profile themselves and return their stacks only when they exit, so a strategy
//! that spawns them is profiled in rounds — set up, run, tear down — each sized by what the
//! rounds before it collected.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parbench_reports::flame;

use parbench_strategies::profile::{Profiler, Stacks};
use parbench_strategies::{Job, StrategySpec};
use parbench_workloads::Params;
use serde::{Deserialize, Serialize};

use crate::sampler::{run_verified, Prepared};
use crate::Error;

/// How a cell is profiled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Profiling {
    /// The sampling rate asked for, per second of CPU time.
    pub frequency: u32,
    /// Samples a profile aims for.
    pub samples: u64,
    /// The longest a profile's runs take together (setups and symbol resolution aside).
    pub time: Duration,
}

impl Default for Profiling {
    fn default() -> Self {
        Self {
            // A prime, so the timer does not beat in step with periodic work.
            frequency: 997,
            // A frame with a fifth of the time is then known to about ±8 points (binomial,
            // 95%): enough to rank the frames that matter.
            samples: 100,
            time: Duration::from_secs(1),
        }
    }
}

/// The root frame of the cell process's own stacks.
pub const CELL_ROOT: &str = "cell";

/// Samples per second of CPU time assumed for a worker process until its real count is back:
/// the kernel tick of common configurations. Only sizes a round; the real count decides.
const ASSUMED_RATE: f64 = 250.0;

/// Rounds a profile takes at most: each costs a setup and every process's symbol resolution.
const MAX_ROUNDS: u32 = 3;

/// How often a round looks at its sample count.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// The first round of a strategy with worker processes takes at most this share of the time:
/// every round costs a setup and each process's symbol resolution.
const FIRST_ROUND_SHARE: u32 = 2;

/// A cell's profile as the cell process returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profiled {
    /// Folded stacks, each rooted at its process (`cell`, `process-pool worker 1`, `timely node
    /// 0`), then its thread.
    pub stacks: Vec<(String, u64)>,
    /// Profiled runs, each verified.
    pub runs: u32,
    /// Rounds of setup, runs and teardown.
    pub rounds: u32,
    /// Wall time of the profiled runs.
    pub duration_ns: u64,
}

impl Profiled {
    /// Samples in the profile.
    pub fn samples(&self) -> u64 {
        self.stacks.iter().map(|(_, count)| count).sum()
    }
}

/// Why a profile is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ProfileFailure {
    /// The strategy failed or answered wrongly in a profiled run: the cell fails.
    Strategy(String),
    /// The profiler itself failed; the cell's measurement stands.
    Profiler(String),
}

/// Profiles `job` under `strategy` in rounds until the profile holds enough samples or its
/// time is spent.
pub(crate) fn record(
    prepared: &Prepared,
    (strategy, params): (&StrategySpec, &Params),
    job: &Job,
    profiling: Profiling,
) -> Result<Profiled, ProfileFailure> {
    let mut profiled = Profiled::default();
    let mut run_time = Duration::ZERO;
    loop {
        // The time is the profiled runs': resolving symbols and the rounds' setups do not count.
        let left = profiling.time.saturating_sub(run_time);
        let samples = profiled.samples();
        let need = profiling.samples.saturating_sub(samples);
        // A round's length: all that is left when the cell process sees every sample itself;
        // otherwise a share of it at first, then what the rounds so far say is needed.
        let limit = if !strategy.spawns_processes {
            left
        } else if profiled.rounds == 0 {
            left / FIRST_ROUND_SHARE
        } else {
            let rate = samples as f64 / run_time.as_secs_f64().max(1e-3);
            Duration::from_secs_f64(1.2 * need as f64 / rate.max(1.0)).min(left)
        };
        // Only the first round guesses the workers' samples from their CPU time; the rounds
        // after it are sized by the real counts.
        let guess = profiled.rounds == 0;
        let round = round(
            prepared,
            (strategy, params),
            job,
            profiling,
            (need, guess),
            limit,
        )?;
        run_time += round.elapsed;
        profiled.runs += round.runs;
        profiled.rounds += 1;
        profiled.stacks.extend(round.stacks);
        if profiled.samples() >= profiling.samples
            || run_time >= profiling.time
            || profiled.rounds >= MAX_ROUNDS
        {
            break;
        }
    }
    profiled.duration_ns = run_time.as_nanos() as u64;
    profiled.stacks = Stacks::merged(profiled.stacks).0;
    Ok(profiled)
}

/// One round's stacks, runs and run time.
struct Round {
    stacks: Vec<(String, u64)>,
    runs: u32,
    elapsed: Duration,
}

/// A fresh instance set up with its workers profiling, runs under the profiler until the
/// samples seen (and, with `guess`, those expected of the worker processes from their CPU
/// time) reach `need` or the round has taken `limit` (always one run at least), then torn
/// down.
fn round(
    prepared: &Prepared,
    (strategy, params): (&StrategySpec, &Params),
    job: &Job,
    profiling: Profiling,
    (need, guess): (u64, bool),
    limit: Duration,
) -> Result<Round, ProfileFailure> {
    let failed = |what: &str, e: String| ProfileFailure::Strategy(format!("{what}: {e}"));
    let mut instance = (strategy.build)(params).map_err(|e| failed("build", e.to_string()))?;
    instance.profile_workers(profiling.frequency);
    if let Err(e) = instance.setup(job) {
        let _ = instance.teardown();
        return Err(failed("the profiled run's setup failed", e.to_string()));
    }
    let profiler = match Profiler::start(profiling.frequency) {
        Ok(profiler) => profiler,
        Err(e) => {
            let _ = instance.teardown();
            return Err(ProfileFailure::Profiler(e));
        }
    };
    let started = Instant::now();
    let mut runs = 0u32;
    let mut worker_cpu_ns = 0u64;
    let mut checked = Duration::ZERO;
    // The first and the last run are verified like timed ones; checking the runs between would
    // put the checking, not the strategy, in the profile.
    let mut run = |verified: bool| -> Result<u64, String> {
        let report = if verified {
            run_verified(instance.as_mut(), prepared, job)?.0
        } else {
            instance
                .run(&prepared.tasks)
                .map_err(|e| format!("failed: {e}"))?
        };
        Ok(report.worker_cpu_ns)
    };
    let outcome = run(true).and_then(|cpu| {
        runs += 1;
        worker_cpu_ns += cpu;
        let mut more = false;
        loop {
            let elapsed = started.elapsed();
            if elapsed >= limit {
                break;
            }
            if elapsed - checked >= CHECK_EVERY {
                checked = elapsed;
                let expected = if guess {
                    (worker_cpu_ns as f64 * 1e-9 * ASSUMED_RATE) as u64
                } else {
                    0
                };
                if profiler.samples() + expected >= need {
                    break;
                }
            }
            worker_cpu_ns += run(false)?;
            runs += 1;
            more = true;
        }
        if more {
            run(true)?;
            runs += 1;
        }
        Ok(())
    });
    let outcome = outcome.map_err(|e| format!("the profiled run {e}"));
    let elapsed = started.elapsed();
    let own = profiler.finish(CELL_ROOT);
    let stopped = instance.teardown();
    outcome.map_err(ProfileFailure::Strategy)?;
    let own = own.map_err(ProfileFailure::Profiler)?;
    let stopped =
        stopped.map_err(|e| failed("the profiled run's teardown failed", e.to_string()))?;
    let mut stacks = own.0;
    stacks.extend(stopped.profiles.into_iter().flat_map(|Stacks(s)| s));
    Ok(Round {
        stacks,
        runs,
        elapsed,
    })
}

/// One side of a differential flame graph: a name and its folded stacks.
struct Side {
    name: String,
    stacks: Vec<(String, u64)>,
}

/// Finds `side` — a `.folded` file, `DIR:CELL`, or a cell id (or its flame graph's file stem)
/// in `dir` — and reads its folded stacks.
fn resolve(side: &str, dir: &Path) -> Result<Side, Error> {
    let file = Path::new(side);
    if file.is_file() {
        let text = std::fs::read_to_string(file).map_err(|source| Error::Folded {
            path: file.to_owned(),
            source,
        })?;
        return Ok(Side {
            name: file
                .file_stem()
                .map_or_else(|| side.to_owned(), |s| s.to_string_lossy().into_owned()),
            stacks: flame::parse(&text),
        });
    }
    let (dir, wanted) = match side.split_once(':') {
        Some((other, cell)) if Path::new(other).is_dir() => (Path::new(other), cell),
        _ => (dir, side),
    };
    let results = parbench_reports::read(&dir.join("results.json")).map_err(Error::Results)?;
    let Some(cell) = results
        .cells
        .iter()
        .find(|c| c.id == wanted || flame::file_stem(&c.id) == wanted)
    else {
        return Err(Error::UnknownCell {
            dir: dir.to_owned(),
            cell: wanted.to_owned(),
            known: results
                .cells
                .iter()
                .filter(|c| c.profile.as_ref().is_some_and(|p| !p.folded.is_empty()))
                .map(|c| c.id.clone())
                .collect(),
        });
    };
    let no_profile = |reason: String| Error::NoProfile {
        cell: cell.id.clone(),
        reason,
    };
    let profile =
        match &cell.profile {
            Some(p) if !p.folded.is_empty() => p,
            Some(p) => return Err(no_profile(p.error.clone().unwrap_or_default())),
            None => return Err(no_profile(
                "its run was not profiled (`parbench run` without `--no-profile` profiles every \
                 cell)"
                    .to_owned(),
            )),
        };
    let path = dir.join(&profile.folded);
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Folded { path, source })?;
    Ok(Side {
        name: flame::file_stem(&cell.id),
        stacks: flame::parse(&text),
    })
}

/// Stacks without their process and thread frames: two strategies name their processes and
/// threads differently, and what is compared is where the code spent its time.
fn without_roots(stacks: &[(String, u64)]) -> Vec<(String, u64)> {
    let bare = stacks.iter().filter_map(|(stack, count)| {
        let mut frames = stack.splitn(3, ';');
        let (_process, _thread) = (frames.next(), frames.next());
        Some((frames.next()?.to_owned(), *count))
    });
    Stacks::merged(bare).0
}

/// `parbench diff-flame`: writes the differential flame graph of `before` and `after` and
/// returns its path.
pub fn diff_flame(
    before: &str,
    after: &str,
    dir: &Path,
    out: Option<&Path>,
    keep_roots: bool,
) -> Result<PathBuf, Error> {
    let (before, after) = (resolve(before, dir)?, resolve(after, dir)?);
    let text = |side: &Side| {
        flame::to_text(&if keep_roots {
            side.stacks.clone()
        } else {
            without_roots(&side.stacks)
        })
    };
    let title = format!(
        "{} → {} · red grew, blue shrank (shares of each profile's samples)",
        before.name, after.name
    );
    let svg = flame::render_diff(&text(&before), &text(&after), &title)?;
    let path = match out {
        Some(path) => path.to_owned(),
        None => dir
            .join(flame::DIR)
            .join(format!("diff-{}--{}.svg", before.name, after.name)),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::OutputDir {
            path: parent.to_owned(),
            source,
        })?;
    }
    parbench_reports::write_file_atomically(&path, &svg)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, not two: a process runs one profiler at a time, and tests share a process.
    #[test]
    fn the_profiled_run_is_verified_and_holds_real_samples() {
        let workloads = parbench_workloads::Registry::builtin();
        let spec = workloads.get("square").unwrap();
        let params = spec.resolve(&Default::default()).unwrap();
        let recipe = parbench_workloads::Recipe::new(spec, &params, &Default::default());
        let shape = (200_000, 3, 8);
        let policy = parbench_strategies::FailurePolicy::Collect;
        let prepared = Prepared::new(recipe.clone(), &workloads, shape, policy, None).unwrap();
        let strategies = parbench_strategies::Registry::builtin();
        let threads = strategies.get("threads").unwrap();
        let threads_params = Params::parse(threads.name, threads.params, &[]).unwrap();
        let job = prepared.job(2, 3, policy);
        let profiling = Profiling {
            samples: 20,
            time: Duration::from_millis(500),
            ..Profiling::default()
        };
        let profiled = record(&prepared, (threads, &threads_params), &job, profiling).unwrap();
        assert_eq!(
            profiled.rounds, 1,
            "a strategy within the process takes one round"
        );
        assert!(profiled.runs >= 1);
        assert!(profiled.samples() > 0 && profiled.duration_ns > 0);
        assert!(profiled.stacks.iter().all(|(s, _)| s.starts_with("cell;")));

        // A reference that is not the answer: the profiled run says so, as a sample would.
        let mut wrong = prepared.reference.answer.clone();
        wrong.digest.0[0] ^= 1;
        let liar = Prepared::new(recipe, &workloads, shape, policy, Some(wrong)).unwrap();
        let job = liar.job(2, 3, policy);
        match record(&liar, (threads, &threads_params), &job, profiling) {
            Err(ProfileFailure::Strategy(message)) => assert!(
                message.contains("differs from the sequential reference"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rounds_merge_stack_by_stack() {
        let merged = Stacks::merged(vec![
            ("cell;main;a".into(), 2),
            ("w1;main;b".into(), 3),
            ("cell;main;a".into(), 5),
        ])
        .0;
        assert_eq!(
            merged,
            [("cell;main;a".to_owned(), 7), ("w1;main;b".to_owned(), 3)]
        );
        let bare = without_roots(&[
            ("cell;pb-rayon-0;run;square".into(), 2),
            ("cell;pb-rayon-1;run;square".into(), 3),
            ("cell;main".into(), 9),
        ]);
        assert_eq!(bare, [("run;square".to_owned(), 5)]);
    }
}
