//! The decision tree on synthetic results with a known answer: cells whose winner depends on
//! the CPU time per task alone, switching at 50 µs, among features that do not matter.

mod known;

use known::{known_answer, SWEEP_US};
use parbench_reports::decide::{
    cases, cross_validate, dot, folklore, folklore_svg, learn, mermaid, svg, Case, DecideError,
    Decision, Feature, Node, Options, Steadiness, Verdict,
};
use parbench_reports::Stats;

#[test]
fn the_features_are_measured_from_the_sequential_cell() {
    let all = cases(&known_answer());
    assert_eq!(all.len(), 36);
    let first: &Case = &all[0];
    assert_eq!(first.work, "alpha");
    // CPU per task: its CPU time over its tasks.
    assert!(
        (first.feature(Feature::CpuPerTask) - SWEEP_US[0] * 1e3).abs() < 1.0,
        "{first:?}"
    );
    // No waiting: CPU time is the whole run.
    assert_eq!(first.feature(Feature::WaitingShare), 0.0);
    let margin = first.margin.as_ref().unwrap();
    assert_eq!(
        (first.winner.as_str(), margin.runner_up.as_str()),
        ("sequential", "rayon")
    );
    assert!((margin.ratio - 1.8).abs() < 1e-9);
    assert!(margin.low < 1.8 && margin.high > 1.8);
}

#[test]
fn a_tie_goes_to_the_simpler_strategy() {
    let mut results = known_answer();
    // At 5 ms per task, `rayon` ahead by 1% only: within both intervals.
    for cell in &mut results.cells {
        if cell.id.ends_with("/rayon/w2") && cell.id.starts_with("alpha/") {
            let wall = cell.wall.as_mut().unwrap();
            if wall.median_ns > 1e9 {
                let sequential = wall.median_ns / 0.55;
                *wall = Stats {
                    median_ns: sequential * 0.99,
                    ci_low_ns: sequential * 0.97,
                    ci_high_ns: sequential * 1.01,
                    ..Stats::default()
                };
            }
        }
    }
    let tied: Vec<Case> = cases(&results)
        .into_iter()
        .filter(|c| c.fastest.is_some())
        .collect();
    assert!(!tied.is_empty());
    for case in tied {
        assert_eq!(case.winner, "sequential", "{case:?}");
        assert_eq!(case.fastest.as_deref(), Some("rayon"));
    }
}

#[test]
fn the_tree_recovers_the_split_within_one_sweep_step() {
    let all = cases(&known_answer());
    let tree = learn(&all, &Options::default()).unwrap();
    let Node::Question {
        feature,
        threshold,
        below,
        above,
    } = &tree.root
    else {
        panic!("no question: {:?}", tree.root)
    };
    assert_eq!(*feature, Feature::CpuPerTask);
    // Between the sweep's neighbours of 50 µs.
    assert!(*threshold > 20e3 && *threshold < 100e3, "{threshold} ns");
    assert!(matches!(&**below, Node::Leaf { winner, correct: 15, .. } if winner == "sequential"));
    assert!(matches!(&**above, Node::Leaf { winner, correct: 21, .. } if winner == "rayon"));
    assert_eq!(tree.correct(), 36);
    // Each workload, left out, is predicted by the other two.
    let accuracy = cross_validate(&all, &Options::default());
    assert_eq!((accuracy.correct, accuracy.total), (36, 36));
    assert_eq!(accuracy.folds.len(), 3);
}

#[test]
fn the_tree_is_drawn_as_mermaid_and_dot() {
    let tree = learn(&cases(&known_answer()), &Options::default()).unwrap();
    insta::assert_snapshot!(mermaid(&tree));
    let dot = dot(&tree);
    assert!(dot.starts_with("digraph decision_tree {\n"), "{dot}");
    assert!(dot.contains("n0 -> n1 [label=\"no\"];"), "{dot}");
    assert!(dot.contains("n0 -> n2 [label=\"yes\"];"), "{dot}");
    assert!(dot.ends_with("}\n"));
}

#[test]
fn too_few_buckets_say_how_many_a_tree_needs() {
    let all = cases(&known_answer());
    let err = learn(&all[..5], &Options::default()).unwrap_err();
    assert_eq!(err, DecideError::TooFew { have: 5, need: 8 });
    assert!(err.to_string().starts_with(
        "5 buckets with a sequential cell and another strategy measured; a tree needs at least 8"
    ));
}

