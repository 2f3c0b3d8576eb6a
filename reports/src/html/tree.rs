//! The decision trees as SVG: the learned tree (questions, leaves with their winners and
//! margins, the real work's paths highlighted) and the folklore tree with its verdicts.
//!
//! Drawn by hand rather than with plotters: a tree is boxes, lines and text placed by its
//! shape, which no chart type of plotters lays out.

use std::fmt::Write as _;

use super::charts::{css, strategy_colour};
use super::escape;
use crate::decide::{node_lines, walk, Edge};
use crate::decide::{Branch, Decision, Node, Verdict};

/// Pixels per character of the 12 px labels (a generous average, so text stays in its box).
const CHAR: f64 = 6.8;
/// Height of a line of text.
const LINE: f64 = 16.0;
/// Padding inside a box.
const PAD: f64 = 8.0;
/// Space between neighbouring leaves.
const GAP: f64 = 18.0;
/// Space between a box and the row below it (where the answers are written).
const DROP: f64 = 44.0;
/// Real work listed under a leaf, at most (the rest counted).
const PLACED_SHOWN: usize = 4;

const ACCENT: &str = "#2563eb";
const LINE_COLOUR: &str = "#94a3b8";

/// One box: its lines (the first bold), where it is, and how it is drawn.
struct Box_ {
    lines: Vec<String>,
    /// The colour of the box's edge and of its accented line.
    colour: Option<String>,
    accent_line: usize,
    question: bool,
    highlighted: bool,
    x: f64,
    y: f64,
    width: f64,
}

impl Box_ {
    fn height(&self) -> f64 {
        self.lines.len() as f64 * LINE + 2.0 * PAD
    }
}

fn width_of(lines: &[String]) -> f64 {
    lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * CHAR + 2.0 * PAD
}

/// The learned tree as a standalone SVG.
pub(crate) fn learned(decision: &Decision) -> String {
    let tree = &decision.tree;
    let mut nodes: Vec<(usize, &Node, Edge)> = Vec::new();
    walk(&tree.root, None, &mut nodes);
    // The real work with the nodes it passes through (its leaf last), each walked once.
    let placed: Vec<_> = decision
        .placed()
        .map(|(_, case, predicted)| (case, predicted, tree.root.path(&case.features)))
        .collect();
    let on_path = |node: &Node| {
        placed
            .iter()
            .any(|(_, _, path)| path.iter().any(|n| std::ptr::eq(*n, node)))
    };
    let mut boxes: Vec<Box_> = nodes
        .iter()
        .map(|(_, node, _)| {
            let mut lines = node_lines(tree, node);
            let colour = match node {
                Node::Question { .. } => None,
                Node::Leaf { winner, .. } => {
                    let here: Vec<String> = placed
                        .iter()
                        .filter(|(_, _, path)| path.last().is_some_and(|n| std::ptr::eq(*n, *node)))
                        .map(|(case, predicted, _)| {
                            let mark = if case.winner == *predicted {
                                "✓"
                            } else {
                                "✗"
                            };
                            format!("{mark} {}: measured {}", case.bucket, case.winner)
                        })
                        .collect();
                    let more = here.len().saturating_sub(PLACED_SHOWN);
                    lines.extend(here.into_iter().take(PLACED_SHOWN));
                    if more > 0 {
                        lines.push(format!("… and {more} more"));
                    }
                    Some(css(strategy_colour(winner)))
                }
            };
            Box_ {
                width: width_of(&lines),
                lines,
                colour,
                accent_line: 0,
                question: matches!(node, Node::Question { .. }),
                highlighted: on_path(node),
                x: 0.0,
                y: 0.0,
            }
        })
        .collect();
    // Depths, then rows as tall as their tallest box.
    let mut depth = vec![0usize; nodes.len()];
    for (id, _, parent) in &nodes {
        if let Some((from, _)) = parent {
            depth[*id] = depth[*from] + 1;
        }
    }
    let rows = depth.iter().max().map_or(1, |d| d + 1);
    let mut row_top = vec![PAD; rows + 1];
    for row in 0..rows {
        let tallest = (0..nodes.len())
            .filter(|&i| depth[i] == row)
            .map(|i| boxes[i].height())
            .fold(0.0, f64::max);
        row_top[row + 1] = row_top[row] + tallest + DROP;
    }
    // Leaves left to right in the walk's order (below before above); a question centred over
    // its two children.
    let mut next = PAD;
    for (id, node, _) in &nodes {
        if matches!(node, Node::Leaf { .. }) {
            boxes[*id].x = next + boxes[*id].width / 2.0;
            next += boxes[*id].width + GAP;
        }
    }
    for id in (0..nodes.len()).rev() {
        if boxes[id].question {
            let children: Vec<f64> = nodes
                .iter()
                .filter(|(_, _, parent)| parent.is_some_and(|(from, _)| from == id))
                .map(|(child, _, _)| boxes[*child].x)
                .collect();
            boxes[id].x = children.iter().sum::<f64>() / children.len().max(1) as f64;
        }
        boxes[id].y = row_top[depth[id]];
    }
    let width = boxes
        .iter()
        .map(|b| b.x + b.width / 2.0)
        .fold(next, f64::max)
        + PAD;
    let height = row_top[rows] - DROP + PAD;
    let mut svg = open(
        width,
        height,
        "The decision tree learned from this run's buckets",
    );
    for (id, _, parent) in &nodes {
        if let Some((from, answer)) = parent {
            let (a, b) = (&boxes[*from], &boxes[*id]);
            edge(&mut svg, a, b, answer, b.highlighted);
        }
    }
    for b in &boxes {
        draw(&mut svg, b);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The folklore tree as a standalone SVG: the kinds of work under one root, each leaf its
/// advice, verdict and evidence.
pub(crate) fn folklore(branches: &[Branch]) -> String {
    let mut leaves: Vec<Box_> = branches
        .iter()
        .map(|branch| {
            let mut lines = vec![
                branch.work.to_owned(),
                format!("→ {}", branch.advice),
                branch.verdict.as_str().to_owned(),
            ];
            if branch.cases.is_empty() {
                lines.push("no bucket of this run".to_owned());
            } else {
                lines.push(format!(
                    "{} bucket{}, the advice won or tied in {}",
                    branch.cases.len(),
                    if branch.cases.len() == 1 { "" } else { "s" },
                    branch.upheld
                ));
                let winners: Vec<String> = branch
                    .winners
                    .iter()
                    .take(3)
                    .map(|(w, n)| format!("{w} {n}"))
                    .collect();
                lines.push(format!("won by {}", winners.join(", ")));
            }
            Box_ {
                width: width_of(&lines),
                lines,
                colour: Some(verdict_colour(branch.verdict).to_owned()),
                accent_line: 2,
                question: false,
                highlighted: branch.verdict != Verdict::NotMeasured,
                x: 0.0,
                y: 0.0,
            }
        })
        .collect();
    let mut root = Box_ {
        lines: vec!["What kind of work is it? (the essay's rule of thumb)".to_owned()],
        colour: None,
        accent_line: 0,
        question: true,
        highlighted: false,
        x: 0.0,
        y: PAD,
        width: 0.0,
    };
    root.width = width_of(&root.lines);
    let mut next = PAD;
    let top = PAD + root.height() + DROP;
    for leaf in &mut leaves {
        leaf.x = next + leaf.width / 2.0;
        leaf.y = top;
        next += leaf.width + GAP;
    }
    root.x = (next - GAP + PAD) / 2.0;
    let width = next.max(root.width + 2.0 * PAD) + PAD;
    let height = top + leaves.iter().map(Box_::height).fold(0.0, f64::max) + PAD;
    let mut svg = open(
        width,
        height,
        "The essay's rule of thumb, each branch marked by what this run measured",
    );
    for leaf in &leaves {
        edge(&mut svg, &root, leaf, "", false);
    }
    draw(&mut svg, &root);
    for leaf in &leaves {
        draw(&mut svg, leaf);
    }
    svg.push_str("</svg>\n");
    svg
}

fn verdict_colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Holds => "#15803d",
        Verdict::Contradicted => "#b91c1c",
        Verdict::NotMeasured => "#64748b",
    }
}

