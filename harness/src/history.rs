//! `parbench history`: runs kept over commits in an SQLite file, and the change points of
//! their figures (see `parbench_reports::history`).
//!
//! `run`, `compare` and `cargo bench` record every run they finish; `history import` loads
//! results directories made before; `history check` lists the change points and fails when a
//! regression stands at the head.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use parbench_reports::history::store::{Commit, History, Provenance};
use parbench_reports::history::{self, Finding};

use crate::error::Error;

/// The environment variable naming the history database; `off` records nothing.
pub(crate) const HISTORY_VAR: &str = "PARBENCH_HISTORY";

/// The database's file name beside the results directories.
pub(crate) const FILE_NAME: &str = "history.sqlite";

/// Where the history of runs written to `out` is kept: `--db`, else `PARBENCH_HISTORY`, else
/// `history.sqlite` in the parent of `out` (`target/parbench/history.sqlite` for the default
/// `target/parbench/latest`). `None` when `PARBENCH_HISTORY` is `off`.
pub(crate) fn database(explicit: Option<&Path>, out: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    match std::env::var_os(HISTORY_VAR) {
        Some(value) if value == "off" => None,
        Some(value) if !value.is_empty() => Some(PathBuf::from(value)),
        _ => {
            let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
            Some(parent.unwrap_or(Path::new(".")).join(FILE_NAME))
        }
    }
}

/// The database a `history` command reads: `--db`, else `PARBENCH_HISTORY`, else
/// `target/parbench/history.sqlite`.
fn database_to_read(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    database(explicit, Path::new("target/parbench/latest")).ok_or_else(|| {
        Error::Usage(format!(
            "{HISTORY_VAR}=off: no history to read; name one with --db PATH"
        ))
    })
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A run's start (RFC 3339) in seconds since the Unix epoch.
fn started_at(text: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(text)
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

/// Runs git in `dir`; its trimmed output when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// What git says of `rev` in the checkout at `dir` (`dirty` as the caller saw the tree).
pub(crate) fn commit_of(dir: &Path, rev: &str, dirty: bool) -> Option<Commit> {
    let line = git(dir, &["show", "-s", "--format=%H%x00%P%x00%ct%x00%s", rev])?;
    let mut fields = line.splitn(4, '\0');
    let hash = fields.next()?.to_owned();
    let parent = fields
        .next()
        .and_then(|p| p.split_whitespace().next())
        .map(str::to_owned);
    let time = fields.next()?.parse().ok()?;
    let subject = fields.next().unwrap_or_default().to_owned();
    Some(Commit {
        hash,
        parent,
        subject,
        time,
        dirty,
    })
}

/// The branch checked out in `dir`: CI's name for it where git sees a detached head.
fn branch_of(dir: &Path) -> Option<String> {
    let head = git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
    head.or_else(|| {
        ["GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
    })
}

/// Records the run in `dir` (its results.json) into the history at `db`, as made from the
/// checkout this process runs in. Returns the run's id.
pub(crate) fn record(db: &Path, dir: &Path, source: &str) -> Result<i64, Error> {
    let results = parbench_reports::read(&dir.join("results.json")).map_err(Error::Results)?;
    let here = Path::new(".");
    let commit = results
        .machine
        .git_commit
        .as_deref()
        .and_then(|rev| commit_of(here, rev, results.machine.git_dirty.unwrap_or(false)));
    let provenance = Provenance {
        source: source.to_owned(),
        branch: commit.as_ref().and_then(|_| branch_of(here)),
        commit,
        results_dir: Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())),
        recorded_at: now(),
    };
    let mut history = History::open(db)?;
    Ok(history.record(&results, &provenance)?)
}

/// Records a finished run where the history is kept, saying so; a history that cannot take it
/// is a warning (the run's results are on disk either way).
pub(crate) fn record_finished(db: Option<&Path>, dir: &Path, source: &str) {
    let Some(db) = db else { return };
    match record(db, dir, source) {
        Ok(_) => eprintln!("history: recorded in {}", db.display()),
        Err(e) => eprintln!(
            "warning: history: {e} (the run's results are in {})",
            dir.display()
        ),
    }
}

/// `parbench history import DIR… [--commit REV] [--time T]`: loads results directories.
pub(crate) fn import(
    db: Option<&Path>,
    dirs: &[PathBuf],
    rev: Option<&str>,
    time: Option<i64>,
) -> Result<u8, Error> {
    let db = database_to_read(db)?;
    // Every directory is read before anything is written: a bad one keeps the rest out too.
    let mut loaded = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let file = if dir.is_file() {
            dir.clone()
        } else {
            dir.join("results.json")
        };
        let results = parbench_reports::read(&file).map_err(Error::Results)?;
        let here = Path::new(".");
        let recorded = results.machine.git_commit.as_deref();
        let mut commit = match (rev, recorded) {
            (Some(rev), _) => Some(commit_of(here, rev, false).ok_or_else(|| {
                Error::Usage(format!(
                    "--commit {rev}: no such commit in this checkout (import from the \
                     repository the runs measured)"
                ))
            })?),
            // The commit the run recorded, with what this checkout knows of it.
            (None, Some(hash)) => Some(commit_of(here, hash, false).unwrap_or_else(|| Commit {
                hash: hash.to_owned(),
                time: started_at(&results.started_at).unwrap_or_else(now),
                ..Commit::default()
            })),
            (None, None) => None,
        };
        if let Some(commit) = commit.as_mut() {
            commit.dirty = rev.is_none() && results.machine.git_dirty.unwrap_or(false);
            if let Some(time) = time {
                commit.time = time;
            }
        }
        let provenance = Provenance {
            source: "import".to_owned(),
            branch: None,
            commit,
            results_dir: Some(std::fs::canonicalize(&file).unwrap_or(file.clone())),
            recorded_at: time
                .or_else(|| started_at(&results.started_at))
                .unwrap_or_else(now),
        };
        loaded.push((file, results, provenance));
    }
    let mut history = History::open(&db)?;
    for (file, results, provenance) in &loaded {
        let run = history.record(results, provenance)?;
        println!(
            "{}: run {run}, {} cells{}",
            file.display(),
            results.cells.len(),
            provenance
                .commit
                .as_ref()
                .map(|c| format!(", commit {}", &c.hash[..c.hash.len().min(10)]))
                .unwrap_or_default()
        );
    }
    println!("{}", db.display());
    Ok(0)
}

