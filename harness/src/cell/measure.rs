//! The sampler: measures one cell inside one of its processes — the warm-up, then the timed
//! samples this process takes (the run decides how many processes a cell gets); each sample
//! sets a fresh strategy up, runs it cold once and in steady state as often as a sample needs,
//! verifies every answer, and tears it down.

use std::time::Instant;

use parbench_reports::{Resources, Sample, Timeline, TimelineSpan, VisitCosts, WorkerMemory};
use parbench_strategies::{Job, RunReport, StrategySpec};
use parbench_workloads::Params;

use super::prepare::{run_verified, Failure, Prepared, Verified};
use super::protocol::{Measured, PerProcess};
use crate::overhead::{decompose, round_costs};
use crate::probe::{children, peak_rss_bytes, reset_peak_rss, tree_resources};
use crate::stats::median_index;

/// Measures one cell in this process: the warm-up, then timed samples until there are
/// `samples` of them or the process has used its share of the cell's time (one at least).
pub(super) fn measure(
    prepared: &Prepared,
    (strategy, params): (&StrategySpec, &Params),
    job: &Job,
    per_process: PerProcess,
) -> Result<Measured, Failure> {
    let started = Instant::now();
    let mut records: Vec<Sample> = Vec::with_capacity(per_process.samples);
    let mut timelines: Vec<Option<Timeline>> = Vec::with_capacity(per_process.samples);
    let mut costs = VisitCosts::default();
    let mut resources = Resources::default();
    // One steady run per sample until a sample has shown how long a run takes.
    let mut iterations = 1;
    for index in 0.. {
        let clock = Instant::now();
        let (sample, timeline) = take_sample(
            prepared,
            strategy,
            params,
            job,
            iterations,
            (&mut costs.verify_ns, &mut resources),
        )
        .map_err(|e| e.after(format_args!("sample {}: ", index + 1)))?;
        let took = clock.elapsed().as_nanos() as u64;
        if index == 0 {
            iterations = iterations_for(sample.run_ns);
        }
        if index < per_process.warmup {
            costs.warmup_ns += took;
            continue;
        }
        costs.samples_ns += took;
        records.push(sample);
        timelines.push(timeline);
        if records.len() >= per_process.samples || started.elapsed() >= per_process.time {
            break;
        }
    }
    let runs: Vec<u64> = records.iter().map(|s| s.run_ns).collect();
    let median = median_index(&runs).unwrap_or(0);
    Ok(Measured {
        peak_rss_bytes: records.iter().filter_map(|s| s.peak_rss_bytes).max(),
        resources,
        timeline: timelines.swap_remove(median),
        samples: records,
        costs,
        finished_ns: 0,
    })
}

/// How long the steady runs of one sample should last together: short runs are repeated
/// within a sample and averaged (as criterion does), so that a sample is not one
/// timer-and-scheduler-sized measurement.
pub(crate) const SAMPLE_TARGET_NS: u64 = 10_000_000;

/// The most steady runs in one sample.
const MAX_ITERATIONS: u64 = 1_000;

/// Steady runs per sample for runs of `run_ns`: the count whose total is nearest the target
/// (a 7 ms run is one steady run, not two: the sample is long enough to time either way, and
/// a visit's time is better spent on another process).
fn iterations_for(run_ns: u64) -> u32 {
    let run_ns = run_ns.max(1);
    ((SAMPLE_TARGET_NS + run_ns / 2) / run_ns).clamp(1, MAX_ITERATIONS) as u32
}

