//! Suite files: which workloads, sizes, granularities, strategies and worker counts to measure.
//!
//! A suite is TOML; `parbench run` without a file runs the embedded default suite, written in the
//! same format (`harness/suites/default.toml`). Every problem is reported with the file, the line
//! and the key at fault.
//!
//! ```toml
//! name = "io"             # optional; the file's stem otherwise
//! seed = 42               # inputs are generated from it
//! policy = "collect"      # collect | fail-fast | retry(N)
//! strategies = ["sequential", "tokio"]
//! workers = [1, 2]
//! processes = 3           # every cell is measured in this many processes at least...
//! warmup = 1              # ...each taking an untimed sample first...
//! samples = 3             # ...and this many timed ones
//! time_budget = "3s"      # ...or fewer once they have sampled this long together
//! ci_target = 0.02        # more processes until the median's 95% CI is within ±2%...
//! max_processes = 20      # ...or the cell has this many...
//! budget = "4m"           # ...or the run has lasted this long
//! cell_timeout = "120s"   # a cell running longer is killed: status `timeout`
//! memory_limit = "4GiB"   # a cell holding more is killed: status `oom`
//! profile_hz = 997        # after its samples, each cell runs once more under a profiler...
//! profile_samples = 100   # ...until the profile holds this many samples...
//! profile_time = "1s"     # ...or has run this long (`parbench run --no-profile` skips it)
//!
//! [[workload]]
//! name = "http"
//! params = { latency_ms = 2 }
//! sizes = [400]           # default: the workload's default size
//! tasks = [1, 8, 100]     # default: [1]; or a sweep: "1..=10000 x10", "2..=16 +2"
//! # strategies, workers and policy may be overridden per workload too; a workload's own
//! # policy is part of its cells' ids (`risky[policy=fail-fast]/…`)
//!
//! [strategy_params.tokio] # a strategy's parameters, for every cell it runs
//! in_flight = 64
//!
//! [gate]                  # `parbench compare`'s thresholds (these are the defaults)
//! run = "5%"              # steady run time
//! end-to-end = "5%"       # setup, first run, teardown
//! memory = "10%"          # peak memory
//! overhead = "5%"         # overhead share, in points
//! bytes = "10%"           # bytes moved between processes
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use parbench_strategies::{FailurePolicy, StrategySpec};
use parbench_workloads::{plan_tasks, Params, Value, WorkloadSpec};
use serde::Deserialize;
use toml::Spanned;

use crate::cell::protocol::{Profiling, Sampling};
use crate::error::SuiteError;
use crate::plugins::Plugins;

/// The suite `parbench run` measures when no file is given.
pub const DEFAULT_SUITE: &str = include_str!("../suites/default.toml");

/// The name under which the embedded suite is reported.
pub const DEFAULT_SOURCE: &str = "embedded:default";

/// The design space of `parbench decide`: `parbench run decide`.
pub const DECIDE_SUITE: &str = include_str!("../suites/decide.toml");

/// The essay's claims, each measured and checked: `parbench claims`.
pub const CLAIMS_SUITE: &str = include_str!("../suites/claims.toml");

/// The suites built into parbench, by name: `parbench run NAME` runs one.
pub const EMBEDDED: [(&str, &str); 3] = [
    ("default", DEFAULT_SUITE),
    ("decide", DECIDE_SUITE),
    ("claims", CLAIMS_SUITE),
];

/// `default, decide`.
fn embedded_names() -> String {
    EMBEDDED.map(|(name, _)| name).join(", ")
}

/// A suite as written: TOML, or made by [`SuiteBuilder`] (whose values carry no position).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: Option<String>,
    seed: Option<u64>,
    policy: Option<Spanned<String>>,
    strategies: Option<Spanned<Vec<String>>>,
    workers: Option<Spanned<Counts>>,
    warmup: Option<usize>,
    samples: Option<Spanned<usize>>,
    processes: Option<Spanned<usize>>,
    max_processes: Option<Spanned<usize>>,
    /// Gone: named, to say what replaced it.
    max_samples: Option<Spanned<toml::Value>>,
    ci_target: Option<Spanned<f64>>,
    time_budget: Option<Spanned<String>>,
    budget: Option<Spanned<String>>,
    cell_timeout: Option<Spanned<String>>,
    memory_limit: Option<Spanned<String>>,
    profile_hz: Option<Spanned<u32>>,
    profile_samples: Option<Spanned<u64>>,
    profile_time: Option<Spanned<String>>,
    strategy_params: Option<Spanned<toml::Table>>,
    gate: Option<BTreeMap<String, Spanned<toml::Value>>>,
    #[serde(rename = "workload", default)]
    workloads: Vec<RawWorkload>,
    #[serde(rename = "claim", default)]
    claims: Vec<RawClaim>,
}

/// A `[[claim]]` as written: `numerator`'s figure over `denominator`'s, `above` or `below`
/// `threshold`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    name: Spanned<String>,
    statement: Option<String>,
    /// `ratio` (the default), `break-even` or `teardown`.
    kind: Option<Spanned<String>>,
    metric: Option<Spanned<String>>,
    numerator: Option<RawSide>,
    denominator: Option<RawSide>,
    /// A break-even claim's workload and workers.
    work: Option<Spanned<String>>,
    workers: Option<Spanned<usize>>,
    holds: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    quoted: Option<Spanned<f64>>,
    folklore: Option<Spanned<String>>,
}

/// One side of a claim as written: `{ work = "square", strategy = "rayon", workers = 2 }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSide {
    work: Spanned<String>,
    strategy: Spanned<String>,
    workers: Option<usize>,
    tasks: Option<usize>,
    size: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    name: Spanned<String>,
    params: Option<Spanned<toml::Table>>,
    sizes: Option<Spanned<Vec<usize>>>,
    tasks: Option<Spanned<Counts>>,
    strategies: Option<Spanned<Vec<String>>>,
    workers: Option<Spanned<Counts>>,
    policy: Option<Spanned<String>>,
}

/// A list of counts as a suite writes it: `[1, 8, 64]`, or a sweep such as
/// `"1..=100000 x10"` (1, 10, ..., 100000), `"2..=16 +2"` or `"1..=cores"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Counts {
    List(Vec<usize>),
    Sweep(String),
}

impl Counts {
    /// The counts, with `cores` standing for this machine's logical cores.
    fn expand(&self, cores: usize) -> Result<Vec<usize>, String> {
        match self {
            Counts::List(list) => Ok(list.clone()),
            Counts::Sweep(text) => sweep(text, cores),
        }
    }
}

/// Expands a sweep: `A..=B`, `A..=B xF` (geometric) or `A..=B +S` (arithmetic); `A` and `B`
/// may be `cores`.
pub fn sweep(text: &str, cores: usize) -> Result<Vec<usize>, String> {
    let bad = || {
        format!(
            "`{text}` is not a sweep: write `A..=B`, `A..=B xF` or `A..=B +S` (A, B may be \
             `cores`), or a list such as [1, 8, 64]"
        )
    };
    let (range, step) = match text.trim().split_once(char::is_whitespace) {
        Some((range, step)) => (range, Some(step.trim())),
        None => (text.trim(), None),
    };
    let (from, to) = range.split_once("..=").ok_or_else(bad)?;
    let bound = |b: &str| match b.trim() {
        "cores" => Ok(cores),
        n => n.parse::<usize>().map_err(|_| bad()),
    };
    let (from, to) = (bound(from)?, bound(to)?);
    if from == 0 || from > to {
        return Err(format!("`{text}`: the sweep must go up from at least 1"));
    }
    let mut values = Vec::new();
    let mut value = from;
    match step {
        None => values.extend(from..=to),
        Some(step) => {
            let factor = step.strip_prefix('x').map(str::parse::<usize>);
            let increment = step.strip_prefix('+').map(str::parse::<usize>);
            match (factor, increment) {
                (Some(Ok(f)), _) if f >= 2 => {
                    while value <= to {
                        values.push(value);
                        value = value.saturating_mul(f);
                    }
                }
                (_, Some(Ok(i))) if i >= 1 => {
                    while value <= to {
                        values.push(value);
                        value = value.saturating_add(i);
                    }
                }
                _ => return Err(bad()),
            }
        }
    }
    Ok(values)
}

/// A validated suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Its name.
    pub name: String,
    /// Its file, or [`DEFAULT_SOURCE`].
    pub source: String,
    /// The seed every input is generated from.
    pub seed: u64,
    /// The failure policy of every cell.
    pub policy: FailurePolicy,
    /// How many samples each cell takes.
    pub sampling: Sampling,
    /// Wall time after which a cell's processes are killed (status `timeout`).
    pub cell_timeout: Duration,
    /// Resident memory a cell's processes may hold together (status `oom`); also each cell
    /// process's address-space limit when the suite sets it.
    pub memory_limit: Option<u64>,
    /// How each cell's profiled run samples.
    pub profiling: Profiling,
    /// One group per `[[workload]]` entry.
    pub groups: Vec<Group>,
    /// The regression gate's thresholds (`[gate]`), when the suite sets any; `parbench
    /// compare` takes them from the new side's results.
    pub gate: Option<parbench_reports::Thresholds>,
    /// The claims it checks (`[[claim]]`), carried into the results.
    pub claims: Vec<parbench_reports::claims::Claim>,
}

