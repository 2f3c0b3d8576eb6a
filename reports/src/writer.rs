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
    /// Rendering a format failed.
    #[error("rendering {format}: {source}")]
    Serialize {
        /// The format.
        format: &'static str,
        /// The underlying failure.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A results file was written by a newer parbench, with a schema this one does not know.
    #[error("{path}: results schema version {found}; this parbench reads up to {supported}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// A results file could not be read as results.
    #[error("{path}: not parbench results: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: serde_json::Error,
    },
    /// A results file parses but contradicts itself (a cell id twice, a negative time): it
    /// was edited or damaged, and nothing read from it could be trusted.
    #[error("{path}: contradicts itself: {message}")]
    Contradiction {
        /// The file.
        path: PathBuf,
        /// What contradicts what.
        message: String,
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
                source: Box::new(source),
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
    write_file_atomically(&path, &writer.render(results)?)?;
    Ok(path)
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Io { path, source }
    };
    let written = fs::File::create(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_data()
        })
        .map_err(io(&temp));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    fs::rename(&temp, path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        ReportError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// Every writer parbench has, in the order their files are written.
pub fn writers() -> [&'static dyn Writer; 4] {
    [&Json, &crate::Csv, &crate::Markdown, &crate::Html]
}

/// Writes every file of the output directory (results, CSV, Markdown, HTML) atomically;
/// returns their paths. Stops at the first that fails: the ones before it are written. A run
/// whose suite makes claims also gets `claims.md`, and `folklore-tree.svg` when a claim names a
/// branch of the essay's rule of thumb (the chart its verdicts link to).
pub fn write_all(dir: &Path, results: &Results) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = writers()
        .into_iter()
        .map(|writer| write_atomically(dir, writer, results))
        .collect::<Result<Vec<_>, _>>()?;
    let claims = &results.suite.claims;
    if !claims.is_empty() {
        let path = dir.join("claims.md");
        write_file_atomically(&path, crate::claims::claims_markdown(results).as_bytes())?;
        written.push(path);
    }
    if claims.iter().any(|c| c.folklore.is_some()) {
        let branches = crate::decide::folklore(&crate::decide::cases(results));
        let path = dir.join("folklore-tree.svg");
        write_file_atomically(&path, crate::decide::folklore_svg(&branches).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// Reads a `results.json`.
pub fn read(path: &Path) -> Result<Results, ReportError> {
    let bytes = fs::read(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let parse = |source| ReportError::Parse {
        path: path.to_owned(),
        source,
    };
    // The version first: a newer schema is named as such rather than as a missing field.
    #[derive(serde::Deserialize)]
    struct Versioned {
        schema_version: u32,
    }
    let Versioned { schema_version } = serde_json::from_slice(&bytes).map_err(parse)?;
    if schema_version > crate::SCHEMA_VERSION {
        return Err(ReportError::Version {
            path: path.to_owned(),
            found: schema_version,
            supported: crate::SCHEMA_VERSION,
        });
    }
    let results: Results = serde_json::from_slice(&bytes).map_err(parse)?;
    match contradiction(&results) {
        Some(message) => Err(ReportError::Contradiction {
            path: path.to_owned(),
            message,
        }),
        None => Ok(results),
    }
}

/// The first number in `value` (at `path`) at or past 2^53 — 104 days in nanoseconds, 9 PB in
/// bytes — as `path = number`: no run records such a figure, and sums of them would overflow.
fn beyond_any_run(value: &serde_json::Value, path: &str) -> Option<String> {
    const LIMIT: u64 = 1 << 53;
    match value {
        serde_json::Value::Number(n) => {
            let beyond = n.as_u64().is_some_and(|v| v >= LIMIT)
                || n.as_i64().is_some_and(|v| v.unsigned_abs() >= LIMIT);
            beyond.then(|| format!("`{path}` = {n}"))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(key, v)| {
            let path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            beyond_any_run(v, &path)
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| beyond_any_run(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// The first thing `results` says that cannot be so, if any: a cell id twice, a cell of no
/// workers or tasks, a sample's figure past any a run records, a figure that is not a time
/// (negative, not finite) or outside its own interval.
fn contradiction(results: &Results) -> Option<String> {
    let mut seen = std::collections::HashMap::new();
    for (index, cell) in results.cells.iter().enumerate() {
        if let Some(first) = seen.insert(cell.id.as_str(), index) {
            return Some(format!(
                "cell `{}` appears twice (cells {} and {})",
                cell.id,
                first + 1,
                index + 1
            ));
        }
        if cell.workers == 0 || cell.tasks == 0 {
            return Some(format!(
                "cell `{}` has {} workers and {} tasks",
                cell.id, cell.workers, cell.tasks
            ));
        }
        for (n, sample) in cell.samples.iter().enumerate() {
            if let Some(field) = serde_json::to_value(sample)
                .ok()
                .and_then(|v| beyond_any_run(&v, ""))
            {
                return Some(format!(
                    "cell `{}`, sample {}: {field} is beyond any time or size a run records",
                    cell.id,
                    n + 1
                ));
            }
        }
        for (name, stats) in [("wall", &cell.wall), ("end_to_end", &cell.end_to_end)] {
            let Some(stats) = stats else { continue };
            let (low, median, high) = (stats.ci_low_ns, stats.median_ns, stats.ci_high_ns);
            let times = [low, median, high, stats.mean_ns];
            if times.iter().any(|t| !t.is_finite() || *t < 0.0) {
                return Some(format!(
                    "cell `{}`: {name} is not a time: median {median} ns in [{low}, {high}]",
                    cell.id
                ));
            }
            // Files older than the intervals have none (both ends 0).
            if high > 0.0 && !(low <= median && median <= high) {
                return Some(format!(
                    "cell `{}`: {name}'s median {median} ns lies outside its interval \
                     [{low}, {high}]",
                    cell.id
                ));
            }
        }
    }
    None
}
