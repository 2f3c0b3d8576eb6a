//! What a strategy does when a task fails.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::StrategyError;

/// A run's failure policy, honoured by every strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// Every task runs; failures are listed per task and the successful outputs are verified
    /// (Dask's `as_completed`).
    #[default]
    Collect,
    /// The first failure cancels the tasks that have not started (a structured task group).
    FailFast,
    /// A failed task is attempted again, up to this many more times (Celery's retries).
    Retry(u32),
}

impl FailurePolicy {
    /// How many times a task may be attempted.
    pub fn attempts(&self) -> u32 {
        match self {
            FailurePolicy::Retry(n) => n.saturating_add(1),
            _ => 1,
        }
    }
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailurePolicy::Collect => f.write_str("collect"),
            FailurePolicy::FailFast => f.write_str("fail-fast"),
            FailurePolicy::Retry(n) => write!(f, "retry({n})"),
        }
    }
}

impl FromStr for FailurePolicy {
    type Err = StrategyError;

    /// `collect`, `fail-fast` or `retry(N)`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || StrategyError::Policy(text.to_owned());
        match text.trim() {
            "collect" => Ok(FailurePolicy::Collect),
            "fail-fast" => Ok(FailurePolicy::FailFast),
            other => {
                let n = other
                    .strip_prefix("retry(")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .ok_or_else(bad)?;
                n.trim()
                    .parse()
                    .map(FailurePolicy::Retry)
                    .map_err(|_| bad())
            }
        }
    }
}

impl Serialize for FailurePolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FailurePolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_policy() {
        for text in ["collect", "fail-fast", "retry(3)"] {
            assert_eq!(text.parse::<FailurePolicy>().unwrap().to_string(), text);
        }
        assert_eq!("retry(2)".parse::<FailurePolicy>().unwrap().attempts(), 3);
        let err = "retry".parse::<FailurePolicy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid failure policy `retry`: expected collect, fail-fast or retry(N)"
        );
    }
}
