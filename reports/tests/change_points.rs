//! The change-point detector on synthetic series with a known answer: how often it finds a
//! step, how close it places it, how often it flags a series without one, and a slow slide.
//!
//! A point is one run's figure: `exp(level + e)` with `e` normal of standard deviation
//! `noise` (the standard deviation of logs; a run's figures spread so). Run with
//! `-- --nocapture` to see the rates at every noise level.

use parbench_reports::history::changes::Detector;

/// xorshift64*: a seeded generator, the same series on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A series of `levels` (logs) with noise.
fn series(rng: &mut Rng, levels: &[f64], noise: f64) -> Vec<f64> {
    levels
        .iter()
        .map(|level| (level + noise * rng.normal()).exp() * 1e6)
        .collect()
}

const TRIALS: usize = 1000;

/// A step of `step` (relative) after `before` points, `after` points following it: how often a
/// change point is found, and how often within one point of the step.
fn step_rates(noise: f64, step: f64, before: usize, after: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng(seed);
    let mut levels = vec![0.0; before];
    levels.extend(std::iter::repeat_n((1.0 + step).ln(), after));
    let (mut found, mut placed) = (0, 0);
    for _ in 0..TRIALS {
        let changes = Detector::default().detect(&series(&mut rng, &levels, noise));
        if !changes.is_empty() {
            found += 1;
        }
        if changes.iter().any(|c| c.index.abs_diff(before) <= 1) {
            placed += 1;
        }
    }
    (found as f64 / TRIALS as f64, placed as f64 / TRIALS as f64)
}

/// The bound no detector passes: how often a t test told where the step is (8 points against
/// 8, two-sided at p ≤ 0.01, far looser than the detector's level) sees it.
fn oracle_rate(noise: f64, step: f64, seed: u64) -> f64 {
    let mut rng = Rng(seed);
    let mut levels = vec![0.0; 8];
    levels.extend(std::iter::repeat_n((1.0 + step).ln(), 8));
    let critical = parbench_reports::stats::t_quantile(0.995, 14.0);
    let mut seen = 0;
    for _ in 0..TRIALS {
        let points = series(&mut rng, &levels, noise);
        let (a, b) = points.split_at(8);
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let ss = |s: &[f64]| s.iter().map(|x| (x - mean(s)).powi(2)).sum::<f64>();
        let pooled = (ss(a) + ss(b)) / 14.0;
        let t = (mean(b) - mean(a)) / (pooled * (1.0 / 8.0 + 1.0 / 8.0)).sqrt();
        if t.abs() > critical {
            seen += 1;
        }
    }
    seen as f64 / TRIALS as f64
}

/// False change points per point over flat series of `len` points.
fn false_rate(noise: f64, len: usize, seed: u64) -> f64 {
    let mut rng = Rng(seed);
    let levels = vec![0.0; len];
    let mut false_points = 0;
    for _ in 0..TRIALS {
        false_points += Detector::default()
            .detect(&series(&mut rng, &levels, noise))
            .len();
    }
    false_points as f64 / (TRIALS * len) as f64
}

/// How often a slide of `per_commit` over `commits` commits, between 8 flat points on either
/// side, gets a change point within the slide (or at its ends).
fn slide_rate(noise: f64, per_commit: f64, commits: usize, seed: u64) -> f64 {
    let mut rng = Rng(seed);
    let mut levels = vec![0.0; 8];
    levels.extend((1..=commits).map(|i| i as f64 * (1.0 + per_commit).ln()));
    levels.extend(std::iter::repeat_n(
        commits as f64 * (1.0 + per_commit).ln(),
        8,
    ));
    let mut flagged = 0;
    for _ in 0..TRIALS {
        let changes = Detector::default().detect(&series(&mut rng, &levels, noise));
        if changes
            .iter()
            .any(|c| (8..=8 + commits).contains(&c.index) && c.change() > 0.0)
        {
            flagged += 1;
        }
    }
    flagged as f64 / TRIALS as f64
}

#[test]
fn rates_at_every_noise_level() {
    println!("noise  step found  placed ±1  false/point  slide flagged  oracle at p 0.01");
    for (i, noise) in [0.01, 0.02, 0.03, 0.05, 0.08, 0.10, 0.15]
        .into_iter()
        .enumerate()
    {
        let seed = 20261207 + i as u64;
        let (found, placed) = step_rates(noise, 0.10, 8, 8, seed);
        let false_points = false_rate(noise, 50, seed);
        let slide = slide_rate(noise, 0.02, 10, seed);
        let oracle = oracle_rate(noise, 0.10, seed);
        println!(
            "{:>4.0}%  {:>9.1}%  {:>8.1}%  {:>11.5}  {:>12.1}%  {:>15.1}%",
            100.0 * noise,
            100.0 * found,
            100.0 * placed,
            false_points,
            100.0 * slide,
            100.0 * oracle
        );
        // The detector, which must also find where the step is and hold its level over every
        // split, sees no more than the oracle.
        assert!(found <= oracle + 0.03, "{noise}: {found} against {oracle}");
        // Without a step, the t test's level holds whatever the noise (the test is scale
        // free): at most one false change point per thousand points.
        assert!(false_points <= 0.001, "{noise}: {false_points} per point");
        if noise <= 0.03 {
            // Where a run's figures are this tight, a 10% step with 8 points on either side
            // is found and placed within a commit (more noise needs more points: 16 a side at
            // 5%, 48 at 8%).
            assert!(found >= 0.95, "{noise}: found in {found}");
            assert!(placed >= 0.90, "{noise}: placed in {placed}");
        }
        if noise <= 0.05 {
            // Ten changes of 2%, none of them past a 5% gate, flagged as one.
            assert!(slide >= 0.95, "{noise}: slide flagged in {slide}");
        }
    }
}

#[test]
fn a_step_is_found_more_often_the_larger_it_is() {
    let rates: Vec<f64> = [0.0, 0.05, 0.10, 0.20]
        .into_iter()
        .map(|step| step_rates(0.03, step, 8, 8, 7).0)
        .collect();
    assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
    assert!(rates[0] < 0.05 && rates[3] > 0.99, "{rates:?}");
}
