//! `results.json` round-trips through the schema, and is written atomically.

use parbench_reports::{
    read, write_atomically, Json, ReportError, Results, Status, Writer, SCHEMA_VERSION,
};

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/results.json")).unwrap()
}

#[test]
fn the_fixture_reads_and_round_trips_unchanged() {
    let results = fixture();
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.cells.len(), 37);
    let failed: Vec<_> = results
        .cells
        .iter()
        .filter(|c| c.status != Status::Ok)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].status, Status::Crash);
    assert!(results
        .cells
        .iter()
        .all(|c| c.verified == (c.status == Status::Ok)));
    let risky = results
        .cells
        .iter()
        .find(|c| c.workload == "risky")
        .unwrap();
    assert!(!risky.answer.as_ref().unwrap().failed_tasks.is_empty());
    // Timelines are kept, relative to their run, within it.
    let timeline = risky.timeline.as_ref().unwrap();
    assert_eq!(timeline.spans.len(), risky.tasks);
    assert!(timeline
        .spans
        .iter()
        .all(|s| s.start_ns <= s.end_ns && s.end_ns <= timeline.run_ns));
    let bytes = Json.render(&results).unwrap();
    let back: Results = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, results);
    // Byte for byte: every float reads back to the same bits (`parbench report` rewrites the
    // file it read, and a regression gate compares raw samples).
    assert!(bytes == include_bytes!("fixtures/results.json"));
}

#[test]
fn writing_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = fixture();
    write_atomically(dir.path(), &Json, &results).unwrap();
    results.cells.truncate(1);
    let path = write_atomically(dir.path(), &Json, &results).unwrap();
    let back: Results = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back.cells.len(), 1);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["results.json"]);
}

#[test]
fn an_unwritable_directory_is_an_error_naming_the_file() {
    let err =
        write_atomically(std::path::Path::new("/proc/no-such-dir"), &Json, &fixture()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/proc/no-such-dir/.results.json."),
        "{err}"
    );
}

#[test]
fn reading_names_the_file_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let err = read(&path).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err}");
    std::fs::write(&path, "{\"schema_version\": 1, \"cells\": 3}").unwrap();
    let err = read(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: not parbench results: ", path.display())),
        "{err}"
    );
    std::fs::write(&path, "{\"schema_version\": 99}").unwrap();
    assert_eq!(
        read(&path).unwrap_err().to_string(),
        format!(
            "{}: results schema version 99; this parbench reads up to {SCHEMA_VERSION}",
            path.display()
        )
    );
    let mut results = fixture();
    results.cells.truncate(2);
    write_atomically(dir.path(), &Json, &results).unwrap();
    assert_eq!(read(&path).unwrap(), results);
}
