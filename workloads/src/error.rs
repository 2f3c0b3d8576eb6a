use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a workload could not be found, configured or prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    /// A parameter was unknown or out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// No workload of that name is registered.
    #[error("unknown workload `{name}`; valid workloads: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        valid: String,
    },
    /// Two workloads were registered under one name.
    #[error("a workload named `{0}` is already registered")]
    Duplicate(String),
    /// Parameters that are valid one by one but not together.
    #[error("workload `{workload}`: {message}")]
    Invalid {
        /// The workload's name.
        workload: String,
        /// What is wrong, in the user's words.
        message: String,
    },
    /// The workload needs a shared environment (a server, a calibration) that was not started.
    #[error("workload `{workload}` needs the `{environment}` environment, which is not running (missing `{var}`)")]
    MissingEnvironment {
        /// The workload's name.
        workload: String,
        /// The environment's name.
        environment: String,
        /// The variable that was looked for.
        var: String,
    },
    /// A task count that cannot split the input.
    #[error("cannot split {items} items into {tasks} tasks: tasks must be in 1..={items}")]
    TaskCount {
        /// Items in the input.
        items: usize,
        /// Tasks asked for.
        tasks: usize,
    },
    /// Starting or stopping an environment failed.
    #[error("environment `{name}`: {source}")]
    Environment {
        /// The environment's name.
        name: String,
        /// The underlying failure.
        source: std::io::Error,
    },
}

/// A parameter that is unknown, malformed or out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The name is not a declared parameter.
    #[error("`{owner}` has no parameter `{name}`; valid parameters: {valid}")]
    Unknown {
        /// The workload or strategy.
        owner: String,
        /// The name given.
        name: String,
        /// The declared names, comma-separated.
        valid: String,
    },
    /// The value is of the wrong type or out of range.
    #[error("parameter `{name}` of `{owner}` must be in {valid}, got {got}")]
    Invalid {
        /// The workload or strategy.
        owner: String,
        /// The parameter.
        name: String,
        /// The value given, as text.
        got: String,
        /// The valid values, as text.
        valid: String,
    },
    /// Not a `key=value` pair.
    #[error("expected key=value for `{owner}`, got `{text}`")]
    Syntax {
        /// The workload or strategy.
        owner: String,
        /// The text given.
        text: String,
    },
}

/// How a task failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The task returned an error.
    Error,
    /// The task panicked; the panic was caught at the task boundary.
    Panic,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Error => "error",
            FailureKind::Panic => "panic",
        })
    }
}

/// A task's failure: an error it returned, or a panic caught at its boundary.
///
/// Carried as plain text so it crosses a pipe or a network unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind}: {message}")]
pub struct TaskError {
    /// Error or panic.
    pub kind: FailureKind,
    /// What the task said.
    pub message: String,
}

impl TaskError {
    /// An error returned by the task.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Error,
            message: message.into(),
        }
    }

    /// A panic caught at the task boundary.
    pub fn panic(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Panic,
            message: message.into(),
        }
    }
}
