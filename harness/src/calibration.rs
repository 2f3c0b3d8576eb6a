//! Calibrations kept per machine: the variables of an environment that measures the machine
//! (`spin`'s loop iterations per millisecond) are kept, the first time a machine publishes them,
//! in `calibrations.json` beside the results directories (the output directory's parent, by
//! default `target/parbench/`), and every later run on that machine — the same CPU, cores,
//! memory, kernel and governor, as the regression gate tells machines apart — is handed the
//! kept values instead of its own.
//!
//! Without it, two runs do different work: a calibration takes a few milliseconds, and one
//! taken while the machine was briefly slow (measured here: 5.6% apart between two
//! back-to-back runs) makes every `spin` task of that run shorter, so the runs disagree on
//! every `spin` cell by that much. Delete the file to calibrate afresh.

use std::fs;
use std::path::{Path, PathBuf};

use std::io::Write;

use parbench_reports::compare::machine_differences;
use parbench_reports::Machine;
use parbench_workloads::EnvVars;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The file's name, in the output directory's parent.
pub(crate) const FILE: &str = "calibrations.json";

/// One environment's kept variables on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kept {
    machine: Machine,
    environment: String,
    vars: EnvVars,
    /// When they were measured (RFC 3339).
    measured_at: String,
}

/// The calibrations kept beside a run's output directory.
#[derive(Debug, Default)]
pub(crate) struct Calibrations {
    path: PathBuf,
    kept: Vec<Kept>,
    changed: bool,
}

/// What became of an environment's calibration in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The machine's kept values replaced the run's own (measured at the time given).
    Kept(String),
    /// The run's own values were kept for later runs.
    First,
}

impl Calibrations {
    /// The calibrations kept for runs writing to `out`; none when the file is missing. A file
    /// that cannot be read is an error naming it: a run must not silently calibrate afresh.
    pub fn beside(out: &Path) -> Result<Self, Error> {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let path = dir.join(FILE);
        let failed = |message: String| Error::Calibrations {
            path: path.clone(),
            message,
        };
        let kept = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| failed(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(failed(e.to_string())),
        };
        Ok(Self {
            path,
            kept,
            changed: false,
        })
    }

    /// Replaces `vars`, the variables `environment` published on `machine` in this run, with
    /// the machine's kept ones, or keeps these for later runs when there are none yet.
    pub fn apply(
        &mut self,
        machine: &Machine,
        environment: &str,
        vars: &mut EnvVars,
        now: &str,
    ) -> Outcome {
        let found = self.kept.iter().find(|k| {
            k.environment == environment && machine_differences(&k.machine, machine).is_empty()
        });
        match found {
            Some(kept) => {
                *vars = kept.vars.clone();
                Outcome::Kept(kept.measured_at.clone())
            }
            None => {
                self.kept.push(Kept {
                    machine: Machine {
                        // The working tree is not the machine's.
                        git_commit: None,
                        git_dirty: None,
                        limits: None,
                        ..machine.clone()
                    },
                    environment: environment.to_owned(),
                    vars: vars.clone(),
                    measured_at: now.to_owned(),
                });
                self.changed = true;
                Outcome::First
            }
        }
    }

    /// Writes the file if a calibration was added: a whole new file renamed over the old one,
    /// so a run that ends midway leaves the old file or the new, never half of one.
    pub fn save(&self) -> Result<(), Error> {
        if !self.changed {
            return Ok(());
        }
        let failed = |e: std::io::Error| Error::Calibrations {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(failed)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        // Plain data with string keys: serializing it cannot fail.
        let bytes = serde_json::to_vec_pretty(&self.kept).unwrap_or_default();
        file.write_all(&bytes).map_err(failed)?;
        file.persist(&self.path).map_err(|e| failed(e.error))?;
        Ok(())
    }
}
