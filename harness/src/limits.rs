//! The machine's limits, probed once per run, so that every cell can say how close it came to
//! what the hardware allows: memory bandwidth (a copy over buffers far larger than the caches,
//! on one thread and on every core at once), the compute speedup ceiling (a dependent chain of
//! multiply-adds on one thread, then on every core at once), and the round trip of one byte
//! through a pipe to another process and back (what every task of a worker process that waits
//! for its next message pays: on a virtual machine, mostly the time to wake a sleeping core).

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use parbench_reports::MachineLimits;

/// Bytes of each thread's source and destination buffers: far above the last-level cache of
/// common CPUs, so the copy streams from and to memory.
const COPY_BYTES: usize = 64 << 20;

/// Timed rounds of each probe; the best one counts (a round that was interrupted is slower,
/// never faster).
const ROUNDS: usize = 5;

/// Multiply-adds per thread in one round of the compute probe.
const ALU_ITERATIONS: u64 = 100_000_000;

/// Round trips of the pipe probe: about a tenth of a second on an idle virtual machine.
const ROUND_TRIPS: usize = 2_000;

/// Probes the machine with `threads` threads for the all-core figures.
pub fn probe(threads: usize) -> MachineLimits {
    probe_sized(threads, COPY_BYTES, ALU_ITERATIONS)
}

/// [`probe`] with buffers of `copy_bytes` and chains of `iterations`.
fn probe_sized(threads: usize, copy_bytes: usize, iterations: u64) -> MachineLimits {
    let threads = threads.max(1);
    let one = copy_rate(1, copy_bytes);
    let all = copy_rate(threads, copy_bytes);
    let alu_one = alu_time(1, iterations);
    let alu_all = alu_time(threads, iterations);
    MachineLimits {
        threads,
        copy_buffer_bytes: copy_bytes as u64,
        copy_one_bytes_per_s: one,
        copy_all_bytes_per_s: all,
        alu_speedup: speedup(threads, alu_one, alu_all),
        pipe_round_trip_ns: pipe_round_trip(ROUND_TRIPS).map(|t| t.as_nanos() as f64),
    }
}

/// How many times one thread's work `threads` threads do in the time one thread does it:
/// each of them ran the same chain, alone in `one`, all at once in `all`.
fn speedup(threads: usize, one: Duration, all: Duration) -> f64 {
    threads as f64 * one.as_secs_f64() / all.as_secs_f64().max(1e-9)
}

/// The median time of one byte written to another process through a pipe and read back through
/// another, over `trips` round trips, each waiting for the last: `cat` echoes the byte, as a
/// worker process answers a message, from an idle start (the machine between cells). The two
/// processes are held on two different cores, as a pool's parent and its busy workers are:
/// left to itself the kernel would run both on one core, where a round trip is two context
/// switches and never wakes a sleeping core. `None` when `cat` cannot be started.
fn pipe_round_trip(trips: usize) -> Option<Duration> {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let mut echo = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let allowed = sched_getaffinity(None).ok();
    let cores: Vec<usize> = allowed.as_ref().map_or(Vec::new(), |set| {
        (0..CpuSet::MAX_CPU)
            .filter(|&c| set.is_set(c))
            .take(2)
            .collect()
    });
    let on = |core: usize| {
        let mut set = CpuSet::new();
        set.set(core);
        set
    };
    if let [here, there] = cores[..] {
        let pid = rustix::process::Pid::from_child(&echo);
        let _ = sched_setaffinity(Some(pid), &on(there));
        let _ = sched_setaffinity(None, &on(here));
    }
    let times = match (echo.stdin.as_mut(), echo.stdout.as_mut()) {
        (Some(to), Some(from)) => (0..trips)
            .map(|_| {
                let mut byte = [0u8; 1];
                let start = Instant::now();
                to.write_all(&[7])?;
                from.read_exact(&mut byte)?;
                Ok(start.elapsed())
            })
            .collect::<std::io::Result<Vec<Duration>>>()
            .ok(),
        _ => None,
    };
    if let Some(allowed) = &allowed {
        let _ = sched_setaffinity(None, allowed);
    }
    // End of file on its stdin ends `cat`; it is reaped either way.
    drop(echo.stdin.take());
    let _ = echo.kill();
    let _ = echo.wait();
    let mut times = times?;
    times.sort_unstable();
    times.get(times.len() / 2).copied()
}

/// Bytes read plus written per second by `threads` threads each copying its own buffer, in
/// the best round.
fn copy_rate(threads: usize, bytes: usize) -> f64 {
    let best = best_round(
        threads,
        || {
            let source = vec![1u8; bytes];
            let target = vec![0u8; bytes];
            (source, target)
        },
        |(source, target)| {
            target.copy_from_slice(black_box(source));
            black_box(target);
        },
    );
    (2 * bytes * threads) as f64 / best.as_secs_f64().max(1e-9)
}

/// The best round's wall time of `threads` threads each running the same dependent chain.
fn alu_time(threads: usize, iterations: u64) -> Duration {
    best_round(
        threads,
        || (),
        |()| {
            black_box(chain(black_box(iterations)));
        },
    )
}

/// Runs `work` on `threads` threads at once, [`ROUNDS`] times, each thread on its own state
/// from `prepare`; returns the best round's time, a round lasting as long as its slowest
/// thread.
fn best_round<S>(
    threads: usize,
    prepare: impl Fn() -> S + Sync,
    work: impl Fn(&mut S) + Sync,
) -> Duration {
    let barrier = Barrier::new(threads);
    let times: Vec<Vec<Duration>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = prepare();
                    (0..ROUNDS)
                        .map(|_| {
                            barrier.wait();
                            let start = Instant::now();
                            work(&mut state);
                            let took = start.elapsed();
                            // Every thread ends the round before the next starts.
                            barrier.wait();
                            took
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    (0..ROUNDS)
        .filter_map(|round| times.iter().filter_map(|t| t.get(round)).max().copied())
        .min()
        .unwrap_or_default()
}

/// A dependent chain of multiply-adds: one at a time, whatever the CPU's width.
fn chain(iterations: u64) -> u64 {
    let mut x = 1u64;
    for _ in 0..iterations {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_measures_positive_rates() {
        // Small sizes: the figures, not their precision, are under test.
        let copy = copy_rate(1, 4 << 20);
        assert!(copy > 1e8, "{copy} B/s");
        assert!(chain(10) != chain(11));
        assert!(alu_time(1, 1_000) > Duration::ZERO);
        // The speedup's value depends on what else the machine runs (other tests run beside
        // this one): its arithmetic is tested on known times, its figure only for sanity (two
        // threads neither slower than a quarter of one nor beyond twice their number).
        let ms = Duration::from_millis;
        assert_eq!(speedup(2, ms(10), ms(10)), 2.0);
        assert_eq!(speedup(2, ms(10), ms(20)), 1.0);
        assert_eq!(speedup(4, ms(30), ms(40)), 3.0);
        let limits = probe_sized(2, 4 << 20, 200_000);
        assert!(
            limits.alu_speedup > 0.25 && limits.alu_speedup < 4.0,
            "{limits:?}"
        );
        assert_eq!(limits.threads, 2);
        // A round trip through two pipes and another process: more than a system call, less
        // than a scheduler's time slice.
        let trip = pipe_round_trip(200).expect("cat echoes");
        assert!(
            trip > Duration::from_nanos(500) && trip < Duration::from_millis(20),
            "{trip:?}"
        );
    }
}
