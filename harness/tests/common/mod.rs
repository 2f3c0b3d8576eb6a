//! What the tests that interrupt a run look at: processes by group and by parent, as `/proc`
//! shows them.

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
/// process still there (a zombie too), any shared-memory segment one of them named, and any
/// process left in `pid`'s group. Empty when the run cleaned up after itself.
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
    left.extend(
        fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| {
                tree.iter()
                    .chain([&pid.to_string()])
                    .any(|p| name.starts_with(&format!("parbench-{p}-")))
            })
            .map(|name| format!("segment {name}")),
    );
    left
}
