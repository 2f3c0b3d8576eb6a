//! The regression gate on synthetic results with a known answer: how often it flags a build
//! compared with itself, how often it finds a known slowdown, whether its intervals cover the
//! true change, and what it refuses.

use parbench_reports::compare::{
    compare, markdown, screen, terminal, CompareError, Metric, Mode, Options, Row, Verdict, MARKER,
};
use parbench_reports::{CanaryReading, Cell, Pairing, Results, Sample, Status};

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/results.json")).unwrap()
}

/// A deterministic generator: xorshift64* and Box–Muller.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// How a simulated pair of runs differs.
#[derive(Clone, Copy)]
struct World {
    /// Rounds (pairs), one process per side each.
    rounds: u32,
    /// The round's machine: a factor both sides share in a paired run (drawn anew per side in
    /// independent runs).
    between: f64,
    /// Each process's own noise.
    within: f64,
    /// The new build's `spin` cells run this much slower.
    spin_slowdown: f64,
    paired: bool,
}

/// Two results of `cells` cells (half of them `spin`), simulated in `world`.
fn simulate(world: World, cells: usize, noise: &mut Noise) -> (Results, Results) {
    let template = fixture();
    let mut sides = [template.clone(), template];
    for (i, side) in sides.iter_mut().enumerate() {
        side.cells.clear();
        side.pairing = world.paired.then(|| Pairing {
            run: "simulated".to_owned(),
            side: ["base", "new"][i].to_owned(),
            binary: "parbench".to_owned(),
            confirmation_round: None,
        });
    }
    let cell_template = fixture().cells.remove(0);
    for c in 0..cells {
        let workload = if c % 2 == 0 { "spin" } else { "square" };
        let id = format!("{workload}/size=1000/tasks={}/threads/w2", c + 1);
        let true_ns = 1e6 * (1 + c) as f64;
        let mut made: [Cell; 2] = [cell_template.clone(), cell_template.clone()];
        for cell in &mut made {
            cell.id = id.clone();
            cell.workload = workload.to_owned();
            cell.strategy = "threads".to_owned();
            cell.tasks = c + 1;
            cell.samples.clear();
        }
        for round in 1..=world.rounds {
            let shared = (world.between * noise.normal()).exp();
            for (side, cell) in made.iter_mut().enumerate() {
                let machine = if world.paired {
                    shared
                } else {
                    (world.between * noise.normal()).exp()
                };
                let slower = if side == 1 && workload == "spin" {
                    1.0 + world.spin_slowdown
                } else {
                    1.0
                };
                let run = true_ns * slower * machine * (world.within * noise.normal()).exp();
                let mut sample = Sample {
                    process: round,
                    round,
                    run_ns: run as u64,
                    setup_ns: (run * 0.1) as u64,
                    first_run_ns: run as u64,
                    teardown_ns: (run * 0.01) as u64,
                    iterations: 1,
                    bytes_moved: if c % 3 == 0 { 0 } else { 4096 },
                    peak_rss_bytes: Some((8e6 * (0.01 * noise.normal()).exp()) as u64),
                    ..Sample::default()
                };
                sample.overhead.capacity_ns = 1_000_000;
                sample.overhead.busy_ns = (900_000.0 + 5_000.0 * noise.normal()) as u64;
                cell.samples.push(sample);
            }
        }
        let [b, n] = made;
        sides[0].cells.push(b);
        sides[1].cells.push(n);
    }
    let [base, new] = sides;
    (base, new)
}

/// A paired run's confirmation: the cells the first rounds (of `world`) screen as regressed,
/// measured in `again.rounds` more rounds of the world `again`.
fn confirm_in(
    world: World,
    again: World,
    base: &mut Results,
    new: &mut Results,
    noise: &mut Noise,
) {
    let screened = screen(base, new, &Options::default()).unwrap();
    if screened.is_empty() {
        return;
    }
    let cells = base.cells.len();
    let (more_base, more_new) = simulate(again, cells, noise);
    let first = world.rounds + 1;
    for (side, more) in [(&mut *base, more_base), (&mut *new, more_new)] {
        for (cell, extra) in side.cells.iter_mut().zip(more.cells) {
            if screened.contains(&cell.id) {
                cell.samples.extend(extra.samples.into_iter().map(|mut s| {
                    s.round += world.rounds;
                    s.process += world.rounds;
                    s
                }));
            }
        }
        side.pairing.as_mut().unwrap().confirmation_round = Some(first);
    }
}

