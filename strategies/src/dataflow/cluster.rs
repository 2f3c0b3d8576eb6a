//! `timely` on processes, the strategy's side ([`Cluster`]): it starts node 0 (and, with
//! `mode=processes`, every other node), speaks to node 0 over its pipes and watches every local
//! node's pipe, so that the first death fails the run.

use std::path::Path;
use std::time::Duration;

use parbench_workloads::Task;

use super::program::{Done, RoundDone};
use super::wire::{read_hostfile, FromNode, JobSpec, ToNode, NODE_COMMAND};
use super::{report, rounds_of, SPEC};
use crate::process::child::{describe, wait_readable, Worker};
use crate::{now_ns, Job, RunReport, Strategy, StrategyError};
use crate::{Teardown, WorkerMemory};

/// `timely` with `mode=processes` or `mode=cluster`: the strategy's side.
pub struct Cluster {
    /// The hostfile's addresses; `None` for local nodes on free loopback ports.
    hosts: Option<Vec<String>>,
    /// Local nodes profile themselves at this rate when set.
    profile: Option<u32>,
    running: Option<Running>,
    output: Vec<u8>,
}

struct Running {
    job: Job,
    /// The local nodes, node 0 first.
    nodes: Vec<Worker>,
}

impl Cluster {
    /// The process ids of the local nodes, node 0 first (empty before setup).
    pub fn pids(&self) -> Vec<u32> {
        self.running
            .as_ref()
            .map_or_else(Vec::new, |r| r.nodes.iter().map(|n| n.pid).collect())
    }

    /// Every node a local process, on loopback ports the kernel picks.
    pub fn local() -> Self {
        Self {
            hosts: None,
            profile: None,
            running: None,
            output: Vec::new(),
        }
    }

    /// Node 0 here, the others on the machines of `hostfile`'s lines.
    pub fn from_hostfile(hostfile: &str) -> Result<Self, StrategyError> {
        let invalid = |message: String| StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message,
        };
        if hostfile.is_empty() {
            return Err(invalid(
                "mode=cluster needs `hostfile`: a file of `host:port` lines, this machine first"
                    .to_owned(),
            ));
        }
        let hosts = read_hostfile(Path::new(hostfile)).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            hosts: Some(hosts),
            profile: None,
            running: None,
            output: Vec::new(),
        })
    }

    fn error(&self, message: impl Into<String>) -> StrategyError {
        StrategyError::Internal {
            strategy: SPEC.name.to_owned(),
            message: message.into(),
        }
    }

    fn form(&self, job: &Job) -> Result<Vec<Worker>, StrategyError> {
        let peers = match &self.hosts {
            Some(hosts) if hosts.len() != job.workers.max(1) => {
                return Err(self.error(format!(
                    "mode=cluster runs one worker per hostfile line ({}), not {}",
                    hosts.len(),
                    job.workers
                )))
            }
            Some(hosts) => hosts.len(),
            None => job.workers.max(1),
        };
        let local = if self.hosts.is_some() { 1 } else { peers };
        let spec = JobSpec {
            recipe: (*job.recipe).clone(),
            items: job.input.items() as u64,
            input_bytes: job.input.bytes.len() as u64,
            seed: job.seed,
            policy: job.policy,
            profile: self.profile,
        };
        let mut nodes = Vec::with_capacity(local);
        for process in 0..local {
            let mut node = Worker::spawn_command(process, NODE_COMMAND).map_err(|source| {
                StrategyError::Spawn {
                    strategy: SPEC.name.to_owned(),
                    source,
                }
            })?;
            let listen = match &self.hosts {
                Some(hosts) => hosts[process].clone(),
                None => "127.0.0.1:0".to_owned(),
            };
            let hello = ToNode::Hello {
                parent: std::process::id(),
                process: process as u32,
                listen,
                job: (process == 0).then(|| spec.clone()),
            };
            send(&mut node, &hello, &[])?;
            nodes.push(node);
        }
        let mut addresses = match &self.hosts {
            Some(hosts) => hosts.clone(),
            None => Vec::with_capacity(peers),
        };
        for node in &mut nodes {
            match recv(node)? {
                FromNode::Listening(port) if self.hosts.is_none() => {
                    addresses.push(format!("127.0.0.1:{port}"));
                }
                FromNode::Listening(_) => {}
                other => return Err(unexpected(node, "forming the cluster", &other)),
            }
        }
        for node in &mut nodes {
            send(node, &ToNode::Peers(addresses.clone()), &[])?;
        }
        for node in &mut nodes {
            match recv(node)? {
                FromNode::Ready => {}
                other => return Err(unexpected(node, "forming the cluster", &other)),
            }
        }
        Ok(nodes)
    }
}

