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
//! - **Paired**: the differences of the rounds both builds measured, Student's t with one
//!   degree of freedom less than the pairs. What the machine did between rounds cancels out.
//! - **Independent** (two separate runs): Welch's t on the two sets of process medians, with
//!   the Welch–Satterthwaite degrees of freedom.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The median of values (sorted here); `None` for none.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

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

/// An estimated difference (new minus base, on the compared scale) and its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Difference {
    /// The estimate.
    pub(crate) mean: f64,
    /// Its standard error; 0 when neither side varied (bytes moved, say): the difference is
    /// then exact.
    pub(crate) se: f64,
    /// Degrees of freedom of its t distribution.
    pub(crate) df: f64,
}

impl Difference {
    /// From pairs' differences; `None` below two pairs (no spread to judge by).
    pub(crate) fn paired(differences: &[f64]) -> Option<Difference> {
        if differences.len() < 2 {
            return None;
        }
        let (mean, variance) = mean_variance(differences);
        Some(Difference {
            mean,
            se: (variance / differences.len() as f64).sqrt(),
            df: differences.len() as f64 - 1.0,
        })
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
        Some(Difference {
            mean: mean_n - mean_b,
            se: se2.sqrt(),
            df,
        })
    }

    /// Whether the estimate has a spread, and so takes a share of the family's error rate.
    pub(crate) fn is_noisy(&self) -> bool {
        self.se > 0.0
    }

    /// The two-sided interval at `level` (0.95 for 95%).
    pub(crate) fn interval(&self, level: f64) -> (f64, f64) {
        if !self.is_noisy() {
            return (self.mean, self.mean);
        }
        let half = t_quantile(0.5 + level / 2.0, self.df) * self.se;
        (self.mean - half, self.mean + half)
    }

    /// The two-sided p-value of "no difference".
    pub(crate) fn p_value(&self) -> f64 {
        if !self.is_noisy() {
            return if self.mean == 0.0 { 1.0 } else { 0.0 };
        }
        let t = (self.mean / self.se).abs();
        StudentsT::new(0.0, 1.0, self.df).map_or(f64::NAN, |d| 2.0 * (1.0 - d.cdf(t)))
    }
}

/// The `p`-quantile of Student's t distribution with `df` degrees of freedom.
fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_differences_give_the_textbook_interval() {
        // Differences 1..=5: mean 3, sd sqrt(2.5), se sqrt(0.5); t(0.975, 4) = 2.776445.
        let d = Difference::paired(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(d.mean, 3.0);
        assert!((d.se - 0.5f64.sqrt()).abs() < 1e-12);
        let (lo, hi) = d.interval(0.95);
        assert!((hi - 3.0 - 2.776_445 * 0.5f64.sqrt()).abs() < 1e-5, "{hi}");
        assert!((3.0 - lo - (hi - 3.0)).abs() < 1e-12);
        // t = 3 / sqrt(0.5) = 4.2426 on 4 df: p = 0.01324.
        assert!((d.p_value() - 0.013_24).abs() < 1e-4, "{}", d.p_value());
        assert_eq!(Difference::paired(&[1.0]), None);
    }

    #[test]
    fn welch_degrees_of_freedom_follow_satterthwaite() {
        // Equal sizes and variances: df = 2n - 2.
        let d = Difference::independent(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap();
        assert_eq!(d.mean, 1.0);
        assert!((d.df - 4.0).abs() < 1e-12);
        assert!((d.se - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // One side constant: df = n - 1 of the other.
        let d = Difference::independent(&[5.0, 5.0, 5.0, 5.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((d.df - 2.0).abs() < 1e-12);
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
