//! `parbench compare`: the regression gate's command. It reads two results directories — or
//! measures two builds side by side first (`--base-bin`, `--base-rev`) — compares them with
//! [`parbench_reports::compare`] and writes what it found: the terminal's table,
//! `compare.md` (also to `$GITHUB_STEP_SUMMARY`), `compare.json` and `compare.html`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use parbench_reports::compare::{self, Comparison, Options};
use parbench_reports::{write_file_atomically, Results, Thresholds};

use crate::error::Error;
use crate::observer::{Observer, PassSummary, Plan, Progress, RunSummary};
use crate::options::{ProfileScope, RunOptions};
use crate::runner::{run_paired, Baseline};
use crate::suite::Suite;

/// What `parbench compare` was asked, besides what to compare: its flags, as `--help` tells
/// them.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GateOptions {
    /// A metric's threshold, over the suite's `[gate]`: `run=3%`, `end-to-end=10%`,
    /// `memory=10%`, `overhead=5%` (points), `bytes=10%`. Repeatable.
    #[arg(long = "threshold", value_name = "METRIC=VALUE")]
    pub thresholds: Vec<String>,
    /// The family-wise error rate: the chance that a build compared with itself is flagged at
    /// all.
    #[arg(long, default_value_t = parbench_reports::compare::ALPHA)]
    pub alpha: f64,
    /// Compare results measured on different machines (every output says so).
    #[arg(long)]
    pub allow_other_machine: bool,
    /// Compare the cells both sides hold when their cells differ (every output lists the
    /// rest).
    #[arg(long)]
    pub common_only: bool,
    /// Every metric of every cell in the terminal, not only what changed.
    #[arg(long)]
    pub all: bool,
    /// Where compare.md, compare.json and compare.html go; a paired run writes both builds'
    /// results under it too (`base/`, `new/`).
    #[arg(long, default_value = "target/parbench/compare")]
    pub out: PathBuf,
    /// The history database a paired run records this build's side in (default:
    /// `PARBENCH_HISTORY`, else history.sqlite beside the output directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

impl GateOptions {
    /// The comparison's options: the suite's thresholds (`[gate]`, else the defaults), then
    /// the flags'.
    fn options(&self, suite: Option<Thresholds>) -> Result<Options, Error> {
        let thresholds = with_flags(suite.unwrap_or_default(), &self.thresholds)?;
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::Usage(format!(
                "--alpha {}: must lie between 0 and 1 (0.05 is 5%)",
                self.alpha
            )));
        }
        Ok(Options {
            thresholds,
            alpha: self.alpha,
            allow_other_machine: self.allow_other_machine,
            common_only: self.common_only,
        })
    }
}

/// `thresholds` with the `--threshold METRIC=VALUE` flags' over them.
pub(crate) fn with_flags(
    mut thresholds: Thresholds,
    assignments: &[String],
) -> Result<Thresholds, Error> {
    for assignment in assignments {
        compare::set_threshold(&mut thresholds, assignment)
            .map_err(|e| Error::Usage(format!("--threshold {assignment}: {e}")))?;
    }
    Ok(thresholds)
}

/// Reads the results of a directory (or of a `results.json` given directly).
pub(crate) fn read(dir: &Path) -> Result<Results, Error> {
    let file = if dir.is_dir() {
        dir.join("results.json")
    } else {
        dir.to_owned()
    };
    parbench_reports::read(&file).map_err(Error::Results)
}

/// `parbench compare BASE NEW`: compares two results directories; returns the exit code.
pub(crate) fn compare_dirs(base: &Path, new: &Path, gate: &GateOptions) -> Result<u8, Error> {
    let (base_results, new_results) = (read(base)?, read(new)?);
    let options = gate.options(new_results.suite.gate)?;
    let mut comparison = compare::compare(&base_results, &new_results, &options)?;
    comparison.base.dir = Some(base.display().to_string());
    comparison.new.dir = Some(new.display().to_string());
    report(&comparison, gate)
}

