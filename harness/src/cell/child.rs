//! The child side of a cell: `parbench cell` reads one [`Request`] on stdin, prepares the
//! workload ([`super::prepare`]), measures the strategy ([`super::measure`]) and sends its
//! [`Reply`]; a measured cell is profiled afterwards ([`super::profile`]) and a second reply
//! follows. The measurement goes out first, so the profiled run can neither change it nor lose
//! it (a profile that crashes or hangs costs the profile alone).

use std::io::{self, Read, Write};

use parbench_strategies::StrategySpec;
use parbench_workloads::Params;

use super::measure::measure;
use super::prepare::Prepared;
use super::profile::record;
use super::protocol::{ProfileFailure, Profiling, Reply, Request, Work};
use crate::plugins::Plugins;

/// The cell process: reads a request on stdin, does the work, writes the reply on stdout.
pub(crate) fn serve(plugins: &Plugins) -> io::Result<()> {
    // Die with the harness (its worker processes then die with this one).
    let parent = rustix::process::getppid();
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
    if rustix::process::getppid() != parent || parent.is_none() {
        return Ok(());
    }
    // The reply owns the real stdout; whatever the work prints goes to stderr instead.
    let reply_fd = rustix::io::fcntl_dupfd_cloexec(io::stdout(), 3)?;
    rustix::stdio::dup2_stdout(io::stderr())?;
    let mut bytes = Vec::new();
    io::stdin().read_to_end(&mut bytes)?;
    let request: Request = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    if let Some(limit) = request.memory_limit {
        let limit = rustix::process::Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        };
        rustix::process::setrlimit(rustix::process::Resource::As, limit)?;
    }
    let mut out = std::fs::File::from(reply_fd);
    let mut send = |reply: &Reply| {
        serde_json::to_writer(&mut out, reply).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    let (reply, then) = caught(|| work(request, plugins))
        .unwrap_or_else(|message| (Reply::Panicked(message), None));
    send(&reply)?;
    // The measurement is out: now the profiled run, which cannot change or lose it.
    if let Some(cell) = then {
        let profile = caught(|| {
            let job = cell.prepared.job(cell.workers);
            record(
                &cell.prepared,
                (cell.spec, &cell.params),
                &job,
                cell.profiling,
            )
        })
        .unwrap_or_else(|message| Err(ProfileFailure::Strategy(format!("panicked: {message}"))));
        send(&Reply::Profiled(profile))?;
    }
    Ok(())
}

/// Runs `f`, turning a panic into its message.
fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
    })
}

/// A measured cell kept for its profiled run.
struct ToProfile<'a> {
    prepared: Prepared,
    spec: &'a StrategySpec,
    params: Params,
    workers: usize,
    profiling: Profiling,
}

/// Does the work; returns the reply and, for a measured cell that is to be profiled, what its
/// profiled run needs.
fn work(request: Request, plugins: &Plugins) -> (Reply, Option<ToProfile<'_>>) {
    let shape = (request.size, request.seed, request.tasks);
    match request.work {
        Work::Prepare => {
            match Prepared::new(
                request.recipe,
                &plugins.workloads,
                shape,
                request.policy,
                None,
            ) {
                Ok(prepared) => (
                    Reply::Prepared {
                        answer: prepared.reference.answer.clone(),
                        features: prepared.features,
                    },
                    None,
                ),
                Err(e) => (Reply::Failed(e), None),
            }
        }
        Work::Measure {
            strategy,
            params,
            workers,
            sampling,
            expected,
            features,
            profile,
        } => {
            let measured = plugins
                .strategies
                .get(&strategy)
                .map_err(|e| e.to_string())
                .and_then(|spec| {
                    let pairs: Vec<&str> = params.iter().map(String::as_str).collect();
                    let params =
                        Params::parse(spec.name, spec.params, &pairs).map_err(|e| e.to_string())?;
                    let mut prepared = Prepared::new(
                        request.recipe,
                        &plugins.workloads,
                        shape,
                        request.policy,
                        Some(expected),
                    )?;
                    // The features of the bucket, as every cell of it reports them.
                    prepared.features = features;
                    let job = prepared.job(workers);
                    let measured = measure(&prepared, (spec, &params), &job, sampling)?;
                    Ok((measured, spec, params, prepared))
                });
            match measured {
                Ok((measured, spec, params, prepared)) => (
                    Reply::Measured(measured),
                    profile.map(|profiling| ToProfile {
                        prepared,
                        spec,
                        params,
                        workers,
                        profiling,
                    }),
                ),
                Err(e) => (Reply::Failed(e), None),
            }
        }
    }
}
