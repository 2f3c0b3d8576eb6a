//! A learned tree as text: a Mermaid flowchart (GitHub and most wikis draw it), Graphviz DOT,
//! and the terminal's indented tree.

use std::fmt::Write as _;

use super::{Decision, Margin, Node, Steadiness, Tree, FEATURES};

/// The margin a leaf reports: of the cases it gets right, the one with the median margin.
fn leaf_margin<'a>(tree: &'a Tree, node: &Node) -> Option<&'a Margin> {
    let Node::Leaf { winner, cases, .. } = node else {
        return None;
    };
    let mut margins: Vec<&Margin> = cases
        .iter()
        .filter_map(|&i| tree.cases.get(i))
        .filter(|c| c.winner == *winner)
        .filter_map(|c| c.margin.as_ref())
        .collect();
    margins.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
    margins.get(margins.len() / 2).copied()
}

/// `ahead of rayon by 1.80x (1.75x–1.85x)`; `tied with rayon: 0.97x (0.92x–1.03x)` when the
/// runner-up is not shown slower by more than the tie margin (its median over the winner's;
/// under 1, the runner-up was faster by a lead that does not count).
fn margin_text(margin: &Margin) -> String {
    let interval = format!(
        "{:.2}x ({:.2}x–{:.2}x)",
        margin.ratio, margin.low, margin.high
    );
    if margin.low <= 1.0 + super::EQUIVALENT {
        format!("tied with {}: {interval}", margin.runner_up)
    } else {
        format!("ahead of {} by {interval}", margin.runner_up)
    }
}

/// One node's text, in lines: a question, or a leaf's strategy, how it fares and its margin.
pub(crate) fn node_lines(tree: &Tree, node: &Node) -> Vec<String> {
    match node {
        Node::Question {
            feature, threshold, ..
        } => vec![format!(
            "{} ≥ {}?",
            feature.name(),
            feature.format(*threshold)
        )],
        Node::Leaf {
            winner,
            cases,
            correct,
        } => {
            let mut lines = vec![winner.clone(), leaf_count(cases.len(), *correct)];
            lines.extend(leaf_margin(tree, node).map(margin_text));
            lines
        }
    }
}

/// `52% (else thread-pool)`: the share of re-draws that keep a label, and what the others
/// give most often.
fn kept_text(steadiness: &Steadiness) -> String {
    let mut text = format!("{:.0}%", 100.0 * steadiness.kept);
    if let Some(other) = &steadiness.otherwise {
        let _ = write!(text, " (else {other})");
    }
    text
}

/// `15 buckets, 15 right`.
fn leaf_count(cases: usize, correct: usize) -> String {
    format!(
        "{cases} bucket{}, {correct} right",
        if cases == 1 { "" } else { "s" }
    )
}

