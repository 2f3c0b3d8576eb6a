//! What the `timely` strategy and its nodes say to each other over a node's pipes: postcard
//! messages framed by [`crate::process::wire`], as the process strategies' are.

use std::io;
use std::path::Path;
use std::time::Duration;

use parbench_workloads::Recipe;
use serde::{Deserialize, Serialize};

use crate::{FailurePolicy, TaskOutcome};

/// The hidden command a binary answers by serving as a timely node ([`super::serve_node`]).
pub const NODE_COMMAND: &str = "timely-node";

/// How long a cluster may take to form before setup gives up: long enough to start a node on
/// another machine by hand.
pub(super) const FORMING: Duration = Duration::from_secs(60);

/// What a node needs to run its part of a job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct JobSpec {
    pub(super) recipe: Recipe,
    /// Items of the input, which every node generates from the recipe and seed.
    pub(super) items: u64,
    /// Bytes of the input: a node whose generated input differs refuses to run.
    pub(super) input_bytes: u64,
    pub(super) seed: u64,
    pub(super) policy: FailurePolicy,
    /// Nodes the strategy started profile themselves at this rate.
    pub(super) profile: Option<u32>,
}

/// What the strategy sends a node.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum ToNode {
    /// Bind `listen` and say which port it got.
    Hello {
        parent: u32,
        process: u32,
        listen: String,
        /// For node 0 only: the job, which it hands on to the others.
        job: Option<JobSpec>,
    },
    /// Every node's address, in process order: form the cluster.
    Peers(Vec<String>),
    /// Node 0: run these tasks (id, first item, one past the last): one pass, or with
    /// `rounds` the workload's rounds.
    Run {
        tasks: Vec<(u32, u64, u64)>,
        rounds: bool,
    },
    /// Finish the dataflow, report your memory and exit.
    Shutdown,
}

/// A task's record as node 0 returns it; its output bytes follow in the payload.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) index: u32,
    pub(super) lane: u32,
    pub(super) start_ns: u64,
    pub(super) end_ns: u64,
    pub(super) outcome: TaskOutcome,
    pub(super) output_len: u64,
}

/// What a node sends back.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum FromNode {
    Listening(u16),
    Ready,
    Ran {
        records: Vec<Record>,
        network_bytes: u64,
        /// For rounds: each completed round's end (`CLOCK_MONOTONIC`) and state.
        rounds: Vec<(u64, Vec<u8>)>,
    },
    Bye {
        peak_rss_bytes: u64,
        shared_rss_bytes: u64,
        profile: Option<crate::profile::Stacks>,
    },
    Fatal(String),
}

/// Reads a hostfile: one `host:port` per line, blank lines and `#` comments skipped.
pub(super) fn read_hostfile(path: &Path) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let hosts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if hosts.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: no `host:port` line", path.display()),
        ));
    }
    Ok(hosts)
}
