//! The history database: every run's figures, kept over commits in one SQLite file.
//!
//! One row per run (its commit, branch, machine and suite) and one per cell and metric of it:
//! the figure, its 95% interval and the medians of the processes it came from. The samples
//! themselves stay in the run's results directory, which the run's row names: a default run's
//! samples are megabytes of JSON, while the process medians are all that the change points
//! and the trend page read, and enough to estimate a figure again by another method.
//!
//! The file is opened in WAL mode with a busy timeout, and every write is one immediate
//! transaction: two runs that record at the same moment wait for each other and lose nothing.
//! A file that is not a parbench history, is corrupt, or was written by a newer parbench is
//! refused before anything is written to it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use crate::compare::Metric;
use crate::{Results, Status, Thresholds};

/// The schema this build writes; [`History::open`] migrates older files to it.
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id` of a parbench history ("pbhi").
const APPLICATION_ID: i64 = 0x7062_6869;

/// How long a write waits for another process's before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Each migration takes the schema from the version before it to its own number (the first
/// from an empty file).
const MIGRATIONS: [&str; 2] = [
    // 1: runs, their figures and failures, and the paired runs' verdicts.
    r#"
CREATE TABLE machines (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    cpu TEXT NOT NULL,
    logical_cores INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    recorded_at INTEGER NOT NULL,
    source TEXT NOT NULL,
    commit_hash TEXT,
    commit_parent TEXT,
    commit_subject TEXT,
    commit_time INTEGER,
    dirty INTEGER,
    branch TEXT,
    machine INTEGER NOT NULL REFERENCES machines(id),
    kernel TEXT NOT NULL,
    governor TEXT,
    suite TEXT NOT NULL,
    suite_hash TEXT NOT NULL,
    parbench_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    results_dir TEXT
);
CREATE INDEX runs_by_machine ON runs(machine, commit_time, recorded_at);
CREATE TABLE figures (
    run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    cell TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    low REAL,
    high REAL,
    units TEXT NOT NULL,
    PRIMARY KEY (run, cell, metric)
) WITHOUT ROWID;
CREATE INDEX figures_by_cell ON figures(cell, metric);
CREATE TABLE failures (
    run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    cell TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (run, cell)
) WITHOUT ROWID;
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY,
    machine INTEGER NOT NULL REFERENCES machines(id),
    cell TEXT NOT NULL,
    metric TEXT NOT NULL,
    before_commit TEXT NOT NULL,
    after_commit TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    change REAL,
    low REAL,
    high REAL,
    checked_at INTEGER NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (machine, cell, metric, before_commit, after_commit)
);
"#,
    // 2: each run's gate thresholds, which `history check` judges its suite's changes by.
    "ALTER TABLE runs ADD COLUMN gate TEXT;",
];

/// Why the history could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite refused: the file is corrupt, unreadable, or locked for longer than the timeout.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file is an SQLite database of something else.
    #[error("{}: not a parbench history (application id {found:#x}, expected {APPLICATION_ID:#x})", path.display())]
    Foreign {
        /// The database.
        path: PathBuf,
        /// Its application id.
        found: i64,
    },
    /// The file was written by a newer parbench.
    #[error("{}: history schema {found} is newer than this parbench's {SCHEMA_VERSION}; update parbench to read it", path.display())]
    Newer {
        /// The database.
        path: PathBuf,
        /// Its schema version.
        found: i64,
    },
    /// Its directory could not be made.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Why a write gave up, before the file's path is put to it.
enum Refusal {
    Sqlite(rusqlite::Error),
    Newer(i64),
}

impl From<rusqlite::Error> for Refusal {
    fn from(error: rusqlite::Error) -> Self {
        Refusal::Sqlite(error)
    }
}

/// Where a run came from: what [`History::record`] keeps beside its figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    /// What recorded it: `run`, `compare`, `bench`, `import`, `backfill` or `confirm`.
    pub source: String,
    /// The commit measured, when the run was made in a git checkout.
    pub commit: Option<Commit>,
    /// The branch checked out, if any.
    pub branch: Option<String>,
    /// The run's results directory.
    pub results_dir: Option<PathBuf>,
    /// When it was recorded, in seconds since the Unix epoch.
    pub recorded_at: i64,
}

/// A commit of the project measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    /// Its full hash.
    pub hash: String,
    /// Its first parent's hash.
    pub parent: Option<String>,
    /// The first line of its message.
    pub subject: String,
    /// Its committer time, in seconds since the Unix epoch: what orders a series.
    pub time: i64,
    /// Whether the working tree had changes beside it.
    pub dirty: bool,
}

/// One run as the history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Its row id.
    pub id: i64,
    /// Where it came from.
    pub provenance: Provenance,
    /// The machine, as [`machine_key`] names it.
    pub machine: String,
    /// The kernel it ran ([`Machine::kernel`](crate::Machine::kernel)).
    pub kernel: String,
    /// The suite's name.
    pub suite: String,
    /// The suite's gate thresholds (`[gate]`), if it set them.
    pub gate: Option<Thresholds>,
    /// A digest of the suite's cells and seed: runs with the same one measured the same cells.
    pub suite_hash: String,
}

/// What one series follows: a cell of a suite, and one of its metrics.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    /// The suite's name.
    pub suite: String,
    /// The cell's id.
    pub cell: String,
    /// The metric's name (`run`, `end-to-end`, `memory`, `overhead`, `bytes`).
    pub metric: String,
}

/// One point of a cell's series: a run's figure of one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The run it came from.
    pub run: i64,
    /// The commit measured, if known.
    pub commit: Option<String>,
    /// The first line of the commit's message.
    pub subject: Option<String>,
    /// Whether the working tree had changes beside the commit.
    pub dirty: bool,
    /// The commit's time, or the run's when there is no commit.
    pub time: i64,
    /// The figure: the geometric mean of the processes' medians.
    pub value: f64,
    /// Its 95% interval, where there is one.
    pub interval: Option<(f64, f64)>,
    /// The medians of the processes it came from.
    pub units: Vec<f64>,
}

/// A paired run's verdict on a change point: confirmed or refuted, with its figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The cell.
    pub cell: String,
    /// The metric's name.
    pub metric: String,
    /// The last commit before the change.
    pub before_commit: String,
    /// The first commit after it.
    pub after_commit: String,
    /// Whether the paired run showed the change.
    pub confirmed: bool,
    /// The paired run's estimate of the change, and its interval.
    pub change: Option<(f64, f64, f64)>,
    /// What the paired run concluded, in words.
    pub detail: String,
    /// When, in seconds since the Unix epoch.
    pub checked_at: i64,
}

/// An open history database.
///
/// ```
/// use parbench_reports::history::store::{History, Provenance, SeriesKey};
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let dir = tempfile::tempdir()?;
/// let mut history = History::open(&dir.path().join("history.sqlite"))?;
/// let provenance = Provenance { source: "run".into(), recorded_at: 1_700_000_000, ..Default::default() };
/// let run = history.record(&results, &provenance)?;
/// assert_eq!(history.runs()?.len(), 1);
/// let key = SeriesKey {
///     suite: results.suite.name.clone(),
///     cell: results.cells[0].id.clone(),
///     metric: "run".into(),
/// };
/// let series = history.series(&history.runs()?[0].machine, &key)?;
/// assert_eq!(series[0].run, run);
/// assert_eq!(series[0].value, results.cells[0].wall.as_ref().unwrap().median_ns);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct History {
    connection: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

