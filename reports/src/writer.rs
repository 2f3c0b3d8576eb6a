//! Writers: one small trait, one type per file format.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Results;

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing or renaming a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// Serializing failed.
    #[error("serializing {format}: {source}")]
    Serialize {
        /// The format.
        format: &'static str,
        /// The underlying failure.
        source: serde_json::Error,
    },
}

/// Renders results as one file of the output directory.
///
/// # Example
///
/// ```
/// use parbench_reports::{ReportError, Results, Writer};
///
/// /// One line per cell: its id and status.
/// struct Ids;
///
/// impl Writer for Ids {
///     fn file_name(&self) -> &'static str {
///         "cells.txt"
///     }
///     fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
///         Ok(results
///             .cells
///             .iter()
///             .map(|c| format!("{} {:?}\n", c.id, c.status))
///             .collect::<String>()
///             .into_bytes())
///     }
/// }
/// # let results: Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
/// let text = String::from_utf8(Ids.render(&results)?).unwrap();
/// assert!(text.lines().count() == results.cells.len());
/// # Ok::<(), ReportError>(())
/// ```
pub trait Writer {
    /// The file it writes, relative to the output directory.
    fn file_name(&self) -> &'static str;

    /// The file's contents.
    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError>;
}

/// `results.json`: the full results, pretty-printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Writer for Json {
    fn file_name(&self) -> &'static str {
        "results.json"
    }

    fn render(&self, results: &Results) -> Result<Vec<u8>, ReportError> {
        let mut bytes =
            serde_json::to_vec_pretty(results).map_err(|source| ReportError::Serialize {
                format: "JSON",
                source,
            })?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Writes `writer`'s file into `dir` through a temporary file and a rename, so a reader (or a
/// run killed mid-write) never sees a half-written file. Returns the file's path.
pub fn write_atomically(
    dir: &Path,
    writer: &dyn Writer,
    results: &Results,
) -> Result<PathBuf, ReportError> {
    let path = dir.join(writer.file_name());
    let bytes = writer.render(results)?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        writer.file_name(),
        std::process::id()
    ));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Io { path, source }
    };
    let written = fs::File::create(&temp)
        .and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_data()
        })
        .map_err(io(&temp));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fs::rename(&temp, &path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        ReportError::Io {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}