fn send(node: &mut Worker, message: &ToNode, payload: &[u8]) -> Result<u64, StrategyError> {
    match node.to.send_with(message, payload) {
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(lost(node, &e.to_string())),
    }
}

fn recv(node: &mut Worker) -> Result<FromNode, StrategyError> {
    match node.from.recv::<FromNode>() {
        Ok((FromNode::Fatal(message), _, _)) => Err(StrategyError::Worker {
            strategy: SPEC.name.to_owned(),
            worker: node.index,
            pid: node.pid,
            what: format!("failed: {message}"),
        }),
        Ok((message, _, _)) => Ok(message),
        Err(e) => Err(lost(node, &e.to_string())),
    }
}

/// The error of a node that went away: how it ended, once reaped.
fn lost(node: &mut Worker, wire: &str) -> StrategyError {
    let ended = match node.reap(Duration::from_secs(1)) {
        Ok(status) => describe(status),
        Err(e) => format!("could not be reaped ({e}); the pipe said: {wire}"),
    };
    StrategyError::Worker {
        strategy: SPEC.name.to_owned(),
        worker: node.index,
        pid: node.pid,
        what: format!("died: {ended}"),
    }
}

fn unexpected(node: &Worker, during: &str, message: &FromNode) -> StrategyError {
    StrategyError::Worker {
        strategy: SPEC.name.to_owned(),
        worker: node.index,
        pid: node.pid,
        what: format!("broke the protocol {during}: {message:?}"),
    }
}

impl Strategy for Cluster {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn setup(&mut self, job: &Job) -> Result<(), StrategyError> {
        let nodes = self.form(job)?;
        self.output = vec![0; job.output_bytes()];
        self.running = Some(Running {
            job: job.clone(),
            nodes,
        });
        Ok(())
    }

    fn run(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.run_checked(tasks, false)
    }

    /// The rounds run in timely's loop scope on the nodes, as on threads.
    fn run_rounds(&mut self, tasks: &[Task]) -> Result<RunReport, StrategyError> {
        self.run_checked(tasks, true)
    }

    fn output(&self) -> &[u8] {
        &self.output
    }

    fn profile_workers(&mut self, frequency: u32) {
        self.profile = Some(frequency);
    }