/// Prints the comparison, writes its files and returns the gate's exit code.
fn report(comparison: &Comparison, gate: &GateOptions) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) ends the printing, not the gate: the files are still written.
    let _ = write!(out, "{}", compare::terminal(comparison, gate.all));
    fs::create_dir_all(&gate.out).map_err(|source| Error::OutputDir {
        path: gate.out.clone(),
        source,
    })?;
    let markdown = compare::markdown(comparison);
    let files = [
        ("compare.md", markdown.clone().into_bytes()),
        ("compare.json", comparison.to_json()),
        ("compare.html", compare::html(comparison)?.into_bytes()),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let _writing = crate::interrupt::writing();
        let path = gate.out.join(name);
        write_file_atomically(&path, &bytes)?;
        written.push(path);
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        // GitHub's job summary: appended to, as every step does.
        let appended = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(markdown.as_bytes()));
        if let Err(e) = appended {
            eprintln!(
                "warning: GITHUB_STEP_SUMMARY {}: {e}",
                Path::new(&summary).display()
            );
        }
    }
    let _ = writeln!(out);
    for file in written {
        let _ = writeln!(out, "{}", file.display());
    }
    Ok(comparison.exit_code())
}

/// The cells a paired run's first rounds flag as regressed: what it measures once more. The
/// two sides of one run hold the same cells on the same machine, so the comparison cannot be
/// refused; if it were, nothing would be re-measured and no regression could stand.
fn flagged(base: &Results, new: &Results, options: &Options) -> Vec<String> {
    compare::screen(base, new, options).unwrap_or_default()
}

/// The cells whose run time the rounds so far leave too noisy to tell: what gets more rounds.
fn unsettled(base: &Results, new: &Results, options: &Options) -> Vec<String> {
    compare::unsettled(base, new, options).unwrap_or_default()
}

/// Where a paired run's base build comes from.
#[derive(Debug, Clone)]
pub(crate) enum BaseBuild {
    /// `--base-bin`: a binary built already.
    Binary(PathBuf),
    /// `--base-rev`: a git revision, built here in a worktree (see [`build_revision`]).
    Revision(String),
}

/// `parbench compare --base-bin|--base-rev [SUITE]`: measures both builds side by side, then
/// compares them; returns the exit code.
pub(crate) fn compare_paired(
    suite: &Suite,
    base: &BaseBuild,
    run: &RunOptions,
    gate: &GateOptions,
) -> Result<u8, Error> {
    // Flags checked before a build that may take minutes.
    gate.options(suite.gate)?;
    let (built, commit) = match base {
        BaseBuild::Binary(path) => {
            if !path.is_file() {
                return Err(Error::Usage(format!(
                    "--base-bin {}: no such file",
                    path.display()
                )));
            }
            (path.clone(), None)
        }
        BaseBuild::Revision(rev) => {
            let (binary, commit) = build_revision(rev, "--base-rev", "the base build")?;
            (binary, Some(commit))
        }
    };
    let this = std::env::current_exe().map_err(Error::CurrentExe)?;
    let new = measure_paired(suite, (&built, commit), &this, run, gate)?;
    let db = crate::history::database(gate.db.as_deref(), &gate.out);
    crate::history::record_finished(db.as_deref(), &new, "compare");
    compare_dirs(&gate.out.join("base"), &new, gate)
}

