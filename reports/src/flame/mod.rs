//! Flame graphs: folded stacks in, SVG out (through `inferno`, the library pprof itself uses),
//! the frames with the most self time, and differential graphs of two profiles.
//!
//! A folded stack is one line `root;caller;callee count`: its frames from the root (the
//! process, then the thread) to the frame that was running, and how many samples saw it.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::{write_file_atomically, ProcessSamples, ReportError, Results, TopFrame};

mod diff;

pub use diff::{diff, DiffError};

/// The directory of the output directory that holds the flame graphs.
pub const DIR: &str = "flamegraphs";

/// A cell id as a file name: characters other than letters, digits, `-` and `_` become `_`
/// (the same as its anchor in `report.html`).
pub fn file_stem(id: &str) -> String {
    crate::html::anchor(id)
}

/// Folded stacks as text: one `stack count` line each, sorted.
pub fn to_text(stacks: &[(String, u64)]) -> String {
    let mut lines: Vec<String> = stacks
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    lines.sort_unstable();
    lines.push(String::new());
    lines.join("\n")
}

/// Reads folded stacks; lines that are not `stack count` are skipped.
pub fn parse(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (stack, count) = line.trim_end().rsplit_once(' ')?;
            Some((stack.to_owned(), count.parse().ok()?))
        })
        .collect()
}

/// The `n` frames with the most self time.
pub fn top_frames(stacks: &[(String, u64)], n: usize) -> Vec<TopFrame> {
    let total: u64 = stacks.iter().map(|(_, c)| c).sum();
    let mut own: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in stacks {
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        *own.entry(leaf).or_default() += count;
    }
    let mut frames: Vec<(&str, u64)> = own.into_iter().collect();
    frames.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    frames
        .into_iter()
        .take(n)
        .map(|(frame, count)| TopFrame {
            frame: frame.to_owned(),
            share: count as f64 / total.max(1) as f64,
        })
        .collect()
}

/// Samples per process: the root frame of each stack, most samples first.
pub fn processes(stacks: &[(String, u64)]) -> Vec<ProcessSamples> {
    let mut by_root: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in stacks {
        let root = stack.split(';').next().unwrap_or(stack);
        *by_root.entry(root).or_default() += count;
    }
    let mut processes: Vec<ProcessSamples> = by_root
        .into_iter()
        .map(|(process, samples)| ProcessSamples {
            process: process.to_owned(),
            samples,
        })
        .collect();
    processes.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.process.cmp(&b.process)));
    processes
}

fn failed(source: std::io::Error) -> ReportError {
    ReportError::Serialize {
        format: "flame graph",
        source: Box::new(source),
    }
}

/// A flame graph of `stacks` as SVG, titled `title`.
pub fn render(stacks: &[(String, u64)], title: &str) -> Result<Vec<u8>, ReportError> {
    let text = to_text(stacks);
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "samples".to_owned();
    let mut svg = Vec::new();
    if text.trim().is_empty() {
        // inferno draws nothing for no samples; say so instead.
        options.title = format!("{title} (no samples)");
        inferno::flamegraph::from_lines(&mut options, ["no-samples 1"], &mut svg)
            .map_err(failed)?;
    } else {
        inferno::flamegraph::from_lines(&mut options, text.lines(), &mut svg).map_err(failed)?;
    }
    Ok(svg)
}

/// A differential flame graph: the shape of `after`, coloured by how each frame's share of
/// the samples changed from `before` (red grew, blue shrank). Both are folded text.
pub fn render_diff(before: &str, after: &str, title: &str) -> Result<Vec<u8>, ReportError> {
    let mut folded = Vec::new();
    inferno::differential::from_readers(
        inferno::differential::Options {
            normalize: true,
            ..Default::default()
        },
        BufReader::new(before.as_bytes()),
        BufReader::new(after.as_bytes()),
        &mut folded,
    )
    .map_err(failed)?;
    let text = String::from_utf8_lossy(&folded);
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "samples".to_owned();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, text.lines(), &mut svg).map_err(failed)?;
    Ok(svg)
}

