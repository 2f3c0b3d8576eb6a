//! Change points in a series of figures over commits.
//!
//! The method is E-divisive means (Matteson and James, 2014) as Apache Otava (formerly
//! DataStax's Hunter; Fleming et al., "Hunter: Using Change Point Detection to Hunt for
//! Performance Regressions", ICPE 2023) runs it:
//!
//! 1. **Split.** The series is cut into windows of [`Detector::window`] points, each starting
//!    half a window after the last (or at the last change found). In each window, E-divisive
//!    takes the split that most separates the points before it from those after it (the
//!    largest Q̂, an energy distance over every pair of points) and keeps it when a Student's t
//!    test between the two sides gives a p-value at most ten times [`Detector::max_p`]; then it
//!    looks again within each side, until a split fails the test. The t test stands in for
//!    E-divisive's permutation test, so the result is the same on every run.
//! 2. **Merge.** The weakest change point — the largest p-value above [`Detector::max_p`], or
//!    else the smallest change below [`Detector::min_magnitude`] — is dropped and its
//!    neighbours are tested again across the joined segment, until every change point left is
//!    significant and large enough.
//!
//! Like Otava, the t test pools the two sides' variances and takes their population standard
//! deviations (Otava hands `numpy.std` to `scipy.stats.ttest_ind_from_stats`). Two things
//! differ by default ([`Variant::Parbench`]); [`Variant::Otava`] does as Otava does and gives
//! its published change points exactly (see the tests):
//!
//! - **A split may also stand on the samples E-divisive compared.** Q̂ weighs the points
//!   before a split against those from it up to a chosen end (the one that separates them
//!   most); Otava tests the split against everything to the interval's end. A level that moves
//!   and comes back — a regression and its fix six commits later — dilutes that test with the
//!   points after the fix, and neither change is found (a 10% excursion of six points between
//!   six and six, at 1% noise: p = 0.03 against the first pass's 0.01). Here a split that
//!   test rejects is kept when the samples Q̂ compared differ at a thousandth of the level
//!   (they were picked as the most different of many, so only strong evidence counts; at the
//!   first pass's level itself, false change points on flat series rise from 0.6 to 2 per
//!   thousand points). The merge still tests every change point kept against its whole
//!   neighbouring segments.
//! - **The merge tests both neighbours again.** When it drops a change point, the segments on
//!   either side of it are one, and both change points that border the joined segment are
//!   tested across it. Otava tests the one after it and the next, which leaves the one before
//!   with the p-value of a segment that no longer exists and can keep it though its true
//!   p-value is above the threshold: of the TigerBeetle series' published change points, 260
//!   at p = 0.001 (0.0027 across its final segments) and 26 at p = 0.01 (0.012).

use statrs::function::beta::beta_reg;

use crate::stats::t_quantile;

/// What a change point must show to be kept.
///
/// ```
/// use parbench_reports::history::changes::Detector;
///
/// // Ten points at 100, ten at 120: one change, at index 10, of +20%.
/// let series: Vec<f64> = (0..20)
///     .map(|i| if i < 10 { 100.0 } else { 120.0 } + [0.5, -0.5, 0.3, -0.3][i % 4])
///     .collect();
/// let found = Detector::default().detect(&series);
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].index, 10);
/// assert!((found[0].change() - 0.2).abs() < 0.01);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detector {
    /// Points per window of the split (Otava's default, 50). Fewer than 2 is taken as 2.
    pub window: usize,
    /// The largest p-value a change point keeps (Otava's default, 0.001).
    pub max_p: f64,
    /// The smallest relative change a change point keeps, as a fraction (0: any size).
    pub min_magnitude: f64,
    /// Parbench's way or Otava's (see the module's notes).
    pub variant: Variant,
}

/// How the detector tests a split, and which change points its merge tests again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Variant {
    /// A split is tested on the samples E-divisive compared; after dropping a change point,
    /// both of its neighbours are tested again.
    #[default]
    Parbench,
    /// A split is tested against the whole interval; after dropping a change point, the one
    /// after it and the next are tested again (Apache Otava's `compute_change_points`).
    Otava,
}

impl Default for Detector {
    fn default() -> Self {
        Detector {
            window: 50,
            max_p: 0.001,
            min_magnitude: 0.0,
            variant: Variant::Parbench,
        }
    }
}