/// One sample: a fresh strategy set up, run once cold and `iterations` times in steady state
/// with every answer verified, and torn down, each step timed. Also returns the timeline of
/// its median run. The time spent checking answers is added to `checking_ns`.
fn take_sample(
    prepared: &Prepared,
    strategy: &StrategySpec,
    params: &Params,
    job: &Job,
    iterations: u32,
    (checking_ns, resources): (&mut u64, &mut Resources),
) -> Result<(Sample, Option<Timeline>), Failure> {
    // This sample's own high-water mark: from here to its teardown.
    let resettable = reset_peak_rss();
    let mut instance = (strategy.build)(params).map_err(|e| e.to_string())?;
    let clock = Instant::now();
    let setup = instance.setup(job);
    let setup_ns = clock.elapsed().as_nanos() as u64;
    if let Err(e) = setup {
        let _ = instance.teardown();
        return Err(Failure::strategy("setup failed", &e));
    }
    // The first run meets a fresh strategy (cold caches, untouched buffers, workers faulting
    // their pages in) and counts toward end to end; the next ones are steady state.
    let mut verified = |instance: &mut dyn parbench_strategies::Strategy| {
        let run = run_verified(instance, prepared, job)?;
        *checking_ns += run.check_ns;
        Ok::<Verified, Failure>(run)
    };
    let runs = verified(instance.as_mut())
        .map_err(|e| e.after(format_args!("the first run ")))
        .and_then(|first| {
            let steady = (0..iterations)
                .map(|i| {
                    verified(instance.as_mut())
                        .map_err(|e| e.after(format_args!("steady run {} ", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((first, steady))
        });
    // What the strategy holds once set up and run, before its teardown lets it go.
    *resources = resources.max(tree_resources());
    let clock = Instant::now();
    let stopped = instance.teardown();
    let teardown_ns = clock.elapsed().as_nanos() as u64;
    // Whatever the teardown left of its processes: running, or exited and never reaped.
    let left = children();
    let zombie_processes = left.iter().filter(|c| c.zombie).count() as u32;
    let leftover_processes = left.len() as u32 - zombie_processes;
    let (first, steady) = runs?;
    let stopped = stopped.map_err(|e| Failure::strategy("teardown failed", &e))?;
    // Shared pages are counted once, in this process, which created and filled them.
    let workers_private: u64 = stopped
        .workers
        .iter()
        .map(|w| w.peak_rss_bytes.saturating_sub(w.shared_rss_bytes))
        .sum();
    let own_peak = peak_rss_bytes().filter(|_| resettable);
    let count = steady.len() as u64;
    let total_ns: u64 = steady.iter().map(|v| v.report.wall_ns()).sum();
    let cpu_ns: u64 = steady
        .iter()
        .map(|v| v.cpu_ns + v.report.worker_cpu_ns)
        .sum();
    // The run whose time is the median of the sample stands for it in the decomposition.
    let walls: Vec<u64> = steady.iter().map(|v| v.report.wall_ns()).collect();
    let report = &steady[median_index(&walls).unwrap_or(0)].report;
    let overhead = decompose(report.lanes, report.start_ns, report.end_ns, &report.spans)
        .map_err(|e| e.to_string())?;
    let sample = Sample {
        // The run numbers its processes and rounds.
        process: 0,
        round: 0,
        disturbed: false,
        setup_ns,
        first_run_ns: first.report.wall_ns(),
        iterations: count as u32,
        run_ns: total_ns / count,
        teardown_ns,
        cpu_ns: cpu_ns / count,
        skipped_tasks: report.skipped(),
        failed_tasks: report.failed() as u32,
        fail_stop_ns: report.first_failure_ns().map(|f| report.end_ns - f),
        lanes: report.lanes,
        overhead,
        bytes_moved: report.bytes_moved,
        work_rounds: round_costs(&report.rounds, &report.spans),
        leftover_processes,
        zombie_processes,
        peak_rss_bytes: own_peak.map(|own| own + workers_private),
        worker_memory: stopped
            .workers
            .iter()
            .map(|w| WorkerMemory {
                peak_rss_bytes: w.peak_rss_bytes,
                shared_rss_bytes: w.shared_rss_bytes,
            })
            .collect(),
    };
    Ok((sample, timeline(report)))
}

/// The run's spans relative to its start, when there are few enough to draw.
fn timeline(report: &RunReport) -> Option<Timeline> {
    if report.spans.len() > Timeline::MAX_SPANS {
        return None;
    }
    let mut spans: Vec<TimelineSpan> = report
        .spans
        .iter()
        .map(|s| TimelineSpan {
            lane: s.worker,
            task: s.task,
            start_ns: s.start_ns.saturating_sub(report.start_ns),
            end_ns: s.end_ns.saturating_sub(report.start_ns),
        })
        .collect();
    spans.sort_unstable_by_key(|s| (s.start_ns, s.lane));
    Some(Timeline {
        run_ns: report.wall_ns(),
        lanes: report.lanes,
        spans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_are_repeated_to_fill_a_sample() {
        assert_eq!(iterations_for(1_000_000), 10);
        assert_eq!(iterations_for(3_000_000), 3);
        assert_eq!(iterations_for(3_500_000), 3);
        assert_eq!(iterations_for(4_500_000), 2);
        assert_eq!(iterations_for(6_600_000), 2);
        assert_eq!(iterations_for(6_700_000), 1);
        assert_eq!(iterations_for(10_000_000), 1);
        assert_eq!(iterations_for(2_000_000_000), 1);
        assert_eq!(iterations_for(20), 1_000);
        assert_eq!(iterations_for(0), 1_000);
    }
}
