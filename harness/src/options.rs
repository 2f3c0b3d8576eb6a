//! How to run a suite: the output directory, the filter, `--quick`, which cells are profiled,
//! the extra report writers.

use std::path::PathBuf;

use crate::plugins::{file_names, SharedWriter};

/// Which cells get a profiled run and a flame graph.
///
/// ```
/// use parbench::ProfileScope;
///
/// assert_eq!(ProfileScope::default(), ProfileScope::Focus);
/// assert_eq!("all".parse::<ProfileScope>(), Ok(ProfileScope::All));
/// assert!("some".parse::<ProfileScope>().unwrap_err().contains("focus, all, none"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileScope {
    /// Per workload, each strategy at the configuration the report's charts compare (the focus
    /// task count, its most workers), chosen after the minimum rounds; every cell of a run with
    /// a filter.
    #[default]
    Focus,
    /// Every cell.
    All,
    /// No cell.
    None,
}

impl ProfileScope {
    /// The scope as `results.json` and the command line spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileScope::Focus => "focus",
            ProfileScope::All => "all",
            ProfileScope::None => "none",
        }
    }
}

impl std::str::FromStr for ProfileScope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "focus" => Ok(ProfileScope::Focus),
            "all" => Ok(ProfileScope::All),
            "none" => Ok(ProfileScope::None),
            other => Err(format!(
                "`{other}` is not a profile scope; valid: focus, all, none"
            )),
        }
    }
}

/// How to run a suite.
///
/// ```
/// let options = parbench::RunOptions::new("target/parbench/mine");
/// assert_eq!(options.profile, parbench::ProfileScope::Focus);
/// assert!(!options.quick && options.filter.is_none());
/// ```
#[derive(Clone)]
pub struct RunOptions {
    /// The output directory.
    pub out: PathBuf,
    /// Only cells whose id contains this text.
    pub filter: Option<String>,
    /// One process per cell and fewer samples: a quick look rather than a measurement to
    /// defend.
    pub quick: bool,
    /// Which cells get a profiled run and a flame graph.
    pub profile: ProfileScope,
    /// Report writers run after the built-in ones at the end of the run.
    pub writers: Vec<SharedWriter>,
}

impl RunOptions {
    /// Every cell, full sampling, the focus cells profiled, written to `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            filter: None,
            quick: false,
            profile: ProfileScope::Focus,
            writers: Vec::new(),
        }
    }

    /// The cells profiled: a filtered run profiles every cell it measures.
    pub(crate) fn profile_scope(&self) -> ProfileScope {
        match (self.profile, &self.filter) {
            (ProfileScope::Focus, Some(_)) => ProfileScope::All,
            (scope, _) => scope,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("out", &self.out)
            .field("filter", &self.filter)
            .field("quick", &self.quick)
            .field("profile", &self.profile)
            .field("writers", &file_names(&self.writers))
            .finish()
    }
}