/// [`confirm_in`] the same world.
fn confirm(world: World, base: &mut Results, new: &mut Results, noise: &mut Noise) {
    confirm_in(world, world, base, new, noise);
}

/// A whole paired gate in `world`: screening, confirmation, verdicts.
fn gate(world: World, cells: usize, noise: &mut Noise) -> Vec<(String, Metric, Verdict)> {
    let (mut base, mut new) = simulate(world, cells, noise);
    confirm(world, &mut base, &mut new, noise);
    verdicts(&base, &new)
}

/// Whether a row's interval excludes no change (whether or not it reaches the threshold).
fn excludes_zero(row: &Row) -> bool {
    row.low.is_some_and(|lo| lo > 0.0) || row.high.is_some_and(|hi| hi < 0.0)
}

fn flagged(verdicts: &[(String, Metric, Verdict)], workload: &str) -> usize {
    verdicts
        .iter()
        .filter(|(w, m, v)| w == workload && *m == Metric::Run && *v == Verdict::Regression)
        .count()
}

fn verdicts(base: &Results, new: &Results) -> Vec<(String, Metric, Verdict)> {
    compare(base, new, &Options::default())
        .unwrap()
        .rows
        .into_iter()
        .map(|r| (r.workload, r.metric, r.verdict))
        .collect()
}

#[test]
fn independent_runs_of_one_build_hold_the_family_wise_level() {
    let mut noise = Noise(0x5eed);
    let world = World {
        rounds: 8,
        between: 0.10,
        within: 0.03,
        spin_slowdown: 0.0,
        paired: false,
    };
    let trials = 200;
    let (mut alarms, mut lenient_alarms, mut tests) = (0, 0, 0);
    // alpha 0.99 over 40 metrics: each interval at 1 - 0.99/40, so each metric alone is
    // flagged 2.5% of the time: the intervals' own calibration.
    let lenient = Options {
        alpha: 0.99,
        ..Options::default()
    };
    for _ in 0..trials {
        let (base, new) = simulate(world, 10, &mut noise);
        let comparison = compare(&base, &new, &Options::default()).unwrap();
        assert_eq!(comparison.mode, Mode::Independent);
        // Bytes never vary: 10 cells x 4 metrics vary.
        assert_eq!(comparison.tests, 40);
        let changed = |r: &Row| matches!(r.verdict, Verdict::Regression | Verdict::Improvement);
        if comparison.rows.iter().any(changed) {
            alarms += 1;
        }
        // Each interval that excludes no change (whether or not it reaches the threshold).
        let comparison = compare(&base, &new, &lenient).unwrap();
        lenient_alarms += comparison.rows.iter().filter(|r| excludes_zero(r)).count();
        tests += comparison.tests;
    }
    // At most alpha (5%) of comparisons flag anything (Bonferroni is conservative: end to end
    // moves with the run time here, so fewer than 40 tests are independent).
    assert!(
        alarms * 100 <= trials * 7,
        "false alarms in {alarms} of {trials} trials"
    );
    let rate = lenient_alarms as f64 / tests as f64;
    assert!(
        (0.015..=0.035).contains(&rate),
        "each metric flagged {rate:.4} of the time"
    );
}

