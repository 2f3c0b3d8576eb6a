//! `parbench decide DIR [DIR…]`: the decision tree of each machine the results were measured
//! on, drawn and written beside them, and where the machines disagree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use parbench_reports::compare::machine_differences;
use parbench_reports::decide::{self, Case, DecideError, Decision, Options};
use parbench_reports::{write_file_atomically, Machine};

use crate::error::Error;

/// The results of one machine: where they came from and their cases.
struct MachineCases {
    machine: Machine,
    dirs: Vec<PathBuf>,
    cases: Vec<Case>,
}

/// Where `parbench decide` writes when given several directories and no `--out`.
const DEFAULT_OUT: &str = "target/parbench/decide";

/// Learns and writes the trees; returns the exit code (0), or the error of a machine with too
/// few buckets when no machine had enough.
pub(crate) fn decide(dirs: &[PathBuf], out: Option<&Path>, options: &Options) -> Result<u8, Error> {
    let mut machines: Vec<MachineCases> = Vec::new();
    for dir in dirs {
        let results = crate::gate::read(dir)?;
        let cases = decide::cases(&results);
        match machines
            .iter_mut()
            .find(|m| machine_differences(&m.machine, &results.machine).is_empty())
        {
            Some(m) => {
                m.dirs.push(dir.clone());
                m.cases.extend(cases);
            }
            None => machines.push(MachineCases {
                machine: results.machine,
                dirs: vec![dir.clone()],
                cases,
            }),
        }
    }
    let out = match (out, dirs) {
        (Some(out), _) => out.to_owned(),
        (None, [dir]) if dir.is_dir() => dir.clone(),
        (None, [file]) => file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned),
        (None, _) => PathBuf::from(DEFAULT_OUT),
    };
    std::fs::create_dir_all(&out).map_err(|source| Error::OutputDir {
        path: out.clone(),
        source,
    })?;
    let several = machines.len() > 1;
    let mut markdown = String::new();
    let mut written: Vec<PathBuf> = Vec::new();
    let mut learned = 0;
    let mut first_error = None;
    for (n, machine) in machines.iter().enumerate() {
        let heading = format!(
            "machine {}: {} · {} logical cores · {} · from {}",
            n + 1,
            machine.machine.cpu_model,
            machine.machine.logical_cores,
            parbench_reports::format::bytes(machine.machine.memory_bytes),
            machine
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("{heading}\n");
        match Decision::learn(machine.cases.clone(), options) {
            Ok(decision) => {
                print!("{}", decide::text(&decision));
                // With several machines, each one's files by its number.
                let m = if several {
                    format!("-m{}", n + 1)
                } else {
                    String::new()
                };
                let files = [
                    (format!("decision-tree{m}.svg"), decide::svg(&decision)),
                    (format!("decision-tree{m}.dot"), decide::dot(&decision.tree)),
                    (
                        format!("folklore-tree{m}.svg"),
                        decide::folklore_svg(&decision.folklore),
                    ),
                ];
                for (name, text) in files {
                    let path = out.join(name);
                    write_file_atomically(&path, text.as_bytes())?;
                    written.push(path);
                }
                let _ = write!(
                    markdown,
                    "## {heading}\n\n{}",
                    decide::markdown(&decision).replacen("### ", "#### ", 1)
                );
                learned += 1;
            }
            Err(e) => {
                // With one machine, the command's error says it.
                if several {
                    eprintln!("error: {heading}: {e}");
                }
                let _ = write!(markdown, "## {heading}\n\nNo tree: {e}.\n\n");
                first_error.get_or_insert(e);
            }
        }
        println!();
    }
    if several {
        let disagreements = disagreements(&machines);
        let mut text = String::from("### Where the machines disagree\n\n");
        if disagreements.is_empty() {
            text.push_str("Every bucket measured on more than one machine has the same winner.\n");
        } else {
            text.push_str("| bucket | winners |\n|---|---|\n");
            for (bucket, winners) in &disagreements {
                let _ = writeln!(text, "| `{bucket}` | {} |", winners.join(" · "));
            }
        }
        println!("where the machines disagree:");
        if disagreements.is_empty() {
            println!("  nowhere: every bucket measured on more than one machine has one winner");
        }
        for (bucket, winners) in &disagreements {
            println!("  {bucket}: {}", winners.join(" · "));
        }
        println!();
        markdown.push_str(&text);
    }
    if learned == 0 {
        let source = first_error.unwrap_or(DecideError::TooFew {
            have: 0,
            need: options.needed(),
        });
        return Err(Error::Decide {
            dirs: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            source,
        });
    }
    let md = out.join("decision-tree.md");
    write_file_atomically(&md, markdown.as_bytes())?;
    written.push(md);
    for path in written {
        println!("{}", path.display());
    }
    Ok(0)
}

/// The buckets measured on several machines whose winners differ: `(bucket, ["machine 1:
/// rayon", "machine 2: threads"])`.
fn disagreements(machines: &[MachineCases]) -> Vec<(String, Vec<String>)> {
    let mut by_bucket: std::collections::BTreeMap<&str, Vec<(usize, &str)>> = Default::default();
    for (n, machine) in machines.iter().enumerate() {
        for case in &machine.cases {
            let winners = by_bucket.entry(&case.bucket).or_default();
            if !winners.iter().any(|(m, _)| *m == n) {
                winners.push((n, &case.winner));
            }
        }
    }
    by_bucket
        .into_iter()
        .filter(|(_, winners)| winners.len() > 1 && winners.iter().any(|(_, w)| *w != winners[0].1))
        .map(|(bucket, winners)| {
            (
                bucket.to_owned(),
                winners
                    .iter()
                    .map(|(m, w)| format!("machine {}: {w}", m + 1))
                    .collect(),
            )
        })
        .collect()
}