/// `parbench history check`: the change points, newest first; exit 1 when a regression
/// stands at the head and no paired run refuted it.
pub(crate) fn check(db: Option<&Path>, settings: &history::Check, all: bool) -> Result<u8, Error> {
    let db = database_to_read(db)?;
    if !db.exists() {
        return Err(Error::Usage(format!(
            "{}: no history yet (every `parbench run`, `compare` and `cargo bench` records \
             one; `parbench history import DIR` loads earlier runs)",
            db.display()
        )));
    }
    let history = History::open(&db)?;
    let runs = history.runs()?;
    let findings = history::check(&history, settings)?;
    print!("{}", render(&findings, runs.len(), all));
    Ok(if findings.iter().any(Finding::fails) {
        1
    } else {
        0
    })
}

/// The check's findings for a terminal: a count of each kind, then a line per change point
/// beyond the gate's thresholds (with `all`, every one), newest first.
fn render(findings: &[Finding], runs: usize, all: bool) -> String {
    use std::fmt::Write as _;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let regressions = findings.iter().filter(|f| f.regression).count();
    let failing = findings.iter().filter(|f| f.fails()).count();
    let improvements = findings.iter().filter(|f| f.improvement).count();
    let within = findings.len() - regressions - improvements;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} in {}: {} ({failing} failing at the head), {}, {within} within the gate's \
         thresholds{}",
        plural(findings.len(), "change point"),
        plural(runs, "run"),
        plural(regressions, "regression"),
        plural(improvements, "improvement"),
        if all || within == 0 {
            ""
        } else {
            " (--all lists them)"
        }
    );
    for finding in findings
        .iter()
        .filter(|f| all || f.regression || f.improvement)
    {
        let (low, high) = finding.interval();
        let kind = if finding.fails() {
            "REGRESSION at head"
        } else if finding.regression {
            "regression"
        } else if finding.improvement {
            "improvement"
        } else {
            "within the gate's threshold"
        };
        let verdict = match &finding.verdict {
            Some(v) if v.confirmed => " · confirmed by a paired run",
            Some(_) => " · refuted by a paired run",
            None => "",
        };
        let _ = writeln!(
            out,
            "{commits}  {cell} {metric}: {before} → {after} ({change}, 95% CI [{low}, {high}], \
             p = {p:.1e}) · {kind}{verdict}",
            commits = finding.commits(),
            cell = finding.cell,
            metric = finding.metric.name(),
            before = finding.metric.format(finding.change.before.mean),
            after = finding.metric.format(finding.change.after.mean),
            change = finding.metric.format_change(finding.size()),
            low = finding.metric.format_change(low),
            high = finding.metric.format_change(high),
            p = finding.change.p,
        );
    }
    out
}
