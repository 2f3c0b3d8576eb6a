//! The statistics of a comparison: one metric of one cell, two builds.
//!
//! The unit is a process (or, in a paired run, a round: one process of each build back to
//! back), never a sample: samples within a process share its address-space layout, its pages
//! and its core, and what differs between processes is most of the noise here (see the harness's
//! `stats` module). Each unit contributes the median of its samples. Times, memory and bytes are
//! compared on their logarithms (a ratio is what a reader asks for, and times are skewed), the
//! overhead share on its own scale (a difference in points: a ratio of shares near zero means
//! nothing).
//!
//! - **Paired**: the median of the rounds' differences, with its distribution-free
//!   order-statistic interval (the sign test's). Measured here, a busy loop's time jumps
//!   between two states some 25% apart that last a few hundred milliseconds, so most pairs
//!   differ by little and some by a state's jump: the differences are a narrow peak with heavy
//!   tails, where the median and its order statistics keep the peak's precision and a mean
//!   and Student's t would take the tails' spread. The interval is exact whatever the
//!   distribution: under no change the two builds' processes are exchangeable (their order
//!   turns from pair to pair), so the differences are symmetric about zero.
//! - **Independent** (two separate runs): Welch's t on the two sets of process medians, with
//!   the Welch–Satterthwaite degrees of freedom.

use statrs::distribution::{ContinuousCDF, StudentsT};

pub(crate) use crate::stats::median;
use crate::stats::{median_ci_rank, median_sorted, sign_test_p, t_quantile};

/// The mean and sample variance of values (`variance` 0 for one value).
fn mean_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, variance)
}

/// An estimated difference, new minus base on the compared scale.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Difference {
    /// Independent units: a mean difference, its standard error (0 when neither side varied:
    /// the difference is then exact) and the degrees of freedom of its t distribution.
    Mean { mean: f64, se: f64, df: f64 },
    /// Paired units: their differences, sorted.
    Pairs(Vec<f64>),
}