    fn teardown(&mut self) -> Result<Teardown, StrategyError> {
        let Some(mut running) = self.running.take() else {
            self.output = Vec::new();
            return Ok(Teardown::default());
        };
        let mut workers = Vec::new();
        let mut profiles = Vec::new();
        let mut failure = None;
        for node in &mut running.nodes {
            if let Err(e) = send(node, &ToNode::Shutdown, &[]) {
                failure.get_or_insert(e);
            }
        }
        for node in &mut running.nodes {
            match recv(node) {
                Ok(FromNode::Bye {
                    peak_rss_bytes,
                    shared_rss_bytes,
                    profile,
                }) => {
                    workers.push(WorkerMemory {
                        pid: node.pid,
                        peak_rss_bytes,
                        shared_rss_bytes,
                    });
                    profiles.extend(profile);
                }
                Ok(other) => {
                    failure.get_or_insert(unexpected(node, "at teardown", &other));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
            let _ = node.reap(Duration::from_secs(2));
        }
        self.output = Vec::new();
        match failure {
            Some(e) => Err(e),
            None => Ok(Teardown { workers, profiles }),
        }
    }
}

impl Cluster {
    /// One run on the nodes; a node that dies or breaks takes the others with it.
    fn run_checked(&mut self, tasks: &[Task], rounds: bool) -> Result<RunReport, StrategyError> {
        let running = crate::worker::set_up(&self.running, SPEC.name)?;
        running.job.check_tasks(tasks)?;
        let result = self.run_nodes(tasks, rounds);
        if result.is_err() {
            // A node died or broke: the others go too, and the strategy is torn down.
            if let Some(mut running) = self.running.take() {
                for node in &mut running.nodes {
                    let _ = node.kill();
                }
            }
        }
        result
    }

    fn run_nodes(&mut self, tasks: &[Task], rounds: bool) -> Result<RunReport, StrategyError> {
        let Some(running) = self.running.as_mut() else {
            return Err(StrategyError::NotSetUp(SPEC.name.to_owned()));
        };
        let message = ToNode::Run {
            tasks: tasks
                .iter()
                .map(|t| (t.id, t.items.start as u64, t.items.end as u64))
                .collect(),
            rounds,
        };
        let start_ns = now_ns();
        let mut moved = send(&mut running.nodes[0], &message, &[])?;
        // Wait for node 0's reply, or for any node to die first.
        let ready = watch(&mut running.nodes)?;
        if ready != 0 {
            // Another node has nothing to say during a run: it died or failed.
            if let Some(e) = dead_peer(&mut running.nodes) {
                return Err(e);
            }
            let node = &mut running.nodes[ready];
            return Err(match recv(node) {
                Ok(other) => unexpected(node, "during the run", &other),
                Err(e) => e,
            });
        }
        let zero = &mut running.nodes[0];
        let (records, network_bytes, reduced) = match zero.from.recv::<FromNode>() {
            Ok((
                FromNode::Ran {
                    records,
                    network_bytes,
                    rounds,
                },
                _,
                frame,
            )) => {
                moved += frame;
                (records, network_bytes, rounds)
            }
            Ok((FromNode::Fatal(message), _, _)) => {
                // Node 0 failed because a peer died: name the peer when it did.
                return Err(
                    dead_peer(&mut running.nodes).unwrap_or(StrategyError::Worker {
                        strategy: SPEC.name.to_owned(),
                        worker: 0,
                        pid: running.nodes[0].pid,
                        what: format!("failed during the run: {message}"),
                    }),
                );
            }
            Ok((other, _, _)) => return Err(unexpected(zero, "during the run", &other)),
            Err(e) => {
                return Err(dead_peer(&mut running.nodes)
                    .unwrap_or_else(|| lost(&mut running.nodes[0], &e.to_string())))
            }
        };
        // The outputs arrive in record order, each into its task's place.
        let output_len = running.job.workload.output_len();
        let mut done = Vec::with_capacity(records.len());
        for record in records {
            let index = record.index as usize;
            let Some(task) = tasks.get(index) else {
                return Err(self.error(format!("node 0 returned task index {index}")));
            };
            let place = task.items.start * output_len..task.items.end * output_len;
            let zero = &mut running.nodes[0];
            if record.output_len > 0 {
                if record.output_len as usize != place.len() {
                    return Err(StrategyError::Worker {
                        strategy: SPEC.name.to_owned(),
                        worker: 0,
                        pid: zero.pid,
                        what: format!(
                            "sent {} output bytes for task {index}, whose output has {}",
                            record.output_len,
                            place.len()
                        ),
                    });
                }
                zero.from
                    .payload_part_into(&mut self.output[place])
                    .map_err(|e| lost(zero, &e.to_string()))?;
            }
            done.push(Done {
                index: record.index,
                lane: record.lane,
                start_ns: record.start_ns,
                end_ns: record.end_ns,
                outcome: record.outcome,
                output: Vec::new(),
            });
        }
        let end_ns = now_ns();
        let lanes = running.job.workers.max(1);
        let mut report = report(tasks, &done, (start_ns, end_ns), lanes);
        report.bytes_moved = moved + network_bytes;
        let reduced: Vec<RoundDone> = reduced
            .into_iter()
            .map(|(end_ns, state)| RoundDone { end_ns, state })
            .collect();
        report.rounds = rounds_of(start_ns, reduced);
        // The cluster's connections are counted per run: each round is given an equal share.
        let share = report.bytes_moved / report.rounds.len().max(1) as u64;
        report.rounds.iter_mut().for_each(|r| r.bytes_moved = share);
        Ok(report)
    }
}

/// Blocks until node 0 has something to say or another node's pipe closes; returns which.
fn watch(nodes: &mut [Worker]) -> Result<usize, StrategyError> {
    let ready = wait_readable(nodes.iter(), SPEC.name)?;
    Ok(ready.iter().position(|&r| r).unwrap_or(0))
}

/// The node whose death broke the cluster, as the run's error: one killed by a signal rather
/// than one that exited because its peer was gone; `None` when every node is alive.
fn dead_peer(nodes: &mut [Worker]) -> Option<StrategyError> {
    // Give a dying node a moment to be reaped with its real status.
    std::thread::sleep(Duration::from_millis(50));
    let exited: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].exited()).collect();
    let killed = exited.iter().copied().find(|&i| {
        nodes[i]
            .status()
            .is_some_and(|s| std::os::unix::process::ExitStatusExt::signal(&s).is_some())
    });
    let culprit = killed.or_else(|| exited.first().copied())?;
    Some(lost(&mut nodes[culprit], "closed"))
}
