//! Summary statistics of sample times.

use parbench_reports::Stats;

/// Median of sorted values: the middle one, or the mean of the two middle ones.
fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Median, mean, standard deviation (n - 1), unscaled MAD, min and max of `values`.
/// `None` for an empty set.
pub fn summarize(values: &[u64]) -> Option<Stats> {
    let min = *values.iter().min()?;
    let max = *values.iter().max()?;
    let n = values.len();
    let mut sorted: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let median = median_sorted(&sorted);
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let stddev = if n > 1 {
        (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    Some(Stats {
        n,
        median_ns: median,
        mean_ns: mean,
        stddev_ns: stddev,
        mad_ns: median_sorted(&deviations),
        min_ns: min,
        max_ns: max,
    })
}

/// Index of the sample whose value is the (lower) median.
pub fn median_index(values: &[u64]) -> Option<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by_key(|&i| values[i]);
    order.get(values.len().saturating_sub(1) / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = summarize(&[2, 4, 4, 4, 5, 5, 7, 9]).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.median_ns, 4.5);
        assert_eq!(s.mean_ns, 5.0);
        // Sample standard deviation of the classic example: sqrt(32 / 7).
        assert!((s.stddev_ns - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        // |x - 4.5| = 2.5 .5 .5 .5 .5 .5 2.5 4.5 -> median 0.5.
        assert_eq!(s.mad_ns, 0.5);
        assert_eq!((s.min_ns, s.max_ns), (2, 9));
        let odd = summarize(&[10, 1, 3]).unwrap();
        assert_eq!((odd.median_ns, odd.stddev_ns > 0.0), (3.0, true));
        assert_eq!(summarize(&[5]).unwrap().stddev_ns, 0.0);
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn median_index_points_at_the_middle_sample() {
        assert_eq!(median_index(&[30, 10, 20]), Some(2));
        assert_eq!(median_index(&[40, 10, 30, 20]), Some(3));
        assert_eq!(median_index(&[]), None);
    }
}
