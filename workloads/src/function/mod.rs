//! Workloads made from plain functions: a generator of items and a function of one item.
//!
//! Most work a user wants to measure is "this function over many items". [`FnWorkload`] turns
//! a generator (`Fn(size, seed) -> Vec<T>`) and a per-item function (`Fn(&T) -> U`), with an
//! optional fold into a small result, into a [`Workload`] that every strategy runs, worker
//! processes included. How items and outputs become the bytes a strategy moves is the
//! [`Codec`]:
//!
//! - [`Plain`] ([`FnWorkload::plain`]): plain-data types (`bytemuck::Pod`: numbers, arrays of
//!   them, `#[repr(C)]` structs of them). Items are read where they lie — in the input, in a
//!   shared-memory segment, in the buffer a worker received — without a copy; each output is
//!   its own bytes.
//! - [`Postcard`] ([`FnWorkload::encoded`]): any serde type. Items travel in postcard's compact
//!   encoding (as the process strategies' messages do) and are decoded in the task; each
//!   output is checked by a 16-byte fingerprint of its encoding, so outputs of any size fit the
//!   output buffer's fixed slots.
//!
//! The byte-level [`Workload`] trait stays for work that needs control over its layout.

use std::hint::black_box;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

mod asynchronous;
mod blocking;

pub use asynchronous::{Asynchronous, Connect, Drive, MissingVariable, PerItem, Services};
pub use blocking::Blocking;

use crate::{
    mix64, EnvVars, Environment, EnvironmentSpec, Input, Items, Layout, ParamSpec, Params, Partial,
    Scope, TaskContext, TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// How a function workload's items and outputs become bytes: [`Plain`] or [`Postcard`].
pub trait Codec<T, U>: Send + Sync + 'static {
    /// Bytes of output per item.
    const OUTPUT_LEN: usize;

    /// The generated items as an [`Input`].
    ///
    /// # Panics
    /// When an item cannot be encoded, or read back (a type the codec cannot carry): a bug
    /// in the workload's types, found before anything is measured.
    fn encode(workload: &str, items: Vec<T>) -> Input;

    /// Calls `f` on every item of `items`, in order.
    fn for_each(
        items: Items<'_>,
        f: impl FnMut(&T) -> Result<(), TaskError>,
    ) -> Result<(), TaskError>;

    /// The items of `items`, in order, as values of their own (what a future that outlives
    /// the task's borrow of its items needs).
    fn owned(items: Items<'_>) -> Result<Vec<T>, TaskError>;

    /// Writes `output` into its slot of [`Codec::OUTPUT_LEN`] bytes; `scratch` is a buffer
    /// the task reuses.
    fn write(output: &U, slot: &mut [u8], scratch: &mut Vec<u8>) -> Result<(), TaskError>;
}

/// Plain-data items and outputs (`bytemuck::Pod`), read and written as their own bytes.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

impl<T: bytemuck::Pod, U: bytemuck::Pod> Codec<T, U> for Plain {
    const OUTPUT_LEN: usize = std::mem::size_of::<U>();

    fn encode(_: &str, items: Vec<T>) -> Input {
        let count = items.len();
        let bytes = bytemuck::cast_slice::<T, u8>(&items).to_vec();
        Input::new(
            bytes,
            Layout::Fixed {
                len: std::mem::size_of::<T>(),
                count,
            },
        )
    }

    fn for_each(
        items: Items<'_>,
        mut f: impl FnMut(&T) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        let bytes = items.bytes();
        match bytemuck::try_cast_slice::<u8, T>(bytes) {
            // Where the items lie (every buffer parbench fills is aligned for them).
            Ok(items) => items.iter().try_for_each(f),
            // Bytes placed at an odd address: each item read out, one at a time.
            Err(_) => bytes
                .chunks_exact(std::mem::size_of::<T>())
                .try_for_each(|item| f(&bytemuck::pod_read_unaligned(item))),
        }
    }

    fn owned(items: Items<'_>) -> Result<Vec<T>, TaskError> {
        let mut owned = Vec::with_capacity(items.len());
        <Self as Codec<T, U>>::for_each(items, |item: &T| {
            owned.push(*item);
            Ok(())
        })?;
        Ok(owned)
    }

    fn write(output: &U, slot: &mut [u8], _: &mut Vec<u8>) -> Result<(), TaskError> {
        slot.copy_from_slice(bytemuck::bytes_of(output));
        Ok(())
    }
}

/// Serde items and outputs, in postcard's encoding; an output is checked by a fingerprint of
/// its encoding.
#[derive(Debug, Clone, Copy)]
pub struct Postcard;

/// Bytes of an output's fingerprint under [`Postcard`].
pub const FINGERPRINT_LEN: usize = 16;

impl<T: Serialize + DeserializeOwned, U: Serialize> Codec<T, U> for Postcard {
    const OUTPUT_LEN: usize = FINGERPRINT_LEN;

    fn encode(workload: &str, items: Vec<T>) -> Input {
        let mut bytes = Vec::new();
        let mut lengths = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let before = bytes.len();
            bytes = postcard::to_extend(item, bytes).unwrap_or_else(|e| {
                panic!("workload `{workload}`: item {i} cannot be encoded with postcard: {e}")
            });
            lengths.push(bytes.len() - before);
        }
        let input = Input::new(bytes, Layout::from_lengths(lengths));
        // A type postcard writes but cannot read back (one that needs a self-describing
        // format) would fail every task: say so before anything is measured.
        if let Some(first) = input.view().iter().next() {
            if let Err(e) = postcard::from_bytes::<T>(first) {
                panic!(
                    "workload `{workload}`: its items cannot be read back from postcard ({e}); \
                     postcard is not self-describing, so types that need one (untagged enums, \
                     `#[serde(flatten)]`) cannot travel: use plain fields"
                );
            }
        }
        input
    }

    fn for_each(
        items: Items<'_>,
        mut f: impl FnMut(&T) -> Result<(), TaskError>,
    ) -> Result<(), TaskError> {
        items
            .iter()
            .enumerate()
            .try_for_each(|(i, bytes)| f(&decode(bytes, items.first() + i)?))
    }

    fn owned(items: Items<'_>) -> Result<Vec<T>, TaskError> {
        items
            .iter()
            .enumerate()
            .map(|(i, bytes)| decode(bytes, items.first() + i))
            .collect()
    }

    fn write(output: &U, slot: &mut [u8], scratch: &mut Vec<u8>) -> Result<(), TaskError> {
        scratch.clear();
        let encoded = postcard::to_extend(output, std::mem::take(scratch))
            .map_err(|e| TaskError::error(format!("an output: postcard: {e}")))?;
        slot.copy_from_slice(&fingerprint(&encoded));
        *scratch = encoded;
        Ok(())
    }
}

