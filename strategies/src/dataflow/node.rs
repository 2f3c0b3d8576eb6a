//! `timely` on processes, a node's side ([`serve_node`]). A node is this binary again
//! (`timely-node`): the strategy ([`super::cluster`]) starts node 0 (and, with
//! `mode=processes`, every other node) and speaks to it over its pipes; nodes on other machines
//! are started by the user and serve one cluster after another. Forming a cluster:
//!
//! 1. each node binds its listening address (`127.0.0.1:0` for local nodes: the kernel picks a
//!    free port and the bound listener holds it, so no other program can take it in between;
//!    a hostfile's port that is taken is an error naming it) and reports the port;
//! 2. the strategy tells every local node all the addresses; node `i` connects to every node
//!    below it and accepts every node above it, each connection opening with the connector's
//!    index;
//! 3. node 0 sends the job (the workload's recipe, the input's size and seed, the failure
//!    policy) on each of its connections, and every node generates the input itself;
//! 4. the connections are handed to timely (`initialize_networking_from_sockets`), each
//!    wrapped to count the bytes that cross it.
//!
//! A run: the strategy sends node 0 the task list, node 0's worker drives the dataflow
//! ([`super::program`]) and replies with the records and, as the frame's payload, the tasks'
//! output bytes. Node 0 counts what crossed its connections; the strategy adds what crossed the
//! pipe. A node whose peer dies panics out of timely ("timely communication error") and exits;
//! the strategy watches every local node's pipe, so the first death fails the run with the
//! node's pid and signal, and the other nodes are killed and reaped.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use parbench_workloads::{Registry, Task};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::zero_copy::stream::Stream;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;
use timely::execute::execute_from;
use timely::WorkerConfig;

use super::program::{self, Assign, Command, Done, Driver, Execute, Gathered, Reducer};
use super::wire::{read_hostfile, FromNode, JobSpec, Record, ToNode, FORMING, NODE_COMMAND};
use crate::process::serve::{die_with, own_memory, protocol_pipes, ServeError};
use crate::process::wire::{Receiver, Sender, WireError};
use crate::{now_ns, FailurePolicy, Job, TaskOutcome};

/// How a node was started.
#[derive(Clone, Debug, Default)]
pub struct NodeArgs {
    /// A hostfile, for a node a user starts on a machine of the cluster; `None` for a node the
    /// strategy starts (it then reads its role on stdin).
    pub hostfile: Option<PathBuf>,
    /// This node's line in the hostfile (0-based).
    pub process: usize,
}

/// Serves as a timely node: for the strategy that started this process (one cluster, over
/// stdin and stdout), or, with a hostfile, for every cluster that node 0 forms, until killed.
pub fn serve_node(registry: &Registry, args: &NodeArgs) -> Result<(), ServeError> {
    // A peer's death makes timely panic on every thread of this node: one line each says why,
    // without the backtraces of an expected failure.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        eprintln!(
            "timely node (pid {}), thread {}: {}",
            std::process::id(),
            thread.name().unwrap_or("?"),
            panic_text(info)
        );
    }));
    match &args.hostfile {
        Some(hostfile) => serve_rounds(registry, hostfile, args.process),
        None => serve_spawned(registry),
    }
}

/// A panic's message.
fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

fn protocol(message: impl Into<String>) -> ServeError {
    ServeError::Protocol(message.into())
}