/// The title of a cell's flame graph: the cell and what its profile holds.
pub fn title(cell_id: &str, samples: u64, runs: u32, frequency_hz: u32) -> String {
    format!("{cell_id} · {samples} samples over {runs} verified runs (asked {frequency_hz} Hz)")
}

/// Writes a cell's folded stacks and its flame graph into `dir/flamegraphs/`; returns both
/// paths relative to `dir` (folded, SVG).
pub fn write_graph(
    dir: &Path,
    cell_id: &str,
    stacks: &[(String, u64)],
    title: &str,
) -> Result<(String, String), ReportError> {
    let graphs = dir.join(DIR);
    fs::create_dir_all(&graphs).map_err(|source| ReportError::Io {
        path: graphs.clone(),
        source,
    })?;
    let stem = file_stem(cell_id);
    let (folded, svg) = (format!("{stem}.folded"), format!("{stem}.svg"));
    write_file_atomically(&graphs.join(&folded), to_text(stacks).as_bytes())?;
    write_file_atomically(&graphs.join(&svg), &render(stacks, title)?)?;
    Ok((format!("{DIR}/{folded}"), format!("{DIR}/{svg}")))
}

/// Draws every profiled cell's flame graph again from its folded stacks in `dir`; returns the
/// graphs written. A cell whose folded file is gone keeps the graph it has.
pub fn rerender(dir: &Path, results: &Results) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for cell in &results.cells {
        let Some(profile) = cell.profile.as_ref().filter(|p| !p.folded.is_empty()) else {
            continue;
        };
        let Ok(text) = fs::read_to_string(dir.join(&profile.folded)) else {
            continue;
        };
        let svg = dir.join(&profile.flamegraph);
        let title = title(
            &cell.id,
            profile.samples,
            profile.runs,
            profile.frequency_hz,
        );
        write_file_atomically(&svg, &render(&parse(&text), &title)?)?;
        written.push(svg);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stacks() -> Vec<(String, u64)> {
        vec![
            ("cell (pid 1);main;run;square".to_owned(), 6),
            ("cell (pid 1);main;run;memcpy".to_owned(), 3),
            ("worker 1 (pid 2);main;serve;square".to_owned(), 1),
        ]
    }

    #[test]
    fn folded_text_round_trips_and_top_frames_count_self_time() {
        let text = to_text(&stacks());
        assert_eq!(
            text,
            "cell (pid 1);main;run;memcpy 3\ncell (pid 1);main;run;square 6\nworker 1 (pid 2);main;serve;square 1\n"
        );
        let mut back = parse(&text);
        back.sort();
        let mut expected = stacks();
        expected.sort();
        assert_eq!(back, expected);
        let top = top_frames(&stacks(), 5);
        assert_eq!(
            top,
            [
                TopFrame {
                    frame: "square".into(),
                    share: 0.7
                },
                TopFrame {
                    frame: "memcpy".into(),
                    share: 0.3
                },
            ]
        );
    }

    #[test]
    fn flame_graphs_are_svg_with_every_frame() {
        assert_eq!(
            processes(&stacks()),
            [
                ProcessSamples {
                    process: "cell (pid 1)".into(),
                    samples: 9
                },
                ProcessSamples {
                    process: "worker 1 (pid 2)".into(),
                    samples: 1
                },
            ]
        );
        assert_eq!(
            file_stem("square/size=8/tasks=4/timely[mode=processes]/w2"),
            "square_size_8_tasks_4_timely_mode_processes__w2"
        );
        let svg = String::from_utf8(render(&stacks(), "square").unwrap()).unwrap();
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..100]
        );
        for frame in ["cell (pid 1)", "worker 1 (pid 2)", "memcpy", "square"] {
            assert!(svg.contains(frame), "{frame} missing");
        }
        let empty = String::from_utf8(render(&[], "idle").unwrap()).unwrap();
        assert!(empty.contains("idle (no samples)"));
        let after = "cell (pid 1);main;run;square 2\ncell (pid 1);main;run;memcpy 8\n";
        let diff =
            String::from_utf8(render_diff(&to_text(&stacks()), after, "diff").unwrap()).unwrap();
        assert!(diff.contains("<svg") && diff.contains("memcpy"));
    }
}
