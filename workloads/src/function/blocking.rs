//! Workloads made from blocking functions with a session: [`FnWorkload::blocking`].
//!
//! Much waiting work is a synchronous client: a database driver's blocking query, an HTTP call
//! through a blocking agent, a file read. Each worker thread makes its own session (a
//! connection, an agent) the first time it needs one, from the services' variables, and keeps
//! it for the rest of its life, as a threaded program keeps a connection per thread; every
//! strategy runs the function on its threads (`tokio` through its blocking pool), so the
//! calls in flight are as many as the threads that make them.

use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::asynchronous::{item_error, with_state, Drive, Setting};
use super::{workload_of_functions, Codec, FnWorkload, Postcard, Sink};
use crate::{Items, Partial, Services, TaskContext, TaskError, WorkKind, Workload, WorkloadSpec};

/// The per-item work of a blocking function workload: how a thread's session connects, and
/// what an item does with it. See [`FnWorkload::blocking`].
pub struct Blocking<S, K, F> {
    connect: K,
    per_item: F,
    session: PhantomData<fn() -> S>,
}

impl<T, U, S, K, KE, F, E> FnWorkload<Postcard, T, U, Blocking<S, K, F>>
where
    T: Serialize + DeserializeOwned,
    U: Serialize,
    S: 'static,
    K: Fn(&Services) -> Result<S, KE> + Send + Sync + 'static,
    KE: Display,
    F: Fn(&T, &S) -> Result<U, E> + Send + Sync + 'static,
    E: Display,
{
    /// A workload of a blocking function over serde items: `per_item` over the items
    /// `generate` returns for `(size, seed)`, each call given its thread's session, which
    /// `connect` made from the services' variables the first time the thread needed one.
    /// Items travel in postcard's encoding, as [`FnWorkload::encoded`]'s do; an item's error
    /// fails its task, with the item's number. Its kind is `io`.
    ///
    /// The blocking twin of [`FnWorkload::asynchronous`]: the same work through a synchronous
    /// client, which no runtime can overlap — only more threads can.
    ///
    /// ```
    /// use std::time::Duration;
    /// use parbench_workloads::{plan_tasks, EnvVars, FnWorkload, Services, TaskContext, WorkloadSpec};
    ///
    /// /// A client of a store that answers after a millisecond, blocking its thread.
    /// struct Store { factor: u64 }
    ///
    /// let spec: WorkloadSpec = FnWorkload::blocking(
    ///     "lookups-blocking",
    ///     |size, seed| (0..size as u64).map(|i| i ^ seed).collect(),
    ///     |_services: &Services| Ok::<_, String>(Store { factor: 3 }),
    ///     |key: &u64, store: &Store| {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///         Ok::<_, String>(key * store.factor)
    ///     },
    /// )
    /// .fold(0u64, |total, x| *total += x, |a, b| *a += b)
    /// .into();
    /// let workload = spec.instantiate(&spec.resolve(&Default::default())?, &EnvVars::new())?;
    /// let input = workload.generate(4, 0);
    /// let task = plan_tasks(4, 1)?.remove(0);
    /// let mut output = vec![0u8; 4 * workload.output_len()];
    /// let context = TaskContext { task, attempt: 1, seed: 0 };
    /// let partial = workload.run_task(&context, input.view(), &mut output)?;
    /// assert_eq!(postcard::from_bytes::<u64>(&partial)?, 3 * (0 + 1 + 2 + 3));
    /// assert!(workload.as_async().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn blocking(
        name: &'static str,
        generate: impl Fn(usize, u64) -> Vec<T> + Send + Sync + 'static,
        connect: K,
        per_item: F,
    ) -> Self {
        let mut workload = Self::new(
            name,
            Arc::new(generate),
            Blocking {
                connect,
                per_item,
                session: PhantomData,
            },
        );
        workload.kind = WorkKind::Io;
        workload
    }
}

impl<C, T, U, S, K, KE, F, E, A> Workload for FnWorkload<C, T, U, Blocking<S, K, F>, A>
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: 'static,
    K: Fn(&Services) -> Result<S, KE> + Send + Sync + 'static,
    KE: Display,
    F: Fn(&T, &S) -> Result<U, E> + Send + Sync + 'static,
    E: Display,
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
        let work = &self.per_item;
        let connect = || {
            (work.connect)(&self.setting.services)
                .map_err(|e| TaskError::error(format!("connecting: {e}")))
        };
        with_state(self.setting.instance, connect, |session: &S| {
            let mut sink = Sink::new(self.fold.as_ref(), out);
            let mut index = first;
            C::for_each(items, |item| {
                let output = (work.per_item)(item, session).map_err(|e| item_error(index, e))?;
                index += 1;
                sink.push::<C, T>(&output)
            })?;
            sink.finish()
        })?
    }
}