/// A node started by the strategy: one cluster.
fn serve_spawned(registry: &Registry) -> Result<(), ServeError> {
    let (mut to_parent, mut from_parent) = protocol_pipes()?;
    let (parent, process, listen, job) = match from_parent.recv::<ToNode>() {
        Ok((
            ToNode::Hello {
                parent,
                process,
                listen,
                job,
            },
            _,
            _,
        )) => (parent, process as usize, listen, job),
        Ok((other, _, _)) => return Err(protocol(format!("{other:?} before Hello"))),
        Err(WireError::Closed) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !die_with(parent)? {
        return Ok(());
    }
    let fatal = |to_parent: &mut Sender<File>, e: ServeError| {
        let _ = to_parent.send(&FromNode::Fatal(e.to_string()));
        e
    };
    let listener = TcpListener::bind(&listen)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))
        .map_err(|e| fatal(&mut to_parent, e.into()))?;
    let port = listener.local_addr()?.port();
    to_parent.send(&FromNode::Listening(port))?;
    let addresses = match from_parent.recv::<ToNode>()? {
        (ToNode::Peers(addresses), _, _) => addresses,
        (other, _, _) => return Err(protocol(format!("{other:?} instead of Peers"))),
    };
    let formed = form(
        &listener,
        &addresses,
        process,
        job,
        Instant::now() + FORMING,
    );
    // Formed: a node of a later cluster that dials this address must be refused (and retry)
    // rather than wait in this listener's backlog for a job that never comes.
    drop(listener);
    let frequency = formed.as_ref().ok().and_then(|(_, job)| job.profile);
    let profiler = match frequency.map(crate::profile::Profiler::start).transpose() {
        Ok(profiler) => profiler,
        Err(e) => return Err(fatal(&mut to_parent, protocol(e))),
    };
    let formed =
        formed.and_then(|(sockets, job)| start(registry, sockets, process, &job, process == 0));
    let mut node = match formed {
        Ok(node) => node,
        Err(e) => return Err(fatal(&mut to_parent, e)),
    };
    to_parent.send(&FromNode::Ready)?;
    loop {
        match from_parent.recv::<ToNode>() {
            Ok((ToNode::Run { tasks, rounds }, _, _)) => {
                let before = node.bytes.load(Ordering::Relaxed);
                let Ran {
                    records,
                    outputs,
                    rounds,
                } = match node.run(tasks, rounds) {
                    Ok(ran) => ran,
                    Err(e) => return Err(fatal(&mut to_parent, e)),
                };
                // This run's share: the counter runs from the cluster's formation.
                let network_bytes = node.bytes.load(Ordering::Relaxed) - before;
                let payload: Vec<&[u8]> = outputs.iter().map(Vec::as_slice).collect();
                to_parent.send_with_all(
                    &FromNode::Ran {
                        records,
                        network_bytes,
                        rounds,
                    },
                    &payload,
                )?;
            }
            Ok((ToNode::Shutdown, _, _)) | Err(WireError::Closed) => break,
            Ok((other, _, _)) => return Err(protocol(format!("{other:?} during the runs"))),
            Err(e) => return Err(e.into()),
        }
    }
    node.finish().map_err(|e| fatal(&mut to_parent, e))?;
    let root = format!("timely node {process}");
    let profile = match profiler.map(|p| p.finish(&root)).transpose() {
        Ok(profile) => profile,
        Err(e) => return Err(fatal(&mut to_parent, protocol(e))),
    };
    let (peak_rss_bytes, shared_rss_bytes) = own_memory();
    to_parent.send(&FromNode::Bye {
        peak_rss_bytes,
        shared_rss_bytes,
        profile,
    })?;
    Ok(())
}

/// A node a user started on a machine of the cluster: serves every cluster node 0 forms.
fn serve_rounds(registry: &Registry, hostfile: &Path, process: usize) -> Result<(), ServeError> {
    let addresses = read_hostfile(hostfile)?;
    if process == 0 || process >= addresses.len() {
        return Err(protocol(format!(
            "--process {process}: a started node is one of 1..{} (node 0 is started by `parbench run`)",
            addresses.len()
        )));
    }
    let listener = TcpListener::bind(&addresses[process]).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {}: {e}", addresses[process]),
        )
    })?;
    eprintln!(
        "timely node {process} of {}: listening on {}",
        addresses.len(),
        addresses[process]
    );
    loop {
        // A round that fails (a peer died, node 0 gave up) ends; the node waits for the next.
        let round = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<(), ServeError> {
                    let (sockets, job) = form(&listener, &addresses, process, None, far_future())?;
                    let node = start(registry, sockets, process, &job, false)?;
                    node.finish()
                })
                .join()
        });
        match round {
            Ok(Ok(())) => eprintln!("timely node {process}: cluster done"),
            Ok(Err(e)) => eprintln!("timely node {process}: {e}"),
            Err(_) => eprintln!("timely node {process}: the cluster broke up"),
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

/// A connection that counts the bytes crossing it, for timely.
struct Counted {
    stream: TcpStream,
    bytes: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Stream for Counted {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            stream: self.stream.try_clone()?,
            bytes: self.bytes.clone(),
        })
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stream.shutdown(how)
    }
}

