//! Workloads made from async functions: [`FnWorkload::asynchronous`].
//!
//! Work that waits — a request, a query, a file — is most often written against an async
//! client. Such a workload runs as each kind of program would run it:
//!
//! - under an async runtime strategy (`tokio`), natively: the items of a task are futures,
//!   polled concurrently, at most the strategy's `in_flight` of them waiting at once across
//!   the run, with one session (what `connect` returns: a client, a pool) per runtime;
//! - under every other strategy (threads, pools, actors, timely, worker processes), as a
//!   threaded program with an async client runs it: each worker thread has a current-thread
//!   runtime and a session of its own, made the first time it needs them, and blocks on one
//!   item at a time (`drive = "item"`, the default: a blocking wrapper around the client) or
//!   on all the items of its task at once (`drive = "task"`: each task a small async batch).
//!
//! What the work needs to reach the services it talks to (an address, a path) comes to
//! `connect` as [`Services`].

use std::any::Any;
use std::cell::RefCell;
use std::fmt::{self, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{OnceCell, Semaphore};

use super::{workload_of_functions, Codec, FnWorkload, Postcard, Sink};
use crate::{
    AsyncSession, AsyncWorkload, BoxFuture, EnvVars, Items, ParamKind, ParamSpec, Partial,
    TaskContext, TaskError, WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// The variables the services beside a bench publish (an address, a path), by name: what an
/// async workload's `connect` reads to reach them.
///
/// ```
/// use parbench_workloads::{EnvVars, Services};
///
/// let services = Services::new(EnvVars::from([("kv.addr".to_owned(), "127.0.0.1:7000".to_owned())]));
/// assert_eq!(services.get("kv.addr")?, "127.0.0.1:7000");
/// assert_eq!(
///     services.get("db.path").unwrap_err().to_string(),
///     "no service publishes `db.path` (published: kv.addr)"
/// );
/// # Ok::<(), parbench_workloads::MissingVariable>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services(Arc<EnvVars>);

impl Services {
    /// The services' variables.
    pub fn new(vars: EnvVars) -> Self {
        Self(Arc::new(vars))
    }

    /// The variable `name`.
    ///
    /// # Errors
    /// [`MissingVariable`] when no service publishes it, with the names that are published.
    pub fn get(&self, name: &str) -> Result<&str, MissingVariable> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| MissingVariable {
                name: name.to_owned(),
                published: self.0.keys().cloned().collect(),
            })
    }

    /// Every variable, by name.
    pub fn vars(&self) -> &EnvVars {
        &self.0
    }
}

/// A variable no service publishes: [`Services::get`]'s error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingVariable {
    /// The name asked for.
    pub name: String,
    /// The names the services publish.
    pub published: Vec<String>,
}

impl Display for MissingVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let published = if self.published.is_empty() {
            "none".to_owned()
        } else {
            self.published.join(", ")
        };
        write!(
            f,
            "no service publishes `{}` (published: {published})",
            self.name
        )
    }
}

impl std::error::Error for MissingVariable {}

/// How a thread drives an async workload's items (the `drive` parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Drive {
    /// One item at a time, each awaited to its end: a threaded program calling its async
    /// client through a blocking wrapper.
    #[default]
    Item,
    /// All the items of a task at once on the thread's runtime: each task an async batch.
    Task,
}

/// The `drive` parameter every async function workload declares.
const DRIVE: ParamSpec = ParamSpec {
    name: "drive",
    help: "off an async runtime, each worker thread blocks on one item at a time, or on all of a task's items at once",
    kind: ParamKind::Choice {
        default: "item",
        options: &["item", "task"],
    },
};

/// Makes a session's state (a client, a pool) from the services' variables: `Fn(Services) ->
/// impl Future<Output = Result<S, E>>`, with any `E: Display`. Every async closure of that
/// shape is one.
pub trait Connect<S>: Fn(Services) -> Self::Session + Send + Sync + 'static {
    /// The future it returns.
    type Session: Future<Output = Result<S, Self::Error>> + Send + 'static;
    /// Its error.
    type Error: Display;
}