impl Difference {
    /// From pairs' differences; `None` below two pairs.
    pub(crate) fn paired(differences: &[f64]) -> Option<Difference> {
        if differences.len() < 2 {
            return None;
        }
        let mut sorted = differences.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Difference::Pairs(sorted))
    }

    /// From two independent sets of units (Welch); `None` unless each has two.
    pub(crate) fn independent(base: &[f64], new: &[f64]) -> Option<Difference> {
        if base.len() < 2 || new.len() < 2 {
            return None;
        }
        let (mean_b, var_b) = mean_variance(base);
        let (mean_n, var_n) = mean_variance(new);
        let (share_b, share_n) = (var_b / base.len() as f64, var_n / new.len() as f64);
        let se2 = share_b + share_n;
        let df = if se2 > 0.0 {
            se2.powi(2)
                / (share_b.powi(2) / (base.len() - 1) as f64
                    + share_n.powi(2) / (new.len() - 1) as f64)
        } else {
            (base.len() + new.len() - 2) as f64
        };
        Some(Difference::Mean {
            mean: mean_n - mean_b,
            se: se2.sqrt(),
            df,
        })
    }

    /// No difference, exactly (nothing on either side).
    pub(crate) fn none() -> Difference {
        Difference::Mean {
            mean: 0.0,
            se: 0.0,
            df: 1.0,
        }
    }

    /// The estimate: the mean difference, or the median of the pairs'.
    pub(crate) fn estimate(&self) -> f64 {
        match self {
            Difference::Mean { mean, .. } => *mean,
            // At least two pairs, already sorted.
            Difference::Pairs(sorted) => median_sorted(sorted),
        }
    }

    /// Whether the estimate has a spread, and so takes a share of the family's error rate.
    pub(crate) fn is_noisy(&self) -> bool {
        match self {
            Difference::Mean { se, .. } => *se > 0.0,
            Difference::Pairs(sorted) => sorted.first() != sorted.last(),
        }
    }

    /// The two-sided interval at `level` (0.95 for 95%); unbounded when there are too few
    /// pairs to reach that level at all.
    pub(crate) fn interval(&self, level: f64) -> (f64, f64) {
        if !self.is_noisy() {
            let e = self.estimate();
            return (e, e);
        }
        match self {
            Difference::Mean { mean, se, df } => {
                let half = t_quantile(0.5 + level / 2.0, *df) * se;
                (mean - half, mean + half)
            }
            Difference::Pairs(sorted) => {
                let n = sorted.len();
                match median_ci_rank(n, level) {
                    (rank, coverage) if coverage >= level => (sorted[rank - 1], sorted[n - rank]),
                    _ => (f64::NEG_INFINITY, f64::INFINITY),
                }
            }
        }
    }

    /// The two-sided p-value of "no difference": Student's t, or the sign test.
    pub(crate) fn p_value(&self) -> f64 {
        if !self.is_noisy() {
            return if self.estimate() == 0.0 { 1.0 } else { 0.0 };
        }
        match self {
            Difference::Mean { mean, se, df } => StudentsT::new(0.0, 1.0, *df)
                .map_or(f64::NAN, |d| 2.0 * (1.0 - d.cdf((mean / se).abs()))),
            Difference::Pairs(sorted) => {
                let above = sorted.iter().filter(|d| **d > 0.0).count();
                let below = sorted.iter().filter(|d| **d < 0.0).count();
                sign_test_p(above + below, above.min(below))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_differences_give_the_order_statistic_interval() {
        // 10 pairs: at 95% the interval runs from the 2nd to the 9th smallest (coverage
        // 1 - 2 * 11/1024 = 97.9%); at 99.8% only [min, max] (1 - 2/1024 = 99.80%) reaches it.
        let d = Difference::paired(&[5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0, 10.0]).unwrap();
        assert_eq!(d.estimate(), 5.5);
        assert_eq!(d.interval(0.95), (2.0, 9.0));
        assert_eq!(d.interval(0.998), (1.0, 10.0));
        // Beyond what 10 pairs can reach: unbounded.
        assert_eq!(d.interval(0.999), (f64::NEG_INFINITY, f64::INFINITY));
        // All 10 above zero: p = 2/1024.
        assert!((d.p_value() - 2.0 / 1024.0).abs() < 1e-15);
        assert_eq!(Difference::paired(&[1.0]), None);
    }

    #[test]
    fn welch_degrees_of_freedom_follow_satterthwaite() {
        // Equal sizes and variances: df = 2n - 2; t(0.975, 4) = 2.776445.
        let d = Difference::independent(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap();
        let Difference::Mean { mean, se, df } = d.clone() else {
            panic!("{d:?}");
        };
        assert_eq!(mean, 1.0);
        assert!((df - 4.0).abs() < 1e-12);
        assert!((se - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let (_, hi) = d.interval(0.95);
        assert!((hi - 1.0 - 2.776_445 * se).abs() < 1e-5, "{hi}");
        // t = 1 / sqrt(2/3) = 1.2247 on 4 df: p = 0.2879.
        assert!((d.p_value() - 0.2879).abs() < 1e-4, "{}", d.p_value());
        // One side constant: df = n - 1 of the other.
        let d = Difference::independent(&[5.0, 5.0, 5.0, 5.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!(matches!(d, Difference::Mean { df, .. } if (df - 2.0).abs() < 1e-12));
        assert_eq!(Difference::independent(&[1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn an_exact_difference_has_a_point_interval() {
        let d = Difference::independent(&[7.0, 7.0], &[8.0, 8.0]).unwrap();
        assert!(!d.is_noisy());
        assert_eq!(d.interval(0.999), (1.0, 1.0));
        assert_eq!(d.p_value(), 0.0);
        let same = Difference::paired(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!((same.interval(0.95), same.p_value()), ((0.0, 0.0), 1.0));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