/// A strategy with the parameters it runs with in a suite: `name` or `name[k=v,...]` in a
/// `strategies` list, over the suite's `[strategy_params.name]`.
#[derive(Debug, Clone)]
pub struct Configured {
    /// The strategy.
    pub spec: StrategySpec,
    /// Its validated parameters, defaults included.
    pub params: Params,
}

impl Configured {
    /// `name`, or `name[k=v,...]` with the parameters that differ from their defaults: the
    /// strategy as cell ids spell it.
    pub fn label(&self) -> String {
        crate::runner::strategy_label(&self.spec, &self.params)
    }
}

/// Resolves a `strategies` entry: `name`, or `name[k=v,...]` (as cell ids spell it), its own
/// parameters over the suite-wide ones.
fn configure(
    plugins: &Plugins,
    entry: &str,
    suite_wide: &BTreeMap<&'static str, BTreeMap<String, Value>>,
) -> Result<Configured, String> {
    let (name, own) = match entry.split_once('[') {
        Some((name, rest)) => match rest.strip_suffix(']') {
            Some(inner) => (name.trim(), inner),
            None => return Err(format!("`{entry}`: expected `name[key=value,...]`")),
        },
        None => (entry.trim(), ""),
    };
    let spec = *plugins.strategies.get(name).map_err(|e| e.to_string())?;
    let mut given = suite_wide.get(spec.name).cloned().unwrap_or_default();
    for pair in own.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, text) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{entry}`: `{pair}` is not `key=value`"))?;
        let kind = spec
            .params
            .iter()
            .find(|p| p.name == key.trim())
            .map(|p| p.kind)
            .ok_or_else(|| {
                let valid: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
                format!(
                    "`{entry}`: `{}` has no parameter `{}`; valid: {}",
                    spec.name,
                    key.trim(),
                    if valid.is_empty() {
                        "none".to_owned()
                    } else {
                        valid.join(", ")
                    }
                )
            })?;
        let value = kind.parse(text).map_err(|got| {
            format!(
                "`{entry}`: parameter `{}` of `{}` must be {}, not `{got}`",
                key.trim(),
                spec.name,
                kind.valid()
            )
        })?;
        given.insert(key.trim().to_owned(), value);
    }
    let params = Params::resolve(spec.name, spec.params, &given).map_err(|e| e.to_string())?;
    Ok(Configured { spec, params })
}

/// One `[[workload]]` entry: a workload with its parameters, and the grid to measure it on.
#[derive(Debug, Clone)]
pub struct Group {
    /// The workload.
    pub workload: WorkloadSpec,
    /// Its validated parameters.
    pub params: Params,
    /// Input sizes, in items.
    pub sizes: Vec<usize>,
    /// Task counts (granularities).
    pub tasks: Vec<usize>,
    /// Strategies, each with its parameters.
    pub strategies: Vec<Configured>,
    /// Worker counts.
    pub workers: Vec<usize>,
    /// The entry's own failure policy (`None`: the suite's). Its cells' ids carry it
    /// (`risky[policy=fail-fast]/…`), so one workload can be measured under several policies.
    pub policy: Option<FailurePolicy>,
}

impl Group {
    /// The failure policy of the group's cells: its own, or the suite's.
    pub fn policy_in(&self, suite: &Suite) -> FailurePolicy {
        self.policy.unwrap_or(suite.policy)
    }
}

impl Suite {
    /// Reads and validates a suite file.
    pub fn load(path: &Path, plugins: &Plugins) -> Result<Self, SuiteError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SuiteError {
            file: file.clone(),
            line: None,
            column: None,
            key: None,
            message: format!("cannot read the suite: {e}"),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "suite".to_owned());
        Self::parse(&text, &file, &stem, plugins)
    }

    /// A suite file, or when `path` names no file but an embedded suite (`decide`), that one.
    ///
    /// ```
    /// use parbench::{Plugins, Suite};
    ///
    /// let suite = Suite::find("decide".as_ref(), &Plugins::default())?;
    /// assert_eq!(suite.source, "embedded:decide");
    /// let err = Suite::find("no-such-suite".as_ref(), &Plugins::default()).unwrap_err();
    /// assert!(err.message.ends_with("(and no embedded suite has that name: default, decide, claims)"));
    /// # Ok::<(), parbench::SuiteError>(())
    /// ```
    pub fn find(path: &Path, plugins: &Plugins) -> Result<Self, SuiteError> {
        let bare = path.components().count() == 1 && path.extension().is_none();
        match path.to_str() {
            Some(name) if bare && !path.exists() => {
                if EMBEDDED.iter().any(|(n, _)| *n == name) {
                    return Self::named(name, plugins);
                }
                Self::load(path, plugins).map_err(|mut err| {
                    err.message.push_str(&format!(
                        " (and no embedded suite has that name: {})",
                        embedded_names()
                    ));
                    err
                })
            }
            _ => Self::load(path, plugins),
        }
    }

    /// The embedded default suite: every built-in workload under every built-in strategy, so
    /// it needs every default feature of this crate.
    pub fn embedded(plugins: &Plugins) -> Result<Self, SuiteError> {
        Self::named("default", plugins)
    }

    /// An embedded suite by name (one of [`EMBEDDED`]). Each runs built-in workloads under
    /// every built-in strategy, so it needs every default feature of this crate.
    ///
    /// ```
    /// use parbench::{Plugins, Suite};
    ///
    /// let suite = Suite::named("decide", &Plugins::default())?;
    /// assert_eq!((suite.name.as_str(), suite.source.as_str()), ("decide", "embedded:decide"));
    /// assert!(Suite::named("nope", &Plugins::default()).is_err());
    /// # Ok::<(), parbench::SuiteError>(())
    /// ```
    pub fn named(name: &str, plugins: &Plugins) -> Result<Self, SuiteError> {
        let source = format!("embedded:{name}");
        let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name) else {
            return Err(SuiteError {
                file: source,
                line: None,
                column: None,
                key: None,
                message: format!("no embedded suite `{name}`: {}", embedded_names()),
            });
        };
        let missing: Vec<&str> = [
            ("http", cfg!(feature = "http")),
            ("resize", cfg!(feature = "resize")),
            ("tokio", cfg!(feature = "tokio")),
            ("actors", cfg!(feature = "actors")),
            ("timely", cfg!(feature = "timely")),
        ]
        .into_iter()
        .filter_map(|(feature, on)| (!on).then_some(feature))
        .collect();
        if !missing.is_empty() {
            return Err(SuiteError {
                file: source,
                line: None,
                column: None,
                key: None,
                message: format!(
                    "the {name} suite runs built-in workloads under every built-in strategy, and \
                     this build of parbench has the features {} off: give a suite file of your own",
                    missing.join(", ")
                ),
            });
        }
        Self::parse(text, &source, name, plugins)
    }

    /// Parses and validates suite text; `file` names it in errors, `stem` names the suite
    /// when the text does not.
    ///
    /// ```
    /// use parbench::{Plugins, Suite};
    ///
    /// let plugins = Plugins::default();
    /// let text = "strategies = [\"sequential\", \"rayon\"]\nworkers = [1, 2]\n\
    ///             [[workload]]\nname = \"square\"\ntasks = \"1..=100 x10\"\n";
    /// let suite = Suite::parse(text, "mine.toml", "mine", &plugins)?;
    /// assert_eq!((suite.name.as_str(), suite.groups[0].tasks.as_slice()), ("mine", &[1, 10, 100][..]));
    ///
    /// let err = Suite::parse("[[workload]]\nname = \"square\"\nsizez = [1]\n", "mine.toml", "mine", &plugins)
    ///     .unwrap_err();
    /// assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("sizez")));
    /// # Ok::<(), parbench::SuiteError>(())
    /// ```
    pub fn parse(
        text: &str,
        file: &str,
        stem: &str,
        plugins: &Plugins,
    ) -> Result<Self, SuiteError> {
        let source = Source {
            file,
            text: Some(text),
        };
        let raw: SuiteFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            source.at(
                span.clone(),
                &key_at(text, span.start),
                e.message().to_owned(),
            )
        })?;
        validate(raw, &source, stem, plugins)
    }

    /// A builder of a suite in code, validated as a suite file is.
    ///
    /// ```
    /// use parbench::{Plugins, Suite, WorkloadEntry};
    /// use std::time::Duration;
    ///
    /// let plugins = Plugins::default();
    /// let suite = Suite::builder("square")
    ///     .workload(WorkloadEntry::new("square").sizes([100_000]).tasks([1, 8]))
    ///     .strategies(["sequential", "rayon", "tokio[in_flight=4]"])
    ///     .workers([1, 2])
    ///     .time_budget(Duration::from_millis(500))
    ///     .build(&plugins)?;
    /// assert_eq!(suite.groups[0].tasks, [1, 8]);
    /// assert_eq!(suite.groups[0].strategies[2].params.int("in_flight"), 4);
    ///
    /// // The same errors as a file, without a line to point at.
    /// let err = Suite::builder("typo")
    ///     .workload(WorkloadEntry::new("sqare"))
    ///     .build(&plugins)
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with(
    ///     "builder:typo: workload[0].name: unknown workload `sqare`; valid workloads: square"
    /// ));
    /// # Ok::<(), parbench::SuiteError>(())
    /// ```
    pub fn builder(name: impl Into<String>) -> SuiteBuilder {
        SuiteBuilder {
            raw: SuiteFile {
                name: Some(name.into()),
                ..SuiteFile::default()
            },
        }
    }
}

