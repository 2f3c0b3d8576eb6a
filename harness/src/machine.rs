//! Facts about the machine a run measures.

use std::process::Command;

use parbench_reports::Machine;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

/// Reads the CPU, memory, OS, kernel, compiler and git commit.
pub fn describe() -> Machine {
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let logical = std::thread::available_parallelism().map_or(system.cpus().len(), |n| n.get());
    let (git_commit, git_dirty) = git_state();
    Machine {
        cpu_model: system
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_owned())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()),
        logical_cores: logical,
        physical_cores: System::physical_core_count(),
        memory_bytes: system.total_memory(),
        os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_owned()),
        kernel: System::kernel_version().unwrap_or_else(|| "unknown".to_owned()),
        rustc: env!("PARBENCH_RUSTC_VERSION").to_owned(),
        git_commit,
        git_dirty,
        limits: None,
        governor: std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .ok()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty()),
    }
}

/// The working directory's commit and whether its tree has uncommitted changes; `None` outside
/// a repository or without git.
fn git_state() -> (Option<String>, Option<bool>) {
    let here = std::path::Path::new(".");
    match git(here, &["rev-parse", "HEAD"]) {
        Some(commit) => {
            let dirty = git(here, &["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty());
            (Some(commit), dirty)
        }
        None => (None, None),
    }
}

/// Runs git in `dir`: its trimmed output when it succeeds, `None` when it fails or there is
/// no git.
pub(crate) fn git(dir: &std::path::Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}