/// Item number `index`, decoded from its postcard bytes.
fn decode<T: DeserializeOwned>(bytes: &[u8], index: usize) -> Result<T, TaskError> {
    postcard::from_bytes::<T>(bytes)
        .map_err(|e| TaskError::error(format!("item {index}: postcard: {e}")))
}

/// A 128-bit fingerprint of `bytes`: two SplitMix64 lanes over its 8-byte words and its length.
///
/// Not a cryptographic hash: it tells a wrong output from the right one, which is all a check
/// against the reference asks, in about 10 ns for a 40-byte encoding where BLAKE3 takes about
/// 100 (measured here: more than many per-item functions take themselves).
fn fingerprint(bytes: &[u8]) -> [u8; FINGERPRINT_LEN] {
    let mut a = 0x243f_6a88_85a3_08d3 ^ bytes.len() as u64;
    let mut b = 0x1319_8a2e_0370_7344_u64.wrapping_add(bytes.len() as u64);
    let mut words = bytes.chunks_exact(8);
    let mut step = |word: u64| {
        a = mix64(a ^ word);
        b = mix64(b.rotate_left(23).wrapping_add(word));
    };
    for word in &mut words {
        let mut full = [0u8; 8];
        full.copy_from_slice(word);
        step(u64::from_le_bytes(full));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        step(u64::from_le_bytes(last));
    }
    let mut out = [0u8; FINGERPRINT_LEN];
    out[..8].copy_from_slice(&mix64(a ^ b.rotate_left(32)).to_le_bytes());
    out[8..].copy_from_slice(&mix64(b ^ a).to_le_bytes());
    out
}

