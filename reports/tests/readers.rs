//! The readers never panic, whatever a results file holds: arbitrary bytes, and arbitrary
//! mutations of a real run's results (a number changed to any other, a key removed, a string
//! replaced, a list entry doubled or dropped). A file that reads is then rendered by every
//! writer, compared with itself, exported, and learned from, and none of them may panic
//! either.
//!
//! The cases are drawn from a fixed seed, so every run tries the same ones:
//! `PARBENCH_PROPTEST_SEED=<n>` tries others (the seed is printed). A failing case is shrunk
//! and kept in `proptest-regressions/readers.txt`, which later runs try first.

use std::path::Path;

use parbench_reports::{compare, decide, export, Results};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::Value;

/// The seed when `PARBENCH_PROPTEST_SEED` is unset.
const SEED: u64 = 20261207;

fn config(cases: u32) -> Config {
    let seed = std::env::var("PARBENCH_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    eprintln!("PARBENCH_PROPTEST_SEED={seed}");
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // Relative to the crate's directory, where the tests run.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "proptest-regressions/readers.txt",
            ),
        )),
        ..Config::default()
    }
}

/// A real run's results, cut to its first cells of two buckets' worth (the readers' cost
/// grows with the cells; what can go wrong does not).
fn fixture() -> Value {
    let mut results: Value =
        serde_json::from_str(include_str!("fixtures/results.json")).expect("the fixture reads");
    results["cells"].as_array_mut().expect("cells").truncate(24);
    results
}

/// Every place in `value` a mutation can reach, as a path of keys and indices.
fn places(value: &Value, path: &mut Vec<Step>, found: &mut Vec<Vec<Step>>) {
    found.push(path.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Step::Key(key.clone()));
                places(child, path, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(Step::Index(index));
                places(child, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Step::Key(key) => &mut v[key.as_str()],
        Step::Index(index) => &mut v[*index],
    })
}

/// What to do at a place.
#[derive(Clone, Debug)]
enum Mutation {
    /// Put another value of the same kind there (a count for a count, a time for a time, a
    /// string for a string, the other boolean), drawn from this number: what a file that
    /// still reads can hold.
    Like(u64),
    /// Put this number there.
    Number(f64),
    /// Put this integer there.
    Integer(i64),
    /// Put this string there.
    Text(String),
    /// Put null there.
    Null,
    /// Remove it from its object or list.
    Remove,
    /// Double it in its list, or double the list's first entry.
    Double,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => any::<u64>().prop_map(Mutation::Like),
        1 => any::<f64>().prop_map(Mutation::Number),
        1 => prop_oneof![Just(0i64), Just(-1), Just(i64::MAX), any::<i64>()].prop_map(Mutation::Integer),
        1 => "[a-z0-9/=\\[\\]-]{0,12}".prop_map(Mutation::Text),
        1 => Just(Mutation::Null),
        2 => Just(Mutation::Remove),
        2 => Just(Mutation::Double),
    ]
}