/// Where a series' level moved, by how much, and how sure the move is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChangePoint {
    /// The first point after the change.
    pub index: usize,
    /// The two-sided p-value of the t test between the segments on either side.
    pub p: f64,
    /// The t statistic (negative when the level rose).
    pub t: f64,
    /// The segment before the change: from the previous change point (or the start).
    pub before: Segment,
    /// The segment after it: to the next change point (or the end).
    pub after: Segment,
}

/// A run of points between two change points.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Its first point.
    pub start: usize,
    /// One past its last point.
    pub end: usize,
    /// The mean of its points.
    pub mean: f64,
    /// Their population standard deviation.
    pub sd: f64,
}

impl Segment {
    fn of(series: &[f64], start: usize, end: usize) -> Segment {
        let points = &series[start..end];
        let n = points.len() as f64;
        let mean = points.iter().sum::<f64>() / n;
        let sd = if points.len() < 2 {
            0.0
        } else {
            (points.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
        };
        Segment {
            start,
            end,
            mean,
            sd,
        }
    }

    /// How many points it holds.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether it holds none (never, for a change point's segments).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl ChangePoint {
    fn between(series: &[f64], start: usize, index: usize, end: usize) -> ChangePoint {
        let before = Segment::of(series, start, index);
        let after = Segment::of(series, index, end);
        let (t, p) = pooled_t_test(&before, &after);
        ChangePoint {
            index,
            p,
            t,
            before,
            after,
        }
    }

    /// The relative change of the level: the mean after over the mean before, less one.
    pub fn change(&self) -> f64 {
        if self.before.mean == 0.0 {
            return 0.0;
        }
        self.after.mean / self.before.mean - 1.0
    }

    /// The larger of the change forwards and backwards (Otava's magnitude): a halving and a
    /// doubling are both 1.
    pub fn magnitude(&self) -> f64 {
        let backwards = if self.after.mean == 0.0 {
            0.0
        } else {
            self.before.mean / self.after.mean - 1.0
        };
        self.change().abs().max(backwards.abs())
    }

    /// The 95% confidence interval of the difference of the means (after less before), with
    /// the t test's pooled standard error.
    pub fn difference_interval(&self) -> (f64, f64) {
        let df = (self.before.len() + self.after.len()) as f64 - 2.0;
        if df <= 0.0 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let difference = self.after.mean - self.before.mean;
        let half = t_quantile(0.975, df) * pooled_se(&self.before, &self.after);
        (difference - half, difference + half)
    }

    /// The 95% confidence interval of [`change`](Self::change): that of the difference, over
    /// the mean before.
    pub fn interval(&self) -> (f64, f64) {
        if self.before.mean == 0.0 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let (low, high) = self.difference_interval();
        (low / self.before.mean, high / self.before.mean)
    }
}

/// The standard error of the difference of two segments' means, their variances pooled.
fn pooled_se(a: &Segment, b: &Segment) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let pooled = ((n1 - 1.0) * a.sd.powi(2) + (n2 - 1.0) * b.sd.powi(2)) / (n1 + n2 - 2.0);
    (pooled * (1.0 / n1 + 1.0 / n2)).sqrt()
}

/// Student's two-sample t test with pooled variance: `(t, two-sided p)`. Two points in all
/// cannot tell anything (p = 1); sides without spread and with different means are told apart
/// for certain (p = 0), with the same mean not at all (p = 1).
fn pooled_t_test(a: &Segment, b: &Segment) -> (f64, f64) {
    let df = (a.len() + b.len()) as f64 - 2.0;
    if df <= 0.0 {
        return (0.0, 1.0);
    }
    let t = (a.mean - b.mean) / pooled_se(a, b);
    if t.is_nan() {
        return (0.0, 1.0);
    }
    (t, two_sided_p(t, df))
}

/// The two-sided tail probability of Student's t, from the regularized incomplete beta
/// function so that tiny p-values keep their precision (one less a CDF near 1 would not).
fn two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    beta_reg(df / 2.0, 0.5, df / (df + t * t))
}

impl Detector {
    /// The change points of `series`, in order. Points are figures in commit order; a series
    /// of fewer than three points has none.
    pub fn detect(&self, series: &[f64]) -> Vec<ChangePoint> {
        let weak = self.split(series);
        self.merge(series, weak)
    }

    /// The split's threshold: looser than the final one (ten times, as Otava's), so that the
    /// merge can weigh change points that a window saw only in part.
    fn first_pass_p(&self) -> f64 {
        if self.max_p < 0.05 {
            self.max_p * 10.0
        } else if self.max_p < 0.5 {
            self.max_p * 2.0
        } else {
            self.max_p
        }
    }