/// Adds one output to a task's folded result.
type Step<U, A> = Arc<dyn Fn(&mut A, &U) + Send + Sync>;

/// Adds a later task's folded result to an earlier one's.
type Merge<A> = Arc<dyn Fn(&mut A, A) + Send + Sync>;

/// The fold of a function workload's outputs into a small result.
struct Fold<U, A> {
    init: A,
    step: Step<U, A>,
    merge: Merge<A>,
}

impl<U, A: Clone> Clone for Fold<U, A> {
    fn clone(&self) -> Self {
        Self {
            init: self.init.clone(),
            step: Arc::clone(&self.step),
            merge: Arc::clone(&self.merge),
        }
    }
}

/// Where a task's outputs go, in item order: their slots in the task's part of the output
/// buffer, and the fold.
struct Sink<'a, U, A> {
    out: &'a mut [u8],
    at: usize,
    scratch: Vec<u8>,
    fold: Option<(&'a Fold<U, A>, A)>,
}

impl<'a, U, A: Clone> Sink<'a, U, A> {
    fn new(fold: Option<&'a Fold<U, A>>, out: &'a mut [u8]) -> Self {
        Self {
            out,
            at: 0,
            scratch: Vec::new(),
            fold: fold.map(|fold| (fold, fold.init.clone())),
        }
    }

    /// Writes the next item's output into its slot and folds it.
    fn push<C: Codec<T, U>, T>(&mut self, output: &U) -> Result<(), TaskError> {
        let slot = self
            .out
            .get_mut(self.at..self.at + C::OUTPUT_LEN)
            .ok_or_else(|| TaskError::error("more items than output slots"))?;
        C::write(output, slot, &mut self.scratch)?;
        self.at += C::OUTPUT_LEN;
        if let Some((fold, acc)) = self.fold.as_mut() {
            (fold.step)(acc, output);
        }
        Ok(())
    }

    /// The task's partial result: its folded outputs, or nothing without a fold.
    fn finish(self) -> Result<Partial, TaskError>
    where
        A: Serialize,
    {
        match self.fold {
            Some((_, acc)) => postcard::to_stdvec(&acc)
                .map_err(|e| TaskError::error(format!("the fold's result: postcard: {e}"))),
            None => Ok(Partial::new()),
        }
    }
}

/// The [`Workload`] methods every workload of functions shares, whatever its per-item work:
/// its name, its input (the generator's items through the codec), its output's width, and the
/// fold of its tasks' partial results.
macro_rules! workload_of_functions {
    () => {
        fn name(&self) -> &str {
            self.name
        }

        fn generate(&self, size: usize, seed: u64) -> $crate::Input {
            C::encode(self.name, (self.generate)(size, seed))
        }

        fn output_len(&self) -> usize {
            C::OUTPUT_LEN
        }

        fn combine(&self, partials: &[&[u8]]) -> $crate::Partial {
            $crate::function::combine(self.fold.as_ref(), partials)
        }
    };
}
use workload_of_functions;

/// The tasks' folded results merged in task order, as [`Workload::combine`] gives them.
fn combine<U, A>(fold: Option<&Fold<U, A>>, partials: &[&[u8]]) -> Partial
where
    A: Serialize + DeserializeOwned + Clone,
{
    let Some(fold) = fold else {
        return Partial::new();
    };
    let mut total: Option<A> = None;
    for partial in partials {
        let Ok(part) = postcard::from_bytes::<A>(partial) else {
            // Never from a task of this workload; an answer that can match no reference.
            return b"an undecodable partial result".to_vec();
        };
        match total.as_mut() {
            Some(total) => (fold.merge)(total, part),
            None => total = Some(part),
        }
    }
    postcard::to_stdvec(&total.unwrap_or_else(|| fold.init.clone())).unwrap_or_default()
}

/// The generator of a function workload: the input of `size` items from `seed`.
type Generate<T> = Arc<dyn Fn(usize, u64) -> Vec<T> + Send + Sync>;

