//! The machine watched while it is measured. Between two visits the harness takes a reading
//! of a canary: a compute probe (200,000 dependent multiply-adds, about 0.2 ms) and a
//! memory probe (a copy of 8 MiB, about 1 ms at 15 GB/s), each on every core at once and
//! timed by its slowest thread. A shared host has spells in which one of them slows down while
//! the other does not (another tenant's memory traffic halves the bandwidth and leaves the
//! arithmetic alone; a process that takes a core slows the arithmetic of the thread that
//! shares it); a visit made then measures the spell, not the cell.
//!
//! The probes are short, and the kernel favours a thread that just woke: a process that keeps
//! every core busy barely slows them, while it halves a cell's steady runs. So a reading also
//! counts what the machine did since the reading before — the busy time of every core
//! (`/proc/stat`, the hypervisor's steal included) less this process tree's own
//! (`/proc/self/stat`, its reaped cell processes included) — as a share of the cores.
//!
//! A reading is **disturbed** when other processes used more than [`FOREIGN_LIMIT`] of the
//! cores since the reading before, or when a probe is slower than the run's typical reading
//! (the median of the readings so far) by more than its margin: [`COMPUTE_MARGIN`] for the
//! compute probe; [`COPY_MARGIN`] for the memory probe, in this reading and the one before (a
//! visit that streamed through memory leaves the probe's buffers out of the caches for the
//! one reading after it). Until [`SETTLING`] readings are in, no probe is judged slow: there
//! is no typical reading yet. A visit is disturbed when
//! the reading before it or the one after it is; its samples are kept in the results, marked,
//! and left out of the cell's figures, and the cell is visited again in a later round (see the
//! runner).

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

use parbench_reports::stats::median_sorted;
use parbench_reports::CanaryReading;

/// Multiply-adds of the compute probe.
const CHAIN: u64 = 200_000;

/// Bytes copied by the memory probe: above the private caches, so the copy reaches the shared
/// cache and memory, where other tenants' traffic is felt.
const COPY_BYTES: usize = 8 << 20;

/// How much slower than typical the compute probe must be for a disturbed reading.
pub(crate) const COMPUTE_MARGIN: f64 = 0.5;

/// How much slower than typical the memory probe must be for a disturbed reading.
pub(crate) const COPY_MARGIN: f64 = 0.5;

/// Readings before a probe's time can be judged.
pub(crate) const SETTLING: usize = 10;

/// The share of the cores other processes may use around a visit before it is disturbed: a
/// quiet machine's own kernel threads and daemons stay well below it.
pub(crate) const FOREIGN_LIMIT: f64 = 0.2;

/// CPU time counted by the kernel, in clock ticks: the machine's busy time over every core,
/// and this process's with its reaped children's.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    machine: u64,
    ours: u64,
}

impl Ticks {
    /// Now, from `/proc`; `None` where it cannot be read.
    fn now() -> Option<Ticks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
        let machine = cpu.iter().take(8).sum::<u64>() - cpu.get(3)? - cpu.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // After the command's name: state, then utime, stime, cutime and cstime at 11 to 14.
        let fields: Vec<u64> = own
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        Some(Ticks {
            machine,
            ours: fields.iter().sum(),
        })
    }
}

/// Nanoseconds in a clock tick (`USER_HZ`, 100 on Linux).
const TICK_NS: f64 = 1e7;

/// The canary: one pair of buffers per core, allocated and touched once, and the readings of
/// the run.
pub(crate) struct Canary {
    buffers: Vec<(Vec<u8>, Vec<u8>)>,
    started: Instant,
    readings: Vec<CanaryReading>,
    /// The kernel's counts at the last reading, and when it was taken.
    last: Option<(Ticks, Instant)>,
}

impl Canary {
    /// A canary for a run that started at `started`, probing `cores` cores at once.
    pub fn new(started: Instant, cores: usize) -> Self {
        Self {
            buffers: (0..cores.max(1))
                .map(|_| (vec![1; COPY_BYTES], vec![0; COPY_BYTES]))
                .collect(),
            started,
            readings: Vec::new(),
            last: None,
        }
    }