/// Where a suite's text came from, to point at a value at fault: `file:line:column: key`.
/// A built suite has no text, and its errors name the key alone.
struct Source<'t> {
    file: &'t str,
    /// The suite file's text; `None` for a built suite.
    text: Option<&'t str>,
}

impl Source<'_> {
    /// An error at `span` of the text, under `key`.
    fn at(&self, span: Range<usize>, key: &str, message: String) -> SuiteError {
        SuiteError {
            file: self.file.to_owned(),
            line: self.text.map(|text| line_of(text, span.start)),
            column: self.text.map(|text| column_of(text, span.start)),
            key: Some(key.to_owned()),
            message,
        }
    }

    /// A failure policy (`collect`, `fail-fast`, `retry(N)`) under `key`, if given.
    fn policy(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
    ) -> Result<Option<FailurePolicy>, SuiteError> {
        value
            .as_ref()
            .map(|p| {
                p.get_ref()
                    .parse()
                    .map_err(|e: parbench_strategies::StrategyError| {
                        self.at(p.span(), key, e.to_string())
                    })
            })
            .transpose()
    }

    /// A duration such as `"3s"` or `"500ms"` under `key`, or `default` when it is absent.
    fn duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, SuiteError> {
        let Some(text) = value else {
            return Ok(default);
        };
        humantime::parse_duration(text.get_ref()).map_err(|e| {
            self.at(
                text.span(),
                key,
                format!(
                    "`{}` is not a duration such as \"3s\" or \"500ms\": {e}",
                    text.get_ref()
                ),
            )
        })
    }
}

/// Turns a suite as written into a validated [`Suite`], section by section.
fn validate(
    raw: SuiteFile,
    source: &Source<'_>,
    stem: &str,
    plugins: &Plugins,
) -> Result<Suite, SuiteError> {
    let policy = source.policy(&raw.policy, "policy")?.unwrap_or_default();
    let sampling = sampling(&raw, source)?;
    let cell_timeout =
        source.duration(&raw.cell_timeout, "cell_timeout", Duration::from_secs(120))?;
    let memory_limit = match &raw.memory_limit {
        None => None,
        Some(text) => Some(parse_bytes(text.get_ref()).ok_or_else(|| {
            source.at(
                text.span(),
                "memory_limit",
                format!(
                    "`{}` is not a size such as \"512MiB\" or \"4GiB\"",
                    text.get_ref()
                ),
            )
        })?),
    };
    let profiling = profiling(&raw, source)?;
    let gate = gate(&raw, source)?;
    let claims = raw
        .claims
        .iter()
        .enumerate()
        .map(|(i, claim)| self::claim(i, claim, source))
        .collect::<Result<Vec<_>, _>>()?;
    let lists = Lists {
        plugins,
        source,
        strategy_given: strategy_params(&raw, source, plugins)?,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
    };
    let default_strategies = match &raw.strategies {
        Some(list) => lists.strategies(list, "strategies")?,
        None => vec![configure(plugins, "sequential", &lists.strategy_given)
            .map_err(|message| source.at(0..0, "strategies", message))?],
    };
    let default_workers = match &raw.workers {
        Some(list) => lists.workers(list, "workers")?,
        None => vec![1],
    };
    if raw.workloads.is_empty() {
        return Err(source.at(
            0..0,
            "workload",
            "the suite has no [[workload]] entry".to_owned(),
        ));
    }
    let groups = raw
        .workloads
        .iter()
        .enumerate()
        .map(|(i, entry)| lists.group(i, entry, &default_strategies, &default_workers))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Suite {
        name: raw.name.unwrap_or_else(|| stem.to_owned()),
        source: source.file.to_owned(),
        seed: raw.seed.unwrap_or(42),
        policy,
        sampling,
        cell_timeout,
        memory_limit,
        profiling,
        groups,
        gate,
        claims,
    })
}

/// A `[[claim]]` validated: a known kind and metric, `above` or `below`, a positive threshold,
/// sides that name a workload and a strategy, the keys its kind takes and no others, a branch
/// of the essay's rule of thumb by its words. Whether the run has the cells a claim reads is for
/// its check to say, once the run is measured.
fn claim(
    index: usize,
    raw: &RawClaim,
    source: &Source<'_>,
) -> Result<parbench_reports::claims::Claim, SuiteError> {
    use parbench_reports::claims::{Claim, Direction, Metric, Side, Test};
    let key = |field: &str| format!("claim[{index}].{field}");
    let kind = raw.kind.as_ref().map_or("ratio", |k| k.get_ref().as_str());
    // A key the claim's kind needs.
    let missing = |field: &str| {
        source.at(
            raw.name.span(),
            &key(field),
            format!("a claim of kind `{kind}` needs `{field}`"),
        )
    };
    // A key the claim's kind does not take.
    let unused = |span: Option<Range<usize>>, field: &str| match span {
        Some(span) => Err(source.at(
            span,
            &key(field),
            format!("a claim of kind `{kind}` takes no `{field}`"),
        )),
        None => Ok(()),
    };
    let side = |raw: &RawSide, field: &str| {
        for (value, part) in [(&raw.work, "work"), (&raw.strategy, "strategy")] {
            if value.get_ref().trim().is_empty() {
                return Err(source.at(
                    value.span(),
                    &key(&format!("{field}.{part}")),
                    "must name a workload and a strategy as cell ids spell them \
                     (`spin[ns_per_item=100]`, `process-pool[resident=true]`, or `*` for the \
                     best of the other strategies)"
                        .to_owned(),
                ));
            }
        }
        Ok(Side {
            work: raw.work.get_ref().trim().to_owned(),
            strategy: raw.strategy.get_ref().trim().to_owned(),
            workers: raw.workers,
            tasks: raw.tasks,
            size: raw.size,
        })
    };
    // The keys each kind takes, beside `name`, `statement`, `quoted` and `folklore`.
    let takes: &[&str] = match kind {
        "ratio" => &["metric", "numerator", "denominator", "holds", "threshold"],
        "break-even" => &["work", "workers", "holds", "threshold"],
        "teardown" => &[],
        other => {
            let span = raw.kind.as_ref().map_or(raw.name.span(), Spanned::span);
            return Err(source.at(
                span,
                &key("kind"),
                format!("unknown kind `{other}`; the kinds are ratio, break-even, teardown"),
            ));
        }
    };
    let side_span = |side: &Option<RawSide>| side.as_ref().map(|s| s.work.span());
    for (span, field) in [
        (raw.metric.as_ref().map(Spanned::span), "metric"),
        (side_span(&raw.numerator), "numerator"),
        (side_span(&raw.denominator), "denominator"),
        (raw.work.as_ref().map(Spanned::span), "work"),
        (raw.workers.as_ref().map(Spanned::span), "workers"),
        (raw.holds.as_ref().map(Spanned::span), "holds"),
        (raw.threshold.as_ref().map(Spanned::span), "threshold"),
    ] {
        if !takes.contains(&field) {
            unused(span, field)?;
        }
    }
    let test = match kind {
        "ratio" => {
            let metric = raw.metric.as_ref().ok_or_else(|| missing("metric"))?;
            let numerator = raw.numerator.as_ref().ok_or_else(|| missing("numerator"))?;
            let metric = Metric::from_name(metric.get_ref()).ok_or_else(|| {
                source.at(
                    metric.span(),
                    &key("metric"),
                    format!(
                        "unknown metric `{}`; the metrics are {}",
                        metric.get_ref(),
                        Metric::ALL.map(Metric::name).join(", ")
                    ),
                )
            })?;
            let numerator = side(numerator, "numerator")?;
            let denominator = raw
                .denominator
                .as_ref()
                .map(|d| side(d, "denominator"))
                .transpose()?;
            let best_other = |s: &Side| s.strategy == Side::BEST_OTHER;
            if best_other(&numerator) && denominator.as_ref().is_none_or(best_other) {
                return Err(source.at(
                    raw.name.span(),
                    &key("numerator.strategy"),
                    "`*` (the best of the other strategies) needs the other side to name one"
                        .to_owned(),
                ));
            }
            Test::Ratio {
                metric,
                numerator,
                denominator,
            }
        }
        "break-even" => {
            let work = raw.work.as_ref().ok_or_else(|| missing("work"))?;
            Test::BreakEven {
                work: work.get_ref().trim().to_owned(),
                workers: raw.workers.as_ref().map(|w| *w.get_ref()),
            }
        }
        // `teardown`, the one kind left.
        _ => Test::Teardown,
    };
    let direction = match (&raw.holds, &test) {
        (Some(holds), _) => Direction::from_name(holds.get_ref()).ok_or_else(|| {
            source.at(
                holds.span(),
                &key("holds"),
                format!(
                    "`{}`: a claim holds `above` or `below` its threshold",
                    holds.get_ref()
                ),
            )
        })?,
        // Tasks must be heavy enough: the finest grain keeps less than the threshold.
        (None, Test::BreakEven { .. } | Test::Teardown) => Direction::Below,
        (None, Test::Ratio { .. }) => return Err(missing("holds")),
    };
    let positive = |value: &Spanned<f64>, field: &str| {
        let v = *value.get_ref();
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(source.at(
                value.span(),
                &key(field),
                format!("must be a ratio above 0, not {v}"),
            ))
        }
    };
    let threshold = match (&raw.threshold, &test) {
        (Some(t), _) => positive(t, "threshold")?,
        (None, Test::BreakEven { .. }) => 0.9,
        (None, Test::Teardown) => 1.0,
        (None, Test::Ratio { .. }) => return Err(missing("threshold")),
    };
    let folklore = raw
        .folklore
        .as_ref()
        .map(|work| {
            let rules = parbench_reports::decide::RULES;
            rules
                .iter()
                .find(|r| r.work == work.get_ref())
                .map(|rule| rule.work.to_owned())
                .ok_or_else(|| {
                    source.at(
                        work.span(),
                        &key("folklore"),
                        format!(
                            "`{}` is no branch of the rule of thumb; the branches are {}",
                            work.get_ref(),
                            rules.map(|r| format!("\"{}\"", r.work)).join(", ")
                        ),
                    )
                })
        })
        .transpose()?;
    Ok(Claim {
        name: raw.name.get_ref().clone(),
        statement: raw
            .statement
            .clone()
            .unwrap_or_else(|| raw.name.get_ref().clone()),
        test,
        direction,
        threshold,
        quoted: raw
            .quoted
            .as_ref()
            .map(|q| positive(q, "quoted"))
            .transpose()?,
        folklore,
    })
}

