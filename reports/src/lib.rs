//! Results and reports for parbench: the results schema and every writer.
//!
//! This crate owns the schema of `results.json` ([`Results`]) and turns it into files. It
//! depends on no other crate of the workspace: the harness hands it plain values.
//!
//! ```
//! use parbench_reports::{write_atomically, Json, Writer};
//! # let results: parbench_reports::Results = serde_json::from_str(include_str!("../tests/fixtures/results.json")).unwrap();
//! let dir = std::env::temp_dir().join(format!("parbench-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = write_atomically(&dir, &Json, &results)?;
//! let back: parbench_reports::Results = serde_json::from_slice(&std::fs::read(&path)?)?;
//! assert_eq!(back, results);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod claims;
pub mod compare;
pub mod contest;
mod csv;
pub mod decide;
pub mod export;
pub mod figures;
pub mod flame;
pub mod format;
pub mod history;
mod html;
mod markdown;
mod schema;
pub mod stats;
pub mod view;
mod writer;

pub use self::csv::Csv;
pub use html::Html;
pub use markdown::Markdown;
pub use schema::{
    AnswerRecord, CanaryReading, Cell, Efficiency, FailedTask, Features, Machine, MachineLimits,
    Outliers, Overhead, Pairing, ProcessSamples, Profile, Resources, Results, RoundCosts,
    RoundStats, Rounds, Sample, Stats, Status, SuiteInfo, Thresholds, Timeline, TimelineSpan,
    TopFrame, VisitCosts, WorkerMemory, SCHEMA_VERSION,
};
pub use writer::{
    read, write_all, write_atomically, write_file_atomically, writers, Json, ReportError, Writer,
};