impl<S, K, Fut, E> Connect<S> for K
where
    K: Fn(Services) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, E>> + Send + 'static,
    E: Display,
{
    type Session = Fut;
    type Error = E;
}

/// The work of one item: `Fn(T, Arc<S>) -> impl Future<Output = Result<U, E>>`, with any `E:
/// Display`; an error fails the item's task. Every async closure of that shape is one.
pub trait PerItem<T, S, U>: Fn(T, Arc<S>) -> Self::Call + Send + Sync + 'static {
    /// The future it returns.
    type Call: Future<Output = Result<U, Self::Error>> + Send + 'static;
    /// Its error.
    type Error: Display;
}

impl<T, S, U, F, Fut, E> PerItem<T, S, U> for F
where
    F: Fn(T, Arc<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, E>> + Send + 'static,
    E: Display,
{
    type Call = Fut;
    type Error = E;
}

/// The per-item work of an async function workload: how a session connects, and what an item
/// does with it. See [`FnWorkload::asynchronous`].
pub struct Asynchronous<S, K, F> {
    connect: K,
    per_item: F,
    session: PhantomData<fn() -> S>,
}

/// What a built workload with a session runs with: the services' variables, how threads
/// drive its items, and an identity of its own (each worker thread keeps its state per
/// workload).
#[derive(Clone, Debug, Default)]
pub(super) struct Setting {
    pub services: Services,
    pub drive: Drive,
    pub instance: u64,
}

impl Setting {
    /// The setting of a workload built in the environment `env`, with an identity of its own.
    pub fn new(env: &EnvVars, drive: Drive) -> Self {
        Self {
            services: Services::new(env.clone()),
            drive,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl<T, U, S, K, F> FnWorkload<Postcard, T, U, Asynchronous<S, K, F>>
where
    T: Serialize + DeserializeOwned,
    U: Serialize,
    K: Connect<S>,
    F: PerItem<T, S, U>,
{
    /// A workload of an async function over serde items: `per_item` over the items `generate`
    /// returns for `(size, seed)`, each call given the session that `connect` made from the
    /// services' variables (a client, a connection pool: once per runtime, or per worker
    /// thread off a runtime). Items travel in postcard's encoding, as [`FnWorkload::encoded`]'s
    /// do; an item's error fails its task, with the item's number.
    ///
    /// Under `tokio` the items of a task are futures polled concurrently (at most
    /// `in_flight` waiting across the run); under the other strategies each worker thread
    /// blocks on one item at a time, or with the parameter `drive = "task"` on all of its
    /// task's items at once (see the module's notes). Its kind is `io`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use parbench_workloads::{plan_tasks, EnvVars, FnWorkload, Registry, Services, TaskContext};
    ///
    /// /// A client of a store that answers after a millisecond.
    /// struct Store { factor: u64 }
    ///
    /// let lookups = FnWorkload::asynchronous(
    ///     "lookups",
    ///     |size, seed| (0..size as u64).map(|i| i ^ seed).collect(),
    ///     |_services: Services| async { Ok::<_, String>(Store { factor: 3 }) },
    ///     |key: u64, store: Arc<Store>| async move {
    ///         tokio::time::sleep(Duration::from_millis(1)).await;
    ///         Ok::<_, String>(key * store.factor)
    ///     },
    /// )
    /// .fold(0u64, |total, x| *total += x, |a, b| *a += b);
    ///
    /// let mut registry = Registry::builtin();
    /// registry.register(lookups.into())?;
    /// let spec = registry.get("lookups")?;
    /// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
    /// // On a thread, as the thread strategies run it: 4 items, one after another.
    /// let input = workload.generate(4, 0);
    /// let task = plan_tasks(4, 1)?.remove(0);
    /// let mut output = vec![0u8; 4 * workload.output_len()];
    /// let context = TaskContext { task, attempt: 1, seed: 0 };
    /// let partial = workload.run_task(&context, input.view(), &mut output)?;
    /// assert_eq!(postcard::from_bytes::<u64>(&partial)?, 3 * (0 + 1 + 2 + 3));
    /// assert!(workload.as_async().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn asynchronous(
        name: &'static str,
        generate: impl Fn(usize, u64) -> Vec<T> + Send + Sync + 'static,
        connect: K,
        per_item: F,
    ) -> Self {
        let mut workload = Self::new(
            name,
            Arc::new(generate),
            Asynchronous {
                connect,
                per_item,
                session: PhantomData,
            },
        );
        workload.kind = WorkKind::Io;
        workload
    }
}

thread_local! {
    /// This thread's state (a runtime and session, or a session) for each workload with a
    /// session that it ran, by built instance.
    static STATES: RefCell<Vec<(u64, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// A worker thread's runtime, and the session `connect` made on it.
struct Driver<S> {
    runtime: tokio::runtime::Runtime,
    session: Arc<S>,
}

/// Runs `future` to its end on `runtime`, from a thread that may itself be a worker of another
/// (multi-threaded) runtime, as an actor's is: that thread's other duties move elsewhere
/// meanwhile (`block_in_place`).
fn block_on<F: Future>(
    runtime: &tokio::runtime::Runtime,
    future: F,
) -> Result<F::Output, TaskError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => Ok(runtime.block_on(future)),
        Ok(RuntimeFlavor::MultiThread) => {
            Ok(tokio::task::block_in_place(|| runtime.block_on(future)))
        }
        Ok(_) => Err(TaskError::error(
            "a thread of a single-threaded async runtime cannot wait for an async workload's \
             items",
        )),
    }
}

/// The error of item `index` of a task.
pub(super) fn item_error(index: usize, error: impl Display) -> TaskError {
    TaskError::error(format!("item {index}: {error}"))
}

impl<C, T, U, S, K, F, A> FnWorkload<C, T, U, Asynchronous<S, K, F>, A>
where
    C: Codec<T, U>,
    S: Send + Sync + 'static,
    K: Connect<S>,
    F: PerItem<T, S, U>,
    A: Clone,
{
    /// The session of `connect`, made from the services.
    async fn connect(&self) -> Result<Arc<S>, TaskError> {
        (self.per_item.connect)(self.setting.services.clone())
            .await
            .map(Arc::new)
            .map_err(|e| TaskError::error(format!("connecting: {e}")))
    }

    /// Runs `f` with this thread's driver of this workload, making it first when the thread
    /// has none (a failed `connect` is tried again by the next task).
    fn with_driver<R>(&self, f: impl FnOnce(&Driver<S>) -> R) -> Result<R, TaskError> {
        let make = || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| TaskError::error(format!("a runtime: {e}")))?;
            let session = block_on(&runtime, self.connect())??;
            Ok(Driver { runtime, session })
        };
        with_state(self.setting.instance, make, f)
    }
}

/// Runs `f` with this thread's state of the workload `instance` (a runtime and session, or a
/// session), making it with `make` first when the thread has none: a failed `make` is tried
/// again next time.
pub(super) fn with_state<S: 'static, R>(
    instance: u64,
    make: impl FnOnce() -> Result<S, TaskError>,
    f: impl FnOnce(&S) -> R,
) -> Result<R, TaskError> {
    STATES.with(|states| {
        let mut states = states.borrow_mut();
        let index = match states.iter().position(|(id, _)| *id == instance) {
            Some(index) => index,
            None => {
                let state = make()?;
                states.push((instance, Box::new(state)));
                states.len() - 1
            }
        };
        let state = states[index]
            .1
            .downcast_ref::<S>()
            .ok_or_else(|| TaskError::error("another workload's state under this one's id"))?;
        Ok(f(state))
    })
}

