//! Every built-in workload's answer for a fixed (size, seed) is a golden value: a change to a
//! generator or a task shows up here. Any split into tasks gives the same answer; another seed
//! gives another; one flipped output byte is caught.

mod common;

use common::{build, environment, run};
use parbench_workloads::builtin::json::{decode, KINDS};
use parbench_workloads::{plan_tasks, EnvVars, Value};

const SEED: u64 = 20_260_101;

/// A workload, its parameters, an input size, and the golden digest of its answer.
type Case = (
    &'static str,
    Vec<(&'static str, Value)>,
    usize,
    &'static str,
);

fn cases() -> Vec<Case> {
    vec![
        (
            "square",
            vec![],
            1_000,
            "32825097f3d25ccad043d8e570d02ff632c05122769b41e1ee413e8ae172579a",
        ),
        (
            "resize",
            vec![("width", Value::Int(96)), ("height", Value::Int(64))],
            3,
            "3d592e08745a3698f6943a504fa01c5a35e602f8e2e7d583434f30e14131ee94",
        ),
        (
            "json",
            vec![],
            400,
            "f6b2abf630c8997acb91d736948bbd1f603eef127c3d53804088ea41a639ef2b",
        ),
        (
            "http",
            vec![
                ("latency_ms", Value::Int(0)),
                ("body_bytes", Value::Int(256)),
            ],
            24,
            "1cb89bfa599c19a09e47f46024d0da65750d1f25819a65c16e451acaee0539bb",
        ),
        (
            "risky",
            vec![
                ("error_rate", Value::Float(0.0)),
                ("panic_rate", Value::Float(0.0)),
            ],
            1_000,
            "3cc93b70af8811eac58fccd46097bb4807e98bbe7ce565c14fea3886ba8eeb26",
        ),
        (
            "spin",
            vec![("ns_per_item", Value::Int(50))],
            200,
            "a4dd5b61a8c07fde5bbe05b79b474f1883d6d0188ea438a63748fac2d21a8052",
        ),
        (
            "spin",
            vec![
                ("ns_per_item", Value::Int(50)),
                ("bytes_per_item", Value::Int(100)),
                ("wait_ns_per_item", Value::Int(1_000)),
            ],
            200,
            "600766e0db7f9372e26ba959223f58e1e7717cd408b04c29dd6e97ede285f6d2",
        ),
    ]
}

#[test]
fn golden_digests_hold_for_every_split_and_change_with_the_seed() {
    for (name, params, size, golden) in cases() {
        let env = environment(name);
        let vars = env.as_ref().map(|e| e.vars()).unwrap_or_default();
        let workload = build(name, &params, &vars);
        let input = workload.generate(size, SEED);
        assert_eq!(input.items(), size, "{name}");
        assert_eq!(
            input,
            workload.generate(size, SEED),
            "{name}: generation is not deterministic"
        );

        let whole = run(workload.as_ref(), &input, 1, SEED, 1).answer(workload.as_ref());
        assert!(whole.failures.is_empty(), "{name}: {:?}", whole.failures);
        assert_eq!(
            whole.digest.to_string(),
            golden,
            "{name}: golden digest changed"
        );

        for tasks in [7.min(size), size] {
            let split = run(workload.as_ref(), &input, tasks, SEED, 1).answer(workload.as_ref());
            assert_eq!(split, whole, "{name}: {tasks} tasks changed the answer");
        }

        let other = workload.generate(size, SEED + 1);
        assert_ne!(other, input, "{name}: the seed does not change the input");
        let other = run(workload.as_ref(), &other, 1, SEED + 1, 1).answer(workload.as_ref());
        assert_ne!(
            other.digest, whole.digest,
            "{name}: the seed does not change the answer"
        );

        if let Some(env) = env {
            env.stop().unwrap();
        }
    }
}

#[test]
fn one_flipped_output_byte_fails_verification() {
    let workload = build("square", &[], &EnvVars::new());
    let input = workload.generate(500, SEED);
    let mut sample = run(workload.as_ref(), &input, 4, SEED, 1);
    let reference = sample.answer(workload.as_ref());
    for at in [0, 1_999, sample.output.len() - 1] {
        sample.output[at] ^= 0x01;
        assert_ne!(
            sample.answer(workload.as_ref()),
            reference,
            "flip at byte {at} went unseen"
        );
        sample.output[at] ^= 0x01;
    }
    assert_eq!(sample.answer(workload.as_ref()), reference);

    // For a workload whose answer is partial results, a changed partial is caught too.
    let json = build("json", &[], &EnvVars::new());
    let input = json.generate(200, SEED);
    let mut sample = run(json.as_ref(), &input, 3, SEED, 1);
    let reference = sample.answer(json.as_ref());
    sample.partials[1].as_mut().unwrap()[0] ^= 0x01;
    assert_ne!(sample.answer(json.as_ref()), reference);
}

#[test]
fn square_computes_wrapping_squares() {
    let workload = build("square", &[], &EnvVars::new());
    let input = workload.generate(100, SEED);
    let sample = run(workload.as_ref(), &input, 3, SEED, 1);
    for (x, y) in input
        .bytes
        .chunks_exact(8)
        .zip(sample.output.chunks_exact(8))
    {
        let x = u64::from_le_bytes(x.try_into().unwrap());
        assert_eq!(u64::from_le_bytes(y.try_into().unwrap()), x.wrapping_mul(x));
    }
}

#[test]
fn json_aggregates_every_record_by_kind() {
    let workload = build("json", &[], &EnvVars::new());
    let input = workload.generate(2_000, SEED);
    let text = std::str::from_utf8(&input.bytes).unwrap();
    assert_eq!(text.lines().count(), 2_000);
    let sample = run(workload.as_ref(), &input, 9, SEED, 1);
    let partials: Vec<&[u8]> = sample
        .partials
        .iter()
        .map(|p| p.as_deref().unwrap())
        .collect();
    let totals = decode(&workload.combine(&partials));
    assert_eq!(totals.iter().map(|t| t.records).sum::<u64>(), 2_000);
    for (kind, totals) in KINDS.iter().zip(&totals) {
        let expected = text.matches(&format!("{{\"kind\":\"{kind}\"")).count() as u64;
        assert_eq!(totals.records, expected, "{kind}");
        assert!(totals.amount > 0, "{kind}");
    }
    // Varied shapes: every kind shows up in a few hundred records.
    assert!(totals.iter().all(|t| t.records > 300));
}

#[test]
fn resize_writes_224_square_images() {
    let workload = build(
        "resize",
        &[("width", Value::Int(320)), ("height", Value::Int(200))],
        &EnvVars::new(),
    );
    assert_eq!(workload.output_len(), 224 * 224 * 3);
    let input = workload.generate(2, SEED);
    assert_eq!(input.bytes.len(), 2 * 320 * 200 * 3);
    let sample = run(workload.as_ref(), &input, 2, SEED, 1);
    // Not a flat picture: the synthetic image's structure survives the resize.
    let first = &sample.output[..224 * 224 * 3];
    let distinct: std::collections::BTreeSet<&[u8]> = first.chunks_exact(3).collect();
    assert!(distinct.len() > 100, "{} distinct colours", distinct.len());
}

#[test]
fn spin_needs_its_calibration_and_runs_with_one() {
    let registry = parbench_workloads::Registry::builtin();
    let spec = registry.get("spin").unwrap();
    let params = spec.resolve(&Default::default()).unwrap();
    let err = spec.instantiate(&params, &EnvVars::new()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "workload `spin` needs the `spin-calibration` environment, which is not running \
         (missing `spin.iters_per_ms`)"
    );
    let vars = EnvVars::from([("spin.iters_per_ms".to_owned(), "500000".to_owned())]);
    let spin = spec.instantiate(&params, &vars).unwrap();
    let input = spin.generate(4, SEED);
    assert_eq!(plan_tasks(4, 4).unwrap().len(), 4);
    assert_eq!(run(spin.as_ref(), &input, 4, SEED, 1).failures, []);
    let spin = parbench_workloads::builtin::spin::calibrate();
    assert!(
        spin > 10_000,
        "{spin} iterations per ms is implausibly slow"
    );
}

#[test]
fn spin_carries_its_bytes_per_item_and_waits_its_time_per_item() {
    let vars = EnvVars::from([("spin.iters_per_ms".to_owned(), "500000".to_owned())]);
    let spin = build(
        "spin",
        &[
            ("ns_per_item", Value::Int(1)),
            ("bytes_per_item", Value::Int(1_000)),
            ("wait_ns_per_item", Value::Int(2_000_000)),
        ],
        &vars,
    );
    let input = spin.generate(10, SEED);
    assert_eq!((input.items(), input.bytes.len()), (10, 10_000));
    assert_eq!(spin.output_len(), 1_000);
    // The words are those of the 8-byte spin: its answers' first words agree.
    let plain = build("spin", &[("ns_per_item", Value::Int(1))], &vars);
    let words = plain.generate(10, SEED);
    for i in 0..10 {
        assert_eq!(
            input.bytes[i * 1_000..i * 1_000 + 8],
            words.bytes[i * 8..i * 8 + 8]
        );
    }
    // Two tasks of five items: each sleeps 10 ms, so the run waits at least 20 ms.
    let start = std::time::Instant::now();
    let sample = run(spin.as_ref(), &input, 2, SEED, 1);
    assert!(start.elapsed() >= std::time::Duration::from_millis(20));
    assert_eq!(sample.failures, []);
    assert_eq!(sample.output.len(), 10_000);
    // Every byte after an item's word is the input's, flipped: all of it went through the task.
    for i in 0..10 {
        let (out, item) = (&sample.output[i * 1_000..], &input.bytes[i * 1_000..]);
        assert!((8..1_000).all(|b| out[b] == item[b] ^ 0x5a), "item {i}");
    }
}