/// The regression gate's thresholds (`[gate]`: `run = "5%"`, `memory = 0.1`, ...), the
/// defaults for the metrics it leaves out.
fn gate(
    raw: &SuiteFile,
    source: &Source<'_>,
) -> Result<Option<parbench_reports::Thresholds>, SuiteError> {
    use parbench_reports::compare::{parse_threshold, Metric};
    let Some(table) = &raw.gate else {
        return Ok(None);
    };
    let mut thresholds = parbench_reports::Thresholds::default();
    for (key, value) in table {
        let metric = Metric::from_name(key).ok_or_else(|| {
            source.at(
                value.span(),
                &format!("gate.{key}"),
                format!(
                    "unknown metric; the metrics are {}",
                    Metric::ALL.map(Metric::name).join(", ")
                ),
            )
        })?;
        let text = match value.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Integer(i) => i.to_string(),
            other => other.to_string(),
        };
        let threshold = parse_threshold(&text)
            .map_err(|message| source.at(value.span(), &format!("gate.{key}"), message))?;
        metric.set_threshold(&mut thresholds, threshold);
    }
    Ok(Some(thresholds))
}

/// The sampling settings: `warmup`, `samples`, `processes`, `max_processes`, `ci_target`,
/// `time_budget`, `budget`.
fn sampling(raw: &SuiteFile, source: &Source<'_>) -> Result<Sampling, SuiteError> {
    let defaults = Sampling::default();
    if let Some(gone) = &raw.max_samples {
        return Err(source.at(
            gone.span(),
            "max_samples",
            "a cell's samples now come from several processes: `samples` is per process, and \
             `processes` and `max_processes` bound how many processes a cell gets"
                .to_owned(),
        ));
    }
    let at_least_one = |value: &Option<Spanned<usize>>, key: &str, default: usize| match value {
        None => Ok(default),
        Some(n) if *n.get_ref() >= 1 => Ok(*n.get_ref()),
        Some(n) => Err(source.at(n.span(), key, "must be at least 1".to_owned())),
    };
    let samples = at_least_one(&raw.samples, "samples", defaults.samples)?;
    let processes = at_least_one(&raw.processes, "processes", defaults.processes)?;
    let max_processes = match &raw.max_processes {
        None => defaults.max_processes.max(processes),
        Some(n) if *n.get_ref() >= processes => *n.get_ref(),
        Some(n) => {
            return Err(source.at(
                n.span(),
                "max_processes",
                format!("must be at least `processes` ({processes})"),
            ))
        }
    };
    let ci_target = match &raw.ci_target {
        None => defaults.ci_target,
        Some(t) if *t.get_ref() > 0.0 && *t.get_ref() < 1.0 => *t.get_ref(),
        Some(t) => {
            return Err(source.at(
                t.span(),
                "ci_target",
                format!(
                    "must be a fraction of the median between 0 and 1 (0.02 is ±2%), not {}",
                    t.get_ref()
                ),
            ))
        }
    };
    let budget = match &raw.budget {
        None => None,
        Some(_) => Some(source.duration(&raw.budget, "budget", Duration::ZERO)?),
    };
    Ok(Sampling {
        warmup: raw.warmup.unwrap_or(defaults.warmup),
        samples,
        processes,
        max_processes,
        ci_target,
        time_budget: source.duration(&raw.time_budget, "time_budget", defaults.time_budget)?,
        budget,
    })
}

/// The profiling settings: `profile_hz`, `profile_samples`, `profile_time`.
fn profiling(raw: &SuiteFile, source: &Source<'_>) -> Result<Profiling, SuiteError> {
    let defaults = Profiling::default();
    Ok(Profiling {
        frequency: match &raw.profile_hz {
            None => defaults.frequency,
            Some(hz) if (1..=10_000).contains(hz.get_ref()) => *hz.get_ref(),
            Some(hz) => {
                return Err(source.at(
                    hz.span(),
                    "profile_hz",
                    format!(
                        "must be between 1 and 10000 samples per second, not {}",
                        hz.get_ref()
                    ),
                ))
            }
        },
        samples: match &raw.profile_samples {
            None => defaults.samples,
            Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
            Some(n) => {
                return Err(source.at(n.span(), "profile_samples", "must be at least 1".to_owned()))
            }
        },
        time: source.duration(&raw.profile_time, "profile_time", defaults.time)?,
    })
}

/// Suite-wide strategy parameters (`[strategy_params.NAME]`), which a `strategies` entry's own
/// (`name[k=v]`) override.
fn strategy_params(
    raw: &SuiteFile,
    source: &Source<'_>,
    plugins: &Plugins,
) -> Result<BTreeMap<&'static str, BTreeMap<String, Value>>, SuiteError> {
    let mut given_by_strategy = BTreeMap::new();
    let Some(table) = &raw.strategy_params else {
        return Ok(given_by_strategy);
    };
    for (name, value) in table.get_ref() {
        let key = format!("strategy_params.{name}");
        let spec = plugins
            .strategies
            .get(name)
            .map_err(|e| source.at(table.span(), &key, e.to_string()))?;
        let toml::Value::Table(values) = value else {
            return Err(source.at(
                table.span(),
                &key,
                "expected a table of parameters".to_owned(),
            ));
        };
        let given = values
            .iter()
            .map(|(k, v)| {
                param_value(v)
                    .map(|v| (k.clone(), v))
                    .map_err(|m| source.at(table.span(), &format!("{key}.{k}"), m))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Params::resolve(spec.name, spec.params, &given)
            .map_err(|e| source.at(table.span(), &key, e.to_string()))?;
        given_by_strategy.insert(spec.name, given);
    }
    Ok(given_by_strategy)
}

/// What validating the lists of a suite (strategies, workers, workload entries) needs.
struct Lists<'a> {
    plugins: &'a Plugins,
    source: &'a Source<'a>,
    strategy_given: BTreeMap<&'static str, BTreeMap<String, Value>>,
    cores: usize,
}