    /// Takes a reading now, judges it against the readings so far, keeps it and returns it.
    pub fn read(&mut self) -> CanaryReading {
        let cores = self.buffers.len();
        let ticks = Ticks::now();
        let now = Instant::now();
        let foreign_share = match (self.last, ticks) {
            (Some((last, at)), Some(ticks)) => {
                let busy = ticks.machine.saturating_sub(last.machine);
                let ours = ticks.ours.saturating_sub(last.ours);
                let capacity = cores as f64 * now.duration_since(at).as_nanos() as f64;
                // The counts are whole ticks, each charged to whoever ran when it fell: one
                // tick either way is the counting, not the machine.
                let foreign = busy.saturating_sub(ours).saturating_sub(1);
                (foreign as f64 * TICK_NS / capacity.max(1.0)).min(1.0)
            }
            _ => 0.0,
        };
        let start = Barrier::new(cores);
        let times: Vec<(u64, u64)> = std::thread::scope(|scope| {
            let threads: Vec<_> = self
                .buffers
                .iter_mut()
                .map(|(source, target)| {
                    let start = &start;
                    scope.spawn(move || {
                        start.wait();
                        let clock = Instant::now();
                        black_box(chain(black_box(CHAIN)));
                        let compute = clock.elapsed().as_nanos() as u64;
                        let clock = Instant::now();
                        target.copy_from_slice(black_box(source));
                        black_box(target);
                        (compute, clock.elapsed().as_nanos() as u64)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or((u64::MAX, u64::MAX)))
                .collect()
        });
        let compute_ns = times.iter().map(|t| t.0).max().unwrap_or(0);
        let copy_ns = times.iter().map(|t| t.1).max().unwrap_or(0);
        let mut reading = CanaryReading {
            at_ns: self.started.elapsed().as_nanos() as u64,
            compute_ns,
            copy_ns,
            foreign_share,
            disturbed: false,
        };
        reading.disturbed = disturbed(&self.readings, &reading);
        self.readings.push(reading);
        // The probes' own time is this process's; the next reading counts from here.
        self.last = Ticks::now().map(|t| (t, Instant::now()));
        reading
    }

    /// Every reading so far, in order.
    pub fn readings(&self) -> &[CanaryReading] {
        &self.readings
    }

    /// The last reading, if there is one.
    pub fn last_reading(&self) -> Option<CanaryReading> {
        self.readings.last().copied()
    }
}

/// A dependent chain of multiply-adds, each step through `black_box` so that the compiler
/// can neither fold nor vectorize it: its time is the chain's latency on its core.
fn chain(iterations: u64) -> u64 {
    let mut x = 1u64;
    for _ in 0..iterations {
        x = black_box(x)
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    x
}

/// Whether `reading` says the machine was disturbed: others used more than [`FOREIGN_LIMIT`]
/// of it, or a probe was slower than the typical one of `before` by more than its margin.
pub(crate) fn disturbed(before: &[CanaryReading], reading: &CanaryReading) -> bool {
    if reading.foreign_share > FOREIGN_LIMIT {
        return true;
    }
    if before.len() < SETTLING {
        return false;
    }
    let typical = |probe: fn(&CanaryReading) -> u64| {
        let mut values: Vec<f64> = before.iter().map(|r| probe(r) as f64).collect();
        values.sort_by(f64::total_cmp);
        median_sorted(&values)
    };
    let compute = typical(|r| r.compute_ns);
    let copy = typical(|r| r.copy_ns);
    let slow_copy = |r: &CanaryReading| r.copy_ns as f64 > copy * (1.0 + COPY_MARGIN);
    // A visit that streamed through memory evicts the probe's buffers from the caches, and the
    // one reading after it copies slowly: the harness's own doing. A spell of the machine
    // lasts seconds, over many visits: the memory probe counts when two readings in a row
    // are slow.
    let slow_copies = slow_copy(reading) && before.last().is_some_and(slow_copy);
    reading.compute_ns as f64 > compute * (1.0 + COMPUTE_MARGIN) || slow_copies
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn reading(compute_ns: u64, copy_ns: u64) -> CanaryReading {
        CanaryReading {
            compute_ns,
            copy_ns,
            ..CanaryReading::default()
        }
    }

    #[test]
    fn a_reading_is_disturbed_past_a_probes_margin_once_the_run_has_settled() {
        let quiet: Vec<CanaryReading> = (0..SETTLING as u64)
            .map(|i| reading(200_000 + i * 1_000, 1_000_000 + i * 10_000))
            .collect();
        // Typical: 204,500 ns and 1,045,000 ns (the medians of ten); each margin is half.
        assert!(!disturbed(&quiet, &reading(300_000, 1_500_000)));
        assert!(disturbed(&quiet, &reading(310_000, 1_000_000)));
        // One slow copy is the caches after a visit; two in a row, the machine.
        assert!(!disturbed(&quiet, &reading(200_000, 1_600_000)));
        let mut slow = quiet.clone();
        slow.push(reading(200_000, 1_600_000));
        assert!(disturbed(&slow, &reading(200_000, 1_600_000)));
        assert!(!disturbed(&slow, &reading(200_000, 1_100_000)));
        // Before the run has settled, no probe is judged.
        assert!(!disturbed(
            &quiet[..SETTLING - 1],
            &reading(900_000, 9_000_000)
        ));
        // Other processes busy on a fifth of the cores or more: disturbed, however fast the
        // probes were.
        let busy = CanaryReading {
            foreign_share: 0.3,
            ..reading(200_000, 1_000_000)
        };
        assert!(disturbed(&quiet, &busy) && disturbed(&[], &busy));
        let idle = CanaryReading {
            foreign_share: 0.1,
            ..reading(200_000, 1_000_000)
        };
        assert!(!disturbed(&quiet, &idle));
    }

    #[test]
    fn the_canary_takes_readings_of_both_probes() {
        let mut canary = Canary::new(Instant::now(), 2);
        let first = canary.read();
        let second = canary.read();
        assert!(first.compute_ns > 0 && first.copy_ns > 0);
        assert!(second.at_ns >= first.at_ns);
        assert_eq!(canary.readings(), [first, second]);
        assert!((0.0..=1.0).contains(&second.foreign_share));
    }

    #[test]
    fn a_busy_machine_is_seen_as_others_share_of_the_cores() {
        const SPIN: &str = "timeout 0.4 sh -c 'while :; do :; done'";
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut canary = Canary::new(Instant::now(), cores);
        canary.read();
        // A child of this process keeps a core busy for 0.4 s: once reaped, its time is
        // this process tree's own, not the machine's other work.
        let status = std::process::Command::new("sh")
            .args(["-c", SPIN])
            .status()
            .unwrap();
        assert!(!status.success(), "timeout ends the loop");
        let own = canary.read();
        // The same loop in a process that is not ours (its parent exits at once): the
        // machine's other work, a core of the machine's for most of the half second. (Other
        // tests of this binary run beside it: the two are compared, not held to zero.)
        std::process::Command::new("sh")
            .args(["-c", &format!("({SPIN}) >/dev/null 2>&1 &")])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let foreign = canary.read();
        let one_core = 1.0 / cores as f64;
        assert!(foreign.foreign_share > 0.5 * one_core, "{foreign:?}");
        assert!(
            own.foreign_share < 0.5 * foreign.foreign_share,
            "{own:?} {foreign:?}"
        );
    }
}