/// Connects node `me` with every other node and agrees on the job; returns the connections
/// (none to itself) and the job.
fn form(
    listener: &TcpListener,
    addresses: &[String],
    me: usize,
    job: Option<JobSpec>,
    deadline: Instant,
) -> Result<(Vec<Option<TcpStream>>, JobSpec), ServeError> {
    let mut sockets: Vec<Option<TcpStream>> = (0..addresses.len()).map(|_| None).collect();
    for (peer, address) in addresses.iter().enumerate().take(me) {
        let mut stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                // Not listening yet: the other node is still starting.
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot reach node {peer} at {address}: {e}"),
                    )
                    .into())
                }
            }
        };
        stream.set_nodelay(true)?;
        stream.write_all(&(me as u64).to_le_bytes())?;
        sockets[peer] = Some(stream);
    }
    listener.set_nonblocking(true)?;
    let mut waiting = addresses.len() - me - 1;
    while waiting > 0 {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_nodelay(true)?;
                let mut index = [0u8; 8];
                stream.read_exact(&mut index)?;
                let index = u64::from_le_bytes(index) as usize;
                if index <= me || index >= addresses.len() || sockets[index].is_some() {
                    // Not a node of this cluster (a stray connection): ignore it.
                    continue;
                }
                sockets[index] = Some(stream);
                waiting -= 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = (me + 1..addresses.len())
                        .filter(|&i| sockets[i].is_none())
                        .map(|i| format!("node {i} ({})", addresses[i]))
                        .collect();
                    return Err(protocol(format!(
                        "the cluster did not form within {} s: {} did not connect (is `parbench {NODE_COMMAND} --hostfile FILE --process N` running there?)",
                        FORMING.as_secs(),
                        missing.join(", ")
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e.into()),
        }
    }
    listener.set_nonblocking(false)?;
    // Node 0 hands the job to every other node, which waits for it.
    let job = match job {
        Some(job) => {
            for stream in sockets.iter().flatten() {
                Sender::new(stream.try_clone()?).send(&job)?;
            }
            job
        }
        None => {
            let Some(zero) = &sockets[0] else {
                return Err(protocol("node 0 gave no job"));
            };
            let (job, _, _) = Receiver::new(zero.try_clone()?).recv::<JobSpec>()?;
            job
        }
    };
    Ok((sockets, job))
}

/// A node's running part of the cluster.
/// What node 0 hands back of a run.
struct Ran {
    records: Vec<Record>,
    /// Each record's output, in record order.
    outputs: Vec<Vec<u8>>,
    /// Each round the run completed: when it was reduced, and its state.
    rounds: Vec<(u64, Vec<u8>)>,
}

struct Node {
    guards: timely::communication::WorkerGuards<()>,
    /// Node 0's driver: runs in, records out.
    runs: Option<mpsc::Sender<Command>>,
    done: Option<mpsc::Receiver<Gathered>>,
    /// Bytes that crossed this node's connections.
    bytes: Arc<AtomicU64>,
}