/// A [`Workload`] made from a generator of items (`Fn(size, seed) -> Vec<T>`) and a function
/// of one item (`Fn(&T) -> U`), with an optional fold of the outputs into a small result.
///
/// How items and outputs become the bytes a strategy moves is its [`Codec`]: [`Plain`]
/// ([`FnWorkload::plain`], plain-data types: items read where they lie, outputs written as
/// their bytes) or [`Postcard`] ([`FnWorkload::encoded`], serde types: items decoded in the
/// task, outputs checked by a fingerprint of their encoding). The byte-level [`Workload`]
/// trait stays for work that needs control over its layout.
///
/// Register it as any workload: it converts into a [`WorkloadSpec`] (`.into()`), and a worker
/// process finds it by name in the same binary. The answer every run is checked against is the
/// outputs, in item order, and the fold.
///
/// # Example
///
/// ```
/// use parbench_workloads::{plan_tasks, Answer, EnvVars, FnWorkload, Registry, TaskContext};
///
/// /// The number of steps each start takes to reach 1 (the Collatz problem).
/// fn steps(start: &u64) -> u32 {
///     let (mut n, mut steps) = (*start, 0);
///     while n > 1 {
///         n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
///         steps += 1;
///     }
///     steps
/// }
///
/// let collatz = FnWorkload::plain("collatz", |size, seed| (1..=size as u64).map(|n| n + seed).collect(), steps)
///     .describe("Collatz steps of consecutive starts")
///     .default_size(10_000)
///     // The longest chain, besides every item's count.
///     .fold(0u32, |longest, steps| *longest = (*longest).max(*steps), |a, b| *a = (*a).max(b));
///
/// let mut registry = Registry::builtin();
/// registry.register(collatz.into())?;
///
/// // What a strategy does with it.
/// let spec = registry.get("collatz")?;
/// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
/// let input = workload.generate(10, 0);
/// let tasks = plan_tasks(input.items(), 2)?;
/// let mut output = vec![0u8; 10 * workload.output_len()];
/// let mut partials = Vec::new();
/// for task in &tasks {
///     let out = &mut output[task.items.start * 4..task.items.end * 4];
///     let context = TaskContext { task: task.clone(), attempt: 1, seed: 0 };
///     partials.push(Some(workload.run_task(&context, input.view().slice(task.items.clone()), out)?));
/// }
/// // 1 takes no step, 3 takes seven (3 10 5 16 8 4 2 1), 9 takes nineteen.
/// assert_eq!(&output[..12], &[0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0]);
/// let partials: Vec<&[u8]> = partials.iter().flatten().map(Vec::as_slice).collect();
/// assert_eq!(workload.combine(&partials), postcard::to_stdvec(&19u32)?);
/// # let _ = Answer::compute;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FnWorkload<C, T, U, F, A = ()> {
    name: &'static str,
    description: &'static str,
    kind: WorkKind,
    default_size: usize,
    generate: Generate<T>,
    per_item: Arc<F>,
    fold: Option<Fold<U, A>>,
    /// The gate's test hook (see [`crate::slowdown`]): this fraction of extra calls per item.
    slowdown: f64,
    /// What an async one runs with (unused by the others).
    setting: asynchronous::Setting,
    /// The service started beside the bench, if any.
    environment: Option<EnvironmentSpec>,
    codec: PhantomData<fn() -> C>,
}

impl<C, T, U, F, A: Clone> Clone for FnWorkload<C, T, U, F, A> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            description: self.description,
            kind: self.kind,
            default_size: self.default_size,
            generate: Arc::clone(&self.generate),
            per_item: Arc::clone(&self.per_item),
            fold: self.fold.clone(),
            slowdown: self.slowdown,
            setting: self.setting.clone(),
            environment: self.environment,
            codec: PhantomData,
        }
    }
}

