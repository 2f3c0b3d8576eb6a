//! Claims checked on the machine at hand: a claim compares two measured figures as a
//! [`Ratio`] against a threshold, and its [`Verdict`] follows from the ratio's interval by one
//! rule ([`verdict`]).
//!
//! "Processes beat the loop by 4x" is the ratio of the loop's run time over the pool's, above
//! 1.0 (the claim's direction is that processes win at all; the essay's 4x sits beside the
//! measured figure as a ratio of ratios, since machines differ). The rule never reads a point
//! estimate alone: a ratio whose interval reaches the threshold is inconclusive, however far
//! its median lies from it.

use crate::figures::Ratio;

/// Which side of its threshold a claim puts the ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// The claim holds when the ratio is above the threshold.
    Above,
    /// The claim holds when the ratio is below the threshold.
    Below,
}

/// What the measurements say of a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The ratio's whole interval lies on the claim's side of the threshold.
    Holds,
    /// The ratio's whole interval lies on the other side.
    DoesNotHold,
    /// The interval reaches the threshold: this run cannot tell.
    Inconclusive,
}

impl Verdict {
    /// The verdict as the reports spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::DoesNotHold => "does not hold",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// The rule, stated once: a claim **holds** when the measured ratio's whole interval lies on the
/// claim's side of the threshold, **does not hold** when the whole interval lies on the other
/// side, and is **inconclusive** when the interval reaches the threshold (an end on the
/// threshold included).
///
/// ```
/// use parbench_reports::claims::{verdict, Direction, Verdict};
/// use parbench_reports::figures::Ratio;
///
/// // The loop over the pool: 3.2x (2.9x–3.5x). "The pool wins" (above 1.0) holds.
/// let speedup = Ratio { value: 3.2, low: 2.9, high: 3.5 };
/// assert_eq!(verdict(&speedup, Direction::Above, 1.0), Verdict::Holds);
/// // "Threads gain nothing" (below 1.1) does not hold for it.
/// assert_eq!(verdict(&speedup, Direction::Below, 1.1), Verdict::DoesNotHold);
/// // 1.04x (0.97x–1.12x) against 1.0: inconclusive either way.
/// let close = Ratio { value: 1.04, low: 0.97, high: 1.12 };
/// assert_eq!(verdict(&close, Direction::Above, 1.0), Verdict::Inconclusive);
/// ```
pub fn verdict(ratio: &Ratio, direction: Direction, threshold: f64) -> Verdict {
    let (claimed_side, other_side) = match direction {
        Direction::Above => (ratio.low > threshold, ratio.high < threshold),
        Direction::Below => (ratio.high < threshold, ratio.low > threshold),
    };
    if claimed_side {
        Verdict::Holds
    } else if other_side {
        Verdict::DoesNotHold
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(low: f64, value: f64, high: f64) -> Ratio {
        Ratio { value, low, high }
    }

    #[test]
    fn an_interval_that_straddles_the_threshold_is_inconclusive_whatever_its_median() {
        for direction in [Direction::Above, Direction::Below] {
            // The median far above, the interval still reaching below.
            assert_eq!(
                verdict(&ratio(0.9, 5.0, 9.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.6, 1.2), direction, 1.0),
                Verdict::Inconclusive
            );
            // An end exactly on the threshold reaches it.
            assert_eq!(
                verdict(&ratio(1.0, 1.5, 2.0), direction, 1.0),
                Verdict::Inconclusive
            );
            assert_eq!(
                verdict(&ratio(0.5, 0.7, 1.0), direction, 1.0),
                Verdict::Inconclusive
            );
        }
    }

    #[test]
    fn an_interval_beyond_the_threshold_holds_or_not_as_the_direction_says() {
        let above = ratio(1.2, 1.3, 1.4);
        let below = ratio(0.6, 0.7, 0.8);
        assert_eq!(verdict(&above, Direction::Above, 1.0), Verdict::Holds);
        assert_eq!(verdict(&above, Direction::Below, 1.0), Verdict::DoesNotHold);
        assert_eq!(verdict(&below, Direction::Below, 1.0), Verdict::Holds);
        assert_eq!(verdict(&below, Direction::Above, 1.0), Verdict::DoesNotHold);
        // The threshold is the claim's, not 1.0: 1.3x is not "at least 1.5x".
        assert_eq!(verdict(&above, Direction::Above, 1.5), Verdict::DoesNotHold);
        assert_eq!(verdict(&above, Direction::Below, 1.5), Verdict::Holds);
        assert_eq!(Verdict::DoesNotHold.as_str(), "does not hold");
    }
}
