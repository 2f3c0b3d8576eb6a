//! A learned tree as text: a Mermaid flowchart (GitHub and most wikis draw it) and Graphviz DOT.

use std::fmt::Write as _;

use super::{Node, Tree};

/// One node's text, in lines: a question, or a leaf's strategy, how it fares and its margin.
fn lines(tree: &Tree, node: &Node) -> Vec<String> {
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
            let mut lines = vec![
                winner.clone(),
                format!(
                    "{} bucket{}, {correct} right",
                    cases.len(),
                    if cases.len() == 1 { "" } else { "s" }
                ),
            ];
            // The margins of the cases this leaf gets right: how far ahead its winner is.
            let margins: Vec<f64> = cases
                .iter()
                .filter_map(|&i| tree.cases.get(i))
                .filter(|c| c.winner == *winner)
                .filter_map(|c| c.margin.as_ref().map(|m| m.ratio))
                .collect();
            if !margins.is_empty() {
                let mut sorted = margins.clone();
                sorted.sort_by(f64::total_cmp);
                lines.push(format!(
                    "ahead by {:.2}x (median; {:.2}x to {:.2}x)",
                    sorted[sorted.len() / 2],
                    sorted[0],
                    sorted[sorted.len() - 1]
                ));
            }
            lines
        }
    }
}

/// Where a node hangs: its parent's id and the answer that leads to it.
type Edge = Option<(usize, &'static str)>;

/// Visits the nodes depth first, below before above: `(id, node, edge)`.
fn walk<'a>(node: &'a Node, parent: Edge, out: &mut Vec<(usize, &'a Node, Edge)>) {
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
        let label = lines(tree, node)
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
        let label = lines(tree, node)
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