#[test]
fn a_paired_gate_of_one_build_screens_at_its_level_and_fails_at_most_alpha() {
    let mut noise = Noise(0xa11);
    let world = World {
        rounds: 20,
        between: 0.10,
        within: 0.03,
        spin_slowdown: 0.0,
        paired: true,
    };
    let trials = 300;
    let (mut screened, mut failed) = (0, 0);
    for _ in 0..trials {
        let (mut base, mut new) = simulate(world, 10, &mut noise);
        let first = compare(&base, &new, &Options::default()).unwrap();
        screened += first.rows.iter().filter(|r| excludes_zero(r)).count();
        confirm(world, &mut base, &mut new, &mut noise);
        let comparison = compare(&base, &new, &Options::default()).unwrap();
        assert_eq!(comparison.mode, Mode::Paired);
        if comparison.regressed() {
            failed += 1;
        }
    }
    // The screening: each of 40 metrics' intervals excludes no change at most 0.2% of the time
    // (order statistics cover at least what they claim), 24 of 12,000 here.
    assert!(
        screened <= 24,
        "{screened} intervals of 12,000 excluded no change"
    );
    // The gate: at most 5% of trials, and here far less (a screened fluke must recur).
    assert!(
        failed <= trials / 50,
        "the gate failed {failed} of {trials} trials"
    );
}

#[test]
fn a_known_slowdown_is_found_and_nothing_else_is() {
    let mut noise = Noise(42);
    let world = World {
        rounds: 20,
        between: 0.15,
        within: 0.015,
        spin_slowdown: 0.10,
        paired: true,
    };
    let (mut found, mut spin_cells, mut others) = (0, 0, 0);
    for _ in 0..10 {
        let v = gate(world, 20, &mut noise);
        found += flagged(&v, "spin");
        spin_cells += 10;
        others += flagged(&v, "square");
    }
    assert!(found * 100 >= spin_cells * 95, "{found} of {spin_cells}");
    assert_eq!(others, 0);
}

#[test]
fn paired_intervals_cover_the_true_change() {
    let mut noise = Noise(7);
    let world = World {
        rounds: 20,
        between: 0.2,
        within: 0.05,
        spin_slowdown: 0.10,
        paired: true,
    };
    let (mut covered, mut total) = (0, 0);
    for _ in 0..100 {
        let (base, new) = simulate(world, 4, &mut noise);
        let comparison = compare(&base, &new, &Options::default()).unwrap();
        for row in comparison.rows.iter().filter(|r| r.metric == Metric::Run) {
            let truth = if row.workload == "spin" { 0.10 } else { 0.0 };
            total += 1;
            if row.low.unwrap() <= truth && truth <= row.high.unwrap() {
                covered += 1;
            }
        }
    }
    // Each interval is the screening's, at 99.8% (or more: order statistics cover at least
    // what they claim).
    assert!(covered * 1000 >= total * 990, "{covered} of {total}");
}

#[test]
fn independent_runs_keep_the_machine_noise_and_say_so() {
    let mut noise = Noise(9);
    let world = World {
        rounds: 20,
        between: 0.15,
        within: 0.015,
        spin_slowdown: 0.10,
        paired: false,
    };
    let (base, new) = simulate(world, 10, &mut noise);
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    assert_eq!(comparison.mode, Mode::Independent);
    // The machine's 15% between processes does not cancel: no 10% change can be told apart.
    let run: Vec<_> = comparison
        .rows
        .iter()
        .filter(|r| r.metric == Metric::Run)
        .collect();
    assert!(
        run.iter().all(|r| r.verdict == Verdict::Inconclusive),
        "{run:?}"
    );
    assert!(terminal(&comparison, false).contains("independent runs are not measured again"));
    // The same world paired finds them.
    let v = gate(
        World {
            paired: true,
            ..world
        },
        10,
        &mut noise,
    );
    assert_eq!(flagged(&v, "spin"), 5);
}