fn mutate(results: &mut Value, place: usize, mutation: &Mutation) {
    let mut found = Vec::new();
    places(results, &mut Vec::new(), &mut found);
    let path = &found[place % found.len()];
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let target = at(results, path);
    match mutation {
        Mutation::Like(draw) => *target = like(target, *draw),
        Mutation::Number(n) => {
            *target = serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        Mutation::Integer(n) => *target = (*n).into(),
        Mutation::Text(text) => *target = text.clone().into(),
        Mutation::Null => *target = Value::Null,
        Mutation::Remove | Mutation::Double => {
            let copy = target.clone();
            match (at(results, parent), last, mutation) {
                (Value::Object(map), Step::Key(key), Mutation::Remove) => {
                    map.remove(key);
                }
                (Value::Array(items), Step::Index(index), Mutation::Remove) => {
                    items.remove(*index);
                }
                (Value::Array(items), Step::Index(index), _) => items.insert(*index, copy),
                _ => {}
            }
        }
    }
}

/// A value of `value`'s kind drawn from `draw`: the edge values often, any other sometimes.
fn like(value: &Value, draw: u64) -> Value {
    let pick = draw % 8;
    match value {
        Value::Number(n) if n.is_u64() => match pick {
            0 => 0.into(),
            1 => u64::MAX.into(),
            2 => 1.into(),
            // A figure a run could record: up to 18 minutes in nanoseconds.
            _ => ((draw >> 3) % (1 << 40)).into(),
        },
        Value::Number(n) if n.is_i64() => ((draw >> 3) as i64 - (1 << 59)).into(),
        Value::Number(_) => {
            let x = match pick {
                0 => 0.0,
                1 => -1.0,
                2 => 1e300,
                3 => 1e-300,
                _ => ((draw >> 3) as f64) * if draw & 1 == 0 { 1.0 } else { -1e-9 },
            };
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        }
        Value::String(_) => match pick {
            0 => "".into(),
            1 => "sequential".into(),
            2 => "ok".into(),
            _ => format!("x{draw:x}").into(),
        },
        Value::Bool(b) => (!b).into(),
        other => other.clone(),
    }
}

/// Reads `bytes` as a results file, and puts whatever reads through every reader; returns
/// whether it read.
fn read_and_use(bytes: &[u8]) -> bool {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("results.json");
    std::fs::write(&file, bytes).expect("the file is written");
    let Ok(results) = parbench_reports::read(&file) else {
        return false;
    };
    use_results(&results, dir.path());
    true
}

/// Every reader of results, on `results`: none may panic; errors are fine.
fn use_results(results: &Results, dir: &Path) {
    for writer in parbench_reports::writers() {
        let _ = writer.render(results);
    }
    let _ = parbench_reports::write_all(dir, results);
    let _ = compare::compare(results, results, &compare::Options::default());
    for format in [
        export::Format::Bencher,
        export::Format::GithubActionBenchmark,
    ] {
        let _ = export::export(results, format);
    }
    let cases = decide::cases(results);
    let _ = decide::learn(&cases, &decide::Options::default());
    let _ = parbench_reports::contest::summary(results);
    let _ = parbench_reports::claims::claims_markdown(results);
}

#[test]
fn the_unmutated_fixture_reads_and_renders() {
    let bytes = serde_json::to_vec(&fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    std::fs::write(&file, &bytes).unwrap();
    let results = parbench_reports::read(&file).unwrap();
    assert_eq!(results.cells.len(), 24);
    use_results(&results, dir.path());
    assert!(dir.path().join("report.html").is_file());
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic_a_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_and_use(&bytes);
    }
}

#[test]
fn mutated_results_never_panic_a_reader() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut runner = proptest::test_runner::TestRunner::new(config(300));
    let (tried, read) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let edits = proptest::collection::vec((any::<usize>(), mutation()), 1..4);
    let outcome = runner.run(&edits, |edits| {
        let mut results = fixture();
        for (place, mutation) in &edits {
            mutate(&mut results, *place, mutation);
        }
        tried.fetch_add(1, Ordering::Relaxed);
        if read_and_use(&serde_json::to_vec(&results).expect("values serialize")) {
            read.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // Most mutations keep a file that reads (a value of the same kind, an optional key
    // removed), so the readers after `read` are what the property exercises.
    let (tried, read) = (tried.into_inner(), read.into_inner());
    assert!(read * 3 >= tried, "{read} of {tried} mutated files read");
}

/// Cases the properties found, kept as they were shrunk.
#[test]
fn the_cases_found_so_far_read_or_are_refused() {
    // A sample's time set to 7.6e18 ns: the sums of the comparison overflowed.
    let mut results = fixture();
    mutate(
        &mut results,
        7063285671881156769,
        &Mutation::Like(10607223668508880657),
    );
    let bytes = serde_json::to_vec(&results).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.json");
    std::fs::write(&file, &bytes).unwrap();
    let err = parbench_reports::read(&file).unwrap_err().to_string();
    assert!(
        err.contains("is beyond any time or size a run records"),
        "{err}"
    );
}
