//! What the tests that build a user's crate against this workspace share: where the workspace
//! is, and the cargo that runs the tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness crate lies in the workspace")
        .to_owned()
}

/// The cargo running these tests (or the one on the path).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