impl<C, T, U, S, K, KE, F, E, A> From<FnWorkload<C, T, U, Blocking<S, K, F>, A>> for WorkloadSpec
where
    C: Codec<T, U>,
    T: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: 'static,
    K: Fn(&Services) -> Result<S, KE> + Send + Sync + 'static,
    KE: Display,
    F: Fn(&T, &S) -> Result<U, E> + Send + Sync + 'static,
    E: Display,
    A: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// The spec to register the workload under its name. It lives as long as the process (a
    /// spec is `'static`, as registered workloads are).
    fn from(workload: FnWorkload<C, T, U, Blocking<S, K, F>, A>) -> Self {
        workload.spec(&[], |built, _, env| {
            built.setting = Setting::new(env, Drive::Item);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{plan_tasks, Answer, EnvVars};

    static CONNECTS: AtomicUsize = AtomicUsize::new(0);

    fn tripled() -> WorkloadSpec {
        FnWorkload::blocking(
            "tripled-blocking",
            |size, seed| (0..size as u64).map(|i| i + seed).collect(),
            |services: &Services| {
                CONNECTS.fetch_add(1, Ordering::SeqCst);
                match services.get("refuse") {
                    Ok(_) => Err("refused".to_owned()),
                    Err(_) => Ok(3u64),
                }
            },
            |x: &u64, factor: &u64| match x {
                13 => Err(format!("{x} is unlucky")),
                x => Ok(factor * x),
            },
        )
        .fold(0u64, |sum, x| *sum += x, |a, b| *a += b)
        .into()
    }

    fn run(spec: &WorkloadSpec, env: EnvVars, size: usize, seed: u64) -> Result<Answer, TaskError> {
        let workload = spec
            .instantiate(&spec.resolve(&Default::default()).unwrap(), &env)
            .unwrap();
        let input = workload.generate(size, seed);
        let tasks = plan_tasks(size, size.min(3)).unwrap();
        let len = workload.output_len();
        let mut output = vec![0u8; size * len];
        let mut partials = Vec::new();
        for task in &tasks {
            let out = &mut output[task.items.start * len..task.items.end * len];
            let context = TaskContext {
                task: task.clone(),
                attempt: 1,
                seed,
            };
            let items = input.view().slice(task.items.clone());
            partials.push(Some(workload.run_task(&context, items, out)?));
        }
        Ok(Answer::compute(
            workload.as_ref(),
            &output,
            &tasks,
            &partials,
            Vec::new(),
        ))
    }

    #[test]
    fn a_thread_connects_once_and_answers_as_the_plain_function() {
        let spec = tripled();
        let before = CONNECTS.load(Ordering::SeqCst);
        let answer = run(&spec, EnvVars::new(), 12, 100).unwrap();
        // Three tasks on one thread: one session.
        assert_eq!(CONNECTS.load(Ordering::SeqCst) - before, 1);
        let plain: WorkloadSpec = FnWorkload::encoded(
            "tripled-plain",
            |size, seed| (0..size as u64).map(|i| i + seed).collect(),
            |x: &u64| 3 * x,
        )
        .fold(0u64, |sum, x| *sum += x, |a, b| *a += b)
        .into();
        assert_eq!(run(&plain, EnvVars::new(), 12, 100), Ok(answer));
        assert_eq!((spec.kind, spec.params.len()), (WorkKind::Io, 0));
    }

    #[test]
    fn an_item_error_fails_its_task_by_number_and_a_refused_session_says_so() {
        let spec = tripled();
        // Items 10, 11, 12, 13, ...: the fourth, number 3, fails.
        let error = run(&spec, EnvVars::new(), 6, 10).unwrap_err();
        assert_eq!(error.message, "item 3: 13 is unlucky");
        let refused = EnvVars::from([("refuse".to_owned(), "yes".to_owned())]);
        let error = run(&spec, refused, 2, 0).unwrap_err();
        assert_eq!(error.message, "connecting: refused");
    }
}