impl<C, T, U, S, K, F, A> Workload for FnWorkload<C, T, U, Asynchronous<S, K, F>, A>
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
    K: Connect<S>,
    F: PerItem<T, S, U>,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    workload_of_functions!();

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        let first = items.first();
        let owned = C::owned(items)?;
        let work = &self.per_item;
        self.with_driver(|driver| {
            let call = |item: T| (work.per_item)(item, Arc::clone(&driver.session));
            let mut sink = Sink::new(self.fold.as_ref(), out);
            match self.setting.drive {
                Drive::Item => {
                    for (i, item) in owned.into_iter().enumerate() {
                        let output = block_on(&driver.runtime, call(item))?
                            .map_err(|e| item_error(first + i, e))?;
                        sink.push::<C, T>(&output)?;
                    }
                }
                Drive::Task => {
                    let outputs = block_on(&driver.runtime, join_all(owned.into_iter().map(call)))?;
                    for (i, output) in outputs.into_iter().enumerate() {
                        sink.push::<C, T>(&output.map_err(|e| item_error(first + i, e))?)?;
                    }
                }
            }
            sink.finish()
        })?
    }

    fn as_async(&self) -> Option<&dyn AsyncWorkload> {
        Some(self)
    }
}

impl<C, T, U, S, K, F, A> AsyncWorkload for FnWorkload<C, T, U, Asynchronous<S, K, F>, A>
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
    K: Connect<S>,
    F: PerItem<T, S, U>,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn session(&self) -> Result<Arc<dyn AsyncSession>, WorkloadError> {
        Ok(Arc::new(Session {
            workload: self.clone(),
            state: OnceCell::new(),
        }))
    }
}