/// The case of `beta` at 5 ms per task, where `threads` is `behind` `rayon` (1.05: 5%
/// slower) and both have intervals of `±half` (as a factor: 1.02 for ±2%); the others are
/// twice as slow.
fn beta_case(behind: f64, half: f64) -> Case {
    let mut results = known_answer();
    for cell in &mut results.cells {
        if cell.id.starts_with("beta/") && cell.id.contains("/tasks=512/") {
            let run = match cell.strategy.as_str() {
                "rayon" => 1e9,
                "threads" => 1e9 * behind,
                _ => 2e9,
            };
            *cell.wall.as_mut().unwrap() = Stats {
                median_ns: run,
                ci_low_ns: run / half,
                ci_high_ns: run * half,
                ..Stats::default()
            };
        }
    }
    cases(&results)
        .into_iter()
        .find(|c| c.bucket.starts_with("beta/") && c.bucket.ends_with("/tasks=512"))
        .unwrap()
}

#[test]
fn a_strategy_is_tied_unless_shown_slower_by_more_than_the_margin() {
    // The simpler `threads` takes the label while it is tied.
    let label = |behind: f64, half: f64| {
        let case = beta_case(1.0 + behind, 1.0 + half);
        (case.winner, case.tied)
    };
    let both = || {
        (
            String::from("threads"),
            vec!["threads".into(), "rayon".into()],
        )
    };
    let rayon = || (String::from("rayon"), vec!["rayon".into()]);
    // 2% behind with narrow intervals: within the margin.
    assert_eq!(label(0.02, 0.001), both());
    // 4% behind with narrow intervals: slower by more than the margin beyond doubt.
    assert_eq!(label(0.04, 0.001), rayon());
    // 4% behind with ±2% intervals: the ratio's interval (1.01 to 1.07) reaches the margin.
    assert_eq!(label(0.04, 0.02), both());
    // 10% behind with ±2%: apart.
    assert_eq!(label(0.10, 0.02), rayon());
}

#[test]
fn a_label_on_the_tie_margin_is_kept_in_half_the_redraws_and_a_clear_one_in_all() {
    // Both intervals ±2%: the ratio's half-width on a log scale is h = √2 · ln 1.02, and
    // `threads` is tied while its ratio times e^−h is at most 1.03.
    let h = std::f64::consts::SQRT_2 * 1.02f64.ln();
    let on_the_margin = 1.03 * h.exp();
    let case = beta_case(on_the_margin, 1.02);
    assert_eq!(case.winner, "threads");
    // A re-draw moves the ratio's logarithm by h / 1.96 standard deviations, either way
    // alike: half the re-draws keep `threads` (1,000 re-draws: ±1.6% a standard error).
    let steadiness = &case.steadiness;
    assert!((0.45..=0.55).contains(&steadiness.kept), "{steadiness:?}");
    assert!(steadiness.unsettled());
    assert_eq!(steadiness.otherwise.as_deref(), Some("rayon"));
    // The same results, the same re-draws.
    assert_eq!(beta_case(on_the_margin, 1.02).steadiness, *steadiness);

    // One standard deviation inside the margin: kept with the normal's Φ(1) = 84.1%.
    let inside = beta_case(on_the_margin * (-h / 1.96).exp(), 1.02);
    assert_eq!(inside.winner, "threads");
    assert!(
        (0.81..=0.87).contains(&inside.steadiness.kept),
        "{:?}",
        inside.steadiness
    );
    assert!(!inside.steadiness.unsettled());

    // 10% behind with ±0.1%: `rayon` in every re-draw.
    let clear = beta_case(1.10, 1.001);
    assert_eq!(clear.winner, "rayon");
    assert_eq!(clear.steadiness, Steadiness::SURE);
}

/// A case of the given shape whose winner is `tied[0]`.
fn shaped(work: &str, waiting: f64, bytes_per_task: f64, tied: &[&str]) -> Case {
    Case {
        work: work.to_owned(),
        bucket: format!("{work}/size=1/tasks=1"),
        kind: "synthetic".to_owned(),
        features: [
            waiting,
            1.0,
            1e5,
            bytes_per_task,
            1e5 / bytes_per_task,
            8.0,
            1e6,
            1.0,
        ],
        winner: tied[0].to_owned(),
        workers: 2,
        fastest: None,
        tied: tied.iter().map(|s| (*s).to_owned()).collect(),
        margin: None,
        steadiness: Steadiness::SURE,
    }
}

/// The case run in 20 rounds.
fn in_rounds(mut case: Case) -> Case {
    case.features[7] = 20.0;
    case
}

/// The case's items running `overlap` times faster as concurrent futures.
fn overlapping(mut case: Case, overlap: f64) -> Case {
    case.features[1] = overlap;
    case
}

