//! `results.json` round-trips through the schema, and is written atomically.

use parbench_reports::{write_atomically, Json, Results, Status, Writer, SCHEMA_VERSION};

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/results.json")).unwrap()
}

#[test]
fn the_fixture_reads_and_round_trips_unchanged() {
    let results = fixture();
    assert_eq!(results.schema_version, SCHEMA_VERSION);
    assert_eq!(results.cells.len(), 3);
    assert!(results
        .cells
        .iter()
        .all(|c| c.status == Status::Ok && c.verified));
    let risky = results
        .cells
        .iter()
        .find(|c| c.workload == "risky")
        .unwrap();
    assert!(!risky.answer.as_ref().unwrap().failed_tasks.is_empty());
    let bytes = Json.render(&results).unwrap();
    let back: Results = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(back, results);
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