impl<T, U, F> FnWorkload<Plain, T, U, F>
where
    T: bytemuck::Pod,
    U: bytemuck::Pod,
    F: Fn(&T) -> U,
{
    /// A workload of plain-data items and outputs: `per_item` over the items `generate`
    /// returns for `(size, seed)`, which must depend on nothing else.
    ///
    /// Items are read where they lie, without a copy; each output is written as its bytes.
    /// See [`FnWorkload`] for an example.
    pub fn plain(
        name: &'static str,
        generate: impl Fn(usize, u64) -> Vec<T> + Send + Sync + 'static,
        per_item: F,
    ) -> Self {
        const {
            assert!(
                std::mem::size_of::<T>() > 0,
                "a plain item must hold at least one byte"
            );
        }
        Self::new(name, Arc::new(generate), per_item)
    }
}

impl<T, U, F> FnWorkload<Postcard, T, U, F>
where
    T: Serialize + DeserializeOwned,
    U: Serialize,
    F: Fn(&T) -> U,
{
    /// A workload of serde items and outputs: `per_item` over the items `generate` returns
    /// for `(size, seed)`, which must depend on nothing else.
    ///
    /// Items travel in postcard's encoding and are decoded in the task (part of its time, as
    /// it would be for any worker that receives them); each output is checked by a
    /// fingerprint of its encoding.
    ///
    /// ```
    /// use parbench_workloads::{FnWorkload, WorkloadSpec};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Order { id: u64, lines: Vec<(String, u32)> }
    ///
    /// fn orders(size: usize, seed: u64) -> Vec<Order> {
    ///     (0..size as u64)
    ///         .map(|id| Order { id, lines: vec![(format!("sku-{}", (id ^ seed) % 97), 3)] })
    ///         .collect()
    /// }
    ///
    /// let spec: WorkloadSpec = FnWorkload::encoded("orders", orders, |o: &Order| {
    ///     o.lines.iter().map(|(_, n)| u64::from(*n)).sum::<u64>()
    /// })
    /// .fold(0u64, |total, n| *total += n, |a, b| *a += b)
    /// .into();
    /// assert_eq!(spec.name, "orders");
    /// ```
    pub fn encoded(
        name: &'static str,
        generate: impl Fn(usize, u64) -> Vec<T> + Send + Sync + 'static,
        per_item: F,
    ) -> Self {
        Self::new(name, Arc::new(generate), per_item)
    }
}

impl<C, T, U, F> FnWorkload<C, T, U, F> {
    fn new(name: &'static str, generate: Generate<T>, per_item: F) -> Self {
        Self {
            name,
            description: "a workload made from functions",
            kind: WorkKind::Compute,
            default_size: 10_000,
            generate,
            per_item: Arc::new(per_item),
            fold: None,
            slowdown: 0.0,
            setting: asynchronous::Setting::default(),
            environment: None,
            codec: PhantomData,
        }
    }

    /// Folds the outputs into a small result besides checking each one: `step` adds one
    /// output to a task's result (which starts as `init`), `merge` adds a later task's result
    /// to an earlier one's. The result must not depend on how the items were split into tasks
    /// (a sum, a count, a maximum); it travels in postcard's encoding.
    ///
    /// # Panics
    /// When `init` cannot be read back from postcard (a type that needs a self-describing
    /// format).
    pub fn fold<A>(
        self,
        init: A,
        step: impl Fn(&mut A, &U) + Send + Sync + 'static,
        merge: impl Fn(&mut A, A) + Send + Sync + 'static,
    ) -> FnWorkload<C, T, U, F, A>
    where
        A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let readable = postcard::to_stdvec(&init)
            .map_err(|e| e.to_string())
            .and_then(|bytes| postcard::from_bytes::<A>(&bytes).map_err(|e| e.to_string()));
        if let Err(e) = readable {
            panic!(
                "workload `{}`: its fold's result cannot travel through postcard: {e}",
                self.name
            );
        }
        FnWorkload {
            name: self.name,
            description: self.description,
            kind: self.kind,
            default_size: self.default_size,
            generate: self.generate,
            per_item: self.per_item,
            fold: Some(Fold {
                init,
                step: Arc::new(step),
                merge: Arc::new(merge),
            }),
            slowdown: self.slowdown,
            setting: self.setting,
            environment: self.environment,
            codec: PhantomData,
        }
    }
}