#[test]
fn independent_runs_set_the_machines_paces_side_by_side() {
    let mut noise = Noise(13);
    let world = World {
        rounds: 6,
        between: 0.02,
        within: 0.01,
        spin_slowdown: 0.0,
        paired: false,
    };
    let (mut base, mut new) = simulate(world, 2, &mut noise);
    let readings = |compute_ns: u64, copy_ns: u64| -> Vec<CanaryReading> {
        (0..9)
            .map(|i| CanaryReading {
                at_ns: i * 1_000_000_000,
                compute_ns: compute_ns + 100 * i,
                copy_ns,
                foreign_share: 0.0,
                // A disturbed reading counts for nothing.
                disturbed: i == 8,
            })
            .collect()
    };
    // The new run's machine: 2.2% slower at compute, 3% faster at copying memory.
    base.canary = readings(200_000, 1_000_000);
    new.canary = readings(204_400, 970_000);
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    let (a, b) = comparison.pace.expect("both runs have readings");
    assert_eq!((a.compute_ns, b.compute_ns), (200_350.0, 204_750.0));
    assert!(terminal(&comparison, false).contains(
        "the machine's pace, by the canary: compute probe +2.2%, memory probe -3.0% in new's run \
         against base's"
    ));
    // A paired run's turns cancel the machine's pace: nothing to say.
    let (mut base, mut new) = simulate(
        World {
            paired: true,
            ..world
        },
        2,
        &mut noise,
    );
    base.canary = readings(200_000, 1_000_000);
    new.canary = readings(204_400, 970_000);
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    assert_eq!(comparison.pace, None);
    assert!(!terminal(&comparison, false).contains("pace"));
}

#[test]
fn a_regression_stands_only_when_the_confirmation_finds_it_too() {
    let mut noise = Noise(11);
    let world = World {
        rounds: 20,
        between: 0.1,
        within: 0.01,
        spin_slowdown: 0.10,
        paired: true,
    };
    let (mut base, mut new) = simulate(world, 2, &mut noise);
    // Rounds 21..=40: the confirmation, where the spin cell is as fast as the base (the first
    // flag was a fluke) ...
    let fluke = World {
        spin_slowdown: 0.0,
        ..world
    };
    confirm_in(world, fluke, &mut base, &mut new, &mut noise);
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    let spin = comparison
        .rows
        .iter()
        .find(|r| r.workload == "spin" && r.metric == Metric::Run)
        .unwrap();
    assert_ne!(spin.verdict, Verdict::Regression, "{spin:?}");
    assert_eq!(
        spin.note.as_deref(),
        Some("flagged by the first rounds, not confirmed by the second measurement")
    );
    let confirmation = comparison.confirmation.as_ref().unwrap();
    assert_eq!((confirmation.round, confirmation.confirmed), (21, 0));
    assert!(confirmation.flagged >= 1);
    assert!(!comparison.regressed());

    // ... and where it is slower again: confirmed.
    let (mut base, mut new) = simulate(world, 2, &mut noise);
    confirm(world, &mut base, &mut new, &mut noise);
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    let spin = comparison
        .rows
        .iter()
        .find(|r| r.workload == "spin" && r.metric == Metric::Run)
        .unwrap();
    assert_eq!(spin.verdict, Verdict::Regression);
    assert_eq!(
        spin.note.as_deref(),
        Some("confirmed by a second measurement")
    );
    assert_eq!(comparison.exit_code(), 1);
}

#[test]
fn a_failed_cell_fails_the_gate_and_says_why() {
    let base = fixture();
    let mut new = base.clone();
    new.cells[0].status = Status::Failed;
    new.cells[0].error = Some("sample 2: digest differs".to_owned());
    let comparison = compare(&base, &new, &Options::default()).unwrap();
    let first = &comparison.changed()[0];
    assert_eq!(first.verdict, Verdict::Failed);
    assert_eq!(
        first.note.as_deref(),
        Some("the new build's cell failed (failed): sample 2: digest differs")
    );
    assert_eq!(comparison.exit_code(), 1);
    // The fixture's cell that crashes by design crashes in both: not a new failure.
    let both = comparison
        .rows
        .iter()
        .find(|r| r.cell.starts_with("risky[fault=abort]"))
        .unwrap();
    assert_eq!(both.verdict, Verdict::Inconclusive);
    let note = both.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("failed in both builds (crash): "),
        "{note}"
    );
}