    /// Step 1: the weak change points, window by window.
    fn split(&self, series: &[f64]) -> Vec<usize> {
        let window = self.window.max(2);
        let step = window / 2;
        let threshold = self.first_pass_p();
        let mut found: Vec<usize> = Vec::new();
        let mut start = 0;
        while start < series.len() {
            let end = (start + window).min(series.len());
            let local = divide(&series[start..end], threshold, self.variant);
            let last = local.last().map_or(0, |i| i + start);
            for index in local.into_iter().map(|i| i + start) {
                if !found.contains(&index) {
                    found.push(index);
                }
            }
            start = last.max(start + step);
        }
        found.sort_unstable();
        found
    }

    /// Step 2: drop the weakest until every change point left stands.
    fn merge(&self, series: &[f64], weak: Vec<usize>) -> Vec<ChangePoint> {
        let mut points = tested(series, &weak);
        while !points.is_empty() {
            let mut weakest = first_max_by(&points, |c| c.p);
            if points[weakest].p < self.max_p {
                weakest = first_max_by(&points, |c| -c.magnitude());
                if points[weakest].magnitude() > self.min_magnitude {
                    break;
                }
            }
            points.remove(weakest);
            // The segment that the dropped point ended and the one it began are one now: the
            // change points on either side of it border the joined segment.
            let indices: Vec<usize> = points.iter().map(|c| c.index).collect();
            let retested = match self.variant {
                Variant::Parbench => [weakest.checked_sub(1), Some(weakest)],
                Variant::Otava => [Some(weakest), Some(weakest + 1)],
            };
            for neighbour in retested.into_iter().flatten() {
                if neighbour < points.len() {
                    points[neighbour] = tested_at(series, &indices, neighbour);
                }
            }
        }
        points
    }
}

/// The position of the first largest `key` (as Python's `max` picks).
fn first_max_by(points: &[ChangePoint], key: impl Fn(&ChangePoint) -> f64) -> usize {
    let mut best = 0;
    for (i, point) in points.iter().enumerate() {
        if key(point) > key(&points[best]) {
            best = i;
        }
    }
    best
}

/// Every change point of `indices` (sorted), tested against its neighbours.
fn tested(series: &[f64], indices: &[usize]) -> Vec<ChangePoint> {
    (0..indices.len())
        .map(|i| tested_at(series, indices, i))
        .collect()
}

/// The `i`th change point of `indices`, tested between the previous one and the next.
fn tested_at(series: &[f64], indices: &[usize], i: usize) -> ChangePoint {
    let start = if i == 0 { 0 } else { indices[i - 1] };
    let end = indices.get(i + 1).copied().unwrap_or(series.len());
    ChangePoint::between(series, start, indices[i], end)
}

/// E-divisive within one window: splits while the best split passes the t test at `max_p`.
/// Returns the splits' indices, sorted.
fn divide(window: &[f64], max_p: f64, variant: Variant) -> Vec<usize> {
    let sums = PairSums::new(window);
    let mut splits: Vec<usize> = Vec::new();
    loop {
        let bounds = segments(&splits, window.len());
        let mut best: Option<(usize, usize, f64)> = None;
        for &(start, end) in &bounds {
            if end - start > 1 {
                let (tau, kappa, q) = sums.candidate(start, end);
                if best.is_none_or(|(_, _, top)| q > top) {
                    best = Some((tau, kappa, q));
                }
            }
        }
        let Some((tau, kappa, _)) = best else { break };
        let Some(&(start, end)) = bounds.iter().find(|(s, e)| *s < tau && tau < *e) else {
            break;
        };
        // The samples Q̂ compared were chosen as the most different of many: they must differ
        // a thousand times more surely. When Q̂ found an excursion — a level from `tau` to
        // `kappa` that moves and comes back before `end` — its end is tested too: between a
        // drift before it and a return after it, the start's whole test and its sure
        // comparison with the level before can both fail while the return is plain. The end
        // must differ ten thousand times more surely, and the excursion from the level before
        // it at `max_p`: an extra test, held so that it adds next to no false change points.
        let surely = |a: usize, b: usize, c: usize, by: f64| {
            variant == Variant::Parbench
                && kappa < end
                && ChangePoint::between(window, a, b, c).p <= max_p / by
        };
        let split = if ChangePoint::between(window, start, tau, end).p <= max_p
            || surely(start, tau, kappa, 1000.0)
        {
            tau
        } else if surely(tau, kappa, end, 10_000.0) && surely(start, tau, kappa, 1.0) {
            kappa
        } else {
            break;
        };
        splits.push(split);
        splits.sort_unstable();
    }
    splits
}

