//! `parbench history`: runs kept over commits in an SQLite file, and the change points of
//! their figures (see `parbench_reports::history`).
//!
//! `run`, `compare` and `cargo bench` record every run they finish; `history import` loads
//! results directories made before; `history check` lists the change points and fails when a
//! regression stands at the head.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parbench_reports::compare::{self, Verdict as GateVerdict};
use parbench_reports::history::store::{machine_key, Commit, History, Provenance, Verdict};
use parbench_reports::history::{self, short_hash, Finding, Kind};

use crate::error::Error;
use crate::gate::{build_revision, measure_paired, GateOptions};
use crate::machine::git;
use crate::options::RunOptions;
use crate::plugins::Plugins;
use crate::suite::Suite;

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

/// The database a command that only reads the history reads: it must exist already (opening
/// would make an empty one).
fn existing_database(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let db = database_to_read(explicit)?;
    if db.exists() {
        return Ok(db);
    }
    Err(Error::Usage(format!(
        "{}: no history yet (every `parbench run`, `compare` and `cargo bench` records one; \
         `parbench history import DIR` loads earlier runs)",
        db.display()
    )))
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An RFC 3339 time (a run's start, `--time`) in seconds since the Unix epoch.
pub(crate) fn unix_seconds(text: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(text)
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
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
                time: unix_seconds(&results.started_at).unwrap_or_else(now),
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
            results_dir: file
                .parent()
                .map(|dir| std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())),
            recorded_at: time
                .or_else(|| unix_seconds(&results.started_at))
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
                .map(|c| format!(", commit {}", short_hash(&c.hash)))
                .unwrap_or_default()
        );
    }
    println!("{}", db.display());
    Ok(0)
}

/// `parbench history check`: the change points, newest first, and history.html and
/// history.md in `out`; exit 1 when a regression stands at the head and no paired run refuted
/// it.
pub(crate) fn check(
    db: Option<&Path>,
    settings: &history::Check,
    all: bool,
    out: &Path,
) -> Result<u8, Error> {
    let db = existing_database(db)?;
    let history = History::open(&db)?;
    let trends = history::trends(&history, settings)?;
    let runs: usize = trends.iter().map(|t| t.runs.len()).sum();
    let findings = history::findings(&trends);
    {
        use std::io::Write as _;
        // A closed pipe (`| head`) ends the listing, not the check: the pages are still written.
        let _ = write!(std::io::stdout().lock(), "{}", render(&findings, runs, all));
    }
    let page = history::html(&trends)?;
    std::fs::create_dir_all(out).map_err(|source| Error::OutputDir {
        path: out.to_owned(),
        source,
    })?;
    for (name, bytes) in [
        ("history.html", page.into_bytes()),
        ("history.md", history::markdown(&trends).into_bytes()),
    ] {
        let path = out.join(name);
        parbench_reports::write_file_atomically(&path, &bytes)?;
        println!("{}", path.display());
    }
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
        let kind = match finding.kind() {
            Kind::FailingRegression => "REGRESSION at head",
            Kind::Regression => "regression",
            Kind::Improvement => "improvement",
            Kind::Within => "within the gate's threshold",
        };
        let verdict = finding
            .verdict_text()
            .map(|text| format!(" · {text}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {} {}: {} · {kind}{verdict}",
            finding.commits(),
            finding.cell,
            finding.metric.name(),
            finding.figures(),
        );
    }
    out
}

/// A commit's subject cut to 60 characters for a progress line.
fn abridged(subject: &str) -> String {
    if subject.chars().count() > 60 {
        subject.chars().take(59).chain(['…']).collect()
    } else {
        subject.to_owned()
    }
}