impl Lists<'_> {
    fn strategies(
        &self,
        list: &Spanned<Vec<String>>,
        key: &str,
    ) -> Result<Vec<Configured>, SuiteError> {
        if list.get_ref().is_empty() {
            return Err(self
                .source
                .at(list.span(), key, "lists no strategy".to_owned()));
        }
        list.get_ref()
            .iter()
            .map(|entry| {
                configure(self.plugins, entry, &self.strategy_given)
                    .map_err(|message| self.source.at(list.span(), key, message))
            })
            .collect()
    }

    fn workers(&self, list: &Spanned<Counts>, key: &str) -> Result<Vec<usize>, SuiteError> {
        let w = list
            .get_ref()
            .expand(self.cores)
            .map_err(|e| self.source.at(list.span(), key, e))?;
        if w.is_empty() || w.contains(&0) {
            return Err(self.source.at(
                list.span(),
                key,
                "worker counts must be at least 1".to_owned(),
            ));
        }
        Ok(w)
    }

    /// The `i`-th `[[workload]]` entry.
    fn group(
        &self,
        i: usize,
        entry: &RawWorkload,
        default_strategies: &[Configured],
        default_workers: &[usize],
    ) -> Result<Group, SuiteError> {
        let at = |span: Range<usize>, k: &str, message: String| {
            self.source.at(span, &format!("workload[{i}].{k}"), message)
        };
        let spec = *self
            .plugins
            .workloads
            .get(entry.name.get_ref())
            .map_err(|e| at(entry.name.span(), "name", e.to_string()))?;
        let params = match &entry.params {
            None => spec.resolve(&BTreeMap::new()),
            Some(table) => {
                let given = table
                    .get_ref()
                    .iter()
                    .map(|(k, v)| {
                        param_value(v)
                            .map(|v| (k.clone(), v))
                            .map_err(|m| at(table.span(), &format!("params.{k}"), m))
                    })
                    .collect::<Result<BTreeMap<_, _>, _>>()?;
                spec.resolve(&given)
            }
        }
        .map_err(|e| {
            let span = entry
                .params
                .as_ref()
                .map_or(entry.name.span(), |p| p.span());
            at(span, "params", e.to_string())
        })?;
        let sizes = match &entry.sizes {
            None => vec![spec.default_size],
            Some(s) if s.get_ref().is_empty() || s.get_ref().contains(&0) => {
                return Err(at(s.span(), "sizes", "sizes must be at least 1".to_owned()))
            }
            Some(s) => s.get_ref().clone(),
        };
        let tasks = match &entry.tasks {
            None => vec![1],
            Some(t) => {
                let counts = t
                    .get_ref()
                    .expand(self.cores)
                    .map_err(|e| at(t.span(), "tasks", e))?;
                for &size in &sizes {
                    for &count in &counts {
                        plan_tasks(size, count)
                            .map_err(|e| at(t.span(), "tasks", e.to_string()))?;
                    }
                }
                if counts.is_empty() {
                    return Err(at(t.span(), "tasks", "lists no task count".to_owned()));
                }
                counts
            }
        };
        Ok(Group {
            workload: spec,
            params,
            sizes,
            tasks,
            strategies: match &entry.strategies {
                Some(list) => self.strategies(list, &format!("workload[{i}].strategies"))?,
                None => default_strategies.to_vec(),
            },
            workers: match &entry.workers {
                Some(list) => self.workers(list, &format!("workload[{i}].workers"))?,
                None => default_workers.to_vec(),
            },
            policy: self
                .source
                .policy(&entry.policy, &format!("workload[{i}].policy"))?,
        })
    }
}

/// A value of a built suite: no position in any text.
fn unplaced<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

/// Builds a [`Suite`] in code, key by key as a suite file writes them; [`SuiteBuilder::build`]
/// validates it exactly as a file is validated. Made by [`Suite::builder`].
pub struct SuiteBuilder {
    raw: SuiteFile,
}

impl SuiteBuilder {
    /// The seed every input is generated from (default 42).
    pub fn seed(mut self, seed: u64) -> Self {
        self.raw.seed = Some(seed);
        self
    }

    /// The failure policy of every cell (default: collect).
    pub fn policy(mut self, policy: FailurePolicy) -> Self {
        self.raw.policy = Some(unplaced(policy.to_string()));
        self
    }

    /// The strategies of every workload entry that does not name its own: `name` or
    /// `name[key=value,...]` (default: sequential).
    pub fn strategies<S: Into<String>>(mut self, strategies: impl IntoIterator<Item = S>) -> Self {
        self.raw.strategies = Some(unplaced(strategies.into_iter().map(Into::into).collect()));
        self
    }

    /// The worker counts of every workload entry that does not name its own (default: 1).
    pub fn workers(mut self, workers: impl IntoIterator<Item = usize>) -> Self {
        self.raw.workers = Some(unplaced(Counts::List(workers.into_iter().collect())));
        self
    }

    /// A parameter of a strategy, for every cell it runs (`[strategy_params.NAME]`).
    pub fn strategy_param(mut self, strategy: &str, key: &str, value: impl Into<Value>) -> Self {
        let table = self
            .raw
            .strategy_params
            .get_or_insert_with(|| unplaced(toml::Table::new()))
            .get_mut()
            .entry(strategy)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(table) = table {
            table.insert(key.to_owned(), toml_value(value.into()));
        }
        self
    }

    /// Untimed samples before the timed ones, in every process (default 1).
    pub fn warmup(mut self, samples: usize) -> Self {
        self.raw.warmup = Some(samples);
        self
    }

    /// Timed samples per process, at most (default 3).
    pub fn samples(mut self, samples: usize) -> Self {
        self.raw.samples = Some(unplaced(samples));
        self
    }

    /// Processes every cell is measured in (default 3): the minimum rounds.
    pub fn processes(mut self, processes: usize) -> Self {
        self.raw.processes = Some(unplaced(processes));
        self
    }

    /// Processes no cell exceeds (default 20).
    pub fn max_processes(mut self, processes: usize) -> Self {
        self.raw.max_processes = Some(unplaced(processes));
        self
    }

    /// The median's 95% interval to reach, relative to it (default 0.02: ±2%).
    pub fn ci_target(mut self, target: f64) -> Self {
        self.raw.ci_target = Some(unplaced(target));
        self
    }

    /// How long a cell's minimum processes may sample together (default 3 s): each takes its
    /// share.
    pub fn time_budget(mut self, budget: Duration) -> Self {
        self.raw.time_budget = Some(unplaced(humantime::format_duration(budget).to_string()));
        self
    }

    /// How long the run may last before no process starts beyond the minimum rounds (default:
    /// no limit).
    pub fn budget(mut self, budget: Duration) -> Self {
        self.raw.budget = Some(unplaced(humantime::format_duration(budget).to_string()));
        self
    }

    /// Wall time after which a cell's processes are killed (default 120 s).
    pub fn cell_timeout(mut self, timeout: Duration) -> Self {
        self.raw.cell_timeout = Some(unplaced(humantime::format_duration(timeout).to_string()));
        self
    }

    /// Resident memory a cell's processes may hold together, in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.raw.memory_limit = Some(unplaced(bytes.to_string()));
        self
    }

    /// The profiler's sampling rate per second of CPU time (default 997).
    pub fn profile_hz(mut self, hz: u32) -> Self {
        self.raw.profile_hz = Some(unplaced(hz));
        self
    }

    /// Samples a cell's profile aims for (default 100).
    pub fn profile_samples(mut self, samples: u64) -> Self {
        self.raw.profile_samples = Some(unplaced(samples));
        self
    }

    /// The longest a cell's profiled runs take together (default 1 s).
    pub fn profile_time(mut self, time: Duration) -> Self {
        self.raw.profile_time = Some(unplaced(humantime::format_duration(time).to_string()));
        self
    }

    /// A `[[workload]]` entry.
    pub fn workload(mut self, entry: WorkloadEntry) -> Self {
        self.raw.workloads.push(entry.raw);
        self
    }

    /// Validates the suite against `plugins`, with the errors a suite file would get (they
    /// name the key, as `builder:NAME: key: message`).
    pub fn build(self, plugins: &Plugins) -> Result<Suite, SuiteError> {
        let name = self.raw.name.clone().unwrap_or_default();
        let file = format!("builder:{name}");
        validate(
            self.raw,
            &Source {
                file: &file,
                text: None,
            },
            &name,
            plugins,
        )
    }
}

/// One `[[workload]]` entry of a [`SuiteBuilder`]: a workload by name, its parameters and the
/// grid to measure it on.
///
/// ```
/// use parbench::WorkloadEntry;
///
/// let http = WorkloadEntry::new("http")
///     .param("latency_ms", 2u64)
///     .sizes([400])
///     .tasks_sweep("1..=100 x10")
///     .strategies(["sequential", "tokio"]);
/// # let _ = http;
/// ```
pub struct WorkloadEntry {
    raw: RawWorkload,
}