/// An async workload's session on a runtime: the workload, and the state `connect` makes the
/// first time a task needs it (on the runtime, so that its connections belong to it).
struct Session<C, T, U, S, K, F, A> {
    workload: FnWorkload<C, T, U, Asynchronous<S, K, F>, A>,
    state: OnceCell<Arc<S>>,
}

impl<C, T, U, S, K, F, A> AsyncSession for Session<C, T, U, S, K, F, A>
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
    K: Connect<S>,
    F: PerItem<T, S, U>,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    fn run_task<'a>(
        &'a self,
        _: &'a TaskContext,
        items: Items<'a>,
        out: &'a mut [u8],
        in_flight: &'a Semaphore,
    ) -> BoxFuture<'a, Result<Partial, TaskError>> {
        Box::pin(async move {
            let workload = &self.workload;
            let first = items.first();
            let owned = C::owned(items)?;
            let state = self
                .state
                .get_or_try_init(|| workload.connect())
                .await?
                .clone();
            let calls = owned.into_iter().map(|item| {
                let state = Arc::clone(&state);
                async move {
                    let _permit = in_flight
                        .acquire()
                        .await
                        .map_err(|_| "the in-flight limit was closed".to_owned())?;
                    (workload.per_item.per_item)(item, state)
                        .await
                        .map_err(|e| e.to_string())
                }
            });
            let outputs = join_all(calls).await;
            let mut sink = Sink::new(workload.fold.as_ref(), out);
            for (i, output) in outputs.into_iter().enumerate() {
                sink.push::<C, T>(&output.map_err(|e| item_error(first + i, e))?)?;
            }
            sink.finish()
        })
    }
}

/// Tells each built instance apart, for the state its worker threads keep.
pub(super) static INSTANCES: AtomicU64 = AtomicU64::new(1);

