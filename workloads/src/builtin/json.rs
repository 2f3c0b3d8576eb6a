//! `json`: newline-delimited JSON records of varied shapes, parsed with `serde_json` into
//! dynamic values (as `json.loads` does) and aggregated per record kind.
//!
//! Tasks return partial aggregates (per kind: records, a summed amount, a counted quantity) that
//! combine by addition, so the answer does not depend on how the records were split. All
//! aggregated numbers are integers: sums of floats would depend on the order of addition.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::{
    EnvVars, Input, Items, Layout, Params, Partial, SplitMix64, TaskContext, TaskError, WorkKind,
    Workload, WorkloadError, WorkloadSpec,
};

/// Registration of `json`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "json",
    description: "newline-delimited JSON records of varied shapes parsed with serde_json and aggregated per kind",
    kind: WorkKind::Compute,
    default_size: 100_000,
    params: &[],
    environment: None,
    build: &build,
};

fn build(_: &Params, _: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    Ok(Arc::new(JsonRecords))
}

/// Record kinds, in the order of the aggregate.
pub const KINDS: [&str; 4] = ["order", "click", "metric", "log"];
/// Per kind: records, amount, quantity.
const FIELDS: usize = 3;
const PARTIAL_LEN: usize = KINDS.len() * FIELDS * 8;

/// Parses and aggregates JSON lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRecords;

/// The aggregate of one kind of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindTotals {
    /// Records of this kind.
    pub records: u64,
    /// Orders: cents; clicks: milliseconds; metrics: the values; logs: message bytes.
    pub amount: u64,
    /// Orders: line items; clicks: with a referrer; metrics: values; logs: path segments.
    pub quantity: u64,
}

/// Decodes a combined partial into per-kind totals, in [`KINDS`] order.
pub fn decode(partial: &[u8]) -> Vec<KindTotals> {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&partial[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    (0..KINDS.len())
        .map(|k| KindTotals {
            records: word(k * FIELDS),
            amount: word(k * FIELDS + 1),
            quantity: word(k * FIELDS + 2),
        })
        .collect()
}

const NAMES: [&str; 8] = [
    "Ada", "Grace", "Linus", "Barbara", "Edsger", "Margaret", "Dennis", "Frances",
];
const WORDS: [&str; 12] = [
    "timeout",
    "retry",
    "cache",
    "miss",
    "\\\"quoted\\\"",
    "caf\\u00e9",
    "tab\\tseparated",
    "shard",
    "replica",
    "lag",
    "ok",
    "π≈3.14",
];

fn record(rng: &mut SplitMix64, id: u64, line: &mut String) {
    // Writing to a String cannot fail.
    let pick = |rng: &mut SplitMix64, options: &[&'static str]| {
        options[rng.below(options.len() as u64) as usize]
    };
    match rng.below(4) {
        0 => {
            let lines = 1 + rng.below(5);
            let _ = write!(
                line,
                r#"{{"kind":"order","id":{id},"customer":{{"id":{},"name":"{}","tier":"{}"}},"items":["#,
                rng.below(100_000),
                pick(rng, &NAMES),
                pick(rng, &["gold", "silver", "bronze"]),
            );
            let mut total = 0;
            for i in 0..lines {
                let (qty, price) = (1 + rng.below(9), 99 + rng.below(20_000));
                total += qty * price;
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(
                    line,
                    r#"{sep}{{"sku":"SKU-{:05}","qty":{qty},"price_cents":{price}}}"#,
                    rng.below(100_000)
                );
            }
            let _ = write!(
                line,
                r#"],"total_cents":{total},"paid":{}}}"#,
                rng.below(2) == 1
            );
        }
        1 => {
            let _ = write!(
                line,
                r#"{{"kind":"click","ts":{},"user":{},"page":"/p/{}","duration_ms":{},"referrer":"#,
                1_700_000_000_000 + rng.below(1 << 32),
                rng.below(1 << 20),
                rng.below(10_000),
                rng.below(60_000),
            );
            if rng.below(3) == 0 {
                line.push_str("null}");
            } else {
                let _ = write!(line, r#""https://example.org/{}"}}"#, pick(rng, &WORDS));
            }
        }
        2 => {
            let count = 1 + rng.below(12);
            let _ = write!(
                line,
                r#"{{"kind":"metric","host":"h-{}","name":"{}","values":["#,
                rng.below(64),
                pick(rng, &["cpu", "mem", "disk", "net"]),
            );
            for i in 0..count {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(line, "{sep}{}", rng.below(1_000));
            }
            let _ = write!(
                line,
                r#"],"tags":{{"dc":"{}","rack":"r{}"}}}}"#,
                pick(rng, &["eu-west", "us-east", "ap-south"]),
                rng.below(40),
            );
        }
        _ => {
            let words = 3 + rng.below(10);
            let _ = write!(
                line,
                r#"{{"kind":"log","level":"{}","ts":{},"message":""#,
                pick(rng, &["debug", "info", "warn", "error"]),
                1_700_000_000_000 + rng.below(1 << 32),
            );
            for i in 0..words {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(pick(rng, &WORDS));
            }
            let depth = rng.below(4);
            let _ = write!(line, r#"","context":{{"retry":{},"path":["#, rng.below(5));
            for i in 0..depth {
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(line, r#"{sep}"{}""#, pick(rng, &WORDS));
            }
            line.push_str("]}}");
        }
    }
    line.push('\n');
}

fn field<'a>(record: &'a Json, key: &str) -> Result<&'a Json, TaskError> {
    record
        .get(key)
        .ok_or_else(|| TaskError::error(format!("record without `{key}`")))
}

fn uint(record: &Json, key: &str) -> Result<u64, TaskError> {
    field(record, key)?
        .as_u64()
        .ok_or_else(|| TaskError::error(format!("`{key}` is not an unsigned integer")))
}

fn array<'a>(record: &'a Json, key: &str) -> Result<&'a Vec<Json>, TaskError> {
    field(record, key)?
        .as_array()
        .ok_or_else(|| TaskError::error(format!("`{key}` is not an array")))
}