impl WorkloadEntry {
    /// The workload registered as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            raw: RawWorkload {
                name: unplaced(name.into()),
                params: None,
                sizes: None,
                tasks: None,
                strategies: None,
                workers: None,
                policy: None,
            },
        }
    }

    /// A parameter of the workload.
    pub fn param(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.raw
            .params
            .get_or_insert_with(|| unplaced(toml::Table::new()))
            .get_mut()
            .insert(key.to_owned(), toml_value(value.into()));
        self
    }

    /// Input sizes, in items (default: the workload's default size).
    pub fn sizes(mut self, sizes: impl IntoIterator<Item = usize>) -> Self {
        self.raw.sizes = Some(unplaced(sizes.into_iter().collect()));
        self
    }

    /// Task counts (default: 1).
    pub fn tasks(mut self, tasks: impl IntoIterator<Item = usize>) -> Self {
        self.raw.tasks = Some(unplaced(Counts::List(tasks.into_iter().collect())));
        self
    }

    /// Task counts as a sweep: `A..=B`, `A..=B xF` or `A..=B +S` (`A`, `B` may be `cores`).
    pub fn tasks_sweep(mut self, sweep: &str) -> Self {
        self.raw.tasks = Some(unplaced(Counts::Sweep(sweep.to_owned())));
        self
    }

    /// This entry's own strategies.
    pub fn strategies<S: Into<String>>(mut self, strategies: impl IntoIterator<Item = S>) -> Self {
        self.raw.strategies = Some(unplaced(strategies.into_iter().map(Into::into).collect()));
        self
    }

    /// This entry's own worker counts.
    pub fn workers(mut self, workers: impl IntoIterator<Item = usize>) -> Self {
        self.raw.workers = Some(unplaced(Counts::List(workers.into_iter().collect())));
        self
    }

    /// This entry's own failure policy; its cells' ids name it (`risky[policy=fail-fast]/…`).
    pub fn policy(mut self, policy: FailurePolicy) -> Self {
        self.raw.policy = Some(unplaced(policy.to_string()));
        self
    }

    /// The workload's registered name.
    pub(crate) fn name(&self) -> &str {
        self.raw.name.get_ref()
    }

    /// Whether the entry names its own strategies.
    pub(crate) fn has_strategies(&self) -> bool {
        self.raw.strategies.is_some()
    }
}

/// A parameter value as TOML writes it.
fn toml_value(value: Value) -> toml::Value {
    match value {
        // Beyond TOML's integers: as text, so that validation names the value given.
        Value::Int(i) => i64::try_from(i)
            .map_or_else(|_| toml::Value::String(i.to_string()), toml::Value::Integer),
        Value::Float(f) => toml::Value::Float(f),
        Value::Text(t) => toml::Value::String(t),
    }
}

/// A size in bytes: a number with an optional unit, binary (`KiB`, `MiB`, `GiB`, `TiB`) or
/// decimal (`kB`, `MB`, `GB`, `TB`).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    let bytes = number * scale;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

fn param_value(value: &toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::Integer(i) if *i >= 0 => Ok(Value::Int(*i as u64)),
        toml::Value::Float(f) => Ok(Value::Float(*f)),
        toml::Value::String(s) => Ok(Value::Text(s.clone())),
        other => Err(format!(
            "expected a non-negative number or a string, got {other}"
        )),
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// 1-based column (in characters) of a byte offset.
fn column_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[start..offset].chars().count() + 1
}

