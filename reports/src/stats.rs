//! Statistics the harness and the analyses share.

use statrs::distribution::{ChiSquared, ContinuousCDF, StudentsT};

/// The `p`-quantile of Student's t distribution with `df` degrees of freedom (NaN when `df` is
/// not positive).
///
/// ```
/// use parbench_reports::stats::t_quantile;
/// assert!((t_quantile(0.975, 4.0) - 2.776_445).abs() < 1e-5);
/// ```
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

/// The `p`-quantile of the chi-square distribution with `df` degrees of freedom (NaN when
/// `df` is not positive).
///
/// ```
/// use parbench_reports::stats::chi_square_quantile;
/// // The median of χ² with 2 degrees of freedom is 2 ln 2.
/// assert!((chi_square_quantile(0.5, 2.0) - 2.0 * std::f64::consts::LN_2).abs() < 1e-9);
/// ```
pub fn chi_square_quantile(p: f64, df: f64) -> f64 {
    ChiSquared::new(df).map_or(f64::NAN, |c| c.inverse_cdf(p))
}

/// The median of sorted values: the middle one, or the mean of the two middle ones. `sorted`
/// must not be empty.
///
/// ```
/// use parbench_reports::stats::median_sorted;
/// assert_eq!(median_sorted(&[1.0, 2.0, 3.0]), 2.0);
/// assert_eq!(median_sorted(&[1.0, 2.0, 3.0, 4.0]), 2.5);
/// ```
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of values (sorted here); `None` for none.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    (!values.is_empty()).then(|| median_sorted(values))
}

/// The order-statistic interval of the median of `n` samples: the 1-based rank `k` of its
/// lower end (the upper end is the `k`-th largest) and its exact coverage; the widest interval,
/// `[min, max]`, when even that covers less than `confidence`.
///
/// ```
/// use parbench_reports::stats::median_ci_rank;
/// // 6 samples: [min, max] covers 1 - 2/64 = 96.9%.
/// let (rank, coverage) = median_ci_rank(6, 0.95);
/// assert_eq!(rank, 1);
/// assert!((coverage - 0.968_75).abs() < 1e-12);
/// ```
pub fn median_ci_rank(n: usize, confidence: f64) -> (usize, f64) {
    if n == 0 {
        return (0, 0.0);
    }
    // P(B <= j) for B ~ Binomial(n, 1/2), summed in log space so large n cannot underflow.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut below = 0.0f64;
    let (mut rank, mut coverage) = (1, 0.0);
    for j in 0..n.div_ceil(2) {
        if j > 0 {
            ln_choose += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        // Now `below` is P(B <= j): rank j + 1 covers 1 - 2 P(B <= j).
        below += (ln_choose + ln_half_n).exp();
        let covers = 1.0 - 2.0 * below;
        // Rank 1, `[min, max]`, is reported even when it covers too little.
        if j == 0 || covers >= confidence {
            coverage = covers;
        }
        if covers >= confidence {
            rank = j + 1;
        } else {
            break;
        }
    }
    (rank, coverage)
}

/// The two-sided p-value of the sign test: of `n` values other than zero, `below` lie on the
/// rarer side; `2 P(B <= below)` for `B ~ Binomial(n, 1/2)`, at most 1.
///
/// ```
/// use parbench_reports::stats::sign_test_p;
/// // 10 of 10 on one side: 2 / 1024.
/// assert!((sign_test_p(10, 0) - 2.0 / 1024.0).abs() < 1e-15);
/// assert_eq!(sign_test_p(4, 2), 1.0);
/// ```
pub fn sign_test_p(n: usize, below: usize) -> f64 {
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut sum = 0.0;
    for j in 0..=below.min(n) {
        if j > 0 {
            ln_choose += ((n - j + 1) as f64).ln() - (j as f64).ln();
        }
        sum += (ln_choose + ln_half_n).exp();
    }
    (2.0 * sum).min(1.0)
}

/// A prior on the variance shared by cells of one kind: the empirical-Bayes fit of limma
/// (Smyth 2004, "Linear models and empirical Bayes methods for assessing differential
/// expression in microarray experiments"). Each cell's sample variance `s²` on `d` degrees of
/// freedom is taken as `σ² χ²_d / d`, and the cells' `σ²` as drawn from a scaled inverse
/// chi-square with `df` degrees of freedom around `variance`; a cell's variance is then shrunk
/// towards `variance` ([`Prior::moderate`]) and its interval gains `df` degrees of freedom.
///
/// ```
/// use parbench_reports::stats::Prior;
/// // Ten cells of 4 processes (3 degrees of freedom) sharing one variance, 1e-4: their
/// // sample variances spread as σ² χ²₃ / 3 does (the midpoints of its tenths).
/// let spread = [0.117, 0.266, 0.404, 0.547, 0.703, 0.881, 1.094, 1.369, 1.772, 2.605];
/// let cells: Vec<(f64, f64)> = spread.iter().map(|&v| (v * 1e-4, 3.0)).collect();
/// let prior = Prior::fit(&cells).unwrap();
/// // As alike as chance allows: the prior is as strong as it gets, near the shared variance.
/// assert_eq!(prior.df, Prior::MAX_DF);
/// assert!((prior.variance / 1e-4 - 1.0).abs() < 0.2, "{prior:?}");
/// // A cell's own variance moves towards the prior's by the prior's weight.
/// let moderated = prior.moderate(4e-4, 3.0);
/// assert!((moderated - (60.0 * prior.variance + 3.0 * 4e-4) / 63.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    /// The prior's degrees of freedom: what each cell borrows from the others.
    pub df: f64,
    /// The prior's variance.
    pub variance: f64,
}