/// Adds one parsed record to `totals`.
fn aggregate(record: &Json, totals: &mut [u64; KINDS.len() * FIELDS]) -> Result<(), TaskError> {
    let kind = field(record, "kind")?.as_str().unwrap_or_default();
    let (k, amount, quantity) = match kind {
        "order" => {
            let items = array(record, "items")?;
            let mut sum = 0;
            for item in items {
                sum += uint(item, "qty")? * uint(item, "price_cents")?;
            }
            let total = uint(record, "total_cents")?;
            if sum != total {
                return Err(TaskError::error(format!(
                    "order {} totals {total} but its items sum to {sum}",
                    uint(record, "id")?
                )));
            }
            (0, total, items.len() as u64)
        }
        "click" => (
            1,
            uint(record, "duration_ms")?,
            u64::from(!field(record, "referrer")?.is_null()),
        ),
        "metric" => {
            let values = array(record, "values")?;
            let mut sum = 0;
            for v in values {
                sum += v
                    .as_u64()
                    .ok_or_else(|| TaskError::error("metric value is not an integer"))?;
            }
            (2, sum, values.len() as u64)
        }
        "log" => {
            let message = field(record, "message")?.as_str().unwrap_or_default();
            let path = array(field(record, "context")?, "path")?;
            (3, message.len() as u64, path.len() as u64)
        }
        other => return Err(TaskError::error(format!("unknown record kind `{other}`"))),
    };
    totals[k * FIELDS] += 1;
    totals[k * FIELDS + 1] += amount;
    totals[k * FIELDS + 2] += quantity;
    Ok(())
}

fn encode(totals: &[u64]) -> Partial {
    totals.iter().flat_map(|w| w.to_le_bytes()).collect()
}

impl Workload for JsonRecords {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        let mut rng = SplitMix64::new(seed);
        let mut text = String::with_capacity(size * 200);
        let mut offsets = Vec::with_capacity(size + 1);
        offsets.push(0u64);
        for id in 0..size as u64 {
            record(&mut rng, id, &mut text);
            offsets.push(text.len() as u64);
        }
        Input::new(text.into_bytes(), Layout::Offsets(offsets))
    }

    fn output_len(&self) -> usize {
        0
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        _: &mut [u8],
    ) -> Result<Partial, TaskError> {
        let mut totals = [0u64; KINDS.len() * FIELDS];
        for (i, line) in items.iter().enumerate() {
            let record: Json = serde_json::from_slice(line)
                .map_err(|e| TaskError::error(format!("record {}: {e}", items.first() + i)))?;
            aggregate(&record, &mut totals)?;
        }
        Ok(encode(&totals))
    }

    fn combine(&self, partials: &[&[u8]]) -> Partial {
        let mut totals = [0u64; KINDS.len() * FIELDS];
        for partial in partials.iter().filter(|p| p.len() == PARTIAL_LEN) {
            for (k, total) in decode(partial)
                .iter()
                .flat_map(|t| [t.records, t.amount, t.quantity])
                .enumerate()
            {
                totals[k] += total;
            }
        }
        encode(&totals)
    }
}