impl<C, T, U, F, A> FnWorkload<C, T, U, F, A> {
    /// One line for `list` and the reports (default: "a workload made from functions").
    pub fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// The dominant kind of work (default: compute).
    pub fn kind(mut self, kind: WorkKind) -> Self {
        self.kind = kind;
        self
    }

    /// Items in the input when a suite does not say (default 10,000).
    pub fn default_size(mut self, size: usize) -> Self {
        self.default_size = size;
        self
    }

    /// A service the work talks to — a server, a database in a temporary directory, a
    /// fixture — that `start` starts beside the bench: once per bucket (a size and task count
    /// of this workload), in the harness's process, before the bucket's input is prepared,
    /// and stopped (dropped) at the end of the run ([`Scope::Bucket`]: no bucket sees what
    /// another's cells left in it). What it publishes ([`Environment::vars`]: an address, a
    /// path) reaches an async workload's `connect` as [`Services`]. When it fails to start,
    /// the bucket's cells fail with its error and the rest of the run goes on; when it dies
    /// during a cell, the items that reach it fail that cell.
    ///
    /// ```
    /// use parbench_workloads::{EnvVars, Environment, FnWorkload, WorkloadError, WorkloadSpec};
    ///
    /// /// A fixture: a directory of files the work reads.
    /// struct Fixture(std::path::PathBuf);
    ///
    /// impl Environment for Fixture {
    ///     fn vars(&self) -> EnvVars {
    ///         EnvVars::from([("fixture.dir".to_owned(), self.0.display().to_string())])
    ///     }
    ///     fn stop(self: Box<Self>) -> Result<(), WorkloadError> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let spec: WorkloadSpec = FnWorkload::plain("sizes", |size, _| vec![0u32; size], |x: &u32| *x)
    ///     .service("fixture", || Ok::<_, std::io::Error>(Fixture(std::env::temp_dir())))
    ///     .into();
    /// let service = spec.environment.expect("a service");
    /// assert_eq!(service.name, "fixture");
    /// assert!(service.start()?.vars().contains_key("fixture.dir"));
    /// # Ok::<(), WorkloadError>(())
    /// ```
    pub fn service<E, Err>(
        mut self,
        name: &'static str,
        start: impl Fn() -> Result<E, Err> + Send + Sync + 'static,
    ) -> Self
    where
        E: Environment + 'static,
        Err: std::fmt::Display,
    {
        let start = move || -> Result<Box<dyn Environment>, WorkloadError> {
            start()
                .map(|started| Box::new(started) as Box<dyn Environment>)
                .map_err(|e| WorkloadError::Environment {
                    name: name.to_owned(),
                    source: std::io::Error::other(e.to_string()),
                })
        };
        self.environment = Some(EnvironmentSpec {
            name,
            start: Box::leak(Box::new(start)),
            scope: Scope::Bucket,
        });
        self
    }
}

impl<C, T, U, F, A> Workload for FnWorkload<C, T, U, F, A>
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    F: Fn(&T) -> U + Send + Sync + 'static,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    workload_of_functions!();

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        let mut sink = Sink::new(self.fold.as_ref(), out);
        let mut owed = 0.0;
        C::for_each(items, |item| {
            let output = (self.per_item)(item);
            if self.slowdown > 0.0 {
                owed += self.slowdown;
                while owed >= 1.0 {
                    black_box((self.per_item)(black_box(item)));
                    owed -= 1.0;
                }
            }
            sink.push::<C, T>(&output)
        })?;
        sink.finish()
    }
}

impl<C, T, U, F, A> From<FnWorkload<C, T, U, F, A>> for WorkloadSpec
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    F: Fn(&T) -> U + Send + Sync + 'static,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The spec to register the workload under its name. It lives as long as the process (a
    /// spec is `'static`, as registered workloads are).
    fn from(workload: FnWorkload<C, T, U, F, A>) -> Self {
        workload.spec(&[], |built, _, _| {
            built.slowdown = crate::slowdown::injected(built.name)?;
            Ok(())
        })
    }
}

