//! The CSV and Markdown files of the fixture, pinned: a change to either shows up as a diff
//! to review (`cargo insta review`), never silently.

use parbench_reports::{Csv, Markdown, Results, Writer};

fn fixture() -> Results {
    serde_json::from_str(include_str!("fixtures/results.json")).unwrap()
}

fn render(writer: &dyn Writer) -> String {
    String::from_utf8(writer.render(&fixture()).unwrap()).unwrap()
}

#[test]
fn csv_has_one_row_per_cell_and_a_column_per_figure() {
    let csv = render(&Csv);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), fixture().cells.len());
    // The overhead parts add up to the capacity in every row that has them.
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in &rows {
        let part = |name: &str| row[column(name)].parse::<u64>().ok();
        if let Some(capacity) = part("capacity_ns") {
            let sum: u64 = ["busy_ns", "startup_ns", "gaps_ns", "tail_ns"]
                .iter()
                .map(|p| part(p).unwrap())
                .sum();
            assert_eq!(sum, capacity, "{}", &row[0]);
        }
    }
    insta::assert_snapshot!("results.csv", csv);
}

#[test]
fn markdown_summarizes_each_workload() {
    insta::assert_snapshot!("summary.md", render(&Markdown));
}