impl<C, T, U, S, K, F, A> From<FnWorkload<C, T, U, Asynchronous<S, K, F>, A>> for WorkloadSpec
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
    K: Connect<S>,
    F: PerItem<T, S, U>,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The spec to register the workload under its name, with its `drive` parameter. It lives
    /// as long as the process (a spec is `'static`, as registered workloads are).
    fn from(workload: FnWorkload<C, T, U, Asynchronous<S, K, F>, A>) -> Self {
        workload.spec(&[DRIVE], |built, params, env| {
            let drive = match params.text(DRIVE.name) {
                "task" => Drive::Task,
                _ => Drive::Item,
            };
            built.setting = Setting::new(env, drive);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;
    use crate::{plan_tasks, Answer, Input, Registry, Task, Value};

    /// Items in flight now, and the most seen at once.
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl Gauge {
        async fn hold(&self, wait: Duration) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(wait).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// A session's state: the gauge its items wait on.
    struct Client(Arc<Gauge>);

    /// A workload whose items wait 1 ms each on `gauge`, then triple; an item of 13 fails, and
    /// `connect` fails when the services publish `refuse`.
    fn tripled(gauge: Arc<Gauge>) -> WorkloadSpec {
        FnWorkload::asynchronous(
            "tripled",
            |size, seed| (0..size as u64).map(|i| i + seed).collect(),
            move |services: Services| {
                let gauge = Arc::clone(&gauge);
                async move {
                    if services.get("refuse").is_ok() {
                        return Err("refused".to_owned());
                    }
                    Ok(Client(gauge))
                }
            },
            |x: u64, client: Arc<Client>| async move {
                client.0.hold(Duration::from_millis(1)).await;
                if x == 13 {
                    return Err(format!("{x} is unlucky"));
                }
                Ok(3 * x)
            },
        )
        .fold(0u64, |sum, x| *sum += x, |a, b| *a += b)
        .into()
    }

    fn built(spec: &WorkloadSpec, drive: &str, env: EnvVars) -> Arc<dyn Workload> {
        let mut registry = Registry::builtin();
        registry.register(*spec).unwrap();
        let params = spec
            .resolve(&[("drive".to_owned(), Value::Text(drive.to_owned()))].into())
            .unwrap();
        spec.instantiate(&params, &env).unwrap()
    }

    fn context(task: &Task) -> TaskContext {
        TaskContext {
            task: task.clone(),
            attempt: 1,
            seed: 0,
        }
    }

    /// Runs every task on this thread; the answer, or the first task's error.
    fn on_a_thread(
        workload: &dyn Workload,
        input: &Input,
        tasks: usize,
    ) -> Result<Answer, TaskError> {
        let tasks = plan_tasks(input.items(), tasks).unwrap();
        let len = workload.output_len();
        let mut output = vec![0u8; input.items() * len];
        let mut partials = Vec::new();
        for task in &tasks {
            let out = &mut output[task.items.start * len..task.items.end * len];
            let items = input.view().slice(task.items.clone());
            partials.push(Some(workload.run_task(&context(task), items, out)?));
        }
        Ok(Answer::compute(
            workload,
            &output,
            &tasks,
            &partials,
            Vec::new(),
        ))
    }

    /// Runs every task as futures on one runtime, at most `in_flight` items waiting at once.
    fn as_futures(
        workload: &dyn Workload,
        input: &Input,
        tasks: usize,
        in_flight: usize,
    ) -> Result<Answer, TaskError> {
        let tasks = plan_tasks(input.items(), tasks).unwrap();
        let len = workload.output_len();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let session = workload.as_async().unwrap().session().unwrap();
        let limit = Semaphore::new(in_flight);
        let mut output = vec![0u8; input.items() * len];
        let partials = runtime.block_on(async {
            let mut rest: &mut [u8] = &mut output;
            let mut runs = Vec::new();
            for task in &tasks {
                let (out, tail) = std::mem::take(&mut rest).split_at_mut(task.items.len() * len);
                rest = tail;
                let items = input.view().slice(task.items.clone());
                let session = Arc::clone(&session);
                let limit = &limit;
                runs.push(async move { session.run_task(&context(task), items, out, limit).await });
            }
            join_all(runs)
                .await
                .into_iter()
                .map(|r| r.map(Some))
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(Answer::compute(
            workload,
            &output,
            &tasks,
            &partials,
            Vec::new(),
        ))
    }

    /// The same items, outputs and fold from a synchronous function.
    fn plain_answer(input: &Input) -> Answer {
        let spec: WorkloadSpec = FnWorkload::encoded(
            "tripled-plain",
            |size, seed| (0..size as u64).map(|i| i + seed).collect(),
            |x: &u64| 3 * x,
        )
        .fold(0u64, |sum, x| *sum += x, |a, b| *a += b)
        .into();
        let workload = spec
            .instantiate(&spec.resolve(&Default::default()).unwrap(), &EnvVars::new())
            .unwrap();
        on_a_thread(workload.as_ref(), input, 1).unwrap()
    }

    #[test]
    fn every_way_of_driving_the_items_gives_the_answer_of_a_plain_loop() {
        let spec = tripled(Arc::default());
        let item = built(&spec, "item", EnvVars::new());
        let input = item.generate(12, 100);
        let expected = plain_answer(&input);
        assert_eq!(on_a_thread(item.as_ref(), &input, 1), Ok(expected.clone()));
        assert_eq!(on_a_thread(item.as_ref(), &input, 5), Ok(expected.clone()));
        let task = built(&spec, "task", EnvVars::new());
        assert_eq!(on_a_thread(task.as_ref(), &input, 3), Ok(expected.clone()));
        assert_eq!(as_futures(item.as_ref(), &input, 3, 4), Ok(expected));
    }

    #[test]
    fn waits_overlap_as_each_kind_of_program_lets_them() {
        let most = |drive: &str, run: &dyn Fn(&dyn Workload, &Input)| -> usize {
            let gauge = Arc::new(Gauge::default());
            let workload = built(&tripled(Arc::clone(&gauge)), drive, EnvVars::new());
            run(workload.as_ref(), &workload.generate(24, 100));
            gauge.most.load(Ordering::SeqCst)
        };
        // A thread blocking on each item waits for one at a time; on a task's items, for all
        // of them; futures on a runtime, for as many as the in-flight limit lets wait.
        let thread = |w: &dyn Workload, input: &Input| {
            on_a_thread(w, input, 2).unwrap();
        };
        assert_eq!(most("item", &thread), 1);
        assert_eq!(most("task", &thread), 12);
        let futures = |limit: usize| {
            move |w: &dyn Workload, input: &Input| {
                as_futures(w, input, 2, limit).unwrap();
            }
        };
        assert_eq!(most("item", &futures(5)), 5);
        assert_eq!(most("item", &futures(64)), 24);
    }

    #[test]
    fn an_item_error_fails_its_task_by_number_and_a_refused_session_says_so() {
        let spec = tripled(Arc::default());
        // Items 10, 11, 12, 13, ...: the fourth, number 3, fails.
        for drive in ["item", "task"] {
            let workload = built(&spec, drive, EnvVars::new());
            let input = workload.generate(6, 10);
            let error = on_a_thread(workload.as_ref(), &input, 2).unwrap_err();
            assert_eq!(error.message, "item 3: 13 is unlucky", "{drive}");
            let error = as_futures(workload.as_ref(), &input, 2, 8).unwrap_err();
            assert_eq!(error.message, "item 3: 13 is unlucky", "{drive}");
        }
        let refused = EnvVars::from([("refuse".to_owned(), "yes".to_owned())]);
        let workload = built(&spec, "item", refused);
        let input = workload.generate(2, 0);
        let error = on_a_thread(workload.as_ref(), &input, 1).unwrap_err();
        assert_eq!(error.message, "connecting: refused");
        let error = as_futures(workload.as_ref(), &input, 1, 8).unwrap_err();
        assert_eq!(error.message, "connecting: refused");
    }

    #[test]
    fn the_spec_declares_how_threads_drive_the_items() {
        let spec = tripled(Arc::default());
        assert_eq!((spec.name, spec.kind), ("tripled", WorkKind::Io));
        assert_eq!(
            spec.params.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["drive"]
        );
        let wrong = [("drive".to_owned(), Value::Text("thread".to_owned()))].into();
        assert!(spec.resolve(&wrong).is_err());
    }
}