/// `parbench history backfill REV..REV --suite FILE`: builds each commit of the range, oldest
/// first (first parents only), in one worktree target directory so that each build is
/// incremental, runs the suite with it and records the run. A commit that does not build or
/// run is reported and skipped. Exit code 1 when one was skipped.
pub(crate) fn backfill(
    db: Option<&Path>,
    range: &str,
    suite: &Path,
    filter: Option<&str>,
    out: &Path,
) -> Result<u8, Error> {
    let db = database_to_read(db)?;
    let suite = std::fs::canonicalize(suite)
        .map_err(|e| Error::Usage(format!("--suite {}: {e}", suite.display())))?;
    let here = Path::new(".");
    let list = git(here, &["rev-list", "--reverse", "--first-parent", range]).ok_or_else(|| {
        Error::Usage(format!(
            "{range}: not a range of commits of this checkout (REV..REV)"
        ))
    })?;
    let commits: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    if commits.is_empty() {
        return Err(Error::Usage(format!("{range}: no commits in the range")));
    }
    let mut history = History::open(&db)?;
    let mut skipped = 0;
    for (i, &hash) in commits.iter().enumerate() {
        let started = Instant::now();
        let Some(commit) = commit_of(here, hash, false) else {
            continue;
        };
        let place = format!(
            "{}/{} {} {}",
            i + 1,
            commits.len(),
            short_hash(hash),
            abridged(&commit.subject)
        );
        let dir = out.join(short_hash(hash));
        let results = match build_and_run(hash, &suite, filter, &dir) {
            Ok(results) => results,
            Err(why) => {
                eprintln!("{place}: skipped, {why}");
                skipped += 1;
                continue;
            }
        };
        let provenance = Provenance {
            source: "backfill".to_owned(),
            commit: Some(commit),
            branch: None,
            results_dir: Some(std::fs::canonicalize(&dir).unwrap_or(dir.clone())),
            recorded_at: now(),
        };
        history.record(&results, &provenance)?;
        let failed = results
            .cells
            .iter()
            .filter(|c| c.status != parbench_reports::Status::Ok)
            .count();
        println!(
            "{place}: {} cells, {failed} failed ({:.0} s to build and measure)",
            results.cells.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("{}", db.display());
    Ok(u8::from(skipped > 0))
}

/// Builds `hash` and runs `suite` with the build into `dir`; the run's results, or why there
/// are none.
fn build_and_run(
    hash: &str,
    suite: &Path,
    filter: Option<&str>,
    dir: &Path,
) -> Result<parbench_reports::Results, String> {
    let built = match build_revision(hash, "backfill", "commit") {
        Ok((binary, _)) => binary,
        Err(Error::BaseBuild(why)) => return Err(why),
        Err(e) => return Err(e.to_string()),
    };
    // The build's own recording (a build that has one) is left to this command.
    let mut command = Command::new(&built);
    command
        .arg("run")
        .arg(suite)
        .args(["--no-profile", "--out"])
        .arg(dir);
    if let Some(filter) = filter {
        command.args(["--filter", filter]);
    }
    let status = command
        .env(HISTORY_VAR, "off")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("{}: {e}", built.display()))?;
    match parbench_reports::read(&dir.join("results.json")) {
        // 1: a cell failed, and the rest were measured.
        Ok(results) if status.code().is_some_and(|c| c <= 1) => Ok(results),
        _ => Err(format!("its run ended with {status}")),
    }
}

/// `parbench history confirm --suite FILE`: for the newest change points past the thresholds
/// that no paired run has judged, builds the commits on either side, measures the changed cell
/// with both builds side by side (the gate's paired run) and records whether the change
/// stands: confirmed when the paired run calls it the same way (a regression a regression),
/// refuted otherwise. A refuted change point never fails `history check`.
pub(crate) fn confirm(
    db: Option<&Path>,
    settings: &history::Check,
    suite: &Path,
    out: &Path,
    limit: usize,
    plugins: &Plugins,
) -> Result<u8, Error> {
    let db = existing_database(db)?;
    let suite = Suite::find(suite, plugins)?;
    let mut history = History::open(&db)?;
    let mut pending: Vec<Finding> = history::check(&history, settings)?
        .into_iter()
        .filter(|f| (f.regression || f.improvement) && f.verdict.is_none())
        .filter(|f| f.before.commit.is_some() && f.after.commit.is_some())
        .collect();
    pending.truncate(limit);
    if pending.is_empty() {
        println!("nothing to confirm: every change point past the thresholds has a verdict");
        return Ok(0);
    }
    let bin = out.join("bin");
    std::fs::create_dir_all(&bin).map_err(|source| Error::OutputDir {
        path: bin.clone(),
        source,
    })?;
    // Each side's build copied out of the shared target directory, which the next build
    // overwrites.
    let build = |hash: &str| -> Result<PathBuf, Error> {
        let keep = bin.join(format!("parbench-{}", short_hash(hash)));
        if !keep.is_file() {
            let (built, _) = build_revision(hash, "confirm", "commit")?;
            std::fs::copy(&built, &keep).map_err(|e| {
                Error::BaseBuild(format!(
                    "copying {} to {}: {e}",
                    built.display(),
                    keep.display()
                ))
            })?;
        }
        Ok(keep)
    };
    for finding in &pending {
        let (Some(before), Some(after)) = (&finding.before.commit, &finding.after.commit) else {
            continue;
        };
        let (base, new) = (build(before)?, build(after)?);
        let gate = GateOptions {
            thresholds: Vec::new(),
            alpha: compare::ALPHA,
            allow_other_machine: false,
            common_only: true,
            all: false,
            out: out.join(format!("{}..{}", short_hash(before), short_hash(after))),
            db: None,
        };
        let mut run = RunOptions::new(&gate.out);
        run.filter = Some(finding.cell.clone());
        let new_dir = measure_paired(&suite, (&base, Some(before.clone())), &new, &run, &gate)?;
        let (base_results, new_results) = (
            crate::gate::read(&gate.out.join("base"))?,
            crate::gate::read(&new_dir)?,
        );
        let here = machine_key(&new_results.machine);
        if here != finding.machine {
            return Err(Error::Usage(format!(
                "the change points were found on {}; this machine is {here}: confirm them there",
                finding.machine
            )));
        }
        let options = compare::Options {
            thresholds: settings.thresholds.or(suite.gate).unwrap_or_default(),
            ..compare::Options::default()
        };
        let comparison = compare::compare(&base_results, &new_results, &options)?;
        let row = comparison
            .rows
            .iter()
            .find(|r| r.cell == finding.cell && r.metric == finding.metric);
        let (confirmed, change, detail) = match row {
            Some(row) => {
                let confirmed = (finding.regression && row.verdict == GateVerdict::Regression)
                    || (finding.improvement && row.verdict == GateVerdict::Improvement);
                let change = row
                    .change
                    .zip(row.low)
                    .zip(row.high)
                    .map(|((c, l), h)| (c, l, h));
                let detail = format!(
                    "paired run of {} units: {} {}",
                    row.units,
                    row.verdict.as_str(),
                    row.change_text()
                );
                (confirmed, change, detail)
            }
            None => (false, None, "the paired run did not measure it".to_owned()),
        };
        let verdict = Verdict {
            cell: finding.cell.clone(),
            metric: finding.metric.name().to_owned(),
            before_commit: before.clone(),
            after_commit: after.clone(),
            confirmed,
            change,
            detail: detail.clone(),
            checked_at: now(),
        };
        history.record_verdict(&finding.machine, &verdict)?;
        println!(
            "{} {} {}: {} — {detail}",
            finding.commits(),
            finding.cell,
            finding.metric.name(),
            if confirmed { "confirmed" } else { "refuted" }
        );
    }
    Ok(0)
}