impl<C, T, U, F, A> FnWorkload<C, T, U, F, A>
where
    Self: Workload + Clone + Send + Sync + 'static,
{
    /// The spec that registers this workload under its name, with the parameters `params`:
    /// its `build` clones the workload and lets `set` give the copy what the parameters and
    /// the environments decide. It lives as long as the process, as registered workloads do.
    fn spec(
        self,
        params: &'static [ParamSpec],
        set: impl Fn(&mut Self, &Params, &EnvVars) -> Result<(), WorkloadError> + Send + Sync + 'static,
    ) -> WorkloadSpec {
        let (name, description, kind, default_size, environment) = (
            self.name,
            self.description,
            self.kind,
            self.default_size,
            self.environment,
        );
        let build =
            move |params: &Params, env: &EnvVars| -> Result<Arc<dyn Workload>, WorkloadError> {
                let mut built = self.clone();
                set(&mut built, params, env)?;
                Ok(Arc::new(built))
            };
        WorkloadSpec {
            name,
            description,
            kind,
            default_size,
            params,
            environment,
            build: Box::leak(Box::new(build)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan_tasks, Answer, Task};

    fn run(workload: &dyn Workload, input: &Input, tasks: usize) -> Answer {
        let tasks: Vec<Task> = plan_tasks(input.items(), tasks).unwrap();
        let len = workload.output_len();
        let mut output = vec![0u8; input.items() * len];
        let mut partials = Vec::new();
        for task in &tasks {
            let out = &mut output[task.items.start * len..task.items.end * len];
            let context = TaskContext {
                task: task.clone(),
                attempt: 1,
                seed: 0,
            };
            let items = input.view().slice(task.items.clone());
            partials.push(Some(workload.run_task(&context, items, out).unwrap()));
        }
        Answer::compute(workload, &output, &tasks, &partials, Vec::new())
    }

    fn squares() -> FnWorkload<Plain, u32, u64, impl Fn(&u32) -> u64> {
        FnWorkload::plain(
            "squares",
            |size, seed| (0..size as u32).map(|i| i ^ seed as u32).collect(),
            |x: &u32| u64::from(*x) * u64::from(*x),
        )
    }

    #[test]
    fn plain_items_are_their_bytes_and_outputs_theirs() {
        let work = squares();
        let input = work.generate(5, 0);
        assert_eq!(input.layout, Layout::Fixed { len: 4, count: 5 });
        assert_eq!(&input.bytes[4..8], &1u32.to_ne_bytes());
        let mut out = vec![0u8; 5 * 8];
        let context = TaskContext {
            task: plan_tasks(5, 1).unwrap().remove(0),
            attempt: 1,
            seed: 0,
        };
        assert_eq!(work.run_task(&context, input.view(), &mut out), Ok(vec![]));
        let outputs: &[u64] = bytemuck::cast_slice(&out);
        assert_eq!(outputs, [0, 1, 4, 9, 16]);
    }

    #[test]
    fn plain_items_at_an_odd_address_are_read_one_by_one() {
        let work = squares();
        let input = work.generate(3, 0);
        // The same items one byte into a buffer, as bytes received at any offset would be.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&input.bytes);
        let items = Items::fixed(&shifted[1..], 4, 0);
        let mut out = vec![0u8; 3 * 8];
        let context = TaskContext {
            task: plan_tasks(3, 1).unwrap().remove(0),
            attempt: 1,
            seed: 0,
        };
        work.run_task(&context, items, &mut out).unwrap();
        assert_eq!(bytemuck::cast_slice::<u8, u64>(&out), [0, 1, 4]);
    }

    #[test]
    fn the_answer_does_not_depend_on_the_split_and_the_fold_sees_every_output() {
        let work = squares().fold(0u64, |sum, x| *sum += x, |a, b| *a += b);
        let input = work.generate(1_000, 7);
        let one = run(&work, &input, 1);
        for tasks in [2, 7, 1_000] {
            assert_eq!(run(&work, &input, tasks), one, "{tasks} tasks");
        }
        let expected: u64 = (0..1_000u32)
            .map(|i| u64::from(i ^ 7) * u64::from(i ^ 7))
            .sum();
        let partials = [postcard::to_stdvec(&expected).unwrap()];
        let refs: Vec<&[u8]> = partials.iter().map(Vec::as_slice).collect();
        assert_eq!(work.combine(&refs), partials[0]);
        // No task: the fold's start.
        assert_eq!(work.combine(&[]), postcard::to_stdvec(&0u64).unwrap());
    }

    #[derive(Serialize, serde::Deserialize, Clone, PartialEq, Debug)]
    struct Line {
        user: String,
        bytes: u32,
    }

    type Upper = (String, u32);

    fn lines() -> FnWorkload<Postcard, Line, Upper, impl Fn(&Line) -> Upper> {
        FnWorkload::encoded(
            "lines",
            |size, seed| {
                (0..size)
                    .map(|i| Line {
                        user: format!("user-{}", (i as u64 * 31 + seed) % 5),
                        bytes: i as u32 * 10,
                    })
                    .collect()
            },
            |line: &Line| (line.user.to_uppercase(), line.bytes + 1),
        )
    }

    #[test]
    fn encoded_items_travel_through_postcard_and_outputs_are_fingerprinted() {
        let work = lines();
        let input = work.generate(4, 0);
        let Layout::Offsets(offsets) = &input.layout else {
            panic!("variable-size items: {:?}", input.layout)
        };
        assert_eq!(offsets.len(), 5);
        let second: Line = postcard::from_bytes(input.view().get(1)).unwrap();
        assert_eq!(
            second,
            Line {
                user: "user-1".into(),
                bytes: 10
            }
        );
        let mut out = vec![0u8; 4 * FINGERPRINT_LEN];
        let context = TaskContext {
            task: plan_tasks(4, 1).unwrap().remove(0),
            attempt: 1,
            seed: 0,
        };
        work.run_task(&context, input.view(), &mut out).unwrap();
        let expected = postcard::to_stdvec(&("USER-1".to_owned(), 11u32)).unwrap();
        assert_eq!(
            &out[FINGERPRINT_LEN..2 * FINGERPRINT_LEN],
            &fingerprint(&expected)
        );
        let one = run(&work, &input, 1);
        assert_eq!(run(&work, &input, 3), one);
    }

    #[test]
    fn fingerprints_tell_apart_outputs_that_differ_in_one_bit_or_in_length() {
        let base: Vec<u8> = (0..40u8).collect();
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(fingerprint(&base)));
        for bit in 0..base.len() * 8 {
            let mut flipped = base.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(seen.insert(fingerprint(&flipped)), "bit {bit}");
        }
        // Trailing zeros are not padding: every length has its own fingerprint.
        for len in 0..=24 {
            assert!(seen.insert(fingerprint(&vec![0u8; len])), "{len} zeros");
        }
    }

    #[test]
    fn an_item_that_does_not_decode_fails_its_task_by_number() {
        let work = lines();
        let bytes = [0xff_u8; 3];
        let offsets = [10u64, 13];
        let items = Items::with_offsets(&bytes, &offsets, 6);
        let mut out = vec![0u8; FINGERPRINT_LEN];
        let context = TaskContext {
            task: plan_tasks(1, 1).unwrap().remove(0),
            attempt: 1,
            seed: 0,
        };
        let err = work.run_task(&context, items, &mut out).unwrap_err();
        assert!(err.message.starts_with("item 6: postcard: "), "{err}");
    }

    #[test]
    #[should_panic(expected = "workload `untagged`: its items cannot be read back from postcard")]
    fn a_type_postcard_cannot_read_back_is_refused_when_the_input_is_made() {
        #[derive(Serialize, serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            N(u32),
            S(String),
        }
        let work = FnWorkload::encoded(
            "untagged",
            |size, _| (0..size as u32).map(Either::N).collect(),
            |e: &Either| matches!(e, Either::S(_)),
        );
        work.generate(2, 0);
    }

    #[test]
    fn the_spec_builds_the_workload_under_its_name() {
        let spec: WorkloadSpec = squares().describe("x * x").default_size(77).into();
        assert_eq!(
            (spec.name, spec.description, spec.default_size),
            ("squares", "x * x", 77)
        );
        let built = spec
            .instantiate(&spec.resolve(&Default::default()).unwrap(), &EnvVars::new())
            .unwrap();
        assert_eq!((built.name(), built.output_len()), ("squares", 8));
    }
}
