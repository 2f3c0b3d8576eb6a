//! `parbench diff-flame`: the differential flame graph of two profiles — two cells of one run
//! (two strategies, say), or one cell in two runs (two versions).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{file_stem, parse, render_diff, to_text, DIR};
use crate::{read, write_file_atomically, ReportError};

/// Why a differential flame graph cannot be drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// The results a side names cannot be read.
    #[error(transparent)]
    Results(ReportError),
    /// A side names no cell of its results.
    #[error("{}: no cell `{cell}`; the profiled cells are: {}", dir.display(), some_of(known))]
    UnknownCell {
        /// The output directory looked in.
        dir: PathBuf,
        /// The cell asked for.
        cell: String,
        /// The cells with a profile there.
        known: Vec<String>,
    },
    /// A side's cell has no profile.
    #[error("{cell} has no profile: {reason}")]
    NoProfile {
        /// The cell.
        cell: String,
        /// Why.
        reason: String,
    },
    /// A folded-stacks file cannot be read.
    #[error("{path}: {source}")]
    Folded {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The graph cannot be rendered or written.
    #[error(transparent)]
    Write(ReportError),
}

/// Cells named in an error: the first few, and how many more (a run has hundreds).
fn some_of(cells: &[String]) -> String {
    const SHOWN: usize = 12;
    match cells.len() {
        0 => "none".to_owned(),
        n if n <= SHOWN => cells.join(", "),
        n => format!(
            "{} and {} more (report.html lists every cell)",
            cells[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

impl DiffError {
    /// Whether the fault is in what was asked (a side that names nothing usable) rather than in
    /// writing the graph: the command line's usage-or-input exit code.
    pub fn is_input(&self) -> bool {
        !matches!(self, DiffError::Write(_))
    }
}

/// One side of a differential flame graph: a name and its folded stacks.
struct Side {
    name: String,
    stacks: Vec<(String, u64)>,
}

/// Finds `side` — a `.folded` file, `DIR:CELL`, or a cell id (or its flame graph's file stem)
/// in `dir` — and reads its folded stacks.
fn resolve(side: &str, dir: &Path) -> Result<Side, DiffError> {
    let file = Path::new(side);
    if file.is_file() {
        let text = std::fs::read_to_string(file).map_err(|source| DiffError::Folded {
            path: file.to_owned(),
            source,
        })?;
        return Ok(Side {
            name: file
                .file_stem()
                .map_or_else(|| side.to_owned(), |s| s.to_string_lossy().into_owned()),
            stacks: parse(&text),
        });
    }
    let (dir, wanted) = match side.split_once(':') {
        Some((other, cell)) if Path::new(other).is_dir() => (Path::new(other), cell),
        _ => (dir, side),
    };
    let results = read(&dir.join("results.json")).map_err(DiffError::Results)?;
    let Some(cell) = results
        .cells
        .iter()
        .find(|c| c.id == wanted || file_stem(&c.id) == wanted)
    else {
        return Err(DiffError::UnknownCell {
            dir: dir.to_owned(),
            cell: wanted.to_owned(),
            known: results
                .cells
                .iter()
                .filter(|c| c.profile.as_ref().is_some_and(|p| !p.folded.is_empty()))
                .map(|c| c.id.clone())
                .collect(),
        });
    };
    let no_profile = |reason: String| DiffError::NoProfile {
        cell: cell.id.clone(),
        reason,
    };
    let profile =
        match &cell.profile {
            Some(p) if !p.folded.is_empty() => p,
            Some(p) => return Err(no_profile(p.error.clone().unwrap_or_default())),
            None => return Err(no_profile(
                "its run was not profiled (`parbench run` without `--no-profile` profiles every \
                 cell)"
                    .to_owned(),
            )),
        };
    let path = dir.join(&profile.folded);
    let text =
        std::fs::read_to_string(&path).map_err(|source| DiffError::Folded { path, source })?;
    Ok(Side {
        name: file_stem(&cell.id),
        stacks: parse(&text),
    })
}

/// Stacks without their process and thread frames, equal stacks added up: two strategies name
/// their processes and threads differently, and what is compared is where the code spent its
/// time.
fn without_roots(stacks: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut bare = BTreeMap::<String, u64>::new();
    for (stack, count) in stacks {
        if let Some(frames) = stack.splitn(3, ';').nth(2) {
            *bare.entry(frames.to_owned()).or_default() += count;
        }
    }
    bare.into_iter().collect()
}

/// Writes the differential flame graph of `before` and `after` and returns its path. Each side
/// is a cell id (or its graph's file stem) in `dir`, `OTHER_DIR:CELL`, or a `.folded` file;
/// the graph goes to `out`, or to `dir/flamegraphs/diff-BEFORE--AFTER.svg`.
///
/// ```no_run
/// use std::path::Path;
///
/// let dir = Path::new("target/parbench/latest");
/// let svg = parbench_reports::flame::diff(
///     "square/size=1000000/tasks=8/process-pool/w2",
///     "square/size=1000000/tasks=8/process-shm/w2",
///     dir,
///     None,
///     false,
/// )?;
/// println!("{}", svg.display());
/// # Ok::<(), parbench_reports::flame::DiffError>(())
/// ```
pub fn diff(
    before: &str,
    after: &str,
    dir: &Path,
    out: Option<&Path>,
    keep_roots: bool,
) -> Result<PathBuf, DiffError> {
    let (before, after) = (resolve(before, dir)?, resolve(after, dir)?);
    let text = |side: &Side| {
        to_text(&if keep_roots {
            side.stacks.clone()
        } else {
            without_roots(&side.stacks)
        })
    };
    let title = format!(
        "{} → {} · red grew, blue shrank (shares of each profile's samples)",
        before.name, after.name
    );
    let svg = render_diff(&text(&before), &text(&after), &title).map_err(DiffError::Write)?;
    let path = match out {
        Some(path) => path.to_owned(),
        None => dir
            .join(DIR)
            .join(format!("diff-{}--{}.svg", before.name, after.name)),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| {
            DiffError::Write(ReportError::Io {
                path: parent.to_owned(),
                source,
            })
        })?;
    }
    write_file_atomically(&path, &svg).map_err(DiffError::Write)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_cell_names_a_few_of_the_profiled_ones() {
        let cells: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        assert_eq!(some_of(&[]), "none");
        assert_eq!(some_of(&cells[..2]), "c0, c1");
        let error = DiffError::UnknownCell {
            dir: "out".into(),
            cell: "x".into(),
            known: cells,
        };
        assert_eq!(
            error.to_string(),
            "out: no cell `x`; the profiled cells are: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, \
             c10, c11 and 8 more (report.html lists every cell)"
        );
    }

    #[test]
    fn roots_are_dropped_and_equal_stacks_merged() {
        let bare = without_roots(&[
            ("cell;pb-rayon-0;run;square".into(), 2),
            ("cell;pb-rayon-1;run;square".into(), 3),
            ("cell;main".into(), 9),
        ]);
        assert_eq!(bare, [("run;square".to_owned(), 5)]);
    }
}