/// The segments `[start, end)` that sorted split points cut `0..len` into.
fn segments(splits: &[usize], len: usize) -> Vec<(usize, usize)> {
    let mut bounds = Vec::with_capacity(splits.len() + 1);
    let mut start = 0;
    for &split in splits.iter().chain(std::iter::once(&len)) {
        if split > start {
            bounds.push((start, split));
        }
        start = split;
    }
    bounds
}

/// Sums of distances between the points of a window, so that every split's Q̂ costs O(1).
struct PairSums {
    len: usize,
    /// `within[a * (len + 1) + b]`: the sum of |x_i − x_k| over a ≤ i < k < b.
    within: Vec<f64>,
}

impl PairSums {
    fn new(points: &[f64]) -> PairSums {
        let len = points.len();
        let stride = len + 1;
        let mut within = vec![0.0; stride * stride];
        for j in 0..len {
            // Adding point j to every range that ends just before it.
            let mut column = 0.0;
            for a in (0..j).rev() {
                column += (points[a] - points[j]).abs();
                within[a * stride + j + 1] = within[a * stride + j] + column;
            }
        }
        PairSums { len, within }
    }

    fn within(&self, start: usize, end: usize) -> f64 {
        self.within[start * (self.len + 1) + end]
    }

    /// Q̂ of the points `start..tau` against `tau..kappa`: the energy distance between the two
    /// samples, scaled by `mn / (m + n)`.
    fn q(&self, start: usize, tau: usize, kappa: usize) -> f64 {
        let n = (tau - start) as f64;
        let m = (kappa - tau) as f64;
        let left = self.within(start, tau);
        let right = self.within(tau, kappa);
        let across = self.within(start, kappa) - left - right;
        let mut q = 2.0 / (m + n) * across;
        if n > 1.0 {
            q -= 2.0 * m / ((m + n) * (n - 1.0)) * left;
        }
        if m > 1.0 {
            q -= 2.0 * n / ((m + n) * (m - 1.0)) * right;
        }
        q
    }