#[test]
fn processes_the_canary_saw_disturbed_are_left_out_of_the_gate() {
    // Each cell's first process, in both runs, measured while the canary saw the machine
    // disturbed (`disturbed`), and three times slower in the new run.
    let marked = |results: &mut Results, disturbed: bool, slower: u64| {
        for cell in &mut results.cells {
            for sample in cell.samples.iter_mut().filter(|s| s.process == 1) {
                sample.run_ns *= slower;
                sample.disturbed = disturbed;
            }
        }
    };
    let changes = |disturbed: bool| -> Vec<f64> {
        let (mut base, mut new) = (fixture(), fixture());
        marked(&mut base, disturbed, 1);
        marked(&mut new, disturbed, 3);
        compare(&base, &new, &Options::default())
            .unwrap()
            .rows
            .iter()
            .filter(|r| r.metric == Metric::Run)
            .filter_map(|r| r.change)
            .collect()
    };
    // Left in, the slow process moves every cell.
    let left_in = changes(false);
    assert!(
        !left_in.is_empty() && left_in.iter().all(|&c| c > 0.1),
        "{left_in:?}"
    );
    // Left out, the two runs are the same processes.
    let left_out = changes(true);
    assert_eq!(left_out.len(), left_in.len());
    assert!(left_out.iter().all(|&c| c == 0.0), "{left_out:?}");
}

#[test]
fn a_run_against_itself_changes_nothing() {
    let results = fixture();
    let comparison = compare(&results, &results, &Options::default()).unwrap();
    assert_eq!(comparison.mode, Mode::Independent);
    assert_eq!(comparison.count(Verdict::Regression), 0);
    assert_eq!(comparison.count(Verdict::Improvement), 0);
    assert_eq!(comparison.exit_code(), 0);
    // Every change is exactly zero.
    assert!(comparison
        .rows
        .iter()
        .all(|r| r.change.is_none_or(|c| c == 0.0)));
    let md = markdown(&comparison);
    assert!(md.starts_with(MARKER));
    assert!(md.contains("no regression"));
}

#[test]
fn other_machines_are_refused_unless_forced() {
    let base = fixture();
    let mut new = base.clone();
    new.machine.logical_cores = 64;
    new.machine.governor = Some("performance".to_owned());
    let err = compare(&base, &new, &Options::default()).unwrap_err();
    assert!(matches!(err, CompareError::OtherMachine(_)));
    assert_eq!(
        err.to_string(),
        format!(
            "the results come from different machines (logical cores: {} vs 64; governor: none vs \
             performance); timings of two machines say nothing about two builds \
             (--allow-other-machine compares them anyway)",
            base.machine.logical_cores
        )
    );
    let forced = Options {
        allow_other_machine: true,
        ..Options::default()
    };
    let comparison = compare(&base, &new, &forced).unwrap();
    assert_eq!(comparison.other_machine.len(), 2);
    assert!(terminal(&comparison, false).contains("FORCED ACROSS MACHINES"));
    assert!(markdown(&comparison).contains("FORCED ACROSS MACHINES"));
}

#[test]
fn different_cells_are_listed_never_dropped() {
    let base = fixture();
    let mut new = base.clone();
    let gone = new.cells.remove(3).id;
    new.cells[0].id = "square/size=7/tasks=1/sequential/w1".to_owned();
    let err = compare(&base, &new, &Options::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the results hold different cells: only in base: {}, {gone}; only in new: \
             square/size=7/tasks=1/sequential/w1 (--common-only compares the",
            base.cells[0].id
        )),
        "{text}"
    );
    let common = Options {
        common_only: true,
        ..Options::default()
    };
    let comparison = compare(&base, &new, &common).unwrap();
    assert_eq!(comparison.only_base.len(), 2);
    assert_eq!(comparison.only_new, ["square/size=7/tasks=1/sequential/w1"]);
    assert!(terminal(&comparison, false).contains("not compared, only in base (2)"));
    let mut reseeded = base.clone();
    reseeded.suite.seed += 1;
    assert_eq!(
        compare(&base, &reseeded, &Options::default())
            .unwrap_err()
            .to_string(),
        format!(
            "the results measured different work: inputs generated from seed {} and from seed {}",
            base.suite.seed,
            base.suite.seed + 1
        )
    );
}