/// Measures the `base` build (a binary and the commit it was built from, when known) and the
/// `new` binary side by side on `suite`, into `base/` and `new/` under the gate's output;
/// returns the new side's directory.
pub(crate) fn measure_paired(
    suite: &Suite,
    base: (&Path, Option<String>),
    new: &Path,
    run: &RunOptions,
    gate: &GateOptions,
) -> Result<PathBuf, Error> {
    let compare_options = gate.options(suite.gate)?;
    // Both builds run from fresh copies side by side: a binary the linker wrote and one copied
    // afterwards hold different resident pages, which the memory metric would report.
    let bin = gate.out.join("bin");
    fs::create_dir_all(&bin).map_err(|source| Error::OutputDir {
        path: bin.clone(),
        source,
    })?;
    let name = new.file_name().map_or_else(
        || "parbench".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let copy = |from: &Path, side: &str| -> Result<PathBuf, Error> {
        let to = bin.join(format!("{side}-{name}"));
        // A running copy of an earlier gate cannot be overwritten in place: replace it.
        let _ = fs::remove_file(&to);
        fs::copy(from, &to).map_err(|e| {
            Error::BaseBuild(format!(
                "copying {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?;
        Ok(to)
    };
    let binary = copy(base.0, "base")?;
    let this_binary = copy(new, "new")?;
    let mut options = run.clone();
    options.out = gate.out.join("new");
    options.profile = ProfileScope::None;
    let recheck = |base: &Results, new: &Results| flagged(base, new, &compare_options);
    let widen = |base: &Results, new: &Results| unsettled(base, new, &compare_options);
    let baseline = Baseline {
        binary,
        this_binary: Some(this_binary),
        commit: base.1,
        out: gate.out.join("base"),
        widen: &widen,
        recheck: &recheck,
    };
    let mut terminal = Progressing(crate::terminal::Terminal::default());
    run_paired(suite, &options, &baseline, &mut terminal)?;
    Ok(options.out)
}

/// The terminal's observer without its closing tables: the comparison follows instead.
struct Progressing(crate::terminal::Terminal);

impl Observer for Progressing {
    fn run_started(&mut self, plan: &Plan<'_>) {
        self.0.run_started(plan);
    }
    fn preparing(&mut self, bucket: &str) {
        self.0.preparing(bucket);
    }
    fn pass_started(&mut self, progress: &Progress) {
        self.0.pass_started(progress);
    }
    fn cell_started(&mut self, id: &str, progress: &Progress) {
        self.0.cell_started(id, progress);
    }
    fn cell_finished(&mut self, cell: &parbench_reports::Cell, progress: &Progress) {
        self.0.cell_finished(cell, progress);
    }
    fn pass_finished(&mut self, summary: &PassSummary) {
        self.0.pass_finished(summary);
    }
    fn warning(&mut self, message: &str) {
        self.0.warning(message);
    }
    fn run_finished(&mut self, _results: &Results, summary: &RunSummary) {
        self.0.finish_briefly(summary);
    }
}

/// Builds `rev` in a git worktree (`cargo build --release`, the binary named as this one), the
/// worktree and its target directory kept between builds under `target/parbench-base`, so
/// each build is incremental; returns the binary and the commit. `flag` names where the revision came from in a usage error, `what`
/// the build in the progress line.
pub(crate) fn build_revision(
    rev: &str,
    flag: &str,
    what: &str,
) -> Result<(PathBuf, String), Error> {
    let git = |args: &[&str]| -> Result<String, Error> {
        let output = Command::new("git")
            .args(args)
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::BaseBuild(format!("git {}: {e}", args.join(" "))))?;
        if !output.status.success() {
            return Err(Error::BaseBuild(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    // An unknown revision is the user's mistake, not the build's.
    let commit =
        git(&["rev-parse", "--verify", &format!("{rev}^{{commit}}")]).map_err(|e| match e {
            Error::BaseBuild(why) => Error::Usage(format!("{flag} {rev}: {why}")),
            other => other,
        })?;
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
    let name = exe
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("parbench")
        .to_owned();
    // The base's own target directory and a worktree beside it, both kept between builds:
    // checking out the next commit rewrites only the files that differ, so cargo rebuilds only
    // the crates they touch.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| top.join("target"), PathBuf::from)
        .join("parbench-base");
    let tree = target.join("tree");
    let tree_text = tree.display().to_string();
    let reused = tree.join(".git").exists()
        && git(&[
            "-C", &tree_text, "checkout", "--quiet", "--force", "--detach", &commit,
        ])
        .is_ok();
    if !reused {
        // A tree left by another clone, or by a build that was killed: made afresh.
        let _ = git(&["worktree", "remove", "--force", &tree_text]);
        let _ = fs::remove_dir_all(&tree);
        let _ = git(&["worktree", "prune"]);
        fs::create_dir_all(&target).map_err(|source| Error::OutputDir {
            path: target.clone(),
            source,
        })?;
        git(&["worktree", "add", "--detach", &tree_text, &commit])?;
    }
    eprintln!("building {what} {commit} (cargo build --release --bin {name})");
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--bin", &name])
        .current_dir(&tree)
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::null())
        .status();
    match built {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(Error::BaseBuild(format!(
                "cargo build of {commit} failed ({status})"
            )))
        }
        Err(e) => return Err(Error::BaseBuild(format!("cargo: {e}"))),
    }
    Ok((target.join("release").join(&name), commit))
}