    /// The best split of `start..end`, the end of the right-hand sample it was weighed
    /// against, and its Q̂: the largest over every split point and every end, the first in
    /// row order on a tie (as `numpy.argmax` over Otava's matrix, whose lower triangle holds
    /// zeros: a zero there wins only where every Q̂ is negative, and ends the sample right
    /// after the split).
    fn candidate(&self, start: usize, end: usize) -> (usize, usize, f64) {
        let last = end - start - 1;
        let mut best = (start + 1, start + 2, f64::NEG_INFINITY);
        for i in 0..last {
            for j in 0..last {
                let tau = start + 1 + i;
                let (kappa, q) = if i <= j {
                    let kappa = start + 2 + j;
                    (kappa, self.q(start, tau, kappa))
                } else {
                    (tau + 1, 0.0)
                };
                if q > best.2 {
                    best = (tau, kappa, q);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brute-force Q̂ of Otava's own test, over explicit samples.
    fn q_by_hand(x: &[f64], y: &[f64]) -> f64 {
        let (n, m) = (x.len() as f64, y.len() as f64);
        let across: f64 = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| (a - b).abs()))
            .sum();
        let within = |s: &[f64]| -> f64 {
            let mut sum = 0.0;
            for i in 0..s.len() {
                for k in i + 1..s.len() {
                    sum += (s[i] - s[k]).abs();
                }
            }
            sum
        };
        let mut q = 2.0 / (m + n) * across;
        if n > 1.0 {
            q -= 2.0 * m / (m + n) / (n - 1.0) * within(x);
        }
        if m > 1.0 {
            q -= 2.0 * n / (m + n) / (m - 1.0) * within(y);
        }
        q
    }

    /// Otava's `change_point_divisive_test.py` sequence: three levels.
    const THREE_LEVELS: [f64; 14] = [
        0.3, 2.4, 1.5, -0.9, -0.5, 99.7, 98.3, 99.1, 149.0, 149.7, 149.5, 149.1, 148.8, 150.0,
    ];

    #[test]
    fn q_from_the_sums_is_q_by_hand_for_every_split() {
        let sums = PairSums::new(&THREE_LEVELS);
        for start in 0..THREE_LEVELS.len() {
            for tau in start + 1..THREE_LEVELS.len() {
                for kappa in tau + 1..=THREE_LEVELS.len() {
                    let fast = sums.q(start, tau, kappa);
                    let slow = q_by_hand(&THREE_LEVELS[start..tau], &THREE_LEVELS[tau..kappa]);
                    assert!(
                        (fast - slow).abs() < 1e-9 * slow.abs().max(1.0),
                        "{fast} {slow}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_best_split_of_three_levels_is_the_first_step_and_divide_finds_both() {
        let sums = PairSums::new(&THREE_LEVELS);
        let (index, _, _) = sums.candidate(0, THREE_LEVELS.len());
        // Otava's test: the brute-force argmax is the first change point found.
        assert!(index == 5 || index == 8, "{index}");
        assert_eq!(divide(&THREE_LEVELS, 0.01, Variant::Otava), vec![5, 8]);
        assert_eq!(divide(&THREE_LEVELS, 0.01, Variant::Parbench), vec![5, 8]);
    }

    #[test]
    fn the_t_test_agrees_with_scipy_on_otavas_examples() {
        // Otava's analysis_test.py: no change (p ≈ 1), and a drop of 20% (0 < p < 0.001).
        let same = [1.00, 1.02, 1.05, 0.95, 0.98, 1.00, 1.02, 1.05, 0.95, 0.98];
        let point = ChangePoint::between(&same, 0, 5, 10);
        assert!(point.p > 0.99 && point.p <= 1.0, "{}", point.p);
        let drop = [1.00, 1.02, 1.05, 0.95, 0.98, 0.80, 0.82, 0.85, 0.79, 0.77];
        let point = ChangePoint::between(&drop, 0, 5, 10);
        assert!(point.p > 0.0 && point.p < 0.001, "{}", point.p);
        // scipy.stats.ttest_ind_from_stats(0, 1, 5, 1, 1, 5): t = -1.58114, p = 0.152502.
        let a = Segment {
            start: 0,
            end: 5,
            mean: 0.0,
            sd: 1.0,
        };
        let b = Segment {
            start: 5,
            end: 10,
            mean: 1.0,
            sd: 1.0,
        };
        let (t, p) = pooled_t_test(&a, &b);
        assert!((t + 1.581_139).abs() < 1e-5, "{t}");
        assert!((p - 0.152_502).abs() < 1e-5, "{p}");
        // Far in the tail the p-value keeps its precision: t = 40 with 18 df is about 1e-19.
        let tiny = two_sided_p(40.0, 18.0);
        assert!(tiny > 1e-21 && tiny < 1e-17, "{tiny}");
    }

    #[test]
    fn otavas_single_series_has_one_change_at_ten() {
        let series = [
            1.02, 0.95, 0.99, 1.00, 1.12, 1.00, 1.01, 0.98, 1.01, 0.96, 0.50, 0.51, 0.48, 0.48,
            0.55, 0.50, 0.49, 0.51, 0.50, 0.49,
        ];
        let detector = Detector {
            window: 10,
            max_p: 0.0001,
            ..Detector::default()
        };
        let found = detector.detect(&series);
        assert_eq!(found.iter().map(|c| c.index).collect::<Vec<_>>(), [10]);
        assert!((found[0].change() + 0.5).abs() < 0.03);
        let (low, high) = found[0].interval();
        assert!(low < found[0].change() && found[0].change() < high && high < 0.0);
    }

    /// The TigerBeetle series of Otava's `tigerbeetle_test.py` (from Nyrkiö's demo).
    const TIGERBEETLE: [f64; 365] = include!("tigerbeetle.in");

    fn indices_by(variant: Variant, window: usize, max_p: f64, min_magnitude: f64) -> Vec<usize> {
        Detector {
            window,
            max_p,
            min_magnitude,
            variant,
        }
        .detect(&TIGERBEETLE)
        .iter()
        .map(|c| c.index)
        .collect()
    }

    fn indices(window: usize, max_p: f64, min_magnitude: f64) -> Vec<usize> {
        indices_by(Variant::Otava, window, max_p, min_magnitude)
    }

    #[test]
    fn parbenchs_variant_on_the_tigerbeetle_series() {
        let ours = |max_p, min_magnitude| indices_by(Variant::Parbench, 30, max_p, min_magnitude);
        // The drop of one point at 10 (15,672 among 26,500s) is a level that moves and comes
        // back: found, as Otava finds it only at p = 0.2.
        assert_eq!(ours(0.01, 0.05), [10, 11, 15, 71]);
        assert_eq!(indices(30, 0.2, 0.05), [10, 11, 15, 71]);
        // Otava's 260 stood on a stale p-value (0.0027 across its final segments).
        assert_eq!(
            ours(0.001, 0.0),
            [10, 11, 15, 61, 71, 95, 117, 131, 142, 148, 192, 212]
        );
        assert_eq!(ours(0.0001, 0.0), indices(30, 0.0001, 0.0));
        // Every change point kept stands on its final segments.
        for (max_p, min_magnitude) in [(0.001, 0.0), (0.01, 0.0), (0.01, 0.05)] {
            let found = Detector {
                window: 30,
                max_p,
                min_magnitude,
                variant: Variant::Parbench,
            }
            .detect(&TIGERBEETLE);
            let indices: Vec<usize> = found.iter().map(|c| c.index).collect();
            assert_eq!(found, tested(&TIGERBEETLE, &indices));
            assert!(found.iter().all(|c| c.p < max_p), "{found:?}");
        }
    }

    #[test]
    fn a_level_that_moves_and_comes_back_has_two_change_points() {
        let mut series: Vec<f64> = Vec::new();
        for (i, level) in [1.0, 1.1, 1.0].into_iter().enumerate() {
            series.extend((0..6).map(|j| level * (1.0 + 0.004 * (((i * 6 + j) * 7) % 5) as f64)));
        }
        let found = Detector::default().detect(&series);
        assert_eq!(found.iter().map(|c| c.index).collect::<Vec<_>>(), [6, 12]);
        assert!(
            found[0].change() > 0.08 && found[1].change() < -0.07,
            "{found:?}"
        );
        // Otava's test of the first split against everything after it misses both.
        let otava = Detector {
            variant: Variant::Otava,
            ..Detector::default()
        };
        assert!(otava.detect(&series).is_empty());
    }

    #[test]
    fn an_excursion_between_drifting_levels_is_found_by_its_end() {
        // `rayon` on `spin` at 8 tasks over 20 commits of a real history (ms): ten commits at
        // about 3.45 with a faster spell in the 8th to 10th, five at +10% (a scratch commit
        // that slowed `spin`) and five after the restore at 3.23 (the machine was faster by
        // then). Q̂'s best split is the excursion's start, whose tests fail against the drift
        // before it; its end is plain.
        let series = [
            3.48, 3.46, 3.60, 3.42, 3.50, 3.54, 3.40, 3.24, 3.30, 3.38, 3.78, 3.68, 3.76, 3.88,
            3.77, 3.30, 3.21, 3.23, 3.17, 3.25,
        ];
        let found = Detector::default().detect(&series);
        assert_eq!(found.iter().map(|c| c.index).collect::<Vec<_>>(), [10, 15]);
        assert!(
            found[0].change() > 0.08 && found[1].change() < -0.1,
            "{found:?}"
        );
    }

    #[test]
    fn the_tigerbeetle_series_gives_otavas_published_change_points() {
        // Otava's expected change points at a window of 30 points (tigerbeetle_test.py), with
        // its merge.
        assert_eq!(indices(30, 0.01, 0.05), [15, 71]);
        assert_eq!(indices(30, 0.05, 0.05), [15, 71]);
        assert_eq!(indices(30, 0.2, 0.05), [10, 11, 15, 71]);
        assert_eq!(
            indices(30, 0.001, 0.0),
            [15, 61, 71, 95, 117, 131, 142, 148, 192, 212, 260]
        );
        assert_eq!(
            indices(30, 0.0001, 0.0),
            [71, 95, 117, 131, 142, 148, 192, 212]
        );
        assert_eq!(indices(30, 0.00001, 0.0), [71, 95, 131, 192, 212]);
        assert_eq!(
            indices(30, 0.01, 0.0),
            [15, 26, 61, 71, 95, 117, 131, 142, 148, 165, 169, 192, 212, 260]
        );
    }

    #[test]
    fn short_and_flat_series_have_no_change_points() {
        let detector = Detector::default();
        assert!(detector.detect(&[]).is_empty());
        assert!(detector.detect(&[1.0]).is_empty());
        assert!(detector.detect(&[1.0, 2.0]).is_empty());
        assert!(detector.detect(&[5.0; 40]).is_empty());
    }

    #[test]
    fn a_step_between_flat_segments_is_certain() {
        let mut series = vec![5.0; 10];
        series.extend([6.0; 10]);
        let found = Detector::default().detect(&series);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].index, found[0].p), (10, 0.0));
    }
}