/// Where a node hangs: its parent's id and the answer that leads to it.
pub(crate) type Edge = Option<(usize, &'static str)>;

/// Visits the nodes depth first, below before above: `(id, node, edge)`.
pub(crate) fn walk<'a>(node: &'a Node, parent: Edge, out: &mut Vec<(usize, &'a Node, Edge)>) {
    let id = out.len();
    out.push((id, node, parent));
    if let Node::Question { below, above, .. } = node {
        walk(below, Some((id, "no")), out);
        walk(above, Some((id, "yes")), out);
    }
}

/// The tree as a Mermaid flowchart, top down: questions in diamonds, leaves in boxes.
///
/// ```
/// # use parbench_reports::decide::{Node, Tree, mermaid};
/// let tree = Tree { root: Node::Leaf { winner: "rayon".into(), cases: vec![], correct: 0 }, cases: vec![] };
/// assert_eq!(mermaid(&tree), "flowchart TD\n    n0[\"rayon<br/>0 buckets, 0 right\"]\n");
/// ```
pub fn mermaid(tree: &Tree) -> String {
    let mut nodes = Vec::new();
    walk(&tree.root, None, &mut nodes);
    let mut text = String::from("flowchart TD\n");
    for (id, node, _) in &nodes {
        let label = node_lines(tree, node)
            .iter()
            .map(|l| l.replace('"', "#quot;"))
            .collect::<Vec<_>>()
            .join("<br/>");
        let _ = match node {
            Node::Question { .. } => writeln!(text, "    n{id}{{\"{label}\"}}"),
            Node::Leaf { .. } => writeln!(text, "    n{id}[\"{label}\"]"),
        };
    }
    for (id, _, parent) in &nodes {
        if let Some((from, answer)) = parent {
            let _ = writeln!(text, "    n{from} -- {answer} --> n{id}");
        }
    }
    text
}

/// The tree in Graphviz's DOT: `dot -Tsvg` draws it.
///
/// ```
/// # use parbench_reports::decide::{Node, Tree, dot};
/// let tree = Tree { root: Node::Leaf { winner: "rayon".into(), cases: vec![], correct: 0 }, cases: vec![] };
/// assert!(dot(&tree).starts_with("digraph decision_tree {\n"));
/// ```
pub fn dot(tree: &Tree) -> String {
    let mut nodes = Vec::new();
    walk(&tree.root, None, &mut nodes);
    let mut text = String::from(
        "digraph decision_tree {\n    node [fontname=\"sans-serif\", fontsize=11];\n    \
         edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for (id, node, _) in &nodes {
        let label = node_lines(tree, node)
            .iter()
            .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
            .collect::<Vec<_>>()
            .join("\\n");
        let shape = match node {
            Node::Question { .. } => "diamond",
            Node::Leaf { .. } => "box, style=rounded",
        };
        let _ = writeln!(text, "    n{id} [shape={shape}, label=\"{label}\"];");
    }
    for (id, _, parent) in &nodes {
        if let Some((from, answer)) = parent {
            let _ = writeln!(text, "    n{from} -> n{id} [label=\"{answer}\"];");
        }
    }
    text.push_str("}\n");
    text
}

/// The decision as the terminal shows it: the tree indented, its accuracy per workload left
/// out, the real work placed on it, and the folklore's verdicts.
pub fn text(decision: &Decision) -> String {
    let tree = &decision.tree;
    let mut out = String::new();
    fn indented(out: &mut String, tree: &Tree, node: &Node, prefix: &str) {
        match node {
            Node::Question { below, above, .. } => {
                let _ = writeln!(out, "{}", node_lines(tree, node).join(" · "));
                for (answer, child, last) in [("no", below, false), ("yes", above, true)] {
                    let (branch, indent) = if last {
                        ("└─", "   ")
                    } else {
                        ("├─", "│  ")
                    };
                    let _ = write!(out, "{prefix}{branch} {answer}: ");
                    indented(out, tree, child, &format!("{prefix}{indent}"));
                }
            }
            Node::Leaf { .. } => {
                let _ = writeln!(out, "{}", node_lines(tree, node).join(" · "));
            }
        }
    }
    indented(&mut out, tree, &tree.root, "");
    let accuracy = &decision.accuracy;
    let _ = writeln!(
        out,
        "\nleave-one-workload-out accuracy: {} of {} buckets ({:.1}%)",
        accuracy.correct,
        accuracy.total,
        100.0 * accuracy.share()
    );
    for (work, correct, total) in &accuracy.folds {
        let _ = writeln!(out, "  {work}: {correct} of {total}");
    }
    let unsettled: Vec<_> = tree.unsettled().collect();
    let _ = write!(
        out,
        "\nlabels kept when the medians are re-drawn within their intervals: {:.0}% on average; ",
        100.0 * tree.steadiness()
    );
    if unsettled.is_empty() {
        let _ = writeln!(out, "none of {} buckets unsettled", tree.cases.len());
    } else {
        let _ = writeln!(
            out,
            "{} of {} buckets unsettled (kept in under {:.0}%):",
            unsettled.len(),
            tree.cases.len(),
            100.0 * Steadiness::SETTLED
        );
        for case in unsettled {
            let _ = writeln!(
                out,
                "  {}: {}, kept in {}",
                case.bucket,
                case.winner,
                kept_text(&case.steadiness)
            );
        }
    }
    let placed: Vec<_> = decision.placed().collect();
    if !placed.is_empty() {
        let _ = writeln!(
            out,
            "\nreal work on the tree (measured · the tree · learned without it):"
        );
        for (i, case, predicted) in placed {
            let held = decision.accuracy.predicted[i].as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "  {}: {} · {} · {}",
                case.bucket, case.winner, predicted, held
            );
        }
    }
    let _ = writeln!(out, "\nthe folklore, measured:");
    for branch in &decision.folklore {
        let _ = writeln!(
            out,
            "  {} → {}: {} ({})",
            branch.work,
            branch.advice,
            branch.verdict.as_str(),
            branch.evidence()
        );
    }
    out
}