impl History {
    /// Opens the history at `path`, creating it (and its directory) when there is none, and
    /// migrating an older schema.
    ///
    /// # Errors
    ///
    /// A file that is not a parbench history, is corrupt, or has a newer schema, untouched.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| HistoryError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let sqlite = |source| HistoryError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        let mut history = History {
            connection,
            path: path.to_owned(),
        };
        // Reads only, before anything is written: a foreign, corrupt or newer file stays as
        // it is.
        history.check_identity()?;
        history
            .connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        history
            .connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(sqlite)?;
        history.migrate()?;
        Ok(history)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Refuses a file that is not ours or is newer than this build.
    fn check_identity(&self) -> Result<(), HistoryError> {
        let read = |pragma: &str| -> Result<i64, HistoryError> {
            self.connection
                .pragma_query_value(None, pragma, |row| row.get(0))
                .map_err(|e| self.sqlite(e))
        };
        let application = read("application_id")?;
        let version = read("user_version")?;
        let tables: i64 = self
            .connection
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        let empty = application == 0 && version == 0 && tables == 0;
        if !empty && application != APPLICATION_ID {
            return Err(HistoryError::Foreign {
                path: self.path.clone(),
                found: application,
            });
        }
        if version > SCHEMA_VERSION {
            return Err(HistoryError::Newer {
                path: self.path.clone(),
                found: version,
            });
        }
        Ok(())
    }

    /// Brings the schema to [`SCHEMA_VERSION`], in one transaction that also re-reads the
    /// version (another process may have migrated it meanwhile).
    fn migrate(&mut self) -> Result<(), HistoryError> {
        self.write(|transaction| {
            let version: i64 =
                transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
            if version > SCHEMA_VERSION {
                return Err(Refusal::Newer(version));
            }
            for (from, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                transaction.execute_batch(migration)?;
                transaction.pragma_update(None, "user_version", from as i64 + 1)?;
            }
            transaction.pragma_update(None, "application_id", APPLICATION_ID)?;
            Ok(())
        })
    }

    /// Runs `work` in one immediate transaction — it waits for another process's write, up to
    /// the busy timeout — and commits it; nothing of it is kept when it fails.
    fn write<T>(
        &mut self,
        work: impl FnOnce(&Transaction<'_>) -> Result<T, Refusal>,
    ) -> Result<T, HistoryError> {
        let path = self.path.clone();
        let refused = |refusal| match refusal {
            Refusal::Sqlite(source) => HistoryError::Sqlite {
                path: path.clone(),
                source,
            },
            Refusal::Newer(found) => HistoryError::Newer {
                path: path.clone(),
                found,
            },
        };
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| refused(e.into()))?;
        let done = work(&transaction).map_err(refused)?;
        transaction.commit().map_err(|e| refused(e.into()))?;
        Ok(done)
    }

    /// Records a run: its provenance and, per cell and metric, its figure, interval and
    /// process medians (a failed cell's status and error instead). Returns the run's id.
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file; nothing of the run is kept then.
    pub fn record(
        &mut self,
        results: &Results,
        provenance: &Provenance,
    ) -> Result<i64, HistoryError> {
        self.write(|transaction| {
            let machine = &results.machine;
            let fingerprint = machine_key(machine);
            transaction.execute(
                "INSERT OR IGNORE INTO machines (fingerprint, cpu, logical_cores, memory_bytes)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    fingerprint,
                    machine.cpu_model,
                    machine.logical_cores as i64,
                    machine.memory_bytes as i64,
                ],
            )?;
            let machine_id: i64 = transaction.query_row(
                "SELECT id FROM machines WHERE fingerprint = ?1",
                [&fingerprint],
                |row| row.get(0),
            )?;
            let commit = provenance.commit.as_ref();
            transaction.execute(
                "INSERT INTO runs (recorded_at, source, commit_hash, commit_parent,
                 commit_subject, commit_time, dirty, branch, machine, kernel, governor, suite,
                 gate, suite_hash, parbench_version, started_at, results_dir)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17)",
                params![
                    provenance.recorded_at,
                    provenance.source,
                    commit.map(|c| &c.hash),
                    commit.and_then(|c| c.parent.as_ref()),
                    commit.map(|c| &c.subject),
                    commit.map(|c| c.time),
                    commit.map(|c| c.dirty),
                    provenance.branch,
                    machine_id,
                    machine.kernel,
                    machine.governor,
                    results.suite.name,
                    results
                        .suite
                        .gate
                        .and_then(|g| serde_json::to_string(&g).ok()),
                    suite_hash(results),
                    results.parbench_version,
                    results.started_at,
                    provenance
                        .results_dir
                        .as_ref()
                        .map(|d| d.display().to_string()),
                ],
            )?;
            let run = transaction.last_insert_rowid();
            let mut figure = transaction.prepare(
                "INSERT INTO figures (run, cell, metric, value, low, high, units)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut failure = transaction.prepare(
                "INSERT INTO failures (run, cell, status, error) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for cell in &results.cells {
                if cell.status != Status::Ok {
                    failure.execute(params![run, cell.id, cell.status.as_str(), cell.error])?;
                    continue;
                }
                for metric in Metric::ALL {
                    let Some(measured) = metric.figure_of(cell) else {
                        continue;
                    };
                    let units = serde_json::to_string(&measured.units).unwrap_or_default();
                    figure.execute(params![
                        run,
                        cell.id,
                        metric.name(),
                        measured.value,
                        measured.interval.map(|i| i.0),
                        measured.interval.map(|i| i.1),
                        units
                    ])?;
                }
            }
            Ok(run)
        })
    }

    /// Every run, oldest commit first (runs of one commit in the order they were recorded).
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file.
    pub fn runs(&self) -> Result<Vec<Run>, HistoryError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT runs.id, source, commit_hash, commit_parent, commit_subject, commit_time,
                 dirty, branch, results_dir, recorded_at, machines.fingerprint, suite, suite_hash,
                 kernel, gate
                 FROM runs JOIN machines ON machines.id = runs.machine
                 ORDER BY coalesce(commit_time, recorded_at), recorded_at, runs.id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([], |row| {
                let hash: Option<String> = row.get(2)?;
                let commit = match hash {
                    Some(hash) => Some(Commit {
                        hash,
                        parent: row.get(3)?,
                        subject: row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        time: row.get::<_, Option<i64>>(5)?.unwrap_or_default(),
                        dirty: row.get::<_, Option<bool>>(6)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok(Run {
                    id: row.get(0)?,
                    provenance: Provenance {
                        source: row.get(1)?,
                        commit,
                        branch: row.get(7)?,
                        results_dir: row.get::<_, Option<String>>(8)?.map(PathBuf::from),
                        recorded_at: row.get(9)?,
                    },
                    machine: row.get(10)?,
                    kernel: row.get(13)?,
                    suite: row.get(11)?,
                    gate: row
                        .get::<_, Option<String>>(14)?
                        .and_then(|g| serde_json::from_str(&g).ok()),
                    suite_hash: row.get(12)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// The series measured on a machine — each suite's cells and metrics — with how many
    /// runs have a figure in each.
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file.
    pub fn measured(&self, machine: &str) -> Result<BTreeMap<SeriesKey, usize>, HistoryError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT suite, cell, metric, count(*) FROM figures
                 JOIN runs ON runs.id = figures.run
                 JOIN machines ON machines.id = runs.machine
                 WHERE machines.fingerprint = ?1 GROUP BY suite, cell, metric",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map([machine], |row| {
                let key = SeriesKey {
                    suite: row.get(0)?,
                    cell: row.get(1)?,
                    metric: row.get(2)?,
                };
                Ok((key, row.get::<_, i64>(3)? as usize))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// One series' figures on one machine, in commit order.
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file.
    pub fn series(&self, machine: &str, key: &SeriesKey) -> Result<Vec<Point>, HistoryError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT runs.id, commit_hash, commit_subject, coalesce(commit_time, recorded_at),
                 value, low, high, units, coalesce(dirty, 0)
                 FROM figures JOIN runs ON runs.id = figures.run
                 JOIN machines ON machines.id = runs.machine
                 WHERE machines.fingerprint = ?1 AND suite = ?2 AND cell = ?3 AND metric = ?4
                 ORDER BY coalesce(commit_time, recorded_at), recorded_at, runs.id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = statement
            .query_map(params![machine, key.suite, key.cell, key.metric], |row| {
                let low: Option<f64> = row.get(5)?;
                let high: Option<f64> = row.get(6)?;
                let units: String = row.get(7)?;
                Ok(Point {
                    run: row.get(0)?,
                    commit: row.get(1)?,
                    subject: row.get(2)?,
                    dirty: row.get(8)?,
                    time: row.get(3)?,
                    value: row.get(4)?,
                    interval: low.zip(high),
                    units: serde_json::from_str(&units).unwrap_or_default(),
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Keeps a paired run's verdict on a change point (replacing an earlier one on the same
    /// commits).
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file; a machine never recorded.
    pub fn record_verdict(&mut self, machine: &str, verdict: &Verdict) -> Result<(), HistoryError> {
        self.write(|transaction| {
            let machine_id: i64 = transaction.query_row(
                "SELECT id FROM machines WHERE fingerprint = ?1",
                [machine],
                |row| row.get(0),
            )?;
            transaction.execute(
                "INSERT OR REPLACE INTO verdicts (machine, cell, metric, before_commit,
                 after_commit, confirmed, change, low, high, checked_at, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    machine_id,
                    verdict.cell,
                    verdict.metric,
                    verdict.before_commit,
                    verdict.after_commit,
                    verdict.confirmed,
                    verdict.change.map(|c| c.0),
                    verdict.change.map(|c| c.1),
                    verdict.change.map(|c| c.2),
                    verdict.checked_at,
                    verdict.detail,
                ],
            )?;
            Ok(())
        })
    }

    /// The paired run's verdict on a change between two commits, if one was made.
    ///
    /// # Errors
    ///
    /// SQLite's, naming the file.
    pub fn verdict(
        &self,
        machine: &str,
        cell: &str,
        metric: &str,
        commits: (&str, &str),
    ) -> Result<Option<Verdict>, HistoryError> {
        self.connection
            .query_row(
                "SELECT confirmed, change, low, high, detail, checked_at FROM verdicts
                 JOIN machines ON machines.id = verdicts.machine
                 WHERE fingerprint = ?1 AND cell = ?2 AND metric = ?3
                 AND before_commit = ?4 AND after_commit = ?5",
                params![machine, cell, metric, commits.0, commits.1],
                |row| {
                    let change: Option<f64> = row.get(1)?;
                    let low: Option<f64> = row.get(2)?;
                    let high: Option<f64> = row.get(3)?;
                    Ok(Verdict {
                        cell: cell.to_owned(),
                        metric: metric.to_owned(),
                        before_commit: commits.0.to_owned(),
                        after_commit: commits.1.to_owned(),
                        confirmed: row.get(0)?,
                        change: change.zip(low).zip(high).map(|((c, l), h)| (c, l, h)),
                        detail: row.get(4)?,
                        checked_at: row.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }
}

/// The machine as the history tells machines apart: its CPU model, logical cores and memory
/// (to the nearest GiB). The kernel and the frequency governor are kept per run rather than
/// here: a virtual machine of one type boots another kernel build from day to day, and a
/// kernel update is a change the history should show on one series, not a new series.
///
/// ```
/// # let results: parbench_reports::Results = serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap();
/// let key = parbench_reports::history::store::machine_key(&results.machine);
/// assert!(key.starts_with(&results.machine.cpu_model));
/// assert!(!key.contains(&results.machine.kernel));
/// ```
pub fn machine_key(machine: &crate::Machine) -> String {
    format!(
        "{} · {} cores · {} GiB",
        machine.cpu_model,
        machine.logical_cores,
        (machine.memory_bytes as f64 / f64::from(1u32 << 30)).round()
    )
}

/// A digest of what a suite measures — its cells' ids and its seed — so that runs of one
/// suite are told from runs of another of the same name (64-bit FNV-1a, hex).
pub fn suite_hash(results: &Results) -> String {
    let mut ids: Vec<&str> = results.cells.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let seed = results.suite.seed.to_le_bytes();
    for byte in ids
        .iter()
        .flat_map(|id| id.bytes().chain(std::iter::once(0)))
        .chain(seed)
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Results {
        serde_json::from_str(include_str!("../../tests/fixtures/results.json")).unwrap()
    }

    fn provenance(hash: &str, time: i64) -> Provenance {
        Provenance {
            source: "import".into(),
            commit: Some(Commit {
                hash: hash.into(),
                parent: None,
                subject: format!("commit {hash}"),
                time,
                dirty: false,
            }),
            branch: Some("main".into()),
            results_dir: Some(PathBuf::from("/results")),
            recorded_at: 1_800_000_000 - time,
        }
    }

    #[test]
    fn runs_come_back_in_commit_order_with_their_figures_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/history.sqlite");
        let results = fixture();
        let mut history = History::open(&path).unwrap();
        // Recorded out of order: the later commit first.
        let later = history.record(&results, &provenance("bbb", 200)).unwrap();
        let earlier = history.record(&results, &provenance("aaa", 100)).unwrap();
        drop(history);
        // Opening again migrates nothing and keeps everything.
        let history = History::open(&path).unwrap();
        let runs = history.runs().unwrap();
        assert_eq!(
            runs.iter().map(|r| r.id).collect::<Vec<_>>(),
            [earlier, later]
        );
        assert_eq!(runs[0].provenance, provenance("aaa", 100));
        assert_eq!(runs[0].suite_hash, suite_hash(&results));
        let machine = &runs[0].machine;
        let ok = results
            .cells
            .iter()
            .filter(|c| c.status == Status::Ok)
            .count();
        let measured = history.measured(machine).unwrap();
        let run_series = measured.keys().filter(|k| k.metric == "run").count();
        assert_eq!(run_series, ok);
        assert!(measured.values().all(|&n| n == 2));
        let cell = results
            .cells
            .iter()
            .find(|c| c.status == Status::Ok)
            .unwrap();
        let key = SeriesKey {
            suite: results.suite.name.clone(),
            cell: cell.id.clone(),
            metric: "run".into(),
        };
        let series = history.series(machine, &key).unwrap();
        let wall = cell.wall.as_ref().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].commit.as_deref(), Some("aaa"));
        assert_eq!(series[0].value, wall.median_ns);
        assert_eq!(series[0].interval, Some((wall.ci_low_ns, wall.ci_high_ns)));
        assert_eq!(series[0].units.len(), wall.processes);
        let failed: i64 = history
            .connection
            .query_row("SELECT count(*) FROM failures", [], |row| row.get(0))
            .unwrap();
        let crashed = results
            .cells
            .iter()
            .filter(|c| c.status != Status::Ok)
            .count();
        assert_eq!(failed as usize, 2 * crashed);
        assert!(crashed > 0);
    }

    #[test]
    fn a_history_of_the_first_schema_is_migrated_and_keeps_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let results = fixture();
        {
            // A file as the first schema left it, with a run in it.
            let old = Connection::open(&path).unwrap();
            old.execute_batch(MIGRATIONS[0]).unwrap();
            old.pragma_update(None, "user_version", 1).unwrap();
            old.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            old.execute(
                "INSERT INTO machines (fingerprint, cpu, logical_cores, memory_bytes)
                 VALUES ('m', 'cpu', 2, 1)",
                [],
            )
            .unwrap();
            old.execute(
                "INSERT INTO runs (recorded_at, source, machine, kernel, suite, suite_hash,
                 parbench_version, started_at) VALUES (1, 'run', 1, 'k', 's', 'h', 'v', 't')",
                [],
            )
            .unwrap();
        }
        let mut history = History::open(&path).unwrap();
        let version: i64 = history
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mut gated = results.clone();
        gated.suite.gate = Some(Thresholds {
            run: 0.03,
            ..Thresholds::default()
        });
        history.record(&gated, &provenance("aaa", 5)).unwrap();
        let runs = history.runs().unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].gate, None);
        assert_eq!(runs[1].gate, gated.suite.gate);
    }

    #[test]
    fn a_foreign_database_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        {
            let other = Connection::open(&path).unwrap();
            other
                .execute_batch("CREATE TABLE notes (text TEXT)")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = History::open(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: not a parbench history (application id 0x0, expected 0x70626869)",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        drop(History::open(&path).unwrap());
        {
            let connection = Connection::open(&path).unwrap();
            connection.pragma_update(None, "user_version", 7).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let err = History::open(&path).unwrap_err();
        assert!(matches!(err, HistoryError::Newer { found: 7, .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn verdicts_are_kept_per_change_and_replaced_by_a_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = History::open(&dir.path().join("h.sqlite")).unwrap();
        history.record(&fixture(), &provenance("aaa", 1)).unwrap();
        let machine = history.runs().unwrap()[0].machine.clone();
        let mut verdict = Verdict {
            cell: "c".into(),
            metric: "run".into(),
            before_commit: "aaa".into(),
            after_commit: "bbb".into(),
            confirmed: true,
            change: Some((0.1, 0.08, 0.12)),
            detail: "regression".into(),
            checked_at: 5,
        };
        history.record_verdict(&machine, &verdict).unwrap();
        verdict.confirmed = false;
        verdict.change = None;
        history.record_verdict(&machine, &verdict).unwrap();
        assert_eq!(
            history
                .verdict(&machine, "c", "run", ("aaa", "bbb"))
                .unwrap(),
            Some(verdict)
        );
        assert_eq!(
            history
                .verdict(&machine, "c", "run", ("aaa", "ccc"))
                .unwrap(),
            None
        );
        assert!(history
            .record_verdict(
                "no such machine",
                &Verdict {
                    cell: "c".into(),
                    metric: "run".into(),
                    before_commit: "a".into(),
                    after_commit: "b".into(),
                    confirmed: true,
                    change: None,
                    detail: String::new(),
                    checked_at: 0,
                }
            )
            .is_err());
    }
}
