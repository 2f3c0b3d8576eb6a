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

use std::time::{Duration, Instant};

use parbench_strategies::profile::{Profiler, Stacks};
use parbench_strategies::{Job, StrategySpec};
use parbench_workloads::Params;

use super::prepare::{run_verified, Prepared};
use super::protocol::{ProfileFailure, Profiled, Profiling};

/// The root frame of the cell process's own stacks.
const CELL_ROOT: &str = "cell";

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

/// Profiles `job` under `strategy` in rounds until the profile holds enough samples or its
/// time is spent.
pub(super) fn record(
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
            run_verified(instance.as_mut(), prepared, job)
                .map_err(|e| e.message)?
                .report
        } else {
            parbench_strategies::run(instance.as_mut(), job.workload.as_ref(), &prepared.tasks)
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
        let job = prepared.job(2);
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
        let job = liar.job(2);
        match record(&liar, (threads, &threads_params), &job, profiling) {
            Err(ProfileFailure::Strategy(message)) => assert!(
                message.contains("differs from the sequential reference"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