/// The decision as Markdown: the tree as a Mermaid flowchart, its accuracy, the real work
/// placed on it and the folklore's verdicts (the section of `summary.md`, and
/// `decision-tree.md`).
pub fn markdown(decision: &Decision) -> String {
    let tree = &decision.tree;
    let accuracy = &decision.accuracy;
    let mut md = format!(
        "### Which strategy for which work\n\nA decision tree learned from {} buckets (each \
         labelled by the strategy that won it; a tie to the simpler strategy), right on {} of \
         them; a workload left out and predicted by the tree of the others: {} of {} buckets \
         ({:.1}%). With each bucket's medians re-drawn within their intervals, {:.0}% of the \
         labels are kept on average; {} buckets are unsettled (kept in under {:.0}%).\n\n\
         ```mermaid\n{}```\n\n",
        tree.cases.len(),
        tree.correct(),
        accuracy.correct,
        accuracy.total,
        100.0 * accuracy.share(),
        100.0 * tree.steadiness(),
        tree.unsettled().count(),
        100.0 * Steadiness::SETTLED,
        mermaid(tree)
    );
    let placed: Vec<_> = decision.placed().collect();
    if !placed.is_empty() {
        md.push_str(
            "| real work | measured winner | the tree | learned without it |\n|---|---|---|---|\n",
        );
        for (i, case, predicted) in placed {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                case.bucket,
                case.winner,
                predicted,
                accuracy.predicted[i].as_deref().unwrap_or("-")
            );
        }
        md.push('\n');
    }
    // Every bucket, for the review that asks why: its features, its label and both answers.
    md.push_str("<details><summary>Every bucket</summary>\n\n| bucket |");
    for feature in FEATURES {
        let _ = write!(md, " {} |", feature.name());
    }
    md.push_str(" measured winner | tied | label kept | the tree | learned without it |\n|---|");
    md.push_str(&"---|".repeat(FEATURES.len() + 5));
    md.push('\n');
    for (i, case) in tree.cases.iter().enumerate() {
        let _ = write!(md, "| `{}` |", case.bucket);
        for (feature, value) in FEATURES.iter().zip(case.features) {
            let _ = write!(md, " {} |", feature.format(value));
        }
        let _ = writeln!(
            md,
            " {} | {} | {} | {} | {} |",
            case.winner,
            case.tied.join(", "),
            kept_text(&case.steadiness),
            tree.root.predict(&case.features),
            accuracy.predicted[i].as_deref().unwrap_or("-")
        );
    }
    md.push_str("\n</details>\n\n");
    md.push_str("The essay's rule of thumb, measured:\n\n| work | advice | verdict | evidence |\n|---|---|---|---|\n");
    for branch in &decision.folklore {
        let _ = writeln!(
            md,
            "| {} | {} | **{}** | {} |",
            branch.work,
            branch.advice,
            branch.verdict.as_str(),
            branch.evidence()
        );
    }
    md.push('\n');
    md
}