/// The key written at the start of the line holding `offset` (`key = value`), for errors the
/// TOML parser reports by position only.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => line.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Suite, SuiteError> {
        Suite::parse(text, "bench.toml", "bench", &Plugins::default())
    }

    #[test]
    fn the_embedded_suite_is_valid_and_covers_every_builtin_workload() {
        let suite = Suite::embedded(&Plugins::default()).unwrap();
        let names: Vec<_> = suite.groups.iter().map(|g| g.workload.name).collect();
        assert_eq!(
            names,
            ["square", "resize", "json", "http", "risky", "kmeans", "spin"]
        );
        // Two granularities or more each, and spin's sweep from 1 to 10,000 tasks.
        assert!(suite.groups.iter().all(|g| g.tasks.len() >= 2));
        assert_eq!(suite.groups[6].tasks, [1, 10, 100, 1000, 10_000]);
        // k-means under every strategy, process-pool with its items resident too.
        assert_eq!(suite.groups[5].strategies.len(), 11);
        // Several processes a cell, within five minutes.
        assert_eq!(suite.sampling.processes, 3);
        assert!(suite.sampling.budget.is_some_and(|b| b.as_secs() < 300));
    }

    #[test]
    fn the_decide_suite_spans_the_design_space_within_ten_minutes() {
        let suite = Suite::find("decide".as_ref(), &Plugins::default()).unwrap();
        assert_eq!(
            (suite.name.as_str(), suite.source.as_str()),
            ("decide", "embedded:decide")
        );
        let tasks: Vec<usize> = suite.groups.iter().flat_map(|g| g.tasks.clone()).collect();
        assert_eq!(
            (tasks.iter().min(), tasks.iter().max()),
            (Some(&1), Some(&10_000))
        );
        // Every built-in workload but `risky` (failures are not a shape of work).
        let mut names: Vec<_> = suite.groups.iter().map(|g| g.workload.name).collect();
        names.dedup();
        assert_eq!(
            names,
            ["spin", "kmeans", "square", "resize", "json", "http"]
        );
        // Rounds and the size of the state they exchange are axes.
        let kmeans: Vec<_> = suite
            .groups
            .iter()
            .filter(|g| g.workload.name == "kmeans")
            .map(|g| (g.params.int("rounds"), g.params.int("k")))
            .collect();
        assert_eq!(kmeans, [(5, 16), (40, 16), (5, 256)]);
        // Every built-in strategy on all the cores, `timely` on threads.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(suite.groups.iter().all(|g| g.workers == [cores]));
        assert!(suite.groups.iter().all(|g| g.strategies.len() >= 9));
        // 7 minutes of sampling leave room for the flame graphs within ten.
        assert!(suite.sampling.budget.is_some_and(|b| b.as_secs() <= 420));
        let err = Suite::named("decid", &Plugins::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "embedded:decid: no embedded suite `decid`: default, decide, claims"
        );
    }

    #[test]
    fn every_claim_of_the_claims_suite_reads_cells_the_suite_measures() {
        use parbench_reports::claims::{Side, Test};
        let suite = Suite::named("claims", &Plugins::default()).unwrap();
        assert_eq!(suite.claims.len(), 13);
        let ids = crate::runner::cell_ids(&suite, None);
        // A side's cells, as `Side::find` will select them once measured.
        let cells_of = |side: &Side| -> Vec<&String> {
            ids.iter()
                .filter(|id| id.starts_with(&format!("{}/size=", side.work)))
                .filter(|id| {
                    side.size
                        .is_none_or(|s| id.contains(&format!("/size={s}/")))
                })
                .filter(|id| {
                    side.tasks
                        .is_none_or(|t| id.contains(&format!("/tasks={t}/")))
                })
                .filter(|id| {
                    side.strategy == Side::BEST_OTHER
                        || id.ends_with(&format!("/{}/w1", side.strategy))
                        || id.ends_with(&format!("/{}/w2", side.strategy))
                })
                .collect()
        };
        for claim in &suite.claims {
            match &claim.test {
                Test::Ratio {
                    numerator,
                    denominator,
                    ..
                } => {
                    for side in std::iter::once(numerator).chain(denominator) {
                        let cells = cells_of(side);
                        assert!(
                            !cells.is_empty()
                                && (side.strategy == Side::BEST_OTHER || cells.len() == 1),
                            "{}: {side}: {cells:?}",
                            claim.name
                        );
                    }
                }
                Test::BreakEven { work, .. } => {
                    let grains = ids
                        .iter()
                        .filter(|id| id.starts_with(&format!("{work}/size=")))
                        .filter(|id| id.ends_with("/sequential/w1"))
                        .count();
                    assert_eq!(grains, 9, "{}", claim.name);
                }
                Test::Teardown => {}
            }
        }
        // Three policies of one workload, told apart by their cells' ids.
        let risky: Vec<String> = suite
            .groups
            .iter()
            .filter(|g| g.workload.name == "risky")
            .map(|g| g.policy_in(&suite).to_string())
            .collect();
        assert_eq!(risky, ["collect", "fail-fast", "retry(2)"]);
        // 7 minutes of sampling leave room for the flame graphs within ten.
        assert!(suite.sampling.budget.is_some_and(|b| b.as_secs() <= 420));
    }

    /// A shipped suite with one edit at line `line` (counted around the file): the line
    /// deleted, doubled, cut at `cut` bytes, or its value after `=` replaced with `value`.
    fn edited(text: &str, line: usize, edit: u8, cut: usize, value: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let at = line % lines.len();
        match edit % 4 {
            0 => {
                lines.remove(at);
            }
            1 => lines.insert(at, lines[at].clone()),
            2 => {
                let kept: String = lines[at].chars().take(cut).collect();
                lines[at] = kept;
            }
            _ => {
                if let Some((key, _)) = lines[at].split_once('=') {
                    lines[at] = format!("{key}= {value}");
                }
            }
        }
        lines.join("\n")
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 1_000,
            rng_seed: proptest::test_runner::RngSeed::Fixed(20261207),
            ..proptest::test_runner::Config::default()
        })]

        /// Any text, and any edit of a shipped suite, parses or is an error that points into
        /// the file: never a panic.
        #[test]
        fn any_suite_text_parses_or_is_located_never_a_panic(
            suite in 0usize..9,
            edits in proptest::collection::vec(
                (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0usize..40, "[a-z0-9\"\\[\\]{}=., -]{0,16}"),
                1..4,
            ),
            noise in "\\PC{0,200}",
        ) {
            use proptest::prop_assert;
            let shipped = [
                include_str!("../suites/claims.toml"),
                include_str!("../suites/compare.toml"),
                include_str!("../suites/dataflow.toml"),
                include_str!("../suites/decide.toml"),
                include_str!("../suites/default.toml"),
                include_str!("../suites/dispatch.toml"),
                include_str!("../suites/gate.toml"),
                include_str!("../suites/processes.toml"),
                include_str!("../suites/rounds.toml"),
            ];
            let mut text = shipped[suite].to_owned();
            for (line, edit, cut, value) in &edits {
                text = edited(&text, *line, *edit, *cut, value);
            }
            for candidate in [text.as_str(), noise.as_str()] {
                if let Err(e) = parse(candidate) {
                    let lines = candidate.lines().count().max(1);
                    prop_assert!(
                        e.line.is_none_or(|l| (1..=lines + 1).contains(&l)),
                        "line {:?} of {lines}: {e}",
                        e.line
                    );
                    prop_assert!(!e.message.is_empty(), "{e}");
                }
            }
        }
    }

    #[test]
    fn the_shipped_suites_are_valid() {
        // Every suite shipped in `suites/`, each named as its file and measuring something.
        let shipped = [
            ("claims", include_str!("../suites/claims.toml")),
            ("compare", include_str!("../suites/compare.toml")),
            ("dataflow", include_str!("../suites/dataflow.toml")),
            ("decide", include_str!("../suites/decide.toml")),
            ("default", include_str!("../suites/default.toml")),
            ("dispatch", include_str!("../suites/dispatch.toml")),
            ("gate", include_str!("../suites/gate.toml")),
            ("processes", include_str!("../suites/processes.toml")),
            ("rounds", include_str!("../suites/rounds.toml")),
        ];
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/suites"))
            .unwrap()
            .count();
        assert_eq!(files, shipped.len(), "a suite file is not checked here");
        for (name, text) in shipped {
            let suite = parse(text).unwrap_or_else(|e| panic!("{name}.toml: {e}"));
            assert_eq!(suite.name, name);
            assert!(
                suite.groups.iter().all(|g| !g.strategies.is_empty()),
                "{name}"
            );
        }
        let dispatch = parse(include_str!("../suites/dispatch.toml")).unwrap();
        assert_eq!(dispatch.groups[1].tasks, [10_000]);
        assert_eq!(dispatch.groups[0].strategies.len(), 6);
        let rounds = parse(include_str!("../suites/rounds.toml")).unwrap();
        let group = &rounds.groups[0];
        assert_eq!(
            (
                group.params.int("dims"),
                group.params.int("k"),
                group.params.int("rounds")
            ),
            (8, 16, 20)
        );
        assert_eq!(
            (group.sizes.as_slice(), group.strategies.len()),
            (&[200_000][..], 11)
        );
    }

    #[test]
    fn reads_every_key_with_defaults() {
        let suite = parse(
            "seed = 7\npolicy = \"retry(2)\"\n[[workload]]\nname = \"http\"\nparams = { latency_ms = 3 }\nsizes = [10, 20]\ntasks = [1, 10]\n",
        )
        .unwrap();
        assert_eq!(suite.name, "bench");
        assert_eq!(suite.seed, 7);
        assert_eq!(suite.policy, FailurePolicy::Retry(2));
        let group = &suite.groups[0];
        assert_eq!(group.params.int("latency_ms"), 3);
        assert_eq!(group.params.int("body_bytes"), 1024);
        assert_eq!(group.sizes, [10, 20]);
        assert_eq!(group.strategies[0].spec.name, "sequential");
        assert_eq!(group.workers, [1]);
    }

    #[test]
    fn a_workload_measured_under_its_own_policy_names_it_in_its_cells_ids() {
        let suite = parse(
            "policy = \"collect\"\nstrategies = [\"threads\"]\nworkers = [2]\n\
             [[workload]]\nname = \"risky\"\ntasks = [8]\n\
             [[workload]]\nname = \"risky\"\ntasks = [8]\npolicy = \"fail-fast\"\n\
             [[workload]]\nname = \"risky\"\nparams = { fail_attempts = 1 }\ntasks = [8]\npolicy = \"retry(2)\"\n",
        )
        .unwrap();
        let policies: Vec<FailurePolicy> =
            suite.groups.iter().map(|g| g.policy_in(&suite)).collect();
        assert_eq!(
            policies,
            [
                FailurePolicy::Collect,
                FailurePolicy::FailFast,
                FailurePolicy::Retry(2)
            ]
        );
        assert_eq!(
            crate::runner::cell_ids(&suite, None),
            [
                "risky/size=100000/tasks=8/threads/w2",
                "risky[policy=fail-fast]/size=100000/tasks=8/threads/w2",
                "risky[fail_attempts=1,policy=retry(2)]/size=100000/tasks=8/threads/w2",
            ]
        );
        let err = parse("[[workload]]\nname = \"risky\"\npolicy = \"never\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:3:10: workload[0].policy: invalid failure policy `never`: expected collect, \
             fail-fast or retry(N)"
        );
    }

    #[test]
    fn strategy_parameters_are_validated() {
        let suite = parse(
            "strategies = [\"tokio\", \"rayon\", \"tokio[cpu=block-in-place]\", \"tokio[in_flight=2]\"]\n\
             [strategy_params.tokio]\nin_flight = 8\n[[workload]]\nname = \"square\"\n",
        )
        .unwrap();
        let strategies = &suite.groups[0].strategies;
        let [tokio, rayon, in_place, two] = [0, 1, 2, 3].map(|i| &strategies[i]);
        assert_eq!(tokio.spec.name, "tokio");
        assert_eq!(tokio.params.int("in_flight"), 8);
        assert!(rayon.params.is_empty());
        // An entry's own parameters go over the suite-wide ones.
        assert_eq!(
            (
                in_place.params.int("in_flight"),
                in_place.params.text("cpu")
            ),
            (8, "block-in-place")
        );
        assert_eq!(two.params.int("in_flight"), 2);
        let err = parse("strategies = [\"tokio[in_fligth=2]\"]\n[[workload]]\nname = \"square\"\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:14: strategies: `tokio[in_fligth=2]`: `tokio` has no parameter \
             `in_fligth`; valid: in_flight, cpu, blocking"
        );
        let err =
            parse("[strategy_params.tokio]\nin_flight = 0\n[[workload]]\nname = \"square\"\n")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:2: strategy_params.tokio: parameter `in_flight` of `tokio` must be in \
             1..=100000, got 0"
        );
    }

    const CLAIM: &str = "[[workload]]\nname = \"square\"\n\n[[claim]]\nname = \"pool\"\n\
        statement = \"a pool of processes beats the loop\"\nmetric = \"run-time\"\n\
        numerator = { work = \"square\", strategy = \"sequential\" }\n\
        denominator = { work = \"square\", strategy = \"process-pool\", workers = 2, tasks = 64 }\n\
        holds = \"above\"\nthreshold = 1.0\nquoted = 3.97\n";

    #[test]
    fn a_claim_is_read_with_its_sides() {
        use parbench_reports::claims::{Direction, Metric, Side, Test};
        let suite = parse(CLAIM).unwrap();
        let claim = &suite.claims[0];
        assert_eq!(
            (claim.name.as_str(), claim.statement.as_str()),
            ("pool", "a pool of processes beats the loop")
        );
        assert_eq!(
            (
                claim.direction,
                claim.threshold,
                claim.quoted,
                claim.folklore.as_deref()
            ),
            (Direction::Above, 1.0, Some(3.97), None)
        );
        assert_eq!(
            claim.test,
            Test::Ratio {
                metric: Metric::RunTime,
                numerator: Side {
                    work: "square".into(),
                    strategy: "sequential".into(),
                    workers: None,
                    tasks: None,
                    size: None,
                },
                denominator: Some(Side {
                    work: "square".into(),
                    strategy: "process-pool".into(),
                    workers: Some(2),
                    tasks: Some(64),
                    size: None,
                }),
            }
        );
        // The other kinds, with their defaults: below 0.9 of the coarse speedup; no process.
        let suite = parse(
            "[[workload]]\nname = \"spin\"\n[[claim]]\nname = \"grain\"\nkind = \"break-even\"\n\
             work = \"spin\"\nworkers = 2\n[[claim]]\nname = \"zombies\"\nkind = \"teardown\"\n\
             folklore = \"iterative algorithms with shared state\"\n",
        )
        .unwrap();
        let [grain, zombies] = &suite.claims[..] else {
            panic!("{:?}", suite.claims)
        };
        assert_eq!(
            (&grain.test, grain.direction, grain.threshold),
            (
                &Test::BreakEven {
                    work: "spin".into(),
                    workers: Some(2)
                },
                Direction::Below,
                0.9
            )
        );
        assert_eq!(
            (&zombies.test, zombies.folklore.as_deref()),
            (
                &Test::Teardown,
                Some("iterative algorithms with shared state")
            )
        );
    }

    #[test]
    fn a_malformed_claim_names_the_file_line_and_key() {
        let err = parse(&CLAIM.replace("\"run-time\"", "\"speed\"")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:7:10: claim[0].metric: unknown metric `speed`; the metrics are \
             run-time, end-to-end, round-time, peak-memory, bytes-moved, throughput, \
             overhead-share, tasks-kept"
        );
        let err = parse(&CLAIM.replace("metric = \"run-time\"\n", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:5:8: claim[0].metric: a claim of kind `ratio` needs `metric`"
        );
        let err = parse(&CLAIM.replace("metric = ", "kind = \"grain\"\nmetric = ")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:7:8: claim[0].kind: unknown kind `grain`; the kinds are ratio, \
             break-even, teardown"
        );
        let err = parse(&CLAIM.replace("metric = ", "kind = \"teardown\"\nmetric = ")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:8:10: claim[0].metric: a claim of kind `teardown` takes no `metric`"
        );
        // A side where the kind takes none is named by its own key, at its `work`.
        let err = parse(
            "[[workload]]\nname = \"spin\"\n[[claim]]\nname = \"grain\"\nkind = \"break-even\"\n\
             work = \"spin\"\ndenominator = { work = \"spin\", strategy = \"rayon\" }\n",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:7:24: claim[0].denominator: a claim of kind `break-even` takes no \
             `denominator`"
        );
        let err = parse(&CLAIM.replace("quoted", "folklore = \"threads\"\nquoted")).unwrap_err();
        assert_eq!(
            (err.line, err.key.as_deref()),
            (Some(12), Some("claim[0].folklore"))
        );
        assert!(
            err.message.starts_with(
                "`threads` is no branch of the rule of thumb; the branches are \"CPU-intensive \
                 work on small data\""
            ),
            "{err}"
        );
        let err = parse(
            &CLAIM
                .replace("\"sequential\"", "\"*\"")
                .replace("\"process-pool\"", "\"*\""),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:5:8: claim[0].numerator.strategy: `*` (the best of the other strategies) \
             needs the other side to name one"
        );
        let err = parse(&CLAIM.replace("\"above\"", "\"over\"")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:10:9: claim[0].holds: `over`: a claim holds `above` or `below` its \
             threshold"
        );
        let err = parse(&CLAIM.replace("threshold = 1.0", "threshold = -1.0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:11:13: claim[0].threshold: must be a ratio above 0, not -1"
        );
        let err =
            parse(&CLAIM.replace("strategy = \"sequential\"", "strategy = \" \"")).unwrap_err();
        assert_eq!(
            (err.line, err.key.as_deref()),
            (Some(8), Some("claim[0].numerator.strategy"))
        );
        let err = parse(&CLAIM.replace("tasks = 64", "task = 64")).unwrap_err();
        assert_eq!(err.line, Some(9), "{err}");
        assert!(err.message.contains("unknown field `task`"), "{err}");
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let err = parse("[[workload]]\nname = \"square\"\nsizez = [1]\n").unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.line, err.key.as_deref()),
            ("bench.toml", Some(3), Some("sizez"))
        );
        assert!(err.message.contains("unknown field `sizez`"), "{err}");

        let err = parse("[[workload]]\nname = \"sqare\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:2:8: workload[0].name: unknown workload `sqare`; valid workloads: \
             square, resize, json, http, risky, spin, kmeans"
        );

        let err = parse("[[workload]]\nname = \"http\"\n\nparams = { latency_ms = 100000 }\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:4:10: workload[0].params: parameter `latency_ms` of `http` must be in \
             0..=60000, got 100000"
        );

        let err =
            parse("strategies = [\"rayonn\"]\n[[workload]]\nname = \"square\"\n").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "bench.toml:1:14: strategies: unknown strategy `rayonn`; valid strategies: sequential"
            ),
            "{err}"
        );

        let err = parse("[[workload]]\nname = \"square\"\nsizes = [5]\ntasks = [6]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:4:9: workload[0].tasks: cannot split 5 items into 6 tasks: tasks must be in 1..=5"
        );

        let err = parse("policy = \"sometimes\"\n[[workload]]\nname = \"square\"\n").unwrap_err();
        assert_eq!(err.to_string(), "bench.toml:1:10: policy: invalid failure policy `sometimes`: expected collect, fail-fast or retry(N)");

        let err = parse("").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:1: workload: the suite has no [[workload]] entry"
        );

        let err = parse("seed = \n").unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(1), Some("seed")));
        // The column points at the value at fault.
        let err =
            parse("name = \"ü\"\nworkers = [0]\n[[workload]]\nname = \"square\"\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(11)));
    }

    #[test]
    fn counts_are_lists_or_sweeps() {
        assert_eq!(
            sweep("1..=100000 x10", 2).unwrap(),
            [1, 10, 100, 1000, 10_000, 100_000]
        );
        assert_eq!(sweep("1..=cores", 4).unwrap(), [1, 2, 3, 4]);
        assert_eq!(sweep("2..=9 +3", 4).unwrap(), [2, 5, 8]);
        assert_eq!(sweep("3..=20 x2", 4).unwrap(), [3, 6, 12]);
        assert!(sweep("0..=4", 4).is_err());
        assert!(sweep("4..=2", 4).is_err());
        assert!(sweep("1..=8 x1", 4).is_err());
        let suite = parse(
            "workers = \"1..=cores\"\n[[workload]]\nname = \"spin\"\nsizes = [1000]\n\
             tasks = \"1..=1000 x10\"\n",
        )
        .unwrap();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(suite.groups[0].tasks, [1, 10, 100, 1000]);
        assert_eq!(suite.groups[0].workers, (1..=cores).collect::<Vec<_>>());
        let err = parse("[[workload]]\nname = \"spin\"\ntasks = \"1..10\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:3:9: workload[0].tasks: `1..10` is not a sweep: write `A..=B`, `A..=B xF` \
             or `A..=B +S` (A, B may be `cores`), or a list such as [1, 8, 64]"
        );
        let err = parse("[[workload]]\nname = \"spin\"\nsizes = [50]\ntasks = \"1..=100 x10\"\n")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot split 50 items into 100 tasks"),
            "{err}"
        );
    }

    #[test]
    fn sampling_settings_are_read_and_checked() {
        let suite = parse(
            "samples = 8\nprocesses = 4\nmax_processes = 40\nci_target = 0.05\n\
             time_budget = \"750ms\"\nbudget = \"2m\"\nwarmup = 0\n[[workload]]\nname = \"square\"\n",
        )
        .unwrap();
        assert_eq!(
            suite.sampling,
            Sampling {
                warmup: 0,
                samples: 8,
                processes: 4,
                max_processes: 40,
                ci_target: 0.05,
                time_budget: std::time::Duration::from_millis(750),
                budget: Some(std::time::Duration::from_secs(120)),
            }
        );
        assert_eq!(
            (
                suite.sampling.quick().processes,
                suite.sampling.quick().samples
            ),
            (1, 3)
        );
        // Each of the minimum processes has its share of the cell's time.
        assert_eq!(
            suite.sampling.per_process().time,
            std::time::Duration::from_micros(187_500)
        );
        let square = "\n[[workload]]\nname = \"square\"\n";
        let err = parse(&format!("ci_target = 2.0{square}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:13: ci_target: must be a fraction of the median between 0 and 1 (0.02 \
             is ±2%), not 2"
        );
        let err = parse(&format!("time_budget = \"soon\"{square}")).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "bench.toml:1:15: time_budget: `soon` is not a duration such as \"3s\" or \"500ms\""
            ),
            "{err}"
        );
        let err = parse(&format!("processes = 9\nmax_processes = 4{square}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:2:17: max_processes: must be at least `processes` (9)"
        );
        let err = parse(&format!("processes = 0{square}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:13: processes: must be at least 1"
        );
        // A suite written for one process per cell is told what replaced its key.
        let err = parse(&format!("max_samples = 100{square}")).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "bench.toml:1:15: max_samples: a cell's samples now come from several processes"
            ),
            "{err}"
        );
        let err = parse(&format!("budget = \"soon\"{square}")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bench.toml:1:10: budget: `soon` is not a duration"),
            "{err}"
        );
        let profiled = parse(&format!(
            "profile_hz = 499\nprofile_samples = 300\nprofile_time = \"3s\"{square}"
        ))
        .unwrap();
        assert_eq!(
            profiled.profiling,
            Profiling {
                frequency: 499,
                samples: 300,
                time: std::time::Duration::from_secs(3),
            }
        );
        let err = parse(&format!("profile_hz = 0{square}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bench.toml:1:14: profile_hz: must be between 1 and 10000 samples per second, not 0"
        );
    }
}