/// Builds the workload, generates the input and starts this node's timely worker over the
/// connections.
fn start(
    registry: &Registry,
    sockets: Vec<Option<TcpStream>>,
    me: usize,
    spec: &JobSpec,
    drives: bool,
) -> Result<Node, ServeError> {
    let peers = sockets.len();
    let job = Job::generate(
        spec.recipe.clone(),
        registry,
        spec.items as usize,
        spec.seed,
    )?
    .on(peers, spec.policy);
    let input = &job.input;
    if input.items() as u64 != spec.items || input.bytes.len() as u64 != spec.input_bytes {
        return Err(protocol(format!(
            "the input generated here ({} items, {} bytes) differs from node 0's ({} items, {} bytes)",
            input.items(),
            input.bytes.len(),
            spec.items,
            spec.input_bytes
        )));
    }
    let bytes = Arc::new(AtomicU64::new(0));
    let sockets: Vec<Option<Counted>> = sockets
        .into_iter()
        .map(|s| {
            s.map(|stream| Counted {
                stream,
                bytes: bytes.clone(),
            })
        })
        .collect();
    let hooks = Hooks::default();
    let local = ProcessBuilder::new_typed_vector(1, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, me, 1, hooks)?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();

    let (runs, driver) = if drives {
        let (runs, runs_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        (
            Some((runs, done)),
            Some(Driver {
                runs: runs_rx,
                done: done_tx,
            }),
        )
    } else {
        (None, None)
    };
    let driver = Mutex::new(driver);
    let guards = execute_from(
        builders,
        Box::new(guard),
        WorkerConfig::default(),
        move |worker| {
            let execute = executor(job.clone());
            let driver = driver.lock().unwrap_or_else(PoisonError::into_inner).take();
            let reducer = Reducer {
                workload: job.workload.clone(),
                input: job.input.clone(),
            };
            program::work(worker, execute, driver, &reducer);
        },
    )
    .map_err(|e| protocol(format!("timely could not start: {e}")))?;
    let (runs, done) = runs.unzip();
    Ok(Node {
        guards,
        runs,
        done,
        bytes,
    })
}

/// What a node's timely worker runs for each task assigned to it: the task under the job's
/// failure policy, its output in a buffer of its own (it crosses to node 0 with the record).
/// Fail-fast holds within the node: a failed task cancels the node's later tasks of the run.
fn executor(job: Job) -> Execute {
    let cancel = AtomicBool::new(false);
    let mut run = u64::MAX;
    Box::new(move |assign: &Assign, lane, state| {
        if assign.run != run {
            run = assign.run;
            cancel.store(false, Ordering::Relaxed);
        }
        if cancel.load(Ordering::Relaxed) {
            return Done::skipped(assign, lane);
        }
        let task = assign.task();
        let mut output = vec![0; task.items.len() * job.workload.output_len()];
        let start_ns = now_ns();
        let outcome = crate::exec::execute(&job, state, &task, &mut output);
        let end_ns = now_ns();
        if matches!(outcome, TaskOutcome::Failed { .. }) && job.policy == FailurePolicy::FailFast {
            cancel.store(true, Ordering::Relaxed);
        }
        Done {
            index: assign.index,
            lane,
            start_ns,
            end_ns,
            outcome,
            output,
        }
    })
}

impl Node {
    /// Node 0: one run (of rounds, with `rounds`); returns the records, the outputs in record
    /// order, and each completed round's end and state.
    fn run(&mut self, tasks: Vec<(u32, u64, u64)>, rounds: bool) -> Result<Ran, ServeError> {
        let (Some(runs), Some(done)) = (&self.runs, &self.done) else {
            return Err(protocol("a run sent to a node other than 0"));
        };
        let tasks = tasks
            .into_iter()
            .map(|(id, start, end)| Task {
                id,
                items: start as usize..end as usize,
            })
            .collect();
        let gone = || protocol("the timely worker stopped (a peer died?)");
        let command = if rounds {
            Command::Rounds(tasks)
        } else {
            Command::Pass(tasks)
        };
        runs.send(command).map_err(|_| gone())?;
        let Gathered { records, rounds } = done.recv().map_err(|_| gone())?;
        let rounds = rounds.into_iter().map(|r| (r.end_ns, r.state)).collect();
        let (records, outputs) = records
            .into_iter()
            .map(|d| {
                (
                    Record {
                        index: d.index,
                        lane: d.lane,
                        start_ns: d.start_ns,
                        end_ns: d.end_ns,
                        outcome: d.outcome,
                        output_len: d.output.len() as u64,
                    },
                    d.output,
                )
            })
            .unzip();
        Ok(Ran {
            records,
            outputs,
            rounds,
        })
    }

    /// Closes the input (node 0) and waits for the dataflow to complete everywhere.
    fn finish(mut self) -> Result<(), ServeError> {
        self.runs.take();
        self.done.take();
        for result in self.guards.join() {
            result.map_err(|e| protocol(format!("the timely worker failed: {e}")))?;
        }
        Ok(())
    }
}
