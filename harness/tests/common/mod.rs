//! What the tests that interrupt or fault a run look at: processes by group, by parent and by
//! a mark in their environment, as `/proc` shows them.

use std::fs;

/// The processes whose process group is `group`, from `/proc/*/stat`.
pub fn processes_in_group(group: u32) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<u32>().ok())
                == Some(group)
        })
        .collect()
}

/// The state letter of process `pid` (`R`, `S`, `Z`...), or `None` once it is gone.
pub fn state_of(pid: &str) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// The descendants of process `pid`, from each thread's `children` list.
pub fn descendants(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![pid.to_string()];
    while let Some(pid) = pending.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.filter_map(Result::ok) {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace() {
                found.push(child.to_owned());
                pending.push(child.to_owned());
            }
        }
    }
    found
}

/// The descendants of process `pid` once there are `count` of them at least (a cell process
/// and its workers up, say); `None` if they are not there within a minute.
pub fn wait_for_descendants(pid: u32, count: usize) -> Option<Vec<String>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let tree = descendants(pid);
        if tree.len() >= count {
            return Some(tree);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

/// What an interrupted run left of the process `pid` and its tree of processes `tree`: any
/// process still there (a zombie too), and any process left in `pid`'s group. Empty when the
/// run cleaned up after itself. (Shared-memory segments are anonymous memory files: they go
/// with the last process that holds them, so no process left means no segment left.)
pub fn leftovers(pid: u32, tree: &[String]) -> Vec<String> {
    let mut left: Vec<String> = tree
        .iter()
        .filter_map(|p| Some(format!("process {p} ({})", state_of(p)?)))
        .collect();
    left.extend(
        processes_in_group(pid)
            .into_iter()
            .map(|stat| format!("in the group: {stat}")),
    );
    left
}

/// Every process on the machine whose environment holds `VARIABLE=value` as `mark` spells it:
/// the processes a command started with that variable, wherever they were re-parented. One
/// line each: pid and state. (A zombie's environment cannot be read: [`leftovers`] sees those
/// of a known tree.)
#[allow(
    dead_code,
    reason = "the command line's tests use it, the library's do not"
)]
pub fn marked(mark: &str) -> Vec<String> {
    let needle = mark.as_bytes();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|entry| entry == needle))
        })
        .map(|pid| format!("process {pid} ({:?})", state_of(&pid)))
        .collect()
}
