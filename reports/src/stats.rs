//! Statistics the harness and the analyses share.

use statrs::distribution::{ContinuousCDF, StudentsT};

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
