//! The child side of a cell: `parbench cell` reads one [`Request`] on stdin, prepares the
//! workload ([`super::prepare`]), then measures the strategy ([`super::measure`]) or profiles
//! it ([`super::profile`]) — never both in one process, so a profile can neither change a
//! measurement nor lose one — and sends its [`Reply`].

use std::io::{self, Read, Write};
use std::time::Instant;

use parbench_reports::Features;
use parbench_strategies::{now_ns, StrategySpec};
use parbench_workloads::Params;

use super::measure::measure;
use super::prepare::{Failure, Prepared};
use super::profile::record;
use super::protocol::{ProfileFailure, Reply, Request, Work};
use crate::plugins::Plugins;

/// The cell process: reads a request on stdin, does the work, writes the reply on stdout.
pub(crate) fn serve(plugins: &Plugins) -> io::Result<()> {
    let entered_ns = now_ns();
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
    let profiling = matches!(request.work, Work::Profile { .. });
    let spawn_ns = entered_ns.saturating_sub(request.spawned_ns);
    let reply = caught(|| work(request, plugins)).unwrap_or_else(|message| {
        if profiling {
            Reply::Profiled(Err(ProfileFailure::Strategy(format!(
                "panicked: {message}"
            ))))
        } else {
            Reply::Panicked(message)
        }
    });
    let reply = match reply {
        Reply::Measured(mut measured) => {
            measured.costs.spawn_ns = spawn_ns;
            measured.finished_ns = now_ns();
            Reply::Measured(measured)
        }
        // A failure for want of descriptors or threads names the limit it met.
        Reply::Failed(message) => Reply::Failed(with_limit(message)),
        Reply::Crashed(message) => Reply::Crashed(with_limit(message)),
        Reply::Panicked(message) => Reply::Panicked(with_limit(message)),
        other => other,
    };
    let mut out = std::fs::File::from(reply_fd);
    serde_json::to_writer(&mut out, &reply).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `message`, and the limit it met when it is a system call refused for want of descriptors
/// or threads (see [`crate::probe::exhausted_limit`]).
fn with_limit(message: String) -> String {
    match crate::probe::exhausted_limit(&message) {
        Some(limit) => format!("{message} ({limit})"),
        None => message,
    }
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

/// The strategy named in a request, with its parameters parsed.
fn strategy<'p>(
    plugins: &'p Plugins,
    name: &str,
    params: &[String],
) -> Result<(&'p StrategySpec, Params), String> {
    let spec = plugins.strategies.get(name).map_err(|e| e.to_string())?;
    let pairs: Vec<&str> = params.iter().map(String::as_str).collect();
    let params = Params::parse(spec.name, spec.params, &pairs).map_err(|e| e.to_string())?;
    Ok((spec, params))
}

/// Does the work and returns the reply.
fn work(request: Request, plugins: &Plugins) -> Reply {
    let shape = (request.size, request.seed, request.tasks);
    let prepare = |expected| {
        Prepared::new(
            request.recipe.clone(),
            &plugins.workloads,
            shape,
            request.policy,
            expected,
        )
    };
    match &request.work {
        Work::Prepare => match prepare(None) {
            Ok(prepared) => Reply::Prepared {
                answer: prepared.reference.answer.clone(),
                features: Features {
                    async_overlap: prepared.async_overlap(),
                    ..prepared.features
                },
            },
            Err(e) => Reply::Failed(e),
        },
        Work::Measure {
            strategy: name,
            params,
            workers,
            samples,
            expected,
            features,
        } => {
            let measured = strategy(plugins, name, params)
                .map_err(Failure::from)
                .and_then(|(spec, params)| {
                    let preparing = Instant::now();
                    let mut prepared = prepare(Some(expected.clone()))?;
                    let input_ns = preparing.elapsed().as_nanos() as u64;
                    // The features of the bucket, as every cell of it reports them.
                    prepared.features = features.clone();
                    let job = prepared.job(*workers);
                    let mut measured = measure(&prepared, (spec, &params), &job, *samples)?;
                    measured.costs.input_ns = input_ns;
                    Ok(measured)
                });
            match measured {
                Ok(measured) => Reply::Measured(measured),
                Err(e) if e.crashed => Reply::Crashed(e.message),
                Err(e) => Reply::Failed(e.message),
            }
        }
        Work::Profile {
            strategy: name,
            params,
            workers,
            expected,
            profiling,
        } => Reply::Profiled(
            strategy(plugins, name, params)
                .and_then(|(spec, params)| {
                    let prepared = prepare(Some(expected.clone()))?;
                    Ok((spec, params, prepared))
                })
                .map_err(ProfileFailure::Strategy)
                .and_then(|(spec, params, prepared)| {
                    let job = prepared.job(*workers);
                    record(&prepared, (spec, &params), &job, *profiling)
                }),
        ),
    }
}