impl Prior {
    /// The most degrees of freedom a prior lends: however well cells agree, a cell's own
    /// spread keeps a say (limma allows infinity; a cap keeps an outlying cell visible).
    pub const MAX_DF: f64 = 60.0;

    /// The fewest cells a prior is fitted to.
    pub const MIN_CELLS: usize = 5;

    /// Fits the prior to cells given as `(sample variance, degrees of freedom)`, by the
    /// moments of the logarithms of their variances (limma's `fitFDist`); `None` with fewer
    /// than [`Prior::MIN_CELLS`] cells of at least one degree of freedom and a variance above
    /// zero.
    pub fn fit(cells: &[(f64, f64)]) -> Option<Prior> {
        let usable: Vec<(f64, f64)> = cells
            .iter()
            .copied()
            .filter(|&(variance, df)| variance > 0.0 && variance.is_finite() && df >= 1.0)
            .collect();
        if usable.len() < Self::MIN_CELLS {
            return None;
        }
        let n = usable.len() as f64;
        // e = log s² − ψ(d/2) + log(d/2) has mean log σ₀² − ψ(d₀/2) + log(d₀/2) and variance
        // ψ'(d/2) + ψ'(d₀/2).
        let e: Vec<f64> = usable
            .iter()
            .map(|&(s2, d)| s2.ln() - digamma(d / 2.0) + (d / 2.0).ln())
            .collect();
        let mean = e.iter().sum::<f64>() / n;
        let excess = e.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
            - usable.iter().map(|&(_, d)| trigamma(d / 2.0)).sum::<f64>() / n;
        let df = if excess > 0.0 {
            (2.0 * trigamma_inverse(excess)).min(Self::MAX_DF)
        } else {
            Self::MAX_DF
        };
        let variance = (mean + digamma(df / 2.0) - (df / 2.0).ln()).exp();
        Some(Prior { df, variance })
    }

    /// A cell's variance `s²` on `df` degrees of freedom shrunk towards the prior: the
    /// posterior mean `(d₀ s₀² + d s²) / (d₀ + d)`.
    pub fn moderate(&self, variance: f64, df: f64) -> f64 {
        (self.df * self.variance + df * variance) / (self.df + df)
    }
}

/// The digamma function ψ (statrs's).
fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// The trigamma function ψ′ for `x > 0`: the recurrence ψ′(x) = ψ′(x + 1) + 1/x² up to 10,
/// then the asymptotic series (error below 1e-12 there). statrs has no trigamma.
///
/// ```
/// use parbench_reports::stats::trigamma;
/// // ψ′(1) = π²/6, ψ′(1/2) = π²/2.
/// let pi2 = std::f64::consts::PI.powi(2);
/// assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-11);
/// assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-11);
/// ```
pub fn trigamma(mut x: f64) -> f64 {
    let mut sum = 0.0;
    while x < 10.0 {
        sum += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    sum + inv
        + inv2 / 2.0
        + inv * inv2 * (1.0 / 6.0 - inv2 * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 / 30.0)))
}

/// The tetragamma function ψ″ for `x > 0`, as [`trigamma`]: the slope Newton's method needs.
fn tetragamma(mut x: f64) -> f64 {
    let mut sum = 0.0;
    while x < 10.0 {
        sum -= 2.0 / (x * x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    sum - inv2
        - inv * inv2
        - inv2 * inv2 * (0.5 - inv2 * (1.0 / 6.0 - inv2 * (1.0 / 6.0 - inv2 * 0.3)))
}

/// The `x` with ψ′(x) = `y`, for `y > 0`: limma's Newton iteration on 1/ψ′, which is nearly
/// linear.
fn trigamma_inverse(y: f64) -> f64 {
    if y > 1e7 {
        return 1.0 / y.sqrt();
    }
    if y < 1e-6 {
        return 1.0 / y;
    }
    let mut x = 0.5 + 1.0 / y;
    for _ in 0..50 {
        let tri = trigamma(x);
        let step = tri * (1.0 - tri / y) / tetragamma(x);
        x += step;
        if -step / x < 1e-8 {
            break;
        }
    }
    x
}