fn open(width: f64, height: f64, title: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tree\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" \
         font-size=\"12\">\n<title>{}</title>\n<rect width=\"100%\" height=\"100%\" \
         fill=\"#ffffff\"/>\n",
        escape(title)
    );
    svg
}

/// A line from the bottom of `from` to the top of `to`, with the answer written beside it.
fn edge(svg: &mut String, from: &Box_, to: &Box_, answer: &str, highlighted: bool) {
    let (x1, y1) = (from.x, from.y + from.height());
    let (x2, y2) = (to.x, to.y);
    let (stroke, width) = if highlighted {
        (ACCENT, 3.0)
    } else {
        (LINE_COLOUR, 1.2)
    };
    let _ = writeln!(
        svg,
        "<path d=\"M{x1:.1},{y1:.1} C{x1:.1},{:.1} {x2:.1},{:.1} {x2:.1},{y2:.1}\" fill=\"none\" \
         stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
        (y1 + y2) / 2.0,
        (y1 + y2) / 2.0
    );
    if !answer.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#475569\" \
             font-style=\"italic\">{answer}</text>",
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 + 4.0
        );
    }
}

fn draw(svg: &mut String, b: &Box_) {
    let left = b.x - b.width / 2.0;
    let (fill, stroke) = if b.question {
        ("#eff6ff", if b.highlighted { ACCENT } else { "#93c5fd" })
    } else {
        ("#f8fafc", b.colour.as_deref().unwrap_or(LINE_COLOUR))
    };
    let stroke_width = if b.highlighted { 3.0 } else { 1.5 };
    let _ = writeln!(
        svg,
        "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\" \
         fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"/>",
        b.y,
        b.width,
        b.height()
    );
    for (i, line) in b.lines.iter().enumerate() {
        let weight = if i == 0 || i == b.accent_line {
            " font-weight=\"600\""
        } else {
            ""
        };
        let colour = match &b.colour {
            Some(c) if i == b.accent_line && !b.question => c.as_str(),
            _ => "#0f172a",
        };
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{colour}\"{weight}>{}</text>",
            b.x,
            b.y + PAD + (i as f64 + 0.78) * LINE,
            escape(line)
        );
    }
}