#[test]
fn blocking_and_async_waits_get_different_advice() {
    // Work that waits through 95% of its run: through an async client, whose items run 20 to
    // 60 times faster as concurrent futures, tokio wins; through a blocking one (no async
    // path: 1x), only more threads overlap the waits. CPU-bound work beside them.
    let mut all = Vec::new();
    for (i, overlap) in [20.0, 30.0, 40.0, 60.0].into_iter().enumerate() {
        all.push(overlapping(
            shaped(&format!("async{i}"), 0.95, 100.0, &["tokio"]),
            overlap,
        ));
        all.push(shaped(
            &format!("blocking{i}"),
            0.95,
            100.0,
            &["thread-pool[threads=executor]"],
        ));
        all.push(shaped(&format!("cpu{i}"), 0.0, 100.0, &["rayon"]));
    }
    let tree = learn(&all, &Options::default()).unwrap();
    assert_eq!(tree.correct(), all.len());
    let questions = mermaid(&tree);
    assert!(questions.contains("async overlap ≥"), "{questions}");
    // A new bucket of each kind, placed by the tree.
    let waits = |overlap: f64| overlapping(shaped("new", 0.9, 100.0, &["?"]), overlap);
    assert_eq!(tree.root.predict(&waits(25.0).features), "tokio");
    assert_eq!(
        tree.root.predict(&waits(1.0).features),
        "thread-pool[threads=executor]"
    );
}

#[test]
fn the_folklore_holds_where_its_advice_wins_and_is_contradicted_where_not() {
    let cases = [
        // CPU-bound, small data: process-shm wins one, ties one, loses one.
        shaped("a", 0.0, 1_000.0, &["process-shm"]),
        shaped("b", 0.1, 60_000.0, &["threads", "process-shm"]),
        shaped("c", 0.0, 10_000.0, &["rayon"]),
        // CPU-bound on large data: under no branch.
        shaped("d", 0.0, 1e7, &["threads"]),
        // Waiting: a thread pool, tied with tokio, and a plain loop.
        shaped("e", 0.9, 100.0, &["thread-pool[threads=executor]", "tokio"]),
        shaped("f", 0.6, 100.0, &["sequential"]),
        // In rounds, on large data: actors tied with the fastest in one of two.
        in_rounds(shaped("g", 0.0, 1e7, &["threads", "actors"])),
        in_rounds(shaped("h", 0.0, 1e7, &["timely"])),
    ];
    let branches = folklore(&cases);
    let verdicts: Vec<Verdict> = branches.iter().map(|b| b.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Holds,
            Verdict::Contradicted,
            Verdict::NotMeasured,
            Verdict::Contradicted,
            Verdict::NotMeasured
        ]
    );
    assert_eq!(
        branches[3].evidence(),
        "2 buckets; the advice won or tied in 1; winners: threads 1, timely 1"
    );
    assert_eq!(
        (branches[0].cases.as_slice(), branches[0].upheld),
        (&[0, 1, 2][..], 2)
    );
    assert_eq!(
        branches[0].evidence(),
        "3 buckets; the advice won or tied in 2; winners: process-shm 1, rayon 1, threads 1"
    );
    // One of two is not more than half.
    assert_eq!(
        (branches[1].cases.as_slice(), branches[1].upheld),
        (&[4, 5][..], 1)
    );
    assert_eq!(branches[2].evidence(), "no bucket of this run");
}

#[test]
fn the_svg_chart_draws_every_node_and_highlights_the_real_work() {
    let decision = Decision::of(&known_answer()).unwrap();
    let svg = svg(&decision);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>\n"));
    assert!(svg.contains(">CPU per task ≥ 31.62 µs?</text>"), "{svg}");
    assert!(svg.contains(">15 buckets, 15 right</text>"), "{svg}");
    assert!(
        svg.contains(">ahead of rayon by 1.80x (1.75x–1.85x)</text>"),
        "{svg}"
    );
    // `gamma`, the real work, is on both sides: both edges highlighted, its buckets listed.
    assert_eq!(svg.matches("stroke-width=\"3\"/>").count(), 2 + 3, "{svg}");
    // Under each leaf, `gamma`'s buckets that reach it: 5 below 50 µs, 7 above, 4 listed.
    assert!(
        svg.contains(">✓ gamma/size=64002/tasks=64: measured sequential</text>"),
        "{svg}"
    );
    assert_eq!(svg.matches(": measured sequential</text>").count(), 4);
    assert_eq!(svg.matches(": measured rayon</text>").count(), 4);
    assert!(svg.contains(">… and 1 more</text>"), "{svg}");
    assert!(svg.contains(">… and 3 more</text>"), "{svg}");
    let placed: Vec<&str> = decision.placed().map(|(_, c, _)| c.work.as_str()).collect();
    assert_eq!(placed, ["gamma"; 12]);
    let folklore = folklore_svg(&decision.folklore);
    assert!(folklore.contains(">contradicted</text>"), "{folklore}");
    assert_eq!(folklore.matches(">not measured here</text>").count(), 4);
}
